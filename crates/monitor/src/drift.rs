//! Drift checks: new rows (and the model's predictions of them) against a
//! [`ReferenceProfile`].
//!
//! Per column a test and an effect size: numbers by the two-sample Kolmogorov-Smirnov test
//! with the 1-Wasserstein distance divided by the training standard deviation as the effect;
//! categories (and booleans) by the chi-square test of homogeneity (rare levels pooled,
//! unseen levels a bin of their own, missing a bin of its own) with the Jensen-Shannon
//! distance as the effect; the PSI of both is reported too. The predictions are tested the
//! same way against the out-of-fold predictions (the score, and for classification the
//! predicted classes). A domain classifier (our GBDT, cross-validated) tries to tell sampled
//! training rows from new rows; its AUC is the effect and the Mann-Whitney p-value the test.
//!
//! All p-values of one check form one family, corrected by Holm's method, so under no drift
//! the chance of any flag is at most α. A test is flagged only when its corrected p-value is
//! below α **and** its effect reaches a minimum, so a huge sample does not flag trivia.

pub mod stats;

use crate::MonitorError;
use crate::profile::{ColumnSummary, ReferenceProfile, SampleColumn, prediction_scores};
use automl_core::{Predictions, Rng, Task};
use automl_data::{ColumnData, ColumnKind, Frame, MISSING_CODE};
use automl_trees::{BinnedData, Gbdt, GbdtParams, Importance, Objective};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use stats::*;
use std::collections::HashMap;

/// Version of the report layout.
pub const REPORT_VERSION: u32 = 1;

/// Thresholds and sizes of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftOptions {
    /// Family-wise significance level of the whole check (Holm-corrected).
    pub alpha: f64,
    /// Minimum Wasserstein distance, in training standard deviations, for a number to drift.
    pub min_wasserstein: f64,
    /// Minimum Jensen-Shannon distance (base 2) for categories to drift.
    pub min_js: f64,
    /// Minimum cross-validated AUC of the domain classifier for the rows to drift.
    pub min_auc: f64,
    /// New rows used by the column tests (a seeded sample above it; missing rates use all).
    pub max_rows: usize,
    /// New rows given to the domain classifier (at most).
    pub domain_rows: usize,
    /// Run the domain classifier (needs the profile's row sample).
    pub domain: bool,
    /// Seed of the samples and the classifier.
    pub seed: u64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            alpha: 0.05,
            min_wasserstein: 0.15,
            min_js: 0.15,
            min_auc: 0.6,
            max_rows: 100_000,
            domain_rows: 10_000,
            domain: true,
            seed: 0,
        }
    }
}

/// The result of a check (logged as JSON in a prediction log's drift entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// Whether anything was flagged.
    pub drift: bool,
    /// The family-wise significance level.
    pub alpha: f64,
    /// The multiple-testing correction (`holm`).
    pub correction: String,
    /// Training rows behind the profile.
    pub n_reference: usize,
    /// New rows checked.
    pub n_new: usize,
    /// One per feature column.
    pub columns: Vec<TestResult>,
    /// The predictions: `prediction` (the score) and, for classification, `predicted_class`.
    pub predictions: Vec<TestResult>,
    /// The domain classifier.
    pub domain: DomainCheck,
    /// Names of the flagged columns (`prediction`, `predicted_class` and `domain_classifier`
    /// included when flagged).
    pub flagged: Vec<String>,
}

/// One test (a column, or the predictions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The column (or `prediction` / `predicted_class`).
    pub name: String,
    /// `numeric`, `categorical` or `boolean`.
    pub kind: String,
    /// `ks` or `chi2`.
    pub test: String,
    /// The test statistic (KS D, or chi-square).
    pub statistic: f64,
    /// The p-value before correction.
    pub p_value: f64,
    /// The Holm-corrected p-value.
    pub p_adjusted: f64,
    /// `wasserstein_std` or `js_distance`.
    pub effect_name: String,
    /// The effect size.
    pub effect: f64,
    /// The population stability index (reference deciles, or the levels).
    pub psi: f64,
    /// Share of missing cells in training.
    pub missing_reference: f64,
    /// Share of missing cells in the new rows.
    pub missing_new: f64,
    /// Present values compared on the reference side (sample, sketch or counts).
    pub n_reference: usize,
    /// Present values compared on the new side.
    pub n_new: usize,
    /// Levels of the new rows never seen in training (the most frequent first, at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<String>,
    /// Share of the new rows with an unseen level.
    #[serde(default)]
    pub unseen_share: f64,
    /// Whether the corrected test rejects and the effect reaches its minimum.
    pub flagged: bool,
}

