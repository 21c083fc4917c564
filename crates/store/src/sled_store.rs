//! `SledStore`: the persistent store on a sled database (one directory per store), with atomic
//! trial writes, lock detection, schema-version checks and the published read-only snapshot.

use crate::chunked;
use crate::codec::{self, artifact_name, blob_name, layout, trial_name};
use crate::publisher::{Publisher, Source};
use crate::{Packed, Store, StoreError, StoreRead};
use automl_core::{Candidate, SCHEMA_VERSION, StudyRecord, TrialRecord, TrialState};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Stores opened by this process: canonical path -> number of live handles. sled releases its
/// file lock from background threads shortly after a handle is dropped, so a reopen by the same
/// process can briefly see its own lock; only then (path known here, no live handle) is the
/// open retried, for up to [`LINGER_WAIT`].
static HANDLES: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

/// Reading a study with at least this many trials is split over threads (below, threads cost
/// more than they save).
const PARALLEL_TRIALS: u64 = 2048;

/// A range of keys of a sled tree.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// How long a reopen waits for this process's own just-dropped handle to release the lock.
const LINGER_WAIT: Duration = Duration::from_secs(5);

fn handles() -> std::sync::MutexGuard<'static, BTreeMap<PathBuf, usize>> {
    HANDLES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Metadata document stored under `meta/store`.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: String,
    schema_version: u32,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    created_at_ms: u64,
}

/// A store in a sled database directory. One process at a time may hold it.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    studies: sled::Tree,
    trials: sled::Tree,
    artifacts: sled::Tree,
    blobs: sled::Tree,
    counters: sled::Tree,
    /// Throttled rewrites of `snapshot.json`.
    publisher: Publisher,
    /// The store's metadata tree.
    meta: sled::Tree,
    /// Whether the metadata's `schema_version` is this build's. An older store is upgraded
    /// the first time this handle writes a trial record (in the binary format an older automl
    /// cannot read), so an older automl then says "written by a newer automl" instead of
    /// calling the records damaged; a store only read stays as it was.
    meta_current: std::sync::atomic::AtomicBool,
    /// Key of this handle in [`HANDLES`].
    handle_key: PathBuf,
    /// Held from staging a chunked value to sweeping its key ([`chunked::sweep`] removes the
    /// chunks of every other generation, which must not be another write's staged ones).
    chunk_writes: Mutex<()>,
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.publisher.close();
        let mut h = handles();
        if let Some(n) = h.get_mut(&self.handle_key) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Whether a sled error is its "could not acquire lock" error.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || e.to_string().contains("could not acquire lock")
        || e.raw_os_error() == Some(11)
}

impl SledStore {
    fn map_err(&self, e: sled::Error) -> StoreError {
        map_sled(&self.path, e)
    }

