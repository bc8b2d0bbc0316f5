//! The engine's `Store` on PostgreSQL: the store for many stateless instances over one database.
//!
//! One PostgreSQL table per engine table (`schema`), `oidc_<name> (key, value, purge_at)`, keyed
//! by the key's bytes so keys sort in byte order as the `Store` contract wants; `purge_at` is the
//! expiry time `Tx::put_expiring` gives, with a partial index for `Store::expired`. Every
//! transaction is SERIALIZABLE: reads go to the database, writes are buffered and sent at commit
//! (two statements at most per table written, then `COMMIT`, in one flight). A serialization
//! failure or deadlock (`40001`, `40P01`) runs the closure again after a short random pause, at
//! most [`MAX_ATTEMPTS`] times. The schema is created or migrated at open under an advisory lock,
//! so instances starting together migrate once.
//!
//! The `Store` trait is synchronous: each statement is run on the store's own small runtime,
//! which drives the connections, from the calling thread. The server therefore runs engine calls
//! over this store on its blocking pool (`Lifecycle::engine_calls`), never on an async worker.
//!
//! Durability: a commit returns once PostgreSQL has it (`synchronous_commit` on), so there is no
//! group commit here; the flusher has nothing to do.

#[doc(hidden)]
pub mod cluster;
pub mod peers;
mod schema;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use engine::env::UnixTime;
use engine::error::{EngineError, StoreError};
use engine::store::retry::{self, Attempt};
use engine::store::{ExpiredPage, Store, Table, Tx};
use futures_util::future::join_all;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store_kit::{EngineCalls, Flush, Flusher, Lifecycle, StoreStats, TableStats};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// Times a transaction runs before a conflict is reported as `temporarily_unavailable`.
pub use engine::store::retry::MAX_ATTEMPTS;

/// The advisory lock key held while the schema is created or migrated ("oidc" and 1).
const MIGRATION_LOCK: i64 = 0x6f69_6463_0000_0001;

/// The advisory lock key held while an instance prepares the first tenants (`exclusively`;
/// "oidc" and 3; 2 is the purge's, `peers::PURGE_LOCK`).
const STARTUP_LOCK: i64 = 0x6f69_6463_0000_0003;

/// A time as stored (seconds, clamped to `bigint`).
fn stored_time(at: UnixTime) -> i64 {
    i64::try_from(at.0).unwrap_or(i64::MAX)
}

/// The smallest key greater than every key starting with `prefix` (`None`: no bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A transaction's writes by (table, key): the value and its expiry time, or `None` to delete.
type Writes = BTreeMap<(Table, String), Option<Put>>;

/// A record written: its value, purge time, and the records it points to (JSON `[[table, key]]`).
struct Put {
    value: Vec<u8>,
    at: Option<UnixTime>,
    links: Option<String>,
}

/// An error with its causes (`error performing TLS handshake: invalid peer certificate: …`).
fn described(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

/// How a statement failed.
#[derive(Debug)]
enum Failure {
    /// A serialization failure or deadlock: run the transaction again.
    Conflict,
    /// The database cannot be reached (or the connection broke).
    Unreachable(String),
    /// Anything else.
    Other(String),
}

impl Failure {
    fn of(e: &tokio_postgres::Error) -> Self {
        match e.code() {
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
                Failure::Conflict
            }
            Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CANNOT_CONNECT_NOW => {
                Failure::Unreachable(described(e))
            }
            None => Failure::Unreachable(described(e)),
            Some(_) if e.is_closed() => Failure::Unreachable(described(e)),
            Some(_) => Failure::Other(described(e)),
        }
    }

    /// A scan's failure (outside any transaction): an unreachable database is
    /// [`StoreError::unavailable`], so the caller answers 503, not 500.
    fn into_scan_error(self) -> StoreError {
        match self {
            Failure::Unreachable(m) => StoreError::unavailable(format!("the database is unreachable: {m}")),
            Failure::Conflict => StoreError::unavailable("the database refused the read for conflicts"),
            Failure::Other(m) => StoreError(m),
        }
    }

    fn into_error(self) -> EngineError {
        match self {
            Failure::Conflict => EngineError::Unavailable("the database refused the transaction for conflicts".into()),
            Failure::Unreachable(m) => EngineError::Unavailable(format!("the database is unreachable: {m}")),
            Failure::Other(m) => EngineError::Storage(StoreError(m)),
        }
    }
}

