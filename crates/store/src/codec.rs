//! Encoding of records and blobs (checksummed lz4), and the key layout of the store.
//!
//! Trial records are binary (`binrec.rs`: a tag byte, a format byte, postcard of a
//! frozen mirror of the record), because reading a study's 100k trials is what the leaderboard
//! does and JSON decoding dominated it. Trial records written by earlier versions are JSON and
//! are still read: the first byte tells the encodings apart (a JSON record starts with `{`).
//! Study records (a few per store) stay JSON, and so does the snapshot file (read by other
//! processes, and by people).
//!
//! JSON has no NaN, so non-finite floats are written as `null` and read back as NaN at the known
//! float fields of a JSON trial record (`mean`, `std`, `fit_time_s`, `predict_time_per_row_s`,
//! `fold_scores[i]`, `metrics[k]`); binary records keep floats bit for bit.
//!
//! A blob is `MAGIC (4) | raw length u64 LE | FNV-1a 64 of the payload u64 LE | lz4 block`,
//! or, for an artifact that arrives compressed in blocks ([`Artifact::Blocks`]: a bag of fold
//! models, compressed as its models were encoded), `MAGIC_BLOCKS (4) | raw length u64 LE |
//! FNV-1a 64 of the payload u64 LE | blocks`, each block `raw length u64 LE | lz4 length u64 LE
//! | lz4 block`. Both are read by [`decompress`]; builds before the blocked form cannot read it.

use crate::error::StoreError;
use automl_core::{Artifact, SCHEMA_VERSION, StudyRecord, TrialRecord};
use serde_json::Value;
use std::borrow::Cow;
use std::path::Path;

/// Tree / key layout of the sled store (public so tests and tools can inspect a raw database).
pub mod layout {
    /// Tree holding the store metadata under [`META_KEY`].
    pub const META_TREE: &str = "meta";
    /// Key of the JSON metadata document (`format`, `schema_version`, `created_by`).
    pub const META_KEY: &[u8] = b"store";
    /// Value of the `format` field of the metadata.
    pub const FORMAT: &str = "automl-store";
    /// Tree: study id (u64 BE) -> JSON `StudyRecord`.
    pub const STUDIES_TREE: &str = "studies";
    /// Tree: study id BE ++ trial id BE -> `TrialRecord`, binary (or JSON, written by earlier
    /// versions; see the module doc).
    pub const TRIALS_TREE: &str = "trials";
    /// Tree: study id BE ++ trial id BE -> compressed artifact.
    pub const ARTIFACTS_TREE: &str = "artifacts";
    /// Tree: study id BE ++ key bytes -> compressed blob.
    pub const BLOBS_TREE: &str = "blobs";
    /// Tree: id counters (`study` and `trial/` ++ study id BE) -> next id u64 BE.
    pub const COUNTERS_TREE: &str = "counters";
    /// Counter key of the next study id.
    pub const STUDY_COUNTER: &[u8] = b"study";
    /// File name of the read-only snapshot inside the store directory.
    pub const SNAPSHOT_FILE: &str = "snapshot.json";

    /// Key of a study.
    pub fn study_key(study_id: u64) -> [u8; 8] {
        study_id.to_be_bytes()
    }
    /// Key of a trial or its artifact.
    pub fn trial_key(study_id: u64, trial_id: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&study_id.to_be_bytes());
        k[8..].copy_from_slice(&trial_id.to_be_bytes());
        k
    }
    /// Key of a blob.
    pub fn blob_key(study_id: u64, key: &str) -> Vec<u8> {
        let mut k = study_id.to_be_bytes().to_vec();
        k.extend_from_slice(key.as_bytes());
        k
    }
    /// Counter key of the next trial id of a study.
    pub fn trial_counter_key(study_id: u64) -> Vec<u8> {
        let mut k = b"trial/".to_vec();
        k.extend_from_slice(&study_id.to_be_bytes());
        k
    }
}

const MAGIC: &[u8; 4] = b"AMZ1";
const MAGIC_BLOCKS: &[u8; 4] = b"AMZ2";
pub(crate) const HEADER: usize = 20;

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(0xcbf2_9ce4_8422_2325, bytes)
}

