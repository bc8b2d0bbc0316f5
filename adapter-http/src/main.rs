//! `adapter-http`: run the provider, or print its OpenAPI document.

use adapter_http::data_store::Lifecycle;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "A formally tested OpenID Connect provider")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "OP_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    listen: String,
    /// Where the store keeps its data (unless `--store` names a dir).
    #[arg(long, env = "OP_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// The store: `sled` or `redb` (in `--data-dir`), `sled:DIR` or `redb:DIR`, or a PostgreSQL
    /// database, `postgres://user@host:port/db` (`?host=/dir` for a unix socket). A new data dir
    /// gets the kind named; an existing one must hold it.
    #[arg(long, env = "OP_STORE", default_value = "sled", value_parser = parse_store, global = true)]
    store: StoreChoice,
    /// A PostgreSQL database to run on: the same as `--store postgres://…`, and wins over it.
    #[arg(long, env = "OP_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// PostgreSQL connections this instance keeps at most.
    #[arg(long, env = "OP_DATABASE_POOL_SIZE", default_value_t = 16, global = true)]
    database_pool_size: usize,
    /// Seconds to wait for a PostgreSQL connection before a request fails.
    #[arg(long, env = "OP_DATABASE_TIMEOUT_S", default_value_t = 5, global = true)]
    database_timeout_s: u64,
    /// PEM file of the authorities that may sign the database's certificate (with
    /// `sslmode=require` in the URL), besides the public ones.
    #[arg(long, env = "OP_DATABASE_CA_FILE", global = true)]
    database_ca_file: Option<std::path::PathBuf>,
    /// A file holding the system secret that seals the signing keys in the store (one per line,
    /// newest first: the first seals, every one opens, so a secret can be rotated; at least 32
    /// bytes each). May be given more than once. Required with PostgreSQL; an embedded store
    /// without one keeps its own in `DATA_DIR/system-secret`.
    #[arg(long, env = "OP_SYSTEM_SECRET_FILE", value_delimiter = ',', global = true)]
    system_secret_file: Vec<PathBuf>,
    /// Public base URL behind a proxy (issuers are `{base}/{tenant}`); default `http://{listen}`.
    #[arg(long, env = "OP_ISSUER_BASE", global = true)]
    issuer_base: Option<String>,
    /// Token requests per second per client IP (0: no limit).
    #[arg(long, env = "OP_TOKEN_RATE_PER_IP", default_value_t = 500, global = true)]
    token_rate_per_ip: u32,
    /// Token requests per second per client_id (0: no limit).
    #[arg(long, env = "OP_TOKEN_RATE_PER_CLIENT", default_value_t = 500, global = true)]
    token_rate_per_client: u32,
    /// Log level: `debug` adds one line per request; `warn` logs only problems.
    #[arg(long, env = "OP_LOG_LEVEL", default_value = "info", global = true)]
    log_level: tracing::Level,
    /// Seconds between purges of expired codes, sessions, tokens and dead refresh families (0: never).
    #[arg(long, env = "OP_PURGE_EVERY_S", default_value_t = 300, global = true)]
    purge_every_s: u64,
    /// Days audit events are kept; older ones go at the next purge (0: keep them all).
    #[arg(long, env = "OP_AUDIT_RETENTION_DAYS", default_value_t = engine::config::DEFAULT_AUDIT_RETENTION_DAYS, global = true)]
    audit_retention_days: u64,
    /// The store's page cache in MiB (memory used for hot records).
    #[arg(long, alias = "cache-mb", env = "OP_SLED_CACHE_MB", default_value_t = adapter_http::data_store::DEFAULT_CACHE_MB, global = true)]
    sled_cache_mb: u64,
    /// Login attempts per second per client IP (0: no limit).
    #[arg(long, env = "OP_LOGIN_RATE_PER_IP", default_value_t = 10, global = true)]
    login_rate_per_ip: u32,
    /// Failed logins per account from one source IP within 10 minutes; then that source gets 429
    /// for the account until the 10 minutes end (other sources are not affected; 0: no limit).
    #[arg(long, env = "OP_LOGIN_FAILURES_PER_SOURCE", default_value_t = 10, global = true)]
    login_failures_per_source: u32,
    /// Failed logins per account from all sources within 10 minutes; past it the account takes one
    /// attempt per 5 seconds from anyone (slowed, not locked; 0: no limit).
    #[arg(long, env = "OP_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 100, global = true)]
    login_failures_per_account: u32,
    /// SMTP relay for invitation mail: `smtp://host:port` (plain), `smtp://host:port?tls=required`
    /// (STARTTLS), `smtps://host:port`; credentials as `smtp://user:pass@host`. Without it, an
    /// administrator's invite answer carries the activation link instead.
    #[arg(long, env = "OP_SMTP_URL", global = true)]
    smtp_url: Option<String>,
    /// The sender address of invitation mail (the tenant's name is its display name).
    #[arg(long, env = "OP_SMTP_FROM", default_value = adapter_http::DEFAULT_SMTP_FROM, global = true)]
    smtp_from: String,
    /// Let outbound fetches (request_uri, jwks_uri, sector_identifier_uri, back-channel logout)
    /// reach loopback and private addresses. For local development only: it opens SSRF.
    #[arg(long, env = "OP_ALLOW_PRIVATE_FETCH", global = true)]
    allow_private_fetch: bool,
    /// Proxies (addresses or ranges, comma-separated) whose `X-Forwarded-For` names the client:
    /// the load balancer in front of the instances. The rate limits and the failed-login
    /// throttle then count the client, not the proxy.
    #[arg(long, env = "OP_TRUSTED_PROXIES", value_parser = parse_proxies, default_value = "", global = true)]
    trusted_proxies: adapter_http::client_ip::TrustedProxies,
    /// Serve `GET /metrics` (Prometheus text: login checks and their CPU time, purges, RSS) on
    /// this address, apart from the public port; not served unless given.
    #[arg(long, env = "OP_METRICS_LISTEN", global = true)]
    metrics_listen: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Print the OpenAPI document (the content of openapi.yaml).
    Openapi,
    /// Register a client for a new app on a running provider and write the app, wired to it.
    NewApp(NewAppArgs),
    /// Print the records and bytes each table of `--data-dir` holds, and its size on disk
    /// (the server must be stopped: the store locks its files).
    StoreStats,
    /// Give back the space `--data-dir` holds beyond its live records: sled's log is rewritten,
    /// redb's free pages are returned (the server must be stopped; a running sled server also
    /// rewrites its records on its own once their files have doubled).
    Compact,
    /// Copy every record of one store into another, empty one: a data dir into PostgreSQL
    /// (`migrate --from sled:./data --to postgres://…`). The servers must be stopped.
    Migrate(MigrateArgs),
    /// The system secret: `secrets rotate` seals every stored private key under the first
    /// secret given (the others must still open them); then the old ones can be removed.
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
    },
}

