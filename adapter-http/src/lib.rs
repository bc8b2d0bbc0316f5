//! The HTTP adapter: translates HTTP to engine calls and engine outcomes to HTTP.

pub mod activation_page;
pub mod admin;
pub mod allow;
pub mod api;
pub mod bootstrap;
pub mod client_credentials;
pub mod client_ip;
pub mod client_keys;
pub mod cookies;
pub mod cors;
pub mod discovery;
pub mod doc_cache;
pub mod fast_docs;
pub mod fast_introspect;
use data_store::Lifecycle;
/// The store the server runs on (chosen by `--store`); no storage product is named elsewhere.
pub use store_any as data_store;
pub mod login_throttle;
pub mod mail;
pub mod malloc;
pub mod metrics;
pub mod os_env;
pub mod outbound;
pub mod pages;
pub mod params;
pub mod path_aliases;
pub mod qr;
pub mod rate_limit;
pub mod registration_api;
pub mod request_log;
pub mod shared_state;
pub mod starter;
pub mod state;
pub mod system_secret;
pub mod web;

use engine::{Engine, EngineConfig};
use poem::http::{header, StatusCode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{get, handler, post, Endpoint, EndpointExt, IntoResponse, Response, Route};
use poem_openapi::OpenApiService;
use state::{AppState, Shared};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The largest request body accepted.
// HTTP-input-limits
pub const MAX_BODY_BYTES: usize = 64 * 1024;

type Apis = (
    api::Api,
    registration_api::RegistrationApi,
    admin::AdminTenantsApi,
    admin::AdminClientsApi,
    admin::AdminUsersApi,
    admin::AdminOrganizationsApi,
);

fn api_service() -> OpenApiService<Apis, ()> {
    let apis = (
        api::Api,
        registration_api::RegistrationApi,
        admin::AdminTenantsApi,
        admin::AdminClientsApi,
        admin::AdminUsersApi,
        admin::AdminOrganizationsApi,
    );
    OpenApiService::new(apis, "OpenID Connect Provider", env!("CARGO_PKG_VERSION"))
}

/// The OpenAPI document of the API endpoints (what `openapi.yaml` must equal).
pub fn openapi_yaml() -> String {
    api_service().spec_yaml()
}

/// The same document as JSON.
pub fn openapi_json() -> String {
    api_service().spec()
}

/// `GET /healthz`: `ok`, or 503 naming what is down (the store's database).
#[handler]
async fn healthz(Data(state): Data<&Shared>) -> Response {
    let health = {
        let state = state.clone();
        // A database check waits on the network: off the async workers.
        tokio::task::spawn_blocking(move || state.engine.store().health()).await
    };
    match health {
        Ok(Ok(())) => Response::builder().content_type("text/plain").body("ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e.0, "health check: the store is down");
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .content_type("text/plain")
                .header(header::RETRY_AFTER, api::RETRY_AFTER_UNAVAILABLE)
                .body("store unavailable")
        }
        Err(_) => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .content_type("text/plain")
            .body("store unavailable"),
    }
}

/// The whole application; `log_requests` logs one line per request (at info level).
pub fn app(state: Shared, log_requests: bool) -> impl Endpoint {
    let cors_state = state.clone();
    let fast_state = state.clone();
    Route::new()
        .at("/healthz", get(healthz))
        .at("/:tenant/authorize", get(web::authorize).post(web::authorize))
        .at("/:tenant/login", post(web::login))
        .at("/:tenant/login/second-factor", post(web::second_factor))
        .at("/:tenant/login/enrol", post(web::enrol))
        .at("/:tenant/login/continue", post(web::sign_in_continue))
        .at("/:tenant/account", get(web::account_page).post(web::account_page))
        .at("/:tenant/consent", post(web::consent))
        .at(
            "/:tenant/activate",
            get(activation_page::activate).post(activation_page::activate),
        )
        .at("/:tenant/end-session", get(web::end_session).post(web::end_session))
        .nest("/", api_service())
        .data(state)
        .around(move |ep, req| async move {
            if log_requests {
                request_log::logged(&ep, req).await
            } else {
                ep.call(req).await.map(IntoResponse::into_response)
            }
        })
        .around(move |ep, mut req| {
            let state = cors_state.clone();
            async move {
                if let Some(uri) = path_aliases::canonical(req.uri()) {
                    *req.uri_mut() = uri;
                }
                let path = req.uri().path().to_string();
                let origin = req.headers().get(header::ORIGIN).cloned();
                let preflight = cors::preflight(&state, req.method(), &path, req.headers()).await;
                let declared = req
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .map(|v| v.to_str().ok().and_then(|v| v.parse::<usize>().ok()));
                let is_form = req
                    .content_type()
                    .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
                let resp = match declared {
                    _ if headers_too_large(req.headers()) => headers_too_large_response(),
                    _ if preflight.is_some() => preflight.expect("checked"),
                    Some(Some(n)) if n > MAX_BODY_BYTES => too_large(),
                    Some(None) => too_large(),
                    None if !req.headers().contains_key(header::TRANSFER_ENCODING) => ep.get_response(req).await,
                    _ if !is_form && declared.is_some() => ep.get_response(req).await,
                    _ => match req.take_body().into_bytes_limit(MAX_BODY_BYTES).await {
                        // Forms are checked once here: UTF-8 after percent-decoding, within the size limit.
                        Ok(bytes) if is_form && params::parse(&bytes, &[]).is_err() => too_large(),
                        Ok(bytes) => {
                            req.set_body(bytes);
                            ep.get_response(req).await
                        }
                        Err(_) => too_large(),
                    },
                };
                Ok(finish(&state, &path, origin.as_ref(), resp).await)
            }
        })
        .around(move |ep, mut req| {
            let state = fast_state.clone();
            async move {
                if log_requests {
                    return Ok(ep.get_response(req).await);
                }
                if let Some(resp) = fast_docs::answer(&state, &req) {
                    return Ok(resp);
                }
                if fast_introspect::is_candidate(&req) {
                    let Ok(body) = req.take_body().into_bytes_limit(MAX_BODY_BYTES).await else {
                        return Ok(finish(&state, req.uri().path(), None, too_large()).await);
                    };
                    if let Some(resp) = fast_introspect::answer(&state, &req, &body).await {
                        return Ok(finish(&state, req.uri().path(), None, resp).await);
                    }
                    req.set_body(body);
                }
                Ok(ep.get_response(req).await)
            }
        })
}

/// What every answer gets on its way out: `Allow` on a 405, CORS headers, the security headers.
async fn finish(state: &Shared, path: &str, origin: Option<&header::HeaderValue>, mut resp: Response) -> Response {
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED && !resp.headers().contains_key(header::ALLOW) {
        resp = allow::method_not_allowed(path);
    }
    cors::decorate(state, path, origin, resp.headers_mut()).await;
    security_headers(resp.headers_mut());
    resp
}

/// The headers every answer carries (`Cache-Control: no-store` unless it has one).
pub(crate) fn security_headers(h: &mut poem::http::HeaderMap) {
    use poem::http::HeaderValue;
    // RFC9700-4.16-clickjacking
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // RFC9700-4.2.4-no-referrer
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Deletes expired records every `every`, off the async workers, until the state is gone.
// RELIABILITY-soak
async fn purge_periodically(state: std::sync::Weak<AppState>, every: Option<Duration>) {
    let Some(every) = every else { return };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(state) = state.upgrade() else { return };
        if !state.shared.leads_purge() {
            continue;
        }
        let started = std::time::Instant::now();
        let metrics = state.metrics.clone();
        // A task of its own: a panicking purge is logged, and the next tick tries again.
        let done = tokio::spawn(async move {
            let report = state.engine.call_slow(|e, _| e.purge_expired(os_env::now())).await;
            let upkeep = tokio::task::spawn_blocking(move || {
                maintain(state.engine.store());
                malloc::trim();
            });
            let _ = upkeep.await;
            report
        })
        .await;
        match done {
            Ok(Ok(r)) => {
                let took = started.elapsed();
                metrics.record_purge(&r, took);
                // Every purge is logged, those that delete nothing too: what it read is its cost.
                tracing::info!(deleted = r.total(), read = r.read, report = ?r, took_ms = took.as_millis() as u64, "purged expired records")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "purge failed"),
            Err(e) => tracing::error!(error = %e, "purge task failed"),
        }
    }
}

/// After a purge: the store's own upkeep (`Lifecycle::maintain`), which logs what it did.
fn maintain(store: &data_store::DataStore) {
    if let Err(e) = store.maintain() {
        tracing::error!(error = %e.0, "store upkeep failed; the store is unchanged");
    }
}

/// The answer to a body that is too large or not a well-formed form.
fn too_large() -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .body(r#"{"error":"invalid_request","error_description":"request body is too large or not valid UTF-8 form data"}"#)
}

/// Request headers allowed in all (names and values), and per header (a cookie, a bearer token).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// See [`MAX_HEADER_BYTES`].
pub const MAX_ONE_HEADER_BYTES: usize = 8 * 1024;

/// Whether the headers exceed [`MAX_HEADER_BYTES`] or one exceeds [`MAX_ONE_HEADER_BYTES`]
/// (hyper alone accepts hundreds of KiB, which then reaches cookie and token parsing).
pub(crate) fn headers_too_large(h: &poem::http::HeaderMap) -> bool {
    let mut total = 0;
    for (k, v) in h {
        let one = k.as_str().len() + v.len();
        total += one;
        if one > MAX_ONE_HEADER_BYTES || total > MAX_HEADER_BYTES {
            return true;
        }
    }
    false
}

fn headers_too_large_response() -> Response {
    Response::builder()
        .status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        .content_type("application/json")
        .body(r#"{"error":"invalid_request","error_description":"request headers are too large"}"#)
}

/// Whether `base` is a plain-http loopback URL (the only case where cookies may lack `Secure`).
pub fn is_loopback_http(base: &str) -> bool {
    url::Url::parse(base)
        .is_ok_and(|u| u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")))
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Public base URL (issuers are `{base}/{tenant}`).
    pub base: String,
    /// Demo credentials, when this start created them.
    pub demo: Option<bootstrap::DemoCredentials>,
    /// The shared state (for provisioning in tests until the Admin API exists).
    pub state: Shared,
    /// Where `GET /metrics` is served, when `Options::metrics_listen` asked for it.
    pub metrics_addr: Option<SocketAddr>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    purger: tokio::task::JoinHandle<()>,
    metrics_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Why the server could not start.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// The sender of invitation mail unless `--smtp-from` says otherwise.
pub const DEFAULT_SMTP_FROM: &str = "no-reply@localhost";

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Listen address (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The database a new data dir gets (an existing one must hold this kind).
    pub store: data_store::StoreKind,
    /// A PostgreSQL database to run on instead of a data dir (`postgres://…`).
    pub database_url: Option<String>,
    /// How to reach PostgreSQL: the pool's size and timeouts, and the CA file for TLS.
    pub database_pool: data_store::ConnectOptions,
    /// Public base URL; default `http://{listen}`.
    pub issuer_base: Option<String>,
    /// Rate limits.
    pub limits: rate_limit::RateLimits,
    /// The store's page cache, bytes.
    pub cache_bytes: u64,
    /// Log one line per request.
    pub log_requests: bool,
    /// How often expired records are purged (`None`: never).
    pub purge_every: Option<Duration>,
    /// Let outbound fetches (request_uri, jwks_uri, sector_identifier_uri, back-channel logout)
    /// reach loopback and private addresses: for local development and tests only.
    pub allow_private_fetch: bool,
    /// Proxies whose `X-Forwarded-For` names the client (a load balancer).
    pub trusted_proxies: client_ip::TrustedProxies,
    /// Days audit events are kept (`None`: forever).
    pub audit_retention_days: Option<u64>,
    /// Where to serve `GET /metrics` (Prometheus text), apart from the public port (`None`: not served).
    pub metrics_listen: Option<String>,
    /// SMTP relay for invitation mail (`smtp://host:port`, `smtps://…`); `None`: no mail.
    pub smtp_url: Option<String>,
    /// The sender address of that mail.
    pub smtp_from: String,
    /// State shared with other instances; `None`: this process's own (`shared_state::Local`), or
    /// over PostgreSQL the one kept in step with the other instances' (`shared_state::Replicated`).
    pub shared_state: Option<shared_state::Handle>,
    /// The operator's system secrets, newest first, which seal the signing keys in the store;
    /// none: the data dir's own (`system_secret::resolve`), refused over PostgreSQL.
    pub system_secrets: system_secret::GivenSecrets,
}

impl Options {
    /// Defaults: `127.0.0.1:8080`, `./data`, default limits.
    pub fn new(listen: &str, data_dir: &Path) -> Self {
        Options {
            listen: listen.into(),
            data_dir: data_dir.into(),
            store: Default::default(),
            database_url: None,
            database_pool: Default::default(),
            issuer_base: None,
            limits: Default::default(),
            cache_bytes: data_store::DEFAULT_CACHE_BYTES,
            log_requests: false,
            purge_every: Some(Duration::from_secs(300)),
            allow_private_fetch: false,
            trusted_proxies: Default::default(),
            audit_retention_days: Some(engine::config::DEFAULT_AUDIT_RETENTION_DAYS),
            metrics_listen: None,
            smtp_url: None,
            smtp_from: DEFAULT_SMTP_FROM.into(),
            shared_state: None,
            system_secrets: Default::default(),
        }
    }
}

/// Opens the store, bootstraps the demo tenant on first start, and serves.
pub async fn start(opts: &Options) -> Result<Server, StartError> {
    let acceptor = TcpListener::bind(opts.listen.clone()).into_acceptor().await?;
    let addr = bound_addr(&acceptor)?;
    let metrics_acceptor = match &opts.metrics_listen {
        Some(listen) => Some(TcpListener::bind(listen.clone()).into_acceptor().await?),
        None => None,
    };
    let metrics_addr = metrics_acceptor.as_ref().map(bound_addr).transpose()?;
    let base = issuer_base(opts.issuer_base.as_deref(), addr)?;
    let store = match &opts.database_url {
        // Connecting blocks (and may wait out the pool's timeout): off the async workers.
        Some(url) => {
            let (url, options) = (url.clone(), opts.database_pool.clone());
            tokio::task::spawn_blocking(move || data_store::DataStore::connect(&url, &options))
                .await
                .map_err(|e| e.to_string())?
        }
        None => data_store::DataStore::open(opts.store, &opts.data_dir, opts.cache_bytes),
    }
    .map_err(|e| e.0)?;
    let (secrets, origin) = system_secret::resolve(&opts.system_secrets, &store, &opts.data_dir)?;
    if let system_secret::Origin::Generated(path) = &origin {
        tracing::warn!(
            path = %path.display(),
            "generated the system secret that seals the signing keys (readable by this user only): \
             back it up apart from the data dir, or pass your own with --system-secret-file"
        );
    }
    let shared: Arc<dyn shared_state::SharedState> = match (&opts.shared_state, &store) {
        (Some(h), _) => h.0.clone(),
        (None, data_store::DataStore::Postgres(pg)) => shared_state::Replicated::over(pg, opts.limits),
        (None, _) => Arc::new(shared_state::Local::new(opts.limits)),
    };
    let metrics = Arc::new(metrics::Metrics::with_database(match &store {
        data_store::DataStore::Postgres(pg) => Some(pg.counters()),
        _ => None,
    }));
    let state = Arc::new(AppState {
        engine: state::EngineDoor::new(Engine::new(
            store,
            EngineConfig {
                audit_retention: opts.audit_retention_days.map(|d| d * 86_400),
                ..EngineConfig::new(base.clone())
            },
            Arc::new(secrets),
        )),
        pages: pages::Pages::default(),
        secure_cookies: !is_loopback_http(&base),
        shared,
        proxies: opts.trusted_proxies.clone(),
        docs: Default::default(),
        password_checks: tokio::sync::Semaphore::new(state::password_check_slots()),
        outbound: outbound::Outbound {
            allow_private: opts.allow_private_fetch,
        },
        metrics,
        mailer: match &opts.smtp_url {
            Some(url) => Some(mail::Mailer::new(url, &opts.smtp_from)?),
            None => None,
        },
    });
    // A new store is covered by the expiry index from its first record; one written by a version
    // before it is indexed by its first purge.
    state
        .engine
        .call(|e, _| e.prepare_expiry())
        .await
        .map_err(|e| e.to_string())?;
    // Every stored private key must open with the secrets given (else stop here, not at the first
    // token); keys an older version stored in clear are sealed now, once.
    let sealed = state
        .engine
        .call(|e, env| e.reseal_key_material(env, engine::reseal::ResealScope::Clear))
        .await
        .map_err(|e| format!("system secret: {e}"))?;
    if sealed.resealed > 0 {
        tracing::info!(
            keys = sealed.resealed,
            "sealed the signing keys an older version stored in clear"
        );
    }
    let demo = state
        .engine
        // Instances starting together over one database: one makes the demo, whole.
        .call(|e, env| e.store().exclusively(|| bootstrap::ensure_demo(e, env))?)
        .await
        .map_err(|e| e.to_string())?;
    let purger = tokio::spawn(purge_periodically(Arc::downgrade(&state), opts.purge_every));
    let metrics_task = metrics_acceptor.map(|a| {
        let app = metrics::app(state.metrics.clone(), state.engine.store().flusher().clone());
        tokio::spawn(async move { poem::Server::new_with_acceptor(a).run(app).await })
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let log_requests = opts.log_requests;
    let shared = state.clone();
    let task = tokio::spawn(async move {
        let result = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app(state.clone(), log_requests),
                async {
                    let _ = stopped.await;
                },
                Some(Duration::from_secs(10)),
            )
            .await;
        if let Err(e) = state.engine.store().flush() {
            tracing::error!(error = %e.0, "final flush failed");
        }
        result
    });
    Ok(Server {
        addr,
        base,
        demo,
        state: shared,
        metrics_addr,
        stop,
        task,
        purger,
        metrics_task,
    })
}

/// The public base URL: `--issuer-base`, or `http://{addr}` when the server listens on one address.
/// A wildcard address (`0.0.0.0`, `[::]`) names no host a client could reach, and a guess (from a
/// Host header, say) would let a request choose the issuer: refuse to start instead.
fn issuer_base(given: Option<&str>, addr: SocketAddr) -> Result<String, StartError> {
    match given {
        Some(base) => Ok(base.trim_end_matches('/').to_string()),
        None if addr.ip().is_unspecified() => Err(format!(
            "listening on {addr} (every interface) needs the public URL clients use: pass \
             --issuer-base https://id.example.com (or OP_ISSUER_BASE); issuers are {{base}}/{{tenant}}"
        )
        .into()),
        None => Ok(format!("http://{addr}")),
    }
}

fn bound_addr(acceptor: &impl Acceptor) -> Result<SocketAddr, StartError> {
    Ok(acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or("listener has no socket address")?)
}

impl Server {
    /// Stops accepting, lets in-flight requests finish, flushes the store and closes it.
    pub async fn stop(self) -> std::io::Result<()> {
        self.purger.abort();
        if let Some(m) = &self.metrics_task {
            m.abort();
        }
        drop(self.state);
        let _ = self.stop.send(());
        self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

#[cfg(test)]
mod issuer_base_tests {
    use super::issuer_base;

    #[test]
    fn a_wildcard_listener_needs_an_explicit_issuer_base() {
        let any4 = "0.0.0.0:8080".parse().unwrap();
        let any6 = "[::]:8080".parse().unwrap();
        for addr in [any4, any6] {
            let refused = issuer_base(None, addr).unwrap_err().to_string();
            assert!(refused.contains("--issuer-base"), "{refused}");
        }
        assert_eq!(
            issuer_base(Some("https://id.example.com/"), any4).unwrap(),
            "https://id.example.com"
        );
        assert_eq!(
            issuer_base(None, "127.0.0.1:8080".parse().unwrap()).unwrap(),
            "http://127.0.0.1:8080"
        );
    }
}
