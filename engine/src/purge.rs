//! Purging records nothing can use any more, so the store does not grow with every flow.
//!
//! Only records that are provably dead go: pending authorizations, sessions, access-token
//! records, client-assertion jtis and initial access tokens past their expiry; codes a grace
//! period after their expiry (a replayed code is still recognised, and its grant revoked, for
//! that long); refresh tokens and their grant once the family's refresh lifetime has passed.
//! Each record is checked again inside the transaction that deletes it. A crash may lose a
//! purge (the next one does it again), so these deletions do not wait for the disk.
//! The purge finds them through the expiry index (`store::expiry`), read in time order up to
//! now: it reads what may have expired, not every record of every table (at 100,000 live
//! families, that was hundreds of thousands of records every few minutes). A store that keeps no
//! index (`Store::keeps_expiry_index`: sled) is read whole instead, each record judged from its
//! scanned bytes first, so only the ones that may be dead are read again in a transaction.
//! Audit events go once they are older than `EngineConfig::audit_retention` (an operator's
//! decision; `None` keeps them all). Their ids sort by time within a tenant, so that purge reads
//! each tenant's expired events and stops at its first kept one instead of reading the whole log
//! (the largest table, by far, of a long-running server) every few minutes.

use crate::audit::AuditEvent;
use crate::authorize::transaction::AuthTransactionRecord;
use crate::client::ClientRecord;
use crate::client_auth::AssertionJtiRecord;
use crate::code::CodeRecord;
use crate::engine::Engine;
use crate::env::UnixTime;
use crate::error::{Result, StoreError};
use crate::grant::{AccessTokenRecord, GrantRecord, RefreshTokenRecord};
use crate::registration::InitialAccessTokenRecord;
use crate::session::SessionRecord;
use crate::store::{decode, expiry, for_each_page, load, Record, Store, Table, Tx};

/// Records read per page while looking for dead ones (memory stays bounded by this, not by
/// the table's size).
const PURGE_PAGE: usize = 1024;

/// The first page of a scan in time order (the expiry index, a tenant's audit events); pages
/// double while every record read was due, so a purge reads at most about as many records not
/// yet due as it found due.
const FIRST_PAGE: usize = 16;

use crate::code::CODE_REPLAY_GRACE_SECS;

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
    /// Audit events older than the configured retention.
    pub audit_events: usize,
    /// Records and expiry entries the scans read to find these: what a purge costs, growing with
    /// what expired, not with what lives (but once per store, to index what was written before
    /// the expiry index existed). (Each candidate is read once more inside its deleting
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
/// purge decodes each client once per transaction (or once per purge, for
/// [`ScanContext::may_be_dead`]) instead of once per family.
#[derive(Default)]
struct AccessTtls {
    by_client: std::collections::HashMap<String, u64>,
    /// Holds every client's ([`AccessTtls::of_every_client`]): one missing is gone.
    every: bool,
}

impl AccessTtls {
    fn get(&mut self, tx: &mut dyn Tx, client_key: &str) -> Result<u64> {
        if let Some(ttl) = self.by_client.get(client_key) {
            return Ok(*ttl);
        }
        if self.every {
            return Ok(0);
        }
        let ttl = load::<ClientRecord>(tx, client_key)?.map_or(0, |c| c.access_token_ttl);
        self.by_client.insert(client_key.to_string(), ttl);
        Ok(ttl)
    }

    /// Every client's, read a page at a time. A client missing from it counts as gone (0), as
    /// one written since would be: that can only make its families' deadline earlier, so
    /// candidates that their transaction judges again.
    fn of_every_client<S: Store + ?Sized>(store: &S) -> Result<Self> {
        let mut ttls = AccessTtls {
            every: true,
            ..AccessTtls::default()
        };
        for_each_page(store, Table::Client, "", PURGE_PAGE, |page| {
            for (key, bytes) in page {
                if let Ok(c) = decode::<ClientRecord>(bytes) {
                    ttls.by_client.insert(key.clone(), c.access_token_ttl);
                }
            }
            Ok(())
        })?;
        Ok(ttls)
    }
}

