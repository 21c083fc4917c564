//! The dashboard's routes: the page and the JSON endpoints, as a pure function of
//! (method, path, body) over a store directory, so they are testable without a socket.
//!
//! # Endpoints
//!
//! All JSON responses are UTF-8 objects. Errors are `{"error": "<what was wrong and what to
//! do>"}` with a 4xx/5xx status. Scores that are not finite (a running or failed trial) are
//! `null`. `{id}` is a study id or `latest`.
//!
//! | method | path | response |
//! |---|---|---|
//! | GET | `/` | the dashboard page (HTML with inline CSS/JS) |
//! | GET | `/api` | `{"endpoints": [...]}`: this table |
//! | GET | `/api/studies` | `{"store", "live", "studies": [study...]}` |
//! | GET | `/api/studies/{id}` | one study (same fields as in the list) |
//! | GET | `/api/studies/{id}/trials` | `{"study_id", "metric", "higher_is_better", "live", "trials": [trial...]}`, leaderboard order |
//! | GET | `/api/studies/{id}/trials/{tid}` | one trial with `rank` and `children` |
//! | POST | `/api/studies/{id}/predict[?trial=T]` | body: CSV text with a header row; `{"study_id", "model", "n_rows", "columns", "rows"}` |
//! | GET | `/api/serving[?since=SECS]` | `{"log_dir", "exists", "records", "report"}`: the prediction log's serving report |
//! | GET | `/api/importance?study=ID&trial=T` | `automl explain --format json`'s object (permutation importance on at most 500 held-out rows per fold, 3 shuffles; `gain` for tree trials) |
//!
//! `/api/importance` needs the study's training data (the store's copy, or the CSV at the
//! study's `data_path` as seen from where the dashboard runs; 400 when it is not there). It
//! gives up after 20 s (503). Both `study` and `trial` may be left out (the latest study, its
//! final trial). Answers are kept per (study, trial) while the dashboard runs.
//!
//! `/api/serving` reads the prediction log (`automl predict` and `automl serve` write it):
//! `report` is `automl serve-report --format json`'s object (`models` with requests, rows,
//! errors, `error_rate` and `latency_ms_p50/p90/p99`; `shadows` with `agreement`; `canaries`
//! with `share`; `events`; `drift`: the latest drift check per model with its whole JSON
//! `report`). `?since=SECS` keeps the last SECS seconds only. A missing log is an empty report
//! with `exists: false`.
//!
//! `live` is true while a running `automl fit` holds the store: records then come from the
//! snapshot it publishes after every trial, and predictions are refused with status 409 until
//! it finishes (fitted models are only in the database).
//!
//! A study object is the stored study record (`study_id`, `name`, `data_path`, `target`,
//! `task`, `metric`, `classes`, `schema` = `[{name, kind}]` feature columns, `strategy`,
//! `seed`, `budget`, `started_at_ms`, `ended_at_ms` (0 while running), `final_trial`, the
//! typed `validation`, `n_rows`, `data_report`, `ensemble` and `final_model` when the store has
//! them, `extra`, ...) plus `higher_is_better`, `running` (a fit is writing it now), `n_trials`,
//! `n_complete`, `n_failed` (failed, timed out or interrupted), `n_running`, `best`
//! (`{trial_id, family, mean}` or `null`), and one-line texts that read typed records and older
//! stores alike (`null` when unknown): `validation_text`, `rows`, `final_model_text`,
//! `ensemble_text` and `report_text`.
//!
//! A trial object is the stored trial record (`trial_id`, `candidate` = `{family, params,
//! parents, operator, fidelity}`, `strategy`, `state`, `fold_scores`, `mean`, `std`,
//! `metrics`, `fit_time_s`, `predict_time_per_row_s`, `model_size_bytes`, `has_artifact`,
//! `error`, `seed`, `started_at_ms`, `ended_at_ms`, `extra`, and on an ensemble trial of a
//! current store `ensemble` = `{used, trial_id, members: [[id, weight]...], cv_score,
//! single_selection_cv, best_single_cv, reason}`) plus `rank` (1-based among the trials
//! complete on every fold, best first, or `null`, as for one-fold first looks) and, on the trials whose seed variance `fit` measured,
//! `seed_variance` = `{seeds, seed_scores, seed_fold_scores, seed_std, churn, split_scores,
//! split_std, tied, noise, note}`. The single-trial endpoint adds `children`: ids of
//! trials whose `parents` include it.
//!
//! The predict response's `columns` are those of `automl predict`'s output file:
//! `prediction`, then `proba_<class>` per class for classification; `rows` are arrays of
//! strings in input row order. Without `?trial=` the study's final model is used. The input
//! needs the study's feature columns by name (extra columns, such as the target, are ignored).

