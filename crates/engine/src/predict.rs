//! Loading a stored model (the study's final model or one trial's fold models) and predicting
//! a CSV file: output keeps the input row order, a `prediction` column and, for classification,
//! one `proba_<class>` column per class.

use crate::error::EngineError;
use crate::study::{FINAL_MODEL_BLOB, REFERENCE_PROFILE_BLOB};
use automl_core::{Predictions, StudyRecord, Task, TrialRecord};
use automl_data::{Frame, load_for_prediction};
use automl_monitor::profile::ReferenceProfile;
use automl_store::StoreRead;
use automl_trainer::{Predictor, PredictorInfo};
use std::path::Path;

/// Which stored model to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    /// The study's final model (the winner refit on all rows).
    Final,
    /// The fold models of one trial.
    Trial(u64),
}

/// A model loaded from the store with the study it belongs to.
pub struct LoadedModel {
    /// The study.
    pub study: StudyRecord,
    /// The predictor.
    pub predictor: Predictor,
    /// Task and classes count.
    pub info: PredictorInfo,
    /// What was loaded, for messages (e.g. `final model (trial 12, gbdt)`).
    pub description: String,
    /// The reference profile of the training data (the final model of a study fitted with
    /// this build, or a model file exported from one); None for a trial's fold models and
    /// for older studies.
    pub profile: Option<ReferenceProfile>,
    /// The record of the trial the model comes from (its cross-validated scores, for
    /// `automl evaluate`); None for a model file exported before it was kept.
    pub trial: Option<TrialRecord>,
}

/// Load a model. `study_id`: None = the latest study in the store.
pub fn load_model(
    store: &dyn StoreRead,
    study_id: Option<u64>,
    choice: ModelChoice,
) -> Result<LoadedModel, EngineError> {
    let study = find_study(store, study_id)?;
    let mut profile = None;
    let mut trial = None;
    let (bytes, description) = match choice {
        ModelChoice::Final => {
            let bytes = store.blob(study.study_id, FINAL_MODEL_BLOB)?.ok_or_else(|| {
                EngineError::NotFound(format!(
                    "study {} has no final model (the search did not finish or no trial completed); predict with one of its trials, or run the search again",
                    study.study_id
                ))
            })?;
            let what = study
                .final_trial
                .map(|t| format!("final model of study {} (trial {t})", study.study_id))
                .unwrap_or_else(|| format!("final model of study {}", study.study_id));
            profile = load_profile(store, study.study_id)?;
            if let Some(t) = study.final_trial {
                trial = store.trial(study.study_id, t)?;
            }
            (bytes, what)
        }
        ModelChoice::Trial(t) => {
            let (rec, bytes) = trial_artifact(store, &study, t)?;
            let what = format!(
                "trial {t} ({}) of study {}",
                rec.candidate.family, study.study_id
            );
            trial = Some(rec);
            (bytes, what)
        }
    };
    let (predictor, info) = Predictor::from_bytes(&bytes)?;
    Ok(LoadedModel {
        study,
        predictor,
        info,
        description,
        profile,
        trial,
    })
}

/// A study by id, or the latest one (None), with the errors every command gives.
pub(crate) fn find_study(
    store: &dyn StoreRead,
    study_id: Option<u64>,
) -> Result<StudyRecord, EngineError> {
    match study_id {
        Some(id) => store.study(id)?.ok_or_else(|| {
            EngineError::NotFound(format!(
                "no study {id} in the store; `automl studies` lists them"
            ))
        }),
        None => store.latest_study()?.ok_or_else(|| {
            EngineError::NotFound("the store holds no study yet; run `automl fit` first".into())
        }),
    }
}

/// A trial's record and its stored fold models' bytes, with the errors every command gives.
pub(crate) fn trial_artifact(
    store: &dyn StoreRead,
    study: &StudyRecord,
    t: u64,
) -> Result<(TrialRecord, Vec<u8>), EngineError> {
    let rec = store.trial(study.study_id, t)?.ok_or_else(|| {
        EngineError::NotFound(format!(
            "no trial {t} in study {}; `automl leaderboard` lists them",
            study.study_id
        ))
    })?;
    let bytes = store.artifact(study.study_id, t)?.ok_or_else(|| {
        EngineError::NotFound(format!(
            "trial {t} has no stored model (state {}, or its fold models were dropped by model retention, which keeps the best N trials); pick another trial",
            rec.state.as_str()
        ))
    })?;
    Ok((rec, bytes))
}

