//! Browser-facing endpoints: authorize, the login and consent forms, end-session.
//! Each handler parses HTTP into an engine call and renders the engine's outcome; no protocol
//! decision is made here.

use crate::cookies;
use crate::doc_cache::Doc;
use crate::pages::{brand, scope_text};
use crate::params::{self, ParamError};
use crate::state::Shared;
use engine::authorize::second_factor::FactorOutcome;
use engine::session::logout::{EndSessionOutcome, EndSessionRequest};
use engine::{AuthorizationRequest, AuthorizeOutcome, LoginOutcome, RedirectResponse};
use minijinja::context;
use poem::http::{header, Method, StatusCode};
use poem::web::{Data, Path};
use poem::{handler, Body, Request, Response};
use spec::ResponseMode;
use std::collections::BTreeMap;

const AUTHORIZE_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "request",
    "request_uri",
    "claims",
    "display",
    // OIDC-CORE-3.1.2.1-optional-parameters
    "ui_locales",
    "claims_locales",
    "acr_values",
    "dpop_jkt",
];

/// Reads parameters from the query (GET) or a form body (POST).
pub(crate) async fn read_params(
    req: &Request,
    body: Body,
    single: &[&str],
) -> Result<BTreeMap<String, String>, ParamError> {
    if req.method() == Method::POST {
        let form = req
            .content_type()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(ParamError::BadEncoding);
        }
        let bytes = body
            .into_bytes_limit(params::MAX_PARAMS_BYTES)
            .await
            .map_err(|_| ParamError::TooLarge)?;
        params::parse(&bytes, single)
    } else {
        params::parse(req.uri().query().unwrap_or("").as_bytes(), single)
    }
}

/// Per-request page context: tenant, its branding, the CSRF token (and whether to set it).
pub(crate) struct PageCtx<'a> {
    state: &'a Shared,
    tenant: &'a str,
    tenant_branding: Option<engine::Branding>,
    pub(crate) csrf: String,
    set_csrf: bool,
}

impl<'a> PageCtx<'a> {
    pub(crate) async fn new(state: &'a Shared, tenant: &'a str, req: &Request) -> Self {
        // Kept with the tenant's documents (rendered again after any Admin API change), so a
        // page request does not pay a store transaction for it.
        let slug = tenant.to_string();
        let render = || async move {
            let t = state.engine.call(move |e, _| e.tenant(&slug).ok().flatten()).await?;
            let mut b = t.branding;
            b.display_name = b.display_name.or(Some(t.display_name));
            serde_json::to_vec(&b).ok()
        };
        let tenant_branding = state
            .docs
            .get_or_render(state.shared.doc_generation(), tenant, Doc::Branding, render)
            .await
            .and_then(|bytes| serde_json::from_slice::<engine::Branding>(&bytes).ok());
        let (csrf, set_csrf) = match cookies::read(req, cookies::CSRF) {
            Some(c) => (c, false),
            None => (crate::os_env::random_token(), true),
        };
        PageCtx {
            state,
            tenant,
            tenant_branding,
            csrf,
            set_csrf,
        }
    }

    pub(crate) fn finish(&self, mut r: Response) -> Response {
        if self.set_csrf {
            let c = cookies::set(cookies::CSRF, &self.csrf, self.tenant, None, self.state.secure_cookies);
            r.headers_mut()
                .append(header::SET_COOKIE, c.parse().expect("cookie header"));
        }
        r
    }

    /// Reads one of our own forms: well-formed parameters and a CSRF value matching the cookie.
    pub(crate) async fn read_form(
        &self,
        req: &Request,
        body: Body,
        fields: &[&str],
    ) -> Result<BTreeMap<String, String>, Response> {
        let form = read_params(req, body, fields)
            .await
            .map_err(|e| self.error_page(StatusCode::BAD_REQUEST, "invalid_request", &e.describe()))?;
        if !cookies::csrf_ok(req, form.get("csrf").map(String::as_str)) {
            let d = "the form has expired; go back to the application and sign in again";
            return Err(self.error_page(StatusCode::BAD_REQUEST, "invalid_request", d));
        }
        Ok(form)
    }