    /// Open (or create) the store in `dir`.
    ///
    /// Errors: `NotAStore` when `dir` is a file, a non-empty directory without an automl
    /// database, or a foreign sled database; `Locked` when another process holds it;
    /// `NewerSchema` when a newer automl wrote it; `Corrupt` when sled finds damage.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let path = dir.to_path_buf();
        if dir.exists() {
            if !dir.is_dir() {
                return Err(StoreError::NotAStore {
                    path,
                    reason: "it is a file, not a directory".to_string(),
                });
            }
            let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            let names: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            let has_db = names.iter().any(|n| n == "db" || n == "conf");
            // `predictions/` is the prediction log `automl predict` / `serve` keep beside the
            // database (it may come first: a log written before the first fit).
            let foreign = names.iter().any(|n| {
                !n.starts_with("snapshot") && !n.starts_with(".snapshot") && n != "predictions"
            });
            if !has_db && foreign {
                return Err(StoreError::NotAStore {
                    path,
                    reason: "the directory is not empty and holds no automl database".to_string(),
                });
            }
        } else {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        }
        let handle_key = dir.canonicalize().unwrap_or_else(|_| path.clone());
        let deadline = Instant::now() + LINGER_WAIT;
        let db = loop {
            match open_db(dir) {
                Err(StoreError::Locked { .. })
                    if handles().get(&handle_key) == Some(&0) && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
                Ok(db) => break db,
            }
        };
        let tree = |name: &str| db.open_tree(name).map_err(|e| map_sled(dir, e));
        let meta = tree(layout::META_TREE)?;
        let (studies, trials) = (tree(layout::STUDIES_TREE)?, tree(layout::TRIALS_TREE)?);
        let (artifacts, blobs) = (tree(layout::ARTIFACTS_TREE)?, tree(layout::BLOBS_TREE)?);
        let counters = tree(layout::COUNTERS_TREE)?;
        // Registered here; the Drop of the store below unregisters, on every path.
        *handles().entry(handle_key.clone()).or_insert(0) += 1;
        let publisher = Publisher::new(Source {
            path: path.clone(),
            studies: studies.clone(),
            trials: trials.clone(),
        });
        let store = SledStore {
            meta: meta.clone(),
            meta_current: std::sync::atomic::AtomicBool::new(true),
            studies,
            trials,
            artifacts,
            blobs,
            counters,
            path,
            db,
            publisher,
            handle_key,
            chunk_writes: Mutex::new(()),
        };
        match meta.get(layout::META_KEY).map_err(|e| store.map_err(e))? {
            Some(bytes) => {
                let m: Meta = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    what: format!("the metadata of store {}", dir.display()),
                    reason: e.to_string(),
                })?;
                if m.format != layout::FORMAT {
                    return Err(StoreError::NotAStore {
                        path: store.path.clone(),
                        reason: format!("its format is `{}`, not `{}`", m.format, layout::FORMAT),
                    });
                }
                if m.schema_version > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: store.path.clone(),
                        found: m.schema_version,
                        supported: SCHEMA_VERSION,
                    });
                }
                if m.schema_version < SCHEMA_VERSION {
                    store
                        .meta_current
                        .store(false, std::sync::atomic::Ordering::SeqCst);
                }
            }
            None => {
                if !store.studies.is_empty() || !store.trials.is_empty() {
                    return Err(StoreError::NotAStore {
                        path: store.path.clone(),
                        reason: "the sled database has no automl metadata".to_string(),
                    });
                }
                let m = Meta {
                    format: layout::FORMAT.to_string(),
                    schema_version: SCHEMA_VERSION,
                    created_by: format!("automl-store {}", env!("CARGO_PKG_VERSION")),
                    created_at_ms: codec::now_ms(),
                };
                let bytes = serde_json::to_vec(&m).unwrap_or_default();
                meta.insert(layout::META_KEY, bytes)
                    .map_err(|e| store.map_err(e))?;
                store.flush()?;
            }
        }
        Ok(store)
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raise the metadata's `schema_version` to this build's before the first trial record
    /// this handle writes (see [`SledStore::meta_current`]).
    fn upgrade_meta(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.meta_current.load(Ordering::SeqCst) {
            return Ok(());
        }
        let Some(bytes) = self
            .meta
            .get(layout::META_KEY)
            .map_err(|e| self.map_err(e))?
        else {
            return Ok(());
        };
        let mut m: Meta = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            what: format!("the metadata of store {}", self.path.display()),
            reason: e.to_string(),
        })?;
        if m.schema_version < SCHEMA_VERSION {
            m.schema_version = SCHEMA_VERSION;
            let bytes = serde_json::to_vec(&m).unwrap_or_default();
            self.meta
                .insert(layout::META_KEY, bytes)
                .map_err(|e| self.map_err(e))?;
        }
        self.meta_current.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Bytes used by the store directory (database, blobs and snapshot).
    pub fn size_on_disk(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(p) else {
                return 0;
            };
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.path)
    }

    /// Ask for `<store dir>/snapshot.json` (all studies and trial records, no artifacts) to be
    /// rewritten atomically (temp file + rename), for readers while this process holds the
    /// database. Done at once when the last rewrite is at least 1 s (and 20 times its own
    /// duration) old, otherwise by a helper thread when that interval has passed; `flush` and
    /// dropping the store do it at once.
    pub fn publish_snapshot(&self) -> Result<(), StoreError> {
        self.publisher.request()
    }

    /// Make the database durable (without publishing the snapshot).
    fn sync(&self) -> Result<(), StoreError> {
        self.publisher.touch();
        self.db.flush().map(|_| ()).map_err(|e| self.map_err(e))
    }

    /// Key ranges that together hold exactly the keys under the study's prefix, one per thread
    /// that reading its trials should use: one range (the caller scans the prefix) for a study
    /// with fewer than [`PARALLEL_TRIALS`] trials (by its trial counter, which a damaged
    /// counter only makes uneven, never wrong) or on one core.
    fn trial_ranges(&self, study_id: u64) -> Vec<KeyRange> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let count = self
            .counters
            .get(layout::trial_counter_key(study_id))
            .ok()
            .flatten()
            .and_then(|b| codec::be_u64(&b, "a trial counter").ok())
            .unwrap_or(0);
        if threads < 2 || count < PARALLEL_TRIALS {
            return vec![(Bound::Unbounded, Bound::Unbounded)];
        }
        let parts = threads.min(count / (PARALLEL_TRIALS / 2));
        let start = Bound::Included(layout::study_key(study_id).to_vec());
        let end = match study_id.checked_add(1) {
            Some(next) => Bound::Excluded(layout::study_key(next).to_vec()),
            None => Bound::Unbounded,
        };
        let cut = |i: u64| {
            let id = (u128::from(count) * u128::from(i) / u128::from(parts)) as u64;
            layout::trial_key(study_id, id).to_vec()
        };
        (0..parts)
            .map(|i| {
                let lo = if i == 0 {
                    start.clone()
                } else {
                    Bound::Included(cut(i))
                };
                let hi = if i + 1 == parts {
                    end.clone()
                } else {
                    Bound::Excluded(cut(i + 1))
                };
                (lo, hi)
            })
            .collect()
    }

    fn read_trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        let key = layout::trial_key(study_id, trial_id);
        match self.trials.get(key).map_err(|e| self.map_err(e))? {
            Some(b) => {
                let t = codec::decode_trial(&b, &trial_name(study_id, trial_id), &self.path)?;
                check_ids(&t, study_id, trial_id)?;
                Ok(Some(t))
            }
            None => Ok(None),
        }
    }

    fn require_study(&self, study_id: u64) -> Result<(), StoreError> {
        if self
            .studies
            .contains_key(layout::study_key(study_id))
            .map_err(|e| self.map_err(e))?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                what: format!("study {study_id}"),
            })
        }
    }

    fn tx_err(&self, e: TransactionError<StoreError>) -> StoreError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.map_err(e),
        }
    }

    /// A value stored by [`chunked::put`] (or whole, by an earlier version).
    fn read_chunked(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        what: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        chunked::get(tree, key).map_err(|e| match e {
            chunked::ReadError::Sled(e) => self.map_err(e),
            chunked::ReadError::Damaged(reason) => StoreError::Corrupt {
                what: what.to_string(),
                reason,
            },
        })
    }

    fn delete_artifact_noflush(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        self.upgrade_meta()?;
        let key = layout::trial_key(study_id, trial_id);
        let path = self.path.clone();
        (&self.trials, &self.artifacts)
            .transaction(|(t, a)| {
                let Some(bytes) = t.get(key)? else {
                    return Err(ConflictableTransactionError::Abort(StoreError::NotFound {
                        what: trial_name(study_id, trial_id),
                    }));
                };
                let mut rec = codec::decode_trial(&bytes, &trial_name(study_id, trial_id), &path)
                    .map_err(ConflictableTransactionError::Abort)?;
                rec.has_artifact = false;
                let enc = codec::encode_trial(&rec).map_err(ConflictableTransactionError::Abort)?;
                t.insert(&key[..], enc)?;
                chunked::remove(a, &key[..])?;
                Ok(())
            })
            .map_err(|e| self.tx_err(e))?;
        let _writing = self.chunk_writes.lock().unwrap_or_else(|p| p.into_inner());
        chunked::sweep(&self.artifacts, &key, None).map_err(|e| self.map_err(e))?;
        Ok(())
    }

    /// Write `packed` (or remove the value, for None) under `key` of `tree`, committing its head
    /// in the transaction `commit` runs (which gets the tree's transactional view last). The
    /// chunks are staged before the transaction, so sled does not buffer a large value twice.
    fn write_chunked<T>(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        packed: Option<codec::Stored>,
        commit: impl Fn(Option<&chunked::Staged>) -> Result<T, TransactionError<StoreError>>,
    ) -> Result<T, StoreError> {
        let _writing = self.chunk_writes.lock().unwrap_or_else(|p| p.into_inner());
        let staged = match packed {
            Some(p) => {
                let generation = self.db.generate_id().map_err(|e| self.map_err(e))?;
                Some(chunked::stage_stored(tree, key, generation, p).map_err(|e| self.map_err(e))?)
            }
            None => None,
        };
        match commit(staged.as_ref()) {
            Ok(v) => {
                let keep = staged.as_ref().map(chunked::Staged::generation);
                chunked::sweep(tree, key, keep).map_err(|e| self.map_err(e))?;
                Ok(v)
            }
            Err(e) => {
                if let Some(s) = &staged {
                    // Best effort: chunks left behind are swept by the key's next write.
                    let _ = chunked::discard(tree, s);
                }
                Err(self.tx_err(e))
            }
        }
    }

    fn finish_packed(&self, rec: &TrialRecord, packed: Packed) -> Result<(), StoreError> {
        self.upgrade_meta()?;
        let bytes = codec::encode_trial(rec)?;
        let key = layout::trial_key(rec.study_id, rec.trial_id);
        let (study_id, trial_id) = (rec.study_id, rec.trial_id);
        // The record over the started one, in the caller's transaction.
        let put_record = |t: &sled::transaction::TransactionalTree| {
            if t.get(key)?.is_none() {
                return Err(ConflictableTransactionError::Abort(StoreError::NotFound {
                    what: trial_name(study_id, trial_id),
                }));
            }
            t.insert(&key[..], bytes.clone())?;
            Ok(())
        };
        let packed = match packed {
            Packed::Replace(p) => Some(p),
            Packed::Delete => None,
            Packed::Keep => {
                // The record alone: the artifact's head and chunks are not touched.
                self.trials
                    .transaction(|t| put_record(t))
                    .map_err(|e| self.tx_err(e))?;
                return self.sync();
            }
        };
        self.write_chunked(&self.artifacts, &key, packed, |staged| {
            (&self.trials, &self.artifacts).transaction(|(t, a)| {
                put_record(t)?;
                match staged {
                    Some(s) => chunked::commit(a, s)?,
                    None => chunked::remove(a, &key[..])?,
                }
                Ok(())
            })
        })?;
        self.sync()
    }
}

