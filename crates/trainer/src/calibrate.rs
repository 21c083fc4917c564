//! Post-processing of class probabilities, fitted on out-of-fold predictions: calibration
//! (Platt scaling or isotonic regression by pool-adjacent-violators; one-vs-rest and
//! renormalised for multiclass) and, for binary tasks scored on hard labels, a decision
//! threshold on P(class 1). [`choose`] picks among the options by **nested** cross-validation
//! over the out-of-fold rows: for each fold `k`, an option is fitted on the other folds' rows
//! and scored on fold `k`'s rows, never on the rows that fitted it; the winner is then refit on
//! every out-of-fold row ([`PostProcess`], applied by `Predictor::PostProcessed` at predict
//! time).

use automl_core::{Metric, Predictions};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Probabilities are clipped to `[EPS, 1 - EPS]` before a logit.
const EPS: f64 = 1e-12;

/// A calibration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Probabilities as the model gives them.
    None,
    /// Platt scaling: a logistic regression on the logit of the probability.
    Platt,
    /// Isotonic regression (pool adjacent violators), piecewise linear between blocks.
    Isotonic,
}

impl CalibrationMethod {
    /// Stable name (`none`, `platt`, `isotonic`).
    pub fn name(self) -> &'static str {
        match self {
            CalibrationMethod::None => "none",
            CalibrationMethod::Platt => "platt",
            CalibrationMethod::Isotonic => "isotonic",
        }
    }
    /// Parse a name produced by [`CalibrationMethod::name`].
    pub fn from_name(s: &str) -> Option<CalibrationMethod> {
        [
            CalibrationMethod::None,
            CalibrationMethod::Platt,
            CalibrationMethod::Isotonic,
        ]
        .into_iter()
        .find(|m| m.name() == s)
    }
}

/// One fitted one-dimensional calibration map `p -> p'`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Calibrator {
    /// `p' = sigmoid(a * logit(p) + b)`.
    Platt {
        /// Slope on the logit.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// Linear interpolation through `(x[i], y[i])` (x ascending), constant outside.
    Isotonic {
        /// Knots (probabilities before).
        x: Vec<f64>,
        /// Values (probabilities after), non-decreasing.
        y: Vec<f64>,
    },
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

impl Calibrator {
    /// Platt scaling of `p` (probabilities) against `t` (0/1 outcomes), with Platt's smoothed
    /// targets `(n₊ + 1) / (n₊ + 2)` and `1 / (n₋ + 2)`, by Newton's method.
    pub fn fit_platt(p: &[f64], t: &[bool]) -> Calibrator {
        let n_pos = t.iter().filter(|v| **v).count() as f64;
        let n_neg = t.len() as f64 - n_pos;
        let hi = (n_pos + 1.0) / (n_pos + 2.0);
        let lo = 1.0 / (n_neg + 2.0);
        let z: Vec<f64> = p.iter().map(|&v| logit(v)).collect();
        let target: Vec<f64> = t.iter().map(|&v| if v { hi } else { lo }).collect();
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..100 {
            // Gradient and Hessian of the mean cross-entropy (+ a tiny ridge for stability).
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
            for (zi, ti) in z.iter().zip(&target) {
                let q = sigmoid(a * zi + b);
                let d = q - ti;
                let w = (q * (1.0 - q)).max(1e-12);
                ga += d * zi;
                gb += d;
                haa += w * zi * zi;
                hab += w * zi;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if !(det.is_finite() && det.abs() > 1e-300) {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            // Damp huge steps (separable data) so the parameters stay finite.
            let scale = (1.0f64).min(10.0 / (da.abs() + db.abs()).max(1e-300));
            a -= scale * da;
            b -= scale * db;
            if (da.abs() + db.abs()) * scale < 1e-10 {
                break;
            }
        }
        if !(a.is_finite() && b.is_finite()) {
            return Calibrator::Platt { a: 1.0, b: 0.0 };
        }
        Calibrator::Platt { a, b }
    }

    /// Isotonic regression of `t` on `p` by pool adjacent violators. Each pooled block becomes
    /// two knots (its lowest and highest `p`) at the block's mean outcome; outputs are clipped
    /// to `[0.5 / (n + 1), 1 - 0.5 / (n + 1)]` so that no probability is exactly 0 or 1.
    pub fn fit_isotonic(p: &[f64], t: &[bool]) -> Calibrator {
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
        // Blocks: (sum of outcomes, weight, min p, max p).
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
        let mut i = 0;
        while i < order.len() {
            // Equal p values form one starting block.
            let x = p[order[i]];
            let mut s = 0.0;
            let mut w = 0.0;
            while i < order.len() && p[order[i]] == x {
                s += f64::from(u8::from(t[order[i]]));
                w += 1.0;
                i += 1;
            }
            blocks.push((s, w, x, x));
            while blocks.len() >= 2 {
                let (s2, w2, lo2, hi2) = blocks[blocks.len() - 1];
                let (s1, w1, lo1, _) = blocks[blocks.len() - 2];
                if s1 / w1 < s2 / w2 {
                    break;
                }
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1 + s2, w1 + w2, lo1.min(lo2), hi2);
            }
        }
        let m = 0.5 / (p.len() as f64 + 1.0);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (s, w, lo, hi) in blocks {
            let v = (s / w).clamp(m, 1.0 - m);
            x.push(lo);
            y.push(v);
            if hi > lo {
                x.push(hi);
                y.push(v);
            }
        }
        Calibrator::Isotonic { x, y }
    }

    /// Map one probability.
    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibrator::Platt { a, b } => sigmoid(a * logit(p) + b),
            Calibrator::Isotonic { x, y } => {
                if x.is_empty() {
                    return p;
                }
                let j = x.partition_point(|&v| v <= p);
                if j == 0 {
                    y[0]
                } else if j == x.len() {
                    y[x.len() - 1]
                } else {
                    let (x0, x1, y0, y1) = (x[j - 1], x[j], y[j - 1], y[j]);
                    if x1 > x0 {
                        y0 + (y1 - y0) * (p - x0) / (x1 - x0)
                    } else {
                        y1
                    }
                }
            }
        }
    }
}

