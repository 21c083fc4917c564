//! Large values (model artifacts, blobs) split into small sled values.
//!
//! sled 0.34 keeps every value larger than roughly 64 KB in memory once written, whatever its
//! `cache_capacity`: measured here, a process writing 2 MB artifacts grew by 2 MB of resident
//! memory per write (1.2 GB after 600 writes), so a 30-minute search holding every trial's
//! models grew without bound. Values of 16 KB stay inside the cache (143 MB, flat, for the
//! same 600 writes). So a value is stored as a head under its key — [`MAGIC`], the chunk count
//! and the total length — plus chunks of at most [`CHUNK`] bytes under `key ++ 0xFF ++ index`
//! (big-endian u32; `0xFF` never occurs in a UTF-8 blob name and a 16-byte trial key plus a
//! suffix is never another trial key). Everything is written and removed inside the caller's
//! transaction, so a value is never half-written. A value written whole by an earlier version
//! (no [`MAGIC`]) is still read as it is.

use sled::transaction::{TransactionalTree, UnabortableTransactionError};

/// Largest chunk in bytes.
pub const CHUNK: usize = 16 * 1024;

/// First bytes of a head value. An lz4 envelope written whole by an earlier version starts with
/// the codec's own magic, never with this.
pub const MAGIC: &[u8; 8] = b"AMLCHNK1";

fn chunk_key(key: &[u8], i: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 5);
    k.extend_from_slice(key);
    k.push(0xFF);
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// (chunk count, total length) of a head value, or None for a value stored whole.
fn parse_head(v: &[u8]) -> Option<(u32, u64)> {
    if v.len() != 20 || &v[..8] != MAGIC {
        return None;
    }
    let n = u32::from_be_bytes(v[8..12].try_into().ok()?);
    let len = u64::from_be_bytes(v[12..20].try_into().ok()?);
    Some((n, len))
}

/// Write `value` under `key`, replacing any earlier value (whole or chunked).
pub fn put(
    tree: &TransactionalTree,
    key: &[u8],
    value: &[u8],
) -> Result<(), UnabortableTransactionError> {
    let old = tree.get(key)?.as_deref().and_then(parse_head);
    let n = value.len().div_ceil(CHUNK) as u32;
    let mut head = Vec::with_capacity(20);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&n.to_be_bytes());
    head.extend_from_slice(&(value.len() as u64).to_be_bytes());
    tree.insert(key, head)?;
    for (i, c) in value.chunks(CHUNK).enumerate() {
        tree.insert(chunk_key(key, i as u32), c)?;
    }
    if let Some((old_n, _)) = old {
        remove_chunks(tree, key, n, old_n)?;
    }
    Ok(())
}

/// Remove the value under `key` (whole or chunked); nothing if there is none.
pub fn remove(tree: &TransactionalTree, key: &[u8]) -> Result<(), UnabortableTransactionError> {
    if let Some((n, _)) = tree.remove(key)?.as_deref().and_then(parse_head) {
        remove_chunks(tree, key, 0, n)?;
    }
    Ok(())
}

/// Remove chunks `from..to`, stopping at the first one that is not there: chunks are written
/// contiguously, and a damaged head may claim billions of them.
fn remove_chunks(
    tree: &TransactionalTree,
    key: &[u8],
    from: u32,
    to: u32,
) -> Result<(), UnabortableTransactionError> {
    for i in from..to {
        if tree.remove(chunk_key(key, i))?.is_none() {
            break;
        }
    }
    Ok(())
}

/// Why a stored value could not be read back.
#[derive(Debug)]
pub enum ReadError {
    /// sled failed.
    Sled(sled::Error),
    /// A chunk is missing or the lengths disagree (the database was damaged).
    Damaged(String),
}

/// The value under `key` (whole or chunked), or None.
pub fn get(tree: &sled::Tree, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
    let Some(head) = tree.get(key).map_err(ReadError::Sled)? else {
        return Ok(None);
    };
    let Some((n, len)) = parse_head(&head) else {
        return Ok(Some(head.to_vec()));
    };
    if len > u64::from(n) * CHUNK as u64 {
        return Err(ReadError::Damaged(format!(
            "the head says {len} bytes in {n} chunks of at most {CHUNK}"
        )));
    }
    // The head is data read from disk: never trust its length for an allocation up front (a
    // damaged head would ask for terabytes); chunks must exist before they are counted.
    let mut out = Vec::with_capacity((len as usize).min(1 << 24));
    for i in 0..n {
        let c = tree
            .get(chunk_key(key, i))
            .map_err(ReadError::Sled)?
            .ok_or_else(|| ReadError::Damaged(format!("chunk {i} of {n} is missing")))?;
        out.extend_from_slice(&c);
    }
    if out.len() as u64 != len {
        return Err(ReadError::Damaged(format!(
            "chunks hold {} bytes, the head says {len}",
            out.len()
        )));
    }
    Ok(Some(out))
}
