//! The leakage and ID checks of the data report: planted leaks and identifiers are flagged
//! with their evidence and excluded, strong real features and measurements are kept,
//! `--keep-col` keeps a column, duplicate feature rows are counted.

use std::path::PathBuf;

use automl_core::Rng;
use automl_data::{DataError, Dataset, ReadOptions, WarningKind, load_training};

fn load_with(dir: &tempfile::TempDir, csv: &str, keep: &[&str]) -> Result<Dataset, DataError> {
    let p: PathBuf = dir.path().join("d.csv");
    std::fs::write(&p, csv).unwrap();
    let opts = ReadOptions {
        keep_cols: keep.iter().map(|s| s.to_string()).collect(),
        ..ReadOptions::default()
    };
    load_training(&p, &opts)
}

fn load(dir: &tempfile::TempDir, csv: &str) -> Dataset {
    load_with(dir, csv, &[]).unwrap()
}

fn message(ds: &Dataset, kind: WarningKind, col: &str) -> String {
    ds.report
        .warnings
        .iter()
        .find(|w| w.kind == kind && w.column.as_deref() == Some(col))
        .map(|w| w.message.clone())
        .unwrap_or_else(|| panic!("no {kind:?} warning for {col}:\n{}", ds.report))
}

fn dropped_for(ds: &Dataset, col: &str) -> Option<String> {
    ds.report
        .dropped_columns
        .iter()
        .find(|(n, _)| n == col)
        .map(|(_, r)| r.clone())
}

/// 300 rows, binary target: `noise` (unrelated), `leak` (the target plus tiny noise),
/// `code` (a text code, one per class), `id` (row number), `uid` (unique text, shuffled).
fn binary_csv() -> String {
    let mut rng = Rng::new(11);
    let mut s = String::from("noise,leak,code,id,uid,y\n");
    let mut order: Vec<usize> = (0..300).collect();
    rng.shuffle(&mut order);
    for (i, o) in order.iter().enumerate() {
        let y = usize::from(rng.f64() < 0.4);
        s.push_str(&format!(
            "{:.4},{:.6},{},{},u{:05},{y}\n",
            rng.normal(),
            y as f64 + 1e-3 * rng.normal(),
            ["neg", "pos"][y],
            i,
            o * 7
        ));
    }
    s
}

#[test]
fn planted_leaks_and_ids_are_excluded_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load(&dir, &binary_csv());
    let names = ds.features.names();
    assert_eq!(names, vec!["noise"], "{}", ds.report);
    let leak = message(&ds, WarningKind::Leakage, "leak");
    assert!(
        leak.contains("alone reaches cross-validated roc_auc 1.0000 (>= 0.999)")
            && leak.contains("--keep-col leak"),
        "{leak}"
    );
    assert!(message(&ds, WarningKind::Leakage, "code").contains("roc_auc 1.0000"));
    assert_eq!(dropped_for(&ds, "leak").as_deref(), Some("leakage"));
    assert_eq!(dropped_for(&ds, "code").as_deref(), Some("leakage"));
    assert!(message(&ds, WarningKind::IdLike, "id").contains("consecutive integers"));
    assert!(message(&ds, WarningKind::IdLike, "uid").contains("a different text value"));
    assert_eq!(dropped_for(&ds, "id").as_deref(), Some("ID-like"));
    assert_eq!(dropped_for(&ds, "uid").as_deref(), Some("ID-like"));
    assert!(!ds.report.has_warning(WarningKind::Leakage, Some("noise")));
    // The text report (what the study record keeps) names both with the evidence.
    let text = ds.report.to_string();
    assert!(
        text.contains("leak (leakage)") && text.contains("id (ID-like)"),
        "{text}"
    );
    assert!(
        text.contains("alone reaches cross-validated roc_auc"),
        "{text}"
    );
}

#[test]
fn keep_col_keeps_a_column_and_an_unknown_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load_with(&dir, &binary_csv(), &["leak", "id"]).unwrap();
    assert_eq!(ds.features.names(), vec!["noise", "leak", "id"]);
    assert!(message(&ds, WarningKind::Leakage, "leak").contains("kept (--keep-col)"));
    assert!(message(&ds, WarningKind::IdLike, "id").contains("kept (--keep-col)"));
    let err = load_with(&dir, &binary_csv(), &["nope"]).unwrap_err();
    assert!(matches!(err, DataError::KeepColumn { .. }), "{err:?}");
    assert!(err.to_string().contains("'nope'"), "{err}");
}

