use super::*;
use cluster::TempCluster;

fn store(cluster: &TempCluster) -> PgStore {
    PgStore::open(&cluster.url(), &ConnectOptions::default()).unwrap()
}

#[test]
fn passes_the_store_contract_on_a_real_database() {
    let cluster = TempCluster::start().unwrap();
    let s = Arc::new(store(&cluster));
    engine::store::contract_check::assert_commits_and_aborts(&*s);
    engine::store::paging_check::assert_paged_scans_agree(&*s);
    engine::store::contract_check::assert_expiry_kept(&*s);
    engine::store::contract_check::assert_links_change_no_read(&*s);
    engine::store::contract_check::assert_single_use_has_one_winner(s.clone());
    engine::store::contract_check::assert_no_lost_updates(s.clone());
}

#[test]
fn instances_starting_together_migrate_once_and_share_what_they_write() {
    let cluster = TempCluster::start().unwrap();
    let url = cluster.url();
    let stores: Vec<PgStore> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| PgStore::open(&url, &ConnectOptions::default())))
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
    let refused = PgStore::open(&cluster.url(), &ConnectOptions::default()).err().unwrap();
    assert!(refused.0.contains("newer version"), "{}", refused.0);
}

/// Runs `sql` on `cluster` outside any store (a database as an older version left it).
fn run_sql(cluster: &TempCluster, sql: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&cluster.url(), NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
    });
}

/// The schema version `s`'s database records.
fn schema_version(s: &PgStore) -> i32 {
    let client = s.connection().unwrap();
    s.block_on(client.query_one("SELECT version FROM oidc_schema", &[]))
        .unwrap()
        .get(0)
}

/// Version 2's tables (no `links` column) gain it in place: their records read as before, and
/// linked records can be written and read with what they point to.
#[test]
fn a_database_of_the_second_schema_gains_links_in_place() {
    let cluster = TempCluster::start().unwrap();
    let mut sql =
        String::from("CREATE TABLE oidc_schema (version integer NOT NULL); INSERT INTO oidc_schema VALUES (2);");
    for table in Table::ALL {
        sql.push_str(&format!(
            "CREATE TABLE {} (key bytea PRIMARY KEY, value bytea NOT NULL, purge_at bigint);",
            schema::name(table)
        ));
    }
    sql.push_str(
        "INSERT INTO oidc_code VALUES ('t/old', 'old code', 5); INSERT INTO oidc_user VALUES ('t/u', 'user', NULL);",
    );
    run_sql(&cluster, &sql);
    let s = store(&cluster);
    let links = [(Table::User, "t/u".to_string())];
    s.transact(|tx| {
        tx.put_linked(Table::Code, "t/new", b"new code".to_vec(), None, &links)
            .map_err(Into::into)
    })
    .unwrap();
    let read = s
        .transact(|tx| {
            Ok((
                tx.get(Table::Code, "t/old")?,
                tx.get(Table::Code, "t/new")?,
                tx.get(Table::User, "t/u")?,
            ))
        })
        .unwrap();
    assert_eq!(
        read,
        (
            Some(b"old code".to_vec()),
            Some(b"new code".to_vec()),
            Some(b"user".to_vec())
        )
    );
    assert_eq!(schema_version(&s), schema::VERSION);
}

