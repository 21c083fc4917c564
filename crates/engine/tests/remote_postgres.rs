//! Remote workers on real PostgreSQL (a throwaway server, `automl_store::pg_test::PgServer`;
//! it fails, never skips, when it cannot start). A coordinator and three worker threads, each
//! worker with its own connection as the least-privilege worker role, finishing in seeded,
//! scrambled orders: the leaderboard is the one-process run's for every strategy and for
//! W = 6 and W = 3 (invariant 6). A worker cancelled mid-trial loses its lease, and the trial
//! is retried by another worker and recorded once, with its attempts.

mod common;

use automl_core::TrialState;
use automl_engine::worker::{WorkerConfig, WorkerEvent, WorkerSummary, run_worker};
use automl_store::pg_test::PgServer;
use automl_store::{Store, StoreLocation, open_store};
use common::{
    assert_blob_gives_the_one_process_folds, assert_remote_run, assert_same_rows, config, create,
    reference, remote, remote_run, rows, run_recording, searched, worker,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fresh database: the coordinator's store (as the owner role, which migrates the schema)
/// and where workers connect (as the worker role, without DDL rights).
struct Database {
    coordinator: Box<dyn Store>,
    workers: StoreLocation,
}

fn database() -> Database {
    let server = PgServer::shared();
    let url = server.create_database();
    let coordinator = open_store(&StoreLocation::Postgres(url.clone())).unwrap();
    let workers = StoreLocation::Postgres(server.worker_url(&url));
    Database {
        coordinator,
        workers,
    }
}

/// 14 trials with W = 6 and W = 3, three workers on their own connections, against the
/// one-process run on a memory store.
fn same_leaderboard_as_one_process(strategy: &str, schedule: u64) {
    let max_trials = 14;
    for parallelism in [6, 3] {
        let want = reference(strategy, max_trials, parallelism);
        let db = database();
        let trials = remote_run(
            &*db.coordinator,
            &|_| open_store(&db.workers).unwrap(),
            strategy,
            max_trials,
            parallelism,
            3,
            schedule + parallelism as u64,
        );
        let context = format!("{strategy}, W={parallelism}, PostgreSQL");
        assert_remote_run(&want, &trials, max_trials, &context);
        assert_blob_gives_the_one_process_folds(&*db.coordinator, trials[0].study_id);
    }
}

#[test]
fn bayes_workers_on_postgres_give_the_one_process_leaderboard() {
    same_leaderboard_as_one_process("bayes", 3);
}

#[test]
fn evolution_workers_on_postgres_give_the_one_process_leaderboard() {
    same_leaderboard_as_one_process("evolution", 5);
}

#[test]
fn auto_workers_on_postgres_give_the_one_process_leaderboard() {
    same_leaderboard_as_one_process("auto", 11);
}

#[test]
fn a_worker_cancelled_mid_trial_loses_its_lease_and_the_trial_is_retried_once() {
    let max_trials = 10;
    let want = reference("bayes", max_trials, 6);
    let db = database();
    let study = create(&*db.coordinator, "bayes", config(max_trials, 6, remote()));
    let id = study.id();
    // Worker w0 takes a short lease and would hold its result back for a minute; it is
    // cancelled as soon as it has claimed its first trial.
    let cancel_w0 = AtomicBool::new(false);
    let claimed = Mutex::new(None::<u64>);
    let w0_cfg = WorkerConfig {
        lease: Duration::from_millis(300),
        finish_delay: Some(Arc::new(|_, _| Duration::from_secs(60))),
        ..worker("w0", Some(id), 0)
    };
    let live_cancel = AtomicBool::new(false);
    let (w0, live): (WorkerSummary, Vec<WorkerSummary>) = std::thread::scope(|s| {
        let w0 = s.spawn(|| {
            let store = open_store(&db.workers).unwrap();
            run_worker(&*store, &w0_cfg, &cancel_w0, &|e| {
                if let WorkerEvent::Claimed { trial_id, .. } = e {
                    claimed.lock().unwrap().get_or_insert(*trial_id);
                    cancel_w0.store(true, Ordering::SeqCst);
                }
            })
        });
        // The live workers join once w0 holds a trial.
        let live: Vec<_> = (1..3u64)
            .map(|w| {
                let (db, claimed, live_cancel) = (&db, &claimed, &live_cancel);
                s.spawn(move || {
                    while claimed.lock().unwrap().is_none() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let store = open_store(&db.workers).unwrap();
                    let cfg = worker(&format!("w{w}"), Some(id), 20 + w);
                    run_worker(&*store, &cfg, live_cancel, &|_| {})
                })
            })
            .collect();
        run_recording(study);
        (
            w0.join().unwrap().unwrap(),
            live.into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect(),
        )
    });
    assert_eq!(
        w0,
        WorkerSummary {
            finished: 0,
            dropped: 1
        },
        "the cancelled worker handed nothing back"
    );
    let finished: u64 = live.iter().map(|s| s.finished).sum();
    assert_eq!(
        finished, max_trials,
        "each trial handed back once: {live:?}"
    );

    let killed = claimed.into_inner().unwrap().unwrap();
    let trials = db.coordinator.trials(id).unwrap();
    let searched = searched(&trials);
    assert_eq!(searched.len() as u64, max_trials);
    for t in &searched {
        assert_eq!(t.state, TrialState::Complete, "{t:?}");
        let (attempts, by) = (t.extra.get("attempts"), t.extra.get("worker"));
        if t.trial_id == killed {
            assert_eq!(attempts.map(String::as_str), Some("2"), "{t:?}");
        } else {
            assert_eq!(attempts.map(String::as_str), Some("1"), "{t:?}");
        }
        assert!(
            by.is_some_and(|w| w == "w1" || w == "w2"),
            "trial {} finished by {by:?}",
            t.trial_id
        );
    }
    assert_same_rows(&want, &rows(&trials), "a cancelled worker, PostgreSQL");
}