/// When the record under an expiry entry dies (see the module documentation for each table).
fn fate(tx: &mut dyn Tx, table: Table, key: &str, ttls: &mut AccessTtls) -> Result<Fate> {
    let at = Fate::DiesAfter;
    match table {
        Table::AuthTransaction => read_fate::<AuthTransactionRecord>(tx, key, |t| at(t.expires_at)),
        Table::Code => read_fate::<CodeRecord>(tx, key, |c| at(c.expires_at.plus(CODE_REPLAY_GRACE_SECS))),
        Table::Session => read_fate::<SessionRecord>(tx, key, |s| at(s.expires_at)),
        Table::AccessToken => read_fate::<AccessTokenRecord>(tx, key, |a| at(a.expires_at)),
        Table::AssertionJti => read_fate::<AssertionJtiRecord>(tx, key, |j| at(j.expires_at)),
        Table::InitialAccessToken => read_fate::<InitialAccessTokenRecord>(tx, key, |t| at(t.expires_at)),
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

/// Deletes `table`'s `key` if its fate, read inside `tx`, says it is dead by `now` (a refresh
/// token's family with it), noting each table deleted from in `deleted`. Returns when it dies
/// if it is still alive.
fn delete_if_dead(
    tx: &mut dyn Tx,
    table: Table,
    key: &str,
    now: UnixTime,
    deleted: &mut Vec<Table>,
    ttls: &mut AccessTtls,
) -> Result<Option<UnixTime>> {
    match fate(tx, table, key, ttls)? {
        Fate::DiesAfter(t) | Fate::EndsFamilyAfter(t, _) if t >= now => return Ok(Some(t)),
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
        Fate::Gone | Fate::Kept => {}
    }
    Ok(None)
}

/// A record as a scan read it, seen as a store holding only it: the purge without an index asks
/// [`fate`] of it before opening a transaction. A fate that needs another record (a family's
/// grant or client) fails to read it and is checked in a transaction.
struct Scanned<'a> {
    table: Table,
    bytes: &'a [u8],
}

impl Tx for Scanned<'_> {
    fn get(&mut self, table: Table, _key: &str) -> std::result::Result<Option<Vec<u8>>, StoreError> {
        if table == self.table {
            Ok(Some(self.bytes.to_vec()))
        } else {
            Err(StoreError(format!(
                "{} is not in a scanned {} record",
                table.name(),
                self.table.name()
            )))
        }
    }
    fn put(&mut self, _: Table, _: &str, _: Vec<u8>) -> std::result::Result<(), StoreError> {
        Err(StoreError("a scanned record is read-only".into()))
    }
    fn delete(&mut self, _: Table, _: &str) -> std::result::Result<(), StoreError> {
        Err(StoreError("a scanned record is read-only".into()))
    }
}

/// What the purge without an index learns as it reads, to judge scanned records with: every
/// client's access-token lifetime, read at its start, and the families it found alive.
#[derive(Default)]
struct ScanContext {
    /// Every client's access-token lifetime. One changed since can only make a family a
    /// candidate early or late by one purge, and each candidate is judged again in its
    /// transaction.
    ttls: AccessTtls,
    /// Hashes of the keys of the grants found alive at `now`: a refresh token whose family is
    /// one of them is alive too (its fate is its family's), so it is not read again in a
    /// transaction. A dead family whose key's hash is a live one's (~1 chance in 10^14 each, at
    /// 100,000 live families) only keeps its refresh tokens while that family lives.
    live_families: std::collections::HashSet<u64>,
}

impl ScanContext {
    fn family_hash(grant_key: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        // Fixed keys: the same key hashes the same in every purge.
        BuildHasherDefault::<DefaultHasher>::default().hash_one(grant_key)
    }

