//! Self-contained model files (`automl export`): the study record (schema, classes, task,
//! metric) and a predictor artifact in one file that `automl predict --model FILE` uses
//! without the store.
//!
//! Layout: the 12-byte magic `AUTOMLMODEL\0`, a little-endian u32 format version, a
//! little-endian u64 length N, N bytes of JSON header, then the lz4-compressed artifact bytes.
//! Format 2 adds to the header an optional `profile`, the final model's reference profile
//! (for `automl drift --model FILE`), and an optional `trial`, the record of the model's
//! trial with its cross-validated scores (for `automl evaluate --model FILE`); format 1
//! files still read (without them).

use crate::error::EngineError;
use crate::predict::LoadedModel;
use automl_core::{StudyRecord, TrialRecord};
use automl_monitor::profile::ReferenceProfile;
use automl_trainer::Predictor;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 12] = b"AUTOMLMODEL\0";
/// Version of the model-file layout.
pub const MODEL_FILE_FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    study: StudyRecord,
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<ReferenceProfile>,
    /// The record of the model's trial (its cross-validated scores), without the fold models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trial: Option<TrialRecord>,
}

/// Write `artifact` (bytes of a stored predictor) with its study, and the model's reference
/// profile when it has one, to `path`.
pub fn write_model_file(
    path: &Path,
    study: &StudyRecord,
    description: &str,
    artifact: &[u8],
    profile: Option<&ReferenceProfile>,
    trial: Option<&TrialRecord>,
) -> Result<u64, EngineError> {
    let header = serde_json::to_vec(&Header {
        study: study.clone(),
        description: description.to_string(),
        profile: profile.cloned(),
        trial: trial.cloned(),
    })
    .map_err(|e| EngineError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(header.len() + artifact.len() / 2 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&MODEL_FILE_FORMAT.to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&lz4_flex::compress_prepend_size(artifact));
    std::fs::write(path, &out).map_err(|e| EngineError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(out.len() as u64)
}

/// Read a model file written by [`write_model_file`].
pub fn read_model_file(path: &Path) -> Result<LoadedModel, EngineError> {
    let bad = |why: &str| {
        EngineError::Config(format!(
            "`{}` is not a usable automl model file: {why}; export one with `automl export --output FILE`",
            path.display()
        ))
    };
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            EngineError::NotFound(format!("model file `{}` not found", path.display()))
        }
        _ => bad(&e.to_string()),
    })?;
    if bytes.len() < 24 || &bytes[..12] != MAGIC {
        return Err(bad("wrong magic bytes"));
    }
    let version = u32::from_le_bytes(bytes[12..16].try_into().map_err(|_| bad("truncated"))?);
    if version > MODEL_FILE_FORMAT {
        return Err(bad(&format!(
            "format {version} is newer than this build supports; upgrade automl"
        )));
    }
    let n = u64::from_le_bytes(bytes[16..24].try_into().map_err(|_| bad("truncated"))?) as usize;
    let end = 24usize
        .checked_add(n)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| bad("truncated header"))?;
    let header: Header =
        serde_json::from_slice(&bytes[24..end]).map_err(|e| bad(&e.to_string()))?;
    let artifact =
        lz4_flex::decompress_size_prepended(&bytes[end..]).map_err(|e| bad(&e.to_string()))?;
    let (predictor, info) = Predictor::from_bytes(&artifact)?;
    Ok(LoadedModel {
        study: header.study,
        predictor,
        info,
        description: header.description,
        profile: header.profile,
        trial: header.trial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        std::fs::write(&p, b"not a model").unwrap();
        let e = read_model_file(&p).err().unwrap().to_string();
        assert!(e.contains("not a usable automl model file"), "{e}");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let e = read_model_file(&p).err().unwrap().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn format_1_files_still_read() {
        // A format 1 header has no profile; its artifact is any stored predictor.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        let info = automl_trainer::PredictorInfo {
            task: automl_core::Task::Regression,
            n_classes: 0,
        };
        let artifact = Predictor::Ensemble(Vec::new()).to_bytes(info).unwrap();
        let study: StudyRecord = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "study_id": 1, "name": "s", "data_path": "d.csv",
            "fingerprint": "f", "schema": [], "target": "y", "task": "regression",
            "metric": "rmse", "space": "fast", "strategy": "random", "seed": 0,
            "budget": {"time_s": null, "max_trials": 1}, "started_at_ms": 0
        }))
        .unwrap_or_else(|e| panic!("a minimal study record: {e}"));
        let header = serde_json::json!({"study": study, "description": "old"});
        let header = serde_json::to_vec(&header).unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&lz4_flex::compress_prepend_size(&artifact));
        std::fs::write(&p, &bytes).unwrap();
        let m = read_model_file(&p).unwrap();
        assert_eq!(m.description, "old");
        assert!(m.profile.is_none());
    }
}
