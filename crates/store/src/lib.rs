//! automl-store: the `Store` trait (studies, trials, fitted artifacts, blobs), its sled
//! implementation, a PostgreSQL implementation that several processes share (with the trial
//! queue of remote workers), an in-memory implementation for tests, a read-only snapshot for
//! live inspection, and the conformance suites every implementation passes. The only crate that
//! knows sled and PostgreSQL. [`StoreLocation`] tells the two apart from a `--store` argument.
//!
//! A model is an opaque byte blob here: the engine serializes it, the store compresses it (lz4),
//! keeps it next to its trial record and gives the same bytes back.

mod binrec;
mod chunked;
pub mod codec;
pub mod conformance;
mod error;
mod location;
mod memory;
#[cfg(feature = "pg-test-server")]
pub mod pg_test;
pub mod postgres;
mod publisher;
pub mod queue;
pub mod queue_conformance;
mod sled_store;
mod snapshot;

pub use codec::layout;
pub use error::StoreError;
pub use location::{StoreLocation, open_read, open_store};
pub use memory::MemoryStore;
pub use postgres::{PgStore, PgUrl};
pub use queue::{Lease, QueueCounts, QueueResult, QueueState, TrialQueue};
pub use sled_store::SledStore;
pub use snapshot::SnapshotStore;

use automl_core::{Artifact, Candidate, SCHEMA_VERSION, StudyRecord, TrialRecord, TrialState};
use std::collections::HashSet;
use std::path::Path;

/// Error message written into trials found `running` by [`Store::mark_interrupted`].
pub const INTERRUPTED_ERROR: &str = "interrupted: the process running this trial stopped";

/// Reading studies, trials, artifacts and blobs.
pub trait StoreRead: Send + Sync {
    /// All studies, by id ascending.
    fn studies(&self) -> Result<Vec<StudyRecord>, StoreError>;
    /// One study, or `None` when there is no study with that id.
    fn study(&self, id: u64) -> Result<Option<StudyRecord>, StoreError>;
    /// The study with the highest id.
    fn latest_study(&self) -> Result<Option<StudyRecord>, StoreError>;
    /// All trials of a study, by trial id ascending (empty for an unknown study).
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError>;
    /// One trial.
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError>;
    /// The fitted artifact of a trial: the bytes given to [`Store::finish_trial`], decompressed.
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// A named blob of a study (decompressed).
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Bytes the store takes on disk (None for stores without a file, e.g. in memory).
    fn disk_size(&self) -> Option<u64> {
        None
    }
}

/// What [`Store::write_finished`] does with a trial's artifact.
#[derive(Debug)]
pub enum Packed {
    /// Store these bytes, as the store keeps them ([`codec::compress`] or
    /// [`codec::pack_stored`]).
    Replace(codec::Stored),
    /// Drop any stored artifact (the trial has none).
    Delete,
    /// Leave the stored artifact, if any, as it is.
    Keep,
}

impl From<Option<Vec<u8>>> for Packed {
    fn from(packed: Option<Vec<u8>>) -> Packed {
        Packed::from(packed.map(codec::Stored::Whole))
    }
}

impl From<Option<codec::Stored>> for Packed {
    fn from(packed: Option<codec::Stored>) -> Packed {
        packed.map_or(Packed::Delete, Packed::Replace)
    }
}