    pub(crate) fn brand(&self, client: Option<&engine::Branding>) -> minijinja::Value {
        brand(self.tenant, client, self.tenant_branding.as_ref())
    }

    /// The page for an error the engine answered with: 500 for `server_error`, 503 (with
    /// `Retry-After`) for `temporarily_unavailable` (the store cannot be reached now), else 400.
    fn engine_error_page(&self, e: &engine::ProtocolError) -> Response {
        let status = match e.code {
            spec::ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            spec::ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut r = self.error_page(status, e.code.as_str(), &e.description);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, crate::api::RETRY_AFTER_UNAVAILABLE.into());
        }
        r
    }

    /// `429` with `Retry-After: wait` (a rate limit or the failed-login throttle).
    pub(crate) fn too_many(&self, wait: u64, description: &str) -> Response {
        let mut r = self.error_page(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", description);
        r.headers_mut().insert(header::RETRY_AFTER, wait.into());
        r
    }

    pub(crate) fn error_page(&self, status: StatusCode, error: &str, description: &str) -> Response {
        self.finish(self.state.pages.error(status, self.brand(None), error, description))
    }

    fn redirect(&self, r: &RedirectResponse, status: StatusCode) -> Response {
        if r.mode == ResponseMode::FormPost {
            return self.finish(self.state.pages.form_post(r.target.uri(), &r.params));
        }
        self.finish(
            Response::builder()
                .status(status)
                .header(header::LOCATION, r.location())
                .header(header::CACHE_CONTROL, "no-store")
                .finish(),
        )
    }

    /// Renders any authorization-endpoint outcome.
    fn outcome(&self, out: AuthorizeOutcome, redirect_status: StatusCode) -> Response {
        match out {
            AuthorizeOutcome::ErrorPage(e) => self.engine_error_page(&e),
            AuthorizeOutcome::Redirect(r) => self.redirect(&r, redirect_status),
            AuthorizeOutcome::Login(p) => {
                let ctx = context! {
                    action => format!("/{}/login", self.tenant), transaction => p.transaction, csrf => &self.csrf,
                    client_name => p.client_name, login_hint => p.login_hint, error => p.error,
                    policy_uri => p.links.policy_uri, tos_uri => p.links.tos_uri,
                };
                self.finish(
                    self.state
                        .pages
                        .render(StatusCode::OK, "login.html", self.brand(Some(&p.branding)), ctx),
                )
            }
            AuthorizeOutcome::Consent(p) => {
                let scopes: Vec<_> = p
                    .scopes
                    .iter()
                    .map(|s| context! { name => s, text => scope_text(s) })
                    .collect();
                let ctx = context! {
                    action => format!("/{}/consent", self.tenant), transaction => p.transaction, csrf => &self.csrf,
                    client_name => p.client_name, username => p.username, scopes => scopes,
                    policy_uri => p.links.policy_uri, tos_uri => p.links.tos_uri,
                };
                self.finish(
                    self.state
                        .pages
                        .render(StatusCode::OK, "consent.html", self.brand(Some(&p.branding)), ctx),
                )
            }
            AuthorizeOutcome::SecondFactor(p) => {
                let (action, qr_svg) = match &p.enrolment {
                    Some(e) => ("enrol", crate::qr::svg(&e.uri).map(minijinja::Value::from_safe_string)),
                    None => ("second-factor", None),
                };
                let enrolment = p
                    .enrolment
                    .as_ref()
                    .map(|e| context! { secret => &e.secret, uri => &e.uri });
                let ctx = context! {
                    action => format!("/{}/login/{action}", self.tenant), transaction => p.transaction, csrf => &self.csrf,
                    client_name => p.client_name, username => p.username, error => p.error,
                    enrolment => enrolment, qr_svg => qr_svg,
                    policy_uri => p.links.policy_uri, tos_uri => p.links.tos_uri,
                };
                self.finish(self.state.pages.render(
                    StatusCode::OK,
                    "second_factor.html",
                    self.brand(Some(&p.branding)),
                    ctx,
                ))
            }
            AuthorizeOutcome::RecoveryCodes(p) => {
                let ctx = context! {
                    action => format!("/{}/login/continue", self.tenant), transaction => p.transaction, csrf => &self.csrf,
                    client_name => p.client_name, codes => p.codes,
                };
                self.finish(self.state.pages.render(
                    StatusCode::OK,
                    "recovery_codes.html",
                    self.brand(Some(&p.branding)),
                    ctx,
                ))
            }
        }
    }
}

