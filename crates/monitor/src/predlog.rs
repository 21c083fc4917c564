//! The prediction log: every served or `automl predict`ed batch, as size-rotated,
//! append-only segment files of JSON lines. Each process writes its own segments (the file
//! name carries the start time, the process id and a sequence number), so serving,
//! predicting and the dashboard never contend for a lock; readers merge all segments by time
//! and ignore a torn last line (a writer killed mid-write).
//!
//! CONTRACT (the serve and CLI code is written against these types and signatures; the
//! implementation lives in this file).

use crate::MonitorError;
use automl_data::{ColumnData, Frame, MISSING_CODE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// The directory name of the prediction log inside a store directory.
pub const STORE_LOG_SUBDIR: &str = "predictions";

/// The prediction log used when there is no store directory (a PostgreSQL store, or a model
/// file): this directory, relative to the working directory.
pub const FALLBACK_LOG_DIR: &str = "automl-predictions";

/// The default log directory: `STORE/predictions` for a store directory, otherwise
/// (`None`: a PostgreSQL store or a model file) `./automl-predictions`.
pub fn default_log_dir(store_dir: Option<&Path>) -> PathBuf {
    match store_dir {
        Some(dir) => dir.join(STORE_LOG_SUBDIR),
        None => PathBuf::from(FALLBACK_LOG_DIR),
    }
}

/// The current time, Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Segment files end with this.
const SEGMENT_EXT: &str = "jsonl";

/// Numbers the writers of this process, so two writers in one process (on one directory)
/// never share a segment either.
static WRITERS: AtomicU64 = AtomicU64::new(0);

/// The one writer of this process's segments in a log directory.
///
/// Segments are named `<start unix ms>-<pid>-<writer>-<seq>.jsonl` (the start time
/// zero-padded, so names sort by time) and created with `create_new`, so no two writers ever
/// append to one file. The first segment is created by the first [`LogWriter::append`].
pub struct LogWriter {
    dir: PathBuf,
    opts: LogOptions,
    writer_no: u64,
    seq: u64,
    file: Option<(File, PathBuf)>,
    bytes: u64,
}

impl LogWriter {
    /// Open a writer on `dir` (created when missing). It never appends to another process's
    /// segments.
    pub fn open(dir: &Path, opts: LogOptions) -> Result<LogWriter, MonitorError> {
        std::fs::create_dir_all(dir).map_err(|source| MonitorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(LogWriter {
            dir: dir.to_path_buf(),
            opts,
            writer_no: WRITERS.fetch_add(1, Ordering::Relaxed),
            seq: 0,
            file: None,
            bytes: 0,
        })
    }

    /// Append one record as one line (rotating first when the segment is full). The line is
    /// written with one `write` call, so a reader sees it whole or not at all.
    pub fn append(&mut self, rec: &LogRecord) -> Result<(), MonitorError> {
        let mut line = serde_json::to_vec(rec)
            .map_err(|e| MonitorError::Corrupt(format!("cannot encode a log record: {e}")))?;
        line.push(b'\n');
        if self.file.is_none() || self.bytes >= self.opts.segment_bytes {
            self.rotate()?;
        }
        let (file, path) = self.file.as_mut().expect("a segment is open after rotate");
        file.write_all(&line).map_err(|source| MonitorError::Io {
            path: path.clone(),
            source,
        })?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Flush buffered lines to the file.
    pub fn flush(&mut self) -> Result<(), MonitorError> {
        if let Some((file, path)) = self.file.as_mut() {
            file.flush().map_err(|source| MonitorError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The segment being written, if one was started.
    pub fn segment(&self) -> Option<&Path> {
        self.file.as_ref().map(|(_, p)| p.as_path())
    }

    /// Close the current segment (if any) and start a new one.
    fn rotate(&mut self) -> Result<(), MonitorError> {
        self.flush()?;
        self.file = None;
        loop {
            let name = format!(
                "{:013}-{}-{}-{:06}.{SEGMENT_EXT}",
                now_ms(),
                std::process::id(),
                self.writer_no,
                self.seq
            );
            self.seq += 1;
            let path = self.dir.join(name);
            match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(f) => {
                    self.file = Some((f, path));
                    self.bytes = 0;
                    return Ok(());
                }
                // A process with our pid (pids are reused) left a segment of that name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(MonitorError::Io { path, source }),
            }
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Every record in `dir` that passes `filter`, from all segments, ordered by time (ties in
/// segment then line order). A missing directory is an empty log; a torn last line of a
/// segment is skipped; any other undecodable line is a [`MonitorError::Corrupt`] naming the
/// file and line.
pub fn read_log(dir: &Path, filter: &LogFilter) -> Result<Vec<LogRecord>, MonitorError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MonitorError::Io { path, source }
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut segments: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == SEGMENT_EXT) && path.is_file() {
            segments.push(path);
        }
    }
    segments.sort();
    let mut out = Vec::new();
    for path in &segments {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            // Removed between listing and reading (a user cleaning up): nothing to read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(path)(e)),
        };
        let complete = bytes.ends_with(b"\n");
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let n = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let last = i + 1 == n;
            let rec: LogRecord = match serde_json::from_slice(line) {
                Ok(r) => r,
                // The last line, without its newline: a writer stopped mid-line (or is
                // writing it right now).
                Err(_) if last && !complete => continue,
                Err(e) => {
                    return Err(MonitorError::Corrupt(format!(
                        "{}:{}: not a prediction log record: {e}",
                        path.display(),
                        i + 1
                    )));
                }
            };
            if filter.since_ms.is_some_and(|t| rec.ts_ms() < t) {
                continue;
            }
            if let Some(m) = &filter.model {
                let model = match &rec {
                    LogRecord::Prediction(e) => &e.model,
                    LogRecord::Drift(e) => &e.model,
                    LogRecord::Event(e) => &e.model,
                };
                if model != m {
                    continue;
                }
            }
            out.push(rec);
        }
    }
    // Stable: ties keep segment then line order.
    out.sort_by_key(LogRecord::ts_ms);
    Ok(out)
}

/// FNV-1a 64, byte by byte: a fixed function, the same on every platform and in every version.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A stable 64-bit hash of each row of `frame` (column names and values, independent of the
/// category codes' numbering), so the same input row has the same hash in `serve` and in
/// `predict`.
///
/// The hash is FNV-1a 64 over the columns in name order (so also independent of the column
/// order): per column its name, then a tag and the value: a number's IEEE bits (`-0` as `0`),
/// a category's text, or a missing marker.
pub fn row_hashes(frame: &Frame) -> Vec<u64> {
    let mut cols: Vec<&automl_data::Column> = frame.columns.iter().collect();
    cols.sort_by(|a, b| a.name.cmp(&b.name));
    (0..frame.n_rows)
        .map(|i| {
            let mut h = Fnv::new();
            for c in &cols {
                h.bytes(c.name.as_bytes());
                h.bytes(&[0]);
                match &c.data {
                    ColumnData::Numeric(v) if v[i].is_finite() => {
                        let x = if v[i] == 0.0 { 0.0f64 } else { v[i] };
                        h.bytes(&[1]);
                        h.bytes(&x.to_bits().to_le_bytes());
                    }
                    ColumnData::Categorical { codes, levels } if codes[i] != MISSING_CODE => {
                        let text = levels.get(codes[i] as usize).map_or("", String::as_str);
                        h.bytes(&[2]);
                        h.bytes(text.as_bytes());
                        h.bytes(&[0xff]);
                    }
                    _ => h.bytes(&[3]),
                }
            }
            h.0
        })
        .collect()
}

/// The input rows of `frame` as JSON records (for `--log-inputs`): numbers as numbers,
/// booleans as `true`/`false`, categories as text, missing as `null`.
pub fn frame_records(frame: &Frame) -> Vec<serde_json::Map<String, serde_json::Value>> {
    use serde_json::Value;
    (0..frame.n_rows)
        .map(|i| {
            frame
                .columns
                .iter()
                .map(|c| {
                    let v = match &c.data {
                        ColumnData::Numeric(v) if !v[i].is_finite() => Value::Null,
                        ColumnData::Numeric(v) if c.kind == automl_data::ColumnKind::Boolean => {
                            Value::Bool(v[i] != 0.0)
                        }
                        ColumnData::Numeric(v) => serde_json::Number::from_f64(v[i])
                            .map(Value::Number)
                            .unwrap_or(Value::Null),
                        ColumnData::Categorical { .. } => {
                            c.cell_string(i).map(Value::String).unwrap_or(Value::Null)
                        }
                    };
                    (c.name.clone(), v)
                })
                .collect()
        })
        .collect()
}

/// What the log says about the served models: [`serve_report`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeReport {
    /// The first record's time (Unix ms), if any.
    pub from_ms: Option<u64>,
    /// The last record's time (Unix ms), if any.
    pub to_ms: Option<u64>,
    /// One entry per model, by name.
    pub models: Vec<ModelStats>,
    /// Per shadow model: how often it agreed with the answer sent.
    pub shadows: Vec<ShadowAgreement>,
    /// Per canary model: its share of the answered requests.
    pub canaries: Vec<CanaryShare>,
    /// Every event, oldest first.
    pub events: Vec<EventEntry>,
    /// The latest drift check per model.
    pub drift: Vec<DriftSummary>,
}

/// The prediction figures of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    /// The model's name.
    pub model: String,
    /// Logged batches (requests).
    pub requests: usize,
    /// Rows in them.
    pub rows: usize,
    /// Batches that failed.
    pub errors: usize,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Latency percentiles over the batches, milliseconds (nearest rank).
    pub latency_ms_p50: f64,
    /// 90th percentile.
    pub latency_ms_p90: f64,
    /// 99th percentile.
    pub latency_ms_p99: f64,
    /// Batches per role (`primary`, `canary`, `shadow`, `batch`).
    pub roles: BTreeMap<String, usize>,
}

/// How a shadow model's outputs compare with the answers of the same requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowAgreement {
    /// The shadow model.
    pub model: String,
    /// The model(s) whose answers it was compared with.
    pub against: Vec<String>,
    /// Requests compared (both sides answered with as many outputs as rows).
    pub requests: usize,
    /// Rows compared.
    pub rows: usize,
    /// Rows whose outputs are equal (numbers within 1e-9 relative).
    pub agreeing_rows: usize,
    /// `agreeing_rows / rows` (None without compared rows).
    pub agreement: Option<f64>,
    /// Shadow batches not compared: no answer of the same request in the log, or either side
    /// failed.
    pub unmatched: usize,
}

/// The share of the answered requests a canary took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CanaryShare {
    /// The canary model.
    pub model: String,
    /// Requests it answered.
    pub requests: usize,
    /// `requests /` all primary and canary requests.
    pub share: f64,
}

