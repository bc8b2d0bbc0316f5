//! A real third-party Rust OIDC client (the `openidconnect` crate) against the server, unchanged:
//! discovery → authorize (PKCE, nonce) → token → ID token verified against the JWKS → UserInfo.

mod common;
use common::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

#[tokio::test]
async fn openidconnect_crate_completes_the_code_flow() {
    let t = start().await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(t.iss.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(t.demo.client_id.clone()),
        Some(ClientSecret::new(t.demo.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let r = browse_to_redirect(&browser(), &t.iss, url.as_str(), &t.demo.username, &t.demo.password).await;
    let loc = location(&r);
    assert_eq!(param(&loc, "state").as_deref(), Some(csrf.secret().as_str()));
    let code = param(&loc, "code").unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint from discovery")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies against the published JWKS");
    assert_eq!(claims.issuer().as_str(), t.iss);
    assert_eq!(claims.email().map(|e| e.as_str()), Some("demo@example.com"));
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .expect("userinfo endpoint from discovery")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject(), claims.subject());
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some("demo@example.com"));
    // A tampered ID token is refused by the client library.
    let mut forged: Vec<char> = id_token.to_string().chars().collect();
    let i = forged.len() - 20;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let forged: openidconnect::core::CoreIdToken = forged.parse().unwrap();
    assert!(forged.claims(&verifier, &nonce).is_err());
}
