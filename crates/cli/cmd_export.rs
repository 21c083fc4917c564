//! `automl export`: a self-contained model file for `automl predict --model FILE`.

use crate::args::ExportArgs;
use crate::output::{Doc, fmt_bytes, print_json};
use anyhow::{Context, Result};
use automl_engine::FINAL_MODEL_BLOB;
use serde_json::json;

pub fn run(a: ExportArgs) -> Result<()> {
    let store = crate::store_arg::open_models(&a.store.store)?;
    let study = crate::store_arg::pick_study(store.as_ref(), a.study, &a.store.store)?;
    let (bytes, what) = match a.trial {
        None => (
            store.blob(study.study_id, FINAL_MODEL_BLOB)?.with_context(|| {
                format!("study {} has no final model (did the search finish?); pass --trial ID", study.study_id)
            })?,
            format!("final model of study {} (trial {})", study.study_id, study.final_trial.map(|t| t.to_string()).unwrap_or_else(|| "?".into())),
        ),
        Some(t) => (
            store.artifact(study.study_id, t)?.with_context(|| {
                format!("trial {t} of study {} has no stored model; `automl leaderboard` shows which do", study.study_id)
            })?,
            format!("trial {t} of study {}", study.study_id),
        ),
    };
    // Check it decodes before writing it.
    automl_trainer::Predictor::from_bytes(&bytes)?;
    // The final model carries its reference profile (for `automl drift --model FILE`).
    let profile = match a.trial {
        None => automl_engine::predict::load_profile(store.as_ref(), study.study_id)?,
        Some(_) => None,
    };
    // And the record of its trial: its cross-validated scores, for `automl evaluate --model`.
    let trial_id = a.trial.or(study.final_trial);
    let trial = match trial_id {
        Some(t) => store.trial(study.study_id, t)?,
        None => None,
    };
    let size = automl_engine::export::write_model_file(
        &a.output,
        &study,
        &what,
        &bytes,
        profile.as_ref(),
        trial.as_ref(),
    )?;
    if a.format.json() {
        return print_json(
            Doc::Export,
            json!({
                "output": a.output.display().to_string(),
                "bytes": size,
                "model": what,
                "study_id": study.study_id,
                "trial_id": trial_id,
                "final_model": a.trial.is_none(),
            }),
        );
    }
    println!(
        "wrote {} ({}) to {}",
        what,
        fmt_bytes(size),
        a.output.display()
    );
    Ok(())
}
