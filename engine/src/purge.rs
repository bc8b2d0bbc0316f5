//! Purging records nothing can use any more, so the store does not grow with every flow.
//!
//! Only records that are provably dead go: pending authorizations, sessions, access-token
//! records, client-assertion jtis and initial access tokens past their expiry; codes a grace
//! period after their expiry (a replayed code is still recognised, and its grant revoked, for
//! that long); refresh tokens and their grant once the family's refresh lifetime has passed.
//! Each record is checked again inside the transaction that deletes it. A crash may lose a
//! purge (the next one does it again), so these deletions do not wait for the disk.
//!
//! One path for every store: the store keeps each record's expiry time (`Tx::put_expiring`) and
//! answers what is due (`Store::expired`) its own way, by an index in time order (redb,
//! PostgreSQL) or by reading the table (sled). Each key it names is judged here: dead, it goes;
//! alive, it is written again with the time it may die (`store::expiry`).
//! Audit events go once they are older than `EngineConfig::audit_retention` (an operator's
//! decision; `None` keeps them all). Their ids sort by time within a tenant, so that purge reads
//! each tenant's expired events and stops at its first kept one instead of reading the whole log
//! (the largest table, by far, of a long-running server) every few minutes.

use crate::audit::AuditEvent;
use crate::authorize::pushed::PushedRequestRecord;
use crate::authorize::transaction::AuthTransactionRecord;
use crate::client::auth::AssertionJtiRecord;
use crate::client::registration::InitialAccessTokenRecord;
use crate::client::ClientRecord;
use crate::engine::Engine;
use crate::env::UnixTime;
use crate::error::Result;
use crate::session::SessionRecord;
use crate::store::{decode, expiry, for_each_page, load, Record, Store, Table, Tx};
use crate::token::code::{CodeRecord, CODE_REPLAY_GRACE_SECS};
use crate::token::grant::{AccessTokenRecord, GrantRecord, RefreshTokenRecord};

/// Keys asked of the store per page of due records, and records read per page of a whole table
/// (memory stays bounded by this, not by the table's size).
const PURGE_PAGE: usize = 1024;

/// The first page of a scan in time order (a tenant's audit events); pages double while every
/// record read was due, so a purge reads at most about as many records not yet due as it found due.
const FIRST_PAGE: usize = 16;

/// Records deleted by one purge, per table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Pending authorization requests.
    pub auth_transactions: usize,
    /// Authorization codes.
    pub codes: usize,
    /// Browser sessions.
    pub sessions: usize,
    /// Access-token records.
    pub access_tokens: usize,
    /// Refresh tokens (every generation of dead families).
    pub refresh_tokens: usize,
    /// Grants (token families).
    pub grants: usize,
    /// Client-assertion jtis.
    pub assertion_jtis: usize,
    /// Initial access tokens.
    pub initial_access_tokens: usize,
    /// Pushed authorization requests.
    pub pushed_requests: usize,
    /// Audit events older than the configured retention.
    pub audit_events: usize,
    /// Records and index entries the store read to find these (`ExpiredPage::read`) and the
    /// audit scans read: what a purge costs, growing with what expired where the store keeps an
    /// index, with the purged tables where it reads them (sled); once per store, every record of
    /// a store an older version wrote. (Each candidate is read once more inside its deleting
    /// transaction, a refresh token's family too.)
    pub read: usize,
}

impl PurgeReport {
    /// Everything deleted.
    pub fn total(&self) -> usize {
        self.auth_transactions
            + self.codes
            + self.sessions
            + self.access_tokens
            + self.refresh_tokens
            + self.grants
            + self.assertion_jtis
            + self.initial_access_tokens
            + self.pushed_requests
            + self.audit_events
    }
}

/// When a record may be deleted, as the purge checks it inside the deleting transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fate {
    /// Nothing is stored under the key any more.
    Gone,
    /// Kept until a purge finds it past this time.
    DiesAfter(UnixTime),
    /// A refresh token: kept until a purge finds it past this time, when its family (the grant
    /// under this key) goes with it.
    EndsFamilyAfter(UnixTime, String),
    /// Never purged: a family without refresh tokens written before `tokens_until` existed, or a
    /// record that does not decode (every purge leaves it alone).
    Kept,
}

