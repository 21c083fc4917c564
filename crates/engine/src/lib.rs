//! The embeddable automl API.
//!
//! A [`Study`] is built from a dataset, a search space, a strategy, a store and a budget; it
//! runs ask -> train -> tell (candidates are cross-validated in parallel by the trainer pool),
//! writes every trial to the store the moment it starts and again when it ends, keeps the
//! leaderboard, refits the winner on all training rows and stores it as the study's final
//! model. [`predict`] loads a stored model and predicts a CSV. The engine is the store's only
//! writer.

pub mod ensemble;
pub mod error;
pub mod export;
pub mod leaderboard;
pub mod predict;
pub mod study;

pub use error::EngineError;
pub use leaderboard::{LeaderboardRow, leaderboard};
pub use predict::{LoadedModel, ModelChoice, load_model, predict_csv};
pub use study::{FINAL_MODEL_BLOB, Progress, Study, StudyConfig, StudySummary};
