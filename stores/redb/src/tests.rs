use super::*;
use std::sync::atomic::AtomicUsize;

fn open(dir: &Path) -> RedbStore {
    RedbStore::open(dir, 4 << 20).unwrap()
}

fn read(s: &RedbStore, table: Table, key: &str) -> Option<Vec<u8>> {
    s.transact(|tx| Ok(tx.get(table, key)?)).unwrap()
}

#[test]
fn commits_aborts_scans_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    engine::store::contract_check::assert_commits_and_aborts(&open(dir.path()));
    let s = open(dir.path());
    assert_eq!(
        s.scan(Table::User, "contract/").unwrap(),
        vec![("contract/a".to_string(), b"1".to_vec())]
    );
}

#[test]
fn keeps_expiry_times_in_an_exact_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    engine::store::contract_check::assert_expiry_kept(&s);
    // Exact: the moved, forgotten and deleted records left no entry behind; only the due ones
    // are read.
    let r = s.db.db.begin_read().unwrap();
    let entries = redb::ReadableTableMetadata::len(&r.open_table(EXPIRY_INDEX).unwrap()).unwrap();
    assert_eq!(entries, 50 + 2 + 1, "due, later, moved, other table");
    let page = s.expired(Table::Session, UnixTime(150), None, 1_000).unwrap();
    assert_eq!((page.keys.len(), page.read), (50, 50));
    engine::store::contract_check::assert_links_change_no_read(&s);
}

#[test]
fn paged_scans_agree_with_whole_scans() {
    let dir = tempfile::tempdir().unwrap();
    engine::store::paging_check::assert_paged_scans_agree(&open(dir.path()));
}

#[test]
fn a_transaction_whose_read_changed_before_its_commit_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.transact(|tx| Ok(tx.put(Table::Code, "t/c", b"issued".to_vec())?))
        .unwrap();
    let runs = AtomicUsize::new(0);
    let won = s
        .transact(|tx| {
            let seen = tx.get(Table::Code, "t/c")?;
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                // Another transaction redeems the code between this one's read and its commit.
                s.transact(|other| Ok(other.put(Table::Code, "t/c", b"redeemed".to_vec())?))
                    .unwrap();
            }
            if seen.as_deref() == Some(b"issued".as_slice()) {
                tx.put(Table::Code, "t/c", b"redeemed twice".to_vec())?;
                return Ok(true);
            }
            Ok(false)
        })
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the stale run was not committed");
    assert!(!won);
    assert_eq!(read(&s, Table::Code, "t/c"), Some(b"redeemed".to_vec()));
}

#[test]
fn a_read_of_an_absent_key_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let runs = AtomicUsize::new(0);
    s.transact(|tx| {
        let seen = tx.get(Table::AssertionJti, "t/jti")?;
        if runs.fetch_add(1, Ordering::SeqCst) == 0 {
            s.transact(|other| Ok(other.put(Table::AssertionJti, "t/jti", b"first".to_vec())?))
                .unwrap();
        }
        if seen.is_none() {
            tx.put(Table::AssertionJti, "t/jti", b"second".to_vec())?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(read(&s, Table::AssertionJti, "t/jti"), Some(b"first".to_vec()));
}

#[test]
fn concurrent_single_use_has_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    engine::store::contract_check::assert_single_use_has_one_winner(Arc::new(open(dir.path())));
}

#[test]
fn concurrent_read_modify_writes_are_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    engine::store::contract_check::assert_no_lost_updates(Arc::new(open(dir.path())));
}

#[test]
fn relaxed_writes_reach_the_disk_without_a_waiting_request() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.transact(|tx| {
        tx.relax_durability();
        Ok(tx.put(Table::AccessToken, "t/j", b"rec".to_vec())?)
    })
    .unwrap();
    assert_eq!(
        read(&s, Table::AccessToken, "t/j"),
        Some(b"rec".to_vec()),
        "visible at once"
    );
    assert!(s.db.has_backlog());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.db.has_backlog() {
        assert!(
            std::time::Instant::now() < deadline,
            "the flush thread never took the backlog"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn stats_count_each_tables_records_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.transact(|tx| {
        tx.put(Table::User, "t/a", b"12345".to_vec())?;
        tx.put(Table::User, "t/b", b"1".to_vec())?;
        tx.put(Table::UserIndex, "t/u/a", b"ab".to_vec())?;
        Ok(())
    })
    .unwrap();
    s.transact(|tx| Ok(tx.delete(Table::User, "t/b")?)).unwrap();
    let stats = s.stats().unwrap();
    let of = |t: Table| stats.tables.iter().find(|s| s.table == t).unwrap().clone();
    assert_eq!(
        (
            of(Table::User).records,
            of(Table::User).key_bytes,
            of(Table::User).value_bytes
        ),
        (1, 3, 5)
    );
    assert_eq!((of(Table::UserIndex).records, of(Table::UserIndex).value_bytes), (1, 2));
    assert_eq!(of(Table::Code).records, 0);
    assert_eq!(stats.tables.len(), Table::ALL.len());
    assert!(stats.disk_bytes > 0);
    let used = stats.used_bytes.expect("redb counts its pages in use");
    assert!(used > 0 && used <= stats.disk_bytes, "{used} of {}", stats.disk_bytes);
}

#[test]
fn the_file_stays_bounded_under_churn_and_compaction_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let value = vec![7u8; 2048];
    let mut sizes = Vec::new();
    {
        let s = open(dir.path());
        s.transact(|tx| Ok(tx.put(Table::User, "t/a", b"alice".to_vec())?))
            .unwrap();
        for _round in 0..16 {
            for i in 0..300 {
                s.transact(|tx| Ok(tx.put(Table::Code, &format!("t/{i}"), value.clone())?))
                    .unwrap();
            }
            for i in 0..300 {
                s.transact(|tx| Ok(tx.delete(Table::Code, &format!("t/{i}"))?)).unwrap();
            }
            sizes.push(s.stats().unwrap().disk_bytes);
        }
    }
    // Each round writes and frees ~600 KB: a store that never reused the space would reach ~10 MB.
    // The file's size moves (redb trims free pages at its end) but stays near one round's worth.
    let early = *sizes[..4].iter().max().unwrap();
    let late = *sizes[8..].iter().max().unwrap();
    assert!(late <= 2 * early, "the file kept growing: {sizes:?}");
    let c = compact(dir.path()).unwrap();
    assert_eq!(c.entries, 1);
    assert!(c.after_bytes <= c.before_bytes, "{c:?}");
    let s = open(dir.path());
    assert_eq!(read(&s, Table::User, "t/a"), Some(b"alice".to_vec()));
    assert_eq!(s.scan(Table::Code, "").unwrap(), vec![]);
}
