//! `automl fit --portfolio FILE|none` and `automl portfolio --select POOL --leave-one-out DIR`:
//! a pool built from searches (with each configuration's origin), a score matrix from fits
//! that run the pool, and the greedy, leave-one-dataset-out portfolio chosen from it.

use crate::util::{example, run_in};
use std::fmt::Write as _;
use std::path::Path;

const SPACE: &str = r#"version = 1
name = "portfolio-test"
description = "logistic and a small gbdt"

[families.logistic]
[families.logistic.params]
alpha = { type = "float", low = 1e-4, high = 1.0, log = true, default = 1e-3 }

[families.gbdt]
[families.gbdt.params]
learning_rate = { type = "float", low = 0.03, high = 0.3, log = true, default = 0.1 }
max_rounds = { type = "int", low = 10, high = 40, log = true, default = 20 }
max_bins = { type = "fixed", value = 31 }
"#;

/// A second binary dataset, unlike churn: the label is an XOR of two numeric columns' signs.
fn write_xor(path: &Path) {
    let mut s = String::from("a,b,noise,label\n");
    let mut x: u64 = 7;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    };
    for _ in 0..300 {
        let (a, b, n) = (next(), next(), next());
        let label = if (a > 0.0) != (b > 0.0) { "yes" } else { "no" };
        let _ = writeln!(s, "{a:.4},{b:.4},{n:.4},{label}");
    }
    std::fs::write(path, s).unwrap();
}

