//! Parquet input and output end to end: `automl fit data.parquet` gives the leaderboard of the
//! same CSV (same seed and trials), `automl predict x.parquet --output p.parquet` writes the
//! predictions of the CSV as Parquet, and `drift` and `evaluate` read Parquet.

use std::path::Path;

use crate::cli::leaderboard_json;
use crate::util::*;
use automl_data::OutColumn;
use serde_json::Value;

/// Write a CSV (as `read_csv` parses it) as Parquet: all-number columns as f64 (an empty
/// cell as NaN, i.e. missing), the others as strings. Returns the file name.
fn to_parquet(csv: &Path, out: &Path) {
    let (header, rows) = read_csv(csv);
    let cols = header
        .iter()
        .enumerate()
        .map(|(j, h)| {
            let cells: Vec<&str> = rows.iter().map(|r| r[j].as_str()).collect();
            let nums: Option<Vec<f64>> = cells
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        Some(f64::NAN)
                    } else {
                        c.parse().ok()
                    }
                })
                .collect();
            let col = match nums {
                Some(v) => OutColumn::Numbers(v),
                None => OutColumn::Text(cells.iter().map(|c| c.to_string()).collect()),
            };
            (h.clone(), col)
        })
        .collect::<Vec<_>>();
    automl_data::write_parquet(out, &cols).unwrap();
}

fn fit(dir: &Path, data: &str, store: &str) {
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            store,
            "--space",
            "fast",
            "--max-trials",
            "4",
            "--seed",
            "5",
            "--jobs",
            "2",
            "-q",
        ],
    )
    .ok();
}

/// What must not depend on the file format: trials, families, parameters, fold scores.
fn board(dir: &Path, store: &str) -> Vec<Value> {
    leaderboard_json(dir, store)
        .into_iter()
        .map(|r| serde_json::json!([r["trial_id"], r["family"], r["params"], r["fold_scores"]]))
        .collect()
}

#[test]
fn parquet_fits_predicts_and_drifts_like_the_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(example("churn.csv"), dir.join("train.csv")).unwrap();
    to_parquet(&example("churn.csv"), &dir.join("train.parquet"));

    fit(dir, "train.csv", "from_csv");
    fit(dir, "train.parquet", "from_parquet");
    let (a, b) = (board(dir, "from_csv"), board(dir, "from_parquet"));
    assert!(a.len() >= 2, "{a:?}");
    assert_eq!(a, b);

    // Parquet in, Parquet out: the same predictions as CSV in, CSV out.
    let csv_preds = predict_in(dir, "from_parquet", "train.csv", "p.csv", &[]);
    let pq_preds = predict_in(dir, "from_parquet", "train.parquet", "p.parquet", &[]);
    let bytes = std::fs::read(&pq_preds).unwrap();
    assert!(bytes.starts_with(b"PAR1"), "a Parquet file");
    let tokens = [String::new()];
    let want = automl_data::read_frame(&csv_preds, &tokens).unwrap();
    let got = automl_data::read_frame(&pq_preds, &tokens).unwrap();
    assert_eq!(got.names(), vec!["prediction", "proba_no", "proba_yes"]);
    assert_eq!(got.n_rows, 600);
    assert_eq!(format!("{got:?}"), format!("{want:?}"));

    // drift and evaluate read the Parquet file (and only as much as the CSV says).
    let drift = |file: &str| {
        let r = run_in(
            dir,
            &["drift", "--store", "from_csv", file, "--format", "json"],
        );
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let mut v: Value = serde_json::from_str(&r.stdout()).unwrap();
        v.as_object_mut().unwrap().remove("input");
        v
    };
    assert_eq!(drift("train.parquet"), drift("train.csv"));
    let evaluate = |file: &str| {
        let r = run_in(
            dir,
            &["evaluate", "--store", "from_csv", file, "--format", "json"],
        );
        assert!(matches!(r.code(), 0 | 3), "{}", r.stderr());
        let v: Value = serde_json::from_str(&r.stdout()).unwrap();
        v["live"].clone()
    };
    let score = evaluate("train.parquet");
    assert!(score.is_number(), "{score}");
    assert_eq!(score, evaluate("train.csv"));
}

#[test]
fn regression_predictions_in_parquet_are_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    to_parquet(&example("houses.csv"), &dir.join("houses.parquet"));
    fit(dir, "houses.parquet", "s");
    let p = predict_in(dir, "s", "houses.parquet", "p.parquet", &[]);
    let csv = predict_in(dir, "s", "houses.parquet", "p.csv", &[]);
    let got = automl_data::read_frame(&p, &[String::new()]).unwrap();
    assert_eq!(got.names(), vec!["prediction"]);
    let col = got.column("prediction").unwrap();
    assert_eq!(col.kind.to_string(), "numeric");
    let want = automl_data::read_frame(&csv, &[String::new()]).unwrap();
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
}

#[test]
fn a_broken_parquet_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    to_parquet(&example("churn.csv"), &dir.join("train.parquet"));
    let bytes = std::fs::read(dir.join("train.parquet")).unwrap();
    std::fs::write(dir.join("cut.parquet"), &bytes[..bytes.len() / 3]).unwrap();
    let r = run_in(
        dir,
        &["fit", "cut.parquet", "--store", "s", "--max-trials", "2"],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    let err = r.stderr();
    assert!(
        err.contains("cut.parquet") && err.contains("not a readable Parquet file"),
        "{err}"
    );
}
