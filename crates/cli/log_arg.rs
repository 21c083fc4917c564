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

/// The name a model has in the prediction log: the model file's name, `trial-<id>` for a
/// trial's fold models, or `study-<id>` for a study's final model.
pub fn model_log_name(model_file: Option<&Path>, trial: Option<u64>, study_id: u64) -> String {
    match (model_file, trial) {
        (Some(file), _) => file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.display().to_string()),
        (None, Some(t)) => format!("trial-{t}"),
        (None, None) => format!("study-{study_id}"),
    }
}

/// Append one record to the log in `dir` with a writer of its own (a one-shot command), or
/// warn on stderr when it cannot be written: the command's work is done either way. Returns
/// whether the record was written.
pub fn append_or_warn(dir: &Path, rec: &automl_monitor::predlog::LogRecord, what: &str) -> bool {
    use automl_monitor::predlog::{LogOptions, LogWriter};
    let logged = LogWriter::open(dir, LogOptions::default()).and_then(|mut w| {
        w.append(rec)?;
        w.flush()
    });
    if let Err(e) = &logged {
        eprintln!(
            "warning: {what} was not logged in `{}`: {e} (--log-dir DIR to log elsewhere, --no-log to skip)",
            dir.display()
        );
    }
    logged.is_ok()
}