/// The domain classifier's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainCheck {
    /// Whether it ran.
    pub ran: bool,
    /// Why it did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Cross-validated AUC of telling new rows from training rows (0.5: cannot).
    pub auc: f64,
    /// One-sided p-value of the AUC above 0.5.
    pub p_value: f64,
    /// The Holm-corrected p-value.
    pub p_adjusted: f64,
    /// Training rows used (the profile's sample).
    pub n_reference: usize,
    /// New rows used.
    pub n_new: usize,
    /// Cross-validation folds.
    pub folds: usize,
    /// The columns it used most (share of the total split gain), the largest first.
    pub top_columns: Vec<ColumnShare>,
    /// Whether the corrected test rejects and the AUC reaches its minimum.
    pub flagged: bool,
}

/// A column's share of the domain classifier's split gain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnShare {
    /// The column.
    pub column: String,
    /// Its share (0..=1).
    pub share: f64,
}

/// Check `frame` (new rows, read with the model's schema) and the model's predictions of it
/// against `profile`.
pub fn check(
    profile: &ReferenceProfile,
    frame: &Frame,
    predictions: Option<(&Predictions, Task)>,
    opts: &DriftOptions,
) -> Result<DriftReport, MonitorError> {
    if frame.n_rows == 0 {
        return Err(MonitorError::Input("the new data has no rows".into()));
    }
    let rows: Vec<usize> = if frame.n_rows > opts.max_rows {
        let mut rng = Rng::derive(opts.seed, 0x434f_4c53);
        let mut r = rng.sample_indices(frame.n_rows, opts.max_rows);
        r.sort_unstable();
        r
    } else {
        (0..frame.n_rows).collect()
    };
    let mut columns = Vec::with_capacity(profile.columns.len());
    for (j, cp) in profile.columns.iter().enumerate() {
        let col = frame.column(&cp.name).ok_or_else(|| {
            MonitorError::Input(format!(
                "column `{}` of the training data is missing from the new data",
                cp.name
            ))
        })?;
        let missing_new = col.data.n_missing() as f64 / frame.n_rows as f64;
        let missing_reference = cp.missing_rate(profile.n_rows);
        let sample = profile.sample.as_ref().and_then(|s| s.columns.get(j));
        let mut r = match (&cp.summary, &col.data) {
            (ColumnSummary::Numeric { quantiles, std, .. }, ColumnData::Numeric(v)) => {
                let (reference, n_ref) = match sample {
                    Some(SampleColumn::Numeric { values }) => {
                        let s = sorted(values.iter().flatten().copied());
                        let n = s.len();
                        (s, n)
                    }
                    _ => (quantiles.clone(), profile.n_rows - cp.missing),
                };
                let new = sorted(rows.iter().map(|&i| v[i]));
                numeric_test(&cp.name, "numeric", &reference, n_ref, &new, *std)
            }
            (ColumnSummary::Categorical { levels, other }, data) => {
                let mut bins: Vec<String> = levels.iter().map(|l| l.level.clone()).collect();
                let mut reference: Vec<f64> = levels.iter().map(|l| l.count as f64).collect();
                let index: HashMap<&str, usize> = levels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.level.as_str(), i))
                    .collect();
                let other_bin = bins.len();
                bins.push("(other)".into());
                reference.push(*other as f64);
                let missing_bin = bins.len();
                bins.push("(missing)".into());
                reference.push(cp.missing as f64);
                let unseen_bin = bins.len();
                bins.push("(unseen)".into());
                reference.push(0.0);
                let mut new = vec![0.0; bins.len()];
                let mut unseen: HashMap<String, u64> = HashMap::new();
                let mut put = |level: Option<&str>| match level {
                    None => new[missing_bin] += 1.0,
                    Some(l) => match index.get(l) {
                        Some(&b) => new[b] += 1.0,
                        None if *other > 0 => new[other_bin] += 1.0,
                        None => {
                            new[unseen_bin] += 1.0;
                            *unseen.entry(l.to_string()).or_default() += 1;
                        }
                    },
                };
                match data {
                    ColumnData::Numeric(v) => {
                        for &i in &rows {
                            let x = v[i];
                            put(x
                                .is_finite()
                                .then_some(if x != 0.0 { "true" } else { "false" }));
                        }
                    }
                    ColumnData::Categorical { codes, levels } => {
                        for &i in &rows {
                            let c = codes[i];
                            put((c != MISSING_CODE).then(|| levels[c as usize].as_str()));
                        }
                    }
                }
                let mut t = categorical_test(&cp.name, cp.kind.as_str(), &reference, &new);
                let mut u: Vec<(String, u64)> = unseen.into_iter().collect();
                u.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                t.unseen = u.into_iter().take(10).map(|x| x.0).collect();
                t.unseen_share = new[unseen_bin] / rows.len() as f64;
                t
            }
            (ColumnSummary::Numeric { .. }, ColumnData::Categorical { .. }) => {
                return Err(MonitorError::Input(format!(
                    "column `{}` was numeric in training but holds text in the new data",
                    cp.name
                )));
            }
        };
        r.missing_reference = missing_reference;
        r.missing_new = missing_new;
        columns.push(r);
    }

    let mut preds = Vec::new();
    if let (Some(pp), Some((p, task))) = (&profile.predictions, predictions) {
        if p.len() != frame.n_rows {
            return Err(MonitorError::Input(format!(
                "{} predictions for {} rows",
                p.len(),
                frame.n_rows
            )));
        }
        let scores = prediction_scores(p, task);
        let reference = if pp.sample.is_empty() {
            pp.quantiles.clone()
        } else {
            sorted(pp.sample.iter().copied())
        };
        let n_ref = if pp.sample.is_empty() {
            pp.n
        } else {
            reference.len()
        };
        let std = std_of(&reference);
        let new = sorted(rows.iter().map(|&i| scores[i]));
        let mut t = numeric_test("prediction", "numeric", &reference, n_ref, &new, std);
        t.n_reference = n_ref;
        preds.push(t);
        if task.is_classification() && !pp.class_counts.is_empty() {
            let reference: Vec<f64> = pp.class_counts.iter().map(|&c| c as f64).collect();
            let mut new = vec![0.0; reference.len()];
            for &i in &rows {
                if let Some(c) = new.get_mut(p.values[i] as usize) {
                    *c += 1.0;
                }
            }
            preds.push(categorical_test(
                "predicted_class",
                "categorical",
                &reference,
                &new,
            ));
        }
    }

    let mut domain = if !opts.domain {
        DomainCheck::skipped("turned off")
    } else if profile.sample.is_none() {
        DomainCheck::skipped("the profile keeps no row sample (fitted with --no-profile-sample)")
    } else {
        domain_check(profile, frame, opts)?
    };

    // One family: every column, the predictions and the domain classifier.
    let mut p: Vec<f64> = columns.iter().chain(&preds).map(|t| t.p_value).collect();
    if domain.ran {
        p.push(domain.p_value);
    }
    let adj = holm(&p);
    let mut flagged = Vec::new();
    for (t, &a) in columns.iter_mut().chain(preds.iter_mut()).zip(&adj) {
        t.p_adjusted = a;
        let min = if t.test == "ks" {
            opts.min_wasserstein
        } else {
            opts.min_js
        };
        t.flagged = a < opts.alpha && t.effect >= min;
        if t.flagged {
            flagged.push(t.name.clone());
        }
    }
    if domain.ran {
        domain.p_adjusted = adj[adj.len() - 1];
        domain.flagged = domain.p_adjusted < opts.alpha && domain.auc >= opts.min_auc;
        if domain.flagged {
            flagged.push("domain_classifier".into());
        }
    }
    Ok(DriftReport {
        version: REPORT_VERSION,
        drift: !flagged.is_empty(),
        alpha: opts.alpha,
        correction: "holm".into(),
        n_reference: profile.n_rows,
        n_new: frame.n_rows,
        columns,
        predictions: preds,
        domain,
        flagged,
    })
}