/// Reads `R` under `key` and says when it dies (`Gone` if nothing is stored).
fn read_fate<R: Record>(tx: &mut dyn Tx, key: &str, dies: impl Fn(&R) -> Fate) -> Result<Fate> {
    Ok(match tx.get(R::TABLE, key)? {
        None => Fate::Gone,
        Some(bytes) => decode::<R>(&bytes).map_or(Fate::Kept, |r| dies(&r)),
    })
}

/// When a family is over: it can no longer be refreshed, and the last access token it can have
/// issued (at most the client's access-token lifetime before the refresh expiry) expired. A
/// family without refresh tokens is over when the access token its code bought expires (one
/// written before that was recorded is left alone).
fn family_fate(tx: &mut dyn Tx, grant_key: &str, ttls: &mut AccessTtls) -> Result<Fate> {
    let Some(bytes) = tx.get(Table::Grant, grant_key)? else {
        return Ok(Fate::Gone);
    };
    let Ok(g) = decode::<GrantRecord>(&bytes) else {
        return Ok(Fate::Kept);
    };
    let Some(refresh) = g.refresh else {
        return Ok(g.tokens_until.map_or(Fate::Kept, Fate::DiesAfter));
    };
    let access_ttl = ttls.get(tx, &ClientRecord::key(&g.tenant, &g.client_id))?;
    Ok(Fate::DiesAfter(refresh.expires_at.plus(access_ttl)))
}

/// Clients' access-token lifetimes (0 for a client that is gone), by client key, so that a
/// purge decodes each client once per transaction instead of once per family.
#[derive(Default)]
struct AccessTtls {
    by_client: std::collections::HashMap<String, u64>,
}

impl AccessTtls {
    fn get(&mut self, tx: &mut dyn Tx, client_key: &str) -> Result<u64> {
        if let Some(ttl) = self.by_client.get(client_key) {
            return Ok(*ttl);
        }
        let ttl = load::<ClientRecord>(tx, client_key)?.map_or(0, |c| c.access_token_ttl);
        self.by_client.insert(client_key.to_string(), ttl);
        Ok(ttl)
    }
}

/// When the record under `table`'s `key` dies (see the module documentation for each table).
fn fate(tx: &mut dyn Tx, table: Table, key: &str, ttls: &mut AccessTtls) -> Result<Fate> {
    let at = Fate::DiesAfter;
    match table {
        Table::AuthTransaction => read_fate::<AuthTransactionRecord>(tx, key, |t| at(t.expires_at)),
        Table::Code => read_fate::<CodeRecord>(tx, key, |c| at(c.expires_at.plus(CODE_REPLAY_GRACE_SECS))),
        Table::Session => read_fate::<SessionRecord>(tx, key, |s| at(s.expires_at)),
        Table::AccessToken => read_fate::<AccessTokenRecord>(tx, key, |a| at(a.expires_at)),
        Table::AssertionJti => read_fate::<AssertionJtiRecord>(tx, key, |j| at(j.expires_at)),
        Table::InitialAccessToken => read_fate::<InitialAccessTokenRecord>(tx, key, |t| at(t.expires_at)),
        Table::PushedRequest => read_fate::<PushedRequestRecord>(tx, key, |p| at(p.expires_at)),
        Table::Grant => family_fate(tx, key, ttls),
        Table::RefreshToken => {
            let Some(bytes) = tx.get(Table::RefreshToken, key)? else {
                return Ok(Fate::Gone);
            };
            let Ok(rt) = decode::<RefreshTokenRecord>(&bytes) else {
                return Ok(Fate::Kept);
            };
            // A refresh token dies with its family (at once if the family is gone), and its
            // family with it.
            let grant_key = GrantRecord::key(&rt.tenant, &rt.grant_id);
            Ok(match family_fate(tx, &grant_key, ttls)? {
                Fate::Gone => Fate::EndsFamilyAfter(UnixTime(0), grant_key),
                Fate::DiesAfter(t) => Fate::EndsFamilyAfter(t, grant_key),
                fate => fate,
            })
        }
        _ => Ok(Fate::Kept),
    }
}