/// Compress a blob (lz4 block with a checksummed header).
///
/// The payload is compressed in place behind the header (one buffer of lz4's bound, trimmed),
/// not into a second buffer that is then copied: a forest's fold models are tens of MB.
pub fn compress(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER + lz4_flex::block::get_maximum_output_size(raw.len())];
    let n = lz4_flex::block::compress_into(raw, &mut out[HEADER..])
        .expect("lz4's bound holds any input");
    out.truncate(HEADER + n);
    let sum = fnv1a(&out[HEADER..]);
    out[..4].copy_from_slice(MAGIC);
    out[4..12].copy_from_slice(&(raw.len() as u64).to_le_bytes());
    out[12..20].copy_from_slice(&sum.to_le_bytes());
    out.shrink_to_fit();
    out
}

fn fnv1a_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An artifact as a store keeps it: compressed whole ([`compress`]), or its blocks as they
/// are (never unpacked whole). The bytes of [`Stored::into_vec`].
pub fn pack(artifact: Artifact) -> Vec<u8> {
    pack_stored(artifact).into_vec()
}

/// [`pack`], not yet in one piece: a store that writes in chunks takes the blocks one by one
/// ([`Stored::write_to`]) and never holds the stored form whole beside them.
pub fn pack_stored(artifact: Artifact) -> Stored {
    match artifact {
        Artifact::Raw(raw) => Stored::Whole(compress(&raw)),
        Artifact::Blocks(blocks) => {
            let raw_len = blocks.len();
            let blocks = blocks.into_blocks();
            let mut sum = 0xcbf2_9ce4_8422_2325;
            for (len, packed) in &blocks {
                sum = fnv1a_extend(sum, &(*len as u64).to_le_bytes());
                sum = fnv1a_extend(sum, &(packed.len() as u64).to_le_bytes());
                sum = fnv1a_extend(sum, packed);
            }
            let mut header = [0u8; HEADER];
            header[..4].copy_from_slice(MAGIC_BLOCKS);
            header[4..12].copy_from_slice(&(raw_len as u64).to_le_bytes());
            header[12..20].copy_from_slice(&sum.to_le_bytes());
            Stored::Blocks { header, blocks }
        }
    }
}

/// A value as a store keeps it ([`compress`] or [`pack`]), whole or as the `AMZ2` header and
/// its blocks.
#[derive(Debug)]
pub enum Stored {
    /// The bytes.
    Whole(Vec<u8>),
    /// The header (its checksum already taken over the blocks), then per block its raw
    /// length, its packed length and its packed bytes.
    Blocks {
        /// The `AMZ2` header.
        header: [u8; HEADER],
        /// (raw length, packed bytes) per block.
        blocks: Vec<(usize, Vec<u8>)>,
    },
}

impl Stored {
    /// Length of the stored bytes.
    pub fn len(&self) -> usize {
        match self {
            Stored::Whole(b) => b.len(),
            Stored::Blocks { blocks, .. } => {
                HEADER + blocks.iter().map(|(_, b)| 16 + b.len()).sum::<usize>()
            }
        }
    }

    /// Whether there are no bytes (never: a stored value has a header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored bytes in one piece.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Stored::Whole(b) => b,
            stored => {
                let mut out = Vec::with_capacity(stored.len());
                let _: Result<(), ()> = stored.write_to(|piece| {
                    out.extend_from_slice(piece);
                    Ok(())
                });
                out
            }
        }
    }

    /// Hand the stored bytes to `sink` in order, in pieces, each block freed once written.
    pub fn write_to<E>(self, mut sink: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        match self {
            Stored::Whole(b) => sink(&b),
            Stored::Blocks { header, blocks } => {
                sink(&header)?;
                for (len, packed) in blocks {
                    sink(&(len as u64).to_le_bytes())?;
                    sink(&(packed.len() as u64).to_le_bytes())?;
                    sink(&packed)?;
                }
                Ok(())
            }
        }
    }
}