/// Iris-like: three classes of 50 rows, a strong real feature (petal width: the classes
/// overlap a little) and a weak one.
#[test]
fn a_strong_real_feature_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    let mut s = String::from("sepal,petal_width,species\n");
    let centre = [0.25, 1.33, 2.03];
    let spread = [0.1, 0.2, 0.27];
    for i in 0..150 {
        let c = i % 3;
        let w = (centre[c] + spread[c] * rng.normal()).max(0.1);
        s.push_str(&format!(
            "{:.1},{:.1},{}\n",
            5.8 + 0.8 * rng.normal(),
            w,
            ["setosa", "versicolor", "virginica"][c]
        ));
    }
    let ds = load(&dir, &s);
    assert_eq!(
        ds.features.names(),
        vec!["sepal", "petal_width"],
        "{}",
        ds.report
    );
    assert!(
        !ds.report.has_warning(WarningKind::Leakage, None),
        "{}",
        ds.report
    );
    // A class that is an exact function of the column is another story.
    let mut s = String::from("sepal,band,species\n");
    for i in 0..150 {
        let c = i % 3;
        s.push_str(&format!(
            "{:.1},{:.2},{}\n",
            5.8 + 0.8 * rng.normal(),
            c as f64 + rng.f64() * 0.9,
            ["setosa", "versicolor", "virginica"][c]
        ));
    }
    let ds = load(&dir, &s);
    assert!(
        message(&ds, WarningKind::Leakage, "band").contains("accuracy 1.0000"),
        "{}",
        ds.report
    );
    assert!(ds.features.column("band").is_none());
}

#[test]
fn regression_leak_and_continuous_floats() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    let mut s = String::from("x,measure,cents,y\n");
    for _ in 0..400 {
        let x = rng.uniform(0.0, 10.0);
        let y = 2.0 * x + 3.0 * rng.normal();
        s.push_str(&format!(
            "{x:.6},{:.6},{:.1},{y:.6}\n",
            rng.uniform(0.0, 1.0),
            y * 100.0
        ));
    }
    let ds = load(&dir, &s);
    // Unique floats are measurements, not identifiers; x predicts y well but far from perfectly.
    assert_eq!(ds.features.names(), vec!["x", "measure"], "{}", ds.report);
    assert!(
        !ds.report.has_warning(WarningKind::IdLike, None),
        "{}",
        ds.report
    );
    assert!(message(&ds, WarningKind::Leakage, "cents").contains("cross-validated r2 "));
}

#[test]
fn near_unique_integers_are_warned_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(9);
    let mut s = String::from("f,account,y\n");
    for i in 0..200 {
        // 199 distinct values in 200 rows, not in row order.
        let account = if i == 7 {
            100_003
        } else {
            100_000 + (i * 7919) % 200 * 3
        };
        s.push_str(&format!("{:.3},{account},{}\n", rng.normal(), i % 2));
    }
    let ds = load(&dir, &s);
    let m = message(&ds, WarningKind::IdLike, "account");
    assert!(m.contains("199 distinct values in 200 rows"), "{m}");
    assert!(ds.features.column("account").is_some());
}

#[test]
fn duplicate_feature_rows_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(1);
    let mut s = String::from("a,b,id,y\n");
    for i in 0..100 {
        s.push_str(&format!(
            "{:.4},{:.4},{i},{}\n",
            rng.normal(),
            rng.normal(),
            i % 2
        ));
    }
    // Two copies of row 0 (same target), one of row 1 with the other target; the id column
    // differs, but it is dropped, so the copies count.
    s.push_str("X,100,0\nX,101,0\nY,102,0\n");
    let lines: Vec<&str> = s.lines().collect();
    let row = |k: usize| {
        lines[k + 1]
            .split(',')
            .take(2)
            .collect::<Vec<_>>()
            .join(",")
    };
    let s = s
        .replacen("X,100", &format!("{},100", row(0)), 1)
        .replacen("X,101", &format!("{},101", row(0)), 1)
        .replacen("Y,102", &format!("{},102", row(1)), 1);
    let ds = load(&dir, &s);
    assert!(ds.features.column("id").is_none());
    assert_eq!(ds.report.n_duplicate_rows, 2, "{}", ds.report);
    let w = ds
        .report
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::DuplicateRows)
        .unwrap();
    assert!(
        w.message
            .starts_with("2 group(s) of rows share identical features (3 row(s)")
            && w.message.contains("1 group(s) disagree on the target"),
        "{}",
        w.message
    );
}
