//! The served models and what happens to one request: parse the input with each model's
//! schema, pick primary or canary, score, count, hand a copy to the shadow queue and a record
//! to the log writer.

use crate::drift::{DriftWindow, WindowCheck};
use crate::metrics::{Metrics, ModelStats};
use crate::{ServeConfig, ServeError};
use automl_data::{DataError, Frame};
use automl_engine::LoadedModel;
use automl_monitor::drift::DriftReport;
use automl_monitor::predlog::{
    DriftEntry, EventEntry, LogOptions, LogRecord, LogWriter, PredictionEntry, Role, frame_records,
    now_ms, outputs_agree as agree, row_hashes,
};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A loaded model and the names it is served under.
pub struct ServedModel {
    /// URL-safe name (`study-3`, `trial-7`, a file stem), in metrics and the log.
    pub name: String,
    /// What it is, for messages (`final model of study 3 (trial 12)`).
    pub description: String,
    /// The model with its schema, task and classes.
    pub model: LoadedModel,
}

/// Whether `s` can stand in a URL path segment unescaped (RFC 3986 unreserved characters).
pub fn is_url_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A request's input, parsed as far as it can be without a schema.
pub(crate) enum Input {
    /// JSON records.
    Records(Vec<Map<String, Value>>),
    /// A CSV body with a header row.
    Csv(Vec<u8>),
}

impl Input {
    /// Roughly how many rows (to decide whether to score off the async threads).
    pub(crate) fn rows_hint(&self) -> usize {
        match self {
            Input::Records(r) => r.len(),
            Input::Csv(b) => b.iter().filter(|&&c| c == b'\n').count(),
        }
    }

    pub(crate) fn frame(&self, model: &LoadedModel, tokens: &[String]) -> Result<Frame, ApiError> {
        let schema = &model.study.schema;
        let frame = match self {
            Input::Records(r) => automl_data::frame_from_records(r, schema, tokens),
            Input::Csv(b) => {
                automl_data::load_for_prediction_bytes(Path::new("the CSV body"), b, schema, tokens)
            }
        }
        .map_err(data_error)?;
        if frame.n_rows == 0 {
            return Err(ApiError::new(400, "the request holds no rows"));
        }
        Ok(frame)
    }
}

/// A request that failed: the HTTP status and the message of the JSON error body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

/// Malformed CSV is 400; valid data that does not fit the model's schema is 422.
fn data_error(e: DataError) -> ApiError {
    let status = match e {
        DataError::MissingColumns { .. }
        | DataError::FrameMissingColumns { .. }
        | DataError::BadValue { .. }
        | DataError::BadRecordValue { .. }
        | DataError::NotNumeric { .. }
        | DataError::UnknownKind { .. } => 422,
        _ => 400,
    };
    ApiError::new(status, e.to_string())
}

/// One model's answer to a batch.
pub(crate) struct Answer {
    /// The model that answered.
    pub(crate) model: String,
    /// Primary or canary.
    pub(crate) role: Role,
    /// Class labels (strings) or values (numbers), one per row.
    pub(crate) outputs: Vec<Value>,
    /// Probabilities per row in the order of `classes` (classification).
    pub(crate) proba: Option<Vec<Vec<f64>>>,
    /// The class labels (classification), empty for regression.
    pub(crate) classes: Vec<String>,
}

/// A model in a role, with its counters.
pub(crate) struct Slot {
    pub(crate) model: Arc<ServedModel>,
    pub(crate) stats: Arc<ModelStats>,
}

/// The canary and its share of the traffic (0..=100).
pub(crate) struct CanarySlot {
    pub(crate) slot: Slot,
    pub(crate) pct: f64,
}

struct ShadowJob {
    request_id: String,
    input: Arc<Input>,
    primary: Vec<Value>,
}

/// The threads started beside the server.
pub(crate) struct Background {
    threads: Vec<JoinHandle<()>>,
}