use automl_core::{Metric, StudyRecord, TrialRecord, TrialState};
use automl_engine::{EngineError, ModelChoice, leaderboard, load_model};
use automl_store::{StoreError, StoreLocation, StoreRead};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The dashboard page, served at `/`.
pub const PAGE: &str = include_str!("page.html");

/// Message of the 409 answer to a predict request while a fit holds the store.
pub const IN_USE_MESSAGE: &str =
    "the store is in use by a running fit; predictions are available when it finishes";

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: "application/json; charset=utf-8",
            body: serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()),
        }
    }

    /// A JSON error `{"error": message}`.
    pub fn error(status: u16, message: String) -> Response {
        Response::json(status, &json!({ "error": message }))
    }
}

/// An error answer: status and message.
struct Fail(u16, String);

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        let status = match &e {
            StoreError::NotFound { .. } | StoreError::NotAStore { .. } => 404,
            StoreError::InUse { .. } | StoreError::Locked { .. } | StoreError::Snapshot { .. } => {
                503
            }
            _ => 500,
        };
        Fail(status, e.to_string())
    }
}

type Answer = Result<Value, Fail>;

/// The routes over one store (a directory or a PostgreSQL database).
pub struct Api {
    store: StoreLocation,
    /// Serialises opening the store: sled allows one handle per process at a time.
    store_lock: Mutex<()>,
    /// A PostgreSQL store, opened at the first request and kept (it reconnects by itself); a
    /// directory is opened per request instead, so a `fit` can take the database in between.
    shared: Mutex<Option<Arc<dyn StoreRead>>>,
    /// The prediction log directory.
    log_dir: PathBuf,
    /// `/api/importance` answers per (study, trial).
    importance: Mutex<std::collections::HashMap<(u64, u64), Value>>,
}

/// A store opened for one request and whether it is the snapshot of a running fit.
struct Opened {
    store: Arc<dyn StoreRead>,
    live: bool,
}

impl Api {
    /// Routes over the store `store` (never created; see `shared` for when it is opened),
    /// with the prediction log in its default place ([`default_log_dir`]).
    pub fn new(store: impl Into<StoreLocation>) -> Api {
        let store = store.into();
        let log_dir = default_log_dir(&store);
        Api::with_log_dir(store, log_dir)
    }

    /// Routes over `store`, with the prediction log in `log_dir`.
    pub fn with_log_dir(store: impl Into<StoreLocation>, log_dir: PathBuf) -> Api {
        Api {
            store: store.into(),
            store_lock: Mutex::new(()),
            shared: Mutex::new(None),
            log_dir,
            importance: Mutex::new(Default::default()),
        }
    }

    /// The prediction log directory this API reads.
    pub fn log_dir(&self) -> &std::path::Path {
        &self.log_dir
    }

