//! `automl explain`: which input columns a trial's models rely on, and why one prediction came
//! out as it did.
//!
//! - **Permutation importance** (any model, the ensemble included): for every fold `k`, the
//!   fold-`k` model predicts its own held-out rows once as they are and `repeats` times with
//!   one input column shuffled (seeded); the importance is the increase of the study's metric
//!   as a loss (`Metric::as_loss`), mean and standard deviation over folds × repeats. Raw
//!   input columns are permuted, so the fitted preprocessing runs inside as at predict time.
//!   Correlated columns share importance (shuffling one leaves the other to carry the signal),
//!   so a low importance does not prove a column useless.
//! - **Gain importance** (gbdt, random forest, extra trees): the total split gain (impurity
//!   decrease) per encoded feature, summed back to its input column (one-hot levels and
//!   missing indicators to their source), normalised to 1 per fold and averaged over folds.
//!   It is measured on training rows and favours columns with many distinct values.
//! - **Contributions** (the tree families): per row, the Saabas attribution of the raw score
//!   (`automl_trees::explain`), `base + Σ contributions = raw score`, averaged over the folds.
//!
//! The folds are rebuilt exactly as the search built them: from the study's stored training
//! data blob (remote runs) or the training CSV (its fingerprint must match), the study seed
//! and its validation scheme.

use crate::error::EngineError;
use crate::wire::{TrainingDataSpec, training_data_key};
use automl_core::{Metric, Predictions, Rng, StudyRecord, Task, TrialRecord, meta::Validation};
use automl_data::{Frame, ReadOptions, load_for_prediction, load_training};
use automl_store::StoreRead;
use automl_trainer::{CvConfig, FittedPipeline, Predictor, PredictorInfo, TrainingData};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What can go wrong explaining a trial.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The study's training file is not there (and the store has no copy of the data).
    #[error("the training data of study {study} is not at {path}; pass the file")]
    DataMissing {
        /// The study.
        study: u64,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The training file's content differs from the study's.
    #[error(
        "{path} is not the data study {study} was trained on (its fingerprint differs); pass the original file"
    )]
    DataChanged {
        /// The study.
        study: u64,
        /// The file.
        path: PathBuf,
    },
    /// The trial's artifact cannot be explained this way.
    #[error("{0}")]
    Unsupported(String),
    /// The time limit ran out.
    #[error(
        "stopped after {0:.1} s, the time limit; run `automl explain` for the full measurement"
    )]
    TooSlow(f64),
    /// Anything from the engine (store, data, models).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<automl_trainer::TrainError> for ExplainError {
    fn from(e: automl_trainer::TrainError) -> Self {
        ExplainError::Engine(e.into())
    }
}
impl From<automl_store::StoreError> for ExplainError {
    fn from(e: automl_store::StoreError) -> Self {
        ExplainError::Engine(e.into())
    }
}
impl From<automl_data::DataError> for ExplainError {
    fn from(e: automl_data::DataError) -> Self {
        ExplainError::Engine(e.into())
    }
}

/// Settings of [`explain`].
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    /// Shuffles per column and fold.
    pub repeats: usize,
    /// Seed of the shuffles.
    pub seed: u64,
    /// At most this many held-out rows per fold (a seeded sample); None = all.
    pub max_rows_per_fold: Option<usize>,
    /// The training CSV instead of the study's `data_path`.
    pub data: Option<PathBuf>,
    /// Give up (an [`ExplainError::TooSlow`]) once the shuffled predictions have taken this
    /// long; None = no limit.
    pub time_limit: Option<std::time::Duration>,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            repeats: 5,
            seed: 0,
            max_rows_per_fold: None,
            data: None,
            time_limit: None,
        }
    }
}

/// The importance of one input column.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnImportance {
    /// Input column.
    pub column: String,
    /// Mean metric loss increase when the column is shuffled.
    pub importance: f64,
    /// Its standard deviation over folds × repeats.
    pub std: f64,
    /// Share of the split gain (tree families; None for the others).
    pub gain: Option<f64>,
}

/// Importances of a trial's models.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The study.
    pub study_id: u64,
    /// The trial explained.
    pub trial_id: u64,
    /// Its family.
    pub family: String,
    /// The study's metric.
    pub metric: String,
    /// The metric on the unshuffled held-out rows, mean over folds.
    pub baseline: f64,
    /// Folds used.
    pub folds: usize,
    /// Shuffles per column and fold.
    pub repeats: usize,
    /// Held-out rows predicted (all folds).
    pub rows: usize,
    /// Where the training data came from.
    pub data_source: String,
    /// Columns, most important first (ties by name).
    pub columns: Vec<ColumnImportance>,
}

