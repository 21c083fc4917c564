//! Stacking end to end with the real binary: a search space of shrunk models (a penalised
//! ridge and a short gbdt both predict too close to the mean), which no convex
//! average can correct and a second layer can (weights summing above 1), so the stacking is the
//! final model; `predict` and an exported model file go through it.

use crate::util::{example, predict_in, read_csv, run_in, run_json};
use std::path::Path;

const SHRUNK: &str = r#"
version = 1
name = "shrunk"
description = "Two models that predict too close to the mean."

[families.ridge]
tasks = ["regression"]
[families.ridge.params]
alpha = { type = "fixed", value = 100.0 }

[families.gbdt]
[families.gbdt.params]
learning_rate = { type = "fixed", value = 0.1 }
max_leaves = { type = "fixed", value = 4 }
min_samples_leaf = { type = "fixed", value = 20 }
min_child_weight = { type = "fixed", value = 0.001 }
lambda_l2 = { type = "fixed", value = 1.0 }
lambda_l1 = { type = "fixed", value = 0.0 }
subsample = { type = "fixed", value = 1.0 }
colsample = { type = "fixed", value = 1.0 }
max_rounds = { type = "fixed", value = 30 }
max_bins = { type = "fixed", value = 63 }
"#;

/// `fit` on houses.csv with the shrunk space (in `dir`), the fixed arguments and `extra`.
fn fit_args(dir: &Path, data: &Path, extra: &[&str]) -> Vec<String> {
    std::fs::write(dir.join("shrunk.toml"), SHRUNK).unwrap();
    let mut args = vec![
        "fit",
        data.to_str().unwrap(),
        "--store",
        "db",
        "--space",
        "shrunk.toml",
        "--max-trials",
        "6",
        "--strategy",
        "random",
        "--seed",
        "1",
        "--seed-variance",
        "0",
    ];
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

fn fit(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let data = example("houses.csv");
    let args = fit_args(dir, &data, &[extra, &["--format", "json"]].concat());
    run_json(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// What `fit` prints as text.
fn fit_text(dir: &Path, extra: &[&str]) -> String {
    let data = example("houses.csv");
    let args = fit_args(dir, &data, extra);
    run_in(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
        .ok()
        .stdout()
}

#[test]
fn a_stacking_final_model_predicts_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let doc = fit(dir, &[]);
    let st = &doc["stacking"];
    assert_eq!(st["used"], true, "{doc:#}");
    assert_eq!(doc["final"]["family"], "stacking", "{doc:#}");
    assert!(
        st["cv_score"].as_f64().unwrap() < st["ensemble_cv"].as_f64().unwrap(),
        "{st:#}"
    );
    let id = st["trial_id"].as_u64().unwrap().to_string();
    // `show` prints the decision; the leaderboard lists the stacking trial.
    let show = run_in(dir, &["show", &id, "--store", "db"]).ok().stdout();
    assert!(
        show.contains("stacking    used as the final model"),
        "{show}"
    );
    assert!(show.contains("2nd layer"), "{show}");
    run_in(dir, &["report", "--store", "db"]).ok();
    let report = std::fs::read_to_string(dir.join("automl-report.md")).unwrap();
    assert!(report.contains("- stacking: trial"), "{report}");
    // `explain` (the final model's trial by default) measures the stacking through its
    // members' fold models and its second layer.
    let explain = run_in(dir, &["explain", "--store", "db", "--repeats", "1"])
        .ok()
        .stdout();
    assert!(
        explain.contains(&format!("trial {id} (stacking)")),
        "{explain}"
    );
    assert!(explain.contains("importance"), "{explain}");
    // Predictions from the store and from an exported model file are the same, and closer to
    // the labels than the shrunk members could be on average.
    let data = example("houses.csv");
    let p = predict_in(dir, "db", data.to_str().unwrap(), "p.csv", &[]);
    run_in(dir, &["export", "--store", "db", "--output", "m.automl"]).ok();
    run_in(
        dir,
        &[
            "predict",
            data.to_str().unwrap(),
            "--model",
            "m.automl",
            "--output",
            "q.csv",
        ],
    )
    .ok();
    let (head, rows) = read_csv(&p);
    let (_, rows_q) = read_csv(&dir.join("q.csv"));
    assert_eq!(rows, rows_q);
    assert_eq!(rows.len(), 400, "{head:?}");
    let (_, truth) = read_csv(&data);
    let col = head.iter().position(|h| h.contains("price")).unwrap_or(0);
    let pred: Vec<f64> = rows.iter().map(|r| r[col].parse().unwrap()).collect();
    let y: Vec<f64> = truth.iter().map(|r| r[5].parse().unwrap()).collect();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let sse: f64 = pred.iter().zip(&y).map(|(p, y)| (p - y).powi(2)).sum();
    let sst: f64 = y.iter().map(|y| (y - mean).powi(2)).sum();
    assert!(sse < 0.5 * sst, "R² {}", 1.0 - sse / sst);
}

#[test]
fn no_stacking_turns_it_off() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = fit(tmp.path(), &["--no-stacking"]);
    assert!(doc["stacking"].is_null(), "{doc:#}");
    assert_ne!(doc["final"]["family"], "stacking");
}

#[test]
fn a_time_budget_reserves_the_stackings_projected_selection() {
    // Under a time budget the search times one second-layer fit on the members the stacking
    // would choose and holds the projected selection in its reserve when it is at most 10 %
    // of the budget (a few hundred fits of a 2-input layer on 400 rows against 3 s here); the
    // study's plan says so, and the stacking runs and wins as without a budget.
    let tmp = tempfile::tempdir().unwrap();
    let doc = fit(tmp.path(), &["--time-budget", "30"]);
    let plan = doc["end_of_study"].as_str().expect("the reserve's plan");
    assert!(
        plan.contains("the stacking's nested selection projected at")
            && plan.ends_with("reserved for it"),
        "{plan}"
    );
    assert_eq!(doc["stacking"]["used"], true, "{doc:#}");
    // The text output says it too.
    let tmp = tempfile::tempdir().unwrap();
    let text = fit_text(tmp.path(), &["--time-budget", "30"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("end of study: "))
        .unwrap_or_else(|| panic!("no end-of-study line:\n{text}"));
    assert!(
        line.contains("the stacking's nested selection projected at"),
        "{line}"
    );
    // Without a time budget nothing is projected.
    let tmp = tempfile::tempdir().unwrap();
    let doc = fit(tmp.path(), &[]);
    let plan = doc["end_of_study"].as_str().unwrap_or("");
    assert!(!plan.contains("stacking"), "{plan}");
}
