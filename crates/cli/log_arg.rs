//! `--log-dir`: where the prediction log is (shared by `predict`, `serve`, `drift`,
//! `serve-report` and `ui`), and the one rule for its default.

use automl_store::StoreLocation;
use clap::Args;
use std::path::{Path, PathBuf};

/// `--log-dir DIR`, flattened into the commands that read or write the prediction log.
#[derive(Args, Debug, Clone, Default)]
pub struct LogDirArgs {
    /// The prediction log directory (append-only JSON-lines segments, one writer per process)
    /// [default: STORE/predictions for a store directory, ./automl-predictions for a
    /// PostgreSQL store or a model file].
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
}

impl LogDirArgs {
    /// The directory: `--log-dir` when given, otherwise [`default_log_dir`] of `store`.
    pub fn resolve(&self, store: Option<&StoreLocation>) -> PathBuf {
        match &self.log_dir {
            Some(d) => d.clone(),
            None => default_log_dir(store),
        }
    }
}

/// The default prediction log directory: `STORE/predictions` for a store directory, otherwise
/// (a PostgreSQL store, or `None`: a model file) `./automl-predictions`.
pub fn default_log_dir(store: Option<&StoreLocation>) -> PathBuf {
    let dir: Option<&Path> = match store {
        Some(StoreLocation::Dir(d)) => Some(d.as_path()),
        _ => None,
    };
    automl_monitor::predlog::default_log_dir(dir)
}