// OIDC-CORE-3.1.2.1-post
/// `GET|POST /{tenant}/authorize`.
#[handler]
pub async fn authorize(req: &Request, Path(tenant): Path<String>, body: Body, Data(state): Data<&Shared>) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let map = match read_params(req, body, AUTHORIZE_PARAMS).await {
        Ok(m) => m,
        Err(e) => return page.error_page(StatusCode::BAD_REQUEST, "invalid_request", &e.describe()),
    };
    let mut areq: AuthorizationRequest = serde_json::to_value(&map)
        .and_then(serde_json::from_value)
        .unwrap_or_default();
    fetch_request_uri(state, &tenant, &mut areq).await;
    // A signed request object may name a key the client rotated in behind its jwks_uri.
    let object = areq
        .request
        .clone()
        .or_else(|| areq.request_uri_document.clone().and_then(Result::ok));
    if let (Some(client_id), Some(object)) = (areq.client_id.clone(), object) {
        crate::client_keys::refresh_if_unknown_kid(state, &tenant, &client_id, object.trim()).await;
    }
    let t = tenant.clone();
    let session = cookies::read(req, cookies::SESSION);
    let out = state
        .engine
        .call(move |e, env| e.handle_authorize(env, &t, &areq, session.as_deref()))
        .await;
    // RFC9700-4.12-303-after-post
    // After a POST, 303 makes the browser follow with a GET; 307 would re-post the form (RFC 9700 §4.12).
    let status = if req.method() == Method::POST {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    page.outcome(out, status)
}

/// Fetches the request object at `request_uri` for the engine (which does no I/O), only for a
/// request that names an active client of this tenant and carries no `request` too.
async fn fetch_request_uri(state: &Shared, tenant: &str, areq: &mut AuthorizationRequest) {
    let (Some(uri), None) = (areq.request_uri.as_deref(), areq.request.as_deref()) else {
        return;
    };
    // A pushed request (RFC 9126) is the engine's to find, not a document to fetch.
    if engine::authorize::pushed::names_pushed_request(areq) {
        return;
    }
    let known = match areq.client_id.clone() {
        Some(id) => {
            let tenant = tenant.to_string();
            state
                .engine
                .call(move |e, _| e.client(&tenant, &id).ok().flatten())
                .await
                .is_some_and(|c| c.active)
        }
        None => false,
    };
    if known {
        let fetched = state.outbound.get(uri).await.map_err(|e| e.describe());
        if let Err(why) = &fetched {
            tracing::info!(%tenant, reason = %why, "request_uri fetch failed");
        }
        areq.request_uri_document = Some(fetched);
    }
}

