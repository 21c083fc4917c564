//! Validation that matches deployment: `--group-col` (grouped folds) and `--time-col [--gap]`
//! (forward-chaining folds) end to end with the real binary, and their errors.

use crate::util::{predict_in, read_csv, run_in};
use serde_json::Value;
use std::path::Path;

/// A small seeded generator (xorshift64*, Box-Muller).
struct Gen(u64);

impl Gen {
    fn u(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.u().ln()).sqrt() * (std::f64::consts::TAU * self.u()).cos()
    }
}

/// Repeated measurements: `entities` patients of 10 rows each. Each patient has a strong
/// random offset to the target and a fingerprint (two features nearly constant within the
/// patient), so a model can memorise patients; only `x` carries over to new patients.
fn grouped_csv(path: &Path, first: usize, entities: usize, seed: u64) {
    let mut g = Gen(seed);
    let mut s = String::from("patient_id,f1,f2,x,y\n");
    for e in first..first + entities {
        let (offset, f1, f2) = (3.0 * g.normal(), g.normal(), g.normal());
        for _ in 0..10 {
            let x = g.normal();
            let y = 2.0 * x + offset + 0.3 * g.normal();
            s.push_str(&format!(
                "p{e},{:.4},{:.4},{x:.4},{y:.4}\n",
                f1 + 0.01 * g.normal(),
                f2 + 0.01 * g.normal()
            ));
        }
    }
    std::fs::write(path, s).unwrap();
}