fn fit(dir: &Path, data: &str, store: &str, name: &str, extra: &[&str]) -> crate::util::Run {
    let mut args = vec![
        "fit",
        data,
        "--store",
        store,
        "--name",
        name,
        "--space",
        "space.toml",
        "--seed-variance",
        "0",
        "-q",
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

/// The operators and parameters of a store's trials, in trial order (`automl leaderboard
/// --format json` sorted by id).
fn trials(dir: &Path, store: &str) -> Vec<serde_json::Value> {
    let out = run_in(dir, &["leaderboard", "--store", store, "--format", "json"]).ok();
    let mut rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    rows.retain(|r| !crate::util::is_meta_row(r));
    rows.sort_by_key(|r| r["trial_id"].as_u64().unwrap());
    rows
}

#[test]
fn a_pool_a_matrix_and_a_leave_one_out_portfolio() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    write_xor(&dir.join("xor.csv"));
    let churn = example("churn.csv");
    let churn = churn.to_str().unwrap();
    let houses = example("houses.csv");
    let houses = houses.to_str().unwrap();
    let datasets = [(churn, "churn"), ("xor.csv", "xor"), (houses, "houses")];

    // 1. Searches, then the pool: each study's best configurations, with their origin.
    for (data, name) in datasets {
        fit(
            dir,
            data,
            &format!("s-{name}"),
            name,
            &["--strategy", "random", "--max-trials", "5"],
        )
        .ok();
    }
    run_in(
        dir,
        &[
            "portfolio",
            "s-churn",
            "s-xor",
            "s-houses",
            "--per-study",
            "2",
            "-o",
            "pool.toml",
        ],
    )
    .ok();
    let pool_text = std::fs::read_to_string(dir.join("pool.toml")).unwrap();
    let pool = automl_search::load_portfolio(&pool_text, "pool.toml").unwrap();
    let origins = automl_search::portfolio_origins(&pool_text);
    assert_eq!(origins.len(), pool.len());
    for name in ["churn", "xor", "houses"] {
        assert!(
            origins.iter().any(|o| o.as_deref() == Some(name)),
            "{pool_text}"
        );
    }
    let binary: Vec<_> = automl_search::portfolio_for(&pool, automl_core::Task::Binary);
    assert!(binary.len() >= 2, "{pool_text}");

    // 2. The matrix: `--portfolio pool.toml` runs exactly the pool's configurations first.
    for (data, name) in datasets {
        let task = if name == "houses" {
            automl_core::Task::Regression
        } else {
            automl_core::Task::Binary
        };
        let want = automl_search::portfolio_for(&pool, task);
        let n = want.len().to_string();
        fit(
            dir,
            data,
            &format!("m-{name}"),
            name,
            &["--portfolio", "pool.toml", "--max-trials", &n],
        )
        .ok();
        let got = trials(dir, &format!("m-{name}"));
        assert_eq!(got.len(), want.len());
        for (row, c) in got.iter().zip(&want) {
            assert_eq!(row["operator"], "portfolio", "{row}");
            assert_eq!(row["family"], c.family.as_str());
        }
    }

    // 3. Selection with leave-one-out.
    let out = run_in(
        dir,
        &[
            "portfolio",
            "m-churn",
            "m-xor",
            "m-houses",
            "--select",
            "pool.toml",
            "--size",
            "2",
            "--leave-one-out",
            "loo",
            "-o",
            "final.toml",
        ],
    )
    .ok();
    let stdout = out.stdout();
    assert!(
        stdout.contains("held-out")
            && stdout.contains("mean")
            && stdout.contains("fit s")
            && stdout.contains("anytime regret"),
        "{stdout}"
    );
    let final_text = std::fs::read_to_string(dir.join("final.toml")).unwrap();
    let chosen = automl_search::load_portfolio(&final_text, "final.toml").unwrap();
    // At most 2 per task, and each one from the pool.
    assert!(!chosen.is_empty() && chosen.len() <= 4, "{final_text}");
    for (c, _) in &chosen {
        assert!(
            pool.iter()
                .any(|(p, _)| p.family == c.family && p.params == c.params)
        );
    }
    for name in ["churn", "xor", "houses"] {
        let path = dir.join("loo").join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            automl_search::portfolio_origins(&text)
                .iter()
                .all(|o| o.as_deref() != Some(name)),
            "{name}'s held-out portfolio holds its own configuration:\n{text}"
        );
        // A held-out portfolio is a valid `--portfolio` file.
        automl_search::load_portfolio(&text, "loo").unwrap();
    }
    // houses is the only regression dataset: without it there is nothing to choose from.
    let houses_text = std::fs::read_to_string(dir.join("loo/houses.toml")).unwrap();
    assert!(
        automl_search::load_portfolio(&houses_text, "h")
            .unwrap()
            .is_empty()
    );

    // `portfolio m-churn m-xor --select pool.toml` with more arguments.
    let select_two = |more: &[&str]| {
        let mut args = vec!["portfolio", "m-churn", "m-xor", "--select", "pool.toml"];
        args.extend_from_slice(more);
        run_in(dir, &args)
    };
    // A bound on the fit time that every evaluation exceeds leaves nothing to choose from.
    let out = select_two(&["--max-fit-seconds", "0", "-o", "slow.toml"]);
    assert_ne!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("took longer than --max-fit-seconds 0"),
        "{}",
        out.stderr()
    );
    assert!(!dir.join("slow.toml").exists());

    // JSON: the leave-one-out rows.
    let out = select_two(&[
        "--size",
        "2",
        "--leave-one-out",
        "loo2",
        "-o",
        "final2.toml",
        "--format",
        "json",
    ])
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let rows = doc["leave_one_out"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        let k = r["k"].as_array().unwrap().len();
        assert_eq!(k, r["held_out"].as_array().unwrap().len());
        // The fit seconds of the first k members: one per k, never shrinking as k grows, and
        // more than zero once a member was evaluated (every pool entry was, in the matrix).
        for field in ["in_sample_fit_s", "held_out_fit_s"] {
            let secs: Vec<f64> = r[field]
                .as_array()
                .unwrap_or_else(|| panic!("{field} in {r}"))
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(secs.len(), k, "{r}");
            assert!(secs.windows(2).all(|w| w[0] <= w[1]), "{r}");
        }
        assert!(r["in_sample_fit_s"][k - 1].as_f64().unwrap() > 0.0, "{r}");
        // The anytime regret the choice minimised (by default, within 60 fit seconds): the
        // mean over that time of the best regret so far, so between the full portfolio's best
        // regret and the cap.
        for (field, regrets) in [
            ("in_sample_anytime", "in_sample"),
            ("held_out_anytime", "held_out"),
        ] {
            let v = r[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{field} in {r}"));
            let last = r[regrets][k - 1].as_f64().unwrap();
            assert!((last - 1e-12..=2.0).contains(&v), "{field}: {r}");
        }
    }
    // `--anytime-seconds 0` chooses by the regret alone and reports no anytime regret.
    let out = select_two(&[
        "--anytime-seconds",
        "0",
        "--leave-one-out",
        "loo3",
        "-o",
        "final3.toml",
        "--format",
        "json",
    ])
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    for r in doc["leave_one_out"].as_array().unwrap() {
        assert!(r["held_out_anytime"].is_null(), "{r}");
    }
    let out = select_two(&["--anytime-seconds=-1", "-o", "bad.toml"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr().contains("--anytime-seconds"),
        "{}",
        out.stderr()
    );
    assert!(!dir.join("bad.toml").exists());
}

#[test]
fn portfolio_none_and_the_wrong_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("space.toml"), SPACE).unwrap();
    let churn = example("churn.csv");
    let churn = churn.to_str().unwrap();
    // The shipped portfolio starts with its configurations; `none` starts with the defaults.
    fit(dir, churn, "a", "churn", &["--max-trials", "2"]).ok();
    assert!(
        trials(dir, "a")
            .iter()
            .any(|r| r["operator"] == "portfolio")
    );
    fit(
        dir,
        churn,
        "b",
        "churn",
        &["--max-trials", "2", "--portfolio", "none"],
    )
    .ok();
    assert!(
        trials(dir, "b")
            .iter()
            .all(|r| r["operator"] != "portfolio")
    );
    let run = fit(
        dir,
        churn,
        "c",
        "churn",
        &["--strategy", "random", "--portfolio", "none"],
    );
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("--strategy auto only"),
        "{}",
        run.stderr()
    );
    let run = fit(dir, churn, "d", "churn", &["--portfolio", "missing.toml"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("missing.toml"), "{}", run.stderr());
    std::fs::write(
        dir.join("bad.toml"),
        "version = 1\n[[config]]\nfamily = 3\n",
    )
    .unwrap();
    let run = fit(dir, churn, "e", "churn", &["--portfolio", "bad.toml"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("family"), "{}", run.stderr());
}
