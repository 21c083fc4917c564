//! Shared types of the automl workspace: tasks, parameter values, trial and study records,
//! predictions, metrics and a small seeded RNG. No IO, no threads, no database.

pub mod artifact;
pub mod hash;
pub mod meta;
pub mod metrics;
pub mod params;
pub mod predictions;
pub mod rng;
pub mod task;
pub mod trial;

pub use artifact::{Artifact, Blocks};
pub use hash::{FxHasher, FxMap};
pub use meta::{
    ENSEMBLE_FAMILY, EnsembleDecision, FinalModel, FinalModelKind, META_FAMILIES, STACKING_FAMILY,
    STACKING_KEY, StackingDecision, Validation, is_meta_family,
};
pub use metrics::Metric;
pub use params::{ParamValue, Params};
pub use predictions::{Predictions, PrepKind};
pub use rng::Rng;
pub use task::Task;
pub use trial::{
    Budget, Candidate, SCHEMA_VERSION, SEED_VARIANCE_KEY, SeedVariance, StudyRecord, TrialRecord,
    TrialState,
};