/// Fit with `extra` flags into `store`; (the final model's CV RMSE, its RMSE on `test.csv`).
fn cv_and_test(dir: &Path, store: &str, extra: &[&str]) -> (f64, f64) {
    let mut args = vec![
        "fit",
        "train.csv",
        "--store",
        store,
        "--max-trials",
        "4",
        "--space",
        "fast",
        "--metric",
        "rmse",
        "--no-ensemble",
        "--seed",
        "3",
        "-q",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args).ok();
    let lb: Value = serde_json::from_str(
        &run_in(dir, &["leaderboard", "--store", store, "--format", "json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    let best = lb
        .as_array()
        .or_else(|| lb["trials"].as_array())
        .and_then(|a| a.first().cloned())
        .unwrap_or_else(|| panic!("no trials in {lb}"));
    let cv = best["mean"]
        .as_f64()
        .or_else(|| best["score"].as_f64())
        .unwrap_or_else(|| panic!("no score in {best}"));
    let preds = predict_in(dir, store, "test.csv", &format!("{store}.csv"), &[]);
    let (_, rows) = read_csv(&preds);
    let (_, truth) = read_csv(&dir.join("test.csv"));
    assert_eq!(rows.len(), truth.len());
    let se: f64 = rows
        .iter()
        .zip(&truth)
        .map(|(p, t)| {
            let d = p[0].parse::<f64>().unwrap() - t[4].parse::<f64>().unwrap();
            d * d
        })
        .sum();
    (cv, (se / rows.len() as f64).sqrt())
}

#[test]
fn group_folds_estimate_new_entities_at_least_twice_as_well_as_random_folds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    grouped_csv(&dir.join("train.csv"), 0, 60, 11);
    grouped_csv(&dir.join("test.csv"), 1000, 30, 12);
    // The data report suggests grouping.
    let random = run_in(
        dir,
        &[
            "fit",
            "train.csv",
            "--store",
            "r",
            "--max-trials",
            "1",
            "--space",
            "fast",
        ],
    )
    .ok();
    assert!(
        random
            .stderr()
            .contains("random folds may be optimistic; consider --group-col patient_id"),
        "{}",
        random.stderr()
    );
    let (cv_r, test_r) = cv_and_test(dir, "random", &[]);
    let (cv_g, test_g) = cv_and_test(dir, "grouped", &["--group-col", "patient_id"]);
    let (gap_r, gap_g) = ((cv_r - test_r).abs(), (cv_g - test_g).abs());
    eprintln!(
        "random folds: CV {cv_r:.3} test {test_r:.3} gap {gap_r:.3}; group folds: CV {cv_g:.3} test {test_g:.3} gap {gap_g:.3}"
    );
    assert!(
        gap_g <= gap_r / 2.0,
        "group gap {gap_g} vs random gap {gap_r}"
    );
    // Stored on the study and shown.
    let lb = run_in(dir, &["leaderboard", "--store", "grouped"])
        .ok()
        .stdout();
    assert!(lb.contains("5-fold grouped by patient_id CV"), "{lb}");
    run_in(dir, &["report", "--store", "grouped", "-o", "r.md"]).ok();
    let report = std::fs::read_to_string(dir.join("r.md")).unwrap();
    assert!(
        report.contains("validation: 5-fold grouped by patient_id CV"),
        "{report}"
    );
    assert!(
        report.contains("patient_id (group column, validation only)"),
        "{report}"
    );
    // Explanations rebuild the grouped folds (the group column is no feature) and report
    // their importance within the report too.
    assert!(report.contains("Feature importance"), "{report}");
    let ex = run_in(dir, &["explain", "--store", "grouped", "--format", "json"])
        .ok()
        .stdout();
    let ex: Value = serde_json::from_str(&ex).unwrap();
    let mut cols: Vec<&str> = ex["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(ex["rows"], 600, "every row held out once: {ex}");
    cols.sort_unstable();
    assert_eq!(cols, ["f1", "f2", "x"]);
    // Resuming with another grouping is refused.
    let r = run_in(
        dir,
        &[
            "fit",
            "train.csv",
            "--store",
            "grouped",
            "--resume",
            "--max-trials",
            "5",
            "-q",
        ],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("cannot resume"), "{}", r.stderr());
}

#[test]
fn time_folds_store_their_scheme_and_flag_errors_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Rows shuffled in the file; the time is an ISO-8601 date-time.
    let mut g = Gen(5);
    let mut rows: Vec<String> = (0..240)
        .map(|i| {
            let x = g.normal();
            format!(
                "2024-{:02}-{:02}T{:02}:00:00Z,{x:.4},{:.4}",
                1 + i / 28 % 12,
                1 + i % 28,
                i % 24,
                x + 0.01 * f64::from(i as u32)
            )
        })
        .collect();
    for i in (1..rows.len()).rev() {
        let j = (g.u() * (i + 1) as f64) as usize;
        rows.swap(i, j);
    }
    std::fs::write(dir.join("t.csv"), format!("t,x,y\n{}\n", rows.join("\n"))).unwrap();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "t.csv",
            "--store",
            "s",
            "--max-trials",
            "2",
            "--space",
            "fast",
            "-q",
        ];
        args.extend_from_slice(extra);
        run_in(dir, &args)
    };
    fit(&["--time-col", "t", "--gap", "5"]).ok();
    // (That no training row is later than its validation rows is checked on the folds
    // themselves in crates/engine/src/wire.rs and crates/data/src/split.rs.)
    let lb = run_in(dir, &["leaderboard", "--store", "s"]).ok().stdout();
    assert!(
        lb.contains("5-fold forward-chaining CV (by t, gap 5 rows)"),
        "{lb}"
    );
    // Errors: exit 2, one line, naming the flag.
    let cases: &[(&[&str], &str)] = &[
        (&["--group-col", "nope"], "--group-col nope"),
        (&["--group-col", "y"], "is the target"),
        (&["--time-col", "nope"], "--time-col nope"),
        (&["--gap", "3"], "--gap needs --time-col"),
        (
            &["--group-col", "x", "--time-col", "t"],
            "cannot be combined",
        ),
        (&["--time-col", "t", "--gap", "100"], "--gap"),
        (&["--time-col", "t", "--folds", "300"], "--time-col t"),
    ];
    for (flags, needle) in cases {
        let r = fit(flags);
        assert_eq!(r.code(), 2, "{flags:?}: {}", r.stderr());
        let err = r.stderr();
        assert_eq!(err.trim().lines().count(), 1, "{flags:?}: {err}");
        assert!(err.contains(needle), "{flags:?}: {err}");
    }
    // Too few groups for the folds.
    std::fs::write(
        dir.join("g.csv"),
        (0..40).fold("g,x,y\n".to_string(), |s, i| {
            s + &format!("{},{},{}\n", i % 3, i * 7 % 11, i % 5)
        }),
    )
    .unwrap();
    let r = run_in(
        dir,
        &[
            "fit",
            "g.csv",
            "--store",
            "g",
            "--group-col",
            "g",
            "--max-trials",
            "1",
            "-q",
        ],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr().contains("--group-col g") && r.stderr().contains("3 distinct group(s)"),
        "{}",
        r.stderr()
    );
}

