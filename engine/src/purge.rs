//! Purging records nothing can use any more, so the store does not grow with every flow.
//!
//! Only records that are provably dead go: pending authorizations, sessions, access-token
//! records, client-assertion jtis and initial access tokens past their expiry; codes a grace
//! period after their expiry (a replayed code is still recognised, and its grant revoked, for
//! that long); refresh tokens and their grant once the family's refresh lifetime has passed.
//! Each record is checked again inside the transaction that deletes it. A crash may lose a
//! purge (the next one does it again), so these deletions do not wait for the disk.
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
use crate::error::Result;
use crate::grant::{AccessTokenRecord, GrantRecord, RefreshTokenRecord};
use crate::registration::InitialAccessTokenRecord;
use crate::session::SessionRecord;
use crate::store::{decode, for_each_page, load, Record, Store, Table, Tx};

/// Records read per page while looking for dead ones (memory stays bounded by this, not by
/// the table's size).
const PURGE_PAGE: usize = 1024;

/// The first page of a tenant's audit events; pages double while every event read was expired.
const AUDIT_FIRST_PAGE: usize = 16;

/// How long after its expiry a code is still kept to recognise a replay.
pub const CODE_REPLAY_GRACE_SECS: u64 = 600;

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
    /// Records the scans read to find these: what a purge costs, growing with every live record
    /// of the tables scanned whole and only with the expired ones of the audit log. (Each
    /// candidate is read once more inside its deleting transaction, a refresh token's family too.)
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

/// Whether a family is over: it can no longer be refreshed, and the last access token it can
/// have issued (at most the client's access-token lifetime before the refresh expiry) expired.
/// Families without refresh tokens are left alone.
fn family_dead(tx: &mut dyn Tx, grant_key: &str, now: UnixTime) -> Result<bool> {
    let Some(g) = load::<GrantRecord>(tx, grant_key)? else {
        return Ok(true);
    };
    let Some(refresh) = g.refresh else {
        return Ok(false);
    };
    let access_ttl =
        load::<ClientRecord>(tx, &ClientRecord::key(&g.tenant, &g.client_id))?.map_or(0, |c| c.access_token_ttl);
    Ok(refresh.expires_at.plus(access_ttl) < now)
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

    /// Deletes every record of `R` for which `dead` holds, reading the table a page at a time
    /// (`read` counts the records read).
    fn purge_table<R: Record>(&self, read: &mut usize, dead: impl Fn(&R) -> bool) -> Result<usize> {
        self.purge_pages(
            read,
            R::TABLE,
            |_, bytes| decode::<R>(bytes).is_ok_and(|r| dead(&r)).then_some(()),
            |tx, key, _| Ok(load::<R>(tx, key)?.is_some_and(|r| dead(&r))),
        )
    }

    /// Reads `table` a page at a time; `candidate` picks the keys worth checking (with what the
    /// check needs) and `dead` checks each again inside the deleting transaction.
    fn purge_pages<C>(
        &self,
        read: &mut usize,
        table: Table,
        candidate: impl Fn(&str, &[u8]) -> Option<C>,
        dead: impl Fn(&mut dyn Tx, &str, &C) -> Result<bool>,
    ) -> Result<usize> {
        let mut deleted = 0;
        for_each_page(&self.store, table, "", PURGE_PAGE, |page| {
            *read += page.len();
            let candidates: Vec<(String, C)> = page
                .iter()
                .filter_map(|(key, bytes)| Some((key.clone(), candidate(key, bytes)?)))
                .collect();
            deleted += self.delete_where(table, &candidates, &dead)?;
            Ok(())
        })?;
        Ok(deleted)
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
            let (mut after, mut page) = (None::<String>, AUDIT_FIRST_PAGE);
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
        let mut read = 0;
        let mut r = PurgeReport {
            auth_transactions: self.purge_table::<AuthTransactionRecord>(&mut read, |t| t.expires_at < now)?,
            codes: self.purge_table::<CodeRecord>(&mut read, |c| c.expires_at.plus(CODE_REPLAY_GRACE_SECS) < now)?,
            sessions: self.purge_table::<SessionRecord>(&mut read, |s| s.expires_at < now)?,
            access_tokens: self.purge_table::<AccessTokenRecord>(&mut read, |a| a.expires_at < now)?,
            assertion_jtis: self.purge_table::<AssertionJtiRecord>(&mut read, |j| j.expires_at < now)?,
            initial_access_tokens: self.purge_table::<InitialAccessTokenRecord>(&mut read, |t| t.expires_at < now)?,
            ..Default::default()
        };
        if let Some(keep) = self.config.audit_retention {
            r.audit_events = self.purge_audit(&mut read, |e| e.at.plus(keep) < now)?;
        }
        // Refresh tokens of dead (or vanished) families, then the families themselves.
        let family_over = |tx: &mut dyn Tx, _: &str, grant_key: &String| family_dead(tx, grant_key, now);
        r.refresh_tokens = self.purge_pages(
            &mut read,
            RefreshTokenRecord::TABLE,
            |_, bytes| {
                let rt = decode::<RefreshTokenRecord>(bytes).ok()?;
                Some(GrantRecord::key(&rt.tenant, &rt.grant_id))
            },
            family_over,
        )?;
        r.grants = self.purge_pages(
            &mut read,
            GrantRecord::TABLE,
            |key, _| Some(key.to_string()),
            family_over,
        )?;
        r.read = read;
        Ok(r)
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

    /// A `MemStore` that counts the audit records its scans hand out.
    #[derive(Default)]
    struct CountingStore {
        inner: MemStore,
        audit_rows_read: AtomicUsize,
    }

    impl CountingStore {
        fn counted(&self, table: Table, rows: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
            if table == Table::Audit {
                self.audit_rows_read.fetch_add(rows.len(), Ordering::Relaxed);
            }
            rows
        }
    }

    impl Store for CountingStore {
        fn transact<T, F>(&self, f: F) -> Result<T>
        where
            F: Fn(&mut dyn Tx) -> Result<T>,
        {
            self.inner.transact(f)
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
    }

    const DAY: u64 = 86_400;

    fn event(at: u64, n: usize) -> AuditEvent {
        AuditEvent {
            id: format!("{at:012}-{n:012x}"),
            at: UnixTime(at),
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
        assert_eq!(report.read, read, "the report counts what the scans read");
        assert!(
            read <= 2 * 43 + 4 * (AUDIT_FIRST_PAGE + 1),
            "{read} audit records read to purge 43 out of 5,548"
        );
    }
}