fn sorted(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut s: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    s
}

fn std_of(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt()
}

/// KS, the Wasserstein distance in reference standard deviations, and the PSI over the
/// reference deciles. `reference` and `new` are sorted; `n_ref` is the reference size the
/// p-value assumes (the training rows when `reference` is a quantile sketch).
fn numeric_test(
    name: &str,
    kind: &str,
    reference: &[f64],
    n_ref: usize,
    new: &[f64],
    std: f64,
) -> TestResult {
    let d = ks_statistic(reference, new);
    let p = if reference.is_empty() || new.is_empty() {
        1.0
    } else {
        ks_pvalue(d, n_ref, new.len())
    };
    let w = wasserstein1(reference, new);
    let scale = if std > 0.0 { std } else { 1.0 };
    let mut edges: Vec<f64> = (1..10)
        .map(|k| quantile_sorted(reference, k as f64 / 10.0))
        .filter(|x| x.is_finite())
        .collect();
    edges.dedup();
    let hist = |v: &[f64]| {
        let mut h = vec![0.0; edges.len() + 1];
        for &x in v {
            h[edges.partition_point(|&e| e < x)] += 1.0;
        }
        h
    };
    TestResult {
        name: name.into(),
        kind: kind.into(),
        test: "ks".into(),
        statistic: d,
        p_value: p,
        p_adjusted: p,
        effect_name: "wasserstein_std".into(),
        effect: w / scale,
        psi: psi(&hist(reference), &hist(new)),
        missing_reference: 0.0,
        missing_new: 0.0,
        n_reference: n_ref,
        n_new: new.len(),
        unseen: Vec::new(),
        unseen_share: 0.0,
        flagged: false,
    }
}

