//! Helpers shared by the engine's integration tests (each test binary uses a subset): the
//! churn study, the leaderboard rows that must be identical across runs, the one-process
//! reference run, and a coordinator with worker threads on any store that has a trial queue.
#![allow(dead_code)]

use automl_core::{Budget, Metric, Rng, TrialRecord, TrialState};
use automl_data::{Dataset, ReadOptions, load_training};
use automl_engine::wire::{TrainingDataSpec, training_data_key};
use automl_engine::worker::{WorkerConfig, WorkerSummary, run_worker};
use automl_engine::{EngineError, RemoteConfig, Study, StudyConfig};
use automl_space::SearchSpace;
use automl_store::{MemoryStore, Store, StoreRead};
use automl_trainer::{CvConfig, TrainingData};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The seed of every study here.
pub const SEED: u64 = 7;

/// examples/data/churn.csv (600 rows, binary).
pub fn churn() -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/churn.csv");
    load_training(&path, &ReadOptions::default()).unwrap()
}

/// examples/data/houses.csv (regression).
pub fn houses() -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/houses.csv");
    load_training(&path, &ReadOptions::default()).unwrap()
}

/// What must be identical: trial id, family, parameters, lineage, state, fold scores (bits).
pub type Row = (u64, String, String, Vec<u64>, String, Vec<u64>);

/// The rows of `trials`, in order.
pub fn rows(trials: &[TrialRecord]) -> Vec<Row> {
    trials
        .iter()
        .map(|t| {
            (
                t.trial_id,
                t.candidate.family.clone(),
                format!("{:?}", t.candidate.params),
                t.candidate.parents.clone(),
                t.state.as_str().to_string(),
                t.fold_scores.iter().map(|s| s.to_bits()).collect(),
            )
        })
        .collect()
}

/// Assert that `got` is `want` row for row, naming the first trial that differs.
pub fn assert_same_rows(want: &[Row], got: &[Row], context: &str) {
    for (a, b) in want.iter().zip(got) {
        assert_eq!(
            a, b,
            "{context}: differs from the reference at trial {}",
            a.0
        );
    }
    assert_eq!(want.len(), got.len(), "{context}: trial counts differ");
}

/// The searched trials (meta-trials such as the ensemble left out).
pub fn searched(trials: &[TrialRecord]) -> Vec<TrialRecord> {
    trials
        .iter()
        .filter(|t| !automl_core::is_meta_family(&t.candidate.family))
        .cloned()
        .collect()
}

/// A study config: `max_trials`, parallelism W, remote workers or not.
pub fn config(max_trials: u64, parallelism: usize, remote: Option<RemoteConfig>) -> StudyConfig {
    StudyConfig {
        name: "remote".into(),
        budget: Budget {
            time_s: None,
            max_trials: Some(max_trials),
        },
        seed: SEED,
        jobs: 2,
        parallelism,
        remote,
        memory_limit: Some(8 << 30),
        ..StudyConfig::default()
    }
}

/// Remote workers only (the coordinator evaluates nothing), expired leases looked for often.
pub fn remote() -> Option<RemoteConfig> {
    Some(RemoteConfig {
        local_lanes: 0,
        max_attempts: 3,
        requeue_every: Duration::from_millis(50),
    })
}

/// A study of churn in the `fast` space with `strategy`.
pub fn create<'a>(store: &'a dyn Store, strategy: &str, cfg: StudyConfig) -> Study<'a> {
    try_create(store, strategy, cfg).unwrap()
}

/// [`create`], or the engine's refusal.
pub fn try_create<'a>(
    store: &'a dyn Store,
    strategy: &str,
    cfg: StudyConfig,
) -> Result<Study<'a>, EngineError> {
    let space = SearchSpace::builtin("fast").unwrap();
    let strategy = automl_search::by_name(strategy, SEED).unwrap();
    Study::create(store, churn(), space, strategy, cfg)
}

/// Resume study `id` of `store` (churn, `fast` space) with `strategy`.
pub fn resume<'a>(
    store: &'a dyn Store,
    id: u64,
    strategy: &str,
    cfg: StudyConfig,
) -> Result<Study<'a>, EngineError> {
    let space = SearchSpace::builtin("fast").unwrap();
    let strategy = automl_search::by_name(strategy, SEED).unwrap();
    Study::resume(store, id, churn(), space, strategy, cfg)
}

/// Run `study` to its end, checking that it made a final model and recorded each trial once;
/// the trial ids in the order they were recorded.
pub fn run_recording(study: Study<'_>) -> Vec<u64> {
    let mut recorded = Vec::new();
    let summary = study
        .run(&mut |p| {
            if let Some(t) = &p.last {
                recorded.push(t.trial_id);
            }
        })
        .unwrap();
    assert!(summary.best.is_some(), "a final model was made");
    let unique: BTreeSet<u64> = recorded.iter().copied().collect();
    assert_eq!(
        unique.len(),
        recorded.len(),
        "a trial recorded twice: {recorded:?}"
    );
    recorded
}

/// A worker lane config: its own name, leases that heartbeats keep alive, and a seeded delay
/// before each result is handed back (0-60 ms), so that trials finish in a scrambled order.
pub fn worker(name: &str, study: Option<u64>, schedule: u64) -> WorkerConfig {
    WorkerConfig {
        study,
        jobs: 1,
        idle_timeout: Duration::from_millis(300),
        lease: Duration::from_secs(5),
        heartbeat: Duration::from_millis(100),
        name: name.to_string(),
        finish_delay: Some(Arc::new(move |_, trial| {
            Duration::from_millis(Rng::derive_seed(schedule, trial) % 61)
        })),
    }
}

