//! Fold fidelity (issue 16 item 4): on k-fold data too small to halve the rows, new candidates
//! are cross-validated on the last fold first and the best third is promoted to every fold.
//! Such first looks are listed unranked after the ranked trials, keep no fold models, and
//! never become the final model; `--multi-fidelity off` turns them off.

use crate::big_data::gen_big;
use crate::util::{run_in, run_json};
use std::path::{Path, PathBuf};

/// The seeded generator's regression table of `rows` rows, in `dir`.
fn csv(dir: &Path, rows: usize) -> PathBuf {
    let path = dir.join("data.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    gen_big::write_csv(&mut w, rows, 3, gen_big::Target::Regression).unwrap();
    path
}

fn fit(dir: &Path, data: &Path, store: &str, extra: &[&str]) -> serde_json::Value {
    let seeds = if extra.contains(&"--seed-variance") {
        None
    } else {
        Some("0")
    };
    let mut args = vec![
        "fit",
        data.to_str().unwrap(),
        "--store",
        store,
        "--space",
        "fast",
        "--strategy",
        "bayes",
        "--max-trials",
        "21",
        "--seed",
        "5",
        "--format",
        "json",
    ];
    if let Some(n) = seeds {
        args.extend(["--seed-variance", n]);
    }
    args.extend_from_slice(extra);
    run_json(dir, &args)
}

#[test]
fn first_looks_on_one_fold_are_unranked_and_only_full_cv_trials_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = csv(dir.path(), 1500);
    let doc = fit(dir.path(), &data, "db", &["--seed-variance", "3"]);
    let board = run_json(
        dir.path(),
        &["leaderboard", "--store", "db", "--format", "json"],
    );
    let rows = board.as_array().unwrap();
    let first_looks: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["folds"].as_u64() == Some(1))
        .collect();
    assert!(first_looks.len() >= 5, "{} first looks", first_looks.len());
    let promoted: Vec<&serde_json::Value> =
        rows.iter().filter(|r| r["operator"] == "promote").collect();
    assert!(!promoted.is_empty(), "no promotion");
    // Ranked rows first (every fold), then the first looks, unranked and best first.
    let n_ranked = rows.iter().take_while(|r| r["rank"].is_u64()).count();
    assert!(rows[..n_ranked].iter().all(|r| r["folds"].is_null()));
    for r in &first_looks {
        assert!(r["rank"].is_null(), "{r}");
        assert_eq!(r["fold_scores"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["final"], false, "{r}");
    }
    for p in &promoted {
        assert!(p["folds"].is_null(), "{p}");
        assert_eq!(p["fold_scores"].as_array().unwrap().len(), 5, "{p}");
        let parent = p["parents"][0].as_u64().unwrap();
        let parent = rows.iter().find(|r| r["trial_id"] == parent).unwrap();
        assert_eq!(parent["folds"], 1, "{parent}");
        assert_eq!(parent["params"], p["params"]);
    }
    // The seed-variance step measured ranked trials only.
    let measured: Vec<&serde_json::Value> =
        rows.iter().filter(|r| r["seed_std"].is_number()).collect();
    assert!(!measured.is_empty(), "no seed variance measured");
    assert!(measured.iter().all(|r| r["rank"].is_u64()), "{measured:?}");
    // The final model's trial is a ranked one.
    let fin = rows
        .iter()
        .find(|r| r["final"] == true)
        .expect("a final trial");
    assert!(fin["rank"].is_u64(), "{fin}");
    assert!(
        doc["best"].is_object() || doc["final_model"].is_string(),
        "{doc}"
    );
    // `show` says what a first look is.
    let id = first_looks[0]["trial_id"].as_u64().unwrap().to_string();
    let shown = run_in(dir.path(), &["show", "--store", "db", &id]).ok();
    assert!(
        shown
            .stdout()
            .contains("the last 1 of the study's folds only"),
        "{}",
        shown.stdout()
    );
    // Its fold models were not kept: it cannot be the final model, or an ensemble member.
    assert!(
        shown.stdout().contains("(no stored model)"),
        "{}",
        shown.stdout()
    );
    // The table marks them too.
    let table = run_in(dir.path(), &["leaderboard", "--store", "db"]).ok();
    assert!(
        table.stdout().contains("1.00, 1 fold"),
        "{}",
        table.stdout()
    );

    // Off: every trial sees every fold.
    fit(dir.path(), &data, "db-off", &["--multi-fidelity", "off"]);
    let off = run_json(
        dir.path(),
        &["leaderboard", "--store", "db-off", "--format", "json"],
    );
    assert!(
        off.as_array()
            .unwrap()
            .iter()
            .all(|r| r["folds"].is_null() && r["operator"] != "promote"),
        "{off}"
    );
}

#[test]
fn small_data_has_no_first_looks() {
    let dir = tempfile::tempdir().unwrap();
    let data = csv(dir.path(), 600);
    fit(dir.path(), &data, "db", &[]);
    let board = run_json(
        dir.path(),
        &["leaderboard", "--store", "db", "--format", "json"],
    );
    assert!(
        board
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["folds"].is_null()),
        "{board}"
    );
}