#[derive(Subcommand)]
enum SecretsAction {
    /// Seal every stored private key under the first system secret given (`OP_SYSTEM_SECRET=new,old`
    /// or a `--system-secret-file` with the new secret on its first line).
    Rotate,
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// The store to copy: `sled:DIR`, `redb:DIR` or `postgres://…`.
    #[arg(long, value_parser = parse_store)]
    from: StoreChoice,
    /// The empty store to copy into, written the same way.
    #[arg(long, value_parser = parse_store)]
    to: StoreChoice,
}

/// Opens a store `migrate` names (a data dir must hold one already when it is the source).
fn open_choice(
    choice: &StoreChoice,
    default_dir: &std::path::Path,
    cache_bytes: u64,
    database: &adapter_http::data_store::ConnectOptions,
) -> Result<adapter_http::data_store::DataStore, String> {
    use adapter_http::data_store::DataStore;
    match &choice.url {
        Some(url) => DataStore::connect(url, database).map_err(|e| e.0),
        None => {
            let dir = choice.dir.clone().unwrap_or_else(|| default_dir.to_path_buf());
            DataStore::open(choice.kind, &dir, cache_bytes).map_err(|e| e.0)
        }
    }
}

fn parse_proxies(s: &str) -> Result<adapter_http::client_ip::TrustedProxies, String> {
    adapter_http::client_ip::TrustedProxies::parse(s)
}