/// The training data of a study and where it came from.
pub struct StudyData {
    /// The folds as the search built them.
    pub data: TrainingData,
    /// `store blob` or the file path.
    pub source: String,
}

/// Rebuild a study's [`TrainingData`]: from the store's data blob when present (and no file is
/// given), else from the training CSV (`data`, or the study's `data_path`), whose fingerprint
/// must match the study's.
pub fn study_data(
    store: &dyn StoreRead,
    study: &StudyRecord,
    data: Option<&Path>,
) -> Result<StudyData, ExplainError> {
    if data.is_none() {
        if let Some(bytes) = store.blob(study.study_id, &training_data_key(&study.fingerprint))? {
            return Ok(StudyData {
                data: TrainingDataSpec::decode(&bytes)?.build()?,
                source: "the store's copy of the training data".into(),
            });
        }
    }
    let path = data.map_or_else(|| PathBuf::from(&study.data_path), Path::to_path_buf);
    if !path.is_file() {
        return Err(ExplainError::DataMissing {
            study: study.study_id,
            path,
        });
    }
    // The group or time column the folds were built by (not a feature).
    let (group_col, time_col, gap) = match &study.validation {
        Some(Validation::Grouped { column, .. }) => (Some(column.clone()), None, 0),
        Some(Validation::ForwardChaining { column, gap, .. }) => (None, Some(column.clone()), *gap),
        _ => (None, None, 0),
    };
    let opts = ReadOptions {
        target: Some(study.target.clone()),
        task: Some(study.task),
        group_col,
        time_col,
        gap,
        // The study's features stay features (a `--keep-col` column, or one an older version
        // did not exclude), so the schema check below compares like with like.
        keep_cols: study.schema.iter().map(|c| c.name.clone()).collect(),
        ..ReadOptions::default()
    };
    let ds = match load_training(&path, &opts) {
        // A feature of the study is no longer in the file.
        Err(automl_data::DataError::KeepColumn { .. }) => {
            return Err(ExplainError::DataChanged {
                study: study.study_id,
                path,
            });
        }
        r => r?,
    };
    if ds.fingerprint != study.fingerprint {
        return Err(ExplainError::DataChanged {
            study: study.study_id,
            path,
        });
    }
    if ds.features.schema() != study.schema {
        return Err(ExplainError::DataChanged {
            study: study.study_id,
            path,
        });
    }
    let metric = Metric::from_name(&study.metric).ok_or_else(|| {
        EngineError::Config(format!(
            "study {} uses unknown metric `{}`",
            study.study_id, study.metric
        ))
    })?;
    // A study stored without its number of fold sets had one.
    let folds_or_holdout = |folds: usize, holdout: Option<f64>, repeats: usize| match holdout {
        // The stored share is the one the trials used (a study stored before the holdout
        // cap held out more than the cap): not capped again.
        Some(fraction) => CvConfig {
            holdout_above_rows: 0,
            holdout_fraction: fraction,
            holdout_max_rows: usize::MAX,
            seed: study.seed,
            ..CvConfig::default()
        },
        None => CvConfig {
            folds,
            holdout_above_rows: usize::MAX,
            seed: study.seed,
            repeats,
            ..CvConfig::default()
        },
    };
    let cv = match study.validation {
        Some(Validation::Grouped {
            folds,
            holdout_fraction,
            ..
        })
        | Some(Validation::ForwardChaining {
            folds,
            holdout_fraction,
            ..
        }) => folds_or_holdout(folds, holdout_fraction, 1),
        Some(Validation::Holdout { fraction }) => folds_or_holdout(0, Some(fraction), 1),
        Some(Validation::KFold { folds, repeats, .. }) => folds_or_holdout(folds, None, repeats),
        None => CvConfig {
            seed: study.seed,
            repeats: 1,
            ..CvConfig::default()
        },
    };
    let data = TrainingData::with_blocks(
        ds.features,
        ds.y,
        ds.task,
        ds.classes.len(),
        metric,
        &cv,
        &ds.blocks,
    )
    .map_err(|e| crate::wire::split_error(&ds.blocks, e))?;
    Ok(StudyData {
        data,
        source: path.display().to_string(),
    })
}

