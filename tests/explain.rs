//! `automl explain`: permutation importance on held-out folds ranks a planted signal, gain
//! importance and per-row contributions for the tree families, the output shapes, the
//! ensemble trial, the missing-data error and determinism.

use crate::util::run_in;
use automl_core::Rng;
use serde_json::Value;
use std::path::Path;

/// y = 3·x1 + 0.7·x2 + 0.3·sin(6·x1) + noise; x3 is pure noise. Fits a study; returns the
/// final trial's id.
fn planted(dir: &Path) -> u64 {
    let mut rng = Rng::new(7);
    let mut text = String::from("x1,x2,x3,y\n");
    for _ in 0..300 {
        let (x1, x2, x3) = (
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
        );
        // The wiggle in x1 is what a linear model misses and trees catch, so the
        // ensemble of the two beats either alone and is built.
        let y = 3.0 * x1 + 0.7 * x2 + 0.3 * (6.0 * x1).sin() + 0.1 * rng.normal();
        text.push_str(&format!("{x1:.5},{x2:.5},{x3:.5},{y:.5}\n"));
    }
    std::fs::write(dir.join("train.csv"), text).unwrap();
    std::fs::write(
        dir.join("space.toml"),
        r#"version = 1
name = "explain-test"
description = "ridge and gbdt"

[families.ridge]
tasks = ["regression"]
[families.ridge.params]
alpha = { type = "float", low = 1e-3, high = 10.0, log = true, default = 1.0 }

[families.gbdt]
[families.gbdt.params]
learning_rate = { type = "float", low = 0.03, high = 0.3, log = true, default = 0.1 }
max_rounds = { type = "int", low = 20, high = 100, log = true, default = 60 }
max_bins = { type = "fixed", value = 63 }
"#,
    )
    .unwrap();
    // `random` starts with the default of every family, cheapest first.
    let out = crate::util::fit_random(dir, "3", "1", &["-q"]).stdout();
    // "model: ensemble trial 3 (...)" or "model: trial 2 ..."
    let line = out.lines().find(|l| l.starts_with("model:")).unwrap();
    let after = &line[line.find("trial ").unwrap() + 6..];
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{out}"))
}

fn trial_of(dir: &Path, family: &str) -> String {
    let v: Value = serde_json::from_str(
        &run_in(dir, &["leaderboard", "--store", "s", "--format", "json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["family"] == family)
        .map(|r| r["trial_id"].to_string())
        .unwrap_or_else(|| panic!("no {family} trial in {v}"))
}

fn explain_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["explain", "--store", "s", "--format", "json"];
    args.extend_from_slice(extra);
    let r = run_in(dir, &args).ok();
    serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}\n{}", r.stdout()))
}

/// (importance, std, gain) by column.
fn by_column(v: &Value, name: &str) -> (f64, f64, Option<f64>) {
    let c = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {v}"));
    (
        c["importance"].as_f64().unwrap(),
        c["std"].as_f64().unwrap(),
        c["gain"].as_f64(),
    )
}

fn check_planted_ranking(v: &Value) {
    let (i1, _, _) = by_column(v, "x1");
    let (i2, _, _) = by_column(v, "x2");
    let (i3, s3, _) = by_column(v, "x3");
    assert!(i1 > i2 && i2 > i3, "{v}");
    assert!(i2 > 0.05, "{v}");
    assert!(i3.abs() <= s3.max(0.02), "x3 is noise: {v}");
    let order: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["x1", "x2", "x3"], "{v}");
}

#[test]
fn permutation_importance_ranks_the_planted_signal_for_gbdt_linear_and_ensemble() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let final_trial = planted(dir);
    let gbdt = trial_of(dir, "gbdt");
    let ridge = trial_of(dir, "ridge");

    let g = explain_json(dir, &["--trial", &gbdt]);
    check_planted_ranking(&g);
    assert_eq!(g["family"], "gbdt");
    assert_eq!(g["metric"], "rmse");
    assert_eq!(g["folds"], 5);
    assert_eq!(g["repeats"], 5);
    assert_eq!(g["rows"], 300);
    let gains: Vec<f64> = ["x1", "x2", "x3"]
        .iter()
        .map(|c| by_column(&g, c).2.expect("gain for gbdt"))
        .collect();
    assert!(gains[0] > gains[1] && gains[0] > gains[2], "{g}");
    assert!((gains.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{g}");

    let r = explain_json(dir, &["--trial", &ridge]);
    check_planted_ranking(&r);
    assert!(by_column(&r, "x1").2.is_none(), "no gain for ridge: {r}");
    for c in r["columns"].as_array().unwrap() {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["column", "gain", "importance", "std"], "{r}");
    }

    // The default trial is the final one; an ensemble trial predicts per fold.
    let d = explain_json(dir, &[]);
    assert_eq!(d["trial_id"].as_u64(), Some(final_trial), "{d}");
    check_planted_ranking(&d);
    let ens = trial_of(dir, "ensemble");
    let e = explain_json(dir, &["--trial", &ens]);
    assert_eq!(e["family"], "ensemble");
    check_planted_ranking(&e);

    // Deterministic for a seed; another seed shuffles differently.
    assert_eq!(explain_json(dir, &["--trial", &gbdt]), g);
    let other = explain_json(dir, &["--trial", &gbdt, "--seed", "9"]);
    assert_ne!(other["columns"], g["columns"]);

    // Table and CSV shapes.
    let t = run_in(dir, &["explain", "--store", "s", "--trial", &gbdt])
        .ok()
        .stdout();
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[0].contains("gbdt") && lines[0].contains("rmse"),
        "{t}"
    );
    assert!(
        lines[1].starts_with("column") && lines[1].contains("gain"),
        "{t}"
    );
    assert!(
        lines[2].starts_with("x1") && lines[4].starts_with("x3"),
        "{t}"
    );
    let c = run_in(
        dir,
        &[
            "explain", "--store", "s", "--trial", &ridge, "--format", "csv",
        ],
    )
    .ok()
    .stdout();
    let rows: Vec<Vec<&str>> = c.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["column", "importance", "std", "gain"]);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1][0], "x1");
    assert_eq!(rows[1][3], "", "no gain for ridge");
}