/// Judges `table`'s `key` inside `tx` at `now`: dead, it goes (a refresh token's family with it),
/// each table deleted from noted in `deleted`; alive, it is written again expiring when it may
/// die; one that does not decode is written again without a time, so no purge is given it again.
// RELIABILITY-soak
fn settle(
    tx: &mut dyn Tx,
    table: Table,
    key: &str,
    now: UnixTime,
    deleted: &mut Vec<Table>,
    ttls: &mut AccessTtls,
) -> Result<()> {
    match fate(tx, table, key, ttls)? {
        Fate::DiesAfter(t) | Fate::EndsFamilyAfter(t, _) if t >= now => {
            if let Some(bytes) = tx.get(table, key)? {
                tx.put_expiring(table, key, bytes, t)?;
            }
        }
        Fate::DiesAfter(_) => {
            tx.delete(table, key)?;
            deleted.push(table);
        }
        Fate::EndsFamilyAfter(_, grant_key) => {
            tx.delete(table, key)?;
            deleted.push(table);
            if tx.get(Table::Grant, &grant_key)?.is_some() {
                tx.delete(Table::Grant, &grant_key)?;
                deleted.push(Table::Grant);
            }
        }
        Fate::Kept => {
            if let Some(bytes) = tx.get(table, key)? {
                tx.put(table, key, bytes)?;
            }
        }
        Fate::Gone => {}
    }
    Ok(())
}

impl PurgeReport {
    /// Counts one deleted record of `table`.
    fn count(&mut self, table: Table) {
        match table {
            Table::AuthTransaction => self.auth_transactions += 1,
            Table::Code => self.codes += 1,
            Table::Session => self.sessions += 1,
            Table::AccessToken => self.access_tokens += 1,
            Table::AssertionJti => self.assertion_jtis += 1,
            Table::InitialAccessToken => self.initial_access_tokens += 1,
            Table::PushedRequest => self.pushed_requests += 1,
            Table::RefreshToken => self.refresh_tokens += 1,
            Table::Grant => self.grants += 1,
            _ => {}
        }
    }
}

impl<S: Store> Engine<S> {
    /// Deletes, in transactions of at most 256, each candidate key of `table` for which `dead`
    /// still holds when checked again inside the deleting transaction.
    fn delete_where<C>(
        &self,
        table: Table,
        candidates: &[(String, C)],
        dead: &impl Fn(&mut dyn Tx, &str, &C) -> Result<bool>,
    ) -> Result<usize> {
        let mut deleted = 0;
        for chunk in candidates.chunks(256) {
            deleted += self.store.transact(|tx| {
                tx.relax_durability();
                let mut n = 0;
                for (key, c) in chunk {
                    if dead(tx, key, c)? {
                        tx.delete(table, key)?;
                        n += 1;
                    }
                }
                Ok(n)
            })?;
        }
        Ok(deleted)
    }

    /// Judges each of `table`'s `keys` ([`settle`]), in transactions of at most 256.
    fn settle_all(&self, table: Table, keys: &[&str], now: UnixTime, report: &mut PurgeReport) -> Result<()> {
        for chunk in keys.chunks(256) {
            let deleted = self.store.transact(|tx| {
                tx.relax_durability();
                let (mut deleted, mut ttls) = (Vec::new(), AccessTtls::default());
                for key in chunk {
                    settle(tx, table, key, now, &mut deleted, &mut ttls)?;
                }
                Ok(deleted)
            })?;
            deleted.into_iter().for_each(|t| report.count(t));
        }
        Ok(())
    }

    /// Marks a store in which none of the purged tables holds a record (a new one) as keeping
    /// every expiry time, so its first purge goes through nothing whole; a store with records
    /// keeps them for the first purge to give their times. Call it when the store opens. Returns
    /// whether the store is marked.
    pub fn prepare_expiry(&self) -> Result<bool> {
        if self.expiry_kept()? {
            return Ok(true);
        }
        for table in expiry::PURGED {
            if !self.store.scan_after(table, "", None, 1)?.is_empty() {
                return Ok(false);
            }
        }
        // Records written between the check and the mark have their times.
        self.drop_engine_index(&mut 0)?;
        self.mark_expiry_kept()?;
        Ok(true)
    }

    /// Whether every record that can die has its expiry time kept by the store (the marker).
    fn expiry_kept(&self) -> Result<bool> {
        self.store
            .transact(|tx| Ok(tx.get(Table::Expiry, expiry::MARKER)?.is_some()))
    }

    /// Writes the marker, durably: a store that keeps it keeps the times written before it.
    fn mark_expiry_kept(&self) -> Result<()> {
        self.store
            .transact(|tx| Ok(tx.put(Table::Expiry, expiry::MARKER, Vec::new())?))
    }