/// `POST /{tenant}/login`: fields `transaction`, `username`, `password`, `csrf`.
#[handler]
pub async fn login(req: &Request, Path(tenant): Path<String>, body: Body, Data(state): Data<&Shared>) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let form = match page
        .read_form(req, body, &["transaction", "username", "password", "csrf"])
        .await
    {
        Ok(m) => m,
        Err(r) => return r,
    };
    let ip = state.proxies.client_ip(req);
    if let Err(wait) = state.shared.rate(crate::shared_state::Limit::LoginPerIp, &ip) {
        return page.too_many(wait, "too many sign-in attempts; wait a moment and try again");
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (txn, user, pw) = (get("transaction"), get("username"), get("password"));
    let account = crate::login_throttle::account_key(&tenant, &user);
    if let Err(wait) = state.shared.login_allowed(&account, &ip) {
        return page.too_many(
            wait,
            "too many failed sign-in attempts for this account; wait and try again",
        );
    }
    let session = cookies::read(req, cookies::SESSION);
    let shared = state.clone();
    let t = tenant.clone();
    // argon2 is deliberately slow: keep it off the async workers, a bounded number at a time.
    let Ok(_slot) = state.password_checks.acquire().await else {
        return page.error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is shutting down",
        );
    };
    let metrics = shared.metrics.clone();
    let out = shared
        .engine
        .call_slow(move |e, env| {
            metrics.time_password_check(|| e.handle_login(env, &t, &txn, &user, &pw, session.as_deref()))
        })
        .await;
    match out {
        LoginOutcome::Rejected(p) => {
            state.shared.login_failed(&account, &ip);
            page.outcome(AuthorizeOutcome::Login(p), StatusCode::SEE_OTHER)
        }
        LoginOutcome::ErrorPage(e) => page.outcome(AuthorizeOutcome::ErrorPage(e), StatusCode::SEE_OTHER),
        // The password was right; the failures counted so far stay until the second factor passes.
        LoginOutcome::SecondFactor(next) => page.outcome(next, StatusCode::SEE_OTHER),
        LoginOutcome::LoggedIn { session, next } => {
            state.shared.login_succeeded(&account, &ip);
            with_session(&page, state, &tenant, &session, next)
        }
    }
}

/// `next`, with the cookie of the `session` just made.
fn with_session(
    page: &PageCtx<'_>,
    state: &Shared,
    tenant: &str,
    session: &engine::NewSession,
    next: AuthorizeOutcome,
) -> Response {
    let max_age = session.expires_at.0.saturating_sub(crate::os_env::now().0);
    let cookie = cookies::set(
        cookies::SESSION,
        &session.token,
        tenant,
        Some(max_age),
        state.secure_cookies,
    );
    let mut r = page.outcome(next, StatusCode::SEE_OTHER);
    r.headers_mut()
        .append(header::SET_COOKIE, cookie.parse().expect("cookie header"));
    r
}

/// `POST /{tenant}/login/second-factor`: fields `transaction`, `code` (from the app, or a
/// recovery code), `csrf`.
#[handler]
pub async fn second_factor(
    req: &Request,
    Path(tenant): Path<String>,
    body: Body,
    Data(state): Data<&Shared>,
) -> Response {
    factor_form(req, tenant, body, state, false).await
}

/// `POST /{tenant}/login/enrol`: fields `transaction`, `code` (the new app's first), `csrf`.
#[handler]
pub async fn enrol(req: &Request, Path(tenant): Path<String>, body: Body, Data(state): Data<&Shared>) -> Response {
    factor_form(req, tenant, body, state, true).await
}

