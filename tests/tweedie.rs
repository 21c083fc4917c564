//! The `gbdt`'s `objective` on regression: on a count target both `l2` and `tweedie` trials are
//! searched and complete, a tweedie trial's model predicts exp of its raw score (what
//! `automl explain --rows` attributes, labelled as the log of the value), and a target with a
//! negative value does not search the parameter at all; a model file exported before the
//! objective existed predicts as it did.

use crate::cli::leaderboard_json;
use crate::util::*;
use automl_core::Rng;
use serde_json::Value;
use std::path::Path;

const SPACE: &str = r#"version = 1
name = "tweedie"
description = "gbdt with its regression objective"

[families.gbdt]
[families.gbdt.params]
learning_rate = { type = "float", low = 0.05, high = 0.3, log = true, default = 0.1 }
max_rounds = { type = "int", low = 20, high = 80, log = true, default = 40 }
max_bins = { type = "fixed", value = 63 }
objective = { type = "categorical", choices = ["l2", "tweedie"], default = "l2", tasks = ["regression"] }
tweedie_power = { type = "float", low = 1.1, high = 1.9, default = 1.3, when = { objective = ["tweedie"] }, tasks = ["regression"] }
"#;

/// `n` rows of x1, x2 and a Poisson count (few distinct values: `--task regression` is given) whose mean is exp(0.5 + x1 - 0.5 x2), minus `shift`.
fn counts(n: usize, shift: f64) -> String {
    let mut rng = Rng::new(11);
    let mut s = String::from("x1,x2,y\n");
    for _ in 0..n {
        let (x1, x2) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
        let mu = (0.5 + x1 - 0.5 * x2).exp();
        let (mut k, mut p, u) = (0u32, (-mu).exp(), rng.uniform(0.0, 1.0));
        let mut cum = p;
        while u > cum && k < 200 {
            k += 1;
            p *= mu / k as f64;
            cum += p;
        }
        s.push_str(&format!("{x1:.5},{x2:.5},{}\n", k as f64 - shift));
    }
    s
}

fn fit(dir: &Path, shift: f64) -> Vec<Value> {
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    std::fs::write(dir.join("train.csv"), counts(400, shift)).unwrap();
    fit_random(dir, "8", "3", &["--jobs", "1", "--task", "regression"]);
    leaderboard_json(dir, "s")
        .into_iter()
        .filter(|r| r["family"] == "gbdt")
        .collect()
}

#[test]
fn a_count_target_searches_the_tweedie_objective_whose_model_predicts_exp_of_its_raw_score() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rows = fit(dir, 0.0);
    let objective = |r: &Value| r["params"]["objective"].as_str().map(str::to_string);
    assert!(
        rows.iter().any(|r| objective(r).as_deref() == Some("l2")),
        "{rows:?}"
    );
    let tweedie: Vec<&Value> = rows
        .iter()
        .filter(|r| objective(r).as_deref() == Some("tweedie"))
        .collect();
    assert!(!tweedie.is_empty(), "{rows:?}");
    for r in &tweedie {
        assert_eq!(r["state"], "complete", "{r}");
        let power = r["params"]["tweedie_power"].as_f64().unwrap();
        assert!((1.1..=1.9).contains(&power), "{r}");
    }
    // an `l2` trial has no power (the parameter is conditional)
    assert!(
        rows.iter()
            .filter(|r| objective(r).as_deref() == Some("l2"))
            .all(|r| r["params"].get("tweedie_power").is_none()),
        "{rows:?}"
    );
    // the tweedie trial's fold models: the contributions add up to the log of the prediction
    let id = tweedie[0]["trial_id"].to_string();
    let text = std::fs::read_to_string(dir.join("train.csv")).unwrap();
    let new: Vec<&str> = text.lines().take(11).collect();
    std::fs::write(dir.join("new.csv"), new.join("\n") + "\n").unwrap();
    let r = run_in(
        dir,
        &[
            "explain", "--store", "s", "--format", "json", "--trial", &id, "--rows", "new.csv",
        ],
    )
    .ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["output"], "log of the value", "{v}");
    run_in(
        dir,
        &[
            "predict", "--store", "s", "--trial", &id, "new.csv", "--output", "p.csv",
        ],
    )
    .ok();
    let (header, preds) = read_csv(&dir.join("p.csv"));
    let col = header.iter().position(|h| h == "prediction").unwrap();
    let explained = v["rows"].as_array().unwrap();
    assert_eq!(explained.len(), 10);
    for (e, p) in explained.iter().zip(&preds) {
        let pred: f64 = p[col].parse().unwrap();
        assert!(pred > 0.0, "{pred}");
        // exp of the fold models' mean log is their geometric mean, at most their arithmetic
        // mean (the prediction); equal when the folds agree, so only close.
        let geo = e["raw"].as_f64().unwrap().exp();
        assert!(geo <= pred * (1.0 + 1e-9), "{geo} {pred}");
        assert!(geo >= 0.8 * pred, "{geo} {pred}");
    }
    // the final model predicts new rows
    let out = predict_in(dir, "s", "new.csv", "final.csv", &[]);
    assert_eq!(csv_rows(&out), 10);
}

#[test]
fn a_target_with_a_negative_value_does_not_search_the_objective() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rows = fit(dir, 1.0);
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["params"].get("objective").is_none()
            && r["params"].get("tweedie_power").is_none()
            && r["state"] == "complete"),
        "{rows:?}"
    );
}

/// A model file exported before the tweedie objective existed (a `gbdt` on regression,
/// `automl export` of d8926ba; its predictions of the rows written by that build) decodes and
/// predicts the same rows identically: the objective is the enum's last variant.
#[test]
fn a_gbdt_exported_before_the_tweedie_objective_predicts_as_it_did() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (from, to) in [
        ("gbdt_before_tweedie.automl", "m.automl"),
        ("gbdt_before_tweedie_rows.csv", "rows.csv"),
    ] {
        std::fs::copy(fixtures.join(from), dir.join(to)).unwrap();
    }
    run_in(
        dir,
        &[
            "predict", "--model", "m.automl", "rows.csv", "--output", "p.csv",
        ],
    )
    .ok();
    let (_, now) = read_csv(&dir.join("p.csv"));
    let (_, then) = read_csv(&fixtures.join("gbdt_before_tweedie_preds.csv"));
    assert_eq!(now.len(), 12);
    assert_eq!(now.len(), then.len());
    for (a, b) in now.iter().zip(&then) {
        let (a, b): (f64, f64) = (a[0].parse().unwrap(), b[0].parse().unwrap());
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} {b}");
    }
}
