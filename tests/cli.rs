//! The main path end to end: fit -> leaderboard -> show -> predict, reproducibility, errors.

use crate::util::*;
use serde_json::Value;

pub fn leaderboard_json(dir: &std::path::Path, store: &str) -> Vec<Value> {
    let r = run_in(dir, &["leaderboard", "--store", store, "--format", "json"]).ok();
    serde_json::from_str::<Value>(&r.stdout())
        .expect("leaderboard json")
        .as_array()
        .unwrap()
        .clone()
}

/// fit -> leaderboard (3 formats) -> show -> predict, then reopen: same leaderboard, same predictions.
fn full_cycle(file: &str, classes: Option<&[&str]>, extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example(file);
    let data = data.to_str().unwrap();
    let mut args = vec![
        "fit",
        data,
        "--store",
        "db",
        "--max-trials",
        "10",
        "--time-budget",
        "120",
        "--space",
        "fast",
        "--jobs",
        "2",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    let fit = run_in(dir, &args).ok();
    let out = fit.stdout();
    assert!(
        out.contains("best: trial"),
        "summary lacks the best trial:\n{out}"
    );
    assert!(out.contains("model:"), "{out}");

    let rows = leaderboard_json(dir, "db");
    let searched = rows.iter().filter(|r| !crate::util::is_meta_row(r)).count();
    assert_eq!(searched, 10, "every trial is stored");
    let ensembles = rows.iter().filter(|r| r["family"] == "ensemble").count();
    assert_eq!(ensembles, 1, "exactly one ensemble row, used or not");
    assert!(rows.len() <= 12, "at most one stacking row besides");
    assert_eq!(rows[0]["rank"], 1);
    assert!(rows[0]["mean"].is_number());
    for r in &rows {
        for key in [
            "trial_id",
            "family",
            "state",
            "mean",
            "std",
            "fit_time_s",
            "params",
            "metrics",
        ] {
            assert!(r.get(key).is_some(), "json row lacks {key}: {r}");
        }
    }
    let table = run_in(dir, &["leaderboard", "--store", "db"]).ok().stdout();
    assert!(
        table.contains("rank") && table.contains("family"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|l| l.ends_with("-fold stratified CV") || l.ends_with("-fold CV")),
        "the header names the validation scheme:\n{table}"
    );
    let csv = run_in(dir, &["leaderboard", "--store", "db", "--format", "csv"])
        .ok()
        .stdout();
    assert_eq!(
        csv.lines().count(),
        rows.len() + 1,
        "header + one line per trial:\n{csv}"
    );
    assert!(csv.starts_with("rank,trial_id,family,state,metric,mean,std"));

    let best_id = rows[0]["trial_id"].as_u64().unwrap().to_string();
    let show = run_in(dir, &["show", &best_id, "--store", "db"])
        .ok()
        .stdout();
    assert!(
        show.contains("parameters") && show.contains("per fold"),
        "{show}"
    );

    // The ensemble is always stored once at least two trials have out-of-fold predictions,
    // used or not, with its typed decision: it is used (and is the final model) exactly when
    // its cross-validated selection beats picking one trial the same way.
    let e = rows
        .iter()
        .find(|r| r["family"] == "ensemble")
        .unwrap_or_else(|| panic!("no ensemble trial among {} rows", rows.len()));
    let id = e["trial_id"].as_u64().unwrap();
    let shown: Value = serde_json::from_str(
        &run_in(dir, &["show", &id.to_string(), "--store", "db", "--json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    let decision = &shown["ensemble"];
    let used = decision["used"]
        .as_bool()
        .expect("a typed ensemble decision");
    let mean = decision["cv_score"].as_f64().unwrap();
    let single = decision["single_selection_cv"].as_f64().unwrap();
    assert_eq!(mean, e["mean"].as_f64().unwrap());
    let higher_better = matches!(e["metric"].as_str(), Some("roc_auc" | "accuracy" | "r2"));
    let beats = if higher_better {
        mean > single
    } else {
        mean < single
    };
    // A stacking that beats the ensemble is the final model instead, and says so.
    let stacking_won = decision["reason"]
        .as_str()
        .is_some_and(|r| r.contains("the stacking beats it"));
    assert_eq!(
        used,
        beats && !stacking_won,
        "ensemble {mean} vs single pick {single}: {decision}"
    );
    let study = automl_store::open_read_only(&dir.join("db"))
        .unwrap()
        .latest_study()
        .unwrap()
        .unwrap();
    let final_trial = study.final_trial;
    assert_eq!(
        study.ensemble.as_ref().and_then(|d| d.trial_id),
        Some(id),
        "the study records the decision too"
    );
    assert_eq!(
        final_trial == Some(id),
        used,
        "final model {final_trial:?}, ensemble {id} used {used}"
    );

    let preds = predict_in(dir, "db", data, "preds.csv", &[]);
    let (header, body) = read_csv(&preds);
    assert_eq!(header[0], "prediction");
    assert_eq!(
        body.len(),
        csv_rows(std::path::Path::new(data)),
        "one prediction per input row"
    );
    if let Some(classes) = classes {
        for c in classes {
            assert!(
                header.contains(&format!("proba_{c}")),
                "missing proba_{c} in {header:?}"
            );
        }
        for row in &body {
            let s: f64 = row[1..].iter().map(|x| x.parse::<f64>().unwrap()).sum();
            assert!((s - 1.0).abs() < 1e-6, "probabilities sum to {s}");
            assert!(
                classes.contains(&row[0].as_str()),
                "prediction {} is a class",
                row[0]
            );
        }
    } else {
        for row in &body {
            assert!(row[0].parse::<f64>().unwrap().is_finite());
        }
    }
    // Reopen: same leaderboard and identical predictions.
    assert_eq!(leaderboard_json(dir, "db"), rows);
    let preds2 = predict_in(dir, "db", data, "preds2.csv", &[]);
    assert_eq!(
        std::fs::read(&preds).unwrap(),
        std::fs::read(&preds2).unwrap()
    );
    // A trial's own fold models predict too.
    let preds3 = predict_in(dir, "db", data, "preds3.csv", &["--trial", &best_id]);
    assert_eq!(csv_rows(&preds3), body.len());
}

#[test]
fn binary_with_categoricals_and_missing_values() {
    full_cycle("churn.csv", Some(&["no", "yes"]), &[]);
}

#[test]
fn multiclass() {
    full_cycle(
        "flowers.csv",
        Some(&["setosa", "versicolor", "virginica"]),
        &[],
    );
}

#[test]
fn regression() {
    full_cycle("houses.csv", None, &[]);
}

#[test]
fn failing_candidate_is_recorded_and_search_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let space = dir.join("bad.toml");
    std::fs::write(
        &space,
        r#"version = 1
name = "bad"
description = "one family whose parameter the model rejects"
[families.knn.params]
k = { type = "fixed", value = 0 }
[families.naive_bayes.params]
var_smoothing = { type = "float", low = 1e-10, high = 1e-3, log = true, default = 1e-9 }
"#,
    )
    .unwrap();
    let data = example("flowers.csv");
    run_in(
        dir,
        &[
            "fit",
            data.to_str().unwrap(),
            "--store",
            "db",
            "--max-trials",
            "4",
            "--space",
            space.to_str().unwrap(),
            "--jobs",
            "1",
        ],
    )
    .ok();
    let rows: Vec<Value> = leaderboard_json(dir, "db")
        .into_iter()
        .filter(|r| !crate::util::is_meta_row(r))
        .collect();
    assert_eq!(rows.len(), 4);
    let failed: Vec<&Value> = rows.iter().filter(|r| r["state"] == "failed").collect();
    assert!(!failed.is_empty(), "the knn trials fail: {rows:?}");
    assert!(
        failed
            .iter()
            .all(|r| r["family"] == "knn" && r["error"].as_str().unwrap().contains('k'))
    );
    assert!(rows.iter().any(|r| r["state"] == "complete"));
}

#[test]
fn same_seed_same_leaderboard_with_1_2_and_6_jobs() {
    let data = example("churn.csv");
    let mut boards = Vec::new();
    let mut preds = Vec::new();
    let mut limits = Vec::new();
    for jobs in ["1", "2", "6", "2"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        run_in(
            dir,
            &[
                "fit",
                data.to_str().unwrap(),
                "--store",
                "db",
                "--max-trials",
                "14",
                "--space",
                "fast",
                "--jobs",
                jobs,
                "--seed",
                "11",
                "--quiet",
            ],
        )
        .ok();
        let rows: Vec<Value> = leaderboard_json(dir, "db")
            .into_iter()
            .map(|mut r| {
                for k in ["fit_time_s", "predict_time_per_row_s"] {
                    r.as_object_mut().unwrap().remove(k);
                }
                r
            })
            .collect();
        boards.push(rows);
        // The per-trial memory limit is stored on the study and does not depend on --jobs.
        let study = automl_store::open_read_only(&dir.join("db"))
            .unwrap()
            .latest_study()
            .unwrap()
            .unwrap();
        limits.push(
            study
                .memory_limit_bytes
                .expect("the study stores its memory limit"),
        );
        let p = predict_in(dir, "db", data.to_str().unwrap(), "p.csv", &[]);
        preds.push(std::fs::read(p).unwrap());
    }
    assert!(
        limits.iter().all(|l| *l == limits[0]),
        "same memory limit with any --jobs: {limits:?}"
    );
    for i in 1..boards.len() {
        assert_eq!(
            boards[0], boards[i],
            "run {i}: same trials and scores to the last bit"
        );
        assert_eq!(preds[0], preds[i], "run {i}: identical predictions");
    }
}

#[test]
fn clear_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = run_in(dir, &["fit", "does-not-exist.csv", "--store", "db"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("does-not-exist.csv"), "{}", r.stderr());
    let data = example("houses.csv");
    let r = run_in(
        dir,
        &[
            "fit",
            data.to_str().unwrap(),
            "--metric",
            "roc_auc",
            "--store",
            "db",
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("roc_auc") && r.stderr().contains("rmse"),
        "{}",
        r.stderr()
    );
    let r = run_in(
        dir,
        &[
            "fit",
            data.to_str().unwrap(),
            "--time-budget",
            "-5",
            "--store",
            "db",
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("--time-budget"), "{}", r.stderr());
    let r = run_in(dir, &["leaderboard", "--store", "nowhere"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("nowhere"), "{}", r.stderr());
    assert!(!r.stderr().contains("panicked"));
}

#[test]
fn fold_models_are_kept_for_the_best_n_trials_only_and_every_record_stays() {
    let data = example("churn.csv");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fit = |store: &str, keep: &str| {
        run_in(
            dir,
            &[
                "fit",
                data.to_str().unwrap(),
                "--store",
                store,
                "--max-trials",
                "40",
                "--space",
                "fast",
                "--seed",
                "3",
                "--keep-models",
                keep,
            ],
        )
        .ok()
        .stdout()
    };
    let out = fit("kept", "4");
    let size_line = out
        .lines()
        .find(|l| l.contains("store:") && l.contains("best 4 trials"))
        .unwrap_or_else(|| panic!("no store-size line:\n{out}"));
    assert!(size_line.contains("B"), "{size_line}");
    let out_all = fit("all", "all");
    assert!(out_all.contains("store:"), "{out_all}");
    let read = |store: &str| {
        let s = automl_store::open_read_only(&dir.join(store)).unwrap();
        let study = s.latest_study().unwrap().unwrap();
        (s.trials(study.study_id).unwrap(), study)
    };
    let (trials, study) = read("kept");
    let searched: Vec<_> = trials
        .iter()
        .filter(|t| !automl_core::is_meta_family(&t.candidate.family))
        .collect();
    assert_eq!(searched.len(), 40, "every record is kept");
    // The best 4 by score, plus what the final model and the ensemble are made of.
    let mut protect: Vec<u64> = study.final_trial.into_iter().collect();
    if let Some(d) = &study.ensemble {
        protect.extend(d.trial_id);
        if d.used {
            protect.extend(d.members.iter().map(|m| m.0));
        }
    }
    if let Some(d) = &study.stacking {
        protect.extend(d.trial_id);
        if d.used {
            protect.extend(d.members.iter().copied());
        }
    }
    let with_models: Vec<u64> = searched
        .iter()
        .filter(|t| t.has_artifact && !protect.contains(&t.trial_id))
        .map(|t| t.trial_id)
        .collect();
    assert!(
        with_models.len() <= 4,
        "fold models kept for {with_models:?} besides {protect:?}"
    );
    let (all, _) = read("all");
    let complete = all
        .iter()
        .filter(|t| t.state == automl_core::TrialState::Complete)
        .count();
    assert_eq!(
        all.iter().filter(|t| t.has_artifact).count(),
        complete,
        "--keep-models all keeps every complete trial's models"
    );
    assert!(complete > 20);
}

#[test]
fn version_names_the_commit_the_binary_was_built_from() {
    // Benchmarks record it, so a figure names the code that produced it.
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_string());
    let commit = git.unwrap_or_else(|| "unknown commit".to_string());
    let r = run_in(&std::env::temp_dir(), &["--version"]).ok();
    assert_eq!(
        r.stdout().trim(),
        format!("automl {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}