/// The study and trial to explain: `trial` None = the study's final trial.
fn pick(
    store: &dyn StoreRead,
    study_id: Option<u64>,
    trial: Option<u64>,
) -> Result<(StudyRecord, TrialRecord, Predictor, PredictorInfo), ExplainError> {
    let study = crate::predict::find_study(store, study_id)?;
    let t = trial.or(study.final_trial).ok_or_else(|| {
        EngineError::NotFound(format!(
            "study {} has no final trial yet; name one of its trials",
            study.study_id
        ))
    })?;
    let (rec, bytes) = crate::predict::trial_artifact(store, &study, t)?;
    let (p, info) = Predictor::from_bytes(&bytes)?;
    Ok((study, rec, p, info))
}

/// Predictions of the fold-`k` model of `p` (bags: their `k`-th pipeline; ensembles: the
/// weighted blend of their members' fold-`k` models); None when `p` has no per-fold model (a
/// pipeline refit on all rows, or a bag of another size).
fn predict_fold(
    p: &Predictor,
    k: usize,
    n_folds: usize,
    frame: &Frame,
    info: PredictorInfo,
) -> Result<Option<Predictions>, ExplainError> {
    Ok(match p {
        Predictor::Single(_) => None,
        Predictor::Bag(ps) if ps.len() == n_folds => Some(ps[k].predict(frame)?),
        // Post-processing is fitted on every out-of-fold row: no per-fold model.
        Predictor::Bag(_) | Predictor::PostProcessed(..) => None,
        // A stacking: its second layer over its members' fold-`k` models. The layer itself
        // was fitted on every out-of-fold row (fold `k`'s too), which a permutation's
        // difference in score hardly feels: the layer is a handful of weights.
        Predictor::Stacked(members, meta) => {
            let mut preds = Vec::with_capacity(members.len());
            for q in members {
                match predict_fold(q, k, n_folds, frame, info)? {
                    Some(pred) => preds.push(pred),
                    None => return Ok(None),
                }
            }
            Some(meta.predict(&preds, info.task, info.n_classes))
        }
        Predictor::Ensemble(m) => {
            let mut parts = Vec::with_capacity(m.len());
            for (w, q) in m {
                match predict_fold(q, k, n_folds, frame, info)? {
                    Some(pred) => parts.push((*w, pred)),
                    None => return Ok(None),
                }
            }
            Some(automl_trainer::pipeline::average(
                &parts,
                info,
                frame.n_rows,
            ))
        }
    })
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// For each output of a preprocessor, the index of its input column.
fn output_sources(prep: &automl_data::Preprocessor) -> Vec<usize> {
    let inputs = prep.input_names();
    prep.output_names()
        .iter()
        .map(|o| {
            // the longest input name that is the output or its prefix before `=` / `__`
            inputs
                .iter()
                .enumerate()
                .filter(|(_, i)| {
                    o == *i
                        || o.strip_prefix(i.as_str())
                            .is_some_and(|r| r.starts_with('=') || r.starts_with("__"))
                })
                .max_by_key(|(_, i)| i.len())
                .map_or(0, |(j, _)| j)
        })
        .collect()
}

/// Sum encoded-feature values back to the input columns of `frame` (by name).
fn to_inputs(prep: &automl_data::Preprocessor, frame: &Frame, encoded: &[f64]) -> Vec<f64> {
    let names = prep.input_names();
    let pos: Vec<Option<usize>> = names
        .iter()
        .map(|n| frame.columns.iter().position(|c| &c.name == n))
        .collect();
    let mut out = vec![0.0; frame.columns.len()];
    for (o, src) in output_sources(prep).into_iter().enumerate() {
        if let (Some(Some(j)), Some(v)) = (pos.get(src), encoded.get(o)) {
            out[*j] += v;
        }
    }
    out
}

/// Gain importance per input column: per fold normalised to 1, averaged over the folds
/// (None unless every fold model is a tree ensemble).
fn gain_importance(p: &Predictor, frame: &Frame) -> Option<Vec<f64>> {
    let Predictor::Bag(ps) = p else {
        return None;
    };
    let mut acc = vec![0.0; frame.columns.len()];
    for fp in ps {
        let g = fp.model.tree_ensemble()?.gain();
        let v = to_inputs(&fp.prep, frame, &g);
        let total: f64 = v.iter().sum();
        if total > 0.0 {
            acc.iter_mut().zip(&v).for_each(|(a, x)| *a += x / total);
        }
    }
    let n = ps.len().max(1) as f64;
    Some(acc.into_iter().map(|a| a / n).collect())
}

/// A trial's models and its study's training data, read from the store (so the store can be
/// released before the measurement).
pub struct Loaded {
    /// The study.
    pub study: StudyRecord,
    /// The trial.
    pub trial: TrialRecord,
    /// Its stored fold models.
    pub predictor: Predictor,
    /// Task and classes.
    pub info: PredictorInfo,
    /// The study's folds.
    pub data: StudyData,
}

/// Read what [`measure`] needs: `trial` None = the study's final trial, `data` = the training
/// CSV instead of the study's `data_path`.
pub fn load(
    store: &dyn StoreRead,
    study_id: Option<u64>,
    trial: Option<u64>,
    data: Option<&Path>,
) -> Result<Loaded, ExplainError> {
    let (study, trial, predictor, info) = pick(store, study_id, trial)?;
    let data = study_data(store, &study, data)?;
    Ok(Loaded {
        study,
        trial,
        predictor,
        info,
        data,
    })
}

/// Permutation importance (and gain importance for the tree families) of a trial's fold
/// models on their held-out rows. `trial` None = the study's final trial.
pub fn explain(
    store: &dyn StoreRead,
    study_id: Option<u64>,
    trial: Option<u64>,
    opts: &ExplainOptions,
) -> Result<Explanation, ExplainError> {
    measure(&load(store, study_id, trial, opts.data.as_deref())?, opts)
}

/// [`explain`] on loaded models and data (`opts.data` is not read here).
pub fn measure(loaded: &Loaded, opts: &ExplainOptions) -> Result<Explanation, ExplainError> {
    let Loaded {
        study,
        trial: rec,
        predictor,
        info,
        data: sd,
    } = loaded;
    let (predictor, info) = (predictor, *info);
    let data = &sd.data;
    let n_folds = data.folds.len();
    let metric = data.metric;
    let n_classes = data.n_classes;
    let n_cols = data.features.columns.len();
    let repeats = opts.repeats.max(1);
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n_cols];
    let mut baselines = Vec::with_capacity(n_folds);
    let mut rows = 0;
    let started = std::time::Instant::now();
    for (k, fold) in data.folds.iter().enumerate() {
        let mut valid: Vec<usize> = (0..fold.split.valid.len()).collect();
        if let Some(cap) = opts.max_rows_per_fold {
            if valid.len() > cap {
                let mut rng = Rng::derive(opts.seed, 1_000_000 + k as u64);
                valid = rng.sample_indices(valid.len(), cap);
                valid.sort_unstable();
            }
        }
        let rows_k: Vec<usize> = valid.iter().map(|&i| fold.split.valid[i]).collect();
        let y: Vec<f64> = valid.iter().map(|&i| fold.y_valid[i]).collect();
        let frame = data.features.select_rows(&rows_k);
        let Some(base_pred) = predict_fold(predictor, k, n_folds, &frame, info)? else {
            return Err(ExplainError::Unsupported(format!(
                "trial {} of study {} has no model per fold (its models were refit on all rows), so it has no held-out rows to measure on",
                rec.trial_id, study.study_id
            )));
        };
        let base = metric.as_loss(metric.compute(&y, &base_pred, n_classes));
        baselines.push(metric.compute(&y, &base_pred, n_classes));
        rows += y.len();
        for (j, samples_j) in samples.iter_mut().enumerate() {
            if opts.time_limit.is_some_and(|t| started.elapsed() > t) {
                return Err(ExplainError::TooSlow(started.elapsed().as_secs_f64()));
            }
            for r in 0..repeats {
                let stream = ((k * n_cols + j) * repeats + r) as u64;
                let mut rng = Rng::derive(opts.seed, stream);
                let mut perm: Vec<usize> = (0..frame.n_rows).collect();
                rng.shuffle(&mut perm);
                let mut shuffled = frame.clone();
                shuffled.columns[j] = frame.columns[j].select_rows(&perm);
                let pred = predict_fold(predictor, k, n_folds, &shuffled, info)?
                    .expect("the unshuffled fold predicted");
                let loss = metric.as_loss(metric.compute(&y, &pred, n_classes));
                samples_j.push(loss - base);
            }
        }
    }
    let gain = gain_importance(predictor, &data.features);
    let mut columns: Vec<ColumnImportance> = data
        .features
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let (importance, std) = mean_std(&samples[j]);
            ColumnImportance {
                column: c.name.clone(),
                importance,
                std,
                gain: gain.as_ref().map(|g| g[j]),
            }
        })
        .collect();
    columns.sort_by(|a, b| {
        b.importance
            .total_cmp(&a.importance)
            .then_with(|| a.column.cmp(&b.column))
    });
    Ok(Explanation {
        study_id: study.study_id,
        trial_id: rec.trial_id,
        family: rec.candidate.family.clone(),
        metric: metric.name().to_string(),
        baseline: mean_std(&baselines).0,
        folds: n_folds,
        repeats,
        rows,
        data_source: sd.source.clone(),
        columns,
    })
}

