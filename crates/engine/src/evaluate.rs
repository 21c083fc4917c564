//! `automl evaluate`: the model scored on newly labelled rows, set beside its cross-validated
//! estimate, with an interval for each and a verdict on whether the gap is beyond what the
//! noise of both explains.
//!
//! The live score's uncertainty comes from a seeded bootstrap over the labelled rows (its
//! standard error and 95 % percentile interval). The CV estimate's comes from its fold scores:
//! the standard error of their mean, `std / sqrt(k)`, and the interval `mean ± 1.96 · se`.
//! The gap is "beyond noise" when `|live − cv| > 1.96 · sqrt(se_live² + se_cv²)` (a two-sided
//! z-test at 5 %), and then it is "worse" or "better" by the metric's direction.

use crate::error::EngineError;
use crate::predict::LoadedModel;
use automl_core::{Metric, Predictions, Rng, Task, TrialRecord};
use serde::Serialize;
use std::path::Path;

/// Bootstrap resamples of the live score (fewer on large inputs; see [`resamples`]).
const BOOTSTRAP: usize = 1000;
/// The z value of a two-sided 95 % interval.
const Z95: f64 = 1.959_964;

/// What the gap between the live score and the CV estimate means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within what the noise of both scores explains.
    WithinNoise,
    /// Worse than the CV estimate beyond noise.
    Worse,
    /// Better than the CV estimate beyond noise.
    Better,
}

impl Verdict {
    /// The verdict in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::WithinNoise => "within noise",
            Verdict::Worse => "worse beyond noise",
            Verdict::Better => "better beyond noise",
        }
    }
}

/// The model's score on labelled rows beside its cross-validated estimate.
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvaluation {
    /// The study's metric.
    pub metric: String,
    /// Whether higher is better for it.
    pub higher_is_better: bool,
    /// What was evaluated (e.g. `final model of study 1 (trial 12)`).
    pub model: String,
    /// Rows scored.
    pub rows: usize,
    /// Rows skipped because their label was missing.
    pub rows_without_label: usize,
    /// The score on the labelled rows.
    pub live: f64,
    /// Its bootstrap standard error.
    pub live_se: f64,
    /// Its 95 % bootstrap percentile interval.
    pub live_interval: [f64; 2],
    /// The cross-validated estimate (mean of the fold scores) of the model's trial.
    pub cv: f64,
    /// The standard deviation of the fold scores.
    pub cv_std: f64,
    /// How many fold scores the estimate has.
    pub cv_folds: usize,
    /// The CV estimate's 95 % interval, `cv ± 1.96 · cv_std / sqrt(folds)`.
    pub cv_interval: [f64; 2],
    /// `live − cv`.
    pub gap: f64,
    /// The gap over the standard error of the difference.
    pub z: f64,
    /// What the gap means.
    pub verdict: Verdict,
}

/// Score `model` on the labelled rows of `input` (the study's target column must be present)
/// and compare it with `cv`, the record of the trial the model comes from (its mean, std and
/// fold scores). `seed` seeds the bootstrap.
pub fn evaluate_labeled(
    model: &LoadedModel,
    cv: &TrialRecord,
    input: &Path,
    missing_tokens: &[String],
    seed: u64,
) -> Result<LiveEvaluation, EngineError> {
    let study = &model.study;
    let metric = Metric::from_name(&study.metric).ok_or_else(|| {
        EngineError::Config(format!("the study's metric `{}` is unknown", study.metric))
    })?;
    let labels = read_labels(
        input,
        &study.target,
        study.task,
        &study.classes,
        missing_tokens,
    )?;
    let keep: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].is_some()).collect();
    if keep.is_empty() {
        return Err(EngineError::Config(format!(
            "`{}` has no row with a label in `{}`; evaluate needs labelled rows",
            input.display(),
            study.target
        )));
    }
    let frame = model.read_input(input, missing_tokens)?;
    let frame = if keep.len() == frame.n_rows {
        frame
    } else {
        frame.select_rows(&keep)
    };
    let y: Vec<f64> = keep.iter().map(|&i| labels[i].unwrap()).collect();
    let pred = model.predict_frame(&frame)?;
    let n_classes = study.classes.len();
    let live = score(metric, &y, &pred, n_classes);
    let (live_se, live_interval) = bootstrap(metric, &y, &pred, n_classes, seed);
    let repeats = study.validation.as_ref().map_or(1, |v| v.repeats());
    let cv_se = cv_standard_error(cv, repeats);
    let gap = live - cv.mean;
    let se = (live_se * live_se + cv_se * cv_se).sqrt();
    let z = if se > 0.0 {
        gap / se
    } else if gap == 0.0 {
        0.0
    } else {
        gap.signum() * f64::INFINITY
    };
    let verdict = if z.abs() <= Z95 || !z.is_finite() && gap == 0.0 {
        Verdict::WithinNoise
    } else if metric.better(live, cv.mean) {
        Verdict::Better
    } else {
        Verdict::Worse
    };
    Ok(LiveEvaluation {
        metric: metric.name().to_string(),
        higher_is_better: metric.higher_is_better(),
        model: model.description.clone(),
        rows: y.len(),
        rows_without_label: labels.len() - y.len(),
        live,
        live_se,
        live_interval,
        cv: cv.mean,
        cv_std: cv.std,
        cv_folds: cv.fold_scores.len(),
        cv_interval: cv_interval(cv, repeats),
        gap,
        z,
        verdict,
    })
}