/// The post-processing stored with a final model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostProcess {
    /// The calibration method.
    pub method: CalibrationMethod,
    /// Binary: one calibrator of P(class 1); multiclass: one per class (one-vs-rest, the
    /// results renormalised to sum to 1). Empty for [`CalibrationMethod::None`].
    pub calibrators: Vec<Calibrator>,
    /// Binary only: predict class 1 when the (calibrated) P(class 1) is at least this; None =
    /// the argmax.
    pub threshold: Option<f64>,
}

impl PostProcess {
    /// Nothing to do.
    pub fn identity() -> PostProcess {
        PostProcess {
            method: CalibrationMethod::None,
            calibrators: Vec::new(),
            threshold: None,
        }
    }

    /// Apply to classification predictions (regression predictions pass unchanged).
    pub fn apply(&self, pred: Predictions) -> Predictions {
        let Some(mut proba) = pred.proba else {
            return pred;
        };
        let k = proba.ncols();
        if k == 2 && self.calibrators.len() == 1 {
            for mut row in proba.rows_mut() {
                let p1 = self.calibrators[0].apply(row[1]);
                row[0] = 1.0 - p1;
                row[1] = p1;
            }
        } else if k > 2 && self.calibrators.len() == k {
            for mut row in proba.rows_mut() {
                for (v, c) in row.iter_mut().zip(&self.calibrators) {
                    *v = c.apply(*v);
                }
                let s: f64 = row.sum();
                if s > 0.0 && s.is_finite() {
                    row /= s;
                } else {
                    row.fill(1.0 / k as f64);
                }
            }
        }
        match self.threshold {
            Some(t) if k == 2 => Predictions {
                values: proba
                    .column(1)
                    .iter()
                    .map(|&p| f64::from(u8::from(p >= t)))
                    .collect(),
                proba: Some(proba),
            },
            _ => Predictions::from_proba(proba),
        }
    }

    /// Fit `method` (and, when `tune_threshold`, a threshold for `metric` on the calibrated
    /// probabilities; a `fixed` threshold is kept as given) on `proba` / `y` (class indices).
    pub fn fit(
        proba: &Array2<f64>,
        y: &[f64],
        method: CalibrationMethod,
        threshold: ThresholdChoice,
        metric: Metric,
    ) -> PostProcess {
        let k = proba.ncols();
        let fit_one = |col: usize| {
            let p: Vec<f64> = proba.column(col).to_vec();
            let t: Vec<bool> = y.iter().map(|&v| v as usize == col).collect();
            match method {
                CalibrationMethod::Platt => Some(Calibrator::fit_platt(&p, &t)),
                CalibrationMethod::Isotonic => Some(Calibrator::fit_isotonic(&p, &t)),
                CalibrationMethod::None => None,
            }
        };
        let calibrators: Vec<Calibrator> = if k == 2 {
            fit_one(1).into_iter().collect()
        } else {
            (0..k).filter_map(fit_one).collect()
        };
        let mut post = PostProcess {
            method,
            calibrators,
            threshold: None,
        };
        if k == 2 {
            post.threshold = match threshold {
                ThresholdChoice::None => None,
                ThresholdChoice::Fixed(t) => Some(t),
                ThresholdChoice::Tune => {
                    let cal = post.apply(Predictions::from_proba(proba.clone()));
                    let p1: Vec<f64> = cal
                        .proba
                        .as_ref()
                        .map_or_else(Vec::new, |p| p.column(1).to_vec());
                    let pos: Vec<bool> = y.iter().map(|&v| v as usize == 1).collect();
                    best_threshold(&p1, &pos, metric)
                }
            };
        }
        post
    }
}

/// How the decision threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdChoice {
    /// The argmax (0.5 for binary).
    None,
    /// Tuned for the metric.
    Tune,
    /// A given threshold.
    Fixed(f64),
}

/// Whether `metric` scores hard labels (so a decision threshold matters).
pub fn needs_hard_labels(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::Accuracy | Metric::BalancedAccuracy | Metric::F1 | Metric::F1Macro
    )
}

/// Whether `metric` ignores calibration (it scores a ranking), so calibration is judged by
/// log loss instead.
pub fn ranks_only(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::RocAuc | Metric::AveragePrecision | Metric::RocAucOvrMacro
    )
}

