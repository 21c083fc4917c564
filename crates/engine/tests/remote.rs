//! Remote workers: a coordinator queues trials in a shared store and worker lanes (threads
//! here, processes in production) claim, evaluate and hand them back. Invariant 6 holds across
//! workers: the same seed, trial budget and parallelism give the leaderboard of the
//! one-process run, whatever the number of workers and the order they finish in. Leases that
//! expire are retried and recorded; trials that live workers hold survive a resume.
//!
//! The shared store is a `MemoryStore` (its clones are handles on one store, as processes
//! attach to one database); tests/remote_postgres.rs runs the core checks on PostgreSQL.

mod common;

use automl_core::{Candidate, Rng, TrialState};
use automl_engine::wire::{
    QueuedTrial, TrainingDataSpec, decode_evaluation, encode_evaluation, training_data_key,
};
use automl_engine::worker::{WorkerConfig, WorkerEvent, run_worker};
use automl_engine::{EngineError, RemoteConfig, SledStore, StudyBuilder};
use automl_space::SearchSpace;
use automl_store::{MemoryStore, QueueState, Store, StoreRead, TrialQueue};
use automl_trainer::Evaluation;
use common::{
    SEED, assert_remote_run, assert_same_rows, churn, config, create, reference, remote,
    remote_run, resume, rows, run_recording, searched, try_create, worker,
};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[test]
fn workers_give_the_one_process_leaderboard_for_any_worker_count_and_finish_order() {
    let max_trials = 14;
    for parallelism in [6, 3] {
        let want = reference("bayes", max_trials, parallelism);
        for (workers, schedule) in [(1, 1u64), (3, 2)] {
            let store = MemoryStore::new();
            let trials = remote_run(
                &store,
                &|_| Box::new(store.clone()),
                "bayes",
                max_trials,
                parallelism,
                workers,
                schedule,
            );
            let context = format!("W={parallelism}, {workers} workers");
            assert_remote_run(&want, &trials, max_trials, &context);
        }
    }
}