    /// `GET /api/serving`: the serving report of the prediction log.
    fn serving(&self, query: &str) -> Answer {
        let mut filter = automl_monitor::predlog::LogFilter::default();
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            if k == "since" {
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| Fail(400, format!("since={v}: give a number of seconds")))?;
                let now = automl_monitor::predlog::now_ms();
                filter.since_ms = Some(now.saturating_sub((secs * 1000.0) as u64));
            }
        }
        let records = automl_monitor::predlog::read_log(&self.log_dir, &filter)
            .map_err(|e| Fail(500, format!("the prediction log: {e}")))?;
        let report = automl_monitor::predlog::serve_report(&records);
        Ok(json!({
            "log_dir": self.log_dir.display().to_string(),
            "exists": self.log_dir.exists(),
            "records": records.len(),
            "report": serde_json::to_value(&report).unwrap_or(Value::Null),
        }))
    }

    /// Answer one request. `path` may carry a query string.
    pub fn handle(&self, method: &str, path: &str, body: &[u8]) -> Response {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path, ""),
        };
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let get = method == "GET" || method == "HEAD";
        let result = match (parts.as_slice(), get, method == "POST") {
            ([] | ["index.html"], true, _) => {
                return Response {
                    status: 200,
                    content_type: "text/html; charset=utf-8",
                    body: PAGE.as_bytes().to_vec(),
                };
            }
            (["api"], true, _) => Ok(endpoints()),
            (["api", "studies"], true, _) => self.studies(),
            (["api", "studies", id], true, _) => self.study(id),
            (["api", "studies", id, "trials"], true, _) => self.trials(id),
            (["api", "studies", id, "trials", tid], true, _) => self.trial(id, tid),
            (["api", "studies", id, "predict"], _, true) => self.predict(id, query, body),
            (["api", "serving"], true, _) => self.serving(query),
            (["api", "importance"], true, _) => self.importance(query),
            ([] | ["index.html"] | ["api", ..], _, _) if known_route(&parts) => Err(Fail(
                405,
                format!("method {method} is not allowed on {path}; see GET /api for the endpoints"),
            )),
            _ => Err(Fail(
                404,
                format!("no such page or endpoint: {path}; see GET /api for the endpoints"),
            )),
        };
        match result {
            Ok(v) => Response::json(200, &v),
            Err(Fail(status, message)) => Response::error(status, message),
        }
    }

    /// Open the store for one request (the caller holds `store_lock`).
    fn open(&self) -> Result<Opened, Fail> {
        let dir = match &self.store {
            StoreLocation::Dir(dir) => dir,
            StoreLocation::Postgres(_) => {
                let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
                let store = match &*shared {
                    Some(s) => s.clone(),
                    None => shared
                        .insert(Arc::from(automl_store::open_read(&self.store)?))
                        .clone(),
                };
                // Read live: there is no snapshot.
                return Ok(Opened { store, live: false });
            }
        };
        if !dir.exists() {
            return Err(Fail(
                404,
                format!(
                    "no store at `{}` yet; run `automl fit DATA.csv --store {}` (this page refreshes by itself)",
                    dir.display(),
                    dir.display()
                ),
            ));
        }
        let store: Arc<dyn StoreRead> = Arc::from(automl_store::open_read(&self.store)?);
        // The snapshot of a running fit has no blobs; the database answers `None`.
        let live = matches!(store.blob(u64::MAX, "probe"), Err(StoreError::InUse { .. }));
        Ok(Opened { store, live })
    }

    fn with_store<T>(&self, f: impl FnOnce(&Opened) -> Result<T, Fail>) -> Result<T, Fail> {
        let _guard = self.store_lock.lock().unwrap_or_else(|p| p.into_inner());
        let opened = self.open()?;
        let out = f(&opened);
        drop(opened);
        out
    }

    fn studies(&self) -> Answer {
        self.with_store(|o| {
            let mut list = Vec::new();
            for s in o.store.studies()? {
                let trials = o.store.trials(s.study_id)?;
                list.push(study_json(&s, &trials, o.live));
            }
            Ok(json!({
                "store": self.store.to_string(),
                "live": o.live,
                "studies": list,
            }))
        })
    }

    fn study(&self, id: &str) -> Answer {
        self.with_store(|o| {
            let s = find_study(o.store.as_ref(), id)?;
            let trials = o.store.trials(s.study_id)?;
            Ok(study_json(&s, &trials, o.live))
        })
    }

    fn trials(&self, id: &str) -> Answer {
        self.with_store(|o| {
            let s = find_study(o.store.as_ref(), id)?;
            let metric = study_metric(&s)?;
            let trials = o.store.trials(s.study_id)?;
            let rows: Vec<Value> = leaderboard(&trials, metric)
                .into_iter()
                .map(|r| trial_json(&r.trial, r.rank))
                .collect();
            Ok(json!({
                "study_id": s.study_id,
                "metric": s.metric,
                "higher_is_better": metric.higher_is_better(),
                "live": o.live,
                "trials": rows,
            }))
        })
    }

    fn trial(&self, id: &str, tid: &str) -> Answer {
        let tid: u64 = tid
            .parse()
            .map_err(|_| Fail(400, format!("trial id `{tid}` is not a number")))?;
        self.with_store(|o| {
            let s = find_study(o.store.as_ref(), id)?;
            let metric = study_metric(&s)?;
            let trials = o.store.trials(s.study_id)?;
            let Some(row) = leaderboard(&trials, metric)
                .into_iter()
                .find(|r| r.trial.trial_id == tid)
            else {
                return Err(Fail(
                    404,
                    format!(
                        "no trial {tid} in study {}; GET /api/studies/{}/trials lists them",
                        s.study_id, s.study_id
                    ),
                ));
            };
            let mut v = trial_json(&row.trial, row.rank);
            let children: Vec<u64> = trials
                .iter()
                .filter(|t| t.candidate.parents.contains(&tid))
                .map(|t| t.trial_id)
                .collect();
            if let Value::Object(m) = &mut v {
                m.insert("children".into(), json!(children));
                m.insert("metric".into(), json!(s.metric));
                m.insert("higher_is_better".into(), json!(metric.higher_is_better()));
            }
            Ok(v)
        })
    }

    /// `GET /api/importance`: permutation (and gain) importance of one trial, bounded in rows
    /// and time, kept per (study, trial).
    fn importance(&self, query: &str) -> Answer {
        use automl_engine::explain::{ExplainError, ExplainOptions, load, measure};
        let (mut study, mut trial) = ("latest".to_string(), None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("study", v)) => study = v.to_string(),
                Some(("trial", v)) => {
                    trial = Some(v.parse::<u64>().map_err(|_| {
                        Fail(400, format!("?trial={v}: the trial id must be a number"))
                    })?)
                }
                _ => {
                    return Err(Fail(
                        400,
                        format!(
                            "unknown query parameter `{pair}`; only ?study=ID&trial=ID are accepted"
                        ),
                    ));
                }
            }
        }
        let fail = |e: ExplainError| match e {
            ExplainError::Engine(e) => engine_fail(e),
            e @ (ExplainError::DataMissing { .. } | ExplainError::DataChanged { .. }) => Fail(
                400,
                format!("{e}; `automl explain --data FILE` can measure it from the command line"),
            ),
            e @ ExplainError::TooSlow(_) => Fail(503, e.to_string()),
            e => Fail(400, e.to_string()),
        };
        // Read the models and data with the store open, then release it before measuring.
        let loaded = self.with_store(|o| {
            if o.live {
                return Err(Fail(409, IN_USE_MESSAGE.to_string()));
            }
            let s = find_study(o.store.as_ref(), &study)?;
            let t = trial.or(s.final_trial).ok_or_else(|| {
                Fail(
                    404,
                    format!("study {} has no final trial; pass ?trial=ID", s.study_id),
                )
            })?;
            let key = (s.study_id, t);
            if let Some(v) = self.cached_importance(key) {
                return Ok(Err(v));
            }
            load(o.store.as_ref(), Some(s.study_id), Some(t), None)
                .map(Ok)
                .map_err(fail)
        })?;
        let loaded = match loaded {
            Ok(l) => l,
            Err(cached) => return Ok(cached),
        };
        let opts = ExplainOptions {
            repeats: 3,
            max_rows_per_fold: Some(500),
            time_limit: Some(std::time::Duration::from_secs(20)),
            ..ExplainOptions::default()
        };
        let e = measure(&loaded, &opts).map_err(fail)?;
        let v = serde_json::to_value(&e).map_err(|e| Fail(500, e.to_string()))?;
        self.importance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((loaded.study.study_id, loaded.trial.trial_id), v.clone());
        Ok(v)
    }

    fn cached_importance(&self, key: (u64, u64)) -> Option<Value> {
        self.importance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    fn predict(&self, id: &str, query: &str, body: &[u8]) -> Answer {
        let mut choice = ModelChoice::Final;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("trial", t)) => {
                    let t: u64 = t.parse().map_err(|_| {
                        Fail(400, format!("?trial={t}: the trial id must be a number"))
                    })?;
                    choice = ModelChoice::Trial(t);
                }
                _ => {
                    return Err(Fail(
                        400,
                        format!("unknown query parameter `{pair}`; only ?trial=ID is accepted"),
                    ));
                }
            }
        }
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(Fail(
                400,
                "the request body is empty: send CSV text with a header row naming the feature columns".into(),
            ));
        }
        if std::str::from_utf8(body).is_err() {
            return Err(Fail(
                400,
                "the uploaded file is not UTF-8 text; send a CSV file".into(),
            ));
        }
        // Load the model with the store open, then release the store before predicting.
        let model = self.with_store(|o| {
            if o.live {
                return Err(Fail(409, IN_USE_MESSAGE.to_string()));
            }
            let s = find_study(o.store.as_ref(), id)?;
            load_model(o.store.as_ref(), Some(s.study_id), choice).map_err(engine_fail)
        })?;
        let dir = tempfile::tempdir().map_err(|e| {
            Fail(
                500,
                format!("cannot create a temporary directory for the upload: {e}"),
            )
        })?;
        let input = dir.path().join("upload.csv");
        let output = dir.path().join("predictions.csv");
        let write = std::fs::File::create(&input).and_then(|mut f| f.write_all(body));
        write.map_err(|e| {
            Fail(
                500,
                format!("cannot write the upload to a temporary file: {e}"),
            )
        })?;
        let hide = |msg: String| {
            msg.replace(&input.display().to_string(), "the uploaded CSV")
                .replace(&output.display().to_string(), "the predictions")
        };
        let tokens = automl_data::ReadOptions::default().missing_tokens;
        let frame = model
            .read_input(&input, &tokens)
            .map_err(|e| Fail(400, hide(e.to_string())))?;
        let pred = model
            .predict_frame(&frame)
            .map_err(|e| Fail(500, hide(e.to_string())))?;
        automl_engine::predict::write_predictions(
            &output,
            &pred,
            model.study.task,
            &model.study.classes,
        )
        .map_err(|e| Fail(500, hide(e.to_string())))?;
        let mut reader = csv::Reader::from_path(&output)
            .map_err(|e| Fail(500, hide(format!("cannot read back the predictions: {e}"))))?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| Fail(500, format!("cannot read back the predictions: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut rows = Vec::with_capacity(pred.len());
        for rec in reader.records() {
            let rec =
                rec.map_err(|e| Fail(500, format!("cannot read back the predictions: {e}")))?;
            rows.push(rec.iter().map(str::to_string).collect::<Vec<_>>());
        }
        Ok(json!({
            "study_id": model.study.study_id,
            "model": model.description,
            "n_rows": rows.len(),
            "columns": columns,
            "rows": rows,
        }))
    }
}

