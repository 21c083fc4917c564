//! Inspecting and reusing searches: a leaderboard read while a `fit` runs in another process,
//! compare / export / report / studies, lineage in `show`, the ensemble row, warm start.

use crate::cli::leaderboard_json;
use crate::util::*;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn leaderboard_reads_while_a_fit_runs_in_another_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("churn.csv");
    let mut child = automl()
        .args([
            "fit",
            data.to_str().unwrap(),
            "--store",
            "db",
            "--time-budget",
            "12",
            "--space",
            "fast",
            "--jobs",
            "1",
            "--quiet",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut reads = 0;
    let mut saw_trials = false;
    while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(60) {
        if dir.join("db").exists() {
            let r = run_in(dir, &["leaderboard", "--store", "db", "--format", "json"]);
            let err = r.stderr();
            // Before the first snapshot exists a reader may be told to retry; never a lock error.
            assert!(
                !err.to_lowercase().contains("lock"),
                "a reader got a lock error: {err}"
            );
            if r.code() == 0 {
                reads += 1;
                let rows: Value = serde_json::from_str(&r.stdout()).unwrap();
                saw_trials |= !rows.as_array().unwrap().is_empty();
            } else {
                assert!(
                    err.contains("retry"),
                    "unexpected error while the fit runs: {err}"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(child.wait().unwrap().success());
    assert!(
        reads >= 3,
        "only {reads} successful reads while the fit ran"
    );
    assert!(
        saw_trials,
        "the live leaderboard showed trials while the search ran"
    );
}

#[test]
fn compare_export_report_studies_and_lineage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("flowers.csv");
    let data = data.to_str().unwrap();
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--max-trials",
            "24",
            "--strategy",
            "evolution",
            "--space",
            "fast",
            "--quiet",
            "--seed",
            "5",
        ],
    )
    .ok();
    let rows = leaderboard_json(dir, "db");
    // Lineage: evolution records parents and operators, and `show` prints them.
    let child = rows
        .iter()
        .find(|r| !r["parents"].as_array().unwrap().is_empty() && !crate::util::is_meta_row(r))
        .expect("some trial has a parent");
    let id = child["trial_id"].as_u64().unwrap().to_string();
    let show = run_in(dir, &["show", &id, "--store", "db"]).ok().stdout();
    assert!(
        show.contains("parents") && show.contains("operator:"),
        "{show}"
    );
    // An ensemble trial is always stored once two trials have out-of-fold predictions (24
    // complete trials here), used or not: a leaderboard row with its members as parents, and
    // in `show --json` the typed decision (members, reason, whether it became the final model).
    let e = rows
        .iter()
        .find(|r| r["family"] == "ensemble")
        .expect("an ensemble trial is stored");
    let parents = e["parents"].as_array().unwrap();
    assert!(parents.len() >= 2, "{e}");
    assert_eq!(e["operator"], "ensemble_selection");
    let eid = e["trial_id"].as_u64().unwrap();
    let shown = run_in(dir, &["show", &eid.to_string(), "--store", "db", "--json"])
        .ok()
        .stdout();
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let decision = &shown["ensemble"];
    assert!(
        decision["used"].is_boolean(),
        "the ensemble trial carries its typed decision: {shown}"
    );
    assert_eq!(decision["trial_id"], eid, "{decision}");
    let members = decision["members"].as_array().unwrap();
    assert!(members.len() >= 2, "{decision}");
    for m in members {
        let id = m[0].as_u64().unwrap();
        assert!(
            parents.iter().any(|p| p.as_u64() == Some(id)),
            "member {id} is a parent of the ensemble row: {e}"
        );
        assert!(m[1].as_f64().unwrap() > 0.0, "{decision}");
    }
    assert!(
        !decision["reason"].as_str().unwrap().is_empty(),
        "{decision}"
    );
    let a = rows[0]["trial_id"].as_u64().unwrap().to_string();
    let b = rows[1]["trial_id"].as_u64().unwrap().to_string();
    let cmp = run_in(dir, &["compare", &a, &b, "--store", "db"])
        .ok()
        .stdout();
    assert!(
        cmp.contains(&format!("trial {a}")) && cmp.contains("fold 1"),
        "{cmp}"
    );
    // Export -> predict without the store gives the same predictions as with it.
    run_in(dir, &["export", "--store", "db", "--output", "model.bin"]).ok();
    run_in(
        dir,
        &[
            "predict",
            data,
            "--model",
            "model.bin",
            "--output",
            "p1.csv",
        ],
    )
    .ok();
    run_in(
        dir,
        &["predict", data, "--store", "db", "--output", "p2.csv"],
    )
    .ok();
    assert_eq!(
        std::fs::read(dir.join("p1.csv")).unwrap(),
        std::fs::read(dir.join("p2.csv")).unwrap()
    );
    // Reports.
    run_in(dir, &["report", "--store", "db", "--output", "r.md"]).ok();
    let md = std::fs::read_to_string(dir.join("r.md")).unwrap();
    assert!(md.contains("## Leaderboard") && md.contains("r-scores.svg"));
    let svg = std::fs::read_to_string(dir.join("r-scores.svg")).unwrap();
    assert!(svg.contains("<circle"), "the score plot has points");
    run_in(dir, &["report", "--store", "db", "--output", "r.html"]).ok();
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<table>"));
    let studies = run_in(dir, &["studies", "--store", "db"]).ok().stdout();
    assert!(
        studies.contains("flowers") && studies.contains("log_loss"),
        "{studies}"
    );
    // Leaderboard formats and sorting.
    let md = run_in(
        dir,
        &[
            "leaderboard",
            "--store",
            "db",
            "--format",
            "markdown",
            "--sort",
            "fit-time",
            "--top",
            "5",
        ],
    )
    .ok()
    .stdout();
    assert_eq!(md.lines().count(), 7, "header, separator and 5 rows:\n{md}");
}

#[test]
fn warm_start_seeds_a_new_study_with_the_best_of_an_earlier_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("churn.csv");
    let data = data.to_str().unwrap();
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "first",
            "--max-trials",
            "12",
            "--space",
            "fast",
            "--quiet",
            "--strategy",
            "random",
        ],
    )
    .ok();
    let first = leaderboard_json(dir, "first");
    let best: Vec<&Value> = first
        .iter()
        .filter(|r| !crate::util::is_meta_row(r) && r["rank"].is_number())
        .take(3)
        .collect();
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "second",
            "--max-trials",
            "6",
            "--space",
            "fast",
            "--quiet",
            "--warm-start",
            "first",
        ],
    )
    .ok();
    let second = leaderboard_json(dir, "second");
    let mut by_id: Vec<&Value> = second
        .iter()
        .filter(|r| !crate::util::is_meta_row(r))
        .collect();
    by_id.sort_by_key(|r| r["trial_id"].as_u64());
    for (i, b) in best.iter().enumerate() {
        assert_eq!(
            by_id[i]["operator"], "warm_start",
            "trial {i} of the new study is a warm start"
        );
        assert_eq!(by_id[i]["family"], b["family"]);
        assert_eq!(by_id[i]["params"], b["params"]);
    }
    // Warm start from a study id in the same store.
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "first",
            "--max-trials",
            "3",
            "--space",
            "fast",
            "--quiet",
            "--warm-start",
            "1",
        ],
    )
    .ok();
    let studies = run_in(dir, &["studies", "--store", "first"]).ok().stdout();
    assert_eq!(
        studies.lines().count(),
        3,
        "two studies in the store:\n{studies}"
    );
}