#[test]
fn a_trial_whose_worker_is_killed_is_retried_completes_once_and_says_so() {
    let max_trials = 10;
    let want = reference("bayes", max_trials, 6);
    let store = MemoryStore::new();
    let study = create(&store, "bayes", config(max_trials, 6, remote()));
    let id = study.id();
    let cancel = AtomicBool::new(false);
    let claimed = AtomicBool::new(false);
    let killed = std::thread::scope(|s| {
        // The killed worker: claims one trial with a short lease, never renews, never finishes.
        let killer = s.spawn(|| {
            loop {
                if let Some(lease) = store
                    .claim("killed", Some(id), Duration::from_millis(150))
                    .unwrap()
                {
                    claimed.store(true, Ordering::SeqCst);
                    return lease;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let live = s.spawn(|| {
            while !claimed.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            run_worker(&store, &worker("live", Some(id), 9), &cancel, &|_| {}).unwrap()
        });
        run_recording(study);
        let lease = killer.join().unwrap();
        live.join().unwrap();
        lease
    });
    // The killed worker coming back late cannot hand in a second result.
    assert!(!store.finish(&killed, b"late").unwrap());
    let trials = store.trials(id).unwrap();
    let t = &trials[killed.trial_id as usize];
    assert_eq!(t.state, TrialState::Complete, "{t:?}");
    assert_eq!(t.extra.get("attempts").map(String::as_str), Some("2"));
    assert_eq!(t.extra.get("worker").map(String::as_str), Some("live"));
    for o in searched(&trials)
        .iter()
        .filter(|o| o.trial_id != killed.trial_id)
    {
        assert_eq!(o.extra.get("attempts").map(String::as_str), Some("1"));
    }
    assert_same_rows(&want, &rows(&trials), "a killed worker");
    assert_eq!(searched(&trials).len() as u64, max_trials);
}

#[test]
fn a_trial_lost_more_often_than_the_attempt_limit_is_a_failed_record() {
    let store = MemoryStore::new();
    let mut cfg = config(3, 6, remote());
    cfg.remote = Some(RemoteConfig {
        max_attempts: 2,
        requeue_every: Duration::from_millis(20),
        ..RemoteConfig::default()
    });
    let study = create(&store, "bayes", cfg);
    let id = study.id();
    let stop = AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        // A worker that is killed on every trial it claims.
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                let _ = store
                    .claim("doomed", Some(id), Duration::from_millis(30))
                    .unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let summary = study.run(&mut |_| {});
        stop.store(true, Ordering::SeqCst);
        summary
    })
    .unwrap();
    assert!(summary.best.is_none());
    let trials = store.trials(id).unwrap();
    assert_eq!(trials.len(), 3);
    for t in &trials {
        assert_eq!(t.state, TrialState::Failed, "{t:?}");
        let e = t.error.as_deref().unwrap();
        assert!(e.contains("lost 2 times"), "{e}");
        assert_eq!(t.extra.get("attempts").map(String::as_str), Some("2"));
    }
}

#[test]
fn a_worker_started_before_its_study_waits_for_it_and_exits_when_it_ends() {
    let store = MemoryStore::new();
    let cancel = AtomicBool::new(false);
    let events = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            run_worker(&store, &worker("early", Some(1), 4), &cancel, &|e| {
                events.lock().unwrap().push(e.clone())
            })
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!w.is_finished(), "the worker waits for study 1");
        let study = create(&store, "bayes", config(4, 6, remote()));
        assert_eq!(study.id(), 1);
        study.run(&mut |_| {}).unwrap();
        let summary = w.join().unwrap().unwrap();
        assert_eq!(summary.finished, 4);
        assert_eq!(summary.dropped, 0);
    });
    let events = events.into_inner().unwrap();
    let finished = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                WorkerEvent::Finished {
                    state: TrialState::Complete,
                    ..
                }
            )
        })
        .count();
    assert_eq!(finished, 4, "{events:?}");
    // A worker started after the study ended exits at once.
    let late = run_worker(&store, &worker("late", Some(1), 0), &cancel, &|_| {}).unwrap();
    assert_eq!(late.finished, 0);
}

#[test]
fn a_worker_without_a_study_exits_after_its_idle_timeout() {
    let store = MemoryStore::new();
    let summary = run_worker(
        &store,
        &worker("idle", None, 0),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    assert_eq!(summary.finished, 0);
}

#[test]
fn the_coordinator_can_evaluate_in_its_own_lanes() {
    let store = MemoryStore::new();
    let mut cfg = config(8, 3, remote());
    cfg.remote = Some(RemoteConfig {
        local_lanes: 2,
        ..RemoteConfig::default()
    });
    let study = create(&store, "bayes", cfg);
    let summary = study.run(&mut |_| {}).unwrap();
    let trials = store.trials(summary.study.study_id).unwrap();
    let want = reference("bayes", 8, 3);
    assert_same_rows(&want, &rows(&trials), "the coordinator's own lanes");
    assert_eq!(summary.study.parallelism, Some(3));
}

#[test]
fn remote_workers_on_a_store_without_a_queue_are_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let sled = SledStore::open(dir.path()).unwrap();
    let flowers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/flowers.csv");
    let e = StudyBuilder::from_csv(&flowers)
        .max_trials(2)
        .remote_workers(true)
        .create(&sled)
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::NoQueue), "{e}");
    assert!(e.to_string().contains("PostgreSQL"), "{e}");
    let e = run_worker(
        &sled,
        &WorkerConfig::default(),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(e, EngineError::NoQueue), "{e}");
    // The engine refuses it too, not only the builder: creating, and resuming a study made
    // without remote workers.
    let e = try_create(&sled, "bayes", config(2, 6, remote()))
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::NoQueue), "{e}");
    let plain = create(&sled, "bayes", config(2, 6, None)).id();
    let e = resume(&sled, plain, "bayes", config(2, 6, remote()))
        .err()
        .unwrap();
    assert!(matches!(e, EngineError::NoQueue), "{e}");
    // Without remote workers the same store is fine.
    let study = StudyBuilder::from_csv(&flowers)
        .max_trials(2)
        .parallelism(2)
        .create(&sled)
        .unwrap();
    assert_eq!(
        sled.study(study.id()).unwrap().unwrap().parallelism,
        Some(2)
    );
}

