//! Scope parsing (a set: order and repeats do not matter).

use std::collections::BTreeSet;

/// Parses a space-separated scope string into a sorted set; `None` if a value is malformed.
// RFC6749-3.3-scope-order
pub fn parse(scope: &str) -> Option<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        // RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E
        if s.len() > 128
            || !s
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            return None;
        }
        set.insert(s.to_string());
    }
    Some(set)
}

/// Joins scopes with spaces.
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    quickcheck! {
        fn order_and_repeats_do_not_matter(words: Vec<u8>) -> bool {
            spec::covers("RFC6749-3.3-scope-order");
            let names = ["openid", "profile", "email", "offline_access"];
            let picked: Vec<&str> = words.iter().map(|w| names[*w as usize % names.len()]).collect();
            let mut rev = picked.clone();
            rev.reverse();
            rev.extend(picked.iter().take(2));
            parse(&picked.join(" ")) == parse(&rev.join("  "))
        }
    }

    #[test]
    fn malformed_scope_values_are_refused() {
        assert!(parse("openid \"quoted\"").is_none());
        assert!(parse("openid back\\slash").is_none());
        assert_eq!(parse("").unwrap().len(), 0);
    }
}
