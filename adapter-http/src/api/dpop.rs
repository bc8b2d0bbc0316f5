//! Reading DPoP (RFC 9449) off a request: the `DPoP` header and the `Authorization` scheme; and
//! the `DPoP` challenge of a resource's error.

use engine::dpop::{DpopHeader, PresentedToken, Scheme, SIGNING_ALGS};
use poem::http::header;
use poem::Request;

/// The request's `DPoP` header, several joined with `, ` (the engine refuses those).
pub(super) fn proof(req: &Request) -> Option<DpopHeader> {
    let values: Vec<&str> = req
        .headers()
        .get_all("dpop")
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect();
    (!values.is_empty()).then(|| DpopHeader {
        value: values.join(", "),
        method: req.method().as_str().to_string(),
    })
}

/// The access token of the `Authorization` header (`Bearer` or `DPoP`), with the request's proof.
pub(super) fn presented(req: &Request) -> Result<Option<PresentedToken>, &'static str> {
    let Some(h) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let h = h.to_str().map_err(|_| "the Authorization header is not ASCII")?;
    let (scheme, token) = h
        .split_once(' ')
        .ok_or("the Authorization header must be `Bearer <token>` or `DPoP <token>`")?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err("the Authorization header must be `Bearer <token>` or `DPoP <token>`");
    };
    let token = token.trim();
    if token.is_empty() {
        return Err("the Authorization header carries no token");
    }
    Ok(Some(PresentedToken {
        token: token.to_string(),
        scheme,
        proof: proof(req),
    }))
}

/// The `DPoP` challenge (RFC 9449 §7.1) with the algorithms proofs may use.
pub(super) fn challenge(error: Option<(&str, &str)>) -> String {
    let algs = SIGNING_ALGS.join(" ");
    match error {
        None => format!("DPoP algs=\"{algs}\""),
        Some((code, description)) => {
            format!("DPoP error=\"{code}\", error_description=\"{description}\", algs=\"{algs}\"")
        }
    }
}
