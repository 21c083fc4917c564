//! Cross-validation of one candidate on shared per-fold data, and the final fit on all rows.
//!
//! Per fold and per [`PrepKind`], the preprocessing is fitted on the fold's training rows only
//! (no leakage) and the transformed matrices (plus the tree engine's bins) are built once and
//! shared read-only by every candidate that needs them; the whole training matrix only for a
//! candidate that fits on every training row (a row subsample has its own rows transformed). The target-encoded kinds
//! (`cat_encoding = target`) depend on the fold's training targets as well; they are cached
//! the same way, as kinds of their own, and built only when a candidate asks for one.

use crate::error::TrainError;
use crate::pipeline::{BagWriter, FittedPipeline, PackedPipeline, PredictorInfo};
use automl_core::{Artifact, Candidate, Metric, Predictions, PrepKind, Task, TrialState};
use automl_data::target_encode::Target;
use automl_data::{
    Frame, Preprocessor, RowBlocks, Split, SplitError, forward_folds, forward_holdout,
    group_holdout, group_kfold, holdout, kfold,
};
use automl_models::{FitInput, FitPurpose, registry};
use automl_trees::BinnedCache;
use ndarray::{Array2, Axis};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// How candidates are validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvConfig {
    /// Number of folds (k-fold, stratified for classification).
    pub folds: usize,
    /// Above this many rows a single holdout split is used instead of k-fold.
    pub holdout_above_rows: usize,
    /// Validation share of the holdout split.
    pub holdout_fraction: f64,
    /// A holdout never takes more than this many validation rows (default
    /// [`HOLDOUT_MAX_ROWS`]; `usize::MAX`: no cap, as a study resumed from a stored fraction
    /// that was not capped, see [`CvConfig::holdout_fraction_for`]).
    pub holdout_max_rows: usize,
    /// Seed of the split.
    pub seed: u64,
    /// Fold sets of a k-fold on independent rows (repeated CV; default 1): each a reshuffle of
    /// the rows into `folds` folds, every candidate fitted and scored on all of them (0 counts
    /// as 1). Never repeated: a holdout, grouped or time-ordered folds. Not on by default:
    /// measured on the six public datasets under 1000 rows at 60 s (BENCHMARKS §35), three
    /// sets gave 1.4-4.9 × fewer trials and no test score better beyond noise.
    pub repeats: usize,
}

/// Most fold sets a repeated k-fold may have.
pub const MAX_REPEATS: usize = 100;

/// A holdout never takes more than this many validation rows: above 250k rows the fraction
/// shrinks so the rest train. Measured on a million rows (200k holdout rows at 20 %): a gbdt of
/// 1891 rounds fitted on 1/27 of the training rows in 8.5 s and then took 19 s to predict the
/// holdout, so a 60 s search completed 4 trials; selecting among models needs far fewer rows
/// (FLAML holds out 10 % above 100k rows).
pub const HOLDOUT_MAX_ROWS: usize = 50_000;

impl Default for CvConfig {
    fn default() -> Self {
        CvConfig {
            folds: 5,
            holdout_above_rows: 20_000,
            holdout_fraction: 0.2,
            holdout_max_rows: HOLDOUT_MAX_ROWS,
            seed: 0,
            repeats: 1,
        }
    }
}

impl CvConfig {
    /// The validation share of a holdout on `n_rows` rows: [`CvConfig::holdout_fraction`], but
    /// at most [`CvConfig::holdout_max_rows`] rows.
    pub fn holdout_fraction_for(&self, n_rows: usize) -> f64 {
        self.holdout_fraction
            .min(self.holdout_max_rows as f64 / n_rows.max(1) as f64)
    }

    /// Training rows of a fold for a data set of `n_rows` rows (what a candidate is fitted
    /// on): used to decide which families are offered and how low the fidelity may go.
    pub fn train_rows(&self, n_rows: usize) -> usize {
        if n_rows > self.holdout_above_rows {
            ((1.0 - self.holdout_fraction_for(n_rows)) * n_rows as f64) as usize
        } else {
            n_rows - n_rows / self.folds.max(2)
        }
    }

    /// Fold sets of a k-fold on `n_rows` independent rows: [`CvConfig::repeats`] (at least
    /// 1), or 1 for a holdout.
    pub fn repeats_for(&self, n_rows: usize) -> usize {
        if n_rows > self.holdout_above_rows {
            1
        } else {
            self.repeats.max(1)
        }
    }

    /// The scheme used on `n_rows` rows of a `task`: k-fold (stratified for classification,
    /// repeated per [`CvConfig::repeats_for`]), or a holdout above
    /// [`CvConfig::holdout_above_rows`].
    pub fn validation(&self, n_rows: usize, task: Task) -> automl_core::Validation {
        if n_rows > self.holdout_above_rows {
            automl_core::Validation::Holdout {
                fraction: self.holdout_fraction_for(n_rows),
            }
        } else {
            automl_core::Validation::KFold {
                folds: self.folds,
                stratified: task.is_classification(),
                repeats: self.repeats_for(n_rows),
            }
        }
    }

    /// The scheme used on `n_rows` rows of a `task` whose rows are tied together by `blocks`:
    /// as [`CvConfig::validation`] for independent rows, grouped (stratified for
    /// classification) for groups, forward-chaining for a time order.
    pub fn validation_for(
        &self,
        n_rows: usize,
        task: Task,
        blocks: &RowBlocks,
    ) -> automl_core::Validation {
        let holdout_fraction =
            (n_rows > self.holdout_above_rows).then_some(self.holdout_fraction_for(n_rows));
        match blocks {
            RowBlocks::Independent => self.validation(n_rows, task),
            RowBlocks::Groups { column, .. } => automl_core::Validation::Grouped {
                column: column.clone(),
                folds: self.folds,
                stratified: task.is_classification(),
                holdout_fraction,
            },
            RowBlocks::Time { column, gap, .. } => automl_core::Validation::ForwardChaining {
                column: column.clone(),
                folds: self.folds,
                gap: *gap,
                holdout_fraction,
            },
        }
    }