impl Background {
    /// Wait for the shadow and log threads (after [`State::stop_background`]).
    pub(crate) fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Everything the handlers share.
pub(crate) struct State {
    /// The name in URLs (`/v2/models/{name}`): the primary's name at start, kept on promotion.
    pub(crate) service_name: String,
    pub(crate) primary: Arc<RwLock<Arc<Slot>>>,
    pub(crate) canary: RwLock<Option<Arc<CanarySlot>>>,
    pub(crate) shadow: Option<(String, Arc<ModelStats>)>,
    shadow_tx: Mutex<Option<SyncSender<ShadowJob>>>,
    /// Canary answers, to be compared with the primary's off the request path.
    compare_tx: Mutex<Option<SyncSender<ShadowJob>>>,
    log_tx: Mutex<Option<SyncSender<LogRecord>>>,
    pub(crate) metrics: Metrics,
    pub(crate) max_body: usize,
    pub(crate) timeout: Duration,
    pub(crate) request_delay: Duration,
    pub(crate) admin_token: Option<String>,
    canary_error_limit: f64,
    canary_min_requests: u64,
    tokens: Vec<String>,
    log_inputs: bool,
    counter: AtomicU64,
    started_ms: u64,
    stopping: Arc<AtomicBool>,
    /// The recent inputs, for drift checks.
    pub(crate) drift: DriftWindow,
    /// The receiving end of the drift window's trigger, taken by the checking thread.
    drift_rx: Mutex<Option<Receiver<()>>>,
}

/// SplitMix64: spreads a counter or a key hash over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a request key (stable across runs and builds).
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Score `input` with `model`.
fn score(
    model: &ServedModel,
    input: &Input,
    tokens: &[String],
) -> Result<(Frame, Answer), ApiError> {
    let m = &model.model;
    let frame = input.frame(m, tokens)?;
    let pred = m
        .predict_frame(&frame)
        .map_err(|e| ApiError::new(500, format!("model {} failed: {e}", model.name)))?;
    let classes = m.study.classes.clone();
    let classification = m.study.task.is_classification();
    let outputs = m.outputs_json(&pred);
    let proba = match (&pred.proba, classification) {
        (Some(p), true) => Some(
            (0..pred.values.len())
                .map(|i| {
                    (0..classes.len())
                        .map(|j| p.get((i, j)).copied().unwrap_or(0.0))
                        .collect()
                })
                .collect(),
        ),
        _ => None,
    };
    Ok((
        frame,
        Answer {
            model: model.name.clone(),
            role: Role::Primary,
            outputs,
            proba,
            classes,
        },
    ))
}

impl State {
    /// Build the state, open the log and start the shadow and log threads.
    pub(crate) fn start(cfg: ServeConfig) -> Result<(State, Background), ServeError> {
        let metrics = Metrics::default();
        let mut threads = Vec::new();
        let log_tx = match &cfg.log_dir {
            Some(dir) => {
                let writer = LogWriter::open(dir, LogOptions::default())?;
                let (tx, rx) = sync_channel::<LogRecord>(65_536);
                threads.push(
                    std::thread::Builder::new()
                        .name("serve-log".into())
                        .spawn(move || log_thread(writer, rx))?,
                );
                Some(tx)
            }
            None => None,
        };
        let stopping = Arc::new(AtomicBool::new(false));
        let (drift_tx, drift_rx) = sync_channel::<()>(1);
        let drift = DriftWindow::new(cfg.drift_window, cfg.drift_every, Some(drift_tx));
        let service_name = cfg.primary.name.clone();
        let primary = Arc::new(RwLock::new(Arc::new(Slot {
            stats: metrics.stats(&cfg.primary.name, "primary"),
            model: Arc::new(cfg.primary),
        })));
        let canary = cfg.canary.map(|(m, pct)| {
            Arc::new(CanarySlot {
                slot: Slot {
                    stats: metrics.stats(&m.name, "canary"),
                    model: Arc::new(m),
                },
                pct,
            })
        });
        let mut shadow = None;
        let mut spawn =
            |name: &str, worker: OffPath| -> Result<SyncSender<ShadowJob>, ServeError> {
                let (tx, rx) = sync_channel::<ShadowJob>(cfg.shadow_queue.max(1));
                threads.push(
                    std::thread::Builder::new()
                        .name(name.into())
                        .spawn(move || worker.run(rx))?,
                );
                Ok(tx)
            };
        let shadow_tx = match cfg.shadow {
            Some(m) => {
                let stats = metrics.stats(&m.name, "shadow");
                shadow = Some((m.name.clone(), stats.clone()));
                let model = Arc::new(RwLock::new(Arc::new(Slot {
                    model: Arc::new(m),
                    stats: stats.clone(),
                })));
                Some(spawn(
                    "serve-shadow",
                    OffPath {
                        model,
                        count: true,
                        agreement: None,
                        log: log_tx.clone(),
                        tokens: cfg.missing_tokens.clone(),
                        delay: cfg.shadow_delay,
                        stopping: stopping.clone(),
                        log_inputs: cfg.log_inputs,
                    },
                )?)
            }
            None => None,
        };
        // The primary scores the canary's requests off the path too, for the agreement rate.
        let compare_tx = match &canary {
            Some(c) => Some(spawn(
                "serve-compare",
                OffPath {
                    model: primary.clone(),
                    count: false,
                    agreement: Some(c.slot.stats.clone()),
                    log: log_tx.clone(),
                    tokens: cfg.missing_tokens.clone(),
                    delay: Duration::ZERO,
                    stopping: stopping.clone(),
                    log_inputs: cfg.log_inputs,
                },
            )?),
            None => None,
        };
        Ok((
            State {
                service_name,
                primary,
                canary: RwLock::new(canary),
                shadow,
                shadow_tx: Mutex::new(shadow_tx),
                compare_tx: Mutex::new(compare_tx),
                log_tx: Mutex::new(log_tx),
                metrics,
                max_body: cfg.max_body,
                timeout: cfg.timeout,
                request_delay: cfg.request_delay,
                admin_token: cfg.admin_token,
                canary_error_limit: cfg.canary_error_limit,
                canary_min_requests: cfg.canary_min_requests.max(1),
                tokens: cfg.missing_tokens,
                log_inputs: cfg.log_inputs,
                counter: AtomicU64::new(0),
                started_ms: now_ms(),
                stopping,
                drift,
                drift_rx: Mutex::new(Some(drift_rx)),
            },
            Background { threads },
        ))
    }

