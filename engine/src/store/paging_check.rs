//! A check any `Store` must pass: reading a table a page at a time gives exactly what one
//! whole scan gives, for every page size, prefix and starting key. Used by the tests of
//! `MemStore` here and of the sled store in the adapter.

use super::{for_each_page, Store, Table};

/// Panics unless `store`'s paged reads agree with its whole scans. Writes a few Code records.
pub fn assert_paged_scans_agree<S: Store>(store: &S) {
    let keys = ["a/1", "a/2", "a/3", "a/30", "ab/1", "b/1", "b/2"];
    store
        .transact(|tx| {
            for k in keys {
                tx.put(Table::Code, k, k.as_bytes().to_vec())?;
            }
            tx.put(Table::Grant, "a/9", b"other table".to_vec())?;
            Ok(())
        })
        .expect("write the fixture");
    for prefix in ["", "a/", "a", "b/", "c/"] {
        let whole = store.scan(Table::Code, prefix).expect("scan");
        for page in 1..=whole.len() + 1 {
            let mut paged = Vec::new();
            for_each_page(store, Table::Code, prefix, page, |items| {
                assert!(items.len() <= page, "a page holds at most {page}");
                paged.extend_from_slice(items);
                Ok(())
            })
            .expect("paged scan");
            assert_eq!(paged, whole, "prefix {prefix:?}, page {page}");
        }
        for (i, (key, _)) in whole.iter().enumerate() {
            let rest = store
                .scan_after(Table::Code, prefix, Some(key), 100)
                .expect("scan_after");
            assert_eq!(rest, whole[i + 1..], "after {key:?} under {prefix:?}");
        }
    }
    assert_eq!(
        store
            .scan_after(Table::Code, "b/", Some("a/1"), 100)
            .expect("scan_after")
            .len(),
        2,
        "a start before the prefix reads from the prefix"
    );
    assert!(store
        .scan_after(Table::Code, "a/", Some("zz"), 100)
        .expect("scan_after")
        .is_empty());
}