    /// A one-line description, e.g. `5-fold stratified CV`.
    pub fn describe(&self, n_rows: usize, task: Task) -> String {
        self.validation(n_rows, task).to_string()
    }
}

/// Preprocessed matrices of one fold for one [`PrepKind`].
///
/// The fold's whole training matrix (and the tree bins of it) is built only when a candidate
/// fits on every training row ([`TrainingData::train_matrix`]); a candidate on a row subsample
/// (fidelity below 1) has only its rows transformed ([`TrainingData::train_rows`]), the same
/// values row for row. On a million rows the first `Scaled` trials come at a low rung: building
/// the whole standardized matrix for them held 950k rows × every encoded column for the rest of
/// the run: without it the peak falls by 420-480 MB, from 1,013-1,073 MB (BENCHMARKS §54-§55).
pub struct Prepared {
    /// The preprocessing fitted on the fold's training rows.
    pub prep: Preprocessor,
    /// Validation rows, transformed.
    pub x_valid: Array2<f64>,
    /// Which transformed columns are category codes.
    pub categorical: Vec<bool>,
    /// Every training row, transformed, with its tree bins: built on first use, or at once for
    /// the target-encoded kinds (their training rows are encoded out of inner folds, which a
    /// row-wise transform cannot reproduce).
    train: OnceLock<Result<Arc<PreparedTrain>, String>>,
}

/// A fold's whole training matrix for one [`PrepKind`].
pub struct PreparedTrain {
    /// Training rows, transformed.
    pub x: Arc<Array2<f64>>,
    /// Shared tree bins of `x` (Tree kind only).
    pub binned: Option<BinnedCache>,
}

impl PreparedTrain {
    fn new(x: Array2<f64>, kind: PrepKind, categorical: &[bool]) -> PreparedTrain {
        let x = Arc::new(x);
        let binned =
            (kind == PrepKind::Tree).then(|| BinnedCache::new(x.clone(), categorical.to_vec()));
        PreparedTrain { x, binned }
    }
}

impl Prepared {
    /// Whether the whole training matrix was built (by a full-fidelity candidate, or at once
    /// for a target-encoded kind).
    pub fn has_train_matrix(&self) -> bool {
        self.train.get().is_some()
    }
}

/// One validation fold and its lazily prepared matrices.
pub struct Fold {
    /// Row indices.
    pub split: Split,
    /// Targets of the training rows.
    pub y_train: Vec<f64>,
    /// Targets of the validation rows.
    pub y_valid: Vec<f64>,
    prepared: [OnceLock<Result<Arc<Prepared>, String>>; 5],
}

/// The training data of a study, split into folds, shared by all evaluations.
pub struct TrainingData {
    /// Feature columns.
    pub features: Arc<Frame>,
    /// Targets (class index or value).
    pub y: Vec<f64>,
    /// Task.
    pub task: Task,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    /// The optimised metric.
    pub metric: Metric,
    /// The folds: under a repeated k-fold, every fold set one after the other.
    pub folds: Vec<Fold>,
    /// Fold sets in `folds` (1 unless the k-fold is repeated, [`CvConfig::repeats_for`]).
    repeats: usize,
    /// Per-trial memory limit in bytes ([`crate::memory`]): a candidate whose estimated need
    /// on a fold exceeds it fails before it is fitted. `u64::MAX` (the default of
    /// [`TrainingData::new`]) = no limit.
    pub memory_limit: u64,
}

fn kind_index(kind: PrepKind) -> usize {
    match kind {
        PrepKind::Scaled => 0,
        PrepKind::Dense => 1,
        PrepKind::Tree => 2,
        PrepKind::ScaledTarget => 3,
        PrepKind::DenseTarget => 4,
    }
}

/// Seed of the inner folds of fold `i`'s target encoding (fixed: the encoding is shared by
/// every candidate, so it must not depend on a trial's seed).
fn target_seed(i: usize) -> u64 {
    automl_core::Rng::derive_seed(0x7A26_E7E1, i as u64)
}

impl TrainingData {
    /// Split the data per `cv`, rows independent.
    pub fn new(
        features: Arc<Frame>,
        y: Vec<f64>,
        task: Task,
        n_classes: usize,
        metric: Metric,
        cv: &CvConfig,
    ) -> TrainingData {
        Self::with_blocks(
            features,
            y,
            task,
            n_classes,
            metric,
            cv,
            &RowBlocks::Independent,
        )
        .expect("independent rows always split")
    }

    /// Split the data per `cv`, keeping groups together or training on the past only as
    /// `blocks` says (k-fold or, above [`CvConfig::holdout_above_rows`], one holdout split).
    /// Too few groups or distinct times for the folds, or a gap that leaves a fold no
    /// training rows, is an error.
    pub fn with_blocks(
        features: Arc<Frame>,
        y: Vec<f64>,
        task: Task,
        n_classes: usize,
        metric: Metric,
        cv: &CvConfig,
        blocks: &RowBlocks,
    ) -> Result<TrainingData, SplitError> {
        let splits = splits(&y, task, n_classes, cv, blocks)?;
        let repeats = match blocks {
            RowBlocks::Independent => cv.repeats_for(y.len()),
            _ => 1,
        };
        let folds = splits
            .into_iter()
            .map(|split| Fold {
                y_train: split.train.iter().map(|&i| y[i]).collect(),
                y_valid: split.valid.iter().map(|&i| y[i]).collect(),
                split,
                prepared: Default::default(),
            })
            .collect();
        Ok(TrainingData {
            features,
            y,
            task,
            n_classes,
            metric,
            folds,
            repeats,
            memory_limit: u64::MAX,
        })
    }

    /// Fold sets in [`TrainingData::folds`]: more than 1 under a repeated k-fold.
    pub fn repeats(&self) -> usize {
        self.repeats
    }

