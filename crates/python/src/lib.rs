//! The Rust core of the `automl` Python package (`automl._core`): fit a study with the engine's
//! [`StudyBuilder`] on Arrow IPC stream bytes or a data file, and predict with its final model.
//!
//! The estimator itself (`automl.AutoML`) is Python; this module only moves bytes across:
//! a DataFrame arrives as an Arrow IPC stream (no CSV round trip), results leave as JSON text
//! and the final model's bytes (so a fitted estimator pickles without its store). A fit runs on
//! its own thread with the GIL released; the calling thread polls Python's signal handlers, so
//! Ctrl-C sets the engine's cancel flag (a second one its abort flag), exactly what `automl fit`
//! does on Ctrl-C.

use automl_engine::{
    EngineError, FINAL_MODEL_BLOB, MemoryStore, ReadOptions, Store, StudyBuilder, StudyRecord,
    Task, leaderboard,
};
use automl_store::StoreLocation;
use automl_trainer::{Predictor, PredictorInfo};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the calling thread wakes to run Python's signal handlers during a fit.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Where the training data comes from.
enum Source {
    /// An Arrow IPC stream (a DataFrame converted by pyarrow).
    Ipc(Vec<u8>),
    /// A data file read by the engine, as `automl fit FILE` reads it.
    File(PathBuf),
}

/// The settings of one fit, as the estimator passes them.
struct FitSettings {
    source: Source,
    target: Option<String>,
    task: Option<Task>,
    store: Option<String>,
    time_budget: Option<f64>,
    max_trials: Option<u64>,
    metric: Option<String>,
    seed: u64,
    jobs: Option<usize>,
}

/// What a fit hands back to Python.
struct FitOutcome {
    study: StudyRecord,
    rows_json: String,
    model: Option<Vec<u8>>,
    cancelled: bool,
    report: String,
}

/// An engine error as a Python exception: ValueError for what the caller passed (settings,
/// data), RuntimeError for the rest (store, training machinery).
fn py_err(e: EngineError) -> PyErr {
    match &e {
        EngineError::InvalidSetting { .. }
        | EngineError::UnknownMetric { .. }
        | EngineError::MetricNotForTask { .. }
        | EngineError::UnknownStrategy { .. }
        | EngineError::Split { .. }
        | EngineError::Data(_) => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// The label that stands for in-memory data in the engine's messages and study record.
fn frame_label() -> &'static Path {
    Path::new("<DataFrame>")
}

/// Run one study to its end on the calling (worker) thread.
fn run_fit(
    s: FitSettings,
    started: Instant,
    cancel: Arc<AtomicBool>,
    abort: Arc<AtomicBool>,
) -> Result<FitOutcome, EngineError> {
    let opts = ReadOptions {
        target: s.target.clone(),
        task: s.task,
        ..ReadOptions::default()
    };
    let mut builder = match s.source {
        Source::Ipc(bytes) => StudyBuilder::new(automl_data::load_training_bytes(
            frame_label(),
            &bytes,
            &opts,
        )?),
        Source::File(path) => StudyBuilder::from_csv_with(path, opts),
    }
    .started(started)
    .seed(s.seed)
    .cancel_flag(cancel)
    .abort_flag(abort);
    if let Some(t) = s.time_budget {
        builder = builder.time_budget(t);
    }
    if let Some(n) = s.max_trials {
        builder = builder.max_trials(n);
    }
    if let Some(j) = s.jobs {
        builder = builder.jobs(j);
    }
    if let Some(m) = &s.metric {
        builder = builder.metric_name(m)?;
    }
    builder.check()?;
    let report = builder.load()?.report.to_string();
    // The store is opened only for the fit (a temporary one in memory when none is given), so
    // two estimators on the same path never hold its lock at once.
    let store: Box<dyn Store> = match &s.store {
        None => Box::new(MemoryStore::new()),
        Some(at) => match StoreLocation::parse(at)? {
            StoreLocation::Dir(dir) => Box::new(automl_engine::open_store(&dir)?),
            pg @ StoreLocation::Postgres(_) => automl_store::open_store(&pg)?,
        },
    };
    let study = builder.create(store.as_ref())?;
    let metric = study.metric();
    let summary = study.run(&mut |_| {})?;
    let id = summary.study.study_id;
    let rows: Vec<serde_json::Value> = leaderboard(&store.trials(id)?, metric)
        .into_iter()
        .map(|r| serde_json::json!({"rank": r.rank, "trial": r.trial}))
        .collect();
    let model = store.blob(id, FINAL_MODEL_BLOB)?;
    store.flush()?;
    Ok(FitOutcome {
        study: summary.study,
        rows_json: serde_json::Value::Array(rows).to_string(),
        model,
        cancelled: summary.cancelled,
        report,
    })
}

/// Run `work` on its own thread with the GIL released. Every [`SIGNAL_POLL`] the calling thread
/// runs Python's signal handlers: the first exception they raise (KeyboardInterrupt on Ctrl-C)
/// sets `cancel`, a second one `abort`; the work is always waited for, and the first exception
/// is returned beside its result for the caller to raise.
fn run_interruptible<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    abort: &AtomicBool,
    work: impl FnOnce() -> T + Send,
) -> PyResult<(T, Option<PyErr>)> {
    std::thread::scope(|scope| {
        let handle = scope.spawn(work);
        let mut interrupt: Option<PyErr> = None;
        loop {
            let finished = py.detach(|| {
                let t0 = Instant::now();
                while !handle.is_finished() && t0.elapsed() < SIGNAL_POLL {
                    std::thread::sleep(Duration::from_millis(5));
                }
                handle.is_finished()
            });
            if finished {
                break;
            }
            if let Err(e) = py.check_signals() {
                if interrupt.is_none() {
                    cancel.store(true, Ordering::SeqCst);
                    interrupt = Some(e);
                } else {
                    abort.store(true, Ordering::SeqCst);
                }
            }
        }
        match handle.join() {
            Ok(out) => Ok((out, interrupt)),
            Err(_) => Err(PyRuntimeError::new_err(
                "the automl engine panicked during the fit (see the message above)",
            )),
        }
    })
}

