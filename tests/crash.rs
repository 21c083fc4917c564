//! Crash safety: a search SIGKILLed at random moments loses nothing it reported, leaves no
//! half-written trial, and `fit --resume` continues the same study to a usable final model;
//! Ctrl-C stops the search and still saves the best model.

use crate::util::*;
use automl_core::{Rng, TrialState};
use automl_store::{SledStore, Store, StoreRead};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Spawn `automl` with stderr captured line by line into a shared buffer.
fn spawn(dir: &std::path::Path, args: &[&str]) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = automl()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn automl");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let err = child.stderr.take().unwrap();
    let l2 = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            l2.lock().unwrap().push(line);
        }
    });
    (child, lines)
}

/// Trial ids the process reported complete (a progress line is printed only after the store
/// made the trial durable).
fn reported_complete(lines: &[String]) -> BTreeSet<u64> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.split("] trial ").nth(1)?;
            let mut parts = rest.split_whitespace();
            let id: u64 = parts.next()?.parse().ok()?;
            let _family = parts.next()?;
            (parts.next()? == "complete").then_some(id)
        })
        .collect()
}

fn check_store(path: &std::path::Path, must_have: &BTreeSet<u64>) -> usize {
    let store = SledStore::open(path).expect("the store opens after a kill");
    let studies = store.studies().unwrap();
    assert!(
        studies.len() <= 1,
        "resume continues the same study, got {} studies",
        studies.len()
    );
    let Some(study) = studies.first() else {
        return 0;
    };
    let trials = store.trials(study.study_id).unwrap();
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t.trial_id, i as u64, "trial ids are dense");
        if t.state == TrialState::Complete && !automl_core::is_meta_family(&t.candidate.family) {
            assert!(
                t.mean.is_finite() && !t.fold_scores.is_empty(),
                "complete trial {} is intact",
                t.trial_id
            );
            let bytes = store
                .artifact(study.study_id, t.trial_id)
                .unwrap()
                .expect("a complete trial has its models");
            automl_trainer::Predictor::from_bytes(&bytes).expect("the stored models decode");
        }
    }
    for id in must_have {
        let t = trials
            .iter()
            .find(|t| t.trial_id == *id)
            .unwrap_or_else(|| panic!("reported trial {id} lost"));
        assert_eq!(
            t.state,
            TrialState::Complete,
            "reported trial {id} is complete in the store"
        );
    }
    // No two complete trials are the same configuration (resume does not repeat work).
    let mut seen = BTreeSet::new();
    for t in trials.iter().filter(|t| {
        t.state == TrialState::Complete && !automl_core::is_meta_family(&t.candidate.family)
    }) {
        let key = format!("{}{:?}", t.candidate.family, t.candidate.params);
        assert!(
            seen.insert(key),
            "trial {} repeats a completed configuration",
            t.trial_id
        );
    }
    trials.len()
}

#[test]
fn sigkill_at_random_moments_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("churn.csv");
    let data = data.to_str().unwrap();
    let mut rng = Rng::new(2024);
    let mut reported = BTreeSet::new();
    let mut kills = 0;
    let mut i = 0;
    while kills < 20 {
        i += 1;
        let mut args = vec![
            "fit",
            data,
            "--store",
            "db",
            "--max-trials",
            "100000",
            "--time-budget",
            "600",
            "--space",
            "fast",
            "--jobs",
            "2",
            // Every complete trial's models are checked below, so none are dropped.
            "--keep-models",
            "all",
        ];
        if i > 1 {
            args.push("--resume");
        }
        let (mut child, lines) = spawn(dir, &args);
        let wait = Duration::from_millis(150 + rng.below(1200) as u64);
        let t0 = Instant::now();
        let mut exited = false;
        while t0.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !exited {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        reported.extend(reported_complete(&lines.lock().unwrap()));
        assert!(
            !exited,
            "a run ended by itself before it was killed: {:?}",
            lines.lock().unwrap()
        );
        check_store(&dir.join("db"), &reported);
    }
    // Finish the study (ten more trials) and use it.
    let before = check_store(&dir.join("db"), &reported);
    let budget = (before + 10).to_string();
    let r = run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--max-trials",
            &budget,
            "--time-budget",
            "600",
            "--space",
            "fast",
            "--jobs",
            "2",
            "--keep-models",
            "all",
            "--resume",
        ],
    )
    .ok();
    assert!(r.stdout().contains("best: trial"), "{}", r.stdout());
    let n = check_store(&dir.join("db"), &reported);
    assert!(
        n >= before + 10,
        "the resumed study ran its remaining trials ({before} -> {n})"
    );
    assert!(
        !reported.is_empty(),
        "some trials were reported complete before the kills"
    );
    {
        let store = SledStore::open(&dir.join("db")).unwrap();
        let study = store.latest_study().unwrap().unwrap();
        let trials = store.trials(study.study_id).unwrap();
        assert!(
            trials.iter().all(|t| t.state != TrialState::Running),
            "no zombie trials"
        );
        // 20 kills of runs with trials in flight (a run that ended by itself failed above).
        assert!(
            trials.iter().any(|t| t.state == TrialState::Interrupted),
            "trials left running by killed processes are marked interrupted"
        );
        let _ = store.flush();
    }
    let p = predict_in(dir, "db", data, "p.csv", &[]);
    assert_eq!(csv_rows(&p), 600);
}

#[test]
fn ctrl_c_stops_and_saves_the_best_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("churn.csv");
    let data = data.to_str().unwrap();
    let (mut child, lines) = spawn(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--time-budget",
            "300",
            "--space",
            "fast",
            "--jobs",
            "2",
        ],
    );
    let t0 = Instant::now();
    while reported_complete(&lines.lock().unwrap()).len() < 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no trials completed: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let t1 = Instant::now();
    let out = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(60),
            "the search did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        out.success(),
        "exit status {out:?}: {:?}",
        lines.lock().unwrap()
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains("stopped by Ctrl-C") && stdout.contains("best: trial"),
        "{stdout}"
    );
    let p = predict_in(dir, "db", data, "p.csv", &[]);
    assert_eq!(csv_rows(&p), 600);
}
