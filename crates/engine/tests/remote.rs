//! Remote workers: a coordinator queues trials in a shared store and worker lanes (threads
//! here, processes in production) claim, evaluate and hand them back. Invariant 6 holds across
//! workers: the same seed, trial budget and parallelism give the leaderboard of the
//! one-process run, whatever the number of workers and the order they finish in. Leases that
//! expire are retried and recorded; trials that live workers hold survive a resume.
//!
//! The shared store is a `MemoryStore` with a small trial queue beside it (`QueueStore`
//! below), kept in this file until the memory store's own queue lands.

use automl_core::{Budget, Candidate, Rng, TrialRecord, TrialState};
use automl_data::{Dataset, ReadOptions, load_training};
use automl_engine::wire::{QueuedTrial, TrainingDataSpec, encode_evaluation, training_data_key};
use automl_engine::worker::{WorkerConfig, WorkerEvent, run_worker};
use automl_engine::{
    EngineError, RemoteConfig, SledStore, Study, StudyBuilder, StudyConfig, TrialQueue,
};
use automl_space::SearchSpace;
use automl_store::{
    Lease, MemoryStore, QueueCounts, QueueResult, QueueState, Store, StoreError, StoreRead,
};
use automl_trainer::Evaluation;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A memory store with a trial queue (stopgap until MemoryStore implements TrialQueue).

struct Entry {
    state: QueueState,
    payload: Vec<u8>,
    attempts: u32,
    token: u64,
    until: Instant,
    worker: String,
    result: Option<Vec<u8>>,
}

/// The queue's entries by (study, trial), and the last claim token given.
type Entries = (BTreeMap<(u64, u64), Entry>, u64);

#[derive(Default)]
struct QueueStore {
    inner: MemoryStore,
    queue: Mutex<Entries>,
}

impl StoreRead for QueueStore {
    fn studies(&self) -> Result<Vec<automl_core::StudyRecord>, StoreError> {
        self.inner.studies()
    }
    fn study(&self, id: u64) -> Result<Option<automl_core::StudyRecord>, StoreError> {
        self.inner.study(id)
    }
    fn latest_study(&self) -> Result<Option<automl_core::StudyRecord>, StoreError> {
        self.inner.latest_study()
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        self.inner.trials(study_id)
    }
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        self.inner.trial(study_id, trial_id)
    }
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.artifact(study_id, trial_id)
    }
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.blob(study_id, key)
    }
}

