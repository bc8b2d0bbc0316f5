//! The engine's one error family and its mapping to wire error codes.

use spec::ErrorCode;
use std::borrow::Cow;
use std::fmt;

/// A protocol error: the wire code and a description that is safe to show the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// The `error` value.
    pub code: ErrorCode,
    /// The `error_description` value.
    pub description: Cow<'static, str>,
}

impl ProtocolError {
    /// A protocol error with a fixed description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        ProtocolError {
            code,
            description: description.into(),
        }
    }
}

/// A failure of the storage layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    const UNAVAILABLE: &'static str = "unavailable: ";

    /// The store cannot answer now (its database is unreachable) outside a transaction (a scan):
    /// the caller gets [`EngineError::Unavailable`] (503, `temporarily_unavailable`), as a
    /// transaction that could not reach the database does, not a server error.
    pub fn unavailable(why: impl fmt::Display) -> Self {
        StoreError(format!("{}{why}", Self::UNAVAILABLE))
    }

    /// Whether this is [`StoreError::unavailable`].
    pub fn is_unavailable(&self) -> bool {
        self.0.starts_with(Self::UNAVAILABLE)
    }
}

/// Everything an engine call can fail with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The request broke a protocol rule; tell the client.
    Protocol(ProtocolError),
    /// Storage failed; the client sees server_error, operators see the detail.
    Storage(StoreError),
    /// The caller (adapter, admin) used the engine wrongly, e.g. a record that cannot be decoded.
    Misuse(String),
    /// The store cannot answer now (its database is unreachable, or kept refusing the transaction
    /// for conflicts): nothing was written; the client may retry. Operators see the detail.
    Unavailable(String),
}

impl EngineError {
    /// The wire error code this error is reported as. The only mapping there is.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Protocol(p) => p.code,
            EngineError::Storage(_) | EngineError::Misuse(_) => ErrorCode::ServerError,
            EngineError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
        }
    }

    /// The description shown to the client (internal detail is never shown).
    pub fn description(&self) -> Cow<'static, str> {
        match self {
            EngineError::Protocol(p) => p.description.clone(),
            EngineError::Storage(_) | EngineError::Misuse(_) => "internal server error".into(),
            EngineError::Unavailable(_) => "the service is temporarily unavailable; try again shortly".into(),
        }
    }

    /// The HTTP status for a direct (non-redirect) response: 503 while the store is unavailable
    /// (`temporarily_unavailable` is 429 when a rate limit says it).
    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::Unavailable(_) => 503,
            _ => self.code().http_status(),
        }
    }

    /// The protocol error, if it is one.
    pub fn as_protocol(&self) -> Option<&ProtocolError> {
        match self {
            EngineError::Protocol(p) => Some(p),
            _ => None,
        }
    }
}

impl From<ProtocolError> for EngineError {
    fn from(p: ProtocolError) -> Self {
        EngineError::Protocol(p)
    }
}

impl From<StoreError> for EngineError {
    fn from(s: StoreError) -> Self {
        match s.0.strip_prefix(StoreError::UNAVAILABLE) {
            Some(why) => EngineError::Unavailable(why.to_string()),
            None => EngineError::Storage(s),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Protocol(p) => write!(f, "{}: {}", p.code, p.description),
            EngineError::Storage(s) => write!(f, "storage: {}", s.0),
            EngineError::Misuse(m) => write!(f, "misuse: {m}"),
            EngineError::Unavailable(m) => write!(f, "unavailable: {m}"),
        }
    }
}

impl std::error::Error for EngineError {}

/// Shorthand constructors used by the checks.
pub(crate) fn err(code: ErrorCode, description: &'static str) -> EngineError {
    EngineError::Protocol(ProtocolError::new(code, description))
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
