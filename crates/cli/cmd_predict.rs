//! `automl predict`: predict a CSV with a study's final model (or one trial's fold models),
//! and log the batch in the prediction log (unless `--no-log`).

use crate::args::PredictArgs;
use crate::output::{Doc, OutputFormat, print_json};
use anyhow::{Result, bail};
use automl_engine::predict::write_predictions;
use automl_engine::{ModelChoice, load_model};
use automl_monitor::predlog::{self, LogRecord, PredictionEntry, Role};
use std::time::Instant;

pub fn run(a: PredictArgs) -> Result<()> {
    let json = a.format == OutputFormat::Json;
    if json && a.output.as_os_str() == "/dev/stdout" {
        bail!(
            "--format json prints the summary on stdout: write the predictions to a file with --output FILE"
        );
    }
    let tokens = automl_data::ReadOptions::default().missing_tokens;
    let (model, store) = if let Some(file) = &a.model {
        (automl_engine::export::read_model_file(file)?, None)
    } else {
        let store = crate::store_arg::open_models(&a.store.store)?;
        let choice = a
            .trial
            .map(ModelChoice::Trial)
            .unwrap_or(ModelChoice::Final);
        let model = load_model(store.as_ref(), a.study, choice)?;
        drop(store);
        (model, Some(&a.store.store))
    };
    let name = crate::log_arg::model_log_name(a.model.as_deref(), a.trial, model.study.study_id);
    let start = Instant::now();
    let frame = model.read_input(&a.input, &tokens)?;
    let pred = model.predict_frame(&frame)?;
    let latency_us = start.elapsed().as_micros() as u64;
    write_predictions(&a.output, &pred, model.study.task, &model.study.classes)?;
    let n = pred.len();
    let using = match &a.model {
        Some(file) => format!("{} ({})", file.display(), model.description),
        None => format!("the {}", model.description),
    };
    if !json {
        eprintln!(
            "wrote {n} predictions to {} using {using}",
            a.output.display()
        );
    }
    let mut log = None;
    if !a.no_log {
        let dir = a.log.resolve(store);
        let entry = PredictionEntry {
            ts_ms: predlog::now_ms(),
            source: "predict".to_string(),
            model: name,
            role: Role::Batch,
            request_id: format!("predict-{}-{}", std::process::id(), predlog::now_ms()),
            rows: frame.n_rows,
            row_hashes: predlog::row_hashes(&frame),
            inputs: a.log_inputs.then(|| predlog::frame_records(&frame)),
            outputs: model.outputs_json(&pred),
            latency_us,
            error: None,
        };
        // The predictions are written: a log that cannot be written is a warning, not a
        // failed prediction.
        if crate::log_arg::append_or_warn(&dir, &LogRecord::Prediction(entry), "the batch") {
            log = Some(dir.display().to_string());
        }
    }
    if json {
        print_json(
            Doc::Predict,
            serde_json::json!({
                "rows": n,
                "output": a.output.display().to_string(),
                "model": model.description,
                "model_file": a.model.as_ref().map(|f| f.display().to_string()),
                "study_id": model.study.study_id,
                "trial_id": a.trial,
                "log": log,
            }),
        )?;
    }
    Ok(())
}
