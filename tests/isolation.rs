//! Isolation of misbehaving candidates, end to end: with `AUTOML_TEST_FAMILIES=1` the real
//! binary searches families that panic, ignore their deadline and ask for a huge buffer, beside
//! a normal one; the search must finish within its budget, record each bad candidate with
//! the right state and error, and still save a working final model.

use crate::cli::leaderboard_json;
use crate::util::*;
use automl_engine::study::ASK_WINDOW;
use serde_json::Value;
use std::time::Instant;

const SPACE: &str = r#"
version = 1
name = "isolation"
description = "Misbehaving test families beside naive_bayes."

[families.test_panic]

[families.test_loop.params]
seconds = { type = "fixed", value = 3600 }

# Far beyond the default per-trial limit of any machine (half its RAM shared by the jobs):
# the memory guard must refuse it before the fit tries to allocate.
[families.test_alloc.params]
gigabytes = { type = "fixed", value = 100000 }

[families.naive_bayes.params]
var_smoothing = { type = "float", low = 1e-12, high = 1e-1, log = true, default = 1e-9 }
"#;

const BUDGET_S: f64 = 8.0;

/// Fit `flowers.csv` in a temp dir with `space` (test families enabled), `--store db --jobs 2
/// --quiet` plus `args`, and check the budget promise (budget * 1.05 + 1 s), plus 2 s for
/// process start-up on a busy CI machine: a misbehaving fit that was waited for would take an
/// hour. Returns the temp dir (holding the store `db`) and the data path.
fn fit_with_test_families(space: &str, budget: f64, args: &[&str]) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("space.toml"), space).unwrap();
    let data = example("flowers.csv").to_str().unwrap().to_string();
    let budget_s = budget.to_string();
    let started = Instant::now();
    let out = automl()
        .args(["fit", &data, "--store", "db", "--space", "space.toml"])
        .args(["--time-budget", &budget_s, "--jobs", "2", "--quiet"])
        .args(args)
        .env("AUTOML_TEST_FAMILIES", "1")
        .current_dir(dir)
        .output()
        .expect("cannot run the automl binary");
    let wall = started.elapsed().as_secs_f64();
    let fit = Run { out }.ok();
    assert!(
        wall < budget * 1.05 + 1.0 + 2.0,
        "fit took {wall:.1} s with a {budget} s budget\n{}",
        fit.stdout()
    );
    (tmp, data)
}

fn rows_of<'a>(rows: &'a [Value], family: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["family"] == family).collect()
}

fn error_of(r: &Value) -> String {
    r["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn panicking_looping_and_oversized_candidates_are_isolated() {
    let (tmp, data) = fit_with_test_families(SPACE, BUDGET_S, &[]);
    let dir = tmp.path();
    let data = data.as_str();

    let rows = leaderboard_json(dir, "db");
    let panics = rows_of(&rows, "test_panic");
    assert!(!panics.is_empty(), "test_panic was never tried: {rows:?}");
    for r in panics {
        assert_eq!(r["state"], "failed", "{r}");
        assert!(error_of(r).contains("panic"), "{r}");
    }
    let allocs = rows_of(&rows, "test_alloc");
    assert!(!allocs.is_empty(), "test_alloc was never tried: {rows:?}");
    for r in allocs {
        assert_eq!(r["state"], "failed", "{r}");
        assert!(error_of(r).contains("over the memory limit"), "{r}");
    }
    let loops = rows_of(&rows, "test_loop");
    assert!(!loops.is_empty(), "test_loop was never tried: {rows:?}");
    for r in loops {
        assert_eq!(r["state"], "timed_out", "{r}");
    }
    let nb = rows_of(&rows, "naive_bayes");
    assert!(
        nb.iter()
            .any(|r| r["state"] == "complete" && r["mean"].is_number()),
        "no complete naive_bayes trial: {nb:?}"
    );
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(
        rows[0]["state"], "complete",
        "the best row is a scored trial"
    );

    // The final model works.
    let preds = predict_in(dir, "db", data, "preds.csv", &[]);
    let (header, body) = read_csv(&preds);
    assert_eq!(header[0], "prediction");
    assert_eq!(body.len(), csv_rows(std::path::Path::new(data)));
}

/// A candidate that never returns must not hold up the search: trials are told in id order and
/// at most `ASK_WINDOW` (6) are asked past the last told one, so before the per-trial time limit
/// existed a hung trial at the front idled every worker until the budget ended. With
/// `--trial-time-limit 1` it is abandoned 2 s past its limit and the search goes on.
#[test]
fn a_hung_trial_is_abandoned_at_its_time_limit_and_the_search_goes_on() {
    const HUNG_SPACE: &str = r#"
version = 1
name = "hung"
description = "A family that never returns beside naive_bayes."

[families.test_loop.params]
seconds = { type = "fixed", value = 3600 }

[families.naive_bayes.params]
var_smoothing = { type = "float", low = 1e-12, high = 1e-1, log = true, default = 1e-9 }
"#;
    let args = [
        "--strategy",
        "random",
        "--trial-time-limit",
        "1",
        "--seed",
        "3",
    ];
    let (tmp, _) = fit_with_test_families(HUNG_SPACE, 10.0, &args);
    let rows = leaderboard_json(tmp.path(), "db");
    let id = |r: &Value| r["trial_id"].as_u64().unwrap();
    let hung: Vec<&Value> = rows_of(&rows, "test_loop")
        .into_iter()
        .filter(|r| error_of(r).contains("per-trial time limit"))
        .collect();
    assert!(
        !hung.is_empty(),
        "no test_loop trial was abandoned at its time limit: {rows:?}"
    );
    for r in rows_of(&rows, "test_loop") {
        assert_eq!(r["state"], "timed_out", "{r}");
    }
    // Trials completed after the window behind the first abandoned trial: the search went on.
    let first_hung = hung.iter().map(|r| id(r)).min().unwrap();
    let later = rows
        .iter()
        .filter(|r| r["state"] == "complete" && id(r) > first_hung + ASK_WINDOW as u64)
        .count();
    assert!(
        later > 0,
        "no trial completed past the window behind hung trial {first_hung}: {rows:?}"
    );
}