/// One row's contributions.
#[derive(Debug, Clone, Serialize)]
pub struct RowContributions {
    /// Row number in the file (0-based, data rows).
    pub row: usize,
    /// The raw score explained.
    pub raw: f64,
    /// The expected raw score (the same for every row).
    pub base: f64,
    /// Contribution per input column, in the columns' order.
    pub contributions: Vec<f64>,
}

/// Per-row contributions of a tree trial's fold models.
#[derive(Debug, Clone, Serialize)]
pub struct ContributionReport {
    /// The study.
    pub study_id: u64,
    /// The trial.
    pub trial_id: u64,
    /// Its family.
    pub family: String,
    /// What the raw score is (e.g. `value`, `log-odds of class yes`).
    pub output: String,
    /// Input columns.
    pub columns: Vec<String>,
    /// One entry per row of the file.
    pub rows: Vec<RowContributions>,
}

/// Background rows per fold for the node expectations (evenly spaced training rows).
const BACKGROUND_ROWS: usize = 5000;

/// Saabas contributions of a tree trial (gbdt, random forest, extra trees) for the rows of
/// `rows_csv`: per fold model, with node expectations over (up to 5000 of) the fold's training
/// rows, averaged over the folds, so `base + Σ contributions = raw` where raw is the mean of
/// the fold models' raw scores (the prediction itself for regression). `class`: which class
/// to explain (classification; default the last, the positive class of a binary task).
pub fn contributions(
    store: &dyn StoreRead,
    study_id: Option<u64>,
    trial: Option<u64>,
    data: Option<&Path>,
    rows_csv: &Path,
    class: Option<&str>,
) -> Result<ContributionReport, ExplainError> {
    let (study, rec, predictor, _info) = pick(store, study_id, trial)?;
    let unsupported = || {
        ExplainError::Unsupported(format!(
            "per-row contributions are for the tree families (gbdt, random_forest, extra_trees); trial {} is {}",
            rec.trial_id, rec.candidate.family
        ))
    };
    let Predictor::Bag(ps) = &predictor else {
        return Err(unsupported());
    };
    if ps.iter().any(|p| p.model.tree_ensemble().is_none()) {
        return Err(unsupported());
    }
    let sd = study_data(store, &study, data)?;
    let td = &sd.data;
    if td.folds.len() != ps.len() {
        return Err(ExplainError::Unsupported(format!(
            "trial {} has {} fold models but the study's data has {} folds",
            rec.trial_id,
            ps.len(),
            td.folds.len()
        )));
    }
    let tokens = ReadOptions::default().missing_tokens;
    let frame = load_for_prediction(rows_csv, &study.schema, &tokens)?;
    let frame = order_like(&frame, &td.features);
    let (class_idx, output) = match study.task {
        Task::Regression => (0, "value".to_string()),
        _ => {
            let idx = match class {
                Some(c) => study.classes.iter().position(|x| x == c).ok_or_else(|| {
                    EngineError::Config(format!(
                        "no class `{c}`; the classes are {}",
                        study.classes.join(", ")
                    ))
                })?,
                None => study.classes.len().saturating_sub(1),
            };
            (idx, study.classes[idx].clone())
        }
    };
    let n = frame.n_rows;
    let n_cols = frame.columns.len();
    let w = 1.0 / ps.len() as f64;
    let mut rows: Vec<RowContributions> = (0..n)
        .map(|row| RowContributions {
            row,
            raw: 0.0,
            base: 0.0,
            contributions: vec![0.0; n_cols],
        })
        .collect();
    let mut label = String::new();
    for (fp, fold) in ps.iter().zip(&td.folds) {
        let ens = fp.model.tree_ensemble().ok_or_else(unsupported)?;
        let (out, what, cls) =
            raw_output(fp, ens.n_outputs(), ens.log_link(), study.task, class_idx);
        label = match study.classes.get(cls) {
            Some(c) => format!("{what} of class {c}"),
            None => what,
        };
        let train = &fold.split.train;
        let step = train.len().div_ceil(BACKGROUND_ROWS).max(1);
        let bg_rows: Vec<usize> = train.iter().step_by(step).copied().collect();
        let xb = fp.prep.transform_rows(&td.features, &bg_rows)?;
        let x = fp.prep.transform(&frame)?;
        let c = ens
            .contributions(xb.view(), x.view(), out)
            .map_err(|e| ExplainError::Unsupported(e.to_string()))?;
        for (i, r) in rows.iter_mut().enumerate() {
            r.raw += w * c.raw[i];
            r.base += w * c.base;
            let v = to_inputs(&fp.prep, &frame, &c.values.row(i).to_vec());
            r.contributions
                .iter_mut()
                .zip(v)
                .for_each(|(a, b)| *a += w * b);
        }
    }
    Ok(ContributionReport {
        study_id: study.study_id,
        trial_id: rec.trial_id,
        family: rec.candidate.family.clone(),
        output: if label.is_empty() { output } else { label },
        columns: frame.columns.iter().map(|c| c.name.clone()).collect(),
        rows,
    })
}