/// Decompress a blob written by [`compress`] or [`pack`]; any damage gives `Corrupt`, never a
/// panic.
pub(crate) fn decompress(stored: &[u8], what: &str) -> Result<Vec<u8>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: what.to_string(),
        reason,
    };
    if stored.len() < HEADER || (&stored[..4] != MAGIC && &stored[..4] != MAGIC_BLOCKS) {
        return Err(corrupt(format!(
            "not a compressed automl blob ({} bytes, bad header)",
            stored.len()
        )));
    }
    let raw_len = u64::from_le_bytes(stored[4..12].try_into().unwrap_or([0; 8]));
    let sum = u64::from_le_bytes(stored[12..20].try_into().unwrap_or([0; 8]));
    let payload = &stored[HEADER..];
    if fnv1a(payload) != sum {
        return Err(corrupt("checksum mismatch".to_string()));
    }
    // lz4 cannot expand by more than ~255x; refuse absurd sizes before allocating.
    if raw_len > (payload.len() as u64).saturating_mul(256) + 64 {
        return Err(corrupt(format!(
            "declared size {raw_len} bytes is impossible for {} compressed bytes",
            payload.len()
        )));
    }
    if &stored[..4] == MAGIC_BLOCKS {
        return unblock(payload, raw_len as usize).map_err(corrupt);
    }
    let out = lz4_flex::block::decompress(payload, raw_len as usize)
        .map_err(|e| corrupt(format!("lz4 decode failed: {e}")))?;
    if out.len() as u64 != raw_len {
        return Err(corrupt(format!(
            "decoded {} bytes, expected {raw_len}",
            out.len()
        )));
    }
    Ok(out)
}

/// The bytes of a blocked payload, `raw_len` of them.
fn unblock(mut payload: &[u8], raw_len: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; raw_len];
    let mut at = 0;
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    while !payload.is_empty() {
        if payload.len() < 16 {
            return Err(format!(
                "a block header is cut short ({} bytes)",
                payload.len()
            ));
        }
        let (len, packed_len) = (word(&payload[..8]), word(&payload[8..16]));
        payload = &payload[16..];
        let end = (at as u64).saturating_add(len);
        if end > raw_len as u64 || packed_len > payload.len() as u64 {
            return Err(format!(
                "a block of {len} bytes ({packed_len} compressed) overruns the blob"
            ));
        }
        let (packed, rest) = payload.split_at(packed_len as usize);
        let n = lz4_flex::block::decompress_into(packed, &mut out[at..end as usize])
            .map_err(|e| format!("lz4 decode failed: {e}"))?;
        if n as u64 != len {
            return Err(format!("a block decoded to {n} bytes, expected {len}"));
        }
        at = end as usize;
        payload = rest;
    }
    if at != raw_len {
        return Err(format!("the blocks hold {at} bytes, expected {raw_len}"));
    }
    Ok(out)
}

/// Encode a study record, stamping the current schema version.
pub(crate) fn encode_study(study: &StudyRecord) -> Result<Vec<u8>, StoreError> {
    let mut s = study.clone();
    s.schema_version = SCHEMA_VERSION;
    serde_json::to_vec(&s).map_err(|e| StoreError::Invalid {
        what: format!("study {}", study.study_id),
        reason: format!("cannot be encoded: {e}"),
    })
}

/// Encode a trial record as the store keeps it (binary, current format), stamping the current
/// schema version. Public for tools and benchmarks that fill a raw database.
pub fn encode_trial(trial: &TrialRecord) -> Result<Vec<u8>, StoreError> {
    let mut t = trial.clone();
    t.schema_version = SCHEMA_VERSION;
    crate::binrec::encode(&t).map_err(|e| StoreError::Invalid {
        what: format!("trial {} of study {}", trial.trial_id, trial.study_id),
        reason: format!("cannot be encoded: {e}"),
    })
}

fn parse(bytes: &[u8], what: &str) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("invalid JSON: {e}"),
    })
}

/// Check the `schema_version` field of a record.
fn check_version(v: &Value, what: &str, path: &Path) -> Result<(), StoreError> {
    match v.get("schema_version").and_then(Value::as_u64) {
        None => Err(StoreError::Corrupt {
            what: what.to_string(),
            reason: "missing schema_version".to_string(),
        }),
        Some(found) if found > u64::from(SCHEMA_VERSION) => Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION,
        }),
        Some(_) => Ok(()),
    }
}

/// Decode a study record from bytes.
pub(crate) fn decode_study(
    bytes: &[u8],
    what: &str,
    path: &Path,
) -> Result<StudyRecord, StoreError> {
    // Fast path: straight into the typed record; anything unusual goes through a JSON value.
    if let Ok(s) = serde_json::from_slice::<StudyRecord>(bytes) {
        return newer_check(s.schema_version, path).map(|()| s);
    }
    decode_study_value(parse(bytes, what)?, what, path)
}

