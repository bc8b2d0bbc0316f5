//! Checks any `Store` must pass, run by the tests of `MemStore` here and of the sled and redb
//! stores in the adapter: a transaction commits all its writes or none and reads its own; of
//! concurrent single-use redemptions exactly one wins; concurrent read-modify-writes lose nothing;
//! expiry times are kept as `Tx::put_expiring` and `Store::expired` promise.

use super::{Store, Table};
use crate::env::UnixTime;
use crate::error::{err, EngineError};
use spec::ErrorCode;
use std::sync::Arc;

/// Panics unless committed writes show, an aborted transaction writes nothing, and a
/// transaction sees its own puts and deletes. Writes `User` records under `contract/`.
pub fn assert_commits_and_aborts<S: Store>(store: &S) {
    store
        .transact(|tx| {
            tx.put(Table::User, "contract/a", b"1".to_vec())?;
            assert_eq!(
                tx.get(Table::User, "contract/a")?,
                Some(b"1".to_vec()),
                "reads its own put"
            );
            tx.put(Table::User, "contract/gone", b"x".to_vec())?;
            tx.delete(Table::User, "contract/gone")?;
            assert_eq!(tx.get(Table::User, "contract/gone")?, None, "reads its own delete");
            Ok(())
        })
        .expect("commit");
    let aborted: Result<(), EngineError> = store.transact(|tx| {
        tx.put(Table::User, "contract/b", b"2".to_vec())?;
        tx.delete(Table::User, "contract/a")?;
        Err(err(ErrorCode::InvalidGrant, "abort"))
    });
    assert!(aborted.is_err());
    assert_eq!(
        store.scan(Table::User, "contract/").expect("scan"),
        vec![("contract/a".to_string(), b"1".to_vec())],
        "the commit shows whole, the abort not at all"
    );
}

/// Panics unless, in each of 20 rounds, exactly one of 8 threads redeeming one code wins.
pub fn assert_single_use_has_one_winner<S: Store + 'static>(store: Arc<S>) {
    for round in 0..20 {
        let key = format!("contract/code/{round}");
        store
            .transact(|tx| Ok(tx.put(Table::Code, &key, b"issued".to_vec())?))
            .expect("issue");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, key) = (store.clone(), key.clone());
                std::thread::spawn(move || {
                    store
                        .transact(|tx| match tx.get(Table::Code, &key)? {
                            Some(v) if v == b"issued" => {
                                tx.put(Table::Code, &key, b"redeemed".to_vec())?;
                                Ok(true)
                            }
                            _ => Ok(false),
                        })
                        .expect("redeem")
                })
            })
            .collect();
        let wins = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .filter(|w| *w)
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
}

/// Panics unless 4 threads each adding 1 to one counter 200 times leave it at the number of
/// increments that committed. A store may refuse a transaction that keeps conflicting, after its
/// bounded retries (`EngineError::Unavailable`, a 503 for the caller): a refused increment must
/// not be applied, and a committed one must not be lost.
pub fn assert_no_lost_updates<S: Store + 'static>(store: Arc<S>) {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut committed = 0u64;
                for _ in 0..200 {
                    let r = store.transact(|tx| {
                        let n = tx
                            .get(Table::Grant, "contract/n")?
                            .map_or(0, |v| u64::from_le_bytes(v.try_into().expect("8 bytes")));
                        tx.put(Table::Grant, "contract/n", (n + 1).to_le_bytes().to_vec())?;
                        Ok(())
                    });
                    match r {
                        Ok(()) => committed += 1,
                        Err(EngineError::Unavailable(_)) => {}
                        Err(e) => panic!("increment: {e:?}"),
                    }
                }
                committed
            })
        })
        .collect();
    let committed: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    assert!(committed > 0, "no increment committed");
    let n = store
        .transact(|tx| Ok(tx.get(Table::Grant, "contract/n")?))
        .expect("read");
    assert_eq!(
        n,
        Some(committed.to_le_bytes().to_vec()),
        "{committed} increments committed"
    );
}