/// Open the sled database in `dir` (which exists).
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(64 * 1024 * 1024)
        .flush_every_ms(Some(1000));
    // sled may panic on some kinds of damage; turn that into an error.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open())) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(map_sled(dir, e)),
        Err(_) => Err(StoreError::Corrupt {
            what: format!("the database in {}", dir.display()),
            reason: "the database engine failed while opening it".to_string(),
        }),
    }
}

pub(crate) fn check_ids(t: &TrialRecord, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
    if t.study_id != study_id || t.trial_id != trial_id {
        return Err(StoreError::Corrupt {
            what: trial_name(study_id, trial_id),
            reason: format!(
                "the record says it is trial {} of study {}",
                t.trial_id, t.study_id
            ),
        });
    }
    Ok(())
}

/// Map a sled error to a `StoreError` for the store at `path`.
pub(crate) fn map_sled(path: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io) if is_lock_error(&io) => StoreError::Locked {
            path: path.to_path_buf(),
        },
        sled::Error::Io(source) => StoreError::Io {
            path: path.to_path_buf(),
            source,
        },
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            what: format!("the database in {}", path.display()),
            reason: format!("sled found damaged data at {at:?}"),
        },
        other => StoreError::Database {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

impl StoreRead for SledStore {
    fn disk_size(&self) -> Option<u64> {
        Some(self.size_on_disk())
    }
    fn studies(&self) -> Result<Vec<StudyRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.studies.iter() {
            let (k, v) = item.map_err(|e| self.map_err(e))?;
            let id = codec::be_u64(&k, "a study key")?;
            out.push(codec::decode_study(&v, &format!("study {id}"), &self.path)?);
        }
        Ok(out)
    }
    fn study(&self, id: u64) -> Result<Option<StudyRecord>, StoreError> {
        self.studies
            .get(layout::study_key(id))
            .map_err(|e| self.map_err(e))?
            .map(|v| codec::decode_study(&v, &format!("study {id}"), &self.path))
            .transpose()
    }
    fn latest_study(&self) -> Result<Option<StudyRecord>, StoreError> {
        match self.studies.last().map_err(|e| self.map_err(e))? {
            Some((k, v)) => {
                let id = codec::be_u64(&k, "a study key")?;
                Ok(Some(codec::decode_study(
                    &v,
                    &format!("study {id}"),
                    &self.path,
                )?))
            }
            None => Ok(None),
        }
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        let decode = |item: sled::Result<(sled::IVec, sled::IVec)>| {
            let (k, v) = item.map_err(|e| self.map_err(e))?;
            let trial_id = codec::be_u64(k.get(8..).unwrap_or(&[]), "a trial key")?;
            // The record's name is only for an error message: formatting it for each of 100k
            // records cost more than it is worth, so a failed decode is redone with the name.
            let t = codec::decode_trial(&v, "", &self.path).or_else(|_| {
                codec::decode_trial(&v, &trial_name(study_id, trial_id), &self.path)
            })?;
            check_ids(&t, study_id, trial_id)?;
            Ok(t)
        };
        let ranges = self.trial_ranges(study_id);
        if ranges.len() < 2 {
            return self
                .trials
                .scan_prefix(layout::study_key(study_id))
                .map(decode)
                .collect();
        }
        // Each thread walks its own key range and decodes as it goes.
        let decode = &decode;
        let parts: Vec<Result<Vec<TrialRecord>, StoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = ranges
                .into_iter()
                .map(|r| scope.spawn(move || self.trials.range(r).map(decode).collect()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut out = Vec::with_capacity(parts.iter().flatten().map(Vec::len).sum());
        for part in parts {
            out.extend(part?);
        }
        Ok(out)
    }
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        self.read_trial(study_id, trial_id)
    }
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let what = artifact_name(study_id, trial_id);
        self.read_chunked(
            &self.artifacts,
            &layout::trial_key(study_id, trial_id),
            &what,
        )?
        .map(|v| codec::decompress(&v, &what))
        .transpose()
    }
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let what = blob_name(study_id, key);
        self.read_chunked(&self.blobs, &layout::blob_key(study_id, key), &what)?
            .map(|v| codec::decompress(&v, &what))
            .transpose()
    }
}

