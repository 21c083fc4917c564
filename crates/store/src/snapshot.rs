//! The read-only snapshot: `<store dir>/snapshot.json`, written atomically by the process that
//! holds the database, and `SnapshotStore`, a `StoreRead` over it for live inspection.

use crate::codec::{self, layout, trial_name};
use crate::{StoreError, StoreRead};
use automl_core::{SCHEMA_VERSION, StudyRecord, TrialRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `format` field of a snapshot file.
const SNAPSHOT_FORMAT: &str = "automl-store-snapshot";

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    format: String,
    schema_version: u32,
    written_at_ms: u64,
    studies: Vec<Value>,
    trials: Vec<Value>,
}

/// Write the snapshot of `studies` and `trials` into `dir` (temp file, fsync, rename).
pub(crate) fn write(
    dir: &Path,
    studies: &[StudyRecord],
    trials: &[TrialRecord],
) -> Result<(), StoreError> {
    let to_value = |r: Result<Value, serde_json::Error>, what: String| {
        r.map_err(|e| StoreError::Invalid {
            what,
            reason: format!("cannot be encoded: {e}"),
        })
    };
    let file = SnapshotFile {
        format: SNAPSHOT_FORMAT.to_string(),
        schema_version: SCHEMA_VERSION,
        written_at_ms: codec::now_ms(),
        studies: studies
            .iter()
            .map(|s| to_value(serde_json::to_value(s), format!("study {}", s.study_id)))
            .collect::<Result<_, _>>()?,
        trials: trials
            .iter()
            .map(|t| {
                to_value(
                    serde_json::to_value(t),
                    trial_name(t.study_id, t.trial_id),
                )
            })
            .collect::<Result<_, _>>()?,
    };
    let bytes = serde_json::to_vec(&file).map_err(|e| StoreError::Invalid {
        what: "snapshot".to_string(),
        reason: e.to_string(),
    })?;
    let target = dir.join(layout::SNAPSHOT_FILE);
    let tmp = dir.join(format!(".{}.tmp.{}", layout::SNAPSHOT_FILE, std::process::id()));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    Ok(())
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
            reason: format!("{reason}; retry in a moment (the running fit rewrites it after each trial)"),
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
            let s = codec::decode_study_value(v, "a study in the snapshot", dir)?;
            studies.insert(s.study_id, s);
        }
        let mut trials = BTreeMap::new();
        for v in snap.trials {
            let t = codec::decode_trial_value(v, "a trial in the snapshot", dir)?;
            trials.insert((t.study_id, t.trial_id), t);
        }
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
