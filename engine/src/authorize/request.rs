//! The authorization request as received, and as validated.

use serde::{Deserialize, Serialize};
use spec::{Prompt, ResponseMode};

// RFC6749-3.1-unknown-parameters
/// Authorization request parameters exactly as received (query or form); unknown ones are dropped
/// by the adapter (RFC 6749 §3.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `response_type`.
    pub response_type: Option<String>,
    /// `response_mode`.
    pub response_mode: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `max_age`.
    pub max_age: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `id_token_hint`.
    pub id_token_hint: Option<String>,
    /// `request` (request object by value).
    pub request: Option<String>,
    /// `request_uri` (request object by reference; the adapter fetches it).
    pub request_uri: Option<String>,
    /// `claims` (OIDC Core §5.5), JSON text.
    pub claims: Option<String>,
    /// `display` (accepted; every page works at every size).
    pub display: Option<String>,
    /// `ui_locales` (accepted; pages are in English).
    pub ui_locales: Option<String>,
    /// `claims_locales` (accepted; claims have one language).
    pub claims_locales: Option<String>,
    /// `acr_values`: the authentication levels asked, in order of preference (`1`, `2`).
    pub acr_values: Option<String>,
    /// `dpop_jkt` (RFC 9449 §10): the thumbprint of the DPoP key the code is to be bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// What the adapter fetched at `request_uri`. Never read from the client's parameters.
    #[serde(skip)]
    pub request_uri_document: Option<super::request_object::FetchedDocument>,
    /// The request came from `/par` (RFC 9126): set by the engine, never from parameters.
    #[serde(skip)]
    pub pushed: bool,
}

/// A request that passed every check; stored while login and consent happen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedRequest {
    /// The client.
    pub client_id: String,
    /// The registered redirect URI it named.
    pub redirect_uri: String,
    /// What to answer with (`code` for requests stored before other types existed).
    #[serde(default)]
    pub response_type: super::response_type::ResponseType,
    /// How to answer.
    pub response_mode: ResponseMode,
    /// JARM (`*.jwt` response modes): the response goes as one JWT signed for the client.
    #[serde(default)]
    pub jarm: bool,
    /// Requested scopes, sorted and deduplicated.
    pub scopes: Vec<String>,
    /// The client's state (absent only for a client registered with `require_state: false`
    /// that sent a PKCE challenge).
    pub state: Option<String>,
    /// The client's nonce.
    pub nonce: Option<String>,
    /// S256 challenge.
    pub code_challenge: Option<String>,
    /// Prompt values.
    pub prompts: Vec<Prompt>,
    /// Maximum authentication age in seconds.
    pub max_age: Option<u64>,
    /// Username to prefill.
    pub login_hint: Option<String>,
    /// Subject of a valid id_token_hint.
    pub hint_subject: Option<String>,
    /// Individual claims asked for with the `claims` parameter.
    #[serde(default)]
    pub claims: crate::authorize::claims_request::RequestedClaims,
    /// The DPoP key the code is bound to (RFC 9449 §10), its thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The authentication level asked with `acr_values` or the `claims` parameter's `acr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<crate::mfa::AcrRequest>,
}

impl ValidatedRequest {
    /// Whether `prompt` contains `p`.
    pub fn prompts_for(&self, p: Prompt) -> bool {
        self.prompts.contains(&p)
    }
}
