//! Each bad-data warning of the report, triggered by a small synthetic CSV.

use std::path::PathBuf;

use automl_data::{ColumnRole, DataReport, ReadOptions, WarningKind, load_training};

fn load(dir: &tempfile::TempDir, csv: &str) -> automl_data::Dataset {
    let p: PathBuf = dir.path().join("w.csv");
    std::fs::write(&p, csv).unwrap();
    load_training(&p, &ReadOptions::default()).unwrap()
}

/// A clean base: 60 distinct rows, two noisy features, binary target.
fn rows(extra: impl Fn(usize) -> String, header_extra: &str) -> String {
    let mut s = format!("f1,f2{header_extra},y\n");
    for i in 0..60 {
        let y = if (i * 7 + i / 3) % 5 < 2 { "yes" } else { "no" };
        let f1 = 0.25 + 1.5 * ((i * 13) % 60) as f64;
        s.push_str(&format!(
            "{f1},{}{},{y}\n",
            ["p", "q", "r"][(i * 5) % 3],
            extra(i)
        ));
    }
    s
}

fn only_kinds(r: &DataReport) -> Vec<WarningKind> {
    r.warnings.iter().map(|w| w.kind).collect()
}

#[test]
fn clean_data_has_no_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load(&dir, &rows(|_| String::new(), ""));
    assert!(ds.report.warnings.is_empty(), "{:?}", ds.report.warnings);
    assert!(ds.report.dropped_columns.is_empty());
}

#[test]
fn constant_column_warned_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load(&dir, &rows(|_| ",same".into(), ",c"));
    assert!(ds.report.has_warning(WarningKind::Constant, Some("c")));
    assert_eq!(
        ds.report.dropped_columns,
        vec![("c".to_string(), "constant".to_string())]
    );
    assert!(ds.features.column("c").is_none());
    assert!(
        ds.report
            .to_string()
            .contains("dropped from modelling: c (constant)")
    );
    // A column that is all missing is constant too.
    let ds = load(&dir, &rows(|_| ",".into(), ",m"));
    assert!(ds.report.has_warning(WarningKind::Constant, Some("m")));
    // One value plus missing cells is informative: kept.
    let ds = load(
        &dir,
        &rows(|i| if i % 2 == 0 { ",k".into() } else { ",".into() }, ",h"),
    );
    assert!(!ds.report.has_warning(WarningKind::Constant, Some("h")));
    assert!(ds.features.column("h").is_some());
}

#[test]
fn id_like_columns_warned_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let ds = load(&dir, &rows(|i| format!(",{}", 1000 + (i * 37) % 60), ",id"));
    assert!(
        ds.report.has_warning(WarningKind::IdLike, Some("id")),
        "{}",
        ds.report
    );
    assert!(ds.features.column("id").is_none());
    let ds = load(&dir, &rows(|i| format!(",user{i:03}"), ",name"));
    assert!(ds.report.has_warning(WarningKind::IdLike, Some("name")));
    // All-distinct floats and integers with gaps are measurements, not IDs.
    let ds = load(&dir, &rows(|i| format!(",{}", 0.5 + i as f64 * 1.37), ",w"));
    assert!(!ds.report.has_warning(WarningKind::IdLike, Some("w")));
    assert!(ds.features.column("w").is_some());
    // All-distinct integers with gaps, out of row order: warned as near-unique, but kept.
    let ds = load(
        &dir,
        &rows(|i| format!(",{}", ((i * 37) % 60).pow(2)), ",sq"),
    );
    assert!(ds.report.has_warning(WarningKind::IdLike, Some("sq")));
    assert!(ds.features.column("sq").is_some());
    // The same integers in row order are an identifier (a row number with gaps).
    let ds = load(&dir, &rows(|i| format!(",{}", i * i), ",sq"));
    assert!(ds.report.has_warning(WarningKind::IdLike, Some("sq")));
    assert!(ds.features.column("sq").is_none());
}

#[test]
fn duplicate_rows_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = rows(|_| String::new(), "");
    s.push_str("3,q,no\n3,q,no\n");
    let first = s.lines().nth(1).unwrap().to_string();
    s.push_str(&format!("{first}\n"));
    let ds = load(&dir, &s);
    assert!(ds.report.has_warning(WarningKind::DuplicateRows, None));
    assert_eq!(ds.report.n_duplicate_rows, 2);
}

#[test]
fn leakage_identical_and_perfect_predictor() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of the target.
    let mut s = String::from("f1,copy,y\n");
    for i in 0..60 {
        let y = ["yes", "no"][(i * 7 + i / 3) % 2];
        s.push_str(&format!("{},{y},{y}\n", (i * 13) % 17));
    }
    let ds = load(&dir, &s);
    assert!(
        ds.report.has_warning(WarningKind::Leakage, Some("copy")),
        "{}",
        ds.report
    );
    assert!(!ds.report.has_warning(WarningKind::Leakage, Some("f1")));
    // A recoding of the target (perfect predictor).
    let mut s = String::from("f1,code,y\n");
    for i in 0..60 {
        let k = (i * 7 + i / 3) % 3;
        s.push_str(&format!(
            "{},{},{}\n",
            (i * 13) % 17,
            10 + k,
            ["a", "b", "c"][k]
        ));
    }
    let ds = load(&dir, &s);
    assert!(
        ds.report.has_warning(WarningKind::Leakage, Some("code")),
        "{}",
        ds.report
    );
    // Regression: a feature that is a linear function of the target.
    let mut s = String::from("f1,cents,y\n");
    for i in 0..60 {
        let y = 3.0 + ((i * 31) % 47) as f64 * 1.25;
        s.push_str(&format!("{},{},{y}\n", (i * 13) % 17, y * 100.0));
    }
    let ds = load(&dir, &s);
    assert!(
        ds.report.has_warning(WarningKind::Leakage, Some("cents")),
        "{}",
        ds.report
    );
    assert!(!ds.report.has_warning(WarningKind::Leakage, Some("f1")));
}

#[test]
fn rare_class_and_high_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("f1,f2,y\n");
    for i in 0..100 {
        let y = if i < 3 {
            "rare"
        } else if i % 2 == 0 {
            "a"
        } else {
            "b"
        };
        let f2 = if i % 4 == 0 {
            (i % 7).to_string()
        } else {
            String::new()
        };
        s.push_str(&format!("{},{f2},{y}\n", (i * 13) % 17));
    }
    let ds = load(&dir, &s);
    let r = &ds.report;
    assert!(r.has_warning(WarningKind::RareClass, Some("y")), "{r}");
    assert_eq!(
        r.class_counts.iter().find(|(c, _)| c == "rare").unwrap().1,
        3
    );
    assert!(r.has_warning(WarningKind::HighMissing, Some("f2")), "{r}");
    assert!(!r.has_warning(WarningKind::HighMissing, Some("f1")));
    let f2 = r.columns.iter().find(|c| c.name == "f2").unwrap();
    assert_eq!(f2.role, ColumnRole::Feature);
    assert!((f2.missing_share - 0.75).abs() < 1e-12);
    assert!(!only_kinds(r).contains(&WarningKind::Constant));
    let text = r.to_string();
    assert!(
        text.contains("rows: 100") && text.contains("rare 3 (3.0%)"),
        "{text}"
    );
    assert!(text.contains("f2 75.0%"), "{text}");
}