#[test]
fn contributions_sum_to_the_gbdt_prediction() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    planted(dir);
    let gbdt = trial_of(dir, "gbdt");
    let text = std::fs::read_to_string(dir.join("train.csv")).unwrap();
    let new: Vec<&str> = text.lines().take(21).collect();
    std::fs::write(dir.join("new.csv"), new.join("\n") + "\n").unwrap();
    let v = explain_json(dir, &["--trial", &gbdt, "--rows", "new.csv"]);
    assert_eq!(v["output"], "value");
    assert_eq!(v["columns"], serde_json::json!(["x1", "x2", "x3"]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 20);
    // the prediction of the trial's fold models
    run_in(
        dir,
        &[
            "predict", "--store", "s", "--trial", &gbdt, "new.csv", "--output", "p.csv",
        ],
    )
    .ok();
    let (header, preds) = crate::util::read_csv(&dir.join("p.csv"));
    let col = header.iter().position(|h| h == "prediction").unwrap();
    let mut x1_dominates = 0;
    for (r, p) in rows.iter().zip(&preds) {
        let base = r["base"].as_f64().unwrap();
        let c: Vec<f64> = r["contributions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let raw = r["raw"].as_f64().unwrap();
        assert!((base + c.iter().sum::<f64>() - raw).abs() < 1e-9, "{r}");
        let pred: f64 = p[col].parse().unwrap();
        assert!(
            (raw - pred).abs() < 1e-6 * pred.abs().max(1.0),
            "{raw} {pred}"
        );
        if c[0].abs() > c[2].abs() {
            x1_dominates += 1;
        }
    }
    assert!(x1_dominates >= 18, "{v}");
    // --top limits the table
    let t = run_in(
        dir,
        &[
            "explain", "--store", "s", "--trial", &gbdt, "--rows", "new.csv", "--top", "1",
        ],
    )
    .ok()
    .stdout();
    assert!(t.contains("Saabas"), "{t}");
    assert_eq!(
        t.lines().filter(|l| l.starts_with("  x")).count(),
        20,
        "{t}"
    );
    // not a tree model
    let ridge = trial_of(dir, "ridge");
    let r = run_in(
        dir,
        &[
            "explain", "--store", "s", "--trial", &ridge, "--rows", "new.csv",
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("tree families"), "{}", r.stderr());
}

#[test]
fn a_missing_or_changed_data_file_is_an_error_naming_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    planted(dir);
    std::fs::rename(dir.join("train.csv"), dir.join("moved.csv")).unwrap();
    let r = run_in(dir, &["explain", "--store", "s"]);
    assert_eq!(r.code(), 2, "{}", r.stdout());
    assert!(
        r.stderr().contains("--data") && r.stderr().contains("train.csv"),
        "{}",
        r.stderr()
    );
    // the report says why it has no importance, then has it with --data
    run_in(dir, &["report", "--store", "s", "--output", "r.md"]).ok();
    let md = std::fs::read_to_string(dir.join("r.md")).unwrap();
    let section = &md[md.find("## Feature importance").expect("the section")..];
    assert!(
        section.contains("not computed") && section.contains("--data"),
        "{section}"
    );
    run_in(
        dir,
        &[
            "report",
            "--store",
            "s",
            "--output",
            "r.md",
            "--data",
            "moved.csv",
        ],
    )
    .ok();
    let md = std::fs::read_to_string(dir.join("r.md")).unwrap();
    let section = &md[md.find("## Feature importance").expect("the section")..];
    let first_row = section.lines().find(|l| l.starts_with("| x")).unwrap();
    assert!(first_row.starts_with("| x1 |"), "{section}");
    run_in(
        dir,
        &[
            "report",
            "--store",
            "s",
            "--output",
            "r.html",
            "--data",
            "moved.csv",
        ],
    )
    .ok();
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(
        html.contains("<h2>Feature importance</h2><p>Permutation"),
        "{html}"
    );
    // --data finds it
    let v = explain_json(dir, &["--data", "moved.csv"]);
    check_planted_ranking(&v);
    // a file with other content is refused
    let text = std::fs::read_to_string(dir.join("moved.csv")).unwrap();
    std::fs::write(dir.join("other.csv"), text.replace("x1,x2", "x1,x2 ")).unwrap();
    let r = run_in(dir, &["explain", "--store", "s", "--data", "other.csv"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("--data") && r.stderr().contains("differs"),
        "{}",
        r.stderr()
    );
}
