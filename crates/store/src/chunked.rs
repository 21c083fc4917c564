//! Large values (model artifacts, blobs) split into small sled values.
//!
//! sled 0.34 keeps every value larger than roughly 64 KB in memory once written, whatever its
//! `cache_capacity`: measured here, a process writing 2 MB artifacts grew by 2 MB of resident
//! memory per write (1.2 GB after 600 writes), so a 30-minute search holding every trial's
//! models grew without bound. Values of 16 KB stay inside the cache (143 MB, flat, for the
//! same 600 writes). So a value is stored as a head under its key plus chunks of at most
//! [`CHUNK`] bytes.
//!
//! The chunks are written *before* the transaction that commits the head ([`stage_stored`], then
//! [`commit`] inside the caller's transaction), under `key ++ 0xFE ++ generation ++ index` with
//! a generation no head names yet (big-endian u64 and u32; `0xFE` and `0xFF` never occur in a
//! UTF-8 blob name, and a 16-byte trial key plus a suffix is never another trial key). A sled
//! transaction buffers every write until it commits: writing 45 MB values as chunks inside one
//! peaked at 407–440 MB resident against 220–250 MB written beforehand (12 values, any
//! `cache_capacity` from 8 to 64 MB), and a forest's fold models on diamonds are such a value.
//! A value is still never half-written: until the head commits, readers see the old value (or
//! none) and the staged chunks belong to no head. Chunks a crash left behind that way are
//! removed by the next write or removal of the same key ([`sweep`]). So are the chunks of a
//! value that a transaction replaced or removed: [`sweep`] removes them after it commits, as
//! a transaction would hold every removed chunk until then.
//!
//! Heads of an earlier version ([`MAGIC`]) name chunks under `key ++ 0xFF ++ index`; they are
//! still read, replaced and removed. A value written whole by a still earlier version (no magic)
//! is read as it is.

use crate::codec::Stored;
use sled::transaction::{TransactionalTree, UnabortableTransactionError};

/// Largest chunk in bytes.
pub const CHUNK: usize = 16 * 1024;

/// First bytes of a head whose chunks were written inside the transaction, under
/// `key ++ 0xFF ++ index` (earlier versions). An lz4 envelope written whole by an even earlier
/// version starts with the codec's own magic, never with this.
pub const MAGIC: &[u8; 8] = b"AMLCHNK1";

/// First bytes of a head whose chunks were staged under `key ++ 0xFE ++ generation ++ index`.
pub const MAGIC_STAGED: &[u8; 8] = b"AMLCHNK2";

const PLAIN_TAG: u8 = 0xFF;
const STAGED_TAG: u8 = 0xFE;

/// Where a head's chunks are and how long its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    /// Chunk count.
    n: u32,
    /// Value length in bytes.
    len: u64,
    /// Generation of staged chunks; None for the `key ++ 0xFF ++ index` layout.
    generation: Option<u64>,
}

impl Head {
    fn chunk_key(&self, key: &[u8], i: u32) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 13);
        k.extend_from_slice(key);
        match self.generation {
            None => k.push(PLAIN_TAG),
            Some(g) => {
                k.push(STAGED_TAG);
                k.extend_from_slice(&g.to_be_bytes());
            }
        }
        k.extend_from_slice(&i.to_be_bytes());
        k
    }

    fn encode(&self) -> Vec<u8> {
        let mut head = Vec::with_capacity(28);
        head.extend_from_slice(if self.generation.is_some() {
            MAGIC_STAGED
        } else {
            MAGIC
        });
        head.extend_from_slice(&self.n.to_be_bytes());
        head.extend_from_slice(&self.len.to_be_bytes());
        if let Some(g) = self.generation {
            head.extend_from_slice(&g.to_be_bytes());
        }
        head
    }

    /// The head a stored value is, or None for a value stored whole.
    fn parse(v: &[u8]) -> Option<Head> {
        let generation = match (v.len(), v.get(..8)?) {
            (20, m) if m == MAGIC => None,
            (28, m) if m == MAGIC_STAGED => Some(u64::from_be_bytes(v[20..28].try_into().ok()?)),
            _ => return None,
        };
        Some(Head {
            n: u32::from_be_bytes(v[8..12].try_into().ok()?),
            len: u64::from_be_bytes(v[12..20].try_into().ok()?),
            generation,
        })
    }
}

/// A value whose chunks are written but whose head is not committed yet.
#[derive(Debug)]
pub struct Staged {
    key: Vec<u8>,
    head: Head,
}