    /// Deletes what older versions wrote to [`Table::Expiry`] (their expiry index and its
    /// marker): everything but this version's marker.
    fn drop_engine_index(&self, read: &mut usize) -> Result<()> {
        for_each_page(&self.store, Table::Expiry, "", PURGE_PAGE, |page| {
            *read += page.len();
            let keys: Vec<&str> = page
                .iter()
                .map(|(key, _)| key.as_str())
                .filter(|key| *key != expiry::MARKER)
                .collect();
            for chunk in keys.chunks(256) {
                self.store.transact(|tx| {
                    tx.relax_durability();
                    chunk.iter().try_for_each(|key| tx.delete(Table::Expiry, key))?;
                    Ok(())
                })?;
            }
            Ok(())
        })
    }

    /// Once per store an older version wrote (without the marker): judges every record of the
    /// purged tables, a page at a time, so the dead go and the live get their expiry time, drops
    /// the older versions' index, and marks the store. Grants come before refresh tokens
    /// ([`expiry::PURGED`]), so a dead family's grant is gone when its tokens are judged.
    fn give_every_record_its_time(&self, now: UnixTime, report: &mut PurgeReport, read: &mut usize) -> Result<()> {
        if self.expiry_kept()? {
            return Ok(());
        }
        self.drop_engine_index(read)?;
        for table in expiry::PURGED {
            for_each_page(&self.store, table, "", PURGE_PAGE, |page| {
                *read += page.len();
                let keys: Vec<&str> = page.iter().map(|(key, _)| key.as_str()).collect();
                self.settle_all(table, &keys, now, report)
            })?;
        }
        self.mark_expiry_kept()
    }

