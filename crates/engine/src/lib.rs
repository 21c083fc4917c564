//! The embeddable automl API: everything a program needs to search, inspect and predict, from
//! this one crate.
//!
//! A [`StudyBuilder`] applies the search policy of `automl fit` (validated settings, the default
//! budget, the shipped portfolio for `auto`, multi-fidelity on larger data, warm start,
//! retention) and creates a [`Study`]; the study runs ask -> train -> tell (candidates are
//! cross-validated in parallel), writes every trial to the store the moment it starts and again
//! when it ends, refits the winner on all training rows and stores it as the study's final
//! model. [`predict_csv`] loads a stored model and predicts a CSV. The engine is the store's
//! only writer of trial records. On a shared store (one with a trial queue), trials can be
//! evaluated by workers in other processes ([`StudyBuilder::remote_workers`], [`run_worker`]).
//!
//! ```no_run
//! use automl_engine::{MemoryStore, StoreRead, StudyBuilder, leaderboard};
//!
//! let store = MemoryStore::new();
//! let study = StudyBuilder::from_csv("examples/data/flowers.csv")
//!     .max_trials(8)
//!     .jobs(2)
//!     .create(&store)?;
//! let metric = study.metric();
//! let summary = study.run(&mut |_progress| {})?;
//! for row in leaderboard(&store.trials(summary.study.study_id)?, metric) {
//!     println!("{:?} {} {:.4}", row.rank, row.trial.candidate.family, row.trial.mean);
//! }
//! # Ok::<(), automl_engine::EngineError>(())
//! ```

pub mod builder;
pub mod ensemble;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod leaderboard;
mod policy;
pub mod predict;
pub mod stacking;
pub mod study;
pub mod wire;
pub mod worker;

pub use automl_trainer::calibrate::{CalibrationMethod, PostConfig, PostDecision, ThresholdChoice};
pub use builder::{
    DEFAULT_KEEP_MODELS, DEFAULT_TIME_BUDGET_S, KeepModels, MultiFidelity, StudyBuilder,
    default_study_name, load_space, open_store, parse_memory_limit, resolve_metric,
    shipped_portfolio, validate_budget, warm_start_candidates, warm_start_from,
};
pub use error::{EngineError, Setting};
pub use evaluate::{LiveEvaluation, Verdict, evaluate_labeled};
pub use leaderboard::{LeaderboardRow, leaderboard, leaderboard_owned};
pub use predict::{LoadedModel, ModelChoice, load_model, predict_csv};
pub use study::postprocess::{POST_PROCESSING_KEY, post_decision};
pub use study::{
    ASK_WINDOW, DEFAULT_MAX_ATTEMPTS, DEFAULT_PARALLELISM, Executor, FINAL_MODEL_BLOB, Job,
    MakeExecutor, Phase, Progress, REFERENCE_PROFILE_BLOB, RemoteConfig, RemoteExecutor,
    SeedVarianceConfig, Select, Study, StudyConfig, StudySummary, ThreadExecutor, seed_variance_of,
};
pub use worker::{WorkerConfig, WorkerEvent, WorkerSummary, default_worker_name, run_worker};

pub use automl_core::params::ParamsExt;
pub use automl_core::{
    Budget, Candidate, Metric, ParamValue, Params, SeedVariance, StudyRecord, Task, TrialRecord,
    TrialState,
};
pub use automl_data::{
    DataError, Dataset, ReadOptions, RowBlocks, SplitError, load_training, load_training_bytes,
};
pub use automl_search::{AskContext, FamilyInfo, PortfolioConfig, Strategy, load_portfolio};
pub use automl_space::SearchSpace;
pub use automl_store::{MemoryStore, SledStore, Store, StoreRead, TrialQueue};
