//! Checks any `Store` must pass, run by the tests of `MemStore` here and of the sled and redb
//! stores in the adapter: a transaction commits all its writes or none and reads its own; of
//! concurrent single-use redemptions exactly one wins; concurrent read-modify-writes lose nothing.

use super::{Store, Table};
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

/// Panics unless 4 threads each adding 1 to one counter 200 times leave it at 800.
pub fn assert_no_lost_updates<S: Store + 'static>(store: Arc<S>) {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    store
                        .transact(|tx| {
                            let n = tx
                                .get(Table::Grant, "contract/n")?
                                .map_or(0, |v| u64::from_le_bytes(v.try_into().expect("8 bytes")));
                            tx.put(Table::Grant, "contract/n", (n + 1).to_le_bytes().to_vec())?;
                            Ok(())
                        })
                        .expect("increment");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let n = store
        .transact(|tx| Ok(tx.get(Table::Grant, "contract/n")?))
        .expect("read");
    assert_eq!(n, Some(800u64.to_le_bytes().to_vec()));
}