/// Binary accuracy / balanced accuracy / F1 from confusion counts (as `Metric::compute`).
fn score_counts(metric: Metric, tp: f64, fp: f64, fnn: f64, tn: f64) -> f64 {
    let n = tp + fp + fnn + tn;
    match metric {
        Metric::Accuracy => (tp + tn) / n,
        Metric::BalancedAccuracy => {
            let mut r = Vec::new();
            if tp + fnn > 0.0 {
                r.push(tp / (tp + fnn));
            }
            if tn + fp > 0.0 {
                r.push(tn / (tn + fp));
            }
            r.iter().sum::<f64>() / r.len().max(1) as f64
        }
        Metric::F1 | Metric::F1Macro => {
            let f1 = |tp: f64, fp: f64, fnn: f64| {
                let d = 2.0 * tp + fp + fnn;
                if d == 0.0 { 0.0 } else { 2.0 * tp / d }
            };
            if metric == Metric::F1 {
                f1(tp, fp, fnn)
            } else {
                (f1(tp, fp, fnn) + f1(tn, fnn, fp)) / 2.0
            }
        }
        _ => f64::NAN,
    }
}

/// The threshold on `p1` (P(class 1)) that maximises `metric` on the rows (`pos`: class 1),
/// predicting class 1 when `p1 >= threshold`. Candidates lie midway between consecutive
/// distinct probabilities (plus 0.5); ties go to the candidate closest to 0.5. None when the
/// metric does not score hard labels or there are no rows.
pub fn best_threshold(p1: &[f64], pos: &[bool], metric: Metric) -> Option<f64> {
    if p1.is_empty() || !needs_hard_labels(metric) {
        return None;
    }
    let mut order: Vec<usize> = (0..p1.len()).collect();
    order.sort_by(|&i, &j| p1[j].total_cmp(&p1[i]));
    let n_pos = pos.iter().filter(|v| **v).count() as f64;
    let n_neg = p1.len() as f64 - n_pos;
    let at_half = {
        let (mut tp, mut fp) = (0.0, 0.0);
        for (p, t) in p1.iter().zip(pos) {
            if *p >= 0.5 {
                if *t { tp += 1.0 } else { fp += 1.0 }
            }
        }
        score_counts(metric, tp, fp, n_pos - tp, n_neg - fp)
    };
    let mut best: (f64, f64) = (at_half, 0.5);
    // Sweep: rows predicted positive are the top j by p1; cut between distinct values.
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut j = 0;
    loop {
        // Threshold just above the next value (no row with it or below is positive).
        let t = if j == 0 {
            p1[order[0]] + 1e-9
        } else if j == order.len() {
            p1[order[j - 1]] - 1e-9
        } else {
            (p1[order[j - 1]] + p1[order[j]]) / 2.0
        };
        let s = score_counts(metric, tp, fp, n_pos - tp, n_neg - fp);
        let better = s > best.0 + 1e-12
            || ((s - best.0).abs() <= 1e-12 && (t - 0.5).abs() < (best.1 - 0.5).abs());
        if s.is_finite() && better {
            best = (s, t);
        }
        if j == order.len() {
            break;
        }
        let v = p1[order[j]];
        while j < order.len() && p1[order[j]] == v {
            if pos[order[j]] {
                tp += 1.0
            } else {
                fp += 1.0
            }
            j += 1;
        }
    }
    Some(best.1)
}

/// The post-processing settings of a study (default: both chosen automatically).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PostConfig {
    /// `None` = chosen by nested cross-validation among none, Platt and isotonic; `Some(m)` =
    /// always `m` (`Some(None)` turns calibration off).
    pub calibration: Option<CalibrationMethod>,
    /// `None` = tuned when the metric scores hard labels (binary tasks), else the argmax;
    /// `Some(c)` = as given.
    pub threshold: Option<ThresholdChoice>,
}

impl PostConfig {
    /// Parse the `--calibration` value: `auto`, `none`, `platt` or `isotonic`.
    pub fn parse_calibration(s: &str) -> Result<Option<CalibrationMethod>, String> {
        match s {
            "auto" => Ok(None),
            other => CalibrationMethod::from_name(other)
                .map(Some)
                .ok_or_else(|| {
                    format!("`{other}` is not a calibration: use auto, none, platt or isotonic")
                }),
        }
    }
    /// Parse the `--threshold` value: `auto`, `none` or a number in (0, 1).
    pub fn parse_threshold(s: &str) -> Result<Option<ThresholdChoice>, String> {
        match s {
            "auto" => Ok(None),
            "none" => Ok(Some(ThresholdChoice::None)),
            other => match other.parse::<f64>() {
                Ok(t) if t > 0.0 && t < 1.0 => Ok(Some(ThresholdChoice::Fixed(t))),
                _ => Err(format!(
                    "`{other}` is not a threshold: use auto, none or a probability between 0 and 1"
                )),
            },
        }
    }
    /// The calibration setting as `--calibration` takes it.
    pub fn calibration_text(&self) -> String {
        self.calibration
            .map_or_else(|| "auto".to_string(), |m| m.name().to_string())
    }
    /// The threshold setting as `--threshold` takes it.
    pub fn threshold_text(&self) -> String {
        match self.threshold {
            None => "auto".to_string(),
            Some(ThresholdChoice::None) => "none".to_string(),
            Some(ThresholdChoice::Tune) => "tune".to_string(),
            Some(ThresholdChoice::Fixed(t)) => format!("{t}"),
        }
    }
}

