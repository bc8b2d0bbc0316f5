//! The shared state of several instances over one PostgreSQL. Each instance answers from its own
//! [`Local`] state, and tells the others what it changed, as events over the database's
//! notifications (`store_postgres::peers`); the others apply them to theirs. So every instance
//! agrees within the delay of one notification (milliseconds), and nothing on a request path waits
//! for the database:
//! - a change to a rendered document (tenant, client, key) is sent at once: every instance renders
//!   its documents again;
//! - failed, successful and allowed sign-ins and an administrator's unlock are sent at once: the
//!   failed-login throttle counts the failures made at every instance;
//! - requests counted by the rate limits are sent in batches every `peers::TICK` (100 ms), per
//!   key: each instance's limit counts the requests all of them allowed;
//! - a fetch of a client's `jwks_uri` is sent at once, so the next waits the interval everywhere;
//! - the purge runs where the database's advisory lock is held.
//!
//! An instance that lost its connection to the database cannot know what it missed: it renders its
//! documents again when it is back. Counts are not stored: an instance started later counts from
//! then on (as one process does after a restart).

use super::{Limit, Local, SharedState};
use crate::data_store::postgres::peers::{Bus, Peers, MAX_MESSAGE};
use crate::data_store::postgres::PgStore;
use crate::rate_limit::RateLimits;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What one instance tells the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
enum Event {
    /// A rendered document is stale.
    Docs,
    /// `n` requests for `key` were allowed under `limit`.
    Hits { limit: Limit, key: String, n: u32 },
    /// A sign-in attempt was let through (it takes a slowed account's slot).
    Attempt { account: String, ip: String },
    /// A sign-in failed.
    Failed { account: String, ip: String },
    /// A sign-in succeeded.
    Succeeded { account: String, ip: String },
    /// An administrator cleared an account's failures.
    Unlock { account: String },
    /// A client's `jwks_uri` was fetched.
    KeysFetched { client: String },
}

/// Events kept while the database cannot be reached; past this the newest are dropped.
const MAX_QUEUED: usize = 10_000;

/// What is still to be sent.
#[derive(Default)]
struct Outbox {
    hits: HashMap<(Limit, String), u32>,
    events: Vec<Event>,
}

/// This instance's state, kept in step with the other instances'.
pub struct Replicated {
    local: Local,
    outbox: Mutex<Outbox>,
    bus: OnceLock<Bus>,
}

impl Replicated {
    /// State for an instance over `store` with `limits`, exchanging changes with the others.
    pub fn over(store: &PgStore, limits: RateLimits) -> Arc<Replicated> {
        let state = Self::detached(limits);
        let peers: Weak<dyn Peers> = Arc::downgrade(&state) as Weak<Replicated>;
        let _ = state.bus.set(store.start_bus(peers));
        state
    }