/// Writing studies and trials. The engine is the only writer.
pub trait Store: StoreRead {
    /// Allocate a study id (ignoring `study.study_id`), persist the record and flush. Ids start at 1.
    fn create_study(&self, study: StudyRecord) -> Result<u64, StoreError>;
    /// Overwrite an existing study record (`NotFound` if it does not exist); flushed.
    fn update_study(&self, study: &StudyRecord) -> Result<(), StoreError>;
    /// Allocate the next trial id of the study (0, 1, 2, ...), write a `Running` record with
    /// `started_at_ms` = now, flush, and return it. `NotFound` for an unknown study.
    fn start_trial(
        &self,
        study_id: u64,
        candidate: &Candidate,
        strategy: &str,
        seed: u64,
    ) -> Result<TrialRecord, StoreError>;
    /// Write the final record of a started trial and its artifact atomically, then flush: the
    /// trial is durable when this returns. Sets `has_artifact` (and `model_size_bytes` to the
    /// artifact length when one is given); `ended_at_ms` = now when it is 0. The state must not
    /// be `Running`; the trial must have been started (`NotFound` otherwise).
    fn finish_trial(
        &self,
        record: &TrialRecord,
        artifact: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let rec = prepare_finish(record, artifact.map(<[u8]>::len))?;
        self.write_finished(&rec, Packed::from(artifact.map(codec::compress)))
    }
    /// [`Store::finish_trial`] taking the artifact by value, whole or compressed in blocks
    /// ([`Artifact`]): the raw bytes are freed once compressed, and blocks are written as they
    /// are, so a bag of fold models compressed while it was encoded is never unpacked whole on
    /// its way in (on diamonds, a forest's 125 MB bag beside its compressed copy was a 60 s
    /// search's memory peak). `model_size_bytes` is the raw length either way.
    fn finish_trial_owned(
        &self,
        record: &TrialRecord,
        artifact: Option<Artifact>,
    ) -> Result<(), StoreError> {
        let rec = prepare_finish(record, artifact.as_ref().map(Artifact::len))?;
        self.write_finished(&rec, Packed::from(artifact.map(codec::pack_stored)))
    }
    /// Rewrite the record of a finished trial, its artifact left as it is stored: the record's
    /// `has_artifact` and `model_size_bytes` are taken from the stored record (a seed-variance
    /// measurement added to a trial whose models are kept never reads them back or stores
    /// them again). `NotFound` for a trial not in the store; the stored and the given state
    /// must both be final. Relies on the store's one writer: no other write to this trial
    /// comes between the read and the write.
    fn update_finished(&self, record: &TrialRecord) -> Result<(), StoreError> {
        let what = || codec::trial_name(record.study_id, record.trial_id);
        let stored = self
            .trial(record.study_id, record.trial_id)?
            .ok_or_else(|| StoreError::NotFound { what: what() })?;
        if stored.state == TrialState::Running {
            return Err(StoreError::Invalid {
                what: what(),
                reason: "update_finished needs a finished trial; this one is still running"
                    .to_string(),
            });
        }
        let mut rec = prepare_finish(record, None)?;
        rec.has_artifact = stored.has_artifact;
        rec.model_size_bytes = stored.model_size_bytes;
        self.write_finished(&rec, Packed::Keep)
    }
    /// The write behind [`Store::finish_trial`], [`Store::finish_trial_owned`] and
    /// [`Store::update_finished`]: the final record as given (already checked and stamped by
    /// them) and what becomes of the artifact ([`Packed`]), atomically, then flush; a trial
    /// never started is `NotFound`. Call those three instead.
    fn write_finished(&self, record: &TrialRecord, packed: Packed) -> Result<(), StoreError>;
    /// Store a named blob of a study (compressed, flushed), replacing any previous one.
    fn put_blob(&self, study_id: u64, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write_blob(study_id, key, codec::Stored::Whole(codec::compress(bytes)))
    }
    /// [`Store::put_blob`] taking the blob by value, whole or compressed in blocks
    /// ([`Artifact`]): blocks are written as they are, so a final model compressed while it
    /// was encoded is never unpacked whole on its way in (on diamonds, a refit forest's
    /// 150 MB beside its compressed copy was the end of a study's memory peak).
    fn put_blob_owned(&self, study_id: u64, key: &str, blob: Artifact) -> Result<(), StoreError> {
        self.write_blob(study_id, key, codec::pack_stored(blob))
    }
    /// The write behind [`Store::put_blob`] and [`Store::put_blob_owned`]: the blob as stored
    /// (compressed by them), replacing any previous one, then flush. Call those two instead.
    fn write_blob(&self, study_id: u64, key: &str, stored: codec::Stored)
    -> Result<(), StoreError>;
    /// Drop the artifact of a trial and clear its `has_artifact` (the record stays; `model_size_bytes` is kept).
    fn delete_artifact(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError>;
    /// Mark the study's `Running` trials as `Interrupted` (ended now, error [`INTERRUPTED_ERROR`]).
    /// Call it when a study is reopened by a new process. Returns how many were marked.
    fn mark_interrupted(&self, study_id: u64) -> Result<usize, StoreError>;
    /// Drop the artifacts of complete trials outside the best `keep_best` (by mean score, ties by
    /// lower trial id), never those in `protect` (the final model). Returns how many were dropped.
    fn apply_retention(
        &self,
        study_id: u64,
        keep_best: u64,
        metric_higher_is_better: bool,
        protect: &[u64],
    ) -> Result<usize, StoreError>;
    /// Make everything written so far durable, and publish a deferred snapshot (see
    /// [`Store::publish_snapshot`]).
    fn flush(&self) -> Result<(), StoreError>;
    /// Publish what readers in other processes see while this store is held (a read
    /// snapshot, for live inspection of a running search). A no-op for stores that other
    /// processes cannot read. May be throttled: the snapshot then follows within an interval
    /// (for `SledStore`: at least 1 s, and 20 times the last rewrite's duration), and
    /// [`Store::flush`] or dropping the store publishes it at once.
    fn publish_snapshot(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The trial queue, for stores that several processes share (None: this store has one
    /// writer process, e.g. sled, and cannot take remote workers).
    fn queue(&self) -> Option<&dyn TrialQueue> {
        None
    }
}

/// Open a store for reading without ever failing on the lock: the sled database when it is
/// free, otherwise (another process, e.g. a running `fit`, holds it) the snapshot that process
/// publishes. Artifacts and blobs are unavailable through the snapshot (`StoreError::InUse`).
/// Never creates a store: a missing directory is `NotFound`.
pub fn open_read_only(dir: &Path) -> Result<Box<dyn StoreRead>, StoreError> {
    if !dir.exists() {
        return Err(StoreError::NotFound {
            what: format!("automl store {}", dir.display()),
        });
    }
    if !dir.is_dir() {
        return Err(StoreError::NotAStore {
            path: dir.to_path_buf(),
            reason: "it is a file, not a directory".to_string(),
        });
    }
    let snapshot = dir.join(layout::SNAPSHOT_FILE);
    if !dir.join("db").exists() {
        if snapshot.exists() {
            return Ok(Box::new(SnapshotStore::open(dir)?));
        }
        return Err(StoreError::NotAStore {
            path: dir.to_path_buf(),
            reason: "the directory holds no automl database".to_string(),
        });
    }
    match SledStore::open(dir) {
        Ok(s) => Ok(Box::new(s)),
        Err(StoreError::Locked { .. }) => Ok(Box::new(SnapshotStore::open(dir)?)),
        Err(e) => Err(e),
    }
}

/// A fresh `Running` record.
pub(crate) fn new_trial_record(
    study_id: u64,
    trial_id: u64,
    candidate: &Candidate,
    strategy: &str,
    seed: u64,
) -> TrialRecord {
    TrialRecord {
        schema_version: SCHEMA_VERSION,
        study_id,
        trial_id,
        candidate: candidate.clone(),
        strategy: strategy.to_string(),
        state: TrialState::Running,
        fold_scores: Vec::new(),
        mean: f64::NAN,
        std: f64::NAN,
        metrics: Default::default(),
        fit_time_s: 0.0,
        predict_time_per_row_s: 0.0,
        model_size_bytes: 0,
        has_artifact: false,
        error: None,
        seed,
        started_at_ms: codec::now_ms(),
        ended_at_ms: 0,
        extra: Default::default(),
        ensemble: None,
    }
}

/// Validate and complete a record given to `finish_trial`.
pub(crate) fn prepare_finish(
    record: &TrialRecord,
    artifact_len: Option<usize>,
) -> Result<TrialRecord, StoreError> {
    if record.state == TrialState::Running {
        return Err(StoreError::Invalid {
            what: codec::trial_name(record.study_id, record.trial_id),
            reason: "finish_trial needs a final state (complete, failed, timed_out or interrupted), got running".to_string(),
        });
    }
    let mut r = record.clone();
    r.schema_version = SCHEMA_VERSION;
    if r.ended_at_ms == 0 {
        r.ended_at_ms = codec::now_ms();
    }
    match artifact_len {
        Some(len) => {
            r.has_artifact = true;
            r.model_size_bytes = len as u64;
        }
        None => r.has_artifact = false,
    }
    Ok(r)
}

/// Turn a running record into an interrupted one.
pub(crate) fn interrupt(t: &mut TrialRecord, now: u64) {
    t.state = TrialState::Interrupted;
    t.ended_at_ms = now;
    t.error = Some(INTERRUPTED_ERROR.to_string());
}

/// Trial ids whose artifacts retention drops.
pub(crate) fn retention_victims(
    trials: &[TrialRecord],
    keep_best: u64,
    higher_is_better: bool,
    protect: &[u64],
) -> Vec<u64> {
    let mut complete: Vec<&TrialRecord> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .collect();
    complete.sort_by(|a, b| {
        let (fa, fb) = (a.mean.is_finite(), b.mean.is_finite());
        fb.cmp(&fa)
            .then_with(|| {
                if fa && fb {
                    let o = a.mean.total_cmp(&b.mean);
                    if higher_is_better { o.reverse() } else { o }
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then_with(|| a.trial_id.cmp(&b.trial_id))
    });
    let keep: HashSet<u64> = complete
        .iter()
        .take(usize::try_from(keep_best).unwrap_or(usize::MAX))
        .map(|t| t.trial_id)
        .collect();
    complete
        .iter()
        .filter(|t| t.has_artifact && !keep.contains(&t.trial_id) && !protect.contains(&t.trial_id))
        .map(|t| t.trial_id)
        .collect()
}