impl Store for QueueStore {
    fn create_study(&self, study: automl_core::StudyRecord) -> Result<u64, StoreError> {
        self.inner.create_study(study)
    }
    fn update_study(&self, study: &automl_core::StudyRecord) -> Result<(), StoreError> {
        self.inner.update_study(study)
    }
    fn start_trial(
        &self,
        study_id: u64,
        candidate: &Candidate,
        strategy: &str,
        seed: u64,
    ) -> Result<TrialRecord, StoreError> {
        self.inner.start_trial(study_id, candidate, strategy, seed)
    }
    fn finish_trial(&self, r: &TrialRecord, artifact: Option<&[u8]>) -> Result<(), StoreError> {
        self.inner.finish_trial(r, artifact)
    }
    fn put_blob(&self, study_id: u64, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_blob(study_id, key, bytes)
    }
    fn delete_artifact(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        self.inner.delete_artifact(study_id, trial_id)
    }
    fn mark_interrupted(&self, study_id: u64) -> Result<usize, StoreError> {
        self.inner.mark_interrupted(study_id)
    }
    fn apply_retention(
        &self,
        study_id: u64,
        keep: u64,
        higher: bool,
        protect: &[u64],
    ) -> Result<usize, StoreError> {
        self.inner.apply_retention(study_id, keep, higher, protect)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn queue(&self) -> Option<&dyn TrialQueue> {
        Some(self)
    }
}

impl TrialQueue for QueueStore {
    fn enqueue(&self, study_id: u64, trial_id: u64, payload: &[u8]) -> Result<(), StoreError> {
        let mut g = self.queue.lock().unwrap();
        g.0.entry((study_id, trial_id)).or_insert_with(|| Entry {
            state: QueueState::Queued,
            payload: payload.to_vec(),
            attempts: 0,
            token: 0,
            until: Instant::now(),
            worker: String::new(),
            result: None,
        });
        Ok(())
    }
    fn claim(
        &self,
        worker: &str,
        study: Option<u64>,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let mut g = self.queue.lock().unwrap();
        g.1 += 1;
        let token = g.1;
        let Some((&(s, t), e)) =
            g.0.iter_mut()
                .find(|((s, _), e)| e.state == QueueState::Queued && study.is_none_or(|x| x == *s))
        else {
            return Ok(None);
        };
        e.state = QueueState::Claimed;
        e.attempts += 1;
        e.token = token;
        e.until = Instant::now() + lease;
        e.worker = worker.to_string();
        Ok(Some(Lease {
            study_id: s,
            trial_id: t,
            token,
            attempt: e.attempts,
            payload: e.payload.clone(),
        }))
    }
    fn renew(&self, lease: &Lease, dur: Duration) -> Result<bool, StoreError> {
        let mut g = self.queue.lock().unwrap();
        match g.0.get_mut(&(lease.study_id, lease.trial_id)) {
            Some(e) if e.state == QueueState::Claimed && e.token == lease.token => {
                e.until = Instant::now() + dur;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn finish(&self, lease: &Lease, result: &[u8]) -> Result<bool, StoreError> {
        let mut g = self.queue.lock().unwrap();
        match g.0.get_mut(&(lease.study_id, lease.trial_id)) {
            Some(e) if e.state == QueueState::Claimed && e.token == lease.token => {
                e.state = QueueState::Done;
                e.result = Some(result.to_vec());
                Ok(true)
            }
            Some(e) if e.state == QueueState::Done && e.token == lease.token => Ok(true),
            _ => Ok(false),
        }
    }
    fn requeue_expired(
        &self,
        study: Option<u64>,
        max_attempts: u32,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut g = self.queue.lock().unwrap();
        let now = Instant::now();
        let mut out = Vec::new();
        for (&(s, t), e) in g.0.iter_mut() {
            if e.state == QueueState::Claimed && e.until <= now && study.is_none_or(|x| x == s) {
                e.state = if e.attempts >= max_attempts {
                    QueueState::Lost
                } else {
                    QueueState::Queued
                };
                out.push((s, t));
            }
        }
        Ok(out)
    }
    fn take_results(&self, study_id: u64) -> Result<Vec<QueueResult>, StoreError> {
        let mut g = self.queue.lock().unwrap();
        let mut out = Vec::new();
        for (&(s, t), e) in g.0.iter_mut() {
            if s == study_id && matches!(e.state, QueueState::Done | QueueState::Lost) {
                let lost = e.state == QueueState::Lost;
                out.push(QueueResult {
                    trial_id: t,
                    attempts: e.attempts,
                    worker: if lost {
                        String::new()
                    } else {
                        e.worker.clone()
                    },
                    result: e.result.take(),
                });
                e.state = QueueState::Closed;
            }
        }
        Ok(out)
    }
    fn cancel(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        let mut g = self.queue.lock().unwrap();
        if let Some(e) = g.0.get_mut(&(study_id, trial_id)) {
            e.state = QueueState::Closed;
        }
        Ok(())
    }
    fn entry_state(&self, study_id: u64, trial_id: u64) -> Result<Option<QueueState>, StoreError> {
        Ok(self
            .queue
            .lock()
            .unwrap()
            .0
            .get(&(study_id, trial_id))
            .map(|e| e.state))
    }
    fn counts(&self, study_id: u64) -> Result<QueueCounts, StoreError> {
        let g = self.queue.lock().unwrap();
        let mut c = QueueCounts::default();
        let mut workers = BTreeSet::new();
        for (_, e) in g.0.range((study_id, 0)..=(study_id, u64::MAX)) {
            match e.state {
                QueueState::Queued => c.queued += 1,
                QueueState::Claimed => {
                    c.claimed += 1;
                    workers.insert(e.worker.clone());
                }
                QueueState::Done | QueueState::Lost => c.done += 1,
                QueueState::Closed => {}
            }
        }
        c.workers = workers.len() as u64;
        Ok(c)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const SEED: u64 = 7;

fn churn() -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/churn.csv");
    load_training(&path, &ReadOptions::default()).unwrap()
}

fn config(max_trials: u64, parallelism: usize, remote: Option<RemoteConfig>) -> StudyConfig {
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

fn remote() -> Option<RemoteConfig> {
    Some(RemoteConfig {
        local_lanes: 0,
        max_attempts: 3,
        requeue_every: Duration::from_millis(50),
    })
}

fn create<'a>(store: &'a dyn Store, cfg: StudyConfig) -> Study<'a> {
    let space = SearchSpace::builtin("fast").unwrap();
    let strategy = automl_search::by_name("bayes", SEED).unwrap();
    Study::create(store, churn(), space, strategy, cfg).unwrap()
}

/// A worker lane config: its own name, short leases, and a seeded delay before each result
/// is handed back (0-60 ms), so that trials finish in a scrambled order.
fn worker(name: &str, study: Option<u64>, schedule: u64) -> WorkerConfig {
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

/// What must be identical: trial id, family, parameters, lineage, state, fold scores (bits).
type Row = (u64, String, String, Vec<u64>, String, Vec<u64>);

fn rows(trials: &[TrialRecord]) -> Vec<Row> {
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

/// The one-process run: trials on threads of this process.
fn reference(max_trials: u64, parallelism: usize) -> Vec<Row> {
    let store = MemoryStore::new();
    let study = create(&store, config(max_trials, parallelism, None));
    let summary = study.run(&mut |_| {}).unwrap();
    rows(&store.trials(summary.study.study_id).unwrap())
}

/// The same study with a coordinator and `workers` worker threads; the trial ids recorded
/// (in recording order) and the trials.
fn remote_run(
    max_trials: u64,
    parallelism: usize,
    workers: usize,
    schedule: u64,
) -> (Vec<u64>, Vec<TrialRecord>) {
    let store = QueueStore::default();
    let study = create(&store, config(max_trials, parallelism, remote()));
    let id = study.id();
    let cancel = AtomicBool::new(false);
    let mut recorded = Vec::new();
    let summaries = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (store, cancel) = (&store, &cancel);
                s.spawn(move || {
                    let cfg = worker(&format!("w{w}"), Some(id), schedule * 10 + w as u64);
                    run_worker(store, &cfg, cancel, &|_| {})
                })
            })
            .collect();
        let summary = study
            .run(&mut |p| {
                if let Some(t) = &p.last {
                    recorded.push(t.trial_id);
                }
            })
            .unwrap();
        assert!(summary.best.is_some(), "a final model was made");
        // Every worker exits on its own once the study has ended.
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect::<Vec<_>>()
    });
    let finished: u64 = summaries.iter().map(|s| s.finished).sum();
    assert_eq!(
        finished, max_trials,
        "each trial evaluated once: {summaries:?}"
    );
    (recorded, store.trials(id).unwrap())
}

fn searched(trials: &[TrialRecord]) -> Vec<TrialRecord> {
    trials
        .iter()
        .filter(|t| !automl_core::is_meta_family(&t.candidate.family))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn workers_give_the_one_process_leaderboard_for_any_worker_count_and_finish_order() {
    let max_trials = 14;
    for parallelism in [6, 3] {
        let want = reference(max_trials, parallelism);
        for (workers, schedule) in [(1, 1u64), (3, 2)] {
            let (recorded, trials) = remote_run(max_trials, parallelism, workers, schedule);
            let searched_ids: Vec<u64> = searched(&trials).iter().map(|t| t.trial_id).collect();
            let unique: BTreeSet<u64> = recorded.iter().copied().collect();
            assert_eq!(
                unique.len(),
                recorded.len(),
                "a trial recorded twice: {recorded:?}"
            );
            for t in searched(&trials) {
                assert_eq!(t.state, TrialState::Complete, "{t:?}");
                assert_eq!(t.extra.get("attempts").map(String::as_str), Some("1"));
                assert!(t.extra.get("worker").is_some_and(|w| w.starts_with('w')));
            }
            assert_eq!(searched_ids, (0..max_trials).collect::<Vec<_>>());
            let got = rows(&trials);
            for (a, b) in want.iter().zip(&got) {
                assert_eq!(
                    a, b,
                    "W={parallelism}, {workers} workers: differs from the one-process run at \
                     trial {}",
                    a.0
                );
            }
            assert_eq!(want.len(), got.len(), "W={parallelism}, {workers} workers");
        }
    }
}

#[test]
fn a_trial_whose_worker_is_killed_is_retried_completes_once_and_says_so() {
    let max_trials = 10;
    let want = reference(max_trials, 6);
    let store = QueueStore::default();
    let study = create(&store, config(max_trials, 6, remote()));
    let id = study.id();
    let cancel = AtomicBool::new(false);
    let claimed = AtomicBool::new(false);
    let mut recorded = Vec::new();
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
        let summary = study
            .run(&mut |p| {
                if let Some(t) = &p.last {
                    recorded.push(t.trial_id);
                }
            })
            .unwrap();
        assert!(summary.best.is_some());
        let lease = killer.join().unwrap();
        live.join().unwrap();
        lease
    });
    // The killed worker coming back late cannot hand in a second result.
    assert!(!store.finish(&killed, b"late").unwrap());
    let unique: BTreeSet<u64> = recorded.iter().copied().collect();
    assert_eq!(unique.len(), recorded.len(), "recorded twice: {recorded:?}");
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
    assert_eq!(want, rows(&trials)[..want.len()].to_vec());
    assert_eq!(searched(&trials).len() as u64, max_trials);
}

#[test]
fn a_trial_lost_more_often_than_the_attempt_limit_is_a_failed_record() {
    let store = QueueStore::default();
    let mut cfg = config(3, 6, remote());
    cfg.remote = Some(RemoteConfig {
        max_attempts: 2,
        requeue_every: Duration::from_millis(20),
        ..RemoteConfig::default()
    });
    let study = create(&store, cfg);
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
    let store = QueueStore::default();
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
        let study = create(&store, config(4, 6, remote()));
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
    let store = QueueStore::default();
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
    let store = QueueStore::default();
    let mut cfg = config(8, 3, remote());
    cfg.remote = Some(RemoteConfig {
        local_lanes: 2,
        ..RemoteConfig::default()
    });
    let study = create(&store, cfg);
    let summary = study.run(&mut |_| {}).unwrap();
    let trials = store.trials(summary.study.study_id).unwrap();
    let want = reference(8, 3);
    assert_eq!(want, rows(&trials)[..want.len()].to_vec());
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

#[test]
fn resume_adopts_trials_that_live_workers_hold_and_requeues_expired_leases() {
    let store = QueueStore::default();
    let data = churn();
    let space = SearchSpace::builtin("fast").unwrap();
    let dead = create(&store, config(8, 3, remote()));
    let id = dead.id();
    drop(dead);
    // A coordinator that died mid-search: it had stored the training data, queued trials
    // 0-2 and started trial 3 without queueing it.
    let record = store.study(id).unwrap().unwrap();
    let spec = TrainingDataSpec {
        features: data.features.clone(),
        y: data.y.clone(),
        task: data.task,
        n_classes: data.classes.len(),
        metric: automl_core::Metric::from_name(&record.metric).unwrap(),
        cv: automl_trainer::CvConfig {
            seed: SEED,
            ..Default::default()
        },
        memory_limit: 8 << 30,
    };
    store
        .put_blob(id, &training_data_key(&record.fingerprint), &spec.encode())
        .unwrap();
    let family = space.family("decision_tree").unwrap();
    let candidate = Candidate::new("decision_tree", family.default_params(data.task), "default");
    let queue = |t: u64| {
        let payload = QueuedTrial {
            trial_id: t,
            candidate: candidate.clone(),
            seed: Rng::derive_seed(SEED, t),
            deadline_ms: None,
        };
        store.enqueue(id, t, &payload.encode()).unwrap();
    };
    for t in 0..4u64 {
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
    queue(0);
    std::thread::sleep(Duration::from_millis(5));

    let study = Study::resume(
        &store,
        id,
        data,
        space,
        automl_search::by_name("bayes", SEED).unwrap(),
        config(8, 6, remote()),
    )
    .unwrap();
    assert_eq!(study.adopted_trials(), vec![0, 1, 2]);
    assert_eq!(
        store.trial(id, 3).unwrap().unwrap().state,
        TrialState::Interrupted
    );
    assert_eq!(store.entry_state(id, 2).unwrap(), Some(QueueState::Queued));
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
    assert_eq!(trials[3].state, TrialState::Interrupted);
    for t in &trials[4..] {
        assert_eq!(t.state, TrialState::Complete, "{t:?}");
    }
}