fn migrate(
    args: &MigrateArgs,
    default_dir: &std::path::Path,
    cache_bytes: u64,
    database: &adapter_http::data_store::ConnectOptions,
) -> Result<(), String> {
    if args.from.url.is_none() {
        let dir = args.from.dir.clone().unwrap_or_else(|| default_dir.to_path_buf());
        if adapter_http::data_store::StoreKind::found_in(&dir).is_none() {
            return Err(format!("{} holds no store to copy", dir.display()));
        }
    }
    let from = open_choice(&args.from, default_dir, cache_bytes, database)?;
    let to = open_choice(&args.to, default_dir, cache_bytes, database)?;
    let copied = adapter_http::data_store::copy_into(&from, &to).map_err(|e| e.0)?;
    to.flush().map_err(|e| e.0)?;
    println!("copied {copied} records; the first purge on the new store gives each its expiry time");
    Ok(())
}

#[derive(clap::Args)]
struct NewAppArgs {
    /// The directory to create (its last part is the app's name).
    dir: PathBuf,
    /// What to write: a browser SPA (public client), a Flask app or a Next.js app (confidential).
    #[arg(long, value_enum)]
    framework: adapter_http::starter::Framework,
    /// The tenant's issuer, e.g. http://127.0.0.1:8080/demo.
    #[arg(long, env = "OP_ISSUER")]
    issuer: String,
    /// The port the app will listen on (default: react 5173, flask 3001, nextjs 3000).
    #[arg(long)]
    port: Option<u16>,
    /// An Admin API bearer token; or give an admin client's id and secret. (These take values
    /// starting with `-`: a generated secret or token is base64url, and one in 64 starts so.)
    #[arg(long, env = "OP_ADMIN_TOKEN", allow_hyphen_values = true)]
    admin_token: Option<String>,
    /// Admin client id (client_credentials with scope admin).
    #[arg(long, env = "OP_ADMIN_CLIENT_ID", allow_hyphen_values = true)]
    admin_client_id: Option<String>,
    /// Admin client secret.
    #[arg(long, env = "OP_ADMIN_CLIENT_SECRET", allow_hyphen_values = true)]
    admin_client_secret: Option<String>,
    /// The admin client's tenant (`system` for the platform admin).
    #[arg(long, default_value = "system")]
    admin_tenant: String,
}

/// What `--store` chose: a kind of store and perhaps its dir, or a PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StoreChoice {
    kind: adapter_http::data_store::StoreKind,
    dir: Option<PathBuf>,
    url: Option<String>,
}

/// `sled`, `redb`, `sled:DIR`, `redb:DIR`, or `postgres://…`.
fn parse_store(s: &str) -> Result<StoreChoice, String> {
    if adapter_http::data_store::is_database_url(s) {
        return Ok(StoreChoice {
            kind: Default::default(),
            dir: None,
            url: Some(s.to_string()),
        });
    }
    let (kind, dir) = match s.split_once(':') {
        Some((kind, dir)) if !dir.is_empty() => (kind, Some(PathBuf::from(dir))),
        Some(_) => return Err(format!("{s:?}: name the dir after the colon, or drop the colon")),
        None => (s, None),
    };
    Ok(StoreChoice {
        kind: kind.parse()?,
        dir,
        url: None,
    })
}

impl Cli {
    /// The data dir: the one `--store` names, else `--data-dir`.
    fn data_dir(&self) -> PathBuf {
        self.store.dir.clone().unwrap_or_else(|| self.data_dir.clone())
    }

