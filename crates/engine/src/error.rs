//! Errors of the engine API.

use thiserror::Error;

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
    /// A configuration value is invalid (flag, metric, budget...).
    #[error("{0}")]
    Config(String),
    /// Something requested does not exist (study, trial, model).
    #[error("{0}")]
    NotFound(String),
    /// Writing output failed.
    #[error("cannot write `{path}`: {message}")]
    Output {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}