/// The latest drift check of one model, read defensively from its JSON report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftSummary {
    /// The model.
    pub model: String,
    /// When the check ran, Unix ms.
    pub ts_ms: u64,
    /// `drift` or `serve`.
    pub source: String,
    /// The report's `drift` flag, when it has one.
    pub drift: Option<bool>,
    /// Names of the columns whose `flagged` is true (`columns[]`).
    pub flagged: Vec<String>,
    /// The whole report.
    pub report: serde_json::Value,
}

impl DriftSummary {
    /// The summary of one drift entry.
    pub fn of(e: &DriftEntry) -> DriftSummary {
        let flagged = e
            .report
            .get("columns")
            .and_then(|c| c.as_array())
            .map(|cols| {
                cols.iter()
                    .filter(|c| c.get("flagged").and_then(|f| f.as_bool()) == Some(true))
                    .map(|c| match c.get("name") {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(v) => v.to_string(),
                        None => "?".to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        DriftSummary {
            model: e.model.clone(),
            ts_ms: e.ts_ms,
            source: e.source.clone(),
            drift: e.report.get("drift").and_then(|d| d.as_bool()),
            flagged,
            report: e.report.clone(),
        }
    }
}

/// The nearest-rank percentile `p` (0..=100) of sorted `xs` (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Whether two logged outputs are the same answer: equal text, or numbers equal within 1e-9
/// relative.
pub fn outputs_agree(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Primary => "primary",
        Role::Canary => "canary",
        Role::Shadow => "shadow",
        Role::Batch => "batch",
    }
}

/// Summarise `records` (as [`read_log`] returns them): per model requests, rows, errors and
/// latency; each shadow's agreement with the answer of the same `request_id` (the primary's,
/// or the canary's when the canary answered); each canary's share of the answered requests;
/// the events; the latest drift check per model.
pub fn serve_report(records: &[LogRecord]) -> ServeReport {
    let mut per_model: BTreeMap<&str, Vec<&PredictionEntry>> = BTreeMap::new();
    let mut answers: BTreeMap<&str, &PredictionEntry> = BTreeMap::new();
    let mut events = Vec::new();
    let mut drift: BTreeMap<&str, &DriftEntry> = BTreeMap::new();
    for r in records {
        match r {
            LogRecord::Prediction(p) => {
                per_model.entry(&p.model).or_default().push(p);
                if matches!(p.role, Role::Primary | Role::Canary) {
                    answers.insert(&p.request_id, p);
                }
            }
            LogRecord::Event(e) => events.push(e.clone()),
            LogRecord::Drift(d) => {
                let slot = drift.entry(&d.model).or_insert(d);
                if d.ts_ms >= slot.ts_ms {
                    *slot = d;
                }
            }
        }
    }
    let answered = answers.len();
    let mut models = Vec::new();
    let mut shadows = Vec::new();
    let mut canaries = Vec::new();
    for (model, entries) in &per_model {
        let mut lat: Vec<f64> = entries.iter().map(|e| e.latency_us as f64 / 1e3).collect();
        lat.sort_by(f64::total_cmp);
        let errors = entries.iter().filter(|e| e.error.is_some()).count();
        let mut roles = BTreeMap::new();
        for e in entries {
            *roles.entry(role_name(e.role).to_string()).or_insert(0) += 1;
        }
        models.push(ModelStats {
            model: model.to_string(),
            requests: entries.len(),
            rows: entries.iter().map(|e| e.rows).sum(),
            errors,
            error_rate: errors as f64 / entries.len().max(1) as f64,
            latency_ms_p50: percentile(&lat, 50.0),
            latency_ms_p90: percentile(&lat, 90.0),
            latency_ms_p99: percentile(&lat, 99.0),
            roles,
        });
        let canary = entries.iter().filter(|e| e.role == Role::Canary).count();
        if canary > 0 {
            canaries.push(CanaryShare {
                model: model.to_string(),
                requests: canary,
                share: canary as f64 / answered.max(1) as f64,
            });
        }
        let shadow: Vec<&&PredictionEntry> =
            entries.iter().filter(|e| e.role == Role::Shadow).collect();
        if shadow.is_empty() {
            continue;
        }
        let mut s = ShadowAgreement {
            model: model.to_string(),
            against: Vec::new(),
            requests: 0,
            rows: 0,
            agreeing_rows: 0,
            agreement: None,
            unmatched: 0,
        };
        for e in shadow {
            let Some(a) = answers.get(e.request_id.as_str()) else {
                s.unmatched += 1;
                continue;
            };
            if e.error.is_some()
                || a.error.is_some()
                || e.outputs.len() != a.outputs.len()
                || e.outputs.len() != e.rows
            {
                s.unmatched += 1;
                continue;
            }
            if !s.against.contains(&a.model) {
                s.against.push(a.model.clone());
            }
            s.requests += 1;
            s.rows += e.rows;
            s.agreeing_rows += e
                .outputs
                .iter()
                .zip(&a.outputs)
                .filter(|(x, y)| outputs_agree(x, y))
                .count();
        }
        s.against.sort();
        s.agreement = (s.rows > 0).then(|| s.agreeing_rows as f64 / s.rows as f64);
        shadows.push(s);
    }
    ServeReport {
        from_ms: records.iter().map(LogRecord::ts_ms).min(),
        to_ms: records.iter().map(LogRecord::ts_ms).max(),
        models,
        shadows,
        canaries,
        events,
        drift: drift.values().map(|d| DriftSummary::of(d)).collect(),
    }
}