    /// The PostgreSQL database, if one is named (`--database-url` wins over `--store`).
    /// How to connect to the database.
    fn database_options(&self) -> adapter_http::data_store::ConnectOptions {
        adapter_http::data_store::ConnectOptions {
            size: self.database_pool_size.max(1),
            timeout: std::time::Duration::from_secs(self.database_timeout_s.max(1)),
            ca_file: self.database_ca_file.clone(),
        }
    }

    fn database_url(&self) -> Option<String> {
        self.database_url.clone().or_else(|| self.store.url.clone())
    }

    /// The system secrets given (`OP_SYSTEM_SECRET`, read from the environment only: a secret on
    /// the command line is visible to every user of the machine).
    fn system_secrets(&self) -> Result<adapter_http::system_secret::GivenSecrets, String> {
        let from_env = std::env::var("OP_SYSTEM_SECRET").ok();
        adapter_http::system_secret::GivenSecrets::gather(from_env.as_deref(), &self.system_secret_file)
    }
}

/// `secrets rotate`: opens the store the flags name and seals every private key under the
/// first secret given.
fn rotate_secrets(cli: &Cli) -> Result<(), String> {
    let dir = cli.data_dir();
    let choice = StoreChoice {
        url: cli.database_url(),
        dir: Some(dir.clone()),
        kind: cli.store.kind,
    };
    if choice.url.is_none() && adapter_http::data_store::StoreKind::found_in(&dir).is_none() {
        return Err(format!("{} holds no store", dir.display()));
    }
    let store = open_choice(&choice, &dir, cli.sled_cache_mb * 1024 * 1024, &cli.database_options())?;
    let report = adapter_http::system_secret::rotate(&cli.system_secrets()?, store, &dir)?;
    println!(
        "checked {} signing keys of {} tenants and {} authenticator-app secrets; sealed {} keys and \
         {} app secrets under the new secret. The old secrets can now be removed once every \
         instance runs with the new one first.",
        report.keys, report.tenants, report.totp_secrets, report.resealed, report.totp_resealed
    );
    Ok(())
}