/// Whether `parts` names a route (for 405 vs 404).
fn known_route(parts: &[&str]) -> bool {
    matches!(
        parts,
        [] | ["index.html"]
            | ["api"]
            | ["api", "studies"]
            | ["api", "studies", _]
            | ["api", "studies", _, "trials"]
            | ["api", "studies", _, "trials", _]
            | ["api", "studies", _, "predict"]
            | ["api", "serving"]
            | ["api", "importance"]
    )
}

fn endpoints() -> Value {
    json!({ "endpoints": [
        {"method": "GET", "path": "/", "returns": "the dashboard page"},
        {"method": "GET", "path": "/api/studies", "returns": "{store, live, studies: [study]}"},
        {"method": "GET", "path": "/api/studies/{id}", "returns": "one study; {id} may be `latest`"},
        {"method": "GET", "path": "/api/studies/{id}/trials", "returns": "{study_id, metric, higher_is_better, live, trials: [trial]} in leaderboard order"},
        {"method": "GET", "path": "/api/studies/{id}/trials/{tid}", "returns": "one trial with rank and children"},
        {"method": "POST", "path": "/api/studies/{id}/predict[?trial=T]", "body": "CSV text with a header row", "returns": "{study_id, model, n_rows, columns, rows}"},
        {"method": "GET", "path": "/api/serving[?since=SECS]", "returns": "{log_dir, exists, records, report}: the prediction log's serving report"},
        {"method": "GET", "path": "/api/importance[?study=ID&trial=T]", "returns": "automl explain's JSON: {study_id, trial_id, family, metric, baseline, folds, repeats, rows, data_source, columns: [{column, importance, std, gain}]}"},
    ]})
}

