//! Evaluation metrics, each with its direction, matching scikit-learn's definitions.
//!
//! Classification targets are class indices (0..k as f64); for binary tasks class 1 is the
//! positive class. Log loss clips probabilities to [1e-15, 1 - 1e-15] and renormalises each row.

use crate::predictions::Predictions;
use crate::task::Task;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A metric the engine can optimise or report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Binary ROC AUC of P(class 1).
    RocAuc,
    /// Cross-entropy over all classes.
    LogLoss,
    /// Share of correct argmax predictions.
    Accuracy,
    /// Mean per-class recall.
    BalancedAccuracy,
    /// Binary F1 of class 1 (label = P >= 0.5).
    F1,
    /// Binary average precision (area under the step precision-recall curve).
    AveragePrecision,
    /// Unweighted mean of per-class F1.
    F1Macro,
    /// Unweighted mean of one-vs-rest ROC AUCs.
    RocAucOvrMacro,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Coefficient of determination.
    R2,
}

const BINARY: &[Metric] = &[
    Metric::RocAuc,
    Metric::LogLoss,
    Metric::Accuracy,
    Metric::BalancedAccuracy,
    Metric::F1,
    Metric::AveragePrecision,
];
const MULTICLASS: &[Metric] = &[
    Metric::LogLoss,
    Metric::Accuracy,
    Metric::BalancedAccuracy,
    Metric::F1Macro,
    Metric::RocAucOvrMacro,
];
const REGRESSION: &[Metric] = &[Metric::Rmse, Metric::Mae, Metric::R2];

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 11] = [
        Metric::RocAuc,
        Metric::LogLoss,
        Metric::Accuracy,
        Metric::BalancedAccuracy,
        Metric::F1,
        Metric::AveragePrecision,
        Metric::F1Macro,
        Metric::RocAucOvrMacro,
        Metric::Rmse,
        Metric::Mae,
        Metric::R2,
    ];

    /// Stable snake_case name (as on the command line and in stored records).
    pub fn name(self) -> &'static str {
        match self {
            Metric::RocAuc => "roc_auc",
            Metric::LogLoss => "log_loss",
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::F1 => "f1",
            Metric::AveragePrecision => "average_precision",
            Metric::F1Macro => "f1_macro",
            Metric::RocAucOvrMacro => "roc_auc_ovr_macro",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::R2 => "r2",
        }
    }

    /// Parse a name as produced by [`Metric::name`].
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True when larger values are better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::LogLoss | Metric::Rmse | Metric::Mae)
    }

    /// The metrics that apply to a task, primary first.
    pub fn for_task(task: Task) -> &'static [Metric] {
        match task {
            Task::Binary => BINARY,
            Task::Multiclass => MULTICLASS,
            Task::Regression => REGRESSION,
        }
    }

    /// Whether the metric can be computed for the task.
    pub fn applies_to(self, task: Task) -> bool {
        Metric::for_task(task).contains(&self)
    }

    /// Default optimisation metric (the bench's primary): roc_auc, log_loss, rmse.
    pub fn default_for(task: Task) -> Metric {
        Metric::for_task(task)[0]
    }

    /// The value oriented so that smaller is better (for ranking and minimisation).
    pub fn as_loss(self, value: f64) -> f64 {
        if self.higher_is_better() {
            -value
        } else {
            value
        }
    }

    /// True when `a` is strictly better than `b` for this metric (NaN is never better).
    pub fn better(self, a: f64, b: f64) -> bool {
        if a.is_nan() {
            return false;
        }
        if b.is_nan() {
            return true;
        }
        self.as_loss(a) < self.as_loss(b)
    }

    /// Compute the metric. `y_true` holds class indices (classification) or values
    /// (regression); `n_classes` is the number of classes (0 for regression).
    /// Returns NaN when undefined (e.g. AUC with one class present, or missing probabilities).
    pub fn compute(self, y_true: &[f64], pred: &Predictions, n_classes: usize) -> f64 {
        if y_true.is_empty() || y_true.len() != pred.values.len() {
            return f64::NAN;
        }
        match self {
            Metric::Rmse => {
                let mse = y_true
                    .iter()
                    .zip(&pred.values)
                    .map(|(t, p)| (t - p) * (t - p))
                    .sum::<f64>()
                    / y_true.len() as f64;
                mse.sqrt()
            }
            Metric::Mae => {
                y_true
                    .iter()
                    .zip(&pred.values)
                    .map(|(t, p)| (t - p).abs())
                    .sum::<f64>()
                    / y_true.len() as f64
            }
            Metric::R2 => {
                let mean = y_true.iter().sum::<f64>() / y_true.len() as f64;
                let ss_res: f64 = y_true
                    .iter()
                    .zip(&pred.values)
                    .map(|(t, p)| (t - p).powi(2))
                    .sum();
                let ss_tot: f64 = y_true.iter().map(|t| (t - mean).powi(2)).sum();
                if ss_tot == 0.0 {
                    if ss_res == 0.0 { 1.0 } else { 0.0 }
                } else {
                    1.0 - ss_res / ss_tot
                }
            }
            Metric::Accuracy => {
                let labels = predicted_labels(self, pred);
                y_true
                    .iter()
                    .zip(&labels)
                    .filter(|(t, p)| **t as usize == **p)
                    .count() as f64
                    / y_true.len() as f64
            }
            Metric::BalancedAccuracy => {
                let labels = predicted_labels(self, pred);
                let k = n_classes.max(2);
                let mut support = vec![0usize; k];
                let mut correct = vec![0usize; k];
                for (t, p) in y_true.iter().zip(&labels) {
                    let t = *t as usize;
                    if t < k {
                        support[t] += 1;
                        if t == *p {
                            correct[t] += 1;
                        }
                    }
                }
                let recalls: Vec<f64> = support
                    .iter()
                    .zip(&correct)
                    .filter(|(s, _)| **s > 0)
                    .map(|(s, c)| *c as f64 / *s as f64)
                    .collect();
                recalls.iter().sum::<f64>() / recalls.len() as f64
            }
            Metric::F1 => {
                let labels = predicted_labels(self, pred);
                f1_for_class(y_true, &labels, 1)
            }
            Metric::F1Macro => {
                let labels = predicted_labels(self, pred);
                let k = n_classes.max(2);
                // sklearn: labels = union of y_true and y_pred labels
                let mut present = vec![false; k];
                for t in y_true {
                    if (*t as usize) < k {
                        present[*t as usize] = true;
                    }
                }
                for p in &labels {
                    if *p < k {
                        present[*p] = true;
                    }
                }
                let f: Vec<f64> = (0..k)
                    .filter(|c| present[*c])
                    .map(|c| f1_for_class(y_true, &labels, c))
                    .collect();
                f.iter().sum::<f64>() / f.len() as f64
            }
            Metric::LogLoss => {
                let Some(proba) = &pred.proba else {
                    return f64::NAN;
                };
                let k = proba.ncols();
                let eps = 1e-15;
                let mut total = 0.0;
                if k == 2 {
                    // Binary: clip P(positive) and take 1 - p for the negative class, exactly as
                    // scikit-learn does with a 1-d probability vector.
                    for (i, t) in y_true.iter().enumerate() {
                        let row = proba.row(i);
                        let s = row[0] + row[1];
                        let p = if s > 0.0 { row[1] / s } else { 0.5 };
                        let p = p.clamp(eps, 1.0 - eps);
                        total -= if *t as usize == 1 {
                            p.ln()
                        } else {
                            (1.0 - p).ln()
                        };
                    }
                    return total / y_true.len() as f64;
                }
                // Each row clipped and renormalised, as scikit-learn does; no allocation per
                // row (ensemble selection evaluates this thousands of times at the end of a
                // study).
                for (i, t) in y_true.iter().enumerate() {
                    let row = proba.row(i);
                    let s: f64 = row.iter().map(|p| p.clamp(eps, 1.0 - eps)).sum();
                    let t = *t as usize;
                    if t >= k {
                        return f64::NAN;
                    }
                    total -= (row[t].clamp(eps, 1.0 - eps) / s).ln();
                }
                total / y_true.len() as f64
            }
            Metric::RocAuc => {
                let Some(proba) = &pred.proba else {
                    return f64::NAN;
                };
                if proba.ncols() < 2 {
                    return f64::NAN;
                }
                let scores: Vec<f64> = proba.column(1).to_vec();
                let pos: Vec<bool> = y_true.iter().map(|t| *t as usize == 1).collect();
                roc_auc(&pos, &scores)
            }
            Metric::AveragePrecision => {
                let Some(proba) = &pred.proba else {
                    return f64::NAN;
                };
                if proba.ncols() < 2 {
                    return f64::NAN;
                }
                let scores: Vec<f64> = proba.column(1).to_vec();
                let pos: Vec<bool> = y_true.iter().map(|t| *t as usize == 1).collect();
                average_precision(&pos, &scores)
            }
            Metric::RocAucOvrMacro => {
                let Some(proba) = &pred.proba else {
                    return f64::NAN;
                };
                let k = proba.ncols();
                let mut aucs = Vec::new();
                for c in 0..k {
                    let pos: Vec<bool> = y_true.iter().map(|t| *t as usize == c).collect();
                    if !pos.iter().any(|p| *p) {
                        continue;
                    }
                    let scores: Vec<f64> = proba.column(c).to_vec();
                    aucs.push(roc_auc(&pos, &scores));
                }
                if aucs.is_empty() {
                    f64::NAN
                } else {
                    aucs.iter().sum::<f64>() / aucs.len() as f64
                }
            }
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Predicted labels: binary uses P(class 1) >= 0.5 (sklearn's convention for the reference
/// cases); otherwise the argmax in `values`.
fn predicted_labels(_m: Metric, pred: &Predictions) -> Vec<usize> {
    match &pred.proba {
        Some(p) if p.ncols() == 2 => p.column(1).iter().map(|&x| usize::from(x >= 0.5)).collect(),
        _ => pred.values.iter().map(|v| *v as usize).collect(),
    }
}

fn f1_for_class(y_true: &[f64], labels: &[usize], c: usize) -> f64 {
    let mut tp = 0usize;
    let mut fp = 0usize;
    let mut fneg = 0usize;
    for (t, p) in y_true.iter().zip(labels) {
        let t = *t as usize == c;
        let p = *p == c;
        match (t, p) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fneg += 1,
            _ => {}
        }
    }
    let denom = 2 * tp + fp + fneg;
    if denom == 0 {
        0.0
    } else {
        2.0 * tp as f64 / denom as f64
    }
}

/// ROC AUC via the Mann-Whitney statistic with average ranks for ties. NaN if one class is absent.
pub fn roc_auc(pos: &[bool], scores: &[f64]) -> f64 {
    let n = scores.len();
    let n_pos = pos.iter().filter(|p| **p).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if pos[k] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    (rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos as f64 * n_neg as f64)
}

/// Average precision as scikit-learn defines it: sum over thresholds of (R_n - R_{n-1}) P_n.
pub fn average_precision(pos: &[bool], scores: &[f64]) -> f64 {
    let n_pos = pos.iter().filter(|p| **p).count();
    if n_pos == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut tp = 0usize;
    let mut fp = 0usize;
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if pos[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j + 1;
    }
    ap
}