    /// The primary model's name now.
    pub(crate) fn primary_name(&self) -> String {
        self.primary.read().unwrap().model.name.clone()
    }

    /// Check the drift window against the primary's reference profile now; the result is
    /// logged and shown in `/metrics`.
    pub(crate) fn run_drift_check(&self) -> Result<(String, usize, DriftReport), ApiError> {
        let served = self.primary_model();
        let WindowCheck { report, rows, seq } = self.drift.check(&served, &self.tokens)?;
        self.metrics
            .drift_checked(&served.name, report.drift, rows, seq);
        if let Ok(json) = serde_json::to_value(&report) {
            self.log(LogRecord::Drift(DriftEntry {
                ts_ms: now_ms(),
                source: "serve".into(),
                model: served.name.clone(),
                report: json,
            }));
        }
        Ok((served.name.clone(), rows, report))
    }

    /// The primary model now.
    pub(crate) fn primary_model(&self) -> Arc<ServedModel> {
        self.primary.read().unwrap().model.clone()
    }

    /// Stop the shadow (queued jobs are discarded), the drift checker, and close the log
    /// channel.
    pub(crate) fn stop_background(&self) {
        self.stopping.store(true, Relaxed);
        self.drift.close();
        self.shadow_tx.lock().unwrap().take();
        self.compare_tx.lock().unwrap().take();
        self.log_tx.lock().unwrap().take();
    }

    fn log(&self, rec: LogRecord) {
        if let Some(tx) = self.log_tx.lock().unwrap().as_ref() {
            if let Err(TrySendError::Full(_)) = tx.try_send(rec) {
                self.metrics.log_dropped.fetch_add(1, Relaxed);
            }
        }
    }

    fn logging(&self) -> bool {
        self.log_tx.lock().unwrap().is_some()
    }