fn engine_fail(e: EngineError) -> Fail {
    match e {
        EngineError::Store(StoreError::InUse { .. }) => Fail(409, IN_USE_MESSAGE.to_string()),
        EngineError::Store(s) => Fail::from(s),
        EngineError::NotFound(m) => Fail(404, m),
        EngineError::Data(d) => Fail(400, d.to_string()),
        other => Fail(500, other.to_string()),
    }
}

fn find_study(store: &dyn StoreRead, id: &str) -> Result<StudyRecord, Fail> {
    if id == "latest" {
        return store.latest_study()?.ok_or_else(|| {
            Fail(
                404,
                "the store holds no study yet; run `automl fit` first".into(),
            )
        });
    }
    let n: u64 = id.parse().map_err(|_| {
        Fail(
            400,
            format!("study id `{id}` is not a number (or `latest`)"),
        )
    })?;
    store.study(n)?.ok_or_else(|| {
        Fail(
            404,
            format!("no study {n} in the store; GET /api/studies lists them"),
        )
    })
}

fn study_metric(s: &StudyRecord) -> Result<Metric, Fail> {
    Metric::from_name(&s.metric).ok_or_else(|| {
        Fail(
            500,
            format!(
                "study {} uses the metric `{}`, which this build does not know; upgrade automl",
                s.study_id, s.metric
            ),
        )
    })
}