#[test]
fn a_database_of_the_first_schema_is_moved_into_a_table_per_engine_table() {
    let cluster = TempCluster::start().unwrap();
    // Version 1 as it was written: one shared table keyed by (table number, key).
    run_sql(
        &cluster,
        "CREATE TABLE oidc_schema (version integer NOT NULL); INSERT INTO oidc_schema VALUES (1);
         CREATE TABLE oidc_records (tbl smallint NOT NULL, key bytea NOT NULL, value bytea NOT NULL,
             purge_at bigint, PRIMARY KEY (tbl, key));
         INSERT INTO oidc_records VALUES (1, 't/c', 'client', NULL), (2, 't/u', 'user', NULL),
             (6, 't/code', 'code', 5), (16, 't/a', 'audit', NULL);",
    );
    let s = store(&cluster);
    let read = |table, key: &'static str| s.transact(|tx| Ok(tx.get(table, key)?)).unwrap();
    assert_eq!(read(Table::Client, "t/c"), Some(b"client".to_vec()));
    assert_eq!(read(Table::User, "t/u"), Some(b"user".to_vec()));
    assert_eq!(read(Table::Code, "t/code"), Some(b"code".to_vec()));
    assert_eq!(read(Table::Audit, "t/a"), Some(b"audit".to_vec()));
    assert_eq!(read(Table::Tenant, "t/c"), None, "each record went to its own table");
    // The expiry time came along.
    let expired = s.expired(Table::Code, UnixTime(6), None, 10).unwrap();
    assert_eq!(expired.keys, vec!["t/code".to_string()]);
    let client = s.connection().unwrap();
    let left = s
        .block_on(client.query("SELECT 1 FROM pg_tables WHERE tablename = 'oidc_records'", &[]))
        .unwrap();
    assert!(left.is_empty(), "the shared table is gone");
    assert_eq!(schema_version(&s), schema::VERSION);
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
    // Scans run outside a transaction: unreachable is "unavailable" there too (503, not 500).
    let scanned = s.scan_after(Table::Client, "t/", None, 10).unwrap_err();
    assert!(scanned.is_unavailable(), "{scanned:?}");
    assert!(matches!(EngineError::from(scanned), EngineError::Unavailable(_)));
    let expired = s.expired(Table::Code, UnixTime(1), None, 10).unwrap_err();
    assert!(expired.is_unavailable(), "{expired:?}");
    assert!(s.ping().is_err());
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(PgStore::open(&url, &ConnectOptions::default()).is_err());
}

#[test]
fn keys_end_where_their_prefix_does() {
    assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
    assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_end(b"\xff\xff"), None);
    assert_eq!(prefix_end(b""), None);
}

/// Records what a bus hands its instance, and sends what it is given.
#[derive(Default)]
struct Recorder {
    to_send: std::sync::Mutex<Vec<String>>,
    got: std::sync::Mutex<Vec<String>>,
    missed: std::sync::atomic::AtomicU32,
}