/// JSON has no NaN: `serde_json` writes it as `null`, read back here as NaN.
mod nan {
    use serde::{Deserialize, Deserializer};
    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
    pub fn many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    }
}

/// One post-processing option and its nested cross-validated scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionScore {
    /// Calibration method.
    pub method: CalibrationMethod,
    /// Whether the threshold is tuned (binary, hard-label metric).
    pub tuned_threshold: bool,
    /// The study metric per held-out fold (each fold scored with the option fitted on the
    /// other folds' rows).
    #[serde(deserialize_with = "nan::many")]
    pub fold_scores: Vec<f64>,
    /// Their mean.
    #[serde(deserialize_with = "nan::one")]
    pub nested: f64,
    /// Nested log loss (mean over folds).
    #[serde(deserialize_with = "nan::one")]
    pub nested_log_loss: f64,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Rows whose probability falls in the bin.
    pub count: usize,
    /// Mean predicted probability of those rows.
    #[serde(deserialize_with = "nan::one")]
    pub predicted: f64,
    /// Observed frequency of the event among them.
    #[serde(deserialize_with = "nan::one")]
    pub observed: f64,
}

/// What [`choose`] decided, with the evidence; stored with the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostDecision {
    /// The metric the options were compared on.
    pub metric: String,
    /// The chosen post-processing, refit on every out-of-fold row.
    pub chosen: PostProcess,
    /// Every option tried, in order (the first is "as the model gives").
    pub options: Vec<OptionScore>,
    /// Nested score of the model as it is (no calibration, argmax): equals its CV score.
    #[serde(deserialize_with = "nan::one")]
    pub before: f64,
    /// Nested score of the chosen option.
    #[serde(deserialize_with = "nan::one")]
    pub after: f64,
    /// Why the option won, in a line.
    pub reason: String,
    /// Reliability diagram of the out-of-fold probabilities before post-processing (binary:
    /// P(class 1); multiclass: top-class confidence), 10 equal-width bins.
    pub reliability_before: Vec<ReliabilityBin>,
    /// The same after the chosen option, fitted on the other folds (nested).
    pub reliability_after: Vec<ReliabilityBin>,
}

/// The rows of `proba` / `y` selected by `rows`.
fn take(proba: &Array2<f64>, y: &[f64], rows: &[usize]) -> (Array2<f64>, Vec<f64>) {
    (
        proba.select(ndarray::Axis(0), rows),
        rows.iter().map(|&r| y[r]).collect(),
    )
}

/// Score `pred` on `y` with `metric`; hard-label metrics use `pred.values` (so a threshold
/// counts).
pub fn score(metric: Metric, y: &[f64], pred: &Predictions, n_classes: usize) -> f64 {
    if needs_hard_labels(metric) {
        let labels = Predictions {
            values: pred.values.clone(),
            proba: None,
        };
        metric.compute(y, &labels, n_classes)
    } else {
        metric.compute(y, pred, n_classes)
    }
}

/// Nested cross-validated predictions of one option: fold `k`'s rows predicted by the option
/// fitted on the other folds' rows. Returns the predictions (in row order) and each fold's
/// fitted post-processing.
pub fn nested_predictions(
    proba: &Array2<f64>,
    y: &[f64],
    folds: &[Vec<usize>],
    method: CalibrationMethod,
    threshold: ThresholdChoice,
    metric: Metric,
) -> (Predictions, Vec<PostProcess>) {
    let mut out = proba.clone();
    let mut values = vec![0.0; y.len()];
    let mut fitted = Vec::with_capacity(folds.len());
    for (k, fold) in folds.iter().enumerate() {
        let others: Vec<usize> = folds
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .flat_map(|(_, f)| f.iter().copied())
            .collect();
        let (p_fit, y_fit) = take(proba, y, &others);
        let post = PostProcess::fit(&p_fit, &y_fit, method, threshold, metric);
        let (p_k, _) = take(proba, y, fold);
        let pred = post.apply(Predictions::from_proba(p_k));
        if let Some(pp) = &pred.proba {
            for (i, &r) in fold.iter().enumerate() {
                out.row_mut(r).assign(&pp.row(i));
                values[r] = pred.values[i];
            }
        }
        fitted.push(post);
    }
    (
        Predictions {
            values,
            proba: Some(out),
        },
        fitted,
    )
}

