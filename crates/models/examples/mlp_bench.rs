//! Time `mlp` fits on a CSV (docs/BENCHMARKS.md §26): the `Scaled` preprocessing fitted on
//! every row, then `reps` fits with the given settings, each on the calling thread.
//!
//! `cargo run --release -p automl-models --example mlp_bench -- FILE TARGET LAYERS WIDTH BATCH EPOCHS [REPS]`
//!
//! Prints one line per fit: seconds, epochs run, seconds per epoch, training score.
//!
//! `mlp_bench cv FILE TARGET`: 5-fold CV (preprocessing fitted per fold) of the default `mlp`,
//! `gbdt` and `logistic`/`ridge`, on the same folds; prints log loss or rmse and seconds.

use automl_core::{Metric, ParamValue, Params, PrepKind};
use automl_data::{Preprocessor, ReadOptions, kfold, load_training};
use automl_models::{FitInput, registry};
use std::path::Path;
use std::time::Instant;

fn cv(file: &str, target: &str) {
    let opts = ReadOptions {
        target: Some(target.to_string()),
        ..ReadOptions::default()
    };
    let data = load_training(Path::new(file), &opts).expect("readable training data");
    let k = data.classes.len();
    let metric = if data.task.is_classification() {
        Metric::LogLoss
    } else {
        Metric::Rmse
    };
    let linear = if k > 0 { "logistic" } else { "ridge" };
    for family in ["mlp", "gbdt", linear] {
        let f = registry().get(family).expect("registered");
        let t = Instant::now();
        let mut scores = Vec::new();
        for (i, split) in kfold(&data.y, data.task, 5, 0).iter().enumerate() {
            let prep = Preprocessor::fit(&data.features, &split.train, f.prep_kind());
            let x = prep
                .transform_rows(&data.features, &split.train)
                .expect("transform");
            let xv = prep
                .transform_rows(&data.features, &split.valid)
                .expect("transform");
            let y: Vec<f64> = split.train.iter().map(|&r| data.y[r]).collect();
            let yv: Vec<f64> = split.valid.iter().map(|&r| data.y[r]).collect();
            let mask = prep.categorical_mask();
            let mut input = FitInput::new(x.view(), &y, data.task, k, i as u64);
            input.categorical = &mask;
            let m = f.fit(&Params::new(), &input).expect("fit");
            scores.push(metric.compute(&yv, &m.predict(xv.view()).expect("predict"), k));
        }
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        println!(
            "{family}: 5-fold {metric:?} {mean:.4} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() == 4 && a[1] == "cv" {
        cv(&a[2], &a[3]);
        return;
    }
    if a.len() < 7 {
        eprintln!("usage: mlp_bench FILE TARGET LAYERS WIDTH BATCH EPOCHS [REPS]");
        std::process::exit(2);
    }
    let int = |i: usize| a[i].parse::<i64>().expect("an integer");
    let opts = ReadOptions {
        target: Some(a[2].clone()),
        ..ReadOptions::default()
    };
    let data = load_training(Path::new(&a[1]), &opts).expect("readable training data");
    let rows: Vec<usize> = (0..data.y.len()).collect();
    let prep = Preprocessor::fit(&data.features, &rows, PrepKind::Scaled);
    let x = prep.transform(&data.features).expect("transform");
    let k = data.classes.len();
    let mut p = Params::new();
    p.insert("n_layers".into(), ParamValue::Int(int(3)));
    p.insert("width".into(), ParamValue::Int(int(4)));
    p.insert("batch_size".into(), ParamValue::Int(int(5)));
    p.insert("max_epochs".into(), ParamValue::Int(int(6)));
    p.insert("dropout".into(), ParamValue::Float(0.0));
    p.insert("weight_decay".into(), ParamValue::Float(0.0));
    let reps = if a.len() > 7 { int(7) } else { 3 };
    let f = registry().get("mlp").expect("mlp is registered");
    println!(
        "{} rows x {} columns, task {}",
        x.nrows(),
        x.ncols(),
        data.task
    );
    for seed in 0..reps as u64 {
        let t = Instant::now();
        let m = f
            .fit(&p, &FitInput::new(x.view(), &data.y, data.task, k, seed))
            .expect("fit");
        let s = t.elapsed().as_secs_f64();
        let epochs: f64 = m.facts()["epochs"].parse().expect("epochs");
        let pred = m.predict(x.view()).expect("predict");
        let metric = if data.task.is_classification() {
            Metric::Accuracy
        } else {
            Metric::R2
        };
        let score = metric.compute(&data.y, &pred, k);
        println!(
            "fit {s:.3} s, {epochs} epochs, {:.4} s/epoch, train {metric:?} {score:.4}",
            s / epochs
        );
    }
}
