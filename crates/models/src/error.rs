//! Errors of model fitting, prediction and decoding.

use thiserror::Error;

/// What went wrong while fitting, predicting or decoding a model.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A parameter value is outside the family's valid range.
    #[error("family `{family}`: parameter `{param}` = {value} is invalid: {reason}")]
    InvalidParam {
        /// Family name.
        family: &'static str,
        /// Parameter name.
        param: String,
        /// The offending value, rendered.
        value: String,
        /// Why, and the valid range.
        reason: String,
    },
    /// The family does not support the task.
    #[error("family `{family}` does not support the {task} task")]
    UnsupportedTask {
        /// Family name.
        family: &'static str,
        /// Task name.
        task: String,
    },
    /// The training data is unsuitable (too few rows, one class, too many rows for the family...).
    #[error("family `{family}`: {reason}")]
    Data {
        /// Family name.
        family: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The underlying library failed.
    #[error("family `{family}`: fit failed: {reason}")]
    Fit {
        /// Family name.
        family: &'static str,
        /// The library's message.
        reason: String,
    },
    /// The fit passed its deadline and gave up.
    #[error("family `{family}`: deadline passed during the fit")]
    Deadline {
        /// Family name.
        family: &'static str,
    },
    /// Prediction failed (e.g. wrong number of columns).
    #[error("family `{family}`: predict failed: {reason}")]
    Predict {
        /// Family name.
        family: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Stored bytes could not be decoded.
    #[error("cannot decode a stored `{family}` model: {reason}")]
    Decode {
        /// Family name (or `unknown`).
        family: String,
        /// The decoder's message.
        reason: String,
    },
    /// No family with that name is registered.
    #[error("unknown model family `{0}`")]
    UnknownFamily(String),
}
