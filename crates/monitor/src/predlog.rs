//! The prediction log: every served or `automl predict`ed batch, as size-rotated,
//! append-only segment files of JSON lines. Each process writes its own segments (the file
//! name carries the start time, the process id and a sequence number), so serving,
//! predicting and the dashboard never contend for a lock; readers merge all segments by time
//! and ignore a torn last line (a writer killed mid-write).
//!
//! CONTRACT (the serve and CLI code is written against these types and signatures; the
//! implementation lives in this file).

use crate::MonitorError;
use automl_data::Frame;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The role a model played for one logged batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The served model answered.
    Primary,
    /// The canary answered (its share of the traffic).
    Canary,
    /// The shadow scored a copy of the request off the request path (its answer was not sent).
    Shadow,
    /// `automl predict` on a file.
    Batch,
}

/// One predicted batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionEntry {
    /// When the batch was answered, Unix milliseconds.
    pub ts_ms: u64,
    /// `serve` or `predict`.
    pub source: String,
    /// The model's name (`study-1`, `trial-7`, a file name, ...).
    pub model: String,
    /// What the model did with the batch.
    pub role: Role,
    /// The request: the primary (or canary) and the shadow entries of one request share it.
    pub request_id: String,
    /// Rows in the batch.
    pub rows: usize,
    /// [`row_hashes`] of the input rows.
    pub row_hashes: Vec<u64>,
    /// The input rows as JSON records, only when the user opted in (`--log-inputs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    /// One output per row: the predicted class label (a string) or value (a number).
    pub outputs: Vec<serde_json::Value>,
    /// Time spent predicting the batch (parsing included), microseconds.
    pub latency_us: u64,
    /// The error, when the model failed on the batch (outputs are then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A drift check's result, logged by `automl drift` and by the server's window check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEntry {
    /// When the check ran, Unix milliseconds.
    pub ts_ms: u64,
    /// `drift` (the command) or `serve` (the server's window).
    pub source: String,
    /// The model whose reference profile was used.
    pub model: String,
    /// The [`crate::drift::DriftReport`] as JSON.
    pub report: serde_json::Value,
}

/// Something that happened to the served models (a canary promoted or rolled back, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEntry {
    /// When, Unix milliseconds.
    pub ts_ms: u64,
    /// What: `canary_promoted`, `canary_rolled_back`, `canary_auto_rolled_back`, `started`,
    /// `stopped`.
    pub event: String,
    /// The model concerned.
    pub model: String,
    /// Why, in words (e.g. `error rate 12.0 % over 50 requests > limit 5.0 %`).
    pub detail: String,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogRecord {
    /// A predicted batch.
    Prediction(PredictionEntry),
    /// A drift check.
    Drift(DriftEntry),
    /// An event of the served models.
    Event(EventEntry),
}

impl LogRecord {
    /// The record's time, Unix milliseconds.
    pub fn ts_ms(&self) -> u64 {
        match self {
            LogRecord::Prediction(e) => e.ts_ms,
            LogRecord::Drift(e) => e.ts_ms,
            LogRecord::Event(e) => e.ts_ms,
        }
    }
}

/// How a [`LogWriter`] rotates its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// A segment is closed and a new one started once it holds this many bytes.
    pub segment_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 << 20,
        }
    }
}

/// Which records [`read_log`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only records at or after this time (Unix ms).
    pub since_ms: Option<u64>,
    /// Only records of this model.
    pub model: Option<String>,
}

/// The one writer of this process's segments in a log directory.
pub struct LogWriter {
    _private: (),
}

impl LogWriter {
    /// Open a writer on `dir` (created when missing). It never appends to another process's
    /// segments.
    pub fn open(_dir: &Path, _opts: LogOptions) -> Result<LogWriter, MonitorError> {
        todo!("predlog: being written")
    }

    /// Append one record as one line (rotating first when the segment is full). The line is
    /// written with one `write` call, so a reader sees it whole or not at all.
    pub fn append(&mut self, _rec: &LogRecord) -> Result<(), MonitorError> {
        todo!("predlog: being written")
    }

    /// Flush buffered lines to the file.
    pub fn flush(&mut self) -> Result<(), MonitorError> {
        todo!("predlog: being written")
    }
}

/// Every record in `dir` that passes `filter`, from all segments, ordered by time (ties in
/// segment then line order). A missing directory is an empty log; a torn last line of a
/// segment is skipped; any other undecodable line is a [`MonitorError::Corrupt`] naming the
/// file and line.
pub fn read_log(_dir: &Path, _filter: &LogFilter) -> Result<Vec<LogRecord>, MonitorError> {
    todo!("predlog: being written")
}

/// A stable 64-bit hash of each row of `frame` (column names and values, independent of the
/// category codes' numbering), so the same input row has the same hash in `serve` and in
/// `predict`.
pub fn row_hashes(_frame: &Frame) -> Vec<u64> {
    todo!("predlog: being written")
}
