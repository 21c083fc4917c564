//! The trainer pool: cross-validates candidates on shared per-fold data (preprocessing and tree
//! bins are built once per fold and reused by every candidate), turns errors, panics and
//! deadlines into failed / timed-out evaluations, fits final pipelines, and runs evaluations on
//! their own threads ([`Pool`]). This is the only crate that starts threads for trials.

pub mod calibrate;
pub mod cat_encoding;
pub mod cv;
pub mod error;
pub mod memory;
pub mod pipeline;
pub mod pool;
pub mod stack;
pub mod weights;

pub use cv::{
    CvConfig, Evaluation, TrainingData, evaluate, evaluate_scores, fit_full, fit_full_packed,
    splits,
};
pub use error::TrainError;
pub use memory::{
    default_memory_limit, estimate_bytes, parse_bytes, process_peak_rss, process_rss,
    study_floor_bytes,
};
pub use pipeline::{
    BagWriter, CompositeWriter, FittedPipeline, PackedPipeline, Predictor, PredictorInfo,
    Shrinkage, ToWrite,
};
pub use pool::Pool;
