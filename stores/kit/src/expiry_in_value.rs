//! The expiry time an embedded store keeps inside a stored value (`Tx::put_expiring`), so that it
//! is written in the same place, in the same commit, as the record.
//!
//! A value written with `put_expiring` is stored as `0xFF`, the time (8 bytes, big-endian), then
//! the bytes as given; one written with `put` as given, unless it starts with `0xFE` or `0xFF`,
//! when `0xFE` goes first. Every stored value so reads back unambiguously, and the values older
//! versions stored (JSON, never starting with either byte) read as written.

use engine::env::UnixTime;

/// First byte of a value stored with its expiry time.
const TIMED: u8 = 0xFF;
/// First byte of a value stored without one whose own first byte is `TIMED` or this.
const ESCAPED: u8 = 0xFE;

/// The stored form of `value`, with its expiry time if it has one.
pub fn encode(value: Vec<u8>, at: Option<UnixTime>) -> Vec<u8> {
    match (at, value.first()) {
        (Some(at), _) => {
            let mut stored = Vec::with_capacity(9 + value.len());
            stored.push(TIMED);
            stored.extend_from_slice(&at.0.to_be_bytes());
            stored.extend_from_slice(&value);
            stored
        }
        (None, Some(&ESCAPED | &TIMED)) => {
            let mut stored = Vec::with_capacity(1 + value.len());
            stored.push(ESCAPED);
            stored.extend_from_slice(&value);
            stored
        }
        (None, _) => value,
    }
}

/// The expiry time a stored value carries, if any.
pub fn time_of(stored: &[u8]) -> Option<UnixTime> {
    match stored {
        [TIMED, rest @ ..] if rest.len() >= 8 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(&rest[..8]);
            Some(UnixTime(u64::from_be_bytes(be)))
        }
        _ => None,
    }
}

/// The value as it was written, from its stored form.
pub fn decode(stored: &[u8]) -> &[u8] {
    match stored {
        [TIMED, rest @ ..] if rest.len() >= 8 => &rest[8..],
        [ESCAPED, rest @ ..] => rest,
        _ => stored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_written_with_its_time() {
        let values: [&[u8]; 7] = [
            b"",
            b"{\"a\":1}",
            &[TIMED],
            &[ESCAPED],
            &[TIMED, 1, 2],
            &[ESCAPED, TIMED],
            b"x",
        ];
        for value in values {
            for at in [
                None,
                Some(UnixTime(0)),
                Some(UnixTime(1_700_000_000)),
                Some(UnixTime(u64::MAX)),
            ] {
                let stored = encode(value.to_vec(), at);
                assert_eq!(decode(&stored), value, "{value:?} {at:?}");
                assert_eq!(time_of(&stored), at, "{value:?} {at:?}");
            }
        }
        assert_eq!(encode(b"{}".to_vec(), None), b"{}", "JSON is stored as it is");
        assert_eq!(decode(b"{}"), b"{}", "what older versions stored reads as written");
    }
}
