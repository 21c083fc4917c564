//! Fits every family (default parameters) on every bench dataset of its task with 3-fold CV
//! and prints the task's default metric next to a constant baseline (class priors / mean).
//! Run in release: `cargo run --release -p automl-models --example zoo_bench [DATA_DIR] [NAME...]`.

use automl_core::{Metric, Params, Predictions, Task};
use automl_data::{Preprocessor, ReadOptions, kfold, load_training};
use automl_models::{FitInput, registry};
use ndarray::Array2;
use std::path::PathBuf;
use std::time::Instant;

fn baseline(y_train: &[f64], n_valid: usize, task: Task, n_classes: usize) -> Predictions {
    if task.is_classification() {
        let mut prior = vec![0.0; n_classes];
        for v in y_train {
            prior[*v as usize] += 1.0 / y_train.len() as f64;
        }
        let mut p = Array2::zeros((n_valid, n_classes));
        for mut row in p.rows_mut() {
            row.assign(&ndarray::ArrayView1::from(&prior));
        }
        Predictions::from_proba(p)
    } else {
        let mean = y_train.iter().sum::<f64>() / y_train.len() as f64;
        Predictions::regression(vec![mean; n_valid])
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/bench/data"
        ))
    });
    let only: Vec<String> = args.collect();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("train.csv").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| only.is_empty() || only.contains(n))
        .collect();
    names.sort();
    println!("| dataset | task | metric | family | 3-fold CV | baseline | fit s (3 folds) |");
    println!("|---|---|---|---|---:|---:|---:|");
    for name in names {
        let ds = load_training(&dir.join(&name).join("train.csv"), &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let metric = Metric::default_for(ds.task);
        let k = ds.n_classes();
        let splits = kfold(&ds.y, ds.task, 3, 42);
        let mut base = 0.0;
        for s in &splits {
            let y_tr: Vec<f64> = s.train.iter().map(|&i| ds.y[i]).collect();
            let y_va: Vec<f64> = s.valid.iter().map(|&i| ds.y[i]).collect();
            base += metric.compute(&y_va, &baseline(&y_tr, y_va.len(), ds.task, k), k) / 3.0;
        }
        for f in registry().families_for(ds.task) {
            let too_big = f
                .max_rows()
                .is_some_and(|m| splits.iter().any(|s| s.train.len() > m));
            if too_big {
                println!(
                    "| {name} | {} | {metric} | {} | skipped (> {} rows) | {base:.4} | |",
                    ds.task,
                    f.name(),
                    f.max_rows().unwrap_or(0)
                );
                continue;
            }
            let mut score = 0.0;
            let mut secs = 0.0;
            let mut error = None;
            for s in &splits {
                let prep = Preprocessor::fit(&ds.features, &s.train, f.prep_kind());
                let x_tr = prep
                    .transform_rows(&ds.features, &s.train)
                    .expect("transform");
                let x_va = prep
                    .transform_rows(&ds.features, &s.valid)
                    .expect("transform");
                let y_tr: Vec<f64> = s.train.iter().map(|&i| ds.y[i]).collect();
                let y_va: Vec<f64> = s.valid.iter().map(|&i| ds.y[i]).collect();
                let input = FitInput::new(x_tr.view(), &y_tr, ds.task, k, 42);
                let t = Instant::now();
                match f
                    .fit(&Params::new(), &input)
                    .and_then(|m| m.predict(x_va.view()))
                {
                    Ok(p) => score += metric.compute(&y_va, &p, k) / 3.0,
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
                secs += t.elapsed().as_secs_f64();
            }
            match error {
                Some(e) => println!(
                    "| {name} | {} | {metric} | {} | error: {e} | {base:.4} | |",
                    ds.task,
                    f.name()
                ),
                None => println!(
                    "| {name} | {} | {metric} | {} | {score:.4} | {base:.4} | {secs:.2} |",
                    ds.task,
                    f.name()
                ),
            }
        }
    }
}