    /// The folds whose validation rows, concatenated in fold order, are the rows of the
    /// out-of-fold predictions an [`Evaluation`] gives (`oof`): every fold, or under a
    /// repeated k-fold the first fold set's (one prediction per row, of a model that did not
    /// see it, as without repeats). The ensemble, the stacking and the post-processing learn
    /// on those rows.
    pub fn oof_folds(&self) -> &[Fold] {
        &self.folds[..self.folds.len() / self.repeats.max(1)]
    }

    /// The labels of the out-of-fold rows ([`TrainingData::oof_folds`]' validation rows, in
    /// fold order): what the ensemble, the stacking and the post-processing score against.
    pub fn oof_y(&self) -> Vec<f64> {
        self.oof_folds()
            .iter()
            .flat_map(|f| f.split.valid.iter().map(|&r| self.y[r]))
            .collect()
    }

    /// The length of each of [`TrainingData::oof_folds`]' validation folds.
    pub fn oof_fold_lens(&self) -> Vec<usize> {
        self.oof_folds()
            .iter()
            .map(|f| f.split.valid.len())
            .collect()
    }

    /// Set the per-trial memory limit in bytes (see [`crate::memory::default_memory_limit`]; independent of how many trials run at once).
    pub fn with_memory_limit(mut self, bytes: u64) -> TrainingData {
        self.memory_limit = bytes;
        self
    }

    /// Rows of the data set.
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// Training rows of the largest fold (what a candidate is fitted on).
    pub fn fold_train_rows(&self) -> usize {
        self.folds
            .iter()
            .map(|f| f.split.train.len())
            .max()
            .unwrap_or(0)
    }

    /// The preprocessing and validation matrix of fold `i` for `kind`, built on first use.
    pub fn prepared(&self, i: usize, kind: PrepKind) -> Result<Arc<Prepared>, String> {
        let fold = &self.folds[i];
        fold.prepared[kind_index(kind)]
            .get_or_init(|| {
                let (prep, x_train) = if kind.is_target_encoded() {
                    let target = Target {
                        y: &fold.y_train,
                        n_classes: self.n_classes,
                        seed: target_seed(i),
                    };
                    let (prep, x) =
                        Preprocessor::fit_target(&self.features, &fold.split.train, kind, &target)
                            .map_err(|e| e.to_string())?;
                    (prep, Some(x))
                } else {
                    (
                        Preprocessor::fit(&self.features, &fold.split.train, kind),
                        None,
                    )
                };
                let x_valid = prep
                    .transform_rows(&self.features, &fold.split.valid)
                    .map_err(|e| e.to_string())?;
                let categorical = prep.categorical_mask();
                let train = OnceLock::new();
                if let Some(x) = x_train {
                    let _ = train.set(Ok(Arc::new(PreparedTrain::new(x, kind, &categorical))));
                }
                Ok(Arc::new(Prepared {
                    prep,
                    x_valid,
                    categorical,
                    train,
                }))
            })
            .clone()
    }

    /// Every training row of fold `i`, transformed by `prepared` (that fold's, from
    /// [`TrainingData::prepared`]), with its tree bins: built on first use and kept.
    pub fn train_matrix(
        &self,
        i: usize,
        prepared: &Prepared,
    ) -> Result<Arc<PreparedTrain>, String> {
        prepared
            .train
            .get_or_init(|| {
                let x = prepared
                    .prep
                    .transform_rows(&self.features, &self.folds[i].split.train)
                    .map_err(|e| e.to_string())?;
                Ok(Arc::new(PreparedTrain::new(
                    x,
                    prepared.prep.kind(),
                    &prepared.categorical,
                )))
            })
            .clone()
    }

    /// Training rows `rows` of fold `i` (positions among its training rows, ascending),
    /// transformed by `prepared`: taken from the whole training matrix when it was built, else
    /// transformed alone (the same values, row for row), so a subsample never builds it.
    pub fn train_rows(
        &self,
        i: usize,
        prepared: &Prepared,
        rows: &[usize],
    ) -> Result<Array2<f64>, String> {
        if let Some(built) = prepared.train.get() {
            return Ok(built.clone()?.x.select(Axis(0), rows));
        }
        let train = &self.folds[i].split.train;
        let original: Vec<usize> = rows.iter().map(|&r| train[r]).collect();
        prepared
            .prep
            .transform_rows(&self.features, &original)
            .map_err(|e| e.to_string())
    }
}

/// The validation splits of `y` per `cv` and `blocks` (what [`TrainingData::with_blocks`]
/// builds its folds from): k-fold, or one holdout above [`CvConfig::holdout_above_rows`];
/// grouped or forward-chaining as `blocks` says. A repeated k-fold
/// ([`CvConfig::repeats_for`] > 1, independent rows only) lists its fold sets one after the
/// other, the first being the k-fold of `cv.seed` alone.
pub fn splits(
    y: &[f64],
    task: Task,
    n_classes: usize,
    cv: &CvConfig,
    blocks: &RowBlocks,
) -> Result<Vec<Split>, SplitError> {
    let n = y.len();
    // Tiny classification data: no more folds than rows of the smallest class (of at
    // least two rows), so every validation fold can hold every class.
    let mut k = cv.folds.clamp(2, n.max(2));
    if task.is_classification() {
        let mut counts = vec![0usize; n_classes.max(2)];
        for v in y {
            if let Some(c) = counts.get_mut(*v as usize) {
                *c += 1;
            }
        }
        if let Some(min) = counts.iter().copied().filter(|c| *c >= 2).min() {
            k = k.min(min).max(2);
        }
    }
    let big = n > cv.holdout_above_rows;
    let fraction = cv.holdout_fraction_for(n);
    let splits = match blocks {
        RowBlocks::Independent if big => {
            vec![holdout(y, task, fraction, cv.seed)]
        }
        RowBlocks::Independent => (0..cv.repeats_for(n))
            .flat_map(|r| kfold(y, task, k, repeat_seed(cv.seed, r)))
            .collect(),
        RowBlocks::Groups { ids, .. } if big => {
            vec![group_holdout(y, ids, fraction, cv.seed)?]
        }
        RowBlocks::Groups { ids, .. } => group_kfold(y, task, ids, k, cv.seed)?,
        RowBlocks::Time { t, gap, .. } => {
            if t.len() != n {
                return Err(SplitError::Length {
                    found: t.len(),
                    expected: n,
                });
            }
            if big {
                vec![forward_holdout(t, fraction, *gap)?]
            } else {
                forward_folds(t, cv.folds.max(2), *gap)?
            }
        }
    };
    Ok(splits)
}