/// The stored reference profile of a study's final model (None when the study has none).
pub fn load_profile(
    store: &dyn StoreRead,
    study_id: u64,
) -> Result<Option<ReferenceProfile>, EngineError> {
    let Some(bytes) = store.blob(study_id, REFERENCE_PROFILE_BLOB)? else {
        return Ok(None);
    };
    ReferenceProfile::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| EngineError::Corrupt {
            what: format!("reference profile of study {study_id}"),
            reason: e.to_string(),
        })
}

impl LoadedModel {
    /// One output per row as JSON: the class label (a string) for classification, the value
    /// (a number; null if not finite) for regression. What `serve` answers and the prediction
    /// log keeps.
    pub fn outputs_json(&self, pred: &Predictions) -> Vec<serde_json::Value> {
        let classes = &self.study.classes;
        pred.values
            .iter()
            .map(|&v| {
                if self.study.task.is_classification() {
                    let idx = v as usize;
                    serde_json::Value::String(
                        classes.get(idx).cloned().unwrap_or_else(|| idx.to_string()),
                    )
                } else {
                    serde_json::Number::from_f64(v)
                        .map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
            })
            .collect()
    }

    /// Predict a frame (columns matched by name).
    pub fn predict_frame(&self, frame: &Frame) -> Result<Predictions, EngineError> {
        Ok(self.predictor.predict(frame, self.info)?)
    }

    /// Read a CSV with the study's schema (extra columns, including the target, are ignored).
    pub fn read_input(
        &self,
        input: &Path,
        missing_tokens: &[String],
    ) -> Result<Frame, EngineError> {
        Ok(load_for_prediction(
            input,
            &self.study.schema,
            missing_tokens,
        )?)
    }
}

/// Predict `input` with `model` and write `output`. Returns the number of rows written.
pub fn predict_csv(
    model: &LoadedModel,
    input: &Path,
    output: &Path,
    missing_tokens: &[String],
) -> Result<usize, EngineError> {
    let frame = model.read_input(input, missing_tokens)?;
    let pred = model.predict_frame(&frame)?;
    write_predictions(output, &pred, model.study.task, &model.study.classes)?;
    Ok(pred.len())
}

/// Write predictions: `prediction` (+ `proba_<class>` per class for classification). Parquet
/// when `output` ends in `.parquet` (`prediction` as strings for classes, f64 for
/// regression; `proba_<class>` f64), CSV otherwise.
pub fn write_predictions(
    output: &Path,
    pred: &Predictions,
    task: Task,
    classes: &[String],
) -> Result<(), EngineError> {
    let err = |e: &dyn std::fmt::Display| EngineError::Output {
        path: output.display().to_string(),
        message: e.to_string(),
    };
    let parquet = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if parquet {
        use automl_data::OutColumn;
        let n = pred.len();
        let mut cols = Vec::new();
        if task.is_classification() {
            let labels = (0..n)
                .map(|i| {
                    let idx = pred.values[i] as usize;
                    classes.get(idx).cloned().unwrap_or_else(|| idx.to_string())
                })
                .collect();
            cols.push(("prediction".to_string(), OutColumn::Text(labels)));
            if let Some(p) = &pred.proba {
                for (j, c) in classes.iter().enumerate() {
                    let v = (0..n)
                        .map(|i| p.get((i, j)).copied().unwrap_or(0.0))
                        .collect();
                    cols.push((format!("proba_{c}"), OutColumn::Numbers(v)));
                }
            }
        } else {
            let v = pred.values[..n].to_vec();
            cols.push(("prediction".to_string(), OutColumn::Numbers(v)));
        }
        return automl_data::write_parquet(output, &cols).map_err(|e| err(&e));
    }
    let mut w = csv::Writer::from_path(output).map_err(|e| err(&e))?;
    let mut header = vec!["prediction".to_string()];
    if task.is_classification() {
        header.extend(classes.iter().map(|c| format!("proba_{c}")));
    }
    w.write_record(&header).map_err(|e| err(&e))?;
    for i in 0..pred.len() {
        let mut row = Vec::with_capacity(header.len());
        if task.is_classification() {
            let idx = pred.values[i] as usize;
            row.push(classes.get(idx).cloned().unwrap_or_else(|| idx.to_string()));
            if let Some(p) = &pred.proba {
                for j in 0..classes.len() {
                    row.push(format!("{}", p.get((i, j)).copied().unwrap_or(0.0)));
                }
            }
        } else {
            row.push(format!("{}", pred.values[i]));
        }
        w.write_record(&row).map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))?;
    Ok(())
}
