//! Leakage and ID checks end to end: `automl fit` on a CSV with a planted leak and an id
//! column names both in the data report with the evidence and leaves them out of the model
//! (a file without them predicts); `--keep-col` keeps one; an unknown `--keep-col` is exit 2;
//! a resume with other kept columns than the study's is refused.

use crate::util::{predict_in, run_in};
use std::path::Path;

/// 200 rows: `x` (a real signal), `leak` (the class plus tiny noise), `row` (a row number),
/// binary `y`; and `test.csv` with `x` and `y` only.
fn write_data(dir: &Path) {
    let (mut train, mut test) = (String::from("row,x,leak,y\n"), String::from("x,y\n"));
    let mut state = 7u64;
    let mut u = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..200 {
        let x = u() * 4.0 - 2.0;
        let y = usize::from(x + u() * 2.0 - 1.0 > 0.0);
        let leak = y as f64 + 0.001 * u();
        train.push_str(&format!("{i},{x:.4},{leak:.5},{y}\n"));
        if i < 20 {
            test.push_str(&format!("{x:.4},{y}\n"));
        }
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("test.csv"), test).unwrap();
}

fn fit(dir: &Path, store: &str, extra: &[&str]) -> crate::util::Run {
    let mut args = vec![
        "fit",
        "train.csv",
        "--store",
        store,
        "--max-trials",
        "2",
        "--space",
        "fast",
        "--no-ensemble",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

#[test]
fn a_leak_and_an_id_are_reported_and_excluded_and_keep_col_keeps_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_data(dir);
    let err = fit(dir, "s", &[]).ok().stderr();
    assert!(
        err.contains("dropped from modelling: row (ID-like), leak (leakage)"),
        "{err}"
    );
    assert!(
        err.contains(
            "column 'leak' alone reaches cross-validated roc_auc 1.0000 (>= 0.999): likely leakage, dropped from modelling; --keep-col leak to keep it"
        ),
        "{err}"
    );
    assert!(
        err.contains("column 'row' is an identifier (consecutive integers, one per row"),
        "{err}"
    );
    assert!(err.contains("features: 1 (1 numeric"), "{err}");
    // The model needs `x` only: a file without `row` and `leak` predicts.
    predict_in(dir, "s", "test.csv", "p.csv", &[]);

    // Kept: a feature again, so the model needs it.
    let err = fit(dir, "k", &["--keep-col", "leak"]).ok().stderr();
    assert!(
        err.contains("dropped from modelling: row (ID-like)\n"),
        "{err}"
    );
    assert!(err.contains("likely leakage; kept (--keep-col)"), "{err}");
    assert!(err.contains("features: 2 (2 numeric"), "{err}");
    let r = run_in(
        dir,
        &["predict", "test.csv", "--store", "k", "--output", "q.csv"],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("leak"), "{}", r.stderr());
}

#[test]
fn a_resume_must_keep_the_same_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_data(dir);
    fit(dir, "s", &[]).ok();
    // The study's trials model `x` only; `--keep-col leak` would add a feature.
    let r = fit(dir, "s", &["--resume", "--keep-col", "leak"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains(
            "cannot resume study 1: its trials do not use `leak`; resume with the same --keep-col"
        ),
        "{}",
        r.stderr()
    );
    // The reverse: started with the column kept, resumed without.
    fit(dir, "k", &["--keep-col", "leak"]).ok();
    let r = fit(dir, "k", &["--resume"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("its trials also use `leak`"),
        "{}",
        r.stderr()
    );
    // The same columns resume.
    fit(dir, "k", &["--resume", "--keep-col", "leak"]).ok();
}

#[test]
fn an_unknown_keep_col_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_data(dir);
    let r = fit(dir, "s", &["--keep-col", "nope"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("--keep-col nope: the column 'nope' to keep is not in the file"),
        "{}",
        r.stderr()
    );
    assert!(!dir.join("s").exists(), "no store for a refused fit");
}