/// Panics unless the store keeps expiry times as `Tx::put_expiring` and `Store::expired`
/// promise: a key is named once its time has passed and not before, in its own table only; a
/// later `put_expiring` moves it, a plain `put` or a `delete` forgets it; values read back as
/// written; pages of every size cover every due key. Writes `Session` and `Code` records under
/// `contract/`.
pub fn assert_expiry_kept<S: Store>(store: &S) {
    let at = UnixTime;
    let key = |i: u64| format!("contract/due-{i:02}");
    store
        .transact(|tx| {
            for i in 0..50 {
                tx.put_expiring(Table::Session, &key(i), format!("v{i}").into_bytes(), at(100 + i))?;
            }
            for (k, t) in [("later", 10_000), ("moved", 5), ("forgotten", 5), ("deleted", 5)] {
                tx.put_expiring(Table::Session, &format!("contract/{k}"), k.as_bytes().to_vec(), at(t))?;
            }
            tx.put_expiring(Table::Code, "contract/other-table", b"o".to_vec(), at(5))?;
            assert_eq!(
                tx.get(Table::Session, &key(0))?,
                Some(b"v0".to_vec()),
                "reads its own put as written"
            );
            Ok(())
        })
        .expect("write");
    store
        .transact(|tx| {
            tx.put_expiring(Table::Session, "contract/moved", b"m2".to_vec(), at(20_000))?;
            tx.put(Table::Session, "contract/forgotten", b"f2".to_vec())?;
            tx.delete(Table::Session, "contract/deleted")?;
            Ok(())
        })
        .expect("change");
    let read = store
        .transact(|tx| {
            Ok((
                tx.get(Table::Session, "contract/moved")?,
                tx.get(Table::Session, "contract/forgotten")?,
            ))
        })
        .expect("read");
    assert_eq!(read, (Some(b"m2".to_vec()), Some(b"f2".to_vec())), "values as written");
    assert_eq!(
        store
            .scan_after(Table::Session, "contract/due-", None, 1)
            .expect("scan"),
        vec![(key(0), b"v0".to_vec())],
        "scans give values as written"
    );
    let due_at = |now: u64, limit: usize| -> Vec<String> {
        let (mut keys, mut after) = (Vec::new(), None::<String>);
        for _ in 0..10_000 {
            let page = store
                .expired(Table::Session, at(now), after.as_deref(), limit)
                .expect("expired");
            assert!(page.keys.len() <= limit, "a page holds at most `limit` keys");
            keys.extend(page.keys);
            match page.next {
                Some(next) => after = Some(next),
                None => {
                    keys.sort();
                    keys.dedup();
                    return keys;
                }
            }
        }
        panic!("the pages of `expired` never ended");
    };
    assert!(due_at(100, 7).is_empty(), "nothing is due before its time");
    let due: Vec<String> = (0..50).map(key).collect();
    for limit in [1, 7, 50, 1_000] {
        assert_eq!(due_at(150, limit), due, "pages of {limit}");
    }
    let mut later = due.clone();
    later.push("contract/later".into());
    assert_eq!(
        due_at(10_001, 13),
        later,
        "the later one once its time passed; never the moved, forgotten or deleted ones"
    );
    assert!(due_at(20_001, 1_000).contains(&"contract/moved".to_string()));
}

/// `put_linked` is a `put` (or a `put_expiring`) for every read: the links never change what a
/// read returns, whether the records they point to exist, were written in the same transaction,
/// or changed after the linking record was written.
pub fn assert_links_change_no_read<S: Store>(store: &S) {
    let links = [
        (Table::Session, "links/session".to_string()),
        (Table::User, "links/missing".to_string()),
        (Table::UserClientGrants, "links/epoch".to_string()),
    ];
    store
        .transact(|tx| {
            tx.put(Table::Session, "links/session", b"s1".to_vec())?;
            tx.put_linked(Table::Code, "links/code", b"c".to_vec(), Some(UnixTime(10_000)), &links)?;
            tx.put_linked(Table::Code, "links/plain", b"p".to_vec(), None, &[])?;
            assert_eq!(tx.get(Table::Code, "links/code")?, Some(b"c".to_vec()));
            Ok(())
        })
        .expect("write");
    store
        .transact(|tx| {
            tx.put(Table::Session, "links/session", b"s2".to_vec())?;
            tx.put(Table::UserClientGrants, "links/epoch", b"e".to_vec())?;
            Ok(())
        })
        .expect("change what is pointed to");
    let read = store
        .transact(|tx| {
            Ok((
                tx.get(Table::Code, "links/code")?,
                tx.get(Table::Session, "links/session")?,
                tx.get(Table::User, "links/missing")?,
                tx.get(Table::UserClientGrants, "links/epoch")?,
                tx.get(Table::Code, "links/plain")?,
            ))
        })
        .expect("read");
    assert_eq!(
        read,
        (
            Some(b"c".to_vec()),
            Some(b"s2".to_vec()),
            None,
            Some(b"e".to_vec()),
            Some(b"p".to_vec())
        )
    );
    // Read in the other order inside one transaction, after writing one of the targets.
    let read = store
        .transact(|tx| {
            tx.put(Table::Session, "links/session", b"s3".to_vec())?;
            let code = tx.get(Table::Code, "links/code")?;
            Ok((code, tx.get(Table::Session, "links/session")?))
        })
        .expect("read after a write");
    assert_eq!(
        read,
        (Some(b"c".to_vec()), Some(b"s3".to_vec())),
        "the transaction's own write wins"
    );
    let expired = store.expired(Table::Code, UnixTime(20_000), None, 10).expect("expired");
    assert!(expired.keys.iter().any(|k| k == "links/code"), "the purge time is kept");
}
