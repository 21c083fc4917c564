//! Watching a model in production.
//!
//! - [`profile`]: the reference profile a final model keeps of its training data (per-column
//!   quantiles, category frequencies, missing rates, the out-of-fold prediction distribution
//!   and a seeded sample of training rows).
//! - [`drift`]: new data checked against a profile, per column (a test and an effect size,
//!   corrected for testing many columns), for the predictions, and with a domain classifier.
//! - [`predlog`]: the prediction log, size-rotated append-only segment files, one writer per
//!   process, merged on read, and the serving report made from it.

pub mod drift;
pub mod predlog;
pub mod profile;

use std::path::PathBuf;

/// Everything that can go wrong in automl-monitor; each message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Stored bytes (a profile, a log segment) that do not decode.
    #[error("{0}")]
    Corrupt(String),
    /// Data that cannot be checked (no rows, columns that do not match the profile, ...).
    #[error("{0}")]
    Input(String),
    /// An error of the data layer.
    #[error(transparent)]
    Data(#[from] automl_data::DataError),
}