/// Which raw output of a fold model explains `class`, what it is, and the class it is of
/// (binary boosting has one output: the log-odds of the second class; tweedie boosting's
/// output is the log of the value).
fn raw_output(
    fp: &FittedPipeline,
    n_outputs: usize,
    log_link: bool,
    task: Task,
    class: usize,
) -> (usize, String, usize) {
    let boosted = fp.family == "gbdt";
    let c = class.min(n_outputs.saturating_sub(1));
    match task {
        Task::Regression if log_link => (0, "log of the value".into(), usize::MAX),
        Task::Regression => (0, "value".into(), usize::MAX),
        _ if boosted && n_outputs == 1 => (0, "log-odds".into(), 1),
        _ if boosted => (c, "softmax margin".into(), c),
        _ => (c, "probability".into(), c),
    }
}

/// The columns of `frame` in the order of `like` (the training features).
fn order_like(frame: &Frame, like: &Frame) -> Frame {
    let cols = like
        .columns
        .iter()
        .filter_map(|c| frame.column(&c.name).cloned())
        .collect();
    Frame {
        columns: cols,
        n_rows: frame.n_rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StudyBuilder;
    use automl_store::MemoryStore;

    /// A remote run stores its training data: explain reads it when the CSV is gone, and the
    /// folds (hence every number) are those the CSV gives.
    #[test]
    fn the_stored_training_data_gives_the_csv_folds() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("churn.csv");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/churn.csv"),
            &csv,
        )
        .unwrap();
        let store = MemoryStore::new();
        let study = StudyBuilder::from_csv(&csv)
            .space_named("fast")
            .unwrap()
            .max_trials(3)
            .jobs(1)
            .seed(4)
            .remote_workers(true)
            .create(&store)
            .unwrap();
        let id = study.run(&mut |_| {}).unwrap().study.study_id;
        let opts = ExplainOptions {
            repeats: 2,
            ..ExplainOptions::default()
        };
        let from_csv = explain(
            &store,
            Some(id),
            None,
            &ExplainOptions {
                data: Some(csv.clone()),
                ..opts.clone()
            },
        )
        .unwrap();
        std::fs::remove_file(&csv).unwrap();
        let from_blob = explain(&store, Some(id), None, &opts).unwrap();
        assert!(from_blob.data_source.contains("store"), "{from_blob:?}");
        assert_eq!(from_blob.columns, from_csv.columns);
        assert_eq!(from_blob.baseline, from_csv.baseline);
        // a study without the blob and without the file: the typed error
        let mut rec = store.study(id).unwrap().unwrap();
        rec.fingerprint = "0000".into();
        assert!(matches!(
            study_data(&store, &rec, None),
            Err(ExplainError::DataMissing { .. })
        ));
    }
}
