//! The error type of the tree engine.

use thiserror::Error;

/// What went wrong while binning, fitting or predicting with a tree model.
#[derive(Debug, Error)]
pub enum TreeError {
    /// A hyperparameter is out of range.
    #[error("parameter `{param}` = {value} is invalid: {reason}")]
    InvalidParam {
        /// Parameter name.
        param: &'static str,
        /// The offending value, rendered.
        value: String,
        /// Why, and the valid range.
        reason: String,
    },
    /// Input arrays do not fit together (rows, columns, classes).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The training data cannot be used (no rows, a bad label...).
    #[error("bad training data: {0}")]
    Data(String),
    /// The fit passed its deadline; it stopped after `rounds` rounds (boosting) or trees (forests).
    #[error("deadline passed after {rounds} rounds/trees; give the fit more time or fewer rounds")]
    Deadline {
        /// Rounds or trees completed before stopping.
        rounds: usize,
    },
}
