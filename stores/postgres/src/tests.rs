use super::*;
use cluster::TempCluster;

fn store(cluster: &TempCluster) -> PgStore {
    PgStore::open(&cluster.url(), PoolOptions::default()).unwrap()
}

#[test]
fn passes_the_store_contract_on_a_real_database() {
    let cluster = TempCluster::start().unwrap();
    let s = Arc::new(store(&cluster));
    engine::store::contract_check::assert_commits_and_aborts(&*s);
    engine::store::paging_check::assert_paged_scans_agree(&*s);
    engine::store::contract_check::assert_expiry_kept(&*s);
    engine::store::contract_check::assert_single_use_has_one_winner(s.clone());
    engine::store::contract_check::assert_no_lost_updates(s.clone());
}

#[test]
fn instances_starting_together_migrate_once_and_share_what_they_write() {
    let cluster = TempCluster::start().unwrap();
    let url = cluster.url();
    let stores: Vec<PgStore> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| PgStore::open(&url, PoolOptions::default())))
            .collect();
        opening.into_iter().map(|t| t.join().unwrap().unwrap()).collect()
    });
    stores[0]
        .transact(|tx| Ok(tx.put(Table::User, "t/u", b"one".to_vec())?))
        .unwrap();
    for s in &stores {
        assert_eq!(
            s.scan(Table::User, "t/").unwrap(),
            vec![("t/u".to_string(), b"one".to_vec())]
        );
    }
    let client = stores[0].connection().unwrap();
    let versions = stores[0]
        .block_on(client.query("SELECT version FROM oidc_schema", &[]))
        .unwrap();
    assert_eq!(versions.len(), 1, "one schema row, however many instances started");
}

#[test]
fn a_database_written_by_a_newer_version_is_refused() {
    let cluster = TempCluster::start().unwrap();
    let s = store(&cluster);
    let client = s.connection().unwrap();
    s.block_on(client.batch_execute("UPDATE oidc_schema SET version = 99"))
        .unwrap();
    drop(client);
    let refused = PgStore::open(&cluster.url(), PoolOptions::default()).err().unwrap();
    assert!(refused.0.contains("newer version"), "{}", refused.0);
}

#[test]
fn an_unreachable_database_is_an_error_not_a_hang() {
    let cluster = TempCluster::start().unwrap();
    let url = cluster.url();
    let s = store(&cluster);
    drop(cluster);
    let started = std::time::Instant::now();
    let failed = s.transact(|tx| Ok(tx.get(Table::User, "t/u")?));
    assert!(matches!(failed, Err(EngineError::Unavailable(_))), "{failed:?}");
    assert!(s.ping().is_err());
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(PgStore::open(&url, PoolOptions::default()).is_err());
}

#[test]
fn keys_end_where_their_prefix_does() {
    assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
    assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_end(b"\xff\xff"), None);
    assert_eq!(prefix_end(b""), None);
}