/// The live score as the model predicts: hard-label metrics (accuracy, f1, ...) read the
/// predicted labels, so a tuned decision threshold counts.
fn score(metric: Metric, y: &[f64], pred: &Predictions, n_classes: usize) -> f64 {
    automl_trainer::calibrate::score(metric, y, pred, n_classes)
}

/// The cross-validated estimate to hold `model` to: its trial's record, except for a final
/// model with post-processing (a calibration or a tuned threshold), whose estimate is the
/// chosen option's nested fold scores (each fold scored with the option fitted on the other
/// folds), as `fit` reported it. None when the model carries no trial record.
pub fn model_estimate(model: &LoadedModel) -> Option<TrialRecord> {
    let mut cv = model.trial.clone()?;
    let automl_trainer::Predictor::PostProcessed(_, post) = &model.predictor else {
        return Some(cv);
    };
    let decision = crate::study::postprocess::post_decision(&model.study)?;
    let tuned = post.threshold.is_some();
    if let Some(o) = decision
        .options
        .iter()
        .find(|o| o.method == post.method && o.tuned_threshold == tuned)
    {
        let n = o.fold_scores.len();
        if n > 0 {
            let mean = o.fold_scores.iter().sum::<f64>() / n as f64;
            let var = o
                .fold_scores
                .iter()
                .map(|x| (x - mean).powi(2))
                .sum::<f64>()
                / (n.max(2) - 1) as f64;
            cv.fold_scores = o.fold_scores.clone();
            cv.mean = mean;
            cv.std = var.sqrt();
        }
    }
    Some(cv)
}

/// The standard error of a trial's CV estimate: the std of its fold scores over
/// `sqrt(folds)` (0 when it has no spread to speak of). Under a repeated k-fold (`repeats`
/// fold sets, [`automl_core::Validation::repeats`]) the folds of one set count: the sets reuse
/// the same rows, so their folds are not independent estimates (a trial scored on every set
/// has `repeats` times as many fold scores; a meta-trial or a first look has one set's or fewer).
pub fn cv_standard_error(cv: &TrialRecord, repeats: usize) -> f64 {
    let n = cv.fold_scores.len();
    let per_set = if repeats > 1
        && cv.candidate.folds.is_none()
        && !automl_core::is_meta_family(&cv.candidate.family)
    {
        n / repeats
    } else {
        n
    };
    let k = per_set.max(1);
    if cv.std.is_finite() {
        cv.std / (k as f64).sqrt()
    } else {
        0.0
    }
}

/// The 95 % interval of a trial's CV estimate, `mean ± 1.96 · std / sqrt(folds)` (what
/// `automl report` states and `automl evaluate` compares with; the folds of one fold set under
/// a repeated k-fold of `repeats` sets, see [`cv_standard_error`]).
pub fn cv_interval(cv: &TrialRecord, repeats: usize) -> [f64; 2] {
    let se = cv_standard_error(cv, repeats);
    [cv.mean - Z95 * se, cv.mean + Z95 * se]
}

/// Fewer resamples on large inputs, so a million rows stays quick: the standard error of a
/// bootstrap standard error with B resamples is about `se / sqrt(2B)`.
fn resamples(n: usize) -> usize {
    match n {
        0..=20_000 => BOOTSTRAP,
        20_001..=200_000 => 300,
        _ => 100,
    }
}

/// The bootstrap standard error and 95 % percentile interval of the metric.
fn bootstrap(
    metric: Metric,
    y: &[f64],
    pred: &Predictions,
    n_classes: usize,
    seed: u64,
) -> (f64, [f64; 2]) {
    let n = y.len();
    let b = resamples(n);
    let mut rng = Rng::derive(seed, 0x0e7a);
    let mut scores = Vec::with_capacity(b);
    let mut rows = vec![0usize; n];
    for _ in 0..b {
        for r in rows.iter_mut() {
            *r = (rng.next_u64() % n as u64) as usize;
        }
        let ys: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
        let ps = Predictions {
            values: rows.iter().map(|&i| pred.values[i]).collect(),
            proba: pred
                .proba
                .as_ref()
                .map(|p| p.select(ndarray::Axis(0), &rows)),
        };
        let s = score(metric, &ys, &ps, n_classes);
        if s.is_finite() {
            scores.push(s);
        }
    }
    if scores.len() < 2 {
        return (0.0, [f64::NAN, f64::NAN]);
    }
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var =
        scores.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (scores.len() - 1) as f64;
    scores.sort_by(f64::total_cmp);
    let at = |q: f64| scores[((scores.len() - 1) as f64 * q).round() as usize];
    (var.sqrt(), [at(0.025), at(0.975)])
}