    /// State that exchanges nothing until a bus is attached (tests).
    fn detached(limits: RateLimits) -> Arc<Replicated> {
        Arc::new(Replicated {
            local: Local::new(limits),
            outbox: Mutex::new(Outbox::default()),
            bus: OnceLock::new(),
        })
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `event` and sends it at once.
    fn tell(&self, event: Event) {
        {
            let mut out = self.outbox();
            if out.events.len() < MAX_QUEUED {
                out.events.push(event);
            }
        }
        if let Some(bus) = self.bus.get() {
            bus.wake();
        }
    }

    fn apply(&self, event: Event) {
        let l = &self.local;
        match event {
            Event::Docs => {
                l.generation.fetch_add(1, Ordering::SeqCst);
            }
            Event::Hits { limit, key, n } => l.limiter(limit).count(&key, n),
            Event::Attempt { account, ip } => {
                let _ = l.logins.check(&account, &ip);
            }
            Event::Failed { account, ip } => l.logins.failed(&account, &ip),
            Event::Succeeded { account, ip } => l.logins.succeeded(&account, &ip),
            Event::Unlock { account } => l.logins.unlock(&account),
            Event::KeysFetched { client } => l.keys_fetched(&client),
        }
    }
}

/// `events` as JSON arrays of at most [`MAX_MESSAGE`] bytes (an event longer than that alone is
/// dropped: no key comes near it).
fn messages(events: impl IntoIterator<Item = Event>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for event in events {
        let Ok(json) = serde_json::to_string(&event) else {
            continue;
        };
        if json.len() + 2 > MAX_MESSAGE {
            continue;
        }
        if current.len() + json.len() + 2 > MAX_MESSAGE {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    out
}

impl Peers for Replicated {
    fn outgoing(&self) -> Vec<String> {
        let Outbox { hits, events } = std::mem::take(&mut *self.outbox());
        let hits = hits.into_iter().map(|((limit, key), n)| Event::Hits { limit, key, n });
        messages(events.into_iter().chain(hits))
    }

    fn incoming(&self, message: &str) {
        match serde_json::from_str::<Vec<Event>>(message) {
            Ok(events) => events.into_iter().for_each(|e| self.apply(e)),
            Err(e) => tracing::warn!(error = %e, "an unreadable message from another instance"),
        }
    }

    fn missed(&self) {
        self.local.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl SharedState for Replicated {
    fn doc_generation(&self) -> u64 {
        self.local.doc_generation()
    }

    fn documents_changed(&self) {
        self.local.documents_changed();
        self.tell(Event::Docs);
    }

    fn rate(&self, limit: Limit, key: &str) -> Result<(), u64> {
        self.local.rate(limit, key)?;
        if self.local.limiter(limit).is_on() {
            let mut out = self.outbox();
            let n = out.hits.entry((limit, key.to_string())).or_insert(0);
            *n = n.saturating_add(1);
        }
        Ok(())
    }

    fn login_allowed(&self, account: &str, ip: &str) -> Result<(), u64> {
        self.local.login_allowed(account, ip)?;
        self.tell(Event::Attempt {
            account: account.into(),
            ip: ip.into(),
        });
        Ok(())
    }

    fn login_failed(&self, account: &str, ip: &str) {
        self.local.login_failed(account, ip);
        self.tell(Event::Failed {
            account: account.into(),
            ip: ip.into(),
        });
    }

    fn login_succeeded(&self, account: &str, ip: &str) {
        self.local.login_succeeded(account, ip);
        self.tell(Event::Succeeded {
            account: account.into(),
            ip: ip.into(),
        });
    }

    fn unlock_login(&self, account: &str) {
        self.local.unlock_login(account);
        self.tell(Event::Unlock {
            account: account.into(),
        });
    }

    fn may_refresh_client_keys(&self, client: &str) -> bool {
        let allowed = self.local.may_refresh_client_keys(client);
        if allowed {
            self.tell(Event::KeysFetched { client: client.into() });
        }
        allowed
    }

    fn leads_purge(&self) -> bool {
        self.bus.get().is_some_and(Bus::leads_purge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            token_per_ip: 10,
            token_per_client: 0,
            login_per_ip: 100,
            login_failures_per_source: 3,
            login_failures_per_account: 0,
        }
    }

    /// Delivers what `from` has to send to every one of `to`.
    fn deliver(from: &Replicated, to: &[&Replicated]) {
        for m in from.outgoing() {
            to.iter().for_each(|r| r.incoming(&m));
        }
    }

    #[test]
    fn what_one_instance_changes_the_others_apply() {
        let (a, b, c) = (
            Replicated::detached(limits()),
            Replicated::detached(limits()),
            Replicated::detached(limits()),
        );
        // Documents.
        let g = b.doc_generation();
        a.documents_changed();
        deliver(&a, &[&b, &c]);
        assert_eq!(b.doc_generation(), g + 1, "b renders again");
        // Failed sign-ins spread over the three lock the source out at all of them.
        for r in [&a, &b, &c] {
            assert!(r.login_allowed("t/alice", "ip").is_ok());
            r.login_failed("t/alice", "ip");
            let others: Vec<&Replicated> = [&a, &b, &c]
                .into_iter()
                .filter(|o| !std::ptr::eq(*o, r))
                .map(|o| &**o)
                .collect();
            deliver(r, &others);
        }
        for r in [&a, &b, &c] {
            assert!(r.login_allowed("t/alice", "ip").is_err(), "three failures in all");
        }
        a.unlock_login("t/alice");
        deliver(&a, &[&b, &c]);
        assert!(
            c.login_allowed("t/alice", "ip").is_ok(),
            "an unlock anywhere clears it everywhere"
        );
        // Rate limits: 6 requests at a and 4 at b use up c's 10 too.
        (0..6).for_each(|_| assert!(a.rate(Limit::TokenPerIp, "1.2.3.4").is_ok()));
        (0..4).for_each(|_| assert!(b.rate(Limit::TokenPerIp, "1.2.3.4").is_ok()));
        deliver(&a, &[&c]);
        deliver(&b, &[&c]);
        assert!(c.rate(Limit::TokenPerIp, "1.2.3.4").is_err());
        assert!(c.rate(Limit::TokenPerIp, "5.6.7.8").is_ok(), "per key");
        // Key fetches.
        assert!(a.may_refresh_client_keys("t/c"));
        deliver(&a, &[&b]);
        assert!(!b.may_refresh_client_keys("t/c"), "fetched at a a moment ago");
        // Nothing is sent twice, and without a bus nobody leads the purge.
        assert!(a.outgoing().is_empty());
        assert!(!a.leads_purge());
    }

    #[test]
    fn long_batches_are_split_and_garbage_is_ignored() {
        let events: Vec<Event> = (0..2000)
            .map(|i| Event::KeysFetched {
                client: format!("tenant/client-{i}"),
            })
            .collect();
        let msgs = messages(events.clone());
        assert!(msgs.len() > 1 && msgs.iter().all(|m| m.len() <= MAX_MESSAGE));
        let back: Vec<Event> = msgs
            .iter()
            .flat_map(|m| serde_json::from_str::<Vec<Event>>(m).unwrap())
            .collect();
        assert_eq!(back, events);
        let r = Replicated::detached(limits());
        let g = r.doc_generation();
        r.incoming("not json");
        r.incoming(r#"[{"e":"unknown"}]"#);
        assert_eq!(r.doc_generation(), g);
        r.missed();
        assert_eq!(r.doc_generation(), g + 1, "a reconnect renders again");
    }
}