    /// Whether a scanned record may be dead by `now`: certainly alive (or kept) records are not
    /// read again in a transaction. Grants must be read before refresh tokens
    /// (as [`expiry::INDEXED`] lists them), or every refresh token is a candidate.
    fn may_be_dead(&mut self, table: Table, key: &str, bytes: &[u8], now: UnixTime) -> bool {
        if table == Table::RefreshToken {
            return decode::<RefreshTokenRecord>(bytes).map_or(true, |rt| {
                let family = GrantRecord::key(&rt.tenant, &rt.grant_id);
                !self.live_families.contains(&Self::family_hash(&family))
            });
        }
        let alive = match fate(&mut Scanned { table, bytes }, table, "", &mut self.ttls) {
            Ok(Fate::DiesAfter(t)) => t >= now,
            Ok(Fate::Kept) => true,
            Ok(Fate::Gone | Fate::EndsFamilyAfter(..)) | Err(_) => false,
        };
        if alive && table == Table::Grant {
            self.live_families.insert(Self::family_hash(key));
        }
        !alive
    }
}

impl PurgeReport {
    /// The same report with another `read` (tests compare what two purges deleted).
    #[cfg(test)]
    fn with_read(self, read: usize) -> Self {
        PurgeReport { read, ..self }
    }

    /// Counts one deleted record of `table`.
    fn count(&mut self, table: Table) {
        match table {
            Table::AuthTransaction => self.auth_transactions += 1,
            Table::Code => self.codes += 1,
            Table::Session => self.sessions += 1,
            Table::AccessToken => self.access_tokens += 1,
            Table::AssertionJti => self.assertion_jtis += 1,
            Table::InitialAccessToken => self.initial_access_tokens += 1,
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

    /// Marks a store in which none of the indexed tables holds a record (a new one) as covered
    /// by the expiry index, so its first purge indexes nothing again; a store with records
    /// keeps them for the first purge to index. Call it when the store opens. Returns whether
    /// the store is covered (a store that keeps no index has nothing to prepare: `true`).
    pub fn prepare_expiry_index(&self) -> Result<bool> {
        if !self.store.keeps_expiry_index() || self.expiry_index_covers_all()? {
            return Ok(true);
        }
        for table in expiry::INDEXED {
            if !self.store.scan_after(table, "", None, 1)?.is_empty() {
                return Ok(false);
            }
        }
        // Records written between the check and the mark have entries of their own.
        self.mark_expiry_index_covering_all()?;
        Ok(true)
    }

    /// Whether every record the purge may delete has an expiry entry (the store's marker).
    fn expiry_index_covers_all(&self) -> Result<bool> {
        self.store
            .transact(|tx| Ok(tx.get(Table::Expiry, expiry::BACKFILLED)?.is_some()))
    }

    /// Writes the marker, durably: a store that keeps it keeps the entries written before it.
    fn mark_expiry_index_covering_all(&self) -> Result<()> {
        self.store
            .transact(|tx| Ok(tx.put(Table::Expiry, expiry::BACKFILLED, Vec::new())?))
    }

    /// Gives every record of the indexed tables an expiry entry due at once, unless the store
    /// says it was done: a store written before the index existed holds records without one.
    /// The first indexed purge then checks each of them once and moves its entry to its real
    /// deadline. Records written meanwhile have entries of their own.
    fn backfill_expiry_index(&self, read: &mut usize) -> Result<()> {
        if self.expiry_index_covers_all()? {
            return Ok(());
        }
        for table in expiry::INDEXED {
            for_each_page(&self.store, table, "", PURGE_PAGE, |page| {
                *read += page.len();
                for chunk in page.chunks(256) {
                    self.store.transact(|tx| {
                        tx.relax_durability();
                        for (key, _) in chunk {
                            if tx.get(table, key)?.is_some() {
                                expiry::note(tx, UnixTime(0), table, key)?;
                            }
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
        }
        self.mark_expiry_index_covering_all()
    }

    /// Reads the expiry index in time order up to `now` and checks each record an entry names
    /// inside the transaction that deletes it: dead, it goes; alive, its entry moves to when it
    /// dies; gone, the entry goes. Live records are not read, except the page the scan stops in.
    fn purge_indexed(&self, now: UnixTime, report: &mut PurgeReport, read: &mut usize) -> Result<()> {
        let (mut after, mut size) = (None::<String>, FIRST_PAGE);
        loop {
            let page = self.store.scan_after(Table::Expiry, "", after.as_deref(), size)?;
            *read += page.len();
            let mut due = Vec::new();
            let mut reached_now = false;
            for (key, _) in &page {
                match expiry::parse(key) {
                    Some(e) if e.at >= now => {
                        reached_now = true;
                        break;
                    }
                    Some(_) => due.push(key.as_str()),
                    None => {} // the marker, or an entry this version does not know: stepped over
                }
            }
            for chunk in due.chunks(256) {
                let deleted = self.store.transact(|tx| {
                    tx.relax_durability();
                    let (mut deleted, mut ttls) = (Vec::new(), AccessTtls::default());
                    for entry_key in chunk {
                        let Some(e) = expiry::parse(entry_key) else { continue };
                        if let Some(t) = delete_if_dead(tx, e.table, e.key, now, &mut deleted, &mut ttls)? {
                            expiry::note(tx, t, e.table, e.key)?;
                        }
                        tx.delete(Table::Expiry, entry_key)?;
                    }
                    Ok(deleted)
                })?;
                deleted.into_iter().for_each(|t| report.count(t));
            }
            match page.last() {
                Some((key, _)) if !reached_now && page.len() == size => {
                    after = Some(key.clone());
                    size = (size * 2).min(PURGE_PAGE);
                }
                _ => return Ok(()),
            }
        }
    }

    /// For a store without the expiry index: reads every record of the tables the index would
    /// cover, a page at a time, and deletes the dead ones, each checked again inside the
    /// deleting transaction. Only the records that may be dead are read there: a refresh
    /// token's fate is its family's, so those of a family the scan of grants found alive are
    /// not.
    fn purge_by_reading(&self, now: UnixTime, report: &mut PurgeReport, read: &mut usize) -> Result<()> {
        let mut scan = ScanContext {
            ttls: AccessTtls::of_every_client(&self.store)?,
            ..ScanContext::default()
        };
        for table in expiry::INDEXED {
            for_each_page(&self.store, table, "", PURGE_PAGE, |page| {
                *read += page.len();
                let candidates: Vec<&str> = page
                    .iter()
                    .filter(|(key, bytes)| scan.may_be_dead(table, key, bytes, now))
                    .map(|(key, _)| key.as_str())
                    .collect();
                for chunk in candidates.chunks(256) {
                    let deleted = self.store.transact(|tx| {
                        tx.relax_durability();
                        let (mut deleted, mut ttls) = (Vec::new(), AccessTtls::default());
                        for key in chunk {
                            delete_if_dead(tx, table, key, now, &mut deleted, &mut ttls)?;
                        }
                        Ok(deleted)
                    })?;
                    deleted.into_iter().for_each(|t| report.count(t));
                }
                Ok(())
            })?;
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
        if self.store.keeps_expiry_index() {
            self.backfill_expiry_index(&mut read)?;
            self.purge_indexed(now, &mut report, &mut read)?;
        } else {
            self.purge_by_reading(now, &mut report, &mut read)?;
        }
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
        /// Keeps no expiry index (as sled): any read or write of an entry is an error.
        no_index: bool,
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
        no_index: bool,
    }

    impl CountingTx<'_> {
        /// A store without the index (as sled) is never asked to write or delete an entry:
        /// `expiry::note` skips it and the purge reads the tables instead.
        fn refuse_entry(&self, table: Table) -> std::result::Result<(), StoreError> {
            if self.no_index && table == Table::Expiry {
                return Err(StoreError(
                    "an expiry entry written to a store that keeps no index".into(),
                ));
            }
            Ok(())
        }
    }

    impl Tx for CountingTx<'_> {
        fn get(&mut self, table: Table, key: &str) -> std::result::Result<Option<Vec<u8>>, StoreError> {
            self.gets.fetch_add(1, Ordering::Relaxed);
            self.refuse_entry(table)?;
            self.inner.get(table, key)
        }
        fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> std::result::Result<(), StoreError> {
            self.refuse_entry(table)?;
            self.inner.put(table, key, value)
        }
        fn delete(&mut self, table: Table, key: &str) -> std::result::Result<(), StoreError> {
            self.refuse_entry(table)?;
            self.inner.delete(table, key)
        }
        fn keeps_expiry_index(&self) -> bool {
            !self.no_index
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
                    no_index: self.no_index,
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
        fn keeps_expiry_index(&self) -> bool {
            !self.no_index
        }
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
        let engine = Engine::new(CountingStore::default(), config);
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
            expires_at,
            revoked: false,
            token_hash: None,
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
            state: crate::grant::GrantState::Active,
            refresh: refresh_until.map(|expires_at| crate::grant::RefreshState {
                generation: 1,
                expires_at,
            }),
            epoch: 0,
            claims: Default::default(),
            tokens_until,
        }
    }

    fn engine() -> Engine<CountingStore> {
        Engine::new(CountingStore::default(), EngineConfig::new("https://id.example.com"))
    }

    const NOW: UnixTime = UnixTime(1_000_000);

    #[test]
    fn the_purge_reads_what_expired_not_the_live_records() {
        let engine = engine();
        assert!(engine.prepare_expiry_index().unwrap(), "a new store is covered at once");
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
        let read = engine.store().take_read();
        assert!(
            read <= 4 * 150 + FIRST_PAGE,
            "{read} records and entries read to purge 150 out of 10,150"
        );
        assert_eq!(engine.store().inner.scan(Table::AccessToken, "").unwrap().len(), 5_000);
        assert_eq!(engine.store().inner.scan(Table::Session, "").unwrap().len(), 5_000);
        assert_eq!(engine.purge_expired(NOW).unwrap().total(), 0);
        // Their time comes: they go too, and their entries with them.
        let report = engine.purge_expired(NOW.plus(7_201)).unwrap();
        assert_eq!((report.access_tokens, report.sessions), (5_000, 5_000), "{report:?}");
        let left = engine.store().inner.scan(Table::Expiry, "").unwrap();
        assert_eq!(
            left.len(),
            1,
            "only the marker is left: {:?}",
            &left[..left.len().min(3)]
        );
    }

    #[test]
    fn records_written_before_the_index_existed_are_purged_too() {
        let engine = engine();
        engine
            .store()
            .transact(|tx| {
                // As an earlier version wrote them: the record alone, no expiry entry.
                for i in 0..30 {
                    let bytes = serde_json::to_vec(&access_token(UnixTime(NOW.0 - 5))).unwrap();
                    tx.put(Table::AccessToken, &format!("t/old-{i}"), bytes)?;
                }
                for i in 0..20 {
                    let bytes = serde_json::to_vec(&access_token(NOW.plus(60))).unwrap();
                    tx.put(Table::AccessToken, &format!("t/live-{i}"), bytes)?;
                }
                Ok(())
            })
            .unwrap();
        assert!(
            !engine.prepare_expiry_index().unwrap(),
            "records without entries: not covered yet"
        );
        // Whatever else the index holds is stepped over or dropped, never an error: a key that is
        // no entry, a table the index does not cover, a record that does not decode.
        engine
            .store()
            .transact(|tx| {
                tx.put(Table::Expiry, "garbage", Vec::new())?;
                tx.put(
                    Table::Expiry,
                    &expiry::entry_key(UnixTime(1), Table::User, "t/u"),
                    Vec::new(),
                )?;
                tx.put(Table::Code, "t/corrupt", b"not json".to_vec())?;
                expiry::note(tx, UnixTime(1), Table::Code, "t/corrupt")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(engine.purge_expired(NOW).unwrap().access_tokens, 30);
        assert!(engine.prepare_expiry_index().unwrap());
        assert_eq!(engine.store().inner.scan(Table::AccessToken, "").unwrap().len(), 20);
        engine.store().take_read();
        assert_eq!(engine.purge_expired(NOW).unwrap().total(), 0);
        assert!(
            engine.store().take_read() <= FIRST_PAGE + 1,
            "indexed once, not at every purge"
        );
        assert_eq!(engine.purge_expired(NOW.plus(61)).unwrap().access_tokens, 20);
        assert_eq!(
            engine.store().inner.scan(Table::Code, "").unwrap().len(),
            1,
            "an unreadable record stays, as every purge leaves it"
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
                // Generation 0, noted when the family's refresh expiry was earlier (it rotated since).
                let rt = RefreshTokenRecord {
                    tenant: "t".into(),
                    grant_id: "g".into(),
                    generation: 0,
                };
                save(tx, "t/rt0", &rt)?;
                expiry::note(tx, UnixTime(NOW.0 - 10), Table::RefreshToken, "t/rt0")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(engine.purge_expired(NOW).unwrap().total(), 0, "the family lives");
        assert!(engine.store().inner.scan(Table::RefreshToken, "").unwrap().len() == 1);
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
        // Each noted when its family's refresh expiry was what it is now (`save_refresh_token`).
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
            };
            save(tx, key, &rt)?;
            expiry::note(tx, at, Table::RefreshToken, key)?;
        }
        tx.put(Table::Code, "t/corrupt", b"not json".to_vec())?;
        Ok(())
    }

    /// Each purged table's (key, value) pairs.
    type Contents = Vec<(Table, Vec<(String, Vec<u8>)>)>;

    fn contents(store: &MemStore) -> Contents {
        expiry::INDEXED
            .into_iter()
            .map(|t| (t, store.scan(t, "").unwrap()))
            .collect()
    }

    #[test]
    fn a_store_without_the_index_is_read_whole_and_purged_the_same() {
        let indexed = engine();
        let whole = Engine::new(
            CountingStore {
                no_index: true,
                ..Default::default()
            },
            EngineConfig::new("https://id.example.com"),
        );
        assert!(
            whole.prepare_expiry_index().unwrap(),
            "nothing to prepare without an index"
        );
        assert!(indexed.prepare_expiry_index().unwrap());
        for e in [&indexed, &whole] {
            e.store().transact(fill_every_kind).unwrap();
        }
        assert!(whole.store().inner.scan(Table::Expiry, "").unwrap().is_empty());
        assert_eq!(contents(&indexed.store().inner), contents(&whole.store().inner));
        whole.store().gets.swap(0, Ordering::Relaxed);
        let report = whole.purge_expired(NOW).unwrap();
        assert_eq!(report, indexed.purge_expired(NOW).unwrap().with_read(report.read));
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
        assert_eq!(contents(&indexed.store().inner), contents(&whole.store().inner));
        // Every record of the purged tables, once.
        assert_eq!(report.read, 600 + 80 + 1 + 5 + 5);
        // Live access tokens, sessions, grants and the refresh tokens of live families are
        // judged from the scan: only the 80 dead ones, the two dead grants (the one with refresh
        // tokens with its client) and the three refresh tokens of families not found alive
        // (each with its family's grant, looked up twice) are read again.
        let gets = whole.store().gets.swap(0, Ordering::Relaxed);
        assert_eq!(gets, 80 + (2 + 1) + 3 * 3, "reads in transactions");
        // Later, the rest goes the same way on both.
        let later = NOW.plus(2 * DAY);
        let report = whole.purge_expired(later).unwrap();
        assert_eq!(report, indexed.purge_expired(later).unwrap().with_read(report.read));
        assert_eq!(contents(&indexed.store().inner), contents(&whole.store().inner));
        let left: Vec<usize> = contents(&whole.store().inner).iter().map(|(_, r)| r.len()).collect();
        assert_eq!(
            left.iter().sum::<usize>(),
            2,
            "the unreadable code and the family written before `tokens_until`: {left:?}"
        );
    }
}
