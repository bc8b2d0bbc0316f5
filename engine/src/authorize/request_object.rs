//! Request objects (OIDC Core §6): `request` by value and `request_uri` by reference (fetched by
//! the adapter, which hands the engine the document), unsigned or signed with one of the client's
//! registered keys. The object's parameters replace the query's.

use super::request::AuthorizationRequest;
use crate::client::ClientRecord;
use crate::env::UnixTime;
use crate::error::ProtocolError;
use crate::jose;
use serde_json::{Map, Value};
use spec::ErrorCode;

/// What the adapter fetched at `request_uri`: the body, or why it could not.
pub type FetchedDocument = Result<String, String>;

/// How far in the future a request object's `nbf`/`iat` may be (clock skew), seconds.
const SKEW: u64 = 60;

fn bad_object(d: &'static str) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidRequestObject, d)
}

/// The request with its object applied, `None` when it carries no object.
/// OIDC-CORE-6-request-object.
pub fn resolve(
    client: &ClientRecord,
    issuer: &str,
    now: UnixTime,
    req: &AuthorizationRequest,
) -> Result<Option<AuthorizationRequest>, ProtocolError> {
    let jwt = match (&req.request, &req.request_uri) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ProtocolError::new(
                ErrorCode::InvalidRequest,
                "request and request_uri must not be used together",
            ))
        }
        (Some(r), None) => r.trim().to_string(),
        (None, Some(_)) => match &req.request_uri_document {
            Some(Ok(body)) => body.trim().to_string(),
            Some(Err(_)) | None => {
                return Err(ProtocolError::new(
                    ErrorCode::InvalidRequestUri,
                    "the request_uri could not be fetched",
                ))
            }
        },
    };
    let (claims, signed) = verify(client, &jwt)?;
    check_claims(client, issuer, now, &claims, signed)?;
    merge(req, &claims).map(Some)
}

/// Decodes the object: (claims, whether it was signed). Unsigned objects must say `alg: none`
/// and carry no signature; signed ones must verify with a key the client registered.
fn verify(client: &ClientRecord, jwt: &str) -> Result<(Map<String, Value>, bool), ProtocolError> {
    let compact = jose::decode(jwt).map_err(|_| bad_object("the request object is not a compact JWS"))?;
    // A client that registered request_object_signing_alg must use exactly that alg.
    let registered = client
        .metadata
        .get("request_object_signing_alg")
        .and_then(|a| a.as_str());
    if registered.is_some_and(|a| a != compact.header.alg) {
        return Err(bad_object(
            "the request object's alg is not the client's registered request_object_signing_alg",
        ));
    }
    let signed = compact.header.alg != "none";
    if signed {
        let alg = compact
            .alg()
            .map_err(|_| bad_object("the request object's alg is not accepted"))?;
        if !client.signed(&compact, alg) {
            return Err(bad_object(
                "the request object's signature does not verify with the client's registered keys",
            ));
        }
    } else if !jwt.ends_with('.') {
        return Err(bad_object("an unsigned request object must have an empty signature"));
    }
    let claims: Map<String, Value> = compact
        .claims()
        .map_err(|_| bad_object("the request object's claims are not a JSON object"))?;
    Ok((claims, signed))
}

fn check_claims(
    client: &ClientRecord,
    issuer: &str,
    now: UnixTime,
    claims: &Map<String, Value>,
    signed: bool,
) -> Result<(), ProtocolError> {
    if claims.get("client_id").is_some_and(|c| c != client.client_id.as_str()) {
        return Err(bad_object("the request object's client_id differs from the request's"));
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(bad_object("a request object must not contain request or request_uri"));
    }
    if claims.get("exp").is_some_and(|e| e.as_u64().is_none_or(|e| e <= now.0)) {
        return Err(bad_object("the request object has expired"));
    }
    if claims
        .get("nbf")
        .is_some_and(|n| n.as_u64().is_none_or(|n| n > now.0 + SKEW))
    {
        return Err(bad_object("the request object is not valid yet"));
    }
    if signed {
        // A signed object names its signer and its audience (RFC 9101 §4), when present.
        if claims.get("iss").is_some_and(|i| i != client.client_id.as_str()) {
            return Err(bad_object("the request object's iss must be the client_id"));
        }
        let aud_ok = match claims.get("aud") {
            None => true,
            Some(Value::String(a)) => a == issuer,
            Some(Value::Array(a)) => a.iter().any(|v| v == issuer),
            Some(_) => false,
        };
        if !aud_ok {
            return Err(bad_object("the request object's aud must be the issuer"));
        }
    }
    Ok(())
}

/// The outer request with every parameter the object carries replaced by the object's value.
fn merge(req: &AuthorizationRequest, claims: &Map<String, Value>) -> Result<AuthorizationRequest, ProtocolError> {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(req) else {
        return Err(bad_object("the request cannot be merged"));
    };
    for (name, slot) in fields.iter_mut() {
        let Some(v) = claims.get(name) else { continue };
        *slot = match v {
            Value::String(s) => Value::String(s.clone()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            // `claims` is a JSON object inside an object; as a query parameter it is its text.
            Value::Object(_) if name == "claims" => Value::String(v.to_string()),
            Value::Null => Value::Null,
            _ => return Err(bad_object("a request object parameter has the wrong type")),
        };
    }
    fields.insert("request".into(), Value::Null);
    fields.insert("request_uri".into(), Value::Null);
    serde_json::from_value(Value::Object(fields)).map_err(|_| bad_object("the request cannot be merged"))
}