impl Store for SledStore {
    fn create_study(&self, study: StudyRecord) -> Result<u64, StoreError> {
        let id = (&self.counters, &self.studies)
            .transaction(|(c, s)| {
                let next = match c.get(layout::STUDY_COUNTER)? {
                    Some(b) => codec::be_u64(&b, "the study counter")
                        .map_err(ConflictableTransactionError::Abort)?,
                    None => 1,
                };
                let mut rec = study.clone();
                rec.study_id = next;
                let bytes =
                    codec::encode_study(&rec).map_err(ConflictableTransactionError::Abort)?;
                c.insert(layout::STUDY_COUNTER, &(next + 1).to_be_bytes()[..])?;
                s.insert(&layout::study_key(next)[..], bytes)?;
                Ok(next)
            })
            .map_err(|e| self.tx_err(e))?;
        self.sync()?;
        Ok(id)
    }
    fn update_study(&self, study: &StudyRecord) -> Result<(), StoreError> {
        let bytes = codec::encode_study(study)?;
        let key = layout::study_key(study.study_id);
        let id = study.study_id;
        self.studies
            .transaction(|s| {
                if s.get(key)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(StoreError::NotFound {
                        what: format!("study {id}"),
                    }));
                }
                s.insert(&key[..], bytes.clone())?;
                Ok(())
            })
            .map_err(|e| self.tx_err(e))?;
        self.sync()
    }
    fn start_trial(
        &self,
        study_id: u64,
        candidate: &Candidate,
        strategy: &str,
        seed: u64,
    ) -> Result<TrialRecord, StoreError> {
        self.upgrade_meta()?;
        let ckey = layout::trial_counter_key(study_id);
        let rec = (&self.studies, &self.counters, &self.trials)
            .transaction(|(s, c, t)| {
                if s.get(layout::study_key(study_id))?.is_none() {
                    return Err(ConflictableTransactionError::Abort(StoreError::NotFound {
                        what: format!("study {study_id}"),
                    }));
                }
                let next = match c.get(&ckey)? {
                    Some(b) => codec::be_u64(&b, "a trial counter")
                        .map_err(ConflictableTransactionError::Abort)?,
                    None => 0,
                };
                let rec = crate::new_trial_record(study_id, next, candidate, strategy, seed);
                let bytes =
                    codec::encode_trial(&rec).map_err(ConflictableTransactionError::Abort)?;
                c.insert(ckey.clone(), &(next + 1).to_be_bytes()[..])?;
                t.insert(&layout::trial_key(study_id, next)[..], bytes)?;
                Ok(rec)
            })
            .map_err(|e| self.tx_err(e))?;
        self.sync()?;
        Ok(rec)
    }
    fn write_finished(&self, record: &TrialRecord, packed: Packed) -> Result<(), StoreError> {
        self.finish_packed(record, packed)
    }
    fn write_blob(
        &self,
        study_id: u64,
        key: &str,
        stored: codec::Stored,
    ) -> Result<(), StoreError> {
        self.require_study(study_id)?;
        let k = layout::blob_key(study_id, key);
        self.write_chunked(&self.blobs, &k, Some(stored), |staged| {
            self.blobs.transaction(|b| match staged {
                Some(s) => chunked::commit(b, s).map_err(Into::into),
                None => Ok(()),
            })
        })?;
        self.sync()
    }
    fn delete_artifact(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        self.delete_artifact_noflush(study_id, trial_id)?;
        self.sync()
    }
    fn mark_interrupted(&self, study_id: u64) -> Result<usize, StoreError> {
        self.upgrade_meta()?;
        let now = codec::now_ms();
        let mut n = 0;
        for item in self.trials.scan_prefix(layout::study_key(study_id)) {
            let (k, v) = item.map_err(|e| self.map_err(e))?;
            let trial_id = codec::be_u64(k.get(8..).unwrap_or(&[]), "a trial key")?;
            let mut t = codec::decode_trial(&v, &trial_name(study_id, trial_id), &self.path)?;
            if t.state != TrialState::Running {
                continue;
            }
            crate::interrupt(&mut t, now);
            let enc = codec::encode_trial(&t)?;
            // Compare-and-swap: a trial finished meanwhile by this process is left alone.
            let swapped = self
                .trials
                .compare_and_swap(&k, Some(&v), Some(enc))
                .map_err(|e| self.map_err(e))?;
            if swapped.is_ok() {
                n += 1;
            }
        }
        self.sync()?;
        Ok(n)
    }
    fn apply_retention(
        &self,
        study_id: u64,
        keep_best: u64,
        metric_higher_is_better: bool,
        protect: &[u64],
    ) -> Result<usize, StoreError> {
        let victims = crate::retention_victims(
            &self.trials(study_id)?,
            keep_best,
            metric_higher_is_better,
            protect,
        );
        for &t in &victims {
            self.delete_artifact_noflush(study_id, t)?;
        }
        self.sync()?;
        Ok(victims.len())
    }
    fn publish_snapshot(&self) -> Result<(), StoreError> {
        SledStore::publish_snapshot(self)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.sync()?;
        self.publisher.publish_pending()
    }
}
