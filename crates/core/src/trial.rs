//! Study and trial records: what the store keeps about every run and every evaluated candidate.
//!
//! These are plain data. Every record carries `schema_version`; fields are only ever added
//! (with serde defaults), never renamed, so old stores stay readable.

use crate::params::Params;
use crate::task::Task;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the record layout written by this build. 1: JSON trial records; 2: trial
/// records in the store's binary format (`automl-store`'s `binrec`), which an automl of
/// version 1 cannot read: a store is raised to 2 when a trial record is first written in it,
/// so such an automl refuses it as written by a newer automl instead of calling it damaged.
pub const SCHEMA_VERSION: u32 = 2;

/// A configuration proposed by a search strategy, before it is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Model family name (stable id, e.g. `gbdt`, `logistic`).
    pub family: String,
    /// Hyperparameters for that family.
    pub params: Params,
    /// Trial ids this candidate was derived from (lineage; empty for fresh samples).
    #[serde(default)]
    pub parents: Vec<u64>,
    /// How it was made: `default`, `random`, `mutate`, `crossover`, `portfolio`, `warm_start`, ...
    #[serde(default)]
    pub operator: String,
    /// Fraction of the training rows used (multi-fidelity); 1.0 = full data.
    #[serde(default = "one")]
    pub fidelity: f64,
    /// How many of the study's folds are evaluated (the last ones, so a forward-chaining time
    /// split keeps its latest fold); `None` (the default, and every record written before this
    /// field existed) = all folds. A candidate on fewer folds is a cheap first look (fold
    /// fidelity): its score is noisier and its out-of-fold predictions cover only those folds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folds: Option<u32>,
}

fn one() -> f64 {
    1.0
}

impl Candidate {
    /// A fresh candidate with no lineage at full fidelity.
    pub fn new(family: impl Into<String>, params: Params, operator: impl Into<String>) -> Self {
        Candidate {
            family: family.into(),
            params,
            parents: Vec::new(),
            operator: operator.into(),
            fidelity: 1.0,
            folds: None,
        }
    }

    /// Whether the candidate is evaluated on every row of every fold (its score ranks with the
    /// others and its out-of-fold predictions cover the data).
    pub fn is_full_cv(&self) -> bool {
        self.fidelity >= 0.999 && self.folds.is_none()
    }

    /// How many of a study's `n_folds` folds the candidate is evaluated on (all when `folds`
    /// is unset; at least 1).
    pub fn evaluated_folds(&self, n_folds: usize) -> usize {
        self.folds
            .map_or(n_folds, |k| (k as usize).clamp(1, n_folds.max(1)))
    }

    /// The share of a full cross-validation's work the candidate does on `n_folds` folds: its
    /// row fidelity times the share of the folds it evaluates.
    pub fn cost_share(&self, n_folds: usize) -> f64 {
        self.fidelity.clamp(0.0, 1.0) * self.evaluated_folds(n_folds) as f64 / n_folds.max(1) as f64
    }
}

/// Lifecycle of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialState {
    /// Written when the trial starts.
    Running,
    /// Finished with scores.
    Complete,
    /// The fit or predict returned an error or panicked.
    Failed,
    /// Ran past its deadline.
    TimedOut,
    /// Left `running` by a process that died or was stopped; found and marked on reopen.
    Interrupted,
}

impl TrialState {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Failed => "failed",
            TrialState::TimedOut => "timed_out",
            TrialState::Interrupted => "interrupted",
        }
    }

    /// The state's code in binary records and wire messages (frozen: codes are never reused).
    pub fn code(self) -> u8 {
        match self {
            TrialState::Running => 0,
            TrialState::Complete => 1,
            TrialState::Failed => 2,
            TrialState::TimedOut => 3,
            TrialState::Interrupted => 4,
        }
    }

    /// The state of a [`TrialState::code`] (None for an unknown code).
    pub fn from_code(code: u8) -> Option<TrialState> {
        Some(match code {
            0 => TrialState::Running,
            1 => TrialState::Complete,
            2 => TrialState::Failed,
            3 => TrialState::TimedOut,
            4 => TrialState::Interrupted,
            _ => return None,
        })
    }
}

/// Everything known about one evaluated (or evaluating) candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Record layout version.
    pub schema_version: u32,
    /// Study this trial belongs to.
    pub study_id: u64,
    /// Trial id, allocated by the store, dense from 0 within a study.
    pub trial_id: u64,
    /// What was trained.
    pub candidate: Candidate,
    /// Name of the strategy that proposed it.
    #[serde(default)]
    pub strategy: String,
    /// Current state.
    pub state: TrialState,
    /// Primary-metric score of each CV fold (in the metric's own units).
    #[serde(default)]
    pub fold_scores: Vec<f64>,
    /// Mean of `fold_scores` (NaN until complete).
    #[serde(default)]
    pub mean: f64,
    /// Standard deviation of `fold_scores`.
    #[serde(default)]
    pub std: f64,
    /// All metrics for the task computed on the pooled out-of-fold predictions.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Total fit wall time over folds, seconds.
    #[serde(default)]
    pub fit_time_s: f64,
    /// Predict time per row, seconds.
    #[serde(default)]
    pub predict_time_per_row_s: f64,
    /// Size of the serialized fitted pipeline, bytes (0 when not kept).
    #[serde(default)]
    pub model_size_bytes: u64,
    /// Whether a fitted artifact is stored for this trial.
    #[serde(default)]
    pub has_artifact: bool,
    /// Error message for failed / timed-out trials.
    #[serde(default)]
    pub error: Option<String>,
    /// Seed used for this trial's fits.
    pub seed: u64,
    /// Unix milliseconds when the trial started.
    pub started_at_ms: u64,
    /// Unix milliseconds when it ended (0 while running).
    #[serde(default)]
    pub ended_at_ms: u64,
    /// Free-form extra facts reported by the models (e.g. `n_rounds` chosen by early stopping).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// On an ensemble trial ([`crate::ENSEMBLE_FAMILY`]): what selection decided, used or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::meta::EnsembleDecision>,
}