    /// Log an event of the served models.
    pub(crate) fn event(&self, event: &str, model: &str, detail: &str) {
        self.log(LogRecord::Event(EventEntry {
            ts_ms: now_ms(),
            event: event.into(),
            model: model.into(),
            detail: detail.into(),
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn log_prediction(
        &self,
        request_id: &str,
        model: &str,
        role: Role,
        input: &Input,
        frame: Option<&Frame>,
        result: Result<&[Value], &str>,
        took: Duration,
    ) {
        if !self.logging() {
            return;
        }
        self.log(prediction_record(
            request_id,
            model,
            role,
            input,
            frame,
            result,
            took,
            self.log_inputs,
        ));
    }

    /// Answer one request: the canary for its share (sticky by `key`), else the primary.
    pub(crate) fn predict(&self, input: Input, key: Option<&str>) -> Result<Answer, ApiError> {
        let n = self.counter.fetch_add(1, Relaxed);
        let request_id = format!("{:x}-{n}", self.started_ms);
        let input = Arc::new(input);
        let canary = self.canary.read().unwrap().clone();
        if let Some(c) = canary {
            let h = key.map_or_else(|| mix(n), |k| mix(key_hash(k)));
            if ((h % 10_000) as f64) < c.pct * 100.0 {
                let t0 = Instant::now();
                match score(&c.slot.model, &input, &self.tokens) {
                    Ok((frame, mut ans)) => {
                        let took = t0.elapsed();
                        c.slot.stats.observe(frame.n_rows, took, true);
                        self.drift.observe(&input, frame.n_rows);
                        ans.role = Role::Canary;
                        self.log_prediction(
                            &request_id,
                            &ans.model,
                            Role::Canary,
                            &input,
                            Some(&frame),
                            Ok(&ans.outputs),
                            took,
                        );
                        self.to_shadow(&request_id, &input, &ans.outputs);
                        self.enqueue(&self.compare_tx, &request_id, &input, &ans.outputs);
                        return Ok(ans);
                    }
                    Err(cerr) => {
                        let took = t0.elapsed();
                        // The primary answers; the canary's failure counts only when the
                        // primary could answer the same input.
                        let answer = self.predict_primary(&request_id, &input);
                        if answer.is_ok() {
                            c.slot.stats.observe(0, took, false);
                            self.log_prediction(
                                &request_id,
                                &c.slot.model.name,
                                Role::Canary,
                                &input,
                                None,
                                Err(&cerr.message),
                                took,
                            );
                            self.check_canary(&c);
                        }
                        return answer;
                    }
                }
            }
        }
        self.predict_primary(&request_id, &input)
    }

    fn predict_primary(&self, request_id: &str, input: &Arc<Input>) -> Result<Answer, ApiError> {
        let slot = self.primary.read().unwrap().clone();
        let t0 = Instant::now();
        let result = score(&slot.model, input, &self.tokens);
        let took = t0.elapsed();
        match result {
            Ok((frame, ans)) => {
                slot.stats.observe(frame.n_rows, took, true);
                self.drift.observe(input, frame.n_rows);
                self.log_prediction(
                    request_id,
                    &ans.model,
                    Role::Primary,
                    input,
                    Some(&frame),
                    Ok(&ans.outputs),
                    took,
                );
                self.to_shadow(request_id, input, &ans.outputs);
                Ok(ans)
            }
            Err(e) => {
                slot.stats.observe(0, took, false);
                self.log_prediction(
                    request_id,
                    &slot.model.name,
                    Role::Primary,
                    input,
                    None,
                    Err(&e.message),
                    took,
                );
                Err(e)
            }
        }
    }

    fn to_shadow(&self, request_id: &str, input: &Arc<Input>, outputs: &[Value]) {
        self.enqueue(&self.shadow_tx, request_id, input, outputs);
    }

    /// Hand a job to an off-path worker; a full queue drops it (counted), never waits.
    fn enqueue(
        &self,
        queue: &Mutex<Option<SyncSender<ShadowJob>>>,
        request_id: &str,
        input: &Arc<Input>,
        outputs: &[Value],
    ) {
        let guard = queue.lock().unwrap();
        let Some(tx) = guard.as_ref() else { return };
        let job = ShadowJob {
            request_id: request_id.to_string(),
            input: input.clone(),
            primary: outputs.to_vec(),
        };
        if let Err(TrySendError::Full(_)) = tx.try_send(job) {
            self.metrics.shadow_dropped.fetch_add(1, Relaxed);
        }
    }

    /// Roll the canary back when its error rate passed the limit.
    fn check_canary(&self, c: &Arc<CanarySlot>) {
        let requests = c.slot.stats.requests.load(Relaxed);
        let errors = c.slot.stats.errors.load(Relaxed);
        if requests >= self.canary_min_requests
            && errors as f64 > self.canary_error_limit * requests as f64
        {
            let detail = format!(
                "error rate {:.1} % over {requests} requests > limit {:.1} %",
                100.0 * errors as f64 / requests as f64,
                100.0 * self.canary_error_limit
            );
            self.remove_canary(Some(c), "canary_auto_rolled_back", &detail);
        }
    }

    /// Remove the canary (`expected`: only if it is still this one). Returns its name.
    pub(crate) fn remove_canary(
        &self,
        expected: Option<&Arc<CanarySlot>>,
        event: &str,
        detail: &str,
    ) -> Option<String> {
        let mut g = self.canary.write().unwrap();
        let current = g.as_ref()?;
        if expected.is_some_and(|e| !Arc::ptr_eq(e, current)) {
            return None;
        }
        let name = current.slot.model.name.clone();
        *g = None;
        drop(g);
        self.metrics.canary_rollbacks.fetch_add(1, Relaxed);
        eprintln!("{event}: {name}: {detail}");
        self.event(event, &name, detail);
        Some(name)
    }

    /// Make the canary the primary. Returns (old primary, new primary).
    pub(crate) fn promote_canary(&self) -> Option<(String, String)> {
        let c = self.canary.write().unwrap().take()?;
        let name = c.slot.model.name.clone();
        let slot = Arc::new(Slot {
            stats: self.metrics.stats(&name, "primary"),
            model: c.slot.model.clone(),
        });
        let old = std::mem::replace(&mut *self.primary.write().unwrap(), slot);
        self.metrics.canary_promotions.fetch_add(1, Relaxed);
        let detail = format!("replaces {} as primary", old.model.name);
        eprintln!("canary_promoted: {name}: {detail}");
        self.event("canary_promoted", &name, &detail);
        Some((old.model.name.clone(), name))
    }

    /// The state of the served models as JSON (for `/admin/status` and `/v2/models/{name}`).
    pub(crate) fn status(&self) -> Value {
        let p = self.primary.read().unwrap().clone();
        let c = self.canary.read().unwrap().clone();
        let stats = |s: &ModelStats| {
            let compared = s.compared.load(Relaxed);
            serde_json::json!({
                "requests": s.requests.load(Relaxed),
                "errors": s.errors.load(Relaxed),
                "rows": s.rows.load(Relaxed),
                "rows_compared": compared,
                "agreement": (compared > 0)
                    .then(|| s.agreed.load(Relaxed) as f64 / compared as f64),
            })
        };
        serde_json::json!({
            "service": self.service_name,
            "primary": {"name": p.model.name, "description": p.model.description, "stats": stats(&p.stats)},
            "canary": c.map(|c| serde_json::json!({
                "name": c.slot.model.name,
                "description": c.slot.model.description,
                "percent": c.pct,
                "stats": stats(&c.slot.stats),
            })),
            "shadow": self.shadow.as_ref().map(|(name, s)| serde_json::json!({
                "name": name,
                "stats": stats(s),
            })),
            "shadow_dropped": self.metrics.shadow_dropped.load(Relaxed),
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn prediction_record(
    request_id: &str,
    model: &str,
    role: Role,
    input: &Input,
    frame: Option<&Frame>,
    result: Result<&[Value], &str>,
    took: Duration,
    log_inputs: bool,
) -> LogRecord {
    let inputs = match (log_inputs, input, frame) {
        (false, _, _) => None,
        (true, Input::Records(r), _) => Some(r.clone()),
        (true, Input::Csv(_), Some(f)) => Some(frame_records(f)),
        (true, Input::Csv(_), None) => None,
    };
    LogRecord::Prediction(PredictionEntry {
        ts_ms: now_ms(),
        source: "serve".into(),
        model: model.into(),
        role,
        request_id: request_id.into(),
        rows: frame.map_or(input.rows_hint(), |f| f.n_rows),
        row_hashes: frame.map(row_hashes).unwrap_or_default(),
        inputs,
        outputs: result.map(<[Value]>::to_vec).unwrap_or_default(),
        latency_us: took.as_micros() as u64,
        error: result.err().map(str::to_string),
    })
}

/// A model scoring copies of requests off the request path: the shadow (every answered
/// request), or the primary re-scoring the canary's requests. Either way the agreement with
/// the answer sent is counted, and the entry is logged with [`Role::Shadow`].
struct OffPath {
    /// The model that scores (the primary's slot is shared, so a promotion is followed).
    model: Arc<RwLock<Arc<Slot>>>,
    /// Count requests, errors and latency in the slot's stats (the shadow; the primary's
    /// request counters only count the answers it sent).
    count: bool,
    /// Where the agreement is counted [default: the slot's stats].
    agreement: Option<Arc<ModelStats>>,
    log: Option<SyncSender<LogRecord>>,
    tokens: Vec<String>,
    delay: Duration,
    stopping: Arc<AtomicBool>,
    log_inputs: bool,
}

impl OffPath {
    fn run(self, rx: Receiver<ShadowJob>) {
        lowest_priority();
        while let Ok(job) = rx.recv() {
            if self.stopping.load(Relaxed) {
                continue;
            }
            if !self.delay.is_zero() {
                std::thread::sleep(self.delay);
            }
            let slot = self.model.read().unwrap().clone();
            let agreement = self.agreement.as_ref().unwrap_or(&slot.stats);
            let t0 = Instant::now();
            let result = score(&slot.model, &job.input, &self.tokens);
            let took = t0.elapsed();
            let (frame, outcome) = match &result {
                Ok((frame, ans)) => {
                    if self.count {
                        slot.stats.observe(frame.n_rows, took, true);
                    }
                    let agreed = ans
                        .outputs
                        .iter()
                        .zip(&job.primary)
                        .filter(|(a, b)| agree(a, b))
                        .count();
                    agreement
                        .compared
                        .fetch_add(job.primary.len() as u64, Relaxed);
                    agreement.agreed.fetch_add(agreed as u64, Relaxed);
                    (Some(frame), Ok(ans.outputs.as_slice()))
                }
                Err(e) => {
                    if self.count {
                        slot.stats.observe(0, took, false);
                    }
                    (None, Err(e.message.as_str()))
                }
            };
            if let Some(tx) = &self.log {
                let _ = tx.try_send(prediction_record(
                    &job.request_id,
                    &slot.model.name,
                    Role::Shadow,
                    &job.input,
                    frame,
                    outcome,
                    took,
                    self.log_inputs,
                ));
            }
        }
    }
}

/// Run this thread only when a core would otherwise idle (Linux SCHED_IDLE; best effort), so
/// off-path scoring never takes CPU time from the answers.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
            set_thread_priority_and_policy, thread_native_id,
        };
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        );
    }
}

fn log_thread(mut writer: LogWriter, rx: Receiver<LogRecord>) {
    let mut warned = false;
    let mut warn = |e: automl_monitor::MonitorError| {
        if !warned {
            eprintln!("warning: the prediction log cannot be written: {e}");
            warned = true;
        }
    };
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(rec) => {
                if let Err(e) = writer.append(&rec) {
                    warn(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = writer.flush() {
                    warn(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Err(e) = writer.flush() {
        warn(e);
    }
}

/// Run the automatic drift checks of `st` (every `--drift-every` answered rows) on a thread of
/// its own until the server stops. A trigger that comes while a check runs is merged into the
/// next check (the channel holds one).
pub(crate) fn spawn_drift_checker(st: Arc<State>) -> Option<JoinHandle<()>> {
    let rx = st.drift_rx.lock().unwrap().take()?;
    std::thread::Builder::new()
        .name("serve-drift".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                if st.stopping.load(Relaxed) {
                    break;
                }
                // A failed check (no profile, nothing fits) is visible on `GET /drift`.
                let _ = st.run_drift_check();
            }
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_agreement() {
        assert!(is_url_safe("study-12") && is_url_safe("t0.v2_a~b"));
        assert!(!is_url_safe("") && !is_url_safe("a/b") && !is_url_safe("a b"));
        // The canary split: a key hashes the same way every time, counters spread evenly.
        assert_eq!(mix(key_hash("user-1")), mix(key_hash("user-1")));
        let share = (0..10_000u64).filter(|&n| mix(n) % 10_000 < 3_000).count();
        assert!((2_800..=3_200).contains(&share), "{share}");
        assert!(agree(&Value::from("yes"), &Value::from("yes")));
        assert!(!agree(&Value::from("yes"), &Value::from("no")));
        assert!(agree(&Value::from(1.0), &Value::from(1.0 + 1e-12)));
        assert!(!agree(&Value::from(1.0), &Value::from(1.01)));
    }
}