/// The target column of `input` as the study encoded it: a class index (classification) or
/// a value (regression); None where the label is missing.
fn read_labels(
    input: &Path,
    target: &str,
    task: Task,
    classes: &[String],
    missing_tokens: &[String],
) -> Result<Vec<Option<f64>>, EngineError> {
    let bad = |message: String| EngineError::Config(format!("`{}`: {message}", input.display()));
    // CSV, Parquet or Arrow: only the target column (`line N` / `row N` says where).
    let cells = automl_data::read_text_column(input, target, missing_tokens)?.ok_or_else(|| {
        bad(format!(
            "no column `{target}` (the study's target); evaluate needs the true labels"
        ))
    })?;
    let mut out = Vec::new();
    for (line, s) in &cells {
        let Some(s) = s.as_deref() else {
            out.push(None);
            continue;
        };
        let num = s.parse::<f64>().ok().filter(|x| x.is_finite());
        if task == Task::Regression {
            let x = num.ok_or_else(|| {
                bad(format!(
                    "{line}: the label `{s}` of `{target}` is not a number"
                ))
            })?;
            out.push(Some(x));
            continue;
        }
        let idx = classes
            .iter()
            .position(|c| c == s)
            .or_else(|| {
                num.and_then(|x| {
                    classes
                        .iter()
                        .position(|c| c.parse::<f64>().is_ok_and(|cx| cx == x))
                })
            })
            .ok_or_else(|| {
                bad(format!(
                    "{line}: the label `{s}` of `{target}` was not a class when the model was trained (classes: {})",
                    classes.join(", ")
                ))
            })?;
        out.push(Some(idx as f64));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cv_standard_error_counts_the_folds_of_one_fold_set() {
        let trial = |family: &str, folds: usize| {
            let mut t = crate::study::seeds::tests::trial(0, 0.5, 0.2);
            t.candidate.family = family.into();
            t.fold_scores = vec![0.5; folds];
            t
        };
        let se5 = 0.2 / 5f64.sqrt();
        // 15 fold scores of 3 sets of 5 folds: the 5 folds of one set count.
        assert!((cv_standard_error(&trial("gbdt", 15), 3) - se5).abs() < 1e-15);
        // One set of 15 folds: all 15.
        let se15 = 0.2 / 15f64.sqrt();
        assert!((cv_standard_error(&trial("gbdt", 15), 1) - se15).abs() < 1e-15);
        // A meta-trial is scored on the first set's 5 folds alone.
        assert!((cv_standard_error(&trial("ensemble", 5), 3) - se5).abs() < 1e-15);
        let iv = cv_interval(&trial("gbdt", 15), 3);
        assert!((iv[1] - iv[0] - 2.0 * Z95 * se5).abs() < 1e-12);
    }

    #[test]
    fn labels_match_classes_by_text_or_number_and_skip_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, "x,y\n1,1.0\n2,0\n3,NA\n4,\n").unwrap();
        let classes = vec!["0".to_string(), "1".to_string()];
        let tokens = vec!["NA".to_string()];
        let got = read_labels(&p, "y", Task::Binary, &classes, &tokens).unwrap();
        assert_eq!(got, vec![Some(1.0), Some(0.0), None, None]);
        std::fs::write(&p, "x,y\n1,2\n").unwrap();
        let e = read_labels(&p, "y", Task::Binary, &classes, &tokens)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("`2`"), "{e}");
        let e = read_labels(&p, "z", Task::Binary, &classes, &tokens)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column `z`"), "{e}");
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_score() {
        let y: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let values: Vec<f64> = (0..200)
            .map(|i| {
                if i % 7 == 0 {
                    1.0 - f64::from(i % 2)
                } else {
                    f64::from(i % 2)
                }
            })
            .collect();
        let pred = Predictions::regression(values);
        let m = Metric::Rmse;
        let full = m.compute(&y, &pred, 0);
        let (se, iv) = bootstrap(m, &y, &pred, 0, 7);
        assert_eq!((se, iv), bootstrap(m, &y, &pred, 0, 7));
        assert!(
            se > 0.0 && iv[0] < full && full < iv[1],
            "{se} {iv:?} {full}"
        );
    }
}
