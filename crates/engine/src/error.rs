//! Errors of the engine API. Messages speak to a library user (no command-line flag names);
//! the CLI matches on the variants and adds the flag it came from.

use automl_core::{Metric, Task};
use std::fmt;
use thiserror::Error;

/// A numeric setting of a study, named in [`EngineError::InvalidSetting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The time budget in seconds.
    TimeBudget,
    /// The largest number of trials.
    MaxTrials,
    /// The number of trials fitted in parallel.
    Jobs,
    /// The number of cross-validation folds.
    Folds,
    /// The number of fold sets of a repeated k-fold.
    CvRepeats,
    /// The per-trial time limit in seconds.
    TrialTimeLimit,
    /// The per-trial memory limit.
    MemoryLimit,
    /// Which trials keep their fold models.
    KeepModels,
    /// The study's parallelism: trials in flight at once (the asking window).
    Parallelism,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setting::TimeBudget => "time budget",
            Setting::MaxTrials => "trial budget (max trials)",
            Setting::Jobs => "jobs",
            Setting::Folds => "folds",
            Setting::CvRepeats => "cv repeats (fold sets)",
            Setting::TrialTimeLimit => "trial time limit",
            Setting::MemoryLimit => "memory limit",
            Setting::KeepModels => "number of trials that keep their models",
            Setting::Parallelism => "parallelism (trials in flight at once)",
        })
    }
}

/// Names joined by `, ` for messages.
fn list(names: impl IntoIterator<Item = impl fmt::Display>) -> String {
    names
        .into_iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What went wrong in a study or a prediction.
#[derive(Debug, Error)]
pub enum EngineError {
    /// Reading or understanding the data failed.
    #[error(transparent)]
    Data(#[from] automl_data::DataError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] automl_store::StoreError),
    /// The search space is unusable.
    #[error(transparent)]
    Space(#[from] automl_space::SpaceError),
    /// Training or decoding a model failed.
    #[error(transparent)]
    Train(#[from] automl_trainer::TrainError),
    /// A portfolio file is invalid.
    #[error(transparent)]
    Portfolio(#[from] automl_search::PortfolioError),
    /// A numeric setting is out of range.
    #[error("invalid {setting}: {value}; it must be {expected}")]
    InvalidSetting {
        /// Which setting.
        setting: Setting,
        /// The value given, as text.
        value: String,
        /// What a valid value looks like.
        expected: String,
    },
    /// No metric has this name.
    #[error("unknown metric `{name}`; known metrics: {}", list(Metric::ALL.iter().map(|m| m.name())))]
    UnknownMetric {
        /// The name given.
        name: String,
    },
    /// The metric exists but does not apply to the data's task.
    #[error("metric {metric} does not apply to a {task} task; use one of: {}", list(allowed.iter().map(|m| m.name())))]
    MetricNotForTask {
        /// The metric given.
        metric: Metric,
        /// The data's task.
        task: Task,
        /// The metrics of that task.
        allowed: Vec<Metric>,
    },
    /// No strategy has this name.
    #[error(
        "unknown strategy `{name}`; use one of {}",
        list(automl_search::STRATEGY_NAMES)
    )]
    UnknownStrategy {
        /// The name given.
        name: String,
    },
    /// A search space given by name or path is neither a file nor a shipped space.
    #[error(
        "no search space file `{spec}`, and no shipped space of that name (shipped: {})",
        list(automl_space::BUILTIN_NAMES)
    )]
    UnknownSpace {
        /// The name or path given.
        spec: String,
    },
    /// A study id that the store does not hold.
    #[error("no study {study_id} in the store")]
    StudyNotFound {
        /// The study id.
        study_id: u64,
    },
    /// The store holds no study at all (resuming or warm-starting from its latest one).
    #[error("the store holds no study")]
    NoStudy,
    /// A warm-start source is neither a study id nor an existing store directory.
    #[error("`{spec}` is neither a study id nor an existing store directory")]
    WarmStartSource {
        /// The source given.
        spec: String,
    },
    /// Warm-starting from a study of another task.
    #[error(
        "study {study_id} is a {study_task} task but this data is {task}; warm-start from a study of the same task"
    )]
    WarmStartTask {
        /// The earlier study.
        study_id: u64,
        /// Its task.
        study_task: Task,
        /// The task of this data.
        task: Task,
    },
    /// A configuration value is invalid.
    #[error("{0}")]
    Config(String),
    /// Something requested does not exist (study, trial, model).
    #[error("{0}")]
    NotFound(String),
    /// Remote workers need a store that several processes share (one with a trial queue).
    #[error(
        "remote workers need a shared store with a trial queue (a PostgreSQL store, \
         postgres://...); this store has a single writer process"
    )]
    NoQueue,
    /// Bytes from the shared store (a queued trial, a worker's result, the training data) are
    /// damaged or of an unknown format.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being decoded.
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// The rows cannot be split into grouped or forward-chaining folds (too few groups or
    /// distinct times for the folds, or a gap that leaves a fold no training rows).
    #[error("cannot validate by the {role} column '{column}': {source}")]
    Split {
        /// `group` or `time`.
        role: &'static str,
        /// The column.
        column: String,
        /// Why.
        source: automl_data::SplitError,
    },
    /// Writing output failed.
    #[error("cannot write `{path}`: {message}")]
    Output {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}