impl TrialRecord {
    /// True when complete with a finite score.
    pub fn is_scored(&self) -> bool {
        self.state == TrialState::Complete && self.mean.is_finite()
    }

    /// True when scored on every fold of the study, so its score ranks on the leaderboard and
    /// it can be the best trial. A trial on fewer folds ([`Candidate::folds`], a first look of
    /// fold fidelity) is scored but not ranked: one fold's score is noisier than the mean of all
    /// of them and would win the leaderboard by luck. Row fidelity below 1 still ranks (its
    /// score is pessimistic, not noisier).
    pub fn is_ranked(&self) -> bool {
        self.is_scored() && self.candidate.folds.is_none()
    }
}

/// Key of [`TrialRecord::extra`] holding the trial's [`SeedVariance`] as JSON (kept there so
/// the binary record format is unchanged; the engine's `seed_variance_of` reads it).
pub const SEED_VARIANCE_KEY: &str = "seed_variance";

/// How much a trial's score and predictions move with the model's seed and with the folds
/// (underspecification), measured after the search for the best few trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SeedVariance {
    /// Model seeds evaluated on the study's folds, the trial's own seed first.
    pub seeds: Vec<u64>,
    /// Mean CV score per seed (same order as `seeds`; the first is the trial's own mean).
    pub seed_scores: Vec<f64>,
    /// Fold scores per seed (same order as `seeds`).
    #[serde(default)]
    pub seed_fold_scores: Vec<Vec<f64>>,
    /// Sample standard deviation of `seed_scores` (0 when every seed scores the same).
    pub seed_std: f64,
    /// Mean share of out-of-fold predictions (class, or a regression value moving by more
    /// than 1 % of the target's standard deviation) that differ from the trial's own seed.
    pub churn: f64,
    /// Mean CV score on reshuffled folds with the trial's own seed (the study's folds first);
    /// empty when the folds cannot be reshuffled (time order) or were not measured.
    #[serde(default)]
    pub split_scores: Vec<f64>,
    /// Sample standard deviation of `split_scores` (None when not measured).
    #[serde(default)]
    pub split_std: Option<f64>,
    /// Within the noise of the leader of the measured trials (see the engine's `seeds`).
    #[serde(default)]
    pub tied: bool,
    /// The noise the tie was judged with (score units).
    #[serde(default)]
    pub noise: f64,
    /// What was not done, if anything (e.g. `2 of 3 seeds: no time left`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Time and trial limits of a study.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Budget {
    /// Wall-clock seconds for the whole `fit`, final refit included.
    pub time_s: Option<f64>,
    /// Maximum number of trials.
    pub max_trials: Option<u64>,
}

/// A column of the training schema as stored with a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaColumn {
    /// Column name as in the CSV header.
    pub name: String,
    /// `numeric`, `categorical` or `boolean`.
    pub kind: String,
}

/// One search run over one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRecord {
    /// Record layout version.
    pub schema_version: u32,
    /// Study id, allocated by the store.
    pub study_id: u64,
    /// Human-readable name (defaults to the data file stem).
    pub name: String,
    /// Path of the training data as given.
    pub data_path: String,
    /// Content fingerprint of the training data (hex).
    pub fingerprint: String,
    /// Feature columns (name, kind) used for modelling.
    pub schema: Vec<SchemaColumn>,
    /// Target column name.
    pub target: String,
    /// Class labels in index order (classification), empty for regression.
    #[serde(default)]
    pub classes: Vec<String>,
    /// The task.
    pub task: Task,
    /// Primary metric name.
    pub metric: String,
    /// The search space, as the TOML text it was loaded from.
    pub space: String,
    /// Strategy name.
    pub strategy: String,
    /// Study seed.
    pub seed: u64,
    /// Limits.
    pub budget: Budget,
    /// Unix milliseconds.
    pub started_at_ms: u64,
    /// Unix milliseconds (0 while running).
    #[serde(default)]
    pub ended_at_ms: u64,
    /// Trial id of the final (refit) model, when the study finished.
    #[serde(default)]
    pub final_trial: Option<u64>,
    /// Keep fitted artifacts only for the best N trials (None = all).
    #[serde(default)]
    pub keep_models: Option<u64>,
    /// Free-form extra facts. Older stores kept the validation scheme, rows, report, final model
    /// and ensemble decision here as text; read them with the `*_text` accessors
    /// ([`StudyRecord::validation_text`] ...), which understand both forms.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// How candidates are validated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::meta::Validation>,
    /// Training rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_rows: Option<u64>,
    /// The data report shown before the search (warnings about the data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_report: Option<String>,
    /// Per-trial memory limit in bytes, fixed when the study is created (independent of the
    /// number of jobs, so a candidate fails or fits the same way with any `jobs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    /// What ensemble selection decided in the last session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::meta::EnsembleDecision>,
    /// What stacking decided in the last session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacking: Option<crate::meta::StackingDecision>,
    /// How the final model was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_model: Option<crate::meta::FinalModel>,
    /// The asking window W: the `k`-th trial is asked once trials `0..k-W` are told, so at
    /// most W trials are in flight. Fixed when the study is created (None in stores written
    /// before it was a setting: the engine's default, 6). The same W gives the same
    /// leaderboard with any number of jobs or workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
}
