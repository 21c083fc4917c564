//! `automl drift` end to end: fit on half of the churn example, then check the other half as
//! is (exit 0) and with planted shifts (exit 3: a scaled column, a new category, covariate-
//! shifted rows), from the store and from an exported model file; a model without a profile
//! is a clear exit-2 error.

use crate::util::*;
use serde_json::Value;
use std::path::Path;

/// The churn example split by row parity: `train.csv` (even rows) and the planted files made
/// from the odd rows.
fn fixtures(dir: &Path) {
    let (header, rows) = read_csv(&example("churn.csv"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (charges, contract, tenure) = (
        col("monthly_charges"),
        col("contract"),
        col("tenure_months"),
    );
    let write = |name: &str, rows: &[Vec<String>]| {
        let mut text = header.join(",") + "\n";
        for r in rows {
            text += &(r.join(",") + "\n");
        }
        std::fs::write(dir.join(name), text).unwrap();
    };
    let even: Vec<Vec<String>> = rows.iter().step_by(2).cloned().collect();
    let odd: Vec<Vec<String>> = rows.iter().skip(1).step_by(2).cloned().collect();
    write("train.csv", &even);
    write("same.csv", &odd);
    let scaled: Vec<Vec<String>> = odd
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Ok(x) = r[charges].parse::<f64>() {
                r[charges] = format!("{:.2}", x * 1.5);
            }
            r
        })
        .collect();
    write("scaled.csv", &scaled);
    let newcat: Vec<Vec<String>> = odd
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            if i % 5 == 0 {
                r[contract] = "biennial".into();
            }
            r
        })
        .collect();
    write("newcat.csv", &newcat);
    // Long-tenure customers kept, two in three of the others dropped.
    let shifted: Vec<Vec<String>> = odd
        .iter()
        .enumerate()
        .filter(|(i, r)| r[tenure].parse::<f64>().unwrap() >= 36.0 || i % 3 == 0)
        .map(|(_, r)| r.clone())
        .collect();
    write("shifted.csv", &shifted);
}

fn fit(dir: &Path, store: &str, extra: &[&str]) {
    let mut args = vec![
        "fit",
        "train.csv",
        "--store",
        store,
        "--max-trials",
        "3",
        "--space",
        "fast",
        "--jobs",
        "2",
        "--seed",
        "1",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args).ok();
}

fn drift_json(dir: &Path, args: &[&str], want_code: i32) -> Value {
    let mut all = vec!["drift"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let r = run_in(dir, &all);
    assert_eq!(
        r.code(),
        want_code,
        "{all:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout(),
        r.stderr()
    );
    serde_json::from_str(&r.stdout()).expect("drift json")
}

fn flagged(report: &Value) -> Vec<String> {
    report["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn column<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {report}"))
}

