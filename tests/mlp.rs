//! The `mlp` family end to end: a study that may only try the neural network fits, stores and
//! reloads its models, and predicts with them.

use crate::cli::leaderboard_json;
use crate::util::{csv_rows, example, predict_in, run_in};
use serde_json::Value;

const SPACE: &str = r#"version = 1
name = "mlp-only"
description = "the neural network family alone"
[families.mlp.params]
n_layers = { type = "int", low = 1, high = 2, default = 1 }
width = { type = "int", low = 16, high = 64, log = true, default = 32 }
learning_rate = { type = "float", low = 1e-3, high = 1e-2, log = true, default = 3e-3 }
max_epochs = { type = "int", low = 20, high = 60, default = 40 }
"#;

fn fit_and_predict(file: &str) -> Vec<Value> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let space = dir.join("mlp.toml");
    std::fs::write(&space, SPACE).unwrap();
    let data = example(file);
    let data = data.to_str().unwrap();
    let fit = run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--max-trials",
            "3",
            "--time-budget",
            "120",
            "--space",
            space.to_str().unwrap(),
            "--jobs",
            "1",
            "--seed",
            "5",
        ],
    )
    .ok();
    assert!(fit.stdout().contains("best: trial"), "{}", fit.stdout());
    let rows = leaderboard_json(dir, "db");
    let trials: Vec<Value> = rows
        .iter()
        .filter(|r| !crate::util::is_meta_row(r))
        .cloned()
        .collect();
    assert_eq!(trials.len(), 3, "{rows:?}");
    for r in &trials {
        assert_eq!(r["family"], "mlp", "{r}");
        assert_eq!(r["state"], "complete", "{r}");
    }
    let out = predict_in(dir, "db", data, "pred.csv", &[]);
    assert_eq!(csv_rows(&out), csv_rows(&example(file)));
    trials
}

#[test]
fn mlp_alone_fits_and_predicts_classification() {
    let trials = fit_and_predict("flowers.csv");
    // Three separable species: a small network gets most of them right.
    let best = trials
        .iter()
        .filter_map(|r| r["metrics"]["accuracy"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(best > 0.8, "best CV accuracy {best}: {trials:?}");
}

#[test]
fn mlp_alone_fits_and_predicts_regression() {
    fit_and_predict("houses.csv");
}