/// Per-fold scores of `pred` (rows in `folds`) and their mean.
fn fold_scores(
    metric: Metric,
    y: &[f64],
    pred: &Predictions,
    folds: &[Vec<usize>],
    n_classes: usize,
) -> (Vec<f64>, f64) {
    let scores: Vec<f64> = folds
        .iter()
        .map(|f| {
            let part = Predictions {
                values: f.iter().map(|&r| pred.values[r]).collect(),
                proba: pred.proba.as_ref().map(|p| p.select(ndarray::Axis(0), f)),
            };
            let yk: Vec<f64> = f.iter().map(|&r| y[r]).collect();
            score(metric, &yk, &part, n_classes)
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    (scores, mean)
}

/// Reliability diagram: 10 equal-width bins of P(class 1) (binary) or of the top-class
/// confidence (multiclass, event = the top class is right).
pub fn reliability(pred: &Predictions, y: &[f64]) -> Vec<ReliabilityBin> {
    let Some(p) = &pred.proba else {
        return Vec::new();
    };
    let mut acc = vec![(0usize, 0.0f64, 0.0f64); 10];
    for (i, row) in p.rows().into_iter().enumerate() {
        let (q, hit) = if row.len() == 2 {
            (row[1], y[i] as usize == 1)
        } else {
            let (arg, q) = row
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (j, &v)| if v > b.1 { (j, v) } else { b });
            (q, y[i] as usize == arg)
        };
        let b = ((q * 10.0) as usize).min(9);
        acc[b].0 += 1;
        acc[b].1 += q;
        acc[b].2 += f64::from(u8::from(hit));
    }
    acc.into_iter()
        .map(|(c, s, h)| ReliabilityBin {
            count: c,
            predicted: if c > 0 { s / c as f64 } else { f64::NAN },
            observed: if c > 0 { h / c as f64 } else { f64::NAN },
        })
        .collect()
}

/// Slack when comparing nested scores that should be equal (floating-point noise).
fn metric_slack(metric: Metric) -> f64 {
    if metric.higher_is_better() {
        1e-12
    } else {
        -1e-12
    }
}

/// Whether option `o`'s nested score is within noise of option `best`'s: the mean of their
/// paired per-fold differences is at most one standard error of those differences.
pub fn within_noise(o: &OptionScore, best: &OptionScore) -> bool {
    let d: Vec<f64> = o
        .fold_scores
        .iter()
        .zip(&best.fold_scores)
        .map(|(a, b)| a - b)
        .collect();
    let k = d.len() as f64;
    if d.is_empty() || d.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let mean = d.iter().sum::<f64>() / k;
    let var = if d.len() > 1 {
        d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0)
    } else {
        0.0
    };
    mean.abs() <= (var / k).sqrt() + 1e-12
}

/// The option with the best nested metric, unless other options are within its noise
/// ([`within_noise`]): then the lowest nested log loss among them, then the earliest (the
/// simplest). Choosing the bare maximum over six options would favour one that wins by a
/// row or two and is worse calibrated (breast_cancer, balanced accuracy: isotonic won by one
/// row of one fold with nested log loss 0.12 against 0.10).
fn pick_within_noise(options: &[OptionScore], metric: Metric) -> usize {
    let mut top = 0;
    for (i, o) in options.iter().enumerate().skip(1) {
        if metric.better(o.nested, options[top].nested + metric_slack(metric)) {
            top = i;
        }
    }
    let mut best = top;
    for (i, o) in options.iter().enumerate() {
        if i == best || !within_noise(o, &options[top]) {
            continue;
        }
        let (lo, lb) = (o.nested_log_loss, options[best].nested_log_loss);
        if lo < lb - 1e-12 || ((lo - lb).abs() <= 1e-12 && i < best) {
            best = i;
        }
    }
    best
}

