//! The final model's post-processing (`trainer::calibrate`): after the ensemble decision and
//! the choice of the final model's trial, a calibration and, for binary tasks scored on hard
//! labels, a decision threshold are chosen by nested cross-validation over that trial's
//! out-of-fold predictions (the study's own folds, so grouped and time folds are respected;
//! a holdout is split into 5 interleaved parts), refit on every out-of-fold row, and wrapped
//! around the final model (`Predictor::PostProcessed`). The decision, with every option's
//! nested scores and the reliability diagrams, is stored as JSON in the study record's
//! `extra[POST_PROCESSING_KEY]`; the settings in `extra["calibration"]` and
//! `extra["threshold"]`.

use super::Study;
use automl_core::{Predictions, StudyRecord, TrialRecord};
use automl_trainer::TrainingData;
use automl_trainer::calibrate::{self, CalibrationMethod, PostDecision};

/// Key of [`StudyRecord::extra`] holding the final model's [`PostDecision`] as JSON.
pub const POST_PROCESSING_KEY: &str = "post_processing";
/// Key of [`StudyRecord::extra`] holding the `--calibration` setting.
pub const CALIBRATION_KEY: &str = "calibration";
/// Key of [`StudyRecord::extra`] holding the `--threshold` setting.
pub const THRESHOLD_KEY: &str = "threshold";

/// The stored post-processing decision of a study (None: none stored, or unreadable).
pub fn post_decision(study: &StudyRecord) -> Option<PostDecision> {
    serde_json::from_str(study.extra.get(POST_PROCESSING_KEY)?).ok()
}

/// Whether a decision changes anything at predict time.
pub fn is_active(d: &PostDecision) -> bool {
    d.chosen.method != CalibrationMethod::None || d.chosen.threshold.is_some()
}

/// A decision in a line (`fit`, `show`, `report`).
pub fn describe(d: &PostDecision) -> String {
    let what = match (d.chosen.method, d.chosen.threshold) {
        (CalibrationMethod::None, None) => "none".to_string(),
        (m, None) => format!("calibration {}", m.name()),
        (CalibrationMethod::None, Some(t)) => format!("threshold {t:.4}"),
        (m, Some(t)) => format!("calibration {}, threshold {t:.4}", m.name()),
    };
    format!(
        "{what} (nested CV {} {:.4} -> {:.4})",
        d.metric, d.before, d.after
    )
}

impl Study<'_> {
    /// Choose the final model's post-processing on its out-of-fold predictions (`meta_oof`: the
    /// used stacking's or ensemble's nested ones) and record the
    /// decision (and the settings) in the study record. None for regression, without
    /// out-of-fold predictions of the chosen trial, or with fewer than 2 validation rows.
    pub(crate) fn choose_post_processing(
        &mut self,
        data: &TrainingData,
        oof: &[(u64, f64, Predictions)],
        chosen: Option<&TrialRecord>,
        meta_oof: Option<&Predictions>,
    ) -> Option<PostDecision> {
        let cfg = self.config.post;
        self.record
            .extra
            .insert(CALIBRATION_KEY.into(), cfg.calibration_text());
        self.record
            .extra
            .insert(THRESHOLD_KEY.into(), cfg.threshold_text());
        self.record.extra.remove(POST_PROCESSING_KEY);
        if !self.data.task.is_classification() {
            return None;
        }
        // A used stacking's or ensemble's honest out-of-fold predictions, else the trial's.
        let pred = match (meta_oof, chosen) {
            (Some(p), _) => p,
            (None, Some(t)) => &oof.iter().find(|(id, _, _)| *id == t.trial_id)?.2,
            (None, None) => return None,
        };
        let proba = pred.proba.as_ref()?;
        let y: Vec<f64> = data.oof_y();
        if proba.nrows() != y.len() || y.len() < 2 {
            return None;
        }
        let mut folds: Vec<Vec<usize>> = Vec::new();
        let mut offset = 0;
        for f in data.oof_folds() {
            let n = f.split.valid.len();
            folds.push((offset..offset + n).collect());
            offset += n;
        }
        if folds.len() < 2 {
            folds = (0..5).map(|k| (k..y.len()).step_by(5).collect()).collect();
        }
        let d = calibrate::choose(proba, &y, &folds, self.metric, cfg)?;
        if let Ok(json) = serde_json::to_string(&d) {
            self.record.extra.insert(POST_PROCESSING_KEY.into(), json);
        }
        Some(d)
    }
}