fn newer_check(found: u32, path: &Path) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Decode a study record from a JSON value.
pub(crate) fn decode_study_value(
    v: Value,
    what: &str,
    path: &Path,
) -> Result<StudyRecord, StoreError> {
    check_version(&v, what, path)?;
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("not a study record: {e}"),
    })
}

/// Decode a trial record from bytes, binary or JSON (told apart by the first byte).
pub(crate) fn decode_trial(
    bytes: &[u8],
    what: &str,
    path: &Path,
) -> Result<TrialRecord, StoreError> {
    if bytes.first() == Some(&crate::binrec::TAG) {
        let t = crate::binrec::decode(bytes, what, path)?;
        return newer_check(t.schema_version, path).map(|()| t);
    }
    // Fast path: straight into the typed record (fails on `null` floats, i.e. NaN scores, and
    // on damage); those go through a JSON value.
    if let Ok(t) = serde_json::from_slice::<TrialRecord>(bytes) {
        return newer_check(t.schema_version, path).map(|()| t);
    }
    decode_trial_value(parse(bytes, what)?, what, path)
}

/// A stored trial record as JSON (for the snapshot file): a JSON record as it is (checked to
/// be well-formed), a binary one decoded and written as JSON (non-finite floats as `null`).
pub(crate) fn trial_json<'a>(
    bytes: &'a [u8],
    what: &str,
    path: &Path,
) -> Result<Cow<'a, [u8]>, StoreError> {
    if bytes.first() != Some(&crate::binrec::TAG) {
        validate_json(bytes, what)?;
        return Ok(Cow::Borrowed(bytes));
    }
    let t = decode_trial(bytes, what, path)?;
    serde_json::to_vec(&t)
        .map(Cow::Owned)
        .map_err(|e| StoreError::Invalid {
            what: what.to_string(),
            reason: format!("cannot be written as JSON: {e}"),
        })
}

/// Check that stored bytes are well-formed JSON without building anything.
pub(crate) fn validate_json(bytes: &[u8], what: &str) -> Result<(), StoreError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| StoreError::Corrupt {
            what: what.to_string(),
            reason: format!("invalid JSON: {e}"),
        })
}

const NAN_FIELDS: [&str; 4] = ["mean", "std", "fit_time_s", "predict_time_per_row_s"];

/// Decode a trial record from a JSON value, turning `null` floats back into NaN.
pub(crate) fn decode_trial_value(
    mut v: Value,
    what: &str,
    path: &Path,
) -> Result<TrialRecord, StoreError> {
    check_version(&v, what, path)?;
    let mut nan_fields = Vec::new();
    let mut nan_folds = Vec::new();
    let mut nan_metrics = Vec::new();
    if let Some(obj) = v.as_object_mut() {
        for f in NAN_FIELDS {
            if obj.get(f).is_some_and(Value::is_null) {
                obj.remove(f);
                nan_fields.push(f);
            }
        }
        if let Some(Value::Array(folds)) = obj.get_mut("fold_scores") {
            for (i, x) in folds.iter_mut().enumerate() {
                if x.is_null() {
                    *x = Value::from(0.0);
                    nan_folds.push(i);
                }
            }
        }
        if let Some(Value::Object(metrics)) = obj.get_mut("metrics") {
            for (k, x) in metrics.iter_mut() {
                if x.is_null() {
                    *x = Value::from(0.0);
                    nan_metrics.push(k.clone());
                }
            }
        }
    }
    let mut t: TrialRecord = serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("not a trial record: {e}"),
    })?;
    for f in nan_fields {
        match f {
            "mean" => t.mean = f64::NAN,
            "std" => t.std = f64::NAN,
            "fit_time_s" => t.fit_time_s = f64::NAN,
            _ => t.predict_time_per_row_s = f64::NAN,
        }
    }
    for i in nan_folds {
        t.fold_scores[i] = f64::NAN;
    }
    for k in nan_metrics {
        t.metrics.insert(k, f64::NAN);
    }
    Ok(t)
}

/// Below this many records a decode runs on the calling thread (threads cost more than they save).
const PARALLEL_MIN: usize = 2048;