/// Choose the post-processing of out-of-fold probabilities `proba` (rows of `folds`, which
/// partition them; `y` class indices) by nested cross-validation (see the module docs).
///
/// Options: calibration none / Platt / isotonic (or the one `cfg` forces), each with the
/// argmax and, for binary tasks with a hard-label metric, with a tuned threshold (or the
/// threshold `cfg` fixes). The winner: hard-label and probability metrics — among the
/// options within noise of the best nested metric (paired fold differences within one
/// standard error), the lowest nested log loss, then the earlier (simpler) option; metrics
/// that only rank (ROC AUC, average precision) — the lowest nested log loss among options
/// that do not lower the nested metric. None when there is nothing to fit (fewer than 2 folds, no
/// probabilities).
pub fn choose(
    proba: &Array2<f64>,
    y: &[f64],
    folds: &[Vec<usize>],
    metric: Metric,
    cfg: PostConfig,
) -> Option<PostDecision> {
    let k = proba.ncols();
    if folds.len() < 2 || k < 2 || proba.nrows() != y.len() || y.is_empty() {
        return None;
    }
    let methods: Vec<CalibrationMethod> = match cfg.calibration {
        None => vec![
            CalibrationMethod::None,
            CalibrationMethod::Platt,
            CalibrationMethod::Isotonic,
        ],
        Some(m) => vec![m],
    };
    let thresholds: Vec<ThresholdChoice> = match cfg.threshold {
        _ if k != 2 => vec![ThresholdChoice::None],
        None if needs_hard_labels(metric) => vec![ThresholdChoice::None, ThresholdChoice::Tune],
        None => vec![ThresholdChoice::None],
        Some(t) => vec![t],
    };
    let raw = Predictions::from_proba(proba.clone());
    // As the trial was scored (`Metric::compute` on the probabilities).
    let before = folds
        .iter()
        .map(|f| {
            let (p, yk) = take(proba, y, f);
            metric.compute(&yk, &Predictions::from_proba(p), k)
        })
        .sum::<f64>()
        / folds.len() as f64;
    let mut options = Vec::new();
    let mut preds = Vec::new();
    for &m in &methods {
        for &t in &thresholds {
            let (pred, _) = nested_predictions(proba, y, folds, m, t, metric);
            let (scores, nested) = fold_scores(metric, y, &pred, folds, k);
            let (_, ll) = fold_scores(Metric::LogLoss, y, &pred, folds, k);
            options.push(OptionScore {
                method: m,
                tuned_threshold: t == ThresholdChoice::Tune,
                fold_scores: scores,
                nested,
                nested_log_loss: ll,
            });
            preds.push((m, t, pred));
        }
    }
    let best = if ranks_only(metric) {
        // Calibration only changes log loss here: the lowest nested log loss among the
        // options that do not lower the metric.
        let mut best = 0;
        for (i, o) in options.iter().enumerate().skip(1) {
            let keeps = !metric.better(options[0].nested, o.nested + metric_slack(metric));
            if keeps && o.nested_log_loss < options[best].nested_log_loss - 1e-12 {
                best = i;
            }
        }
        best
    } else {
        pick_within_noise(&options, metric)
    };
    let (m, t, pred) = &preds[best];
    let chosen = PostProcess::fit(proba, y, *m, *t, metric);
    let o = &options[best];
    let what = format!(
        "calibration {}{}",
        o.method.name(),
        match (o.tuned_threshold, chosen.threshold) {
            (true, Some(th)) => format!(", threshold {th:.4} tuned"),
            (false, Some(th)) => format!(", threshold {th:.4} given"),
            _ => String::new(),
        }
    );
    let reason = if cfg.calibration.is_some() && cfg.threshold.is_some() {
        format!("{what}: as set")
    } else if ranks_only(metric) {
        format!(
            "{what}: nested log loss {:.4} (as is {:.4}); {} only ranks, so calibration is kept only when it lowers log loss without lowering it",
            o.nested_log_loss,
            options[0].nested_log_loss,
            metric.name()
        )
    } else {
        format!(
            "{what}: nested {} {:.4} (as is {:.4}), nested log loss {:.4}",
            metric.name(),
            o.nested,
            before,
            o.nested_log_loss
        )
    };
    Some(PostDecision {
        metric: metric.name().to_string(),
        after: o.nested,
        before,
        reason,
        reliability_before: reliability(&raw, y),
        reliability_after: reliability(pred, y),
        chosen,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::Rng;

    fn binary(p1: &[f64]) -> Array2<f64> {
        Array2::from_shape_fn(
            (p1.len(), 2),
            |(i, j)| if j == 1 { p1[i] } else { 1.0 - p1[i] },
        )
    }

    /// `n` rows: a model's P(class 1) = sigmoid(z) while the truth is sigmoid(a z + b).
    fn miscalibrated(n: usize, a: f64, b: f64, seed: u64) -> (Vec<f64>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut p = Vec::with_capacity(n);
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let z = 2.0 * rng.normal();
            p.push(sigmoid(z));
            t.push(rng.bernoulli(sigmoid(a * z + b)));
        }
        (p, t)
    }

    fn folds_of(n: usize, k: usize) -> Vec<Vec<usize>> {
        (0..k).map(|f| (f..n).step_by(k).collect()).collect()
    }

    #[test]
    fn platt_recovers_a_known_logistic_map() {
        let (p, t) = miscalibrated(20_000, 0.4, 0.7, 1);
        let Calibrator::Platt { a, b } = Calibrator::fit_platt(&p, &t) else {
            panic!("platt")
        };
        assert!((a - 0.4).abs() < 0.05, "a {a}");
        assert!((b - 0.7).abs() < 0.08, "b {b}");
        // Separable data stays finite and monotone.
        let c = Calibrator::fit_platt(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]);
        assert!(c.apply(0.15).is_finite() && c.apply(0.15) < c.apply(0.85));
    }

    #[test]
    fn pav_pools_adjacent_violators() {
        // Sorted by p: outcomes 0, 1, 0, 1 -> blocks {0}, {1, 0} at 0.5, {1}.
        let c = Calibrator::fit_isotonic(&[0.1, 0.2, 0.3, 0.4], &[false, true, false, true]);
        let m = 0.5 / 5.0;
        let Calibrator::Isotonic { x, y } = &c else {
            panic!("isotonic")
        };
        assert_eq!(x, &vec![0.1, 0.2, 0.3, 0.4]);
        assert_eq!(y, &vec![m, 0.5, 0.5, 1.0 - m]);
        assert_eq!(c.apply(0.25), 0.5);
        assert_eq!(c.apply(0.0), m);
        assert_eq!(c.apply(1.0), 1.0 - m);
        assert!((c.apply(0.15) - (m + 0.5) / 2.0).abs() < 1e-12);
        // Output is non-decreasing on random data.
        let (p, t) = miscalibrated(2000, 0.5, 0.0, 2);
        let c = Calibrator::fit_isotonic(&p, &t);
        let mut last = 0.0;
        for i in 0..=100 {
            let v = c.apply(f64::from(i) / 100.0);
            assert!(v >= last - 1e-15);
            last = v;
        }
    }

    #[test]
    fn threshold_search_maximises_the_metric() {
        // Positives at 0.3 and 0.35, negatives at 0.1, 0.2 and 0.32: the best F1 cut is
        // between 0.2 and 0.3 (tp 2, fp 1: F1 0.8), not 0.5 (F1 0).
        let p = [0.1, 0.2, 0.3, 0.32, 0.35];
        let pos = [false, false, true, false, true];
        let t = best_threshold(&p, &pos, Metric::F1).unwrap();
        assert!((t - 0.25).abs() < 1e-12, "{t}");
        // Accuracy: cutting at 0.25 or at 0.335 gives 4/5 (0.5 gives 3/5); the tie goes to
        // the cut closer to 0.5.
        let t = best_threshold(&p, &pos, Metric::Accuracy).unwrap();
        assert!((t - 0.335).abs() < 1e-12, "{t}");
        // A tie keeps the candidate closest to 0.5.
        let t = best_threshold(&[0.1, 0.9], &[false, true], Metric::Accuracy).unwrap();
        assert_eq!(t, 0.5);
        assert_eq!(best_threshold(&p, &pos, Metric::LogLoss), None);
        // The threshold labels rows at apply time.
        let post = PostProcess {
            threshold: Some(0.25),
            ..PostProcess::identity()
        };
        let pred = post.apply(Predictions::from_proba(binary(&p)));
        assert_eq!(pred.values, vec![0.0, 0.0, 1.0, 1.0, 1.0]);
    }

    /// Issue 14: thresholds and calibration are chosen on the other folds and scored on the
    /// held-out fold (nested), never on the rows that chose them.
    #[test]
    fn thresholds_and_calibration_are_chosen_on_the_other_folds_and_scored_on_the_held_out_fold() {
        // Pure noise: the probabilities carry no information, so isotonic regression and a
        // tuned threshold fitted on the same rows would look better than they are.
        let mut rng = Rng::new(7);
        let n = 400;
        let p: Vec<f64> = (0..n).map(|_| rng.uniform(0.05, 0.95)).collect();
        let y: Vec<f64> = (0..n)
            .map(|_| f64::from(u8::from(rng.bernoulli(0.3))))
            .collect();
        let proba = binary(&p);
        let folds = folds_of(n, 5);
        for (metric, method, th) in [
            (
                Metric::LogLoss,
                CalibrationMethod::Isotonic,
                ThresholdChoice::None,
            ),
            (Metric::F1, CalibrationMethod::None, ThresholdChoice::Tune),
            (
                Metric::BalancedAccuracy,
                CalibrationMethod::Platt,
                ThresholdChoice::Tune,
            ),
        ] {
            let (pred, fitted) = nested_predictions(&proba, &y, &folds, method, th, metric);
            let (scores, nested) = fold_scores(metric, &y, &pred, &folds, 2);
            for (k, fold) in folds.iter().enumerate() {
                // Fold k's post-processing is the one fitted on the other folds' rows only ...
                let others: Vec<usize> = folds
                    .iter()
                    .filter(|f| *f != fold)
                    .flatten()
                    .copied()
                    .collect();
                assert!(others.iter().all(|r| !fold.contains(r)));
                let (po, yo) = take(&proba, &y, &others);
                assert_eq!(fitted[k], PostProcess::fit(&po, &yo, method, th, metric));
                // ... and its score is the metric of that fit on fold k's rows, by hand.
                let (pk, yk) = take(&proba, &y, fold);
                let by_hand = score(
                    metric,
                    &yk,
                    &fitted[k].apply(Predictions::from_proba(pk)),
                    2,
                );
                assert_eq!(scores[k], by_hand, "{metric:?} fold {k}");
            }
            // Fitting on all rows and scoring on the same rows flatters the option.
            let in_sample = PostProcess::fit(&proba, &y, method, th, metric)
                .apply(Predictions::from_proba(proba.clone()));
            let (_, flattering) = fold_scores(metric, &y, &in_sample, &folds, 2);
            assert!(
                metric.better(flattering, nested),
                "{metric:?}: in-sample {flattering} vs nested {nested}"
            );
        }
        // The decision reports exactly those nested scores.
        let d = choose(&proba, &y, &folds, Metric::LogLoss, PostConfig::default()).unwrap();
        let iso = d
            .options
            .iter()
            .find(|o| o.method == CalibrationMethod::Isotonic)
            .unwrap();
        let (pred, _) = nested_predictions(
            &proba,
            &y,
            &folds,
            CalibrationMethod::Isotonic,
            ThresholdChoice::None,
            Metric::LogLoss,
        );
        assert_eq!(
            iso.nested,
            fold_scores(Metric::LogLoss, &y, &pred, &folds, 2).1
        );
    }

    #[test]
    fn calibration_is_kept_only_when_the_nested_score_improves() {
        // Overconfident (truth = sigmoid(0.4 z)): calibration wins on log loss.
        let (p, t) = miscalibrated(3000, 0.4, 0.0, 3);
        let y: Vec<f64> = t.iter().map(|&v| f64::from(u8::from(v))).collect();
        let folds = folds_of(p.len(), 5);
        let d = choose(
            &binary(&p),
            &y,
            &folds,
            Metric::LogLoss,
            PostConfig::default(),
        )
        .unwrap();
        assert_ne!(d.chosen.method, CalibrationMethod::None, "{}", d.reason);
        assert!(d.after < d.before - 0.01, "{} -> {}", d.before, d.after);
        // Already calibrated (truth = sigmoid(z)): nothing beats leaving it, or barely.
        let (p, t) = miscalibrated(3000, 1.0, 0.0, 4);
        let y: Vec<f64> = t.iter().map(|&v| f64::from(u8::from(v))).collect();
        let d = choose(
            &binary(&p),
            &y,
            &folds,
            Metric::LogLoss,
            PostConfig::default(),
        )
        .unwrap();
        assert!(d.after <= d.before, "{} -> {}", d.before, d.after);
        assert!(d.before - d.after < 0.002, "{} -> {}", d.before, d.after);
        // ROC AUC only ranks: Platt keeps it, and wins only on log loss.
        let (p, t) = miscalibrated(3000, 0.4, 0.0, 5);
        let y: Vec<f64> = t.iter().map(|&v| f64::from(u8::from(v))).collect();
        let d = choose(
            &binary(&p),
            &y,
            &folds,
            Metric::RocAuc,
            PostConfig::default(),
        )
        .unwrap();
        let none = &d.options[0];
        let chosen = d
            .options
            .iter()
            .find(|o| o.method == d.chosen.method)
            .unwrap();
        assert!(chosen.nested >= none.nested - 1e-12);
        assert!(chosen.nested_log_loss < none.nested_log_loss);
        // Multiclass: one-vs-rest, rows still sum to 1.
        let mut rng = Rng::new(6);
        let proba = Array2::from_shape_fn((300, 3), |_| rng.uniform(0.01, 1.0));
        let proba = &proba
            / &proba
                .sum_axis(ndarray::Axis(1))
                .insert_axis(ndarray::Axis(1));
        let y: Vec<f64> = (0..300).map(|i| (i % 3) as f64).collect();
        let post = PostProcess::fit(
            &proba,
            &y,
            CalibrationMethod::Platt,
            ThresholdChoice::None,
            Metric::LogLoss,
        );
        assert_eq!(post.calibrators.len(), 3);
        let out = post.apply(Predictions::from_proba(proba));
        for row in out.proba.unwrap().rows() {
            assert!((row.sum() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn post_processing_round_trips_in_the_artifact() {
        use crate::{Predictor, PredictorInfo};
        let info = PredictorInfo {
            task: automl_core::Task::Binary,
            n_classes: 2,
        };
        let post = PostProcess {
            method: CalibrationMethod::Isotonic,
            calibrators: vec![Calibrator::fit_isotonic(&[0.2, 0.6], &[false, true])],
            threshold: Some(0.3),
        };
        let p = Predictor::PostProcessed(Box::new(Predictor::Ensemble(Vec::new())), post.clone());
        let (back, _) = Predictor::from_bytes(&p.to_bytes(info).unwrap()).unwrap();
        assert_eq!(back.post_process(), Some(&post));
        // A plain artifact is still written as format 2 (older builds read it).
        let plain = Predictor::Ensemble(Vec::new()).to_bytes(info).unwrap();
        assert_eq!(plain[0], 2);
    }

    #[test]
    fn an_option_winning_by_noise_gives_way_to_better_calibration() {
        let opt = |method, folds: [f64; 5], ll| OptionScore {
            method,
            tuned_threshold: false,
            nested: folds.iter().sum::<f64>() / 5.0,
            fold_scores: folds.to_vec(),
            nested_log_loss: ll,
        };
        // breast_cancer, balanced accuracy: isotonic wins by one row of one fold.
        let none = opt(
            CalibrationMethod::None,
            [0.99, 0.95, 0.97, 0.97, 0.99],
            0.10,
        );
        let iso = opt(
            CalibrationMethod::Isotonic,
            [1.0, 0.95, 0.97, 0.97, 0.99],
            0.12,
        );
        assert_eq!(
            pick_within_noise(&[none.clone(), iso.clone()], Metric::BalancedAccuracy),
            0
        );
        // A consistent gain in every fold is kept even with a worse log loss.
        let gain = opt(
            CalibrationMethod::Isotonic,
            [1.0, 0.96, 0.98, 0.98, 1.0],
            0.12,
        );
        assert_eq!(
            pick_within_noise(&[none.clone(), gain], Metric::BalancedAccuracy),
            1
        );
        // Equal scores: the lower log loss, then the earlier option.
        let platt = opt(
            CalibrationMethod::Platt,
            [0.99, 0.95, 0.97, 0.97, 0.99],
            0.09,
        );
        assert_eq!(
            pick_within_noise(&[none.clone(), platt], Metric::Accuracy),
            1
        );
        assert_eq!(
            pick_within_noise(&[none.clone(), none], Metric::Accuracy),
            0
        );
    }
}
