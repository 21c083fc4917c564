//! Errors of training, prediction and artifact decoding.

use thiserror::Error;

/// What went wrong in the trainer.
#[derive(Debug, Error)]
pub enum TrainError {
    /// Preprocessing failed (e.g. a column missing at predict time).
    #[error(transparent)]
    Data(#[from] automl_data::DataError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] automl_models::ModelError),
    /// The fit panicked (the panic message is kept).
    #[error("the fit panicked: {0}")]
    Panic(String),
    /// A stored predictor could not be decoded.
    #[error(
        "cannot decode the stored model: {0}; the store may be damaged or written by another version — refit with `automl fit`"
    )]
    Decode(String),
    /// Encoding failed.
    #[error("cannot encode the model: {0}")]
    Encode(String),
    /// A parameter the trainer applies (e.g. `class_weight`) has a bad value.
    #[error("invalid parameter: {0}")]
    Param(String),
    /// The deadline passed.
    #[error("deadline passed")]
    Deadline,
}