impl peers::Peers for Recorder {
    fn outgoing(&self) -> Vec<String> {
        std::mem::take(&mut *self.to_send.lock().unwrap())
    }
    fn incoming(&self, message: &str) {
        self.got.lock().unwrap().push(message.to_string());
    }
    fn missed(&self) {
        self.missed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits up to `secs` for `done`.
fn within(secs: u64, done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn instances_hear_each_other_and_one_at_a_time_leads_the_purge() {
    let cluster = TempCluster::start().unwrap();
    let (a, b) = (store(&cluster), store(&cluster));
    let (ra, rb) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let weak = |r: &Arc<Recorder>| Arc::downgrade(r) as std::sync::Weak<dyn peers::Peers>;
    let bus_a = a.start_bus(weak(&ra));
    assert!(within(5, || bus_a.leads_purge()), "the only instance leads");
    let bus_b = b.start_bus(weak(&rb));
    assert!(within(5, || rb.missed.load(std::sync::atomic::Ordering::SeqCst) == 1));
    std::thread::sleep(peers::TICK * 12);
    assert!(!bus_b.leads_purge(), "one leader at a time");

    ra.to_send.lock().unwrap().push("hello".into());
    bus_a.wake();
    assert!(
        within(2, || rb.got.lock().unwrap().as_slice() == ["hello"]),
        "b hears a"
    );
    assert!(ra.got.lock().unwrap().is_empty(), "a does not hear itself");

    drop(bus_a);
    assert!(
        within(5, || bus_b.leads_purge()),
        "the lock passes on when the leader goes"
    );

    // The database restarts: b reconnects, says it may have missed messages, and leads again.
    cluster.restart_immediately().unwrap();
    assert!(
        within(10, || rb.missed.load(std::sync::atomic::Ordering::SeqCst) == 2),
        "reconnected"
    );
    assert!(within(5, || bus_b.leads_purge()), "and leads again");
}

#[test]
fn tls_is_used_when_the_url_asks_and_the_certificate_is_checked() {
    let cluster = TempCluster::start_with_tls().unwrap();
    let trusted = ConnectOptions {
        ca_file: Some(cluster.ca_file()),
        ..ConnectOptions::default()
    };
    let s = PgStore::open(&cluster.tls_url(), &trusted).unwrap();
    s.transact(|tx| Ok(tx.put(Table::User, "t/u", b"one".to_vec())?))
        .unwrap();
    assert_eq!(s.scan(Table::User, "t/").unwrap().len(), 1);
    let client = s.connection().unwrap();
    let encrypted: bool = s
        .block_on(client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]))
        .unwrap()
        .get(0);
    assert!(encrypted, "the connection is TLS");
    drop(client);
    // The peers' connection uses TLS too (the server takes nothing else on TCP).
    let peers = Arc::new(Recorder::default());
    let bus = s.start_bus(Arc::downgrade(&peers) as std::sync::Weak<dyn peers::Peers>);
    assert!(within(5, || bus.leads_purge()), "the peers' connection is up");

    let untrusted = PgStore::open(&cluster.tls_url(), &ConnectOptions::default())
        .err()
        .unwrap();
    assert!(untrusted.0.to_lowercase().contains("certificate"), "{}", untrusted.0);
    let missing = ConnectOptions {
        ca_file: Some(cluster.ca_file().with_file_name("nowhere.pem")),
        ..ConnectOptions::default()
    };
    let err = PgStore::open(&cluster.tls_url(), &missing).err().unwrap();
    assert!(err.0.contains("nowhere.pem"), "{}", err.0);
    let plain = PgStore::open(&cluster.plain_tcp_url(), &trusted).err().unwrap();
    assert!(
        plain.0.contains("pg_hba.conf"),
        "without TLS the server refuses: {}",
        plain.0
    );
}

#[test]
fn a_transaction_costs_one_round_trip_per_read_plus_one() {
    let cluster = TempCluster::start().unwrap();
    let s = store(&cluster);
    let counters = s.counters();
    let count = |f: &dyn Fn()| {
        let before = counters.round_trips.load(std::sync::atomic::Ordering::SeqCst);
        f();
        counters.round_trips.load(std::sync::atomic::Ordering::SeqCst) - before
    };
    // Warm the connection's statement cache (a new connection prepares each statement once).
    s.transact(|tx| {
        tx.get(Table::User, "t/warm")?;
        tx.put(Table::User, "t/warm", vec![1])?;
        tx.delete(Table::User, "t/cold")?;
        Ok(())
    })
    .unwrap();
    let write_only = count(&|| {
        s.transact(|tx| {
            tx.put(Table::User, "t/a", b"a".to_vec())?;
            Ok(tx.delete(Table::User, "t/warm")?)
        })
        .unwrap()
    });
    assert_eq!(write_only, 1, "BEGIN, the writes and COMMIT in one flight");
    let two_reads = count(&|| {
        let got = s
            .transact(|tx| {
                let a = tx.get(Table::User, "t/a")?;
                let gone = tx.get(Table::User, "t/warm")?;
                tx.put(Table::User, "t/b", b"b".to_vec())?;
                Ok((a, gone))
            })
            .unwrap();
        assert_eq!(
            got,
            (Some(b"a".to_vec()), None),
            "the write-only flight committed in order"
        );
    });
    assert_eq!(
        two_reads, 3,
        "BEGIN with the first read, the second read, the write with COMMIT"
    );
    let nothing = count(&|| s.transact(|_| Ok(())).unwrap());
    assert_eq!(nothing, 0);
    let refused = count(&|| {
        let r: Result<(), EngineError> = s.transact(|tx| {
            tx.get(Table::User, "t/a")?;
            Err(EngineError::Misuse("no".into()))
        });
        assert!(r.is_err());
    });
    assert_eq!(refused, 2, "the read, then ROLLBACK");
    assert_eq!(s.scan(Table::User, "t/").unwrap().len(), 2, "t/a and t/b");
}

#[test]
fn a_prefetch_over_several_tables_is_one_flight() {
    let cluster = TempCluster::start().unwrap();
    let s = store(&cluster);
    s.transact(|tx| {
        tx.put(Table::Client, "t/c", b"client".to_vec())?;
        tx.put(Table::User, "t/u", b"user".to_vec())?;
        Ok(tx.put(Table::User, "t/v", b"other".to_vec())?)
    })
    .unwrap();
    let counters = s.counters();
    let before = counters.round_trips.load(std::sync::atomic::Ordering::SeqCst);
    let got = s
        .transact(|tx| {
            tx.prefetch(&[(Table::Client, "t/c"), (Table::User, "t/u"), (Table::User, "t/none")])?;
            Ok((
                tx.get(Table::Client, "t/c")?,
                tx.get(Table::User, "t/u")?,
                tx.get(Table::User, "t/none")?,
            ))
        })
        .unwrap();
    let after = counters.round_trips.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(got, (Some(b"client".to_vec()), Some(b"user".to_vec()), None));
    assert_eq!(after - before, 2, "BEGIN with the reads of both tables, then COMMIT");
}

#[test]
fn a_conflict_runs_the_transaction_again_and_is_counted() {
    let cluster = TempCluster::start().unwrap();
    let s = Arc::new(store(&cluster));
    s.transact(|tx| Ok(tx.put(Table::Grant, "t/n", b"0".to_vec())?))
        .unwrap();
    // Two increments that both read before either writes: one of them must run again.
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let increments: Vec<_> = (0..2)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                let first = std::sync::atomic::AtomicBool::new(true);
                s.transact(|tx| {
                    let n: u32 = String::from_utf8(tx.get(Table::Grant, "t/n")?.unwrap())
                        .unwrap()
                        .parse()
                        .unwrap();
                    if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        barrier.wait();
                    }
                    Ok(tx.put(Table::Grant, "t/n", (n + 1).to_string().into_bytes())?)
                })
                .unwrap()
            })
        })
        .collect();
    for t in increments {
        t.join().unwrap();
    }
    let n = s.transact(|tx| Ok(tx.get(Table::Grant, "t/n")?)).unwrap();
    assert_eq!(n, Some(b"2".to_vec()), "no increment lost");
    assert!(s.counters().conflicts.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

/// A record written with links brings the records it points to in the statement that reads it:
/// reading them afterwards costs no round trip, and one that does not exist is known absent.
#[test]
fn a_linked_record_brings_what_it_points_to_in_one_flight() {
    let cluster = TempCluster::start().unwrap();
    let s = store(&cluster);
    let links = [
        (Table::Session, "t/s".to_string()),
        (Table::User, "t/u".to_string()),
        (Table::UserClientGrants, "t/absent".to_string()),
    ];
    s.transact(|tx| {
        tx.put(Table::Session, "t/s", b"session".to_vec())?;
        tx.put(Table::User, "t/u", b"user".to_vec())?;
        tx.put_linked(Table::Code, "t/c", b"code".to_vec(), Some(UnixTime(99)), &links)?;
        Ok(())
    })
    .unwrap();
    let before = s.counters().round_trips.load(Ordering::Relaxed);
    let read = s
        .transact(|tx| {
            let code = tx.get(Table::Code, "t/c")?;
            let after_first = s.counters().round_trips.load(Ordering::Relaxed);
            let rest = (
                tx.get(Table::Session, "t/s")?,
                tx.get(Table::User, "t/u")?,
                tx.get(Table::UserClientGrants, "t/absent")?,
            );
            assert_eq!(
                s.counters().round_trips.load(Ordering::Relaxed),
                after_first,
                "no flight for what the code points to"
            );
            Ok((code, rest))
        })
        .unwrap();
    assert_eq!(
        read,
        (
            Some(b"code".to_vec()),
            (Some(b"session".to_vec()), Some(b"user".to_vec()), None)
        )
    );
    assert_eq!(
        s.counters().round_trips.load(Ordering::Relaxed) - before,
        2,
        "the reads in one flight, then COMMIT"
    );
}