/// The blob key of study `id`'s training data, and the data the coordinator stores there.
fn training_data_of(store: &dyn StoreRead, id: u64) -> (String, TrainingDataSpec) {
    let record = store.study(id).unwrap().unwrap();
    let data = churn();
    let spec = TrainingDataSpec {
        features: data.features,
        y: data.y,
        task: data.task,
        n_classes: data.classes.len(),
        metric: automl_core::Metric::from_name(&record.metric).unwrap(),
        cv: automl_trainer::CvConfig {
            seed: SEED,
            ..Default::default()
        },
        memory_limit: 8 << 30,
        blocks: automl_data::RowBlocks::Independent,
    };
    (training_data_key(&record.fingerprint), spec)
}

/// A default decision tree.
fn tree() -> Candidate {
    let space = SearchSpace::builtin("fast").unwrap();
    let family = space.family("decision_tree").unwrap();
    Candidate::new(
        "decision_tree",
        family.default_params(automl_core::Task::Binary),
        "default",
    )
}

/// Queue the evaluation of trial `t` of study `id` (started already) as a coordinator does.
fn enqueue(store: &MemoryStore, id: u64, t: u64, candidate: &Candidate) {
    let payload = QueuedTrial {
        trial_id: t,
        candidate: candidate.clone(),
        seed: Rng::derive_seed(SEED, t),
        deadline_ms: None,
    };
    store.enqueue(id, t, &payload.encode()).unwrap();
}

#[test]
fn the_training_data_blob_a_worker_reads_gives_the_one_process_folds() {
    let store = MemoryStore::new();
    let trials = remote_run(&store, &|_| Box::new(store.clone()), "bayes", 3, 6, 1, 5);
    common::assert_blob_gives_the_one_process_folds(&store, trials[0].study_id);
}

