//! `cat_encoding`: on a CSV with a 40-level string column, `target` trials are searched,
//! complete, and the final model predicts new rows with unseen and missing levels; on
//! all-numeric data the parameter is not searched at all.

use crate::cli::leaderboard_json;
use crate::util::*;
use std::fmt::Write as _;

const SPACE: &str = r#"version = 1
name = "catenc"
description = "logistic with cat_encoding"

[families.logistic]
tasks = ["binary", "multiclass"]
[families.logistic.params]
alpha = { type = "float", low = 1e-4, high = 1.0, log = true, default = 1e-3 }
max_iterations = { type = "fixed", value = 100 }
cat_encoding = { type = "categorical", choices = ["onehot", "target"], default = "onehot" }
"#;

/// `n` rows of x (numeric), city (40 levels, every 17th missing) and a noisy binary label
/// driven by the city; `numeric_only` drops the city.
fn csv(n: usize, numeric_only: bool) -> String {
    let mut s = String::from(if numeric_only {
        "x,label\n"
    } else {
        "x,city,label\n"
    });
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    for i in 0..n {
        let x = next() * 2.0 - 1.0;
        let c = (next() * 40.0) as usize;
        let p = if c % 3 == 0 { 0.8 } else { 0.2 };
        let y = if next() < p { "yes" } else { "no" };
        if numeric_only {
            writeln!(s, "{x:.4},{y}").unwrap();
        } else if i % 17 == 0 {
            writeln!(s, "{x:.4},,{y}").unwrap();
        } else {
            writeln!(s, "{x:.4},city{c:02},{y}").unwrap();
        }
    }
    s
}

fn fit(dir: &std::path::Path, data: &str) {
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--space",
            "space.toml",
            "--strategy",
            "random",
            "--max-trials",
            "8",
            "--seed",
            "1",
            "--jobs",
            "1",
        ],
    )
    .ok();
}

#[test]
fn target_encoding_is_searched_on_a_high_cardinality_column_and_predicts_unseen_levels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    std::fs::write(dir.join("train.csv"), csv(400, false)).unwrap();
    fit(dir, "train.csv");
    let rows = leaderboard_json(dir, "db");
    let enc: Vec<&str> = rows
        .iter()
        .filter(|r| r["family"] == "logistic")
        .filter_map(|r| r["params"]["cat_encoding"].as_str())
        .collect();
    assert!(enc.contains(&"onehot"), "{enc:?}");
    assert!(enc.contains(&"target"), "{enc:?}");
    assert!(
        rows.iter()
            .filter(|r| r["params"]["cat_encoding"] == "target")
            .all(|r| r["state"] == "complete" && r["mean"].is_number()),
        "{rows:?}"
    );
    std::fs::write(
        dir.join("new.csv"),
        "x,city\n0.5,city00\n0.5,somewhere_else\n-0.2,\n0.1,city01\n",
    )
    .unwrap();
    let out = predict_in(dir, "db", "new.csv", "preds.csv", &[]);
    assert_eq!(csv_rows(&out), 4);
}

#[test]
fn all_numeric_data_does_not_search_cat_encoding() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    std::fs::write(dir.join("train.csv"), csv(200, true)).unwrap();
    fit(dir, "train.csv");
    let rows = leaderboard_json(dir, "db");
    assert!(rows.iter().any(|r| r["family"] == "logistic"));
    assert!(
        rows.iter()
            .all(|r| r["params"].get("cat_encoding").is_none()),
        "{rows:?}"
    );
}