/// The fold scores of every complete trial in `store`'s leaderboard.
fn fold_counts(dir: &Path, store: &str) -> Vec<usize> {
    let lb: Value = serde_json::from_str(
        &run_in(dir, &["leaderboard", "--store", store, "--format", "json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    lb.as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "complete")
        .map(|t| t["fold_scores"].as_array().unwrap().len())
        .collect()
}

#[test]
fn cv_repeats_cross_validates_every_trial_on_every_fold_set_and_a_resume_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut g = Gen(21);
    let mut s = String::from("a,b,y\n");
    for _ in 0..300 {
        let (a, b) = (g.normal(), g.normal());
        s.push_str(&format!(
            "{a:.4},{b:.4},{:.4}\n",
            a - 0.5 * b + 0.3 * g.normal()
        ));
    }
    std::fs::write(dir.join("train.csv"), &s).unwrap();
    let fit = |store: &str, trials: &str, extra: &[&str]| {
        let mut args = vec![
            "fit",
            "train.csv",
            "--store",
            store,
            "--max-trials",
            trials,
            "--space",
            "fast",
            "--no-ensemble",
            "-q",
        ];
        args.extend_from_slice(extra);
        run_in(dir, &args)
    };
    fit("three", "3", &["--cv-repeats", "3"]).ok();
    let lb = run_in(dir, &["leaderboard", "--store", "three"])
        .ok()
        .stdout();
    assert!(lb.contains("5-fold CV repeated 3 times"), "{lb}");
    assert!(fold_counts(dir, "three").iter().all(|&k| k == 15));
    // The final model predicts; the report's interval divides by the folds of one set.
    let preds = predict_in(dir, "three", "train.csv", "p.csv", &[]);
    assert_eq!(read_csv(&preds).1.len(), 300);
    run_in(dir, &["report", "--store", "three", "-o", "r.md"]).ok();
    let report = std::fs::read_to_string(dir.join("r.md")).unwrap();
    assert!(
        report.contains("std / √folds of one of the 3 fold sets"),
        "{report}"
    );
    // Explanations rebuild every fold set: each row held out once per set.
    let ex = run_in(dir, &["explain", "--store", "three", "--format", "json"])
        .ok()
        .stdout();
    let ex: Value = serde_json::from_str(&ex).unwrap();
    assert_eq!(
        (ex["folds"].as_u64(), ex["rows"].as_u64()),
        (Some(15), Some(900)),
        "{ex}"
    );
    // One fold set by default.
    fit("one", "3", &[]).ok();
    let lb = run_in(dir, &["leaderboard", "--store", "one"])
        .ok()
        .stdout();
    assert!(lb.contains("5-fold CV") && !lb.contains("repeated"), "{lb}");
    assert!(fold_counts(dir, "one").iter().all(|&k| k == 5));
    // A resume keeps the study's fold sets, whatever it asks for.
    fit("three", "5", &["--resume", "--cv-repeats", "1"]).ok();
    let counts = fold_counts(dir, "three");
    assert_eq!(counts.len(), 5, "{counts:?}");
    assert!(counts.iter().all(|&k| k == 15), "{counts:?}");
    // 0 is no number of fold sets.
    let bad = fit("bad", "3", &["--cv-repeats", "0"]);
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    assert!(
        bad.stderr()
            .contains("--cv-repeats must be between 1 and 100 (got 0)"),
        "{}",
        bad.stderr()
    );
}