/// How to connect: the pool's size and timeouts, and whom to trust for TLS.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Connections at most.
    pub size: usize,
    /// How long to wait for a connection (from the pool or a new one).
    pub timeout: Duration,
    /// PEM certificates of the authorities that may sign the database's certificate, besides the
    /// public ones (a private CA, a managed service's bundle). Used with `sslmode=require`.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            size: 16,
            timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

/// How connections are made: in the clear, or TLS by rustls (`sslmode=require` in the URL; the
/// certificate is verified, against the public roots and the `ca_file`'s).
#[derive(Clone)]
enum Tls {
    Off,
    On(tokio_postgres_rustls::MakeRustlsConnect),
}

impl Tls {
    fn for_url(config: &tokio_postgres::Config, options: &ConnectOptions) -> Result<Tls, StoreError> {
        if config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
            return Ok(Tls::Off);
        }
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &options.ca_file {
            let unreadable = |e: &dyn std::fmt::Display| StoreError(format!("the CA file {}: {e}", path.display()));
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))?;
            for cert in certs {
                roots
                    .add(cert.map_err(|e| unreadable(&e))?)
                    .map_err(|e| unreadable(&e))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls::On(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }
}

/// What the store counts since it opened.
#[derive(Debug, Default)]
pub struct Counters {
    /// Statement flights sent, each waiting for one answer from the database.
    pub round_trips: AtomicU64,
    /// Transactions the database refused for a conflict (`40001`, `40P01`) and that ran again.
    pub conflicts: AtomicU64,
}

/// Commits are durable when they return: nothing to flush.
struct Durable;

