//! Fetches a client's `jwks_uri` again when it signs with a key id we have not stored (the client
//! rotated its keys), at most once a minute per client (`shared_state`), before the engine
//! verifies the JWT.

use crate::state::Shared;

/// If `jwt` (a client assertion or request object of `client_id`) names a key the client's stored
/// set lacks and the client registered a `jwks_uri`, fetches it and hands the set to the engine.
pub async fn refresh_if_unknown_kid(state: &Shared, tenant: &str, client_id: &str, jwt: &str) {
    let (t, id, jwt) = (tenant.to_string(), client_id.to_string(), jwt.to_string());
    let to_refresh = state.engine.call(move |e, _| e.jwks_uri_to_refresh(&t, &id, &jwt));
    let Some(uri) = to_refresh.await else {
        return;
    };
    if !state.shared.may_refresh_client_keys(&format!("{tenant}/{client_id}")) {
        return;
    }
    let fetched = state.outbound.get(&uri).await.map_err(|e| e.describe());
    let (t, id, keys) = (tenant.to_string(), client_id.to_string(), fetched.clone());
    match state
        .engine
        .call(move |e, env| e.handle_client_jwks_refresh(env, &t, &id, &keys))
        .await
    {
        Ok(true) => tracing::info!(%tenant, %client_id, "client keys fetched again from jwks_uri"),
        Ok(false) => tracing::info!(%tenant, %client_id, result = ?fetched.err(), "jwks_uri gave no new usable keys"),
        Err(e) => tracing::warn!(%tenant, %client_id, error = %e.description(), "storing fetched client keys failed"),
    }
}

/// The client a private_key_jwt assertion claims to come from (`sub`, unverified).
pub fn assertion_subject(assertion: &str) -> Option<String> {
    let compact = engine::jose::decode(assertion).ok()?;
    let claims: serde_json::Value = compact.claims().ok()?;
    claims["sub"].as_str().map(str::to_owned)
}
