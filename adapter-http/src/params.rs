//! Parsing of query strings and form bodies: UTF-8 only, size-bounded, and a known parameter
//! may appear at most once (RFC 6749 §3.1).

use std::collections::BTreeMap;

/// The largest query or form body we parse.
pub const MAX_PARAMS_BYTES: usize = 64 * 1024;

/// Why parameters were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// Too large.
    TooLarge,
    /// Not UTF-8 after percent-decoding.
    BadEncoding,
    /// A parameter that must appear once appeared more than once.
    Duplicate(String),
}

impl ParamError {
    /// A description for `error_description`.
    pub fn describe(&self) -> String {
        match self {
            ParamError::TooLarge => "request parameters are too large".into(),
            ParamError::BadEncoding => "request parameters are not valid UTF-8".into(),
            ParamError::Duplicate(p) => format!("parameter {p} must not be repeated"),
        }
    }
}

fn percent_decode(s: &[u8]) -> Result<String, ParamError> {
    // Most names and values (tokens, ids, base64url secrets) have nothing to decode.
    if !s.iter().any(|b| matches!(b, b'+' | b'%')) {
        return std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| ParamError::BadEncoding);
    }
    let plus: Vec<u8> = s.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ParamError::BadEncoding)
}

/// Parses `a=1&b=2` (query or form body). Every parameter named in `single` may appear once;
/// other repeated parameters keep their first value.
pub fn parse(raw: &[u8], single: &[&str]) -> Result<BTreeMap<String, String>, ParamError> {
    if raw.len() > MAX_PARAMS_BYTES {
        return Err(ParamError::TooLarge);
    }
    let mut map = BTreeMap::new();
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let k = percent_decode(k)?;
        let v = percent_decode(v)?;
        if map.contains_key(&k) {
            if single.contains(&k.as_str()) {
                return Err(ParamError::Duplicate(k));
            }
            continue;
        }
        map.insert(k, v);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects_duplicates_bad_utf8_and_oversize() {
        let m = parse(b"a=1&b=x%20y+z&c=%E2%9C%93&d&e=%zz", &["a"]).unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "x y z");
        assert_eq!(m["c"], "\u{2713}");
        assert_eq!(m["d"], "");
        assert_eq!(m["e"], "%zz");
        assert_eq!(parse(b"a=1&a=2", &["a"]), Err(ParamError::Duplicate("a".into())));
        assert_eq!(parse(b"x=1&x=2", &["a"]).unwrap()["x"], "1");
        assert_eq!(parse(b"a=%ff", &[]), Err(ParamError::BadEncoding));
        assert_eq!(parse(&vec![b'a'; MAX_PARAMS_BYTES + 1], &[]), Err(ParamError::TooLarge));
        assert_eq!(parse(b"a=%4", &[]).unwrap()["a"], "%4");
        assert_eq!(parse(b"a=%", &[]).unwrap()["a"], "%");
        // Nothing to decode: still UTF-8 only.
        assert_eq!(parse(b"a=\xff", &[]), Err(ParamError::BadEncoding));
        assert_eq!(
            parse(b"\xe2\x9c\x93=\xe2\x9c\x93", &[]).unwrap()["\u{2713}"],
            "\u{2713}"
        );
    }
}
