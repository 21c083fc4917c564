//! Drift over a sliding window of the served traffic: the inputs of the last `window` rows the
//! server answered are kept (as the parsed requests, shared with the request path, so keeping
//! them costs a lock and a pointer), and checked against the served model's reference profile
//! on `GET /drift` and automatically every `every` answered rows, on a thread of its own. Each
//! check is logged as a drift entry (source `serve`) and sets the `automl_drift_detected`
//! gauge in `/metrics`.

use crate::state::{ApiError, Input, ServedModel};
use automl_monitor::drift::{DriftOptions, DriftReport, check};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

/// The window of recent inputs and when to check it.
pub(crate) struct DriftWindow {
    /// Rows kept (the oldest requests are dropped beyond it).
    cap_rows: usize,
    /// Check automatically after this many answered rows (0: only on `GET /drift`).
    every_rows: u64,
    inputs: Mutex<Window>,
    since_check: AtomicU64,
    /// Wakes the checking thread (a full channel means a check is already due).
    trigger: Mutex<Option<SyncSender<()>>>,
}

#[derive(Default)]
struct Window {
    requests: VecDeque<(Arc<Input>, usize)>,
    rows: usize,
    /// Requests ever kept: the newest request's number, which orders the checks' snapshots.
    answered: u64,
}

/// A check of the window as it was at one moment.
pub(crate) struct WindowCheck {
    pub report: DriftReport,
    /// Rows in the window checked.
    pub rows: usize,
    /// The number of the newest request in it: a later snapshot has a larger one.
    pub seq: u64,
}

impl DriftWindow {
    pub(crate) fn new(cap_rows: usize, every_rows: u64, trigger: Option<SyncSender<()>>) -> Self {
        DriftWindow {
            cap_rows: cap_rows.max(1),
            every_rows,
            inputs: Mutex::new(Window::default()),
            since_check: AtomicU64::new(0),
            trigger: Mutex::new(trigger),
        }
    }

    /// Keep an answered request's input (`rows` rows), and wake the checker when due.
    pub(crate) fn observe(&self, input: &Arc<Input>, rows: usize) {
        {
            let mut w = self.inputs.lock().unwrap();
            w.requests.push_back((input.clone(), rows));
            w.rows += rows;
            w.answered += 1;
            while w.rows > self.cap_rows && w.requests.len() > 1 {
                let (_, r) = w.requests.pop_front().unwrap();
                w.rows -= r;
            }
        }
        if self.every_rows > 0 {
            let seen = self.since_check.fetch_add(rows as u64, Relaxed) + rows as u64;
            if seen >= self.every_rows {
                self.since_check.store(0, Relaxed);
                if let Some(tx) = self.trigger.lock().unwrap().as_ref() {
                    let _ = tx.try_send(());
                }
            }
        }
    }

    /// Stop waking the checker (shutdown).
    pub(crate) fn close(&self) {
        self.trigger.lock().unwrap().take();
    }

    /// Check the window against `served`'s reference profile (with its predictions of the
    /// window's rows, for prediction drift).
    pub(crate) fn check(
        &self,
        served: &ServedModel,
        tokens: &[String],
    ) -> Result<WindowCheck, ApiError> {
        let model = &served.model;
        let Some(profile) = &model.profile else {
            return Err(ApiError::new(
                409,
                format!(
                    "the served model `{}` has no reference profile of its training data (fitted or exported before automl kept one); fit it again to monitor drift",
                    served.name
                ),
            ));
        };
        let (requests, rows, seq): (Vec<Arc<Input>>, usize, u64) = {
            let w = self.inputs.lock().unwrap();
            let requests = w.requests.iter().map(|(i, _)| i.clone()).collect();
            (requests, w.rows, w.answered)
        };
        if requests.is_empty() {
            return Err(ApiError::new(
                409,
                "no request has been answered yet: the drift window is empty",
            ));
        }
        // Every request parsed with the model's schema (one the model cannot read, answered
        // by a canary with another schema, is left out), then one frame of all their rows.
        let mut records: Vec<Map<String, Value>> = Vec::new();
        for input in &requests {
            if let Ok(frame) = input.frame(model, tokens) {
                records.extend(automl_monitor::predlog::frame_records(&frame));
            }
        }
        if records.is_empty() {
            return Err(ApiError::new(
                409,
                format!(
                    "no request in the drift window fits the schema of `{}`",
                    served.name
                ),
            ));
        }
        let schema = &model.study.schema;
        let frame = automl_data::frame_from_records(&records, schema, tokens)
            .map_err(|e| ApiError::new(500, format!("the drift window does not parse: {e}")))?;
        let pred = model
            .predict_frame(&frame)
            .map_err(|e| ApiError::new(500, format!("predicting the drift window: {e}")))?;
        let report = check(
            profile,
            &frame,
            Some((&pred, model.study.task)),
            &DriftOptions::default(),
        )
        .map_err(|e| ApiError::new(500, format!("the drift check failed: {e}")))?;
        Ok(WindowCheck { report, rows, seq })
    }
}
