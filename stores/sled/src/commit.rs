//! Atomic multi-write commits on a sled tree: the write set is recorded as one intent value,
//! applied, then the intent is removed; `open` finishes a commit a crash interrupted.

use std::collections::BTreeMap;

/// Where a multi-write commit keeps its write set until every write is applied (outside every
/// table's key range: table names are lowercase ASCII).
pub(super) const INTENT_KEY: &[u8] = b"\xffcommit-intent";

/// Applies a transaction's writes atomically. One write is one sled insert. Several are first
/// recorded as one intent value, then applied, then the intent is removed. sled recovers its
/// log as a prefix of the writes made (its own SIGKILL test, `tests/test_crash_recovery.rs`,
/// checks exactly that for single inserts), so after a crash either the intent survives (and
/// `open` finishes the commit) or none of the writes do. (sled's own `apply_batch` would do, but it rolls and
/// syncs the log buffer twice per batch: two synchronous disk writes per transaction.)
pub(super) fn commit(tree: &sled::Tree, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Result<(), sled::Error> {
    if writes.len() > 1 {
        tree.insert(INTENT_KEY, encode_writes(writes))?;
    }
    for (k, v) in writes {
        match v {
            Some(v) => tree.insert(k.as_slice(), v.as_slice())?,
            None => tree.remove(k.as_slice())?,
        };
    }
    if writes.len() > 1 {
        tree.remove(INTENT_KEY)?;
    }
    Ok(())
}

/// Re-applies the writes of a commit a crash interrupted (they are idempotent).
pub(super) fn finish_interrupted_commit(tree: &sled::Tree) -> Result<(), sled::Error> {
    let Some(intent) = tree.get(INTENT_KEY)? else {
        return Ok(());
    };
    let writes = decode_writes(&intent)
        .ok_or_else(|| sled::Error::Unsupported("unreadable commit intent in the data dir".into()))?;
    tracing::warn!(writes = writes.len(), "finishing a commit interrupted by a crash");
    for (k, v) in writes {
        match v {
            Some(v) => tree.insert(k, v)?,
            None => tree.remove(k)?,
        };
    }
    tree.remove(INTENT_KEY)?;
    Ok(())
}

/// `[u32 key len][key][u8 1 + u32 len + value | u8 0]…`, little-endian lengths.
pub(super) fn encode_writes(writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in writes {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k);
        match v {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
    }
    out
}

#[allow(clippy::type_complexity)]
pub(super) fn decode_writes(mut b: &[u8]) -> Option<Vec<(Vec<u8>, Option<Vec<u8>>)>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (b.get(..n)?, b.get(n..)?);
        *b = tail;
        Some(head)
    }
    fn len(b: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?) as usize)
    }
    let mut writes = Vec::new();
    while !b.is_empty() {
        let n = len(&mut b)?;
        let k = take(&mut b, n)?.to_vec();
        let v = match take(&mut b, 1)?[0] {
            1 => {
                let n = len(&mut b)?;
                Some(take(&mut b, n)?.to_vec())
            }
            0 => None,
            _ => return None,
        };
        writes.push((k, v));
    }
    Some(writes)
}