impl Staged {
    /// The generation of its chunks.
    pub fn generation(&self) -> u64 {
        self.head.generation.unwrap_or(0)
    }
}

/// Write the chunks of `value` under `key` outside any transaction, as `generation` (which no
/// head of this key may name: take it from `sled::Db::generate_id`). Nothing reads them until
/// [`commit`] writes their head; [`discard`] removes them if that never happens. The value is
/// taken block by block ([`Stored::write_to`]) and the chunks cut from the blocks as they come,
/// so it is never in one piece.
pub fn stage_stored(
    tree: &sled::Tree,
    key: &[u8],
    generation: u64,
    value: Stored,
) -> sled::Result<Staged> {
    let len = value.len();
    stage_pieces(tree, key, generation, len, |sink| value.write_to(sink))
}

/// [`stage_stored`] of a value of `len` bytes that `write` hands to the sink it is given, in
/// pieces of any size.
fn stage_pieces(
    tree: &sled::Tree,
    key: &[u8],
    generation: u64,
    len: usize,
    write: impl FnOnce(&mut dyn FnMut(&[u8]) -> sled::Result<()>) -> sled::Result<()>,
) -> sled::Result<Staged> {
    let head = Head {
        n: len.div_ceil(CHUNK) as u32,
        len: len as u64,
        generation: Some(generation),
    };
    let mut chunk = Vec::with_capacity(CHUNK.min(len));
    let mut i = 0u32;
    let mut written = 0usize;
    write(&mut |mut piece: &[u8]| {
        written += piece.len();
        while !piece.is_empty() {
            let take = (CHUNK - chunk.len()).min(piece.len());
            chunk.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if chunk.len() == CHUNK {
                tree.insert(head.chunk_key(key, i), &chunk[..])?;
                chunk.clear();
                i += 1;
            }
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        tree.insert(head.chunk_key(key, i), &chunk[..])?;
    }
    assert_eq!(written, len, "a staged value's pieces add up to its length");
    Ok(Staged {
        key: key.to_vec(),
        head,
    })
}

/// Inside the caller's transaction: make the staged value the value under its key. The
/// chunks of the value it replaces are removed here only in the earlier plain layout; staged
/// chunks of other generations are left to [`sweep`], which the caller runs after the
/// transaction (see [`remove_in_transaction`]).
pub fn commit(
    tree: &TransactionalTree,
    staged: &Staged,
) -> Result<(), UnabortableTransactionError> {
    let old = tree
        .insert(&staged.key[..], staged.head.encode())?
        .as_deref()
        .and_then(Head::parse);
    if let Some(old) = old {
        if old.generation != staged.head.generation {
            remove_in_transaction(tree, &staged.key, &old)?;
        }
    }
    Ok(())
}

/// Remove the chunks of a staged value whose head was never committed (the transaction aborted).
pub fn discard(tree: &sled::Tree, staged: &Staged) -> sled::Result<()> {
    for i in 0..staged.head.n {
        tree.remove(staged.head.chunk_key(&staged.key, i))?;
    }
    Ok(())
}

/// Remove the value under `key` (whole or chunked); nothing if there is none. Its staged
/// chunks go with the caller's [`sweep`] after the transaction (see
/// [`remove_in_transaction`]): once the head is gone no reader sees them.
pub fn remove(tree: &TransactionalTree, key: &[u8]) -> Result<(), UnabortableTransactionError> {
    if let Some(head) = tree.remove(key)?.as_deref().and_then(Head::parse) {
        remove_in_transaction(tree, key, &head)?;
    }
    Ok(())
}

/// The chunks of a head a transaction replaces or removes that are removed inside it: those of
/// the earlier plain layout only, which [`sweep`] does not reach. A sled transaction holds every
/// value it removes until it commits, so removing a large value's staged chunks there held
/// all of them at once (thousands of 16 KB chunks for a forest's fold models); [`sweep`]
/// removes them one by one after the commit.
fn remove_in_transaction(
    tree: &TransactionalTree,
    key: &[u8],
    head: &Head,
) -> Result<(), UnabortableTransactionError> {
    if head.generation.is_none() {
        remove_chunks(tree, key, head)?;
    }
    Ok(())
}

/// After the transaction that wrote (`keep` = its generation) or removed (`keep` = None) the
/// value under `key`: remove staged chunks of any other generation, which a crash between
/// [`stage_stored`] and [`commit`] can leave behind. Only the chunks of other generations are read.
/// Returns how many were removed.
pub fn sweep(tree: &sled::Tree, key: &[u8], keep: Option<u64>) -> sled::Result<usize> {
    let at = |g: Option<u64>| {
        let mut k = key.to_vec();
        k.push(STAGED_TAG);
        if let Some(g) = g {
            k.extend_from_slice(&g.to_be_bytes());
        }
        k
    };
    let mut end = key.to_vec();
    end.push(STAGED_TAG + 1);
    let mut stale = Vec::new();
    let mut collect = |range: sled::Iter| -> sled::Result<()> {
        for kv in range {
            stale.push(kv?.0);
        }
        Ok(())
    };
    match keep {
        None => collect(tree.range(at(None)..end))?,
        Some(g) => {
            collect(tree.range(at(None)..at(Some(g))))?;
            if let Some(next) = g.checked_add(1) {
                collect(tree.range(at(Some(next))..end))?;
            }
        }
    }
    for k in &stale {
        tree.remove(k)?;
    }
    Ok(stale.len())
}

/// Remove the chunks of `head`, stopping at the first one that is not there: chunks are written
/// contiguously, and a damaged head may claim billions of them.
fn remove_chunks(
    tree: &TransactionalTree,
    key: &[u8],
    head: &Head,
) -> Result<(), UnabortableTransactionError> {
    for i in 0..head.n {
        if tree.remove(head.chunk_key(key, i))?.is_none() {
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
    let Some(stored) = tree.get(key).map_err(ReadError::Sled)? else {
        return Ok(None);
    };
    let Some(head) = Head::parse(&stored) else {
        return Ok(Some(stored.to_vec()));
    };
    let (n, len) = (head.n, head.len);
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
            .get(head.chunk_key(key, i))
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

#[cfg(test)]
mod tests {
    use super::*;
    use sled::transaction::ConflictableTransactionError;

    /// [`stage_stored`] of bytes in one piece.
    fn stage(tree: &sled::Tree, key: &[u8], generation: u64, value: &[u8]) -> sled::Result<Staged> {
        stage_pieces(tree, key, generation, value.len(), |sink| sink(value))
    }

    type TxResult = Result<(), ConflictableTransactionError<()>>;

    fn value(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn put(db: &sled::Db, tree: &sled::Tree, key: &[u8], v: &[u8]) -> u64 {
        let staged = stage(tree, key, db.generate_id().unwrap(), v).unwrap();
        tree.transaction(|t| -> TxResult { Ok(commit(t, &staged)?) })
            .unwrap();
        sweep(tree, key, Some(staged.generation())).unwrap();
        staged.generation()
    }

    fn db() -> (tempfile::TempDir, sled::Db, sled::Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("t").unwrap();
        (dir, db, tree)
    }

    /// Keys under `key` other than `key` itself.
    fn chunks(tree: &sled::Tree, key: &[u8]) -> usize {
        tree.scan_prefix(key).count() - usize::from(tree.contains_key(key).unwrap())
    }

    #[test]
    fn a_staged_value_is_invisible_until_its_head_commits_and_replaces_the_old_one_whole() {
        let (_dir, db, tree) = db();
        let (a, b) = (value(1, 3 * CHUNK + 5), value(2, CHUNK + 1));
        put(&db, &tree, b"k", &a);
        assert_eq!(get(&tree, b"k").unwrap(), Some(a.clone()));
        assert_eq!(chunks(&tree, b"k"), 4);
        let staged = stage(&tree, b"k", db.generate_id().unwrap(), &b).unwrap();
        assert_eq!(get(&tree, b"k").unwrap(), Some(a), "staged, not committed");
        tree.transaction(|t| -> TxResult { Ok(commit(t, &staged)?) })
            .unwrap();
        assert_eq!(get(&tree, b"k").unwrap(), Some(b.clone()));
        // The old value's chunks are not removed inside the transaction (sled would hold them
        // all until it commits), but by the sweep after it.
        assert_eq!(chunks(&tree, b"k"), 4 + 2);
        assert_eq!(sweep(&tree, b"k", Some(staged.generation())).unwrap(), 4);
        assert_eq!(
            chunks(&tree, b"k"),
            2,
            "the old value's chunks went after it"
        );
        assert_eq!(get(&tree, b"k").unwrap(), Some(b));
    }

    #[test]
    fn a_value_staged_block_by_block_is_the_value_staged_whole() {
        use automl_core::{Artifact, Blocks};
        let (_dir, db, tree) = db();
        // Blocks smaller and larger than a chunk, a chunk's boundary inside a block's header.
        for (len, cut) in [
            (0, 1),
            (10, 3),
            (3 * CHUNK + 7, CHUNK - 9),
            (5 * CHUNK, 2 * CHUNK + 1),
        ] {
            let raw = value(7, len);
            let mut b = Blocks::new();
            for piece in raw.chunks(cut) {
                b.push_raw(piece);
            }
            let stored = crate::codec::pack_stored(Artifact::Blocks(b.clone()));
            let whole = crate::codec::pack(Artifact::Blocks(b));
            assert_eq!(stored.len(), whole.len());
            let staged = stage_stored(&tree, b"s", db.generate_id().unwrap(), stored).unwrap();
            tree.transaction(|t| -> TxResult { Ok(commit(t, &staged)?) })
                .unwrap();
            sweep(&tree, b"s", Some(staged.generation())).unwrap();
            put(&db, &tree, b"w", &whole);
            assert_eq!(
                get(&tree, b"s").unwrap(),
                Some(whole.clone()),
                "{len} by {cut}"
            );
            assert_eq!(chunks(&tree, b"s"), chunks(&tree, b"w"), "{len} by {cut}");
            assert_eq!(
                crate::codec::decompress(&whole, "test").unwrap(),
                raw,
                "{len} by {cut}"
            );
        }
    }

    #[test]
    fn chunks_a_crash_left_staged_are_swept_by_the_next_write_or_removal() {
        let (_dir, db, tree) = db();
        put(&db, &tree, b"k", &value(1, 2 * CHUNK));
        // A crash between stage and commit, twice: chunks on both sides of the next generation.
        let before = stage(&tree, b"k", db.generate_id().unwrap(), &value(2, 3 * CHUNK)).unwrap();
        let after = stage(&tree, b"k", u64::MAX, &value(3, CHUNK)).unwrap();
        assert_eq!(chunks(&tree, b"k"), 2 + 3 + 1);
        assert_eq!(get(&tree, b"k").unwrap(), Some(value(1, 2 * CHUNK)));
        let v = value(4, 10);
        let g = put(&db, &tree, b"k", &v);
        assert!(g != before.generation() && g != after.generation());
        assert_eq!(chunks(&tree, b"k"), 1, "only the new value's chunk is left");
        assert_eq!(get(&tree, b"k").unwrap(), Some(v));
        // A removal sweeps everything, and keys that merely share a prefix are untouched.
        put(&db, &tree, b"kk", &value(5, CHUNK + 2));
        stage(&tree, b"k", db.generate_id().unwrap(), &value(6, CHUNK)).unwrap();
        tree.transaction(|t| -> TxResult { Ok(remove(t, b"k")?) })
            .unwrap();
        assert_eq!(get(&tree, b"k").unwrap(), None, "gone once the head is");
        // The removed value's chunk and the crash's, after the transaction.
        assert_eq!(sweep(&tree, b"k", None).unwrap(), 2);
        assert_eq!(tree.scan_prefix(b"k").count(), 3, "kk's head and 2 chunks");
        assert_eq!(get(&tree, b"k").unwrap(), None);
        assert_eq!(get(&tree, b"kk").unwrap(), Some(value(5, CHUNK + 2)));
    }

    #[test]
    fn a_discarded_stage_leaves_nothing_and_an_earlier_layout_is_replaced_cleanly() {
        let (_dir, db, tree) = db();
        // The layout of earlier versions: head and chunks written in one transaction.
        let old = value(1, 2 * CHUNK + 3);
        let head = Head {
            n: 3,
            len: old.len() as u64,
            generation: None,
        };
        tree.insert(b"k", head.encode()).unwrap();
        for (i, c) in old.chunks(CHUNK).enumerate() {
            tree.insert(head.chunk_key(b"k", i as u32), c).unwrap();
        }
        assert_eq!(get(&tree, b"k").unwrap(), Some(old.clone()));
        let staged = stage(&tree, b"k", db.generate_id().unwrap(), &value(2, 50)).unwrap();
        discard(&tree, &staged).unwrap();
        assert_eq!(chunks(&tree, b"k"), 3);
        assert_eq!(get(&tree, b"k").unwrap(), Some(old));
        put(&db, &tree, b"k", &value(3, 50));
        assert_eq!(
            chunks(&tree, b"k"),
            1,
            "the earlier layout's chunks were removed"
        );
        assert_eq!(get(&tree, b"k").unwrap(), Some(value(3, 50)));
    }
}