async fn factor_form(req: &Request, tenant: String, body: Body, state: &Shared, enrolling: bool) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let form = match page.read_form(req, body, &["transaction", "code", "csrf"]).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let ip = state.proxies.client_ip(req);
    if let Err(wait) = state.shared.rate(crate::shared_state::Limit::LoginPerIp, &ip) {
        return page.too_many(wait, "too many sign-in attempts; wait a moment and try again");
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let (txn, code) = (get("transaction"), get("code"));
    let session = cookies::read(req, cookies::SESSION);
    let t = tenant.clone();
    let out = state
        .engine
        .call(move |e, env| match enrolling {
            true => e.handle_totp_enrolment(env, &t, &txn, &code, session.as_deref()),
            false => e.handle_second_factor(env, &t, &txn, &code, session.as_deref()),
        })
        .await;
    match out {
        // MFA-totp-once: a wrong code counts as a failed sign-in of the account.
        FactorOutcome::Rejected { page: next, account } => {
            let account = crate::login_throttle::account_key(&tenant, &account);
            state.shared.login_failed(&account, &ip);
            if let Err(wait) = state.shared.login_allowed(&account, &ip) {
                return page.too_many(
                    wait,
                    "too many failed sign-in attempts for this account; wait and try again",
                );
            }
            page.outcome(next, StatusCode::SEE_OTHER)
        }
        FactorOutcome::ErrorPage(e) => page.outcome(AuthorizeOutcome::ErrorPage(e), StatusCode::SEE_OTHER),
        FactorOutcome::Passed { session: None, next } => page.outcome(next, StatusCode::SEE_OTHER),
        FactorOutcome::Passed {
            session: Some(session),
            next,
        } => with_session(&page, state, &tenant, &session, next),
    }
}

/// `POST /{tenant}/login/continue`: fields `transaction`, `csrf` (after the recovery codes were shown).
#[handler]
pub async fn sign_in_continue(
    req: &Request,
    Path(tenant): Path<String>,
    body: Body,
    Data(state): Data<&Shared>,
) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let form = match page.read_form(req, body, &["transaction", "csrf"]).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let txn = form.get("transaction").cloned().unwrap_or_default();
    let t = tenant.clone();
    let session = cookies::read(req, cookies::SESSION);
    let out = state
        .engine
        .call(move |e, env| e.handle_sign_in_continue(env, &t, &txn, session.as_deref()))
        .await;
    page.outcome(out, StatusCode::SEE_OTHER)
}

/// `POST /{tenant}/consent`: fields `transaction`, `decision=approve|deny`, `csrf`.
#[handler]
pub async fn consent(req: &Request, Path(tenant): Path<String>, body: Body, Data(state): Data<&Shared>) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let form = match page.read_form(req, body, &["transaction", "decision", "csrf"]).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let approve = match form.get("decision").map(String::as_str) {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return page.error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "decision must be approve or deny",
            )
        }
    };
    let txn = form.get("transaction").cloned().unwrap_or_default();
    let t = tenant.clone();
    let session = cookies::read(req, cookies::SESSION);
    let out = state
        .engine
        .call(move |e, env| e.handle_consent(env, &t, &txn, session.as_deref(), approve))
        .await;
    page.outcome(out, StatusCode::SEE_OTHER)
}