/// Split seed of fold set `r` of a repeated k-fold: `seed` itself for the first.
fn repeat_seed(seed: u64, r: usize) -> u64 {
    if r == 0 {
        seed
    } else {
        automl_core::Rng::derive_seed(seed, 0x7265_7065_6174 + r as u64)
    }
}

/// The result of cross-validating one candidate.
pub struct Evaluation {
    /// Complete, Failed or TimedOut.
    pub state: TrialState,
    /// Primary metric per fold.
    pub fold_scores: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Standard deviation over folds.
    pub std: f64,
    /// Every metric of the task on the pooled out-of-fold predictions.
    pub metrics: BTreeMap<String, f64>,
    /// Fit seconds summed over folds.
    pub fit_time_s: f64,
    /// Predict seconds per validation row.
    pub predict_time_per_row_s: f64,
    /// Error message (failed / timed out).
    pub error: Option<String>,
    /// Out-of-fold predictions: validation row indices and their predictions.
    pub oof: Option<(Vec<usize>, Predictions)>,
    /// The fold models as a bag (serialized artifact, compressed in blocks as it was
    /// encoded), when complete.
    pub artifact: Option<Artifact>,
    /// Size of one fold pipeline, bytes.
    pub model_size_bytes: u64,
    /// Facts reported by the models (first fold), e.g. `n_rounds`.
    pub facts: BTreeMap<String, String>,
}