#[test]
fn drift_flags_planted_shifts_and_not_a_fresh_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    fit(dir, "db", &[]);

    // The same distribution: exit 0, in the table too.
    let r = run_in(dir, &["drift", "--store", "db", "same.csv"]).ok();
    let out = r.stdout();
    assert!(out.contains("no drift"), "{out}");
    assert!(out.contains("domain classifier: AUC"), "{out}");
    let same = drift_json(dir, &["--store", "db", "same.csv"], 0);
    assert_eq!(same["drift"], false);
    assert_eq!(same["correction"], "holm");
    assert_eq!(same["n_new"], 300);
    assert_eq!(same["columns"].as_array().unwrap().len(), 6);
    for c in same["columns"].as_array().unwrap() {
        for key in [
            "kind",
            "test",
            "statistic",
            "p_value",
            "p_adjusted",
            "effect",
            "psi",
        ] {
            assert!(!c[key].is_null(), "{key} missing in {c}");
        }
        assert_eq!(c["flagged"], false, "{c}");
    }
    let preds: Vec<&str> = same["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(preds, ["prediction", "predicted_class"]);
    assert_eq!(same["domain"]["ran"], true);
    assert!(
        same["domain"]["auc"].as_f64().unwrap() < 0.6,
        "{}",
        same["domain"]
    );

    // A scaled column: exit 3, that column flagged, and the table says so.
    let scaled = drift_json(dir, &["--store", "db", "scaled.csv"], 3);
    assert!(flagged(&scaled).contains(&"monthly_charges".to_string()));
    assert_eq!(column(&scaled, "monthly_charges")["flagged"], true);
    assert_eq!(column(&scaled, "tenure_months")["flagged"], false);
    assert_eq!(
        scaled["domain"]["top_columns"][0]["column"],
        "monthly_charges"
    );
    let r = run_in(dir, &["drift", "--store", "db", "scaled.csv"]);
    assert_eq!(r.code(), 3);
    assert!(
        r.stdout().contains("DRIFT in: monthly_charges"),
        "{}",
        r.stdout()
    );

    // A new category.
    let newcat = drift_json(dir, &["--store", "db", "newcat.csv"], 3);
    let c = column(&newcat, "contract");
    assert_eq!(c["flagged"], true, "{c}");
    assert_eq!(c["unseen"][0], "biennial");

    // Covariate-shifted rows.
    let shifted = drift_json(dir, &["--store", "db", "shifted.csv"], 3);
    assert!(
        flagged(&shifted).contains(&"tenure_months".to_string()),
        "{shifted}"
    );

    // An exported model file carries the profile: the same verdicts without the store.
    run_in(dir, &["export", "--store", "db", "--output", "m.automl"]).ok();
    run_in(
        dir,
        &[
            "export",
            "--store",
            "db",
            "--trial",
            "1",
            "--output",
            "t1.automl",
        ],
    )
    .ok();
    std::fs::rename(dir.join("db"), dir.join("db-away")).unwrap();
    drift_json(dir, &["--model", "m.automl", "same.csv"], 0);
    let from_file = drift_json(dir, &["--model", "m.automl", "scaled.csv"], 3);
    assert_eq!(from_file["columns"], scaled["columns"]);

    // A model without a profile (a trial's fold models): a clear exit-2 error.
    let r = run_in(dir, &["drift", "--model", "t1.automl", "same.csv"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("no reference profile"),
        "{}",
        r.stderr()
    );
    assert!(r.stdout().is_empty());
    // As is a missing file.
    let r = run_in(dir, &["drift", "--model", "m.automl", "nope.csv"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
}

#[test]
fn drift_without_the_row_sample_uses_the_sketches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    fit(dir, "db", &["--no-profile-sample"]);
    let same = drift_json(dir, &["--store", "db", "same.csv"], 0);
    assert_eq!(same["domain"]["ran"], false);
    assert!(
        same["domain"]["skipped"]
            .as_str()
            .unwrap()
            .contains("no-profile-sample")
    );
    let scaled = drift_json(dir, &["--store", "db", "scaled.csv"], 3);
    assert_eq!(column(&scaled, "monthly_charges")["flagged"], true);
}

#[test]
fn drift_help_teaches_the_tests_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), &["drift", "--help"]).ok().stdout();
    for needle in [
        "Kolmogorov-Smirnov",
        "chi-square",
        "domain classifier",
        "Holm",
        "0 no drift",
        "3 drift found",
        "2 an error",
        "--model",
    ] {
        assert!(out.contains(needle), "{needle} not in:\n{out}");
    }
    // A store without a study is an error (exit 2), not a verdict.
    let r = run_in(tmp.path(), &["drift", "--store", "none", "x.csv"]);
    assert_eq!(r.code(), 2);
}

#[test]
fn drift_checks_are_logged_for_serve_report_unless_no_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fixtures(dir);
    fit(dir, "db", &[]);
    drift_json(dir, &["--store", "db", "scaled.csv"], 3);
    drift_json(dir, &["--store", "db", "same.csv", "--no-log"], 0);
    let r = run_in(dir, &["serve-report", "--store", "db", "--format", "json"]).ok();
    let v: Value = serde_json::from_str(&r.stdout()).unwrap();
    let drift = v["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{v}");
    assert_eq!(drift[0]["model"], "study-1");
    assert_eq!(drift[0]["source"], "drift");
    assert_eq!(drift[0]["drift"], true);
    assert!(
        drift[0]["flagged"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "monthly_charges"),
        "{v}"
    );
    // The log is the store's `predictions` directory; --log-dir puts it elsewhere.
    assert!(dir.join("db").join("predictions").is_dir());
    drift_json(
        dir,
        &["--store", "db", "same.csv", "--log-dir", "elsewhere"],
        0,
    );
    assert!(dir.join("elsewhere").is_dir());
}
