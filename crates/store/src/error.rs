//! `StoreError`: every way reading or writing a store can fail, with messages that say what to do.

use std::path::PathBuf;

/// An error of the store. Messages name the store path or record and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error(
        "store I/O error at {path}: {source}; check that the path is writable and the disk is not full"
    )]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the database (sled allows one process per database).
    #[error(
        "the store {path} is in use by another automl process (a store can be opened by one process at a time); wait for it to finish, or pass a different store directory"
    )]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The path exists but is not an automl store.
    #[error(
        "{path} is not an automl store: {reason}; pass a directory that automl created, or a new (empty or missing) directory"
    )]
    NotAStore {
        /// The path given.
        path: PathBuf,
        /// Why it is not a store.
        reason: String,
    },
    /// The store (or a record in it) was written by a newer automl.
    #[error(
        "the store {path} was written by a newer automl (schema version {found}; this build reads up to version {supported}); upgrade automl to open it"
    )]
    NewerSchema {
        /// The store directory (`<memory>` for the in-memory store).
        path: PathBuf,
        /// Schema version found.
        found: u32,
        /// Highest schema version this build understands.
        supported: u32,
    },
    /// A record was written in a binary format newer than this build reads.
    #[error(
        "{what} in the store {path} was written by a newer automl (record format {found}; this build reads up to format {supported}); upgrade automl to open it"
    )]
    NewerFormat {
        /// The store directory.
        path: PathBuf,
        /// The record.
        what: String,
        /// Format found.
        found: u8,
        /// Highest format this build reads.
        supported: u8,
    },
    /// A record or blob could not be decoded.
    #[error(
        "{what} is corrupted: {reason}; it cannot be read (delete the study or restore the store from a backup)"
    )]
    Corrupt {
        /// Which record / blob (study, trial, key).
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// A study or trial that an operation needs does not exist.
    #[error("{what} was not found; check the id (`automl studies` lists the studies of a store)")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// An argument was invalid (e.g. finishing a trial with state `running`).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid.
        what: String,
        /// Why.
        reason: String,
    },
    /// The read-only snapshot of a store in use could not be read.
    #[error("cannot read the snapshot of the store {path}: {reason}")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// Artifacts and blobs are not in the snapshot of a store that a running fit holds.
    #[error(
        "{what} is not available: the store {path} is in use by a running fit, so only its snapshot of records can be read; retry when the fit finishes"
    )]
    InUse {
        /// The store directory.
        path: PathBuf,
        /// What was asked for (artifact or blob).
        what: String,
    },
    /// A shared database (PostgreSQL) cannot be reached, refuses the connection (wrong
    /// password, no such database, TLS required but not offered), or stayed unreachable for
    /// the whole reconnection window. `store` is the URL with its password masked; `reason`
    /// is one line and says what to check.
    #[error("cannot use the store {store}: {reason}")]
    Unavailable {
        /// The store (a PostgreSQL URL, password masked).
        store: String,
        /// What failed and what to check.
        reason: String,
    },
    /// Any other error reported by the database engine.
    #[error("database error in store {path}: {message}")]
    Database {
        /// The store directory (a PostgreSQL URL, password masked).
        path: PathBuf,
        /// The engine's message.
        message: String,
    },
}