fn main() -> Result<(), adapter_http::StartError> {
    adapter_http::malloc::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn new_app(a: NewAppArgs) -> Result<(), adapter_http::StartError> {
    use adapter_http::starter::{AdminAuth, NewApp};
    let admin = match (a.admin_token, a.admin_client_id, a.admin_client_secret) {
        (Some(t), _, _) => AdminAuth::Token(t),
        (None, Some(id), Some(secret)) => AdminAuth::Client {
            tenant: a.admin_tenant,
            id,
            secret,
        },
        _ => {
            eprintln!("new-app needs --admin-token, or --admin-client-id and --admin-client-secret");
            std::process::exit(2);
        }
    };
    let req = NewApp {
        dir: a.dir,
        framework: a.framework,
        issuer: a.issuer,
        port: a.port,
        admin,
    };
    #[cfg(not(feature = "new-app"))]
    let result: Result<String, String> = {
        let _ = req;
        Err("this build has no new-app (feature `new-app`)".into())
    };
    #[cfg(feature = "new-app")]
    let result = adapter_http::starter::new_app(req).await;
    match result {
        Ok(summary) => {
            println!("{summary}");
            Ok(())
        }
        Err(e) => {
            eprintln!("new-app: {e}");
            std::process::exit(1);
        }
    }
}

fn store_stats(dir: &std::path::Path, cache_mb: u64) -> Result<(), adapter_http::StartError> {
    let Some(store) =
        adapter_http::data_store::DataStore::open_existing(dir, cache_mb * 1024 * 1024).map_err(|e| e.0)?
    else {
        eprintln!("store-stats: no store in {}", dir.display());
        std::process::exit(2);
    };
    let stats = store.stats().map_err(|e| e.0)?;
    println!(
        "{:<22} {:>10} {:>12} {:>14}",
        "table", "records", "key bytes", "value bytes"
    );
    let (mut n, mut kb, mut vb) = (0, 0, 0);
    for t in stats.tables.iter().filter(|t| t.records > 0) {
        println!(
            "{:<22} {:>10} {:>12} {:>14}",
            t.table.name(),
            t.records,
            t.key_bytes,
            t.value_bytes
        );
        (n, kb, vb) = (n + t.records, kb + t.key_bytes, vb + t.value_bytes);
    }
    println!("{:<22} {n:>10} {kb:>12} {vb:>14}", "total");
    println!("on disk: {} bytes", stats.disk_bytes);
    if let Some(used) = stats.used_bytes {
        println!("in use: {used} bytes");
    }
    Ok(())
}

async fn serve() -> Result<(), adapter_http::StartError> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Openapi) => {
            print!("{}", adapter_http::openapi_yaml());
            return Ok(());
        }
        Some(Command::NewApp(a)) => return new_app(a).await,
        Some(Command::StoreStats) => return store_stats(&cli.data_dir(), cli.sled_cache_mb),
        Some(Command::Migrate(ref args)) => {
            let (dir, cache) = (cli.data_dir(), cli.sled_cache_mb * 1024 * 1024);
            let database = cli.database_options();
            let done = tokio::task::block_in_place(|| migrate(args, &dir, cache, &database));
            if let Err(e) = done {
                eprintln!("migrate: {e}");
                std::process::exit(1);
            }
            return Ok(());
        }
        Some(Command::Secrets {
            action: SecretsAction::Rotate,
        }) => {
            let done = tokio::task::block_in_place(|| rotate_secrets(&cli));
            if let Err(e) = done {
                eprintln!("secrets rotate: {e}");
                std::process::exit(1);
            }
            return Ok(());
        }
        Some(Command::Compact) => {
            let c = adapter_http::data_store::compact(&cli.data_dir()).map_err(|e| e.0)?;
            println!(
                "compacted {}: {} entries, {} -> {} bytes",
                cli.data_dir().display(),
                c.entries,
                c.before_bytes,
                c.after_bytes
            );
            return Ok(());
        }
        _ => {}
    }
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_max_level(cli.log_level)
        .init();
    let opts = adapter_http::Options {
        listen: cli.listen.clone(),
        data_dir: cli.data_dir(),
        store: cli.store.kind,
        database_url: cli.database_url(),
        database_pool: cli.database_options(),
        issuer_base: cli.issuer_base.clone(),
        limits: adapter_http::rate_limit::RateLimits {
            token_per_ip: cli.token_rate_per_ip,
            token_per_client: cli.token_rate_per_client,
            login_per_ip: cli.login_rate_per_ip,
            login_failures_per_source: cli.login_failures_per_source,
            login_failures_per_account: cli.login_failures_per_account,
        },
        cache_bytes: cli.sled_cache_mb * 1024 * 1024,
        log_requests: cli.log_level >= tracing::Level::DEBUG,
        purge_every: (cli.purge_every_s > 0).then(|| std::time::Duration::from_secs(cli.purge_every_s)),
        allow_private_fetch: cli.allow_private_fetch,
        trusted_proxies: cli.trusted_proxies.clone(),
        audit_retention_days: (cli.audit_retention_days > 0).then_some(cli.audit_retention_days),
        metrics_listen: cli.metrics_listen.clone(),
        smtp_url: cli.smtp_url.clone(),
        smtp_from: cli.smtp_from.clone(),
        shared_state: None,
        system_secrets: cli.system_secrets()?,
    };
    let server = adapter_http::start(&opts).await?;
    let store = match cli.database_url() {
        Some(_) => "PostgreSQL".to_string(),
        None => cli.data_dir().display().to_string(),
    };
    tracing::info!(addr = %server.addr, base = %server.base, store = %store, "listening");
    if let Some(m) = server.metrics_addr {
        tracing::info!(addr = %m, "metrics at http://{m}/metrics");
    }
    if let Some(d) = &server.demo {
        println!("First start: created the demo tenant. These secrets are shown once.");
        println!("  issuer:              {}", d.issuer);
        println!("  discovery:           {}/.well-known/openid-configuration", d.issuer);
        println!("  demo client_id:      {}", d.client_id);
        println!("  demo client_secret:  {}", d.client_secret);
        println!("  demo redirect_uri:   {}", adapter_http::bootstrap::DEMO_REDIRECT);
        println!("  demo user:           {} / {}", d.username, d.password);
        if let Some(a) = &d.admin {
            println!(
                "  admin token endpoint: {} (client_credentials, scope=admin)",
                a.token_endpoint
            );
            println!("  admin client_id:     {}", a.client_id);
            println!("  admin client_secret: {}", a.client_secret);
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    server.stop().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_app_takes_credentials_that_start_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "adapter-http",
            "new-app",
            "my-app",
            "--framework",
            "flask",
            "--issuer",
            "http://127.0.0.1:8080/demo",
            "--admin-client-id",
            "-id",
            "--admin-client-secret",
            "-r9x_secret",
            "--admin-token",
            "-tok",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(Command::NewApp(a)) = cli.command else {
            panic!("not new-app")
        };
        assert_eq!(
            (a.admin_client_id, a.admin_client_secret, a.admin_token),
            (Some("-id".into()), Some("-r9x_secret".into()), Some("-tok".into()))
        );
    }

    #[test]
    fn the_store_is_chosen_by_one_url_like_setting() {
        use adapter_http::data_store::StoreKind;
        let parse = |args: &[&str]| Cli::try_parse_from([&["adapter-http"], args].concat());
        let default = parse(&[]).unwrap();
        assert_eq!(
            (default.store.kind, default.data_dir()),
            (StoreKind::Sled, PathBuf::from("./data"))
        );
        let redb = parse(&["--store", "redb:/srv/op", "--data-dir", "ignored"]).unwrap();
        assert_eq!(
            (redb.store.kind, redb.data_dir()),
            (StoreKind::Redb, PathBuf::from("/srv/op"))
        );
        let kind_only = parse(&["--store", "redb", "--data-dir", "/d"]).unwrap();
        assert_eq!(
            (kind_only.store.kind, kind_only.data_dir()),
            (StoreKind::Redb, PathBuf::from("/d"))
        );
        let pg = parse(&["--store", "postgres://op@db:5432/op"]).unwrap();
        assert_eq!(pg.database_url().as_deref(), Some("postgres://op@db:5432/op"));
        let alias = parse(&["--database-url", "postgresql://op@db/op", "--store", "redb"]).unwrap();
        assert_eq!(alias.database_url().as_deref(), Some("postgresql://op@db/op"));
        assert_eq!(default.database_url(), None, "the embedded default needs no database");
        assert!(parse(&["--store", "mongodb"]).is_err());
        assert!(parse(&["--store", "sled:"]).is_err());
    }

    /// The README's first command writes its data dir inside the checkout: git must not see it.
    #[test]
    fn the_default_data_dir_is_ignored_by_git() {
        let cli = Cli::try_parse_from(["adapter-http"]).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let inside = root.join(cli.data_dir()).join("db");
        let relative = inside.strip_prefix(&root).unwrap();
        let ignored = std::process::Command::new("git")
            .args(["check-ignore", "-q", "--no-index"])
            .arg(relative)
            .current_dir(&root)
            .status()
            .map(|s| s.success());
        match ignored {
            Ok(ignored) => assert!(ignored, "{} is not git-ignored", relative.display()),
            // Without git, read the rule itself.
            Err(_) => {
                let rules = std::fs::read_to_string(root.join(".gitignore")).unwrap();
                assert!(rules.lines().any(|l| l.trim() == "/data/"), "{rules}");
            }
        }
    }
}