/// The one-process run: trials on threads of this process, in a memory store.
pub fn reference(strategy: &str, max_trials: u64, parallelism: usize) -> Vec<Row> {
    let store = MemoryStore::new();
    let study = create(&store, strategy, config(max_trials, parallelism, None));
    let summary = study.run(&mut |_| {}).unwrap();
    rows(&store.trials(summary.study.study_id).unwrap())
}

/// Opens a worker's own handle on the shared store (worker index -> store).
pub type OpenWorkerStore<'s> = &'s (dyn Fn(usize) -> Box<dyn Store> + Sync);

/// The study run by a coordinator on `coordinator` and `workers` worker threads, worker `w`
/// on its own store handle `open(w)`, named `w<w>`, its finish order drawn from `schedule`.
/// Checks that the study made a final model, recorded each trial once, and that the workers
/// evaluated `max_trials` trials between them; returns the trials.
pub fn remote_run(
    coordinator: &dyn Store,
    open: OpenWorkerStore<'_>,
    strategy: &str,
    max_trials: u64,
    parallelism: usize,
    workers: usize,
    schedule: u64,
) -> Vec<TrialRecord> {
    let study = create(
        coordinator,
        strategy,
        config(max_trials, parallelism, remote()),
    );
    let id = study.id();
    let cancel = AtomicBool::new(false);
    let summaries: Vec<WorkerSummary> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let cancel = &cancel;
                s.spawn(move || {
                    let store = open(w);
                    let cfg = worker(&format!("w{w}"), Some(id), schedule * 10 + w as u64);
                    run_worker(&*store, &cfg, cancel, &|_| {})
                })
            })
            .collect();
        run_recording(study);
        // Every worker exits on its own once the study has ended.
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let finished: u64 = summaries.iter().map(|s| s.finished).sum();
    assert_eq!(
        finished, max_trials,
        "each trial evaluated once: {summaries:?}"
    );
    coordinator.trials(id).unwrap()
}

/// Assert what a remote run with no lost worker must show: trials 0..max_trials searched,
/// each complete at its first attempt by a named worker, and the leaderboard of the
/// one-process run `want`.
pub fn assert_remote_run(want: &[Row], trials: &[TrialRecord], max_trials: u64, context: &str) {
    let searched = searched(trials);
    for t in &searched {
        assert_eq!(t.state, TrialState::Complete, "{context}: {t:?}");
        assert_eq!(
            t.extra.get("attempts").map(String::as_str),
            Some("1"),
            "{context}: trial {}",
            t.trial_id
        );
        assert!(
            t.extra.get("worker").is_some_and(|w| w.starts_with('w')),
            "{context}: trial {} names no worker",
            t.trial_id
        );
    }
    let ids: Vec<u64> = searched.iter().map(|t| t.trial_id).collect();
    assert_eq!(ids, (0..max_trials).collect::<Vec<_>>(), "{context}");
    assert_same_rows(want, &rows(trials), context);
}

/// Assert that the training data blob (`training-data/<fingerprint>`) of study `id` in
/// `store`, read as a worker reads it, rebuilds the data of the one-process run: the rows,
/// targets, task, metric and memory limit, and the same folds, row for row.
pub fn assert_blob_gives_the_one_process_folds(store: &dyn StoreRead, id: u64) {
    let record = store.study(id).unwrap().unwrap();
    let key = training_data_key(&record.fingerprint);
    let bytes = store
        .blob(id, &key)
        .unwrap()
        .unwrap_or_else(|| panic!("no blob `{key}` in study {id}"));
    let worker = TrainingDataSpec::decode(&bytes).unwrap().build().unwrap();
    // What the one-process run builds, from the CSV and the study's settings.
    let data = churn();
    let metric = Metric::from_name(&record.metric).unwrap();
    let cv = CvConfig {
        seed: record.seed,
        ..StudyConfig::default().cv
    };
    let local = TrainingData::new(
        data.features,
        data.y,
        data.task,
        data.classes.len(),
        metric,
        &cv,
    );
    // Debug prints every float exactly (NaN, the missing value, is not equal to itself).
    assert!(
        format!("{:?}", worker.features) == format!("{:?}", local.features),
        "the feature columns differ"
    );
    assert_eq!(bits(&worker.y), bits(&local.y), "targets");
    assert_eq!(
        (worker.task, worker.n_classes, worker.metric),
        (local.task, local.n_classes, local.metric)
    );
    assert_eq!(Some(worker.memory_limit), record.memory_limit_bytes);
    assert!(worker.folds.len() >= 2, "{} folds", worker.folds.len());
    assert_eq!(worker.folds.len(), local.folds.len(), "fold count");
    for (i, (w, l)) in worker.folds.iter().zip(&local.folds).enumerate() {
        assert_eq!(w.split, l.split, "fold {i}: rows");
        assert_eq!(
            bits(&w.y_train),
            bits(&l.y_train),
            "fold {i}: training targets"
        );
        assert_eq!(
            bits(&w.y_valid),
            bits(&l.y_valid),
            "fold {i}: validation targets"
        );
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}