/// Chi-square homogeneity, the Jensen-Shannon distance and the PSI over the same bins.
fn categorical_test(name: &str, kind: &str, reference: &[f64], new: &[f64]) -> TestResult {
    let c = chi2_homogeneity(reference, new);
    TestResult {
        name: name.into(),
        kind: kind.into(),
        test: "chi2".into(),
        statistic: c.statistic,
        p_value: c.p_value,
        p_adjusted: c.p_value,
        effect_name: "js_distance".into(),
        effect: js_distance(reference, new),
        psi: psi(reference, new),
        missing_reference: 0.0,
        missing_new: 0.0,
        n_reference: reference.iter().sum::<f64>() as usize,
        n_new: new.iter().sum::<f64>() as usize,
        unseen: Vec::new(),
        unseen_share: 0.0,
        flagged: false,
    }
}

impl DomainCheck {
    fn skipped(why: &str) -> DomainCheck {
        DomainCheck {
            ran: false,
            skipped: Some(why.into()),
            auc: 0.5,
            p_value: 1.0,
            p_adjusted: 1.0,
            n_reference: 0,
            n_new: 0,
            folds: 0,
            top_columns: Vec::new(),
            flagged: false,
        }
    }
}

/// Folds of the domain classifier.
const DOMAIN_FOLDS: usize = 3;
/// Fewest rows on either side for the domain classifier to run.
const DOMAIN_MIN_ROWS: usize = 30;