impl Flush for Durable {
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The store: a pool of connections and the runtime that drives them.
pub struct PgStore {
    pool: Pool,
    /// For the peers' own connection (`start_bus`).
    config: Arc<tokio_postgres::Config>,
    tls: Tls,
    /// Round trips and conflicts, for the metrics.
    counters: Arc<Counters>,
    statements: schema::AllStatements,
    runtime: Option<tokio::runtime::Runtime>,
    flusher: Flusher,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.flusher.stop();
        if let Some(rt) = self.runtime.take() {
            // Without blocking: the store may be dropped on an async worker.
            rt.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`, `?host=/socket/dir` for a unix socket)
    /// and creates or migrates the schema. Blocks: call it off the async workers.
    pub fn open(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("the database URL is not valid: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError(e.to_string()))?;
        let tls = Tls::for_url(&config, options)?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Tls::Off => Manager::from_config(config.clone(), NoTls, manager_config),
            Tls::On(t) => Manager::from_config(config.clone(), t.clone(), manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .build()
            .map_err(|e| StoreError(e.to_string()))?;
        let store = PgStore {
            pool,
            config: Arc::new(config),
            tls,
            counters: Default::default(),
            statements: schema::AllStatements::new(),
            runtime: Some(runtime),
            flusher: Flusher::start(Arc::new(Durable)),
        };
        store.migrate()?;
        Ok(store)
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the store")
            .block_on(f)
    }

    fn connection(&self) -> Result<Object, Failure> {
        self.block_on(self.pool.get())
            .map_err(|e| Failure::Unreachable(described(&e)))
    }

    /// Creates the schema, or checks the one there, under the migration lock.
    fn migrate(&self) -> Result<(), StoreError> {
        let client = self.connection().map_err(|f| StoreError(format!("{f:?}")))?;
        let fail = |e: tokio_postgres::Error| StoreError(format!("creating the schema: {e}"));
        self.block_on(async {
            client.batch_execute("BEGIN").await.map_err(fail)?;
            client
                .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(fail)?;
            client
                .batch_execute("CREATE TABLE IF NOT EXISTS oidc_schema (version integer NOT NULL)")
                .await
                .map_err(fail)?;
            let version: Option<i32> = client
                .query_opt("SELECT max(version) FROM oidc_schema", &[])
                .await
                .map_err(fail)?
                .and_then(|row| row.get(0));
            if let Some(v) = version.filter(|v| *v > schema::VERSION) {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(StoreError(format!(
                    "the database holds schema {v}, written by a newer version (this one writes {})",
                    schema::VERSION
                )));
            }
            client.batch_execute(&schema::create()).await.map_err(fail)?;
            if version == Some(1) {
                client.batch_execute(&schema::from_v1()).await.map_err(fail)?;
            }
            if version != Some(schema::VERSION) {
                client.batch_execute("DELETE FROM oidc_schema").await.map_err(fail)?;
                client
                    .execute("INSERT INTO oidc_schema (version) VALUES ($1)", &[&schema::VERSION])
                    .await
                    .map_err(fail)?;
            }
            client.batch_execute("COMMIT").await.map_err(fail)
        })
    }

    /// Runs `exchange`, one flight of statements to the database and their answers, from this
    /// thread, and counts it.
    fn exchange<F: Future>(&self, exchange: F) -> F::Output {
        self.counters.round_trips.fetch_add(1, Ordering::Relaxed);
        self.block_on(exchange)
    }

    /// Runs one attempt of a transaction: `Ok(Err(failure))` when the database refused it.
    /// `BEGIN` goes out with the first read, and the writes with `COMMIT`, so a transaction costs
    /// one round trip per read plus one (or one in all, when it only writes).
    fn attempt<T, F>(&self, f: &F) -> Result<Result<T, EngineError>, Failure>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        let client = self.connection()?;
        let mut tx = PgTx {
            store: self,
            client: &client,
            begun: false,
            writes: BTreeMap::new(),
            read: HashMap::new(),
            failure: None,
        };
        let out = f(&mut tx);
        let (begun, writes, failure) = (tx.begun, std::mem::take(&mut tx.writes), tx.failure.take());
        let rollback = || {
            if begun {
                let _ = self.exchange(client.batch_execute("ROLLBACK"));
            }
        };
        if let Some(failure) = failure {
            rollback();
            return Err(failure);
        }
        let value = match out {
            Ok(v) => v,
            Err(e) => {
                rollback();
                return Ok(Err(e));
            }
        };
        if !begun && writes.is_empty() {
            return Ok(Ok(value));
        }
        match self.exchange(commit(&client, &self.statements, begun, writes)) {
            Ok(()) => Ok(Ok(value)),
            Err(e) => {
                rollback();
                Err(Failure::of(&e))
            }
        }
    }

    /// What this store counts: round trips and conflicts.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

/// Every transaction is serializable and reads through the primary key: a sequential scan (which
/// the planner prefers while the table is small) would take a predicate lock on the whole table,
/// and every concurrent write would then conflict with it.
const BEGIN: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL enable_seqscan = off";

/// Sends a transaction's writes and commits it, in one flight (after `BEGIN` when the
/// transaction has not begun: it read nothing). The statements are prepared first (from the
/// connection's cache, after its first use), so that each is sent as soon as it is polled and the
/// flight keeps its order.
async fn commit(
    client: &Object,
    statements: &schema::AllStatements,
    begun: bool,
    writes: Writes,
) -> Result<(), tokio_postgres::Error> {
    /// One table's upserts (keys, values, purge times) and deletions.
    #[derive(Default)]
    struct TableWrites {
        keys: Vec<Vec<u8>>,
        values: Vec<Vec<u8>>,
        purge_at: Vec<Option<i64>>,
        links: Vec<Option<String>>,
        deleted: Vec<Vec<u8>>,
    }
    let mut by_table: BTreeMap<Table, TableWrites> = BTreeMap::new();
    for ((table, key), write) in writes {
        let w = by_table.entry(table).or_default();
        match write {
            Some(put) => {
                w.keys.push(key.into_bytes());
                w.values.push(put.value);
                w.purge_at.push(put.at.map(stored_time));
                w.links.push(put.links);
            }
            None => w.deleted.push(key.into_bytes()),
        }
    }
    let mut prepared = Vec::new();
    for (table, w) in &by_table {
        let s = statements.of(*table);
        if !w.keys.is_empty() {
            prepared.push((client.prepare_cached(&s.upsert).await?, w, true));
        }
        if !w.deleted.is_empty() {
            prepared.push((client.prepare_cached(&s.delete).await?, w, false));
        }
    }
    let sends = prepared.iter().map(|(statement, w, upsert)| async move {
        match upsert {
            true => {
                client
                    .execute(statement, &[&w.keys, &w.values, &w.purge_at, &w.links])
                    .await
            }
            false => client.execute(statement, &[&w.deleted]).await,
        }
    });
    let (began, written, committed) = tokio::join!(
        async {
            match begun {
                true => Ok(()),
                false => client.batch_execute(BEGIN).await,
            }
        },
        join_all(sends),
        client.batch_execute("COMMIT"),
    );
    // The first failure tells why (after a failed statement, COMMIT only rolls back).
    began?;
    for w in written {
        w?;
    }
    committed
}

/// One transaction: reads from the database (after its own writes), writes buffered.
struct PgTx<'a> {
    store: &'a PgStore,
    client: &'a Object,
    /// `BEGIN` was sent (with the first read).
    begun: bool,
    writes: Writes,
    /// What this transaction read (`None`: no record), so a record is fetched once: it cannot
    /// change under a serializable transaction's snapshot.
    read: HashMap<(Table, String), Option<Vec<u8>>>,
    /// The first statement that failed: the transaction is over.
    failure: Option<Failure>,
}

impl PgTx<'_> {
    /// Reads the records of `wanted` (per table, the keys), in one flight, after `BEGIN` when the
    /// transaction has not begun, and remembers them (`None` for a key without a record).
    fn fetch(&mut self, wanted: BTreeMap<Table, Vec<String>>) -> Result<(), StoreError> {
        if self.failure.is_some() {
            return Err(StoreError("the transaction already failed".into()));
        }
        let (client, begin) = (self.client, !self.begun);
        self.begun = true;
        let statements = &self.store.statements;
        let answers = self.store.exchange(async {
            let mut prepared = Vec::new();
            for (table, keys) in &wanted {
                let names: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
                prepared.push((client.prepare_cached(&statements.of(*table).get).await?, names));
            }
            let reads = prepared
                .iter()
                .map(|(statement, names)| async move { client.query(statement, &[names]).await });
            // BEGIN and the reads in one flight (each is sent as soon as it is polled, in order).
            let (began, rows) = tokio::join!(
                async {
                    match begin {
                        true => client.batch_execute(BEGIN).await,
                        false => Ok(()),
                    }
                },
                join_all(reads),
            );
            began?;
            rows.into_iter().collect::<Result<Vec<_>, _>>()
        });
        let answers = answers.map_err(|e| {
            let message = e.to_string();
            self.failure = Some(Failure::of(&e));
            StoreError(message)
        })?;
        for ((table, keys), rows) in wanted.into_iter().zip(answers) {
            for key in keys {
                let found = rows.iter().find(|r| r.get::<_, &[u8]>(0) == key.as_bytes());
                if let Some(row) = found {
                    // The records it links to came in the same row: absent ones are known absent.
                    let links = row.get::<_, Option<&str>>(2).map(parse_links).unwrap_or_default();
                    for (i, target) in table.links_to().iter().enumerate() {
                        if let Some(target_key) = links.get(target.name()) {
                            let value = row.get::<_, Option<Vec<u8>>>(3 + i);
                            self.read.entry((*target, target_key.clone())).or_insert(value);
                        }
                    }
                }
                self.read.insert((table, key), found.map(|r| r.get::<_, Vec<u8>>(1)));
            }
        }
        Ok(())
    }
}

impl Tx for PgTx<'_> {
    fn get(&mut self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let id = (table, key.to_string());
        if let Some(w) = self.writes.get(&id) {
            return Ok(w.as_ref().map(|put| put.value.clone()));
        }
        if !self.read.contains_key(&id) {
            self.fetch(BTreeMap::from([(table, vec![key.to_string()])]))?;
        }
        Ok(self.read.get(&id).cloned().flatten())
    }
    fn prefetch(&mut self, keys: &[(Table, &str)]) -> Result<(), StoreError> {
        let mut wanted: BTreeMap<Table, Vec<String>> = BTreeMap::new();
        for (table, key) in keys {
            let id = (*table, key.to_string());
            if !self.writes.contains_key(&id) && !self.read.contains_key(&id) {
                let keys = wanted.entry(*table).or_default();
                if !keys.contains(&id.1) {
                    keys.push(id.1);
                }
            }
        }
        match wanted.is_empty() {
            true => Ok(()),
            false => self.fetch(wanted),
        }
    }
    fn put(&mut self, table: Table, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.put_linked(table, key, value, None, &[])
    }
    fn put_expiring(&mut self, table: Table, key: &str, value: Vec<u8>, at: UnixTime) -> Result<(), StoreError> {
        self.put_linked(table, key, value, Some(at), &[])
    }
    fn put_linked(
        &mut self,
        table: Table,
        key: &str,
        value: Vec<u8>,
        at: Option<UnixTime>,
        links: &[(Table, String)],
    ) -> Result<(), StoreError> {
        let links = (!links.is_empty()).then(|| encode_links(links));
        self.writes
            .insert((table, key.to_string()), Some(Put { value, at, links }));
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &str) -> Result<(), StoreError> {
        self.writes.insert((table, key.to_string()), None);
        Ok(())
    }
}

/// Links as stored: a JSON object from table name to key (one link per table).
fn encode_links(links: &[(Table, String)]) -> String {
    let by_table: BTreeMap<&str, &str> = links.iter().map(|(t, k)| (t.name(), k.as_str())).collect();
    serde_json::to_string(&by_table).unwrap_or_default()
}

/// Links read back; anything else reads as none (a link only saves a round trip).
fn parse_links(text: &str) -> HashMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A short random pause before running a conflicting transaction again (1–`8 << attempt` ms).
fn jitter(attempt: u32) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let span = 8u64 << attempt.min(5);
    Duration::from_millis(1 + u64::from(u16::from_le_bytes(b)) % span)
}

impl Store for PgStore {
    // RELIABILITY-concurrency
    fn transact<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        F: Fn(&mut dyn Tx) -> Result<T, EngineError>,
    {
        retry::with_retries(
            |_| match self.attempt(&f) {
                Ok(done) => Attempt::Done(done),
                Err(Failure::Conflict) => Attempt::Conflict,
                Err(other) => Attempt::Failed(other.into_error()),
            },
            |n| {
                self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(jitter(n))
            },
        )
    }

    fn scan(&self, table: Table, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.scan_after(table, prefix, None, usize::MAX)
    }

    fn scan_after(
        &self,
        table: Table,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let client = self.connection().map_err(Failure::into_scan_error)?;
        let end = prefix_end(prefix.as_bytes());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .block_on(async {
                let statement = client.prepare_cached(&self.statements.of(table).scan).await?;
                client
                    .query(
                        &statement,
                        &[&prefix.as_bytes(), &after.map(str::as_bytes), &end, &limit],
                    )
                    .await
            })
            .map_err(|e| Failure::of(&e).into_scan_error())?;
        Ok(rows
            .iter()
            .map(|r| {
                let key: Vec<u8> = r.get(0);
                (String::from_utf8_lossy(&key).into_owned(), r.get::<_, Vec<u8>>(1))
            })
            .collect())
    }

    /// By the table's partial index on (purge_at, key); the cursor is the last row's time and key.
    fn expired(
        &self,
        table: Table,
        now: UnixTime,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ExpiredPage, StoreError> {
        let client = self.connection().map_err(Failure::into_scan_error)?;
        let cursor = after.and_then(|a| a.split_once('/'));
        let after_at: Option<i64> = cursor.and_then(|(at, _)| at.parse().ok());
        let after_key: Option<&[u8]> = cursor.map(|(_, key)| key.as_bytes());
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self
            .block_on(async {
                let statement = client.prepare_cached(&self.statements.of(table).expired).await?;
                client
                    .query(&statement, &[&stored_time(now), &after_at, &after_key, &fetch])
                    .await
            })
            .map_err(|e| Failure::of(&e).into_scan_error())?;
        let mut page = ExpiredPage {
            read: rows.len(),
            ..ExpiredPage::default()
        };
        for row in rows.iter().take(limit) {
            let key: Vec<u8> = row.get(0);
            page.keys.push(String::from_utf8_lossy(&key).into_owned());
        }
        if rows.len() > limit {
            if let (Some(key), Some(row)) = (page.keys.last(), rows.get(limit - 1)) {
                page.next = Some(format!("{}/{key}", row.get::<_, i64>(1)));
            }
        }
        Ok(page)
    }
}

fn store_error(e: EngineError) -> StoreError {
    match e {
        EngineError::Storage(s) => s,
        other => StoreError(other.to_string()),
    }
}

impl PgStore {
    /// Starts exchanging messages with the other instances on this database for `peers`, and
    /// trying for the purge leadership (`peers`).
    pub fn start_bus(&self, peers: std::sync::Weak<dyn peers::Peers>) -> peers::Bus {
        let runtime = self.runtime.as_ref().expect("the runtime lives as long as the store");
        let config = (*self.config).clone();
        match &self.tls {
            Tls::Off => peers::Bus::start(runtime.handle(), config, NoTls, peers),
            Tls::On(t) => peers::Bus::start(runtime.handle(), config, t.clone(), peers),
        }
    }

    /// Runs `f` while no other instance on this database runs its own `exclusively` (a session
    /// advisory lock on a connection of its own, released when `f` returns or the process dies):
    /// instances starting together create the first tenants once, and whole. Blocks.
    pub fn exclusively<T>(&self, f: impl FnOnce() -> T) -> Result<T, StoreError> {
        let fail = |e: tokio_postgres::Error| StoreError(format!("the start-up lock: {}", described(&e)));
        let config = (*self.config).clone();
        let client = self.block_on(async {
            let (client, driver) = match &self.tls {
                Tls::Off => {
                    let (c, conn) = config.connect(NoTls).await.map_err(fail)?;
                    (c, tokio::spawn(async move { drop(conn.await) }))
                }
                Tls::On(t) => {
                    let (c, conn) = config.connect(t.clone()).await.map_err(fail)?;
                    (c, tokio::spawn(async move { drop(conn.await) }))
                }
            };
            client
                .execute("SELECT pg_advisory_lock($1)", &[&STARTUP_LOCK])
                .await
                .map_err(fail)?;
            Ok::<_, StoreError>((client, driver))
        })?;
        let out = f();
        // Ending the session releases the lock.
        drop(client.0);
        client.1.abort();
        Ok(out)
    }

    /// Whether the database answers now (`SELECT 1`).
    pub fn ping(&self) -> Result<(), StoreError> {
        let client = self.connection().map_err(|f| store_error(f.into_error()))?;
        self.block_on(client.simple_query("SELECT 1"))
            .map(|_| ())
            .map_err(|e| StoreError(format!("the database is unreachable: {e}")))
    }
}

/// The store's lifecycle: nothing to flush or compact; figures from the database; engine calls
/// on the blocking pool, since every statement waits on the network.
impl Lifecycle for PgStore {
    fn flusher(&self) -> &Flusher {
        &self.flusher
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let client = self.connection().map_err(|f| f.into_error()).map_err(store_error)?;
        let rows = self
            .block_on(client.query(&schema::stats(), &[]))
            .map_err(|e| StoreError(e.to_string()))?;
        let number = |row: &tokio_postgres::Row, i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        let tables = Table::ALL
            .iter()
            .map(|&table| {
                let row = rows.iter().find(|r| r.get::<_, &str>(0) == schema::name(table));
                let n = |i: usize| row.map_or(0, |r| number(r, i));
                TableStats {
                    table,
                    records: n(1),
                    key_bytes: n(2),
                    value_bytes: n(3),
                }
            })
            .collect();
        let disk_bytes = rows.iter().map(|r| number(r, 4)).sum();
        Ok(StoreStats {
            tables,
            disk_bytes,
            used_bytes: Some(disk_bytes),
        })
    }

    fn engine_calls(&self) -> EngineCalls {
        EngineCalls::BlockingPool
    }

    fn health(&self) -> Result<(), StoreError> {
        self.ping()
    }
}

#[cfg(test)]
mod tests;