/// `GET|POST /{tenant}/account`: the signed-in user's two-step sign-in. POST fields `action`
/// (`start`, `confirm` with `code`, `new-codes`, `remove`) and `csrf`.
#[handler]
pub async fn account_page(
    req: &Request,
    Path(tenant): Path<String>,
    body: Body,
    Data(state): Data<&Shared>,
) -> Response {
    use engine::mfa::account::{AccountAction, AccountOutcome};
    let page = PageCtx::new(state, &tenant, req).await;
    let action = match req.method() == Method::POST {
        false => AccountAction::View,
        true => {
            let form = match page.read_form(req, body, &["action", "code", "csrf"]).await {
                Ok(m) => m,
                Err(r) => return r,
            };
            match form.get("action").map(String::as_str) {
                Some("start") => AccountAction::StartTotp,
                Some("confirm") => AccountAction::ConfirmTotp(form.get("code").cloned().unwrap_or_default()),
                Some("new-codes") => AccountAction::NewRecoveryCodes,
                Some("remove") => AccountAction::RemoveTotp,
                _ => {
                    return page.error_page(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "action must be start, confirm, new-codes or remove",
                    )
                }
            }
        }
    };
    let t = tenant.clone();
    let session = cookies::read(req, cookies::SESSION);
    let out = state
        .engine
        .call(move |e, env| e.handle_account(env, &t, session.as_deref(), action))
        .await;
    let p = match out {
        AccountOutcome::Page(p) => p,
        AccountOutcome::SignInFirst => {
            return page.error_page(
                StatusCode::UNAUTHORIZED,
                "login_required",
                "sign in to one of this organisation's applications first, then come back to this page",
            )
        }
        AccountOutcome::ErrorPage(e) => return page.engine_error_page(&e),
    };
    let qr_svg = p
        .setting_up
        .as_ref()
        .and_then(|e| crate::qr::svg(&e.uri))
        .map(minijinja::Value::from_safe_string);
    let policy = match p.policy {
        engine::mfa::SecondFactorPolicy::PasswordOnly => "password_only",
        engine::mfa::SecondFactorPolicy::Optional => "optional",
        engine::mfa::SecondFactorPolicy::Required => "required",
    };
    let ctx = context! {
        action => format!("/{}/account", tenant), csrf => &page.csrf, username => p.username,
        policy => policy, enrolled => p.totp_enrolled_at.is_some(),
        recovery_codes_left => p.recovery_codes_left, message => p.message.map(|m| m.text),
        refused => p.message.is_some_and(|m| m.refused),
        new_codes => p.new_codes, qr_svg => qr_svg,
        setting_up => p.setting_up.map(|e| context! { secret => e.secret, uri => e.uri }),
    };
    page.finish(
        state
            .pages
            .render(StatusCode::OK, "account.html", page.brand(None), ctx),
    )
}

/// `GET|POST /{tenant}/end-session` (RP-initiated logout).
#[handler]
pub async fn end_session(
    req: &Request,
    Path(tenant): Path<String>,
    body: Body,
    Data(state): Data<&Shared>,
) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let single = [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
        "confirm",
        "csrf",
        "logout_hint",
        "ui_locales",
    ];
    let map = match read_params(req, body, &single).await {
        Ok(m) => m,
        Err(e) => return page.error_page(StatusCode::BAD_REQUEST, "invalid_request", &e.describe()),
    };
    let ereq = EndSessionRequest {
        id_token_hint: map.get("id_token_hint").cloned(),
        client_id: map.get("client_id").cloned(),
        post_logout_redirect_uri: map.get("post_logout_redirect_uri").cloned(),
        state: map.get("state").cloned(),
    };
    let confirmed = req.method() == Method::POST
        && map.get("confirm").map(String::as_str) == Some("yes")
        && cookies::csrf_ok(req, map.get("csrf").map(String::as_str));
    let t = tenant.clone();
    let session = cookies::read(req, cookies::SESSION);
    let out = state
        .engine
        .call(move |e, env| e.handle_end_session(env, &t, &ereq, session.as_deref(), confirmed))
        .await;
    match out {
        EndSessionOutcome::ErrorPage(e) => page.engine_error_page(&e),
        EndSessionOutcome::Confirm { client_name } => {
            let fields: Vec<(&str, &String)> = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"]
                .iter()
                .filter_map(|k| map.get(*k).map(|v| (*k, v)))
                .collect();
            let ctx = context! { action => format!("/{tenant}/end-session"), csrf => &page.csrf, client_name => client_name, fields => fields };
            page.finish(
                state
                    .pages
                    .render(StatusCode::OK, "logout_confirm.html", page.brand(None), ctx),
            )
        }
        EndSessionOutcome::LoggedOut { redirect, backchannel } => {
            state.outbound.send_logout_tokens(&tenant, backchannel).await;
            let mut r = match redirect {
                Some(r) => page.redirect(&r, StatusCode::SEE_OTHER),
                None => page.finish(state.pages.render(
                    StatusCode::OK,
                    "logged_out.html",
                    page.brand(None),
                    context! {},
                )),
            };
            let clear = cookies::clear(cookies::SESSION, &tenant, state.secure_cookies);
            r.headers_mut()
                .append(header::SET_COOKIE, clear.parse().expect("cookie header"));
            r
        }
    }
}