/// `decode` applied to every item, in order, on up to `available_parallelism` threads when
/// there are many items (decoding JSON records is what reading 100k trials spends its time on).
/// The error returned is that of the first failing item.
pub(crate) fn decode_many<I: Sync, T: Send>(
    items: &[I],
    decode: impl Fn(&I) -> Result<T, StoreError> + Sync,
) -> Result<Vec<T>, StoreError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_MIN || threads < 2 {
        return items.iter().map(&decode).collect();
    }
    let chunk = items
        .len()
        .div_ceil(threads.min(items.len() / (PARALLEL_MIN / 2)));
    let decode = &decode;
    let parts: Vec<Result<Vec<T>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(decode).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// Decode a big-endian u64 (counter values, key parts).
pub(crate) fn be_u64(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("expected 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// Human name of a trial for messages.
pub(crate) fn trial_name(study_id: u64, trial_id: u64) -> String {
    format!("trial {trial_id} of study {study_id}")
}

/// Human name of a trial's artifact for messages.
pub(crate) fn artifact_name(study_id: u64, trial_id: u64) -> String {
    format!("the model artifact of trial {trial_id} in study {study_id}")
}

/// Human name of a blob for messages.
pub(crate) fn blob_name(study_id: u64, key: &str) -> String {
    format!("blob `{key}` of study {study_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_many_keeps_order_and_returns_the_first_error() {
        for n in [0, 10, PARALLEL_MIN, 3 * PARALLEL_MIN + 7] {
            let items: Vec<usize> = (0..n).collect();
            let out = decode_many(&items, |&i| Ok(i * 2)).unwrap();
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        let items: Vec<usize> = (0..3 * PARALLEL_MIN).collect();
        let bad = |at: usize| {
            move |&i: &usize| {
                if i == at || i == 3 * PARALLEL_MIN - 1 {
                    Err(StoreError::Corrupt {
                        what: format!("item {i}"),
                        reason: "bad".to_string(),
                    })
                } else {
                    Ok(i)
                }
            }
        };
        for at in [0, PARALLEL_MIN + 1] {
            let err = decode_many(&items, bad(at)).unwrap_err();
            assert!(err.to_string().contains(&format!("item {at}")), "{err}");
        }
    }

    #[test]
    fn compress_roundtrip_and_damage_detected() {
        let raw: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let c = compress(&raw);
        assert_eq!(decompress(&c, "x").unwrap(), raw);
        assert_eq!(decompress(&compress(&[]), "x").unwrap(), Vec::<u8>::new());
        let mut bad = c.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(matches!(
            decompress(&bad, "x"),
            Err(StoreError::Corrupt { .. })
        ));
        let mut huge = c.clone();
        huge[4..12].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decompress(&huge, "x"),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            decompress(b"AMZ", "x"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn blocked_artifacts_round_trip_and_damage_is_detected() {
        use automl_core::Blocks;
        let raw: Vec<u8> = (0..50_000u32).map(|i| (i * 13 % 251) as u8).collect();
        let blocked = |cuts: &[usize]| {
            let mut b = Blocks::new();
            let mut at = 0;
            for &c in cuts.iter().chain([&raw.len()]) {
                b.push_raw(&raw[at..c]);
                at = c;
            }
            Artifact::Blocks(b)
        };
        for cuts in [&[][..], &[1], &[7, 4096, 4097, 30_000]] {
            let packed = pack(blocked(cuts));
            assert_eq!(&packed[..4], MAGIC_BLOCKS);
            assert_eq!(decompress(&packed, "x").unwrap(), raw, "{cuts:?}");
        }
        assert_eq!(pack(Artifact::Raw(raw.clone())), compress(&raw));
        assert_eq!(
            decompress(&pack(Artifact::Blocks(Blocks::new())), "x").unwrap(),
            Vec::<u8>::new()
        );
        let good = pack(blocked(&[7, 4096]));
        // Any flipped byte past the header fails the checksum; a header that lies about the
        // length, or blocks that overrun, are refused before or while decoding.
        for at in [HEADER, HEADER + 9, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            assert!(matches!(
                decompress(&bad, "x"),
                Err(StoreError::Corrupt { .. })
            ));
        }
        for len in [0u64, 49_999, 50_001] {
            let mut bad = good.clone();
            bad[4..12].copy_from_slice(&len.to_le_bytes());
            assert!(matches!(
                decompress(&bad, "x"),
                Err(StoreError::Corrupt { .. })
            ));
        }
        let mut cut = good[..good.len() - 3].to_vec();
        let sum = fnv1a(&cut[HEADER..]);
        cut[12..20].copy_from_slice(&sum.to_le_bytes());
        assert!(matches!(
            decompress(&cut, "x"),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