impl Evaluation {
    /// An evaluation that produced no score: `state` with `error`, after `fit_time_s` seconds.
    pub fn failed(state: TrialState, error: String, fit_time_s: f64) -> Evaluation {
        Evaluation {
            state,
            fold_scores: Vec::new(),
            mean: f64::NAN,
            std: f64::NAN,
            metrics: BTreeMap::new(),
            fit_time_s,
            predict_time_per_row_s: 0.0,
            error: Some(error),
            oof: None,
            artifact: None,
            model_size_bytes: 0,
            facts: BTreeMap::new(),
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// A failed evaluation: the fold's preprocessing failed with `e`.
fn preprocessing_failed(e: String, fit_time: f64) -> Evaluation {
    Evaluation::failed(TrialState::Failed, format!("preprocessing: {e}"), fit_time)
}

fn subsample_rows(n: usize, fidelity: f64, seed: u64) -> Option<Vec<usize>> {
    if fidelity >= 1.0 || n < 2 {
        return None;
    }
    let k = ((n as f64 * fidelity).round() as usize).clamp(1, n);
    let mut rng = automl_core::Rng::new(seed ^ 0xF1DE);
    let mut rows = rng.sample_indices(n, k);
    rows.sort_unstable();
    Some(rows)
}

/// Cross-validate `cand` on every fold, or on the last `cand.folds` of them when set (fold
/// fidelity; the last ones, so forward-chaining time folds keep the latest; each fold keeps its
/// own seed, so a fold's fit is the same whether it is evaluated alone or with the others; the
/// out-of-fold predictions then cover those folds' rows only). Never panics: errors, panics, a passed deadline and an
/// estimated memory need over `data.memory_limit` (checked before each fold's fit) become a
/// Failed / TimedOut evaluation with the message.
pub fn evaluate(
    data: &TrainingData,
    cand: &Candidate,
    seed: u64,
    deadline: Option<Instant>,
) -> Evaluation {
    evaluate_keeping(data, cand, seed, deadline, true)
}

/// [`evaluate`] for its scores and out-of-fold predictions only: each fold's model is dropped
/// once it has predicted, never encoded (no `artifact`, `model_size_bytes` 0), for a caller
/// that would throw the fold models away (seed variance: re-encoding a large forest's five
/// fold models per evaluation, and holding them, is what grew a diamonds study to 980 MB,
/// BENCHMARKS §55).
pub fn evaluate_scores(
    data: &TrainingData,
    cand: &Candidate,
    seed: u64,
    deadline: Option<Instant>,
) -> Evaluation {
    evaluate_keeping(data, cand, seed, deadline, false)
}

/// What a fold's fit is for: a full fit for a full-fidelity trial (its models may serve in a
/// final model, its out-of-fold predictions in the ensemble), a first look otherwise (a
/// fraction of the rows or of the folds: successive halving's lower rungs).
fn purpose_of(cand: &Candidate) -> FitPurpose {
    if cand.is_full_cv() {
        FitPurpose::Full
    } else {
        FitPurpose::FirstLook
    }
}

fn evaluate_keeping(
    data: &TrainingData,
    cand: &Candidate,
    seed: u64,
    deadline: Option<Instant>,
    keep_models: bool,
) -> Evaluation {
    let Some(family) = registry().get(&cand.family) else {
        return Evaluation::failed(
            TrialState::Failed,
            format!("unknown model family `{}`", cand.family),
            0.0,
        );
    };
    let (params, kind) =
        match crate::cat_encoding::split_cat_encoding(&cand.params, family.prep_kind()) {
            Ok(v) => v,
            Err(e) => return Evaluation::failed(TrialState::Failed, e, 0.0),
        };
    let info = PredictorInfo {
        task: data.task,
        n_classes: data.n_classes,
    };
    let mut fold_scores = Vec::new();
    let mut fit_time = 0.0;
    let mut predict_time = 0.0;
    let mut predicted_rows = 0usize;
    let mut oof_rows: Vec<usize> = Vec::new();
    let mut oof_parts: Vec<Predictions> = Vec::new();
    // Each fold's pipeline is encoded as soon as it has predicted (one live model at a time).
    let mut bag = BagWriter::new();
    let mut facts = BTreeMap::new();
    let first = cand
        .folds
        .map_or(0, |k| data.folds.len().saturating_sub((k as usize).max(1)));
    for (i, fold) in data.folds.iter().enumerate().skip(first) {
        if let Some(d) = deadline {
            if Instant::now() >= d {
                return Evaluation::failed(
                    TrialState::TimedOut,
                    format!(
                        "deadline passed after {} of {} folds",
                        i - first,
                        data.folds.len() - first
                    ),
                    fit_time,
                );
            }
        }
        let prepared = match data.prepared(i, kind) {
            Ok(p) => p,
            Err(e) => return preprocessing_failed(e, fit_time),
        };
        let fold_seed = automl_core::Rng::derive_seed(seed, i as u64);
        let sub = subsample_rows(fold.y_train.len(), cand.fidelity, fold_seed);
        let (x_sub, y_sub, whole);
        let (x_view, y_fit, binned) = match &sub {
            Some(rows) => {
                x_sub = match data.train_rows(i, &prepared, rows) {
                    Ok(x) => x,
                    Err(e) => return preprocessing_failed(e, fit_time),
                };
                y_sub = rows.iter().map(|&r| fold.y_train[r]).collect::<Vec<f64>>();
                (x_sub.view(), y_sub.as_slice(), None)
            }
            None => {
                whole = match data.train_matrix(i, &prepared) {
                    Ok(t) => t,
                    Err(e) => return preprocessing_failed(e, fit_time),
                };
                (
                    whole.x.view(),
                    fold.y_train.as_slice(),
                    whole.binned.as_ref(),
                )
            }
        };
        if let Err(e) = crate::memory::check(
            family,
            &cand.params,
            x_view.nrows(),
            x_view.ncols(),
            data.n_classes,
            data.memory_limit,
        ) {
            return Evaluation::failed(TrialState::Failed, e, fit_time);
        }
        let (params, weights) =
            match crate::weights::split_class_weight(&params, y_fit, data.task, data.n_classes) {
                Ok(v) => v,
                Err(e) => return Evaluation::failed(TrialState::Failed, e, fit_time),
            };
        let input = FitInput {
            x: x_view,
            y: y_fit,
            task: data.task,
            n_classes: data.n_classes,
            categorical: &prepared.categorical,
            binned,
            sample_weight: weights.as_deref(),
            seed: fold_seed,
            deadline,
            purpose: purpose_of(cand),
        };
        let shrinkage = crate::pipeline::Shrinkage::for_training(y_fit, data.n_classes);
        let valid_x = prepared.x_valid.view();
        // Fitted, predicted and encoded in one go: a forest writes each tree into the bag as
        // soon as it has predicted, so a fold never holds all its trees live.
        let t0 = Instant::now();
        let fitted = catch_unwind(AssertUnwindSafe(|| {
            if keep_models {
                bag.push_streamed(&prepared.prep, &cand.family, &shrinkage, |sink| {
                    family.fit_predict(&params, &input, valid_x, Some(sink))
                })
            } else {
                Ok(family.fit_predict(&params, &input, valid_x, None))
            }
        }));
        fit_time += t0.elapsed().as_secs_f64();
        let fitted = match fitted {
            Ok(Ok(Ok(f))) => f,
            Ok(Ok(Err(automl_models::ModelError::Deadline { .. }))) => {
                return Evaluation::failed(
                    TrialState::TimedOut,
                    format!(
                        "deadline passed during fold {} of {}",
                        i + 1,
                        data.folds.len()
                    ),
                    fit_time,
                );
            }
            Ok(Ok(Err(e))) => {
                return Evaluation::failed(TrialState::Failed, e.to_string(), fit_time);
            }
            Ok(Err(e)) => return Evaluation::failed(TrialState::Failed, e.to_string(), fit_time),
            Err(p) => {
                return Evaluation::failed(
                    TrialState::Failed,
                    format!("the fit panicked: {}", panic_message(p)),
                    fit_time,
                );
            }
        };
        // The fit's time without its predictions.
        fit_time -= fitted.predict_s;
        predict_time += fitted.predict_s;
        let pred = match &shrinkage {
            Some(s) => s.apply(fitted.predictions),
            None => fitted.predictions,
        };
        if pred.values.iter().any(|v| !v.is_finite())
            || pred
                .proba
                .as_ref()
                .is_some_and(|p| p.iter().any(|v| !v.is_finite()))
        {
            return Evaluation::failed(
                TrialState::Failed,
                "the model produced non-finite predictions".to_string(),
                fit_time,
            );
        }
        predicted_rows += fold.y_valid.len();
        fold_scores.push(data.metric.compute(&fold.y_valid, &pred, data.n_classes));
        if i == first {
            facts = fitted.facts;
        }
        oof_rows.extend_from_slice(&fold.split.valid);
        oof_parts.push(pred);
    }
    // pooled out-of-fold predictions, in the order of oof_rows
    let pooled = concat_predictions(&oof_parts);
    let y_oof: Vec<f64> = oof_rows.iter().map(|&r| data.y[r]).collect();
    let mut metrics = BTreeMap::new();
    for m in Metric::for_task(data.task) {
        metrics.insert(
            m.name().to_string(),
            m.compute(&y_oof, &pooled, data.n_classes),
        );
    }
    let (mean, std) = summarize(&fold_scores, metrics.get(data.metric.name()).copied());
    // Under a repeated k-fold the metrics pool every fold set's predictions; the out-of-fold
    // predictions handed on are the first set's (one per row, as without repeats).
    let (oof_rows, pooled) = first_set(data, first, oof_rows, pooled, &oof_parts);
    drop(oof_parts);
    let n_models = bag.len().max(1) as u64;
    let artifact = if keep_models {
        bag.finish_blocks(info).map(|b| Some(Artifact::Blocks(b)))
    } else {
        Ok(None)
    };
    // Size of one fold pipeline: the bag's encoded size shared over its members (the bag is
    // encoded once; re-encoding a fold model just to measure it doubles the cost for big forests).
    let model_size_bytes = match &artifact {
        Ok(Some(a)) => a.len() as u64 / n_models,
        _ => 0,
    };
    let (artifact, state, error) = match artifact {
        Ok(a) => (a, TrialState::Complete, None),
        Err(e) => (None, TrialState::Failed, Some(e.to_string())),
    };
    Evaluation {
        state,
        fold_scores,
        mean: if state == TrialState::Complete {
            mean
        } else {
            f64::NAN
        },
        std,
        metrics,
        fit_time_s: fit_time,
        predict_time_per_row_s: predict_time / predicted_rows.max(1) as f64,
        error,
        oof: Some((oof_rows, pooled)),
        artifact,
        model_size_bytes,
        facts,
    }
}

/// Mean and standard deviation of the fold scores. When a fold's score is undefined (e.g. AUC
/// on a validation fold holding one class, possible on tiny data), the mean is the metric on
/// the pooled out-of-fold predictions instead, and the spread is taken over the defined folds.
pub fn summarize(fold_scores: &[f64], pooled: Option<f64>) -> (f64, f64) {
    let finite: Vec<f64> = fold_scores
        .iter()
        .copied()
        .filter(|s| s.is_finite())
        .collect();
    let n = finite.len() as f64;
    let fmean = if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / n
    };
    let std = if finite.len() > 1 {
        (finite.iter().map(|s| (s - fmean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    if finite.len() == fold_scores.len() {
        (fmean, std)
    } else {
        (pooled.unwrap_or(f64::NAN), std)
    }
}

/// The out-of-fold predictions of the folds of the first fold set
/// ([`TrainingData::oof_folds`]) among `rows` / `pooled` (every evaluated fold's, from fold
/// `first` on, `parts` per fold): all of them when the k-fold is not repeated, or when no fold
/// of the first set was evaluated (a fold subset).
fn first_set(
    data: &TrainingData,
    first: usize,
    rows: Vec<usize>,
    pooled: Predictions,
    parts: &[Predictions],
) -> (Vec<usize>, Predictions) {
    let k = data.oof_folds().len();
    if data.repeats <= 1 || first >= k {
        return (rows, pooled);
    }
    let n: usize = data.oof_folds()[first..]
        .iter()
        .map(|f| f.split.valid.len())
        .sum();
    let mut rows = rows;
    rows.truncate(n);
    (rows, concat_predictions(&parts[..k - first]))
}

fn concat_predictions(parts: &[Predictions]) -> Predictions {
    let values: Vec<f64> = parts
        .iter()
        .flat_map(|p| p.values.iter().copied())
        .collect();
    let proba = if parts.iter().all(|p| p.proba.is_some()) && !parts.is_empty() {
        let views: Vec<_> = parts
            .iter()
            .map(|p| p.proba.as_ref().unwrap().view())
            .collect();
        ndarray::concatenate(Axis(0), &views).ok()
    } else {
        None
    };
    Predictions { values, proba }
}

/// Fit `cand` on all rows of `features` (the final refit). Errors and panics are returned.
pub fn fit_full(
    features: &Frame,
    y: &[f64],
    task: Task,
    n_classes: usize,
    cand: &Candidate,
    seed: u64,
    deadline: Option<Instant>,
) -> Result<FittedPipeline, TrainError> {
    fit_full_with(
        features,
        y,
        task,
        n_classes,
        cand,
        seed,
        deadline,
        |family, params, input, prep, shrinkage| {
            let model = catch_unwind(AssertUnwindSafe(|| family.fit(params, input)))
                .map_err(|p| TrainError::Panic(panic_message(p)))??;
            Ok(FittedPipeline {
                prep,
                family: cand.family.clone(),
                model,
                shrinkage,
            })
        },
    )
}

/// [`fit_full`], the model written into its encoding as it is fitted
/// ([`automl_models::Family::fit_predict`]: a forest tree by tree, one tree live at a time).
/// Its bytes in a final model are those of the pipeline `fit_full` gives.
pub fn fit_full_packed(
    features: &Frame,
    y: &[f64],
    task: Task,
    n_classes: usize,
    cand: &Candidate,
    seed: u64,
    deadline: Option<Instant>,
) -> Result<PackedPipeline, TrainError> {
    fit_full_with(
        features,
        y,
        task,
        n_classes,
        cand,
        seed,
        deadline,
        |family, params, input, prep, shrinkage| {
            let no_rows = Array2::<f64>::zeros((0, input.x.ncols()));
            let (packed, fitted) =
                PackedPipeline::write(&prep, &cand.family, &shrinkage, |sink| {
                    catch_unwind(AssertUnwindSafe(|| {
                        family.fit_predict(params, input, no_rows.view(), Some(sink))
                    }))
                })?;
            fitted.map_err(|p| TrainError::Panic(panic_message(p)))??;
            Ok(packed)
        },
    )
}

/// The preprocessing of `cand` fitted on every row and the model's input, handed to `fit`.
#[allow(clippy::too_many_arguments)]
fn fit_full_with<R>(
    features: &Frame,
    y: &[f64],
    task: Task,
    n_classes: usize,
    cand: &Candidate,
    seed: u64,
    deadline: Option<Instant>,
    fit: impl FnOnce(
        &dyn automl_models::Family,
        &automl_core::Params,
        &FitInput<'_>,
        Preprocessor,
        Option<crate::pipeline::Shrinkage>,
    ) -> Result<R, TrainError>,
) -> Result<R, TrainError> {
    let family = registry()
        .get(&cand.family)
        .ok_or_else(|| automl_models::ModelError::UnknownFamily(cand.family.clone()))?;
    let rows: Vec<usize> = (0..y.len()).collect();
    let (params, kind) = crate::cat_encoding::split_cat_encoding(&cand.params, family.prep_kind())
        .map_err(TrainError::Param)?;
    let target = Target {
        y,
        n_classes,
        seed: target_seed(0),
    };
    let (prep, x) = Preprocessor::fit_target(features, &rows, kind, &target)?;
    let categorical = prep.categorical_mask();
    let (params, weights) = crate::weights::split_class_weight(&params, y, task, n_classes)
        .map_err(TrainError::Param)?;
    let input = FitInput {
        x: x.view(),
        y,
        task,
        n_classes,
        categorical: &categorical,
        binned: None,
        sample_weight: weights.as_deref(),
        seed,
        deadline,
        purpose: FitPurpose::Full,
    };
    let shrinkage = crate::pipeline::Shrinkage::for_training(y, n_classes);
    fit(family, &params, &input, prep, shrinkage)
}

#[cfg(test)]
mod fold_subset_tests {
    use super::*;
    use automl_core::Params;
    use automl_data::{Column, Frame};

    fn data() -> TrainingData {
        let n = 200;
        let x = Frame::new(vec![
            Column::numeric("a", (0..n).map(|i| f64::from(i % 17)).collect()),
            Column::numeric("b", (0..n).map(|i| f64::from((i * 7) % 13)).collect()),
        ]);
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(i % 17) * 0.5 + f64::from((i * 7) % 13))
            .collect();
        TrainingData::new(
            Arc::new(x),
            y,
            Task::Regression,
            0,
            Metric::Rmse,
            &CvConfig {
                repeats: 1,
                ..CvConfig::default()
            },
        )
    }

    #[test]
    fn only_a_full_fidelity_trial_fits_its_folds_as_full_fits() {
        let full = Candidate::new("gbdt", Params::new(), "test");
        assert_eq!(purpose_of(&full), FitPurpose::Full);
        let rows = Candidate {
            fidelity: 1.0 / 3.0,
            ..full.clone()
        };
        assert_eq!(purpose_of(&rows), FitPurpose::FirstLook);
        let one_fold = Candidate {
            folds: Some(1),
            ..full
        };
        assert_eq!(purpose_of(&one_fold), FitPurpose::FirstLook);
    }

    #[test]
    fn a_fold_subset_evaluates_the_last_folds_exactly_as_full_cv_does() {
        let data = data();
        // A family whose first looks fit as its full fits do (a `gbdt` first look keeps its
        // early-stopped model: `only_a_full_fidelity_trial_fits_its_folds_as_full_fits`).
        let mut cand = Candidate::new("random_forest", Params::new(), "test");
        let full = evaluate(&data, &cand, 11, None);
        assert_eq!(full.state, TrialState::Complete, "{:?}", full.error);
        assert_eq!(full.fold_scores.len(), 5);
        cand.folds = Some(1);
        let one = evaluate(&data, &cand, 11, None);
        assert_eq!(one.state, TrialState::Complete, "{:?}", one.error);
        assert_eq!(one.fold_scores.len(), 1);
        assert_eq!(one.fold_scores[0].to_bits(), full.fold_scores[4].to_bits());
        let (rows, _) = one.oof.as_ref().unwrap();
        assert_eq!(rows, &data.folds[4].split.valid);
        cand.folds = Some(2);
        let two = evaluate(&data, &cand, 11, None);
        assert_eq!(two.fold_scores, full.fold_scores[3..].to_vec());
        // More folds than the study has: all of them.
        cand.folds = Some(9);
        assert_eq!(
            evaluate(&data, &cand, 11, None).fold_scores,
            full.fold_scores
        );
    }

    #[test]
    fn a_holdout_takes_at_most_holdout_max_rows_validation_rows() {
        let cv = CvConfig::default();
        let split_sizes = |n: usize| {
            let y: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
            let s = splits(&y, Task::Regression, 0, &cv, &RowBlocks::Independent).unwrap();
            assert_eq!(s.len(), 1, "one holdout split");
            (s[0].train.len(), s[0].valid.len())
        };
        // Up to 250k rows: the configured 20 %.
        let (train, valid) = split_sizes(100_000);
        assert_eq!((train, valid), (80_000, 20_000));
        assert_eq!(cv.train_rows(100_000), 80_000);
        // Above: 50k validation rows, the rest train; the recorded fraction says so.
        let (train, valid) = split_sizes(400_000);
        assert_eq!(valid, HOLDOUT_MAX_ROWS);
        assert_eq!(train, 350_000);
        assert_eq!(cv.train_rows(400_000), 350_000);
        assert_eq!(
            cv.validation(400_000, Task::Regression),
            automl_core::Validation::Holdout { fraction: 0.125 }
        );
        // Without the cap (a study resumed from a fraction stored before it): the 20 %.
        let uncapped = CvConfig {
            holdout_max_rows: usize::MAX,
            ..cv
        };
        assert_eq!(uncapped.holdout_fraction_for(400_000), 0.2);
        assert_eq!(uncapped.train_rows(400_000), 320_000);
        // Time-ordered rows: the last 50k validate.
        let t: Vec<f64> = (0..400_000).map(|i| i as f64).collect();
        let y = vec![0.0; 400_000];
        let blocks = RowBlocks::Time {
            column: "t".into(),
            t,
            gap: 0,
        };
        let s = splits(&y, Task::Regression, 0, &cv, &blocks).unwrap();
        assert_eq!(s[0].valid.len(), HOLDOUT_MAX_ROWS);
        assert!(s[0].valid.iter().all(|&r| r >= 350_000));
        // Grouped rows (groups of 10): whole groups until 50k rows are reached.
        let blocks = RowBlocks::Groups {
            column: "g".into(),
            ids: (0..400_000u32).map(|i| i / 10).collect(),
        };
        let s = splits(&y, Task::Regression, 0, &cv, &blocks).unwrap();
        let valid = s[0].valid.len();
        assert!(
            (HOLDOUT_MAX_ROWS..HOLDOUT_MAX_ROWS + 10).contains(&valid),
            "{valid}"
        );
    }
}

#[cfg(test)]
mod repeat_tests {
    use super::*;
    use automl_core::Params;
    use automl_data::{Column, Frame};

    /// 300 rows: a class (3 classes) or a value from two noisy features.
    fn data(task: Task, cv: &CvConfig) -> TrainingData {
        let n = 300;
        let mut rng = automl_core::Rng::new(5);
        let a: Vec<f64> = (0..n).map(|_| rng.uniform(0.0, 1.0)).collect();
        let b: Vec<f64> = (0..n).map(|_| rng.uniform(0.0, 1.0)).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                let v = 2.0 * a[i] - b[i] + 0.3 * rng.uniform(0.0, 1.0);
                match task {
                    Task::Regression => v,
                    _ => ((v + 1.0) * 1.5).clamp(0.0, 2.0).floor(),
                }
            })
            .collect();
        let x = Frame::new(vec![Column::numeric("a", a), Column::numeric("b", b)]);
        let (n_classes, metric) = match task {
            Task::Regression => (0, Metric::Rmse),
            _ => (3, Metric::LogLoss),
        };
        TrainingData::new(Arc::new(x), y, task, n_classes, metric, cv)
    }

    fn valid_rows(folds: &[Fold]) -> Vec<usize> {
        folds
            .iter()
            .flat_map(|f| f.split.valid.iter().copied())
            .collect()
    }

    #[test]
    fn a_repeated_kfold_lists_every_fold_set_the_first_being_the_seeds_own_kfold() {
        assert_eq!(
            CvConfig::default().repeats_for(300),
            1,
            "not repeated by default"
        );
        let cv = CvConfig {
            repeats: 3,
            ..CvConfig::default()
        };
        assert_eq!(cv.repeats_for(300), 3);
        assert_eq!(cv.repeats_for(30_000), 1, "a holdout is never repeated");
        assert_eq!(
            cv.validation(5_000, Task::Binary).to_string(),
            "5-fold stratified CV repeated 3 times"
        );
        let d = data(Task::Regression, &cv);
        assert_eq!(
            (d.repeats(), d.folds.len(), d.oof_folds().len()),
            (3, 15, 5)
        );
        let y = &d.y;
        // Every set is a k-fold of all rows; the first is the k-fold of the seed alone; the
        // sets differ.
        let mut sets = Vec::new();
        for set in d.folds.chunks(5) {
            let mut rows = valid_rows(set);
            sets.push(rows.clone());
            rows.sort_unstable();
            assert_eq!(rows, (0..y.len()).collect::<Vec<_>>());
        }
        let first = kfold(y, Task::Regression, 5, cv.seed);
        let got: Vec<&Split> = d.folds[..5].iter().map(|f| &f.split).collect();
        assert_eq!(got, first.iter().collect::<Vec<_>>());
        assert_ne!(sets[0], sets[1]);
        assert_ne!(sets[1], sets[2]);
        // Groups and time order are not repeated.
        let ids: Vec<u32> = (0..y.len() as u32).map(|i| i / 3).collect();
        let groups = RowBlocks::Groups {
            column: "g".into(),
            ids,
        };
        let s = splits(y, Task::Regression, 0, &cv, &groups).unwrap();
        assert_eq!(s.len(), 5);
    }

    /// Under a repeated k-fold the fold scores are those of each set one after the other
    /// (the first set's exactly those of the k-fold of the seed alone), the metrics pool every
    /// set's predictions, and the out-of-fold predictions are the first set's, bit for bit
    /// those of one fold set.
    fn check_sets(task: Task, family: &str) {
        let cv = CvConfig {
            repeats: 3,
            ..CvConfig::default()
        };
        let cand = Candidate::new(family, Params::new(), "test");
        let d = data(task, &cv);
        let all = evaluate(&d, &cand, 7, None);
        assert_eq!(all.state, TrialState::Complete, "{:?}", all.error);
        assert_eq!(all.fold_scores.len(), 15);
        let mut pooled_y = Vec::new();
        let mut pooled: Vec<Predictions> = Vec::new();
        for r in 0..3 {
            let one = CvConfig {
                seed: repeat_seed(cv.seed, r),
                repeats: 1,
                ..cv
            };
            let d1 = data(task, &one);
            let e = evaluate(&d1, &cand, 7, None);
            for (a, b) in all.fold_scores[5 * r..5 * r + 5].iter().zip(&e.fold_scores) {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "set {r}: {a} vs {b}"
                );
            }
            let (rows1, p1) = e.oof.unwrap();
            if r == 0 {
                let (rows, pred) = all.oof.as_ref().unwrap();
                assert_eq!(rows, &rows1);
                assert_eq!(rows, &valid_rows(d.oof_folds()));
                assert_eq!(pred.values, p1.values);
                assert_eq!(pred.proba, p1.proba);
            }
            pooled_y.extend(rows1.iter().map(|&i| d.y[i]));
            pooled.push(p1);
        }
        let pooled = concat_predictions(&pooled);
        let want = d.metric.compute(&pooled_y, &pooled, d.n_classes);
        let got = all.metrics[d.metric.name()];
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }

    #[test]
    fn a_repeated_kfold_scores_every_fold_set_and_hands_on_the_first_sets_regression_predictions() {
        check_sets(Task::Regression, "linear");
    }

    #[test]
    fn a_repeated_kfold_scores_every_fold_set_and_hands_on_the_first_sets_class_probabilities() {
        check_sets(Task::Multiclass, "logistic");
    }
}