/// Fit a study. `data`: Arrow IPC stream bytes, or None with `path` a data file. Returns a dict:
/// `study` (the study record as JSON), `leaderboard` (JSON rows `{rank, trial}`, best first),
/// `model` (the final model's bytes, None if no trial completed), `cancelled`, `report` (the
/// data report) and `interrupt` (the exception a signal handler raised, None if none).
#[pyfunction]
#[pyo3(signature = (data, path, target, *, task=None, store=None, time_budget=None,
    max_trials=None, metric=None, seed=0, jobs=None))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    data: Option<Vec<u8>>,
    path: Option<PathBuf>,
    target: Option<String>,
    task: Option<&str>,
    store: Option<String>,
    time_budget: Option<f64>,
    max_trials: Option<u64>,
    metric: Option<String>,
    seed: u64,
    jobs: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let started = Instant::now();
    let source = match (data, path) {
        (Some(bytes), None) => Source::Ipc(bytes),
        (None, Some(path)) => Source::File(path),
        _ => return Err(PyValueError::new_err("pass either data bytes or a path")),
    };
    let task = match task {
        None => None,
        Some("binary") => Some(Task::Binary),
        Some("multiclass") => Some(Task::Multiclass),
        Some("regression") => Some(Task::Regression),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "task must be binary, multiclass or regression (got {other})"
            )));
        }
    };
    let settings = FitSettings {
        source,
        target,
        task,
        store,
        time_budget,
        max_trials,
        metric,
        seed,
        jobs,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    let (c, a) = (cancel.clone(), abort.clone());
    let (out, interrupt) = run_interruptible(py, &cancel, &abort, move || {
        run_fit(settings, started, c, a)
    })?;
    let out = match (out, interrupt) {
        (Ok(out), interrupt) => (out, interrupt),
        // An interrupted fit that failed (e.g. while reading the data) raises the interrupt.
        (Err(_), Some(interrupt)) => return Err(interrupt),
        (Err(e), None) => return Err(py_err(e)),
    };
    let (o, interrupt) = out;
    let d = PyDict::new(py);
    d.set_item(
        "study",
        serde_json::to_string(&o.study).map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
    )?;
    d.set_item("leaderboard", o.rows_json)?;
    d.set_item("model", o.model.map(|m| PyBytes::new(py, &m)))?;
    d.set_item("cancelled", o.cancelled)?;
    d.set_item("report", o.report)?;
    d.set_item("interrupt", interrupt.map(|e| e.into_value(py)))?;
    Ok(d)
}

/// A fitted final model, rebuilt from its bytes and its study record (a pickled estimator
/// keeps just those two).
#[pyclass(frozen, module = "automl._core")]
struct Model {
    predictor: Predictor,
    info: PredictorInfo,
    study: StudyRecord,
}

#[pymethods]
impl Model {
    /// Decode a model: `model` are the final model's bytes, `study` the study record as JSON.
    #[new]
    fn new(model: &[u8], study: &str) -> PyResult<Self> {
        let (predictor, info) =
            Predictor::from_bytes(model).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let study: StudyRecord =
            serde_json::from_str(study).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Model {
            predictor,
            info,
            study,
        })
    }

    /// Predict Arrow IPC stream bytes (columns matched by name, as `automl predict` matches a
    /// CSV's). Returns `(values, proba)`: float64 little-endian bytes, one value per row (the
    /// class index for classification), and for classification the row-major probabilities
    /// (rows x classes, in the study's class order), else None.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        data: Vec<u8>,
    ) -> PyResult<(Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>)> {
        let tokens = ReadOptions::default().missing_tokens;
        let (values, proba) = py
            .detach(|| -> Result<_, EngineError> {
                let frame = automl_data::load_for_prediction_bytes(
                    frame_label(),
                    &data,
                    &self.study.schema,
                    &tokens,
                )?;
                let pred = self.predictor.predict(&frame, self.info)?;
                let le = |xs: &mut dyn Iterator<Item = f64>| -> Vec<u8> {
                    xs.flat_map(f64::to_le_bytes).collect()
                };
                let values = le(&mut pred.values.iter().copied());
                let proba = pred.proba.map(|p| le(&mut p.iter().copied()));
                Ok((values, proba))
            })
            .map_err(py_err)?;
        Ok((
            PyBytes::new(py, &values),
            proba.map(|p| PyBytes::new(py, &p)),
        ))
    }
}

/// The `automl._core` module.
#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_class::<Model>()?;
    m.add("ENGINE_VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