/// A study record as JSON plus trial counts and the best trial.
pub fn study_json(s: &StudyRecord, trials: &[TrialRecord], live: bool) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    let metric = Metric::from_name(&s.metric);
    let count = |f: &dyn Fn(&TrialRecord) -> bool| trials.iter().filter(|t| f(t)).count();
    let best = metric.and_then(|m| {
        leaderboard(trials, m)
            .into_iter()
            .find(|r| r.rank.is_some())
            .map(|r| json!({"trial_id": r.trial.trial_id, "family": r.trial.candidate.family, "mean": r.trial.mean}))
    });
    if let Value::Object(m) = &mut v {
        let extra: Map<String, Value> = [
            (
                "higher_is_better",
                json!(metric.map(|m| m.higher_is_better())),
            ),
            ("running", json!(live && s.ended_at_ms == 0)),
            ("n_trials", json!(trials.len())),
            (
                "n_complete",
                json!(count(&|t| t.state == TrialState::Complete)),
            ),
            (
                "n_failed",
                json!(count(&|t| matches!(
                    t.state,
                    TrialState::Failed | TrialState::TimedOut | TrialState::Interrupted
                ))),
            ),
            (
                "n_running",
                json!(count(&|t| t.state == TrialState::Running)),
            ),
            ("best", best.unwrap_or(Value::Null)),
            ("validation_text", json!(s.validation_text())),
            ("rows", json!(s.rows())),
            ("final_model_text", json!(s.final_model_text())),
            ("ensemble_text", json!(s.ensemble_text())),
            ("report_text", json!(s.report_text())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        m.extend(extra);
    }
    v
}

/// A trial record as JSON plus its rank and, when `fit` measured it, its typed seed variance.
pub fn trial_json(t: &TrialRecord, rank: Option<usize>) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("rank".into(), json!(rank));
        if let Some(sv) = automl_engine::seed_variance_of(t) {
            m.insert("seed_variance".into(), json!(sv));
        }
    }
    v
}

/// The default prediction log of a store: `STORE/predictions` for a directory,
/// `./automl-predictions` for a PostgreSQL store (the rule of `automl predict --log-dir`).
pub fn default_log_dir(store: &StoreLocation) -> PathBuf {
    match store {
        StoreLocation::Dir(d) => automl_monitor::predlog::default_log_dir(Some(d)),
        StoreLocation::Postgres(_) => automl_monitor::predlog::default_log_dir(None),
    }
}