/// Cross-validated GBDT telling the profile's sampled training rows (label 0) from a seeded
/// sample of the new rows (label 1).
fn domain_check(
    profile: &ReferenceProfile,
    frame: &Frame,
    opts: &DriftOptions,
) -> Result<DomainCheck, MonitorError> {
    let Some(sample) = &profile.sample else {
        return Ok(DomainCheck::skipped("no row sample"));
    };
    let n0 = sample.n_rows;
    let n1 = frame.n_rows.min(opts.domain_rows.max(1));
    if n0 < DOMAIN_MIN_ROWS || n1 < DOMAIN_MIN_ROWS {
        return Ok(DomainCheck::skipped(&format!(
            "too few rows (training sample {n0}, new {n1}; needs {DOMAIN_MIN_ROWS} each)"
        )));
    }
    let mut rng = Rng::derive(opts.seed, 0x444f_4d4e);
    let mut new_rows = rng.sample_indices(frame.n_rows, n1);
    new_rows.sort_unstable();
    let p = profile.columns.len();
    let mut x = Array2::<f64>::from_elem((n0 + n1, p), f64::NAN);
    let mut categorical = vec![false; p];
    for (j, cp) in profile.columns.iter().enumerate() {
        let col = frame
            .column(&cp.name)
            .ok_or_else(|| MonitorError::Input(format!("column `{}` is missing", cp.name)))?;
        match (&sample.columns[j], &col.data) {
            (SampleColumn::Numeric { values }, ColumnData::Numeric(v)) => {
                for (i, s) in values.iter().enumerate() {
                    x[[i, j]] = s.unwrap_or(f64::NAN);
                }
                for (i, &r) in new_rows.iter().enumerate() {
                    x[[n0 + i, j]] = v[r];
                }
            }
            (
                SampleColumn::Categorical { levels, codes },
                ColumnData::Categorical {
                    codes: new_codes,
                    levels: new_levels,
                },
            ) => {
                categorical[j] = cp.kind == ColumnKind::Categorical;
                let mut dict: HashMap<String, f64> = HashMap::new();
                let mut code = |s: &str| -> f64 {
                    let n = dict.len() as f64;
                    *dict.entry(s.to_string()).or_insert(n)
                };
                for (i, c) in codes.iter().enumerate() {
                    if let Some(c) = c {
                        x[[i, j]] = code(levels[*c as usize].as_str());
                    }
                }
                for (i, &r) in new_rows.iter().enumerate() {
                    let c = new_codes[r];
                    if c != MISSING_CODE {
                        x[[n0 + i, j]] = code(new_levels[c as usize].as_str());
                    }
                }
            }
            _ => {
                return Err(MonitorError::Input(format!(
                    "column `{}` has another kind in the new data than in training",
                    cp.name
                )));
            }
        }
    }
    let y: Vec<f64> = (0..n0 + n1).map(|i| f64::from(i >= n0)).collect();
    // Stratified folds: each side shuffled and dealt round-robin.
    let mut fold = vec![0usize; n0 + n1];
    for range in [0..n0, n0..n0 + n1] {
        let mut idx: Vec<usize> = range.collect();
        rng.shuffle(&mut idx);
        for (k, i) in idx.into_iter().enumerate() {
            fold[i] = k % DOMAIN_FOLDS;
        }
    }
    let binned = BinnedData::new(x.view(), &categorical, 63)
        .map_err(|e| MonitorError::Input(format!("domain classifier: {e}")))?;
    let mut scores = vec![0.0; n0 + n1];
    let mut gain = vec![0.0; p];
    for k in 0..DOMAIN_FOLDS {
        let train: Vec<u32> = (0..n0 + n1)
            .filter(|&i| fold[i] != k)
            .map(|i| i as u32)
            .collect();
        let valid: Vec<usize> = (0..n0 + n1).filter(|&i| fold[i] == k).collect();
        let params = GbdtParams {
            objective: Objective::Binary,
            learning_rate: 0.1,
            max_rounds: 40,
            max_leaves: 15,
            min_samples_leaf: 20,
            seed: Rng::derive_seed(opts.seed, k as u64),
            ..GbdtParams::default()
        };
        let ds = automl_trees::Dataset {
            data: &binned,
            y: &y,
            weights: None,
            rows: Some(&train),
        };
        let model = Gbdt::fit(&params, &ds, None, None)
            .map_err(|e| MonitorError::Input(format!("domain classifier: {e}")))?;
        let xv = x.select(Axis(0), &valid);
        let raw = model
            .predict_raw(xv.view())
            .map_err(|e| MonitorError::Input(format!("domain classifier: {e}")))?;
        for (r, &i) in valid.iter().enumerate() {
            scores[i] = raw[[r, 0]];
        }
        for (g, v) in gain
            .iter_mut()
            .zip(model.feature_importance(Importance::Gain))
        {
            *g += v;
        }
    }
    let labels: Vec<bool> = (0..n0 + n1).map(|i| i >= n0).collect();
    let a = auc(&scores, &labels);
    let total: f64 = gain.iter().sum();
    let mut top: Vec<ColumnShare> = profile
        .columns
        .iter()
        .zip(&gain)
        .filter(|(_, g)| **g > 0.0 && total > 0.0)
        .map(|(c, g)| ColumnShare {
            column: c.name.clone(),
            share: g / total,
        })
        .collect();
    top.sort_by(|a, b| b.share.total_cmp(&a.share));
    top.truncate(5);
    let pv = auc_pvalue(a, n0, n1);
    Ok(DomainCheck {
        ran: true,
        skipped: None,
        auc: a,
        p_value: pv,
        p_adjusted: pv,
        n_reference: n0,
        n_new: n1,
        folds: DOMAIN_FOLDS,
        top_columns: top,
        flagged: false,
    })
}
