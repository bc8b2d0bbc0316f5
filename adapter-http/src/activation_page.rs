//! `GET|POST /{tenant}/activate`: the page an invited user's activation link opens, and the form
//! on it that sets their password. The engine decides whether the link is live and sets the
//! password; this only renders.

use crate::state::Shared;
use crate::web::{read_params, PageCtx};
use engine::EngineError;
use minijinja::context;
use poem::http::{Method, StatusCode};
use poem::web::{Data, Path};
use poem::{handler, Body, Request, Response};

/// The activation form for `token`, with `error` above it.
fn form(
    page: &PageCtx<'_>,
    state: &Shared,
    tenant: &str,
    token: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let ctx = context! {
        action => format!("/{tenant}/activate"), token => token, csrf => &page.csrf,
        username => username, error => error,
    };
    page.finish(
        state
            .pages
            .render(StatusCode::OK, "activate.html", page.brand(None), ctx),
    )
}

fn refused(page: &PageCtx<'_>, e: &EngineError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    page.error_page(status, e.code().as_str(), &e.description())
}

/// `GET /{tenant}/activate?token=…` shows the form; `POST` (fields `token`, `password`,
/// `password_confirm`, `csrf`) sets the password and uses the link up.
#[handler]
pub async fn activate(req: &Request, Path(tenant): Path<String>, body: Body, Data(state): Data<&Shared>) -> Response {
    let page = PageCtx::new(state, &tenant, req).await;
    let info_of = |token: &str| {
        let (t, tok) = (tenant.clone(), token.to_string());
        state.engine.call(move |e, env| e.activation_info(env, &t, &tok))
    };
    if req.method() != Method::POST {
        let params = match read_params(req, body, &["token"]).await {
            Ok(p) => p,
            Err(e) => return page.error_page(StatusCode::BAD_REQUEST, "invalid_request", &e.describe()),
        };
        let token = params.get("token").cloned().unwrap_or_default();
        return match info_of(&token).await {
            Ok(info) => form(&page, state, &tenant, &token, &info.username, None),
            Err(e) => refused(&page, &e),
        };
    }
    let fields = ["token", "password", "password_confirm", "csrf", "username"];
    let f = match page.read_form(req, body, &fields).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let (token, password) = (get("token"), get("password"));
    let info = match info_of(&token).await {
        Ok(info) => info,
        Err(e) => return refused(&page, &e),
    };
    if password != get("password_confirm") {
        let error = Some("The two passwords differ; type the same password twice.");
        return form(&page, state, &tenant, &token, &info.username, error);
    }
    // argon2 is deliberately slow: off the async workers, a bounded number at a time, as at login.
    let Ok(_slot) = state.password_checks.acquire().await else {
        return page.error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "shutting down",
        );
    };
    let (t, tok) = (tenant.clone(), token.clone());
    let done = state
        .engine
        .call_slow(move |e, env| e.handle_activation(env, &t, &tok, &password))
        .await;
    match done {
        Ok(user) => {
            let ctx = context! { username => user.profile.username };
            page.finish(
                state
                    .pages
                    .render(StatusCode::OK, "activated.html", page.brand(None), ctx),
            )
        }
        // The link is still live, so the password was refused: say why on the form.
        Err(e) if info_of(&token).await.is_ok() => {
            form(&page, state, &tenant, &token, &info.username, Some(&e.description()))
        }
        Err(e) => refused(&page, &e),
    }
}