    /// Asks the store for the keys due at `now`, table by table and a page at a time, and judges
    /// each inside the transaction that deletes it or gives it its later time.
    fn purge_due(&self, now: UnixTime, report: &mut PurgeReport, read: &mut usize) -> Result<()> {
        for table in expiry::PURGED {
            let mut after: Option<String> = None;
            loop {
                let page = self.store.expired(table, now, after.as_deref(), PURGE_PAGE)?;
                *read += page.read;
                let keys: Vec<&str> = page.keys.iter().map(String::as_str).collect();
                self.settle_all(table, &keys, now, report)?;
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Deletes the audit events for which `old` holds, tenant by tenant (keys are
    /// `{tenant}/{id}`, ids in time order: `AuditStamp`). Each tenant's events are read from the
    /// oldest until the first one `old` rejects; then the scan skips to the next tenant's keys.
    /// Should the clock have stepped back, an older event after a kept one waits for a later
    /// purge: nothing is deleted early.
    fn purge_audit(&self, read: &mut usize, old: impl Fn(&AuditEvent) -> bool) -> Result<usize> {
        let dead = |tx: &mut dyn Tx, key: &str, _: &()| Ok(load::<AuditEvent>(tx, key)?.is_some_and(|e| old(&e)));
        let mut deleted = 0;
        let (mut past_tenant, mut last_prefix) = (None::<String>, String::new());
        while let Some((first, _)) = self
            .store
            .scan_after(Table::Audit, "", past_tenant.as_deref(), 1)?
            .pop()
        {
            *read += 1;
            let prefix = match first.split_once('/') {
                Some((tenant, _)) => format!("{tenant}/"),
                None => String::new(),
            };
            if prefix.is_empty() || prefix == last_prefix {
                // Not an event's key, or one sorting past the skip below: step over it alone.
                past_tenant = Some(first);
                continue;
            }
            let (mut after, mut page) = (None::<String>, FIRST_PAGE);
            loop {
                let items = self.store.scan_after(Table::Audit, &prefix, after.as_deref(), page)?;
                *read += items.len();
                let (mut expired, mut kept_one) = (Vec::new(), false);
                for (key, bytes) in &items {
                    match decode::<AuditEvent>(bytes) {
                        Ok(e) if old(&e) => expired.push((key.clone(), ())),
                        Ok(_) => {
                            kept_one = true;
                            break;
                        }
                        Err(_) => {} // unreadable: left alone, as every purge leaves it
                    }
                }
                deleted += self.delete_where(Table::Audit, &expired, &dead)?;
                if kept_one || items.len() < page {
                    break;
                }
                after = items.last().map(|(key, _)| key.clone());
                page = (page * 2).min(PURGE_PAGE);
            }
            // Past every key under `{tenant}/` (event ids are ASCII, below U+10FFFF).
            past_tenant = Some(format!("{prefix}\u{10FFFF}"));
            last_prefix = prefix;
        }
        Ok(deleted)
    }

    /// Deletes the records no request can use any more (see the module documentation).
    pub fn purge_expired(&self, now: UnixTime) -> Result<PurgeReport> {
        let (mut report, mut read) = (PurgeReport::default(), 0);
        self.give_every_record_its_time(now, &mut report, &mut read)?;
        self.purge_due(now, &mut report, &mut read)?;
        if let Some(keep) = self.config.audit_retention {
            report.audit_events = self.purge_audit(&mut read, |e| e.at.plus(keep) < now)?;
        }
        report.read = read;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditKind;
    use crate::error::{EngineError, StoreError};
    use crate::store::{save, MemStore};
    use crate::EngineConfig;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A `MemStore` that counts the records its scans hand out (the audit log's apart) and
    /// the records its transactions read.
    #[derive(Default)]
    struct CountingStore {
        inner: MemStore,
        audit_rows_read: AtomicUsize,
        rows_read: AtomicUsize,
        gets: AtomicUsize,
    }

    impl CountingStore {
        fn counted(&self, table: Table, rows: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
            if table == Table::Audit {
                self.audit_rows_read.fetch_add(rows.len(), Ordering::Relaxed);
            }
            self.rows_read.fetch_add(rows.len(), Ordering::Relaxed);
            rows
        }
        /// Records read by scans and transactions since the last call.
        fn take_read(&self) -> usize {
            self.rows_read.swap(0, Ordering::Relaxed) + self.gets.swap(0, Ordering::Relaxed)
        }
    }

    struct CountingTx<'a> {
        inner: &'a mut dyn Tx,
        gets: &'a AtomicUsize,
    }

    impl Tx for CountingTx<'_> {
        fn get(&mut self, table: Table, key: &str) -> std::result::Result<Option<Vec<u8>>, StoreError> {
            self.gets.fetch_add(1, Ordering::Relaxed);
            self.inner.get(table, key)
        }
        fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> std::result::Result<(), StoreError> {
            self.inner.put(table, key, value)
        }
        fn put_expiring(
            &mut self,
            table: Table,
            key: &str,
            value: Vec<u8>,
            at: UnixTime,
        ) -> std::result::Result<(), StoreError> {
            self.inner.put_expiring(table, key, value, at)
        }
        fn delete(&mut self, table: Table, key: &str) -> std::result::Result<(), StoreError> {
            self.inner.delete(table, key)
        }
    }

    impl Store for CountingStore {
        fn transact<T, F>(&self, f: F) -> Result<T>
        where
            F: Fn(&mut dyn Tx) -> Result<T>,
        {
            self.inner.transact(|tx| {
                f(&mut CountingTx {
                    inner: tx,
                    gets: &self.gets,
                })
            })
        }
        fn scan(&self, table: Table, prefix: &str) -> std::result::Result<Vec<(String, Vec<u8>)>, StoreError> {
            Ok(self.counted(table, self.inner.scan(table, prefix)?))
        }
        fn scan_after(
            &self,
            table: Table,
            prefix: &str,
            after: Option<&str>,
            limit: usize,
        ) -> std::result::Result<Vec<(String, Vec<u8>)>, StoreError> {
            Ok(self.counted(table, self.inner.scan_after(table, prefix, after, limit)?))
        }
        fn expired(
            &self,
            table: Table,
            now: UnixTime,
            after: Option<&str>,
            limit: usize,
        ) -> std::result::Result<crate::store::ExpiredPage, StoreError> {
            let page = self.inner.expired(table, now, after, limit)?;
            self.rows_read.fetch_add(page.read, Ordering::Relaxed);
            Ok(page)
        }
    }

    /// Keys of `table` due at the end of time: every one the store keeps a time for.
    fn with_times(store: &MemStore, table: Table) -> usize {
        store
            .expired(table, UnixTime(u64::MAX), None, usize::MAX)
            .unwrap()
            .keys
            .len()
    }

    const DAY: u64 = 86_400;

    fn event(at: u64, n: usize) -> AuditEvent {
        AuditEvent {
            id: format!("{at:012}-{n:012x}"),
            at: UnixTime(at),
            at_nanos: 0,
            kind: AuditKind::TokenIssued,
            actor: None,
            subject: None,
            client_id: None,
            detail: "grant_type=client_credentials".into(),
        }
    }

    #[test]
    fn the_audit_purge_reads_the_expired_events_not_the_whole_log() {
        let mut config = EngineConfig::new("https://id.example.com");
        config.audit_retention = Some(90 * DAY);
        let engine = Engine::new(
            CountingStore::default(),
            config,
            std::sync::Arc::new(crate::sealing::SystemSecrets::for_tests()),
        );
        let now = 200 * DAY;
        // (tenant, expired events, kept events): "a" is a prefix of "ab"; "zz" has no tenant record.
        let plan = [("a", 40, 3_000), ("ab", 2, 5), ("b", 0, 2_500), ("zz", 1, 0)];
        engine
            .store()
            .transact(|tx| {
                for (tenant, expired, kept) in plan {
                    for n in 0..expired + kept {
                        let at = if n < expired {
                            now - 91 * DAY + n as u64
                        } else {
                            now - DAY + n as u64
                        };
                        let e = event(at, n);
                        save(tx, &AuditEvent::key(tenant, &e.id), &e)?;
                    }
                }
                tx.put(Table::Audit, "a/999999999999-unreadable", b"not json".to_vec())?;
                // Sorts after the skip past tenant "ab" ("ab/" + U+10FFFF): stepped over, not a loop.
                tx.put(Table::Audit, "ab/\u{10FFFF}\u{10FFFF}", b"not json either".to_vec())?;
                tx.put(Table::Audit, "no-slash", b"not an event key".to_vec())?;
                Ok::<_, EngineError>(())
            })
            .unwrap();
        let report = engine.purge_expired(UnixTime(now)).unwrap();
        assert_eq!(report.audit_events, 43, "{report:?}");
        let left = engine.store().inner.scan(Table::Audit, "").unwrap();
        assert_eq!(
            left.len(),
            3_000 + 5 + 2_500 + 3,
            "the kept events and the unreadable records stay"
        );
        assert!(left
            .iter()
            .filter_map(|(_, v)| decode::<AuditEvent>(v).ok())
            .all(|e| e.at.0 > now - 90 * DAY));
        let read = engine.store().audit_rows_read.load(Ordering::Relaxed);
        assert_eq!(
            report.read,
            engine.store().rows_read.load(Ordering::Relaxed),
            "the report counts what the scans read"
        );
        assert!(
            read <= 2 * 43 + 4 * (FIRST_PAGE + 1),
            "{read} audit records read to purge 43 out of 5,548"
        );
    }

    fn access_token(expires_at: UnixTime) -> AccessTokenRecord {
        AccessTokenRecord {
            tenant: "t".into(),
            client_id: "c".into(),
            grant_id: None,
            user_id: None,
            expires_at,
            revoked: false,
            token_hash: None,
            jkt: None,
        }
    }

    fn session(expires_at: UnixTime) -> SessionRecord {
        SessionRecord {
            tenant: "t".into(),
            user_id: "u".into(),
            sid: "s".into(),
            auth_time: UnixTime(0),
            amr: vec!["pwd".into()],
            expires_at,
            state: crate::session::SessionState::Active,
            clients: Vec::new(),
            pending_totp: None,
        }
    }

    /// A family of client `c`, refreshable until `refresh_until` (none: no refresh tokens).
    fn family(id: &str, refresh_until: Option<UnixTime>, tokens_until: Option<UnixTime>) -> GrantRecord {
        GrantRecord {
            tenant: "t".into(),
            grant_id: id.into(),
            client_id: "c".into(),
            user_id: "u".into(),
            scopes: vec!["openid".into()],
            sid: "s".into(),
            auth_time: UnixTime(0),
            amr: Vec::new(),
            state: crate::token::grant::GrantState::Active,
            refresh: refresh_until.map(|expires_at| crate::token::grant::RefreshState {
                generation: 1,
                expires_at,
            }),
            epoch: 0,
            claims: Default::default(),
            tokens_until,
            dpop_jkt: None,
        }
    }

    fn engine() -> Engine<CountingStore> {
        Engine::new(
            CountingStore::default(),
            EngineConfig::new("https://id.example.com"),
            std::sync::Arc::new(crate::sealing::SystemSecrets::for_tests()),
        )
    }

    const NOW: UnixTime = UnixTime(1_000_000);

    #[test]
    fn the_purge_reads_what_expired_not_the_live_records() {
        let engine = engine();
        assert!(engine.prepare_expiry().unwrap(), "a new store is marked at once");
        engine
            .store()
            .transact(|tx| {
                for i in 0..5_000 {
                    save(tx, &format!("t/live-{i}"), &access_token(NOW.plus(3_600)))?;
                    save(tx, &format!("t/live-{i}"), &session(NOW.plus(7_200)))?;
                }
                for i in 0..100 {
                    save(tx, &format!("t/old-{i}"), &access_token(UnixTime(NOW.0 - 1 - i)))?;
                }
                for i in 0..50 {
                    save(tx, &format!("t/old-{i}"), &session(UnixTime(NOW.0 - 60)))?;
                }
                Ok(())
            })
            .unwrap();
        engine.store().take_read();
        let report = engine.purge_expired(NOW).unwrap();
        assert_eq!((report.access_tokens, report.sessions), (100, 50), "{report:?}");
        assert_eq!(report.read, 150, "the store read the due index entries alone");
        let read = engine.store().take_read();
        assert!(
            read <= 2 * 150 + 2,
            "{read} records and entries read to purge 150 out of 10,150"
        );
        assert_eq!(engine.store().inner.scan(Table::AccessToken, "").unwrap().len(), 5_000);
        assert_eq!(engine.store().inner.scan(Table::Session, "").unwrap().len(), 5_000);
        assert_eq!(engine.purge_expired(NOW).unwrap().total(), 0);
        // Their time comes: they go too, and their times with them.
        let report = engine.purge_expired(NOW.plus(7_201)).unwrap();
        assert_eq!((report.access_tokens, report.sessions), (5_000, 5_000), "{report:?}");
        assert_eq!(with_times(&engine.store().inner, Table::AccessToken), 0);
        assert_eq!(with_times(&engine.store().inner, Table::Session), 0);
    }

    #[test]
    fn a_store_an_older_version_wrote_is_gone_through_once() {
        let engine = engine();
        engine
            .store()
            .transact(|tx| {
                // As an earlier version wrote them: the record alone, no expiry time.
                for i in 0..30 {
                    let bytes = serde_json::to_vec(&access_token(UnixTime(NOW.0 - 5))).unwrap();
                    tx.put(Table::AccessToken, &format!("t/old-{i}"), bytes)?;
                }
                for i in 0..20 {
                    let bytes = serde_json::to_vec(&access_token(NOW.plus(60))).unwrap();
                    tx.put(Table::AccessToken, &format!("t/live-{i}"), bytes)?;
                }
                // The expiry index an older version kept in the engine, with its marker.
                tx.put(Table::Expiry, "00000000000000000001/access_token/t/old-0", Vec::new())?;
                tx.put(Table::Expiry, "~backfilled", Vec::new())?;
                tx.put(Table::Expiry, "garbage", Vec::new())?;
                tx.put(Table::Code, "t/corrupt", b"not json".to_vec())?;
                Ok(())
            })
            .unwrap();
        assert!(
            !engine.prepare_expiry().unwrap(),
            "records without times: not marked yet"
        );
        assert_eq!(engine.purge_expired(NOW).unwrap().access_tokens, 30);
        assert_eq!(
            engine.store().inner.scan(Table::Expiry, "").unwrap(),
            vec![(expiry::MARKER.to_string(), Vec::new())],
            "the older index is gone; the marker is written"
        );
        assert!(engine.prepare_expiry().unwrap());
        assert_eq!(engine.store().inner.scan(Table::AccessToken, "").unwrap().len(), 20);
        assert_eq!(
            with_times(&engine.store().inner, Table::AccessToken),
            20,
            "the live got their times"
        );
        engine.store().take_read();
        assert_eq!(engine.purge_expired(NOW).unwrap().total(), 0);
        assert!(engine.store().take_read() <= 2, "gone through once, not at every purge");
        assert_eq!(engine.purge_expired(NOW.plus(61)).unwrap().access_tokens, 20);
        assert_eq!(
            engine.store().inner.scan(Table::Code, "").unwrap().len(),
            1,
            "an unreadable record stays, as every purge leaves it"
        );
        assert_eq!(
            with_times(&engine.store().inner, Table::Code),
            0,
            "and is not given again"
        );
    }

    #[test]
    fn a_refresh_token_due_before_its_family_ends_waits_for_the_family() {
        let engine = engine();
        let grant = family("g", Some(NOW.plus(1_000)), None);
        engine
            .store()
            .transact(|tx| {
                save(tx, &GrantRecord::key("t", "g"), &grant)?;
                // Generation 0, written when the family's refresh expiry was earlier (it rotated since).
                let rt = RefreshTokenRecord {
                    tenant: "t".into(),
                    grant_id: "g".into(),
                    generation: 0,
                    holder: None,
                };
                crate::store::save_expiring(tx, "t/rt0", &rt, UnixTime(NOW.0 - 10))?;
                Ok(())
            })
            .unwrap();
        assert_eq!(engine.purge_expired(NOW).unwrap().total(), 0, "the family lives");
        assert!(engine.store().inner.scan(Table::RefreshToken, "").unwrap().len() == 1);
        assert_eq!(
            engine
                .store()
                .inner
                .expired(Table::RefreshToken, NOW.plus(1_000), None, 10)
                .unwrap()
                .keys,
            Vec::<String>::new(),
            "its time moved to when the family ends"
        );
        let report = engine.purge_expired(NOW.plus(1_001)).unwrap();
        assert_eq!((report.refresh_tokens, report.grants), (1, 1), "{report:?}");
    }

    /// Every kind of record the purge handles, some dead at `NOW` and some alive.
    fn fill_every_kind(tx: &mut dyn Tx) -> Result<()> {
        for i in 0..300 {
            save(tx, &format!("t/live-{i}"), &access_token(NOW.plus(3_600)))?;
            save(tx, &format!("t/live-{i}"), &session(NOW.plus(7_200)))?;
        }
        for i in 0..40 {
            save(tx, &format!("t/old-{i}"), &access_token(UnixTime(NOW.0 - 1 - i)))?;
            save(tx, &format!("t/old-{i}"), &session(UnixTime(NOW.0 - 60)))?;
        }
        for (id, refresh, tokens) in [
            ("over", Some(UnixTime(NOW.0 - 10)), None),
            ("alive", Some(NOW.plus(1_000)), None),
            ("no-refresh-over", None, Some(UnixTime(NOW.0 - 1))),
            ("no-refresh-alive", None, Some(NOW.plus(60))),
            ("written-before-tokens-until", None, None),
        ] {
            save(tx, &GrantRecord::key("t", id), &family(id, refresh, tokens))?;
        }
        // Each written when its family's refresh expiry was what it is now (`save_refresh_token`).
        for (key, grant_id, generation, at) in [
            ("t/rt-over-0", "over", 0, UnixTime(NOW.0 - 10)),
            ("t/rt-over-1", "over", 1, UnixTime(NOW.0 - 10)),
            ("t/rt-alive-0", "alive", 0, NOW.plus(1_000)),
            ("t/rt-alive-1", "alive", 1, NOW.plus(1_000)),
            ("t/rt-orphan", "vanished", 0, UnixTime(NOW.0 - 100)),
        ] {
            let rt = RefreshTokenRecord {
                tenant: "t".into(),
                grant_id: grant_id.into(),
                generation,
                holder: None,
            };
            crate::store::save_expiring(tx, key, &rt, at)?;
        }
        tx.put(Table::Code, "t/corrupt", b"not json".to_vec())?;
        Ok(())
    }

    #[test]
    fn every_kind_of_record_goes_when_it_is_dead_and_not_before() {
        let engine = engine();
        assert!(engine.prepare_expiry().unwrap());
        engine.store().transact(fill_every_kind).unwrap();
        let report = engine.purge_expired(NOW).unwrap();
        assert_eq!(
            (
                report.access_tokens,
                report.sessions,
                report.grants,
                report.refresh_tokens
            ),
            (40, 40, 2, 3),
            "{report:?}"
        );
        assert_eq!(
            engine.purge_expired(NOW).unwrap().total(),
            0,
            "a second purge finds nothing"
        );
        // Later, the rest goes.
        engine.purge_expired(NOW.plus(2 * DAY)).unwrap();
        let left: Vec<(Table, usize)> = expiry::PURGED
            .into_iter()
            .map(|t| (t, engine.store().inner.scan(t, "").unwrap().len()))
            .filter(|(_, n)| *n > 0)
            .collect();
        assert_eq!(
            left,
            [(Table::Code, 1), (Table::Grant, 1)],
            "the unreadable code and the family written before `tokens_until`"
        );
    }
}