#[test]
fn a_missing_or_damaged_training_data_blob_fails_the_trial_with_a_clear_error() {
    let store = MemoryStore::new();
    let mut cases: Vec<(Option<Vec<u8>>, &str)> = Vec::new();
    let (_, good) = training_data_of(&store, create(&store, "bayes", config(1, 6, None)).id());
    let bytes = good.encode();
    cases.push((
        Some(bytes[..bytes.len() / 2].to_vec()),
        "corrupt training data",
    ));
    let mut version = bytes.clone();
    version[0] = 9;
    cases.push((Some(version), "format version 9"));
    let mut short = good.clone();
    short.y.pop();
    cases.push((Some(short.encode()), "600 feature rows for 599 targets"));
    let mut class = good;
    class.y[3] = 7.0;
    cases.push((Some(class.encode()), "a class target out of range"));
    cases.push((None, "is not in the store (blob `training-data/"));
    let mut ids = Vec::new();
    for (blob, _) in &cases {
        let id = create(&store, "bayes", config(1, 6, remote())).id();
        let (key, _) = training_data_of(&store, id);
        if let Some(b) = blob {
            store.put_blob(id, &key, b).unwrap();
        }
        let t = store.start_trial(id, &tree(), "bayes", 0).unwrap();
        enqueue(&store, id, t.trial_id, &tree());
        ids.push(id);
    }
    // One worker for every study: each trial fails, the worker goes on to the next.
    let summary = run_worker(
        &store,
        &worker("w", None, 0),
        &AtomicBool::new(false),
        &|_| {},
    )
    .unwrap();
    assert_eq!(summary.finished, cases.len() as u64, "{summary:?}");
    for (id, (_, want)) in ids.into_iter().zip(&cases) {
        let results = store.take_results(id).unwrap();
        assert_eq!(results.len(), 1, "study {id}");
        let eval = decode_evaluation(results[0].result.as_deref().unwrap()).unwrap();
        assert_eq!(eval.state, TrialState::Failed, "study {id}");
        let e = eval.error.unwrap();
        assert!(
            e.starts_with("the worker could not evaluate this trial: ") && e.contains(want),
            "study {id}: {e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn resume_adopts_trials_that_live_workers_hold_and_requeues_expired_leases() {
    let store = MemoryStore::new();
    let dead = create(&store, "bayes", config(8, 3, remote()));
    let id = dead.id();
    drop(dead);
    // A coordinator that died mid-search: it had stored the training data, queued trials
    // 0-2, started trial 3 without queueing it, and taken trial 4's result without recording
    // it.
    let (key, spec) = training_data_of(&store, id);
    store.put_blob(id, &key, &spec.encode()).unwrap();
    let candidate = tree();
    let queue = |t: u64| enqueue(&store, id, t, &candidate);
    for t in 0..5u64 {
        assert_eq!(
            store
                .start_trial(id, &candidate, "bayes", 0)
                .unwrap()
                .trial_id,
            t
        );
    }
    // Trial 1 is held by a live worker, trial 2's worker died (its lease expires at once),
    // trial 0 is still queued.
    queue(1);
    queue(2);
    let held = store
        .claim("live", Some(id), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    let dying = store
        .claim("dead", Some(id), Duration::from_millis(1))
        .unwrap()
        .unwrap();
    assert_eq!((held.trial_id, dying.trial_id), (1, 2));
    queue(4);
    let lost = store
        .claim("gone", Some(id), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(lost.trial_id, 4);
    let eval = Evaluation::failed(TrialState::Failed, "taken, never recorded".into(), 0.5);
    assert!(store.finish(&lost, &encode_evaluation(&eval)).unwrap());
    assert_eq!(store.take_results(id).unwrap().len(), 1);
    assert_eq!(store.entry_state(id, 4).unwrap(), Some(QueueState::Closed));
    queue(0);
    std::thread::sleep(Duration::from_millis(5));

    let study = resume(&store, id, "bayes", config(8, 6, remote())).unwrap();
    assert_eq!(study.adopted_trials(), vec![0, 1, 2, 3, 4]);
    assert_eq!(store.entry_state(id, 2).unwrap(), Some(QueueState::Queued));
    assert_eq!(
        store.entry_state(id, 3).unwrap(),
        None,
        "queued when submitted"
    );
    assert_eq!(
        store.entry_state(id, 4).unwrap(),
        None,
        "queued anew when submitted"
    );
    let cancel = AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let w = s.spawn(|| run_worker(&store, &worker("w", Some(id), 3), &cancel, &|_| {}));
        // The live worker finishes its trial while the resumed session runs.
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            let eval = Evaluation::failed(TrialState::Failed, "from the live worker".into(), 0.5);
            assert!(store.finish(&held, &encode_evaluation(&eval)).unwrap());
        });
        let summary = study.run(&mut |_| {}).unwrap();
        w.join().unwrap().unwrap();
        summary
    });
    // The resumed study keeps its stored parallelism (3), not the session's 6.
    assert_eq!(summary.study.parallelism, Some(3));
    let trials = searched(&store.trials(id).unwrap());
    assert_eq!(trials.len(), 8, "{} trials", trials.len());
    let t1 = &trials[1];
    assert_eq!(t1.state, TrialState::Failed);
    assert_eq!(t1.error.as_deref(), Some("from the live worker"));
    assert_eq!(t1.extra.get("worker").map(String::as_str), Some("live"));
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(trials[2].state, TrialState::Complete);
    assert_eq!(
        trials[2].extra.get("attempts").map(String::as_str),
        Some("2")
    );
    // The trial never queued and the one whose result was lost are evaluated (again), once.
    for t in &trials[3..] {
        assert_eq!(t.state, TrialState::Complete, "{t:?}");
    }
    assert_eq!(
        trials[4].extra.get("attempts").map(String::as_str),
        Some("1")
    );
    assert_eq!(trials[4].extra.get("worker").map(String::as_str), Some("w"));
}
