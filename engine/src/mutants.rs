//! Deliberate bugs for model checking: each knob breaks one rule so a test can show that the
//! property guarding it finds a counterexample. The knobs can only be switched on through
//! `EngineConfig::mutants`, which exists only with the `mutants` feature.

/// Which rules to break.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mutants {
    /// A redeemed code can be redeemed again.
    pub code_reuse: bool,
    /// A replayed code does not revoke the tokens it issued.
    pub replay_keeps_tokens: bool,
    /// Any client may redeem any code.
    pub skip_client_binding: bool,
    /// The PKCE verifier is not checked.
    pub skip_pkce: bool,
    /// Refresh token generations are not tracked: rotated tokens stay valid and reuse goes unnoticed.
    pub no_reuse_detection: bool,
    /// Logout does not revoke the user's grants for the client.
    pub logout_keeps_tokens: bool,
    /// A second factor is never asked, whatever the tenant's policy.
    pub skip_second_factor: bool,
    /// A TOTP code is accepted again within its time step.
    pub totp_replay: bool,
    /// Consent is never asked.
    pub skip_consent: bool,
    /// redirect_uri matches by prefix.
    pub lenient_redirect: bool,
    /// Token records are looked up in the tenant named by the token, not the request's.
    pub trust_token_issuer: bool,
    /// Codes stay redeemable after their session logged out.
    pub code_survives_logout: bool,
    /// A refresh reads the token's family once, in a transaction of its own before the
    /// rotation's, and reuses that copy when the rotation runs again after a conflict: a side
    /// effect outside the transaction.
    pub family_read_outside_transaction: bool,
    /// A DPoP proof can be used again (its use is not looked up).
    pub dpop_replay: bool,
    /// A DPoP-bound access token is accepted at a resource as a Bearer token, without a proof.
    pub dpop_binding_ignored: bool,
    /// A pushed request's `request_uri` is not deleted when it is used.
    pub par_reuse: bool,
    /// Revocation answers 200 and revokes nothing.
    pub revoke_noop: bool,
    /// An access token stays active after it expired.
    pub ignore_expiry: bool,
    /// The ID token leaves out the request's nonce.
    pub id_token_nonce_dropped: bool,
    /// The ID token leaves out the session's `sid`.
    pub id_token_sid_dropped: bool,
    /// `max_age` is ignored: an old session is reused.
    pub ignore_max_age: bool,
    /// `prompt=none` without a session shows the login page.
    pub prompt_none_shows_login: bool,
    /// The token endpoint does not compare the code's redirect_uri.
    pub token_redirect_unchecked: bool,
    /// A refresh token is honoured for any client of its tenant.
    pub refresh_client_unchecked: bool,
    /// Disabling a user answers as if done and changes nothing.
    pub disable_user_noop: bool,
    /// A key rotation unpublishes the previous keys at once.
    pub rotation_forgets_old_keys: bool,
    /// Tokens of a deactivated client stay active.
    pub deactivated_client_tokens_live: bool,
}
