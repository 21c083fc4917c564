//! The read-only snapshot: `<store dir>/snapshot.json`, written atomically by the process that
//! holds the database, and `SnapshotStore`, a `StoreRead` over it for live inspection.

use crate::codec::{self, layout};
use crate::{StoreError, StoreRead};
use automl_core::{SCHEMA_VERSION, StudyRecord, TrialRecord};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `format` field of a snapshot file.
const SNAPSHOT_FORMAT: &str = "automl-store-snapshot";

#[derive(Deserialize)]
struct SnapshotFile<'a> {
    format: String,
    schema_version: u32,
    written_at_ms: u64,
    #[serde(borrow)]
    studies: Vec<&'a RawValue>,
    #[serde(borrow)]
    trials: Vec<&'a RawValue>,
}

/// Write the snapshot into `dir` from the stored bytes of `studies` and `trials` (each a record
/// as kept in the database: JSON records are checked to be well-formed JSON and copied as they
/// are, binary trial records are written as JSON), as a temp file renamed over
/// `snapshot.json`. Not fsynced: it is a cache of the database, and a reader of a damaged one
/// is told to retry.
pub(crate) fn write<R: AsRef<[u8]> + Sync>(
    dir: &Path,
    studies: &[R],
    trials: &[R],
) -> Result<(), StoreError> {
    codec::decode_many(studies, |r| {
        codec::validate_json(r.as_ref(), "a stored study record")
    })?;
    let trials: Vec<&[u8]> = trials.iter().map(AsRef::as_ref).collect();
    let trials = codec::decode_many(&trials, |r| {
        codec::trial_json(r, "a stored trial record", dir)
    })?;
    let total: usize = studies
        .iter()
        .map(|r| r.as_ref().len() + 1)
        .chain(trials.iter().map(|r| r.len() + 1))
        .sum();
    let mut bytes = Vec::with_capacity(total + 200);
    bytes.extend_from_slice(
        format!(
            "{{\"format\":\"{SNAPSHOT_FORMAT}\",\"schema_version\":{SCHEMA_VERSION},\"written_at_ms\":{},\"studies\":[",
            codec::now_ms()
        )
        .as_bytes(),
    );
    for (i, r) in studies.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        bytes.extend_from_slice(r.as_ref());
    }
    bytes.extend_from_slice(b"],\"trials\":[");
    for (i, r) in trials.iter().enumerate() {
        if i > 0 {
            bytes.push(b',');
        }
        bytes.extend_from_slice(r);
    }
    bytes.extend_from_slice(b"]}");
    let target = dir.join(layout::SNAPSHOT_FILE);
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        layout::SNAPSHOT_FILE,
        std::process::id()
    ));
    std::fs::write(&tmp, &bytes).map_err(|source| StoreError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &target).map_err(|source| StoreError::Io {
        path: target,
        source,
    })
}

/// A read-only store over `snapshot.json`: studies and trial records as of the last publish.
/// Artifacts and blobs are not in it (`StoreError::InUse`).
pub struct SnapshotStore {
    dir: PathBuf,
    written_at_ms: u64,
    studies: BTreeMap<u64, StudyRecord>,
    trials: BTreeMap<(u64, u64), TrialRecord>,
}

impl SnapshotStore {
    /// Load the snapshot of the store in `dir`.
    pub fn open(dir: &Path) -> Result<SnapshotStore, StoreError> {
        let file = dir.join(layout::SNAPSHOT_FILE);
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Snapshot {
                    path: file,
                    reason: "the store is in use by another automl process, which has not published a snapshot yet; retry in a moment (or when it finishes)".to_string(),
                });
            }
            Err(source) => return Err(StoreError::Io { path: file, source }),
        };
        let bad = |reason: String| StoreError::Snapshot {
            path: file.clone(),
            reason: format!(
                "{reason}; retry in a moment (the running fit rewrites it after each trial)"
            ),
        };
        let snap: SnapshotFile =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(bad(format!("unknown format `{}`", snap.format)));
        }
        if snap.schema_version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: dir.to_path_buf(),
                found: snap.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        let mut studies = BTreeMap::new();
        for v in snap.studies {
            let s = codec::decode_study(v.get().as_bytes(), "a study in the snapshot", dir)?;
            studies.insert(s.study_id, s);
        }
        let trials = codec::decode_many(&snap.trials, |v| {
            codec::decode_trial(v.get().as_bytes(), "a trial in the snapshot", dir)
        })?
        .into_iter()
        .map(|t| ((t.study_id, t.trial_id), t))
        .collect();
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
            written_at_ms: snap.written_at_ms,
            studies,
            trials,
        })
    }

    /// Unix milliseconds when the snapshot was written.
    pub fn written_at_ms(&self) -> u64 {
        self.written_at_ms
    }
}

impl StoreRead for SnapshotStore {
    fn studies(&self) -> Result<Vec<StudyRecord>, StoreError> {
        Ok(self.studies.values().cloned().collect())
    }
    fn study(&self, id: u64) -> Result<Option<StudyRecord>, StoreError> {
        Ok(self.studies.get(&id).cloned())
    }
    fn latest_study(&self) -> Result<Option<StudyRecord>, StoreError> {
        Ok(self.studies.values().next_back().cloned())
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        Ok(self
            .trials
            .range((study_id, 0)..=(study_id, u64::MAX))
            .map(|(_, t)| t.clone())
            .collect())
    }
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        Ok(self.trials.get(&(study_id, trial_id)).cloned())
    }
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::InUse {
            path: self.dir.clone(),
            what: codec::artifact_name(study_id, trial_id),
        })
    }
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::InUse {
            path: self.dir.clone(),
            what: codec::blob_name(study_id, key),
        })
    }
}
