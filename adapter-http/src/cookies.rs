//! Cookies: the browser session (per tenant path) and the double-submit CSRF token.

use poem::Request;

/// Session cookie name (scoped to `/{tenant}` by its Path).
pub const SESSION: &str = "op_session";
/// CSRF cookie name; forms echo its value in a `csrf` field.
pub const CSRF: &str = "op_csrf";

/// Reads cookie `name` from the request.
pub fn read(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/{tenant}, Secure unless plain-http loopback.
pub fn set(name: &str, value: &str, tenant: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/{tenant}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// A `Set-Cookie` value that deletes cookie `name`.
pub fn clear(name: &str, tenant: &str, secure: bool) -> String {
    set(name, "", tenant, Some(0), secure)
}

/// Whether the form's CSRF value equals the cookie's (constant time).
// RFC9700-4.7-login-csrf
pub fn csrf_ok(req: &Request, form_value: Option<&str>) -> bool {
    match (read(req, CSRF), form_value) {
        (Some(c), Some(f)) => aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), f.as_bytes()).is_ok(),
        _ => false,
    }
}
