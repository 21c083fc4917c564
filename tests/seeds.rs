//! Seed variance end to end: `automl fit --seed-variance N` measures the best N trials, the
//! leaderboard JSON carries seed_std, churn, split_std and tied for them (null for the
//! others), the same seed measures the same, and `--seed-variance 0` measures nothing.

use crate::cli::leaderboard_json;
use crate::util::{example, run_in};
use serde_json::Value;

fn fit(dir: &std::path::Path, store: &str, extra: &[&str]) -> String {
    let data = example("churn.csv");
    let mut args = vec![
        "fit",
        data.to_str().unwrap(),
        "--store",
        store,
        "--space",
        "fast",
        "--max-trials",
        "8",
        "--seed",
        "3",
        "--jobs",
        "2",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args).ok().stdout()
}

/// (trial id, seed_std, churn, split_std, tied) of every row.
fn seeds_of(rows: &[Value]) -> Vec<(u64, Value, Value, Value, Value)> {
    rows.iter()
        .map(|r| {
            (
                r["trial_id"].as_u64().unwrap(),
                r["seed_std"].clone(),
                r["churn"].clone(),
                r["split_std"].clone(),
                r["tied"].clone(),
            )
        })
        .collect()
}

#[test]
fn leaderboard_carries_the_seed_variance_of_the_best_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = fit(dir, "a", &["--seed-variance", "3"]);
    assert!(
        out.contains("seed variance: 3 of the best 3 trials"),
        "{out}"
    );
    let rows = leaderboard_json(dir, "a");
    let searched: Vec<&Value> = rows
        .iter()
        .filter(|r| !crate::util::is_meta_row(r) && r["state"] == "complete")
        .collect();
    assert!(searched.len() > 3, "{} searched trials", searched.len());
    for (i, r) in searched.iter().enumerate() {
        let measured = i < 3;
        for key in ["seed_std", "churn", "split_std", "tied"] {
            assert_eq!(
                !r[key].is_null(),
                measured,
                "rank {i} trial {}: {key} = {}",
                r["trial_id"],
                r[key]
            );
        }
        if measured {
            assert!(r["seed_std"].as_f64().unwrap() >= 0.0);
            let churn = r["churn"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&churn));
            assert_eq!(r["seed_scores"].as_array().unwrap().len(), 4);
        }
    }
    assert_eq!(searched[0]["tied"], true, "the leader is tied with itself");

    fit(dir, "b", &["--seed-variance", "3"]);
    assert_eq!(
        seeds_of(&rows),
        seeds_of(&leaderboard_json(dir, "b")),
        "the same seed measures the same"
    );

    let off = fit(dir, "c", &["--seed-variance", "0"]);
    assert!(!off.contains("seed variance:"), "{off}");
    for r in leaderboard_json(dir, "c") {
        assert!(r["seed_std"].is_null() && r["tied"].is_null(), "{r}");
    }
}

#[test]
fn select_stable_needs_the_seed_variance_and_says_what_it_chose() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("churn.csv");
    let r = run_in(
        dir,
        &[
            "fit",
            data.to_str().unwrap(),
            "--store",
            "x",
            "--max-trials",
            "2",
            "--select",
            "stable",
            "--seed-variance",
            "0",
        ],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("--select stable"), "{}", r.stderr());

    let out = fit(dir, "s", &["--select", "stable", "--no-ensemble"]);
    assert!(out.contains("selected: --select stable"), "{out}");
    // The leaderboard marks the trial the final model comes from, as fit reported it (refit,
    // or its fold models for a family that stops early on its own rows).
    let finals: Vec<u64> = leaderboard_json(dir, "s")
        .iter()
        .filter(|r| r["final"] == true)
        .map(|r| r["trial_id"].as_u64().unwrap())
        .collect();
    assert_eq!(finals.len(), 1, "{finals:?}");
    assert!(
        out.contains(&format!("model: trial {} refit", finals[0]))
            || out.contains(&format!("model: trial {} fold models", finals[0])),
        "{out}"
    );
    let show = run_in(dir, &["show", "0", "--store", "s"]).ok().stdout();
    assert!(show.contains("seed_std"), "{show}");
}
