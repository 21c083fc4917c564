//! Invariant 6: the same data, seed and trial budget give the same leaderboard with any number
//! of jobs and whatever order evaluations finish in. Evaluations run for real (real folds,
//! real models); a test executor delays each result by a seeded, per-trial amount so that
//! trials finish out of order, differently for each `jobs`.

mod common;

use automl_core::Rng;
use automl_engine::study::{Executor, Job, MakeExecutor};
use automl_engine::{EngineError, Phase, Study, StudyConfig};
use automl_space::SearchSpace;
use automl_store::{MemoryStore, StoreRead};
use automl_trainer::{Evaluation, TrainingData, evaluate};
use common::{Row, assert_same_rows, churn, rows};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

/// Evaluates on threads like the default executor, then holds each result back for a delay
/// drawn from `schedule` and the trial id (0-60 ms), so results arrive in a scrambled order.
struct DelayedExecutor {
    data: Arc<TrainingData>,
    jobs: usize,
    schedule: u64,
    tx: Sender<(u64, Evaluation)>,
    rx: Receiver<(u64, Evaluation)>,
}

impl Executor for DelayedExecutor {
    fn capacity(&self) -> usize {
        self.jobs
    }
    fn submit(&mut self, job: Job) -> Result<(), EngineError> {
        let (data, tx) = (self.data.clone(), self.tx.clone());
        let delay = Rng::derive_seed(self.schedule, job.trial_id) % 61;
        std::thread::spawn(move || {
            let eval = evaluate(&data, &job.candidate, job.seed, job.deadline);
            std::thread::sleep(Duration::from_millis(delay));
            let _ = tx.send((job.trial_id, eval));
        });
        Ok(())
    }
    fn wait(&mut self, timeout: Duration) -> Result<Option<(u64, Evaluation)>, EngineError> {
        Ok(self.rx.recv_timeout(timeout).ok())
    }
}

fn delayed(schedule: u64) -> MakeExecutor<'static> {
    Box::new(move |data, jobs| {
        let (tx, rx) = channel();
        Box::new(DelayedExecutor {
            data,
            jobs,
            schedule,
            tx,
            rx,
        }) as Box<dyn Executor>
    })
}

fn run(strategy: &str, jobs: usize, schedule: u64, max_trials: u64) -> Vec<Row> {
    let (rows, _) = run_with(strategy, jobs, schedule, max_trials, &Default::default());
    rows
}

/// [`run`] with strategy options; also returns the trials and the final model's trial.
fn run_with(
    strategy: &str,
    jobs: usize,
    schedule: u64,
    max_trials: u64,
    opts: &automl_search::StrategyOptions,
) -> (
    Vec<Row>,
    (
        Vec<automl_core::TrialRecord>,
        Option<automl_core::TrialRecord>,
    ),
) {
    let data = churn();
    let store = MemoryStore::new();
    let config = StudyConfig {
        name: format!("{strategy}-j{jobs}"),
        budget: automl_core::Budget {
            time_s: None,
            max_trials: Some(max_trials),
        },
        seed: 7,
        jobs,
        memory_limit: Some(8 << 30),
        ..StudyConfig::default()
    };
    let space = SearchSpace::builtin("fast").unwrap();
    let strat = automl_search::by_name_with(strategy, 7, opts).unwrap();
    let study = Study::create(&store, data, space, strat, config).unwrap();
    let mut phases = Vec::new();
    let summary = study
        .run_with(delayed(schedule), &mut |p| phases.push(p.phase.clone()))
        .unwrap();
    assert_eq!(phases.first(), Some(&Phase::Searching));
    assert_eq!(
        phases.last(),
        Some(&Phase::Done),
        "the last event says done"
    );
    assert!(
        phases.iter().any(|p| matches!(p, Phase::Refitting { .. })),
        "{phases:?}"
    );
    let trials = store.trials(summary.study.study_id).unwrap();
    assert!(
        trials.len() as u64 >= max_trials,
        "{strategy} jobs {jobs}: {} trials",
        trials.len()
    );
    (rows(&trials), (trials, summary.best))
}

#[test]
fn same_leaderboard_with_1_2_and_6_jobs_under_scrambled_finish_orders() {
    for (strategy, schedule) in [("bayes", 3u64), ("evolution", 5), ("auto", 11)] {
        let reference = run(strategy, 1, schedule, 30);
        for jobs in [2, 6] {
            let other = run(strategy, jobs, schedule + jobs as u64, 30);
            assert_same_rows(&reference, &other, &format!("{strategy}: jobs 1 vs {jobs}"));
        }
    }
}

/// Fold fidelity (first looks on one fold, the best third promoted to every fold) keeps
/// invariant 6, and only trials on every fold feed the ensemble and the final model.
#[test]
fn fold_fidelity_keeps_the_leaderboard_and_feeds_only_full_cv_trials_onwards() {
    let opts = automl_search::StrategyOptions {
        fold_fidelity: Some(5),
        ..Default::default()
    };
    let (reference, (trials, best)) = run_with("bayes", 1, 3, 30, &opts);
    for jobs in [2, 6] {
        let (other, _) = run_with("bayes", jobs, 3 + jobs as u64, 30, &opts);
        assert_same_rows(
            &reference,
            &other,
            &format!("fold fidelity: jobs 1 vs {jobs}"),
        );
    }
    let one_fold: Vec<_> = trials
        .iter()
        .filter(|t| t.candidate.folds == Some(1))
        .collect();
    let promoted: Vec<_> = trials
        .iter()
        .filter(|t| t.candidate.operator == "promote")
        .collect();
    assert!(one_fold.len() >= 10, "{} first looks", one_fold.len());
    assert!(!promoted.is_empty());
    for t in &one_fold {
        assert!(
            t.fold_scores.len() <= 1,
            "trial {}: {:?}",
            t.trial_id,
            t.fold_scores
        );
        assert!(!t.has_artifact, "trial {} kept fold models", t.trial_id);
    }
    for p in &promoted {
        assert_eq!(p.candidate.folds, None);
        let parent = trials
            .iter()
            .find(|t| t.trial_id == p.candidate.parents[0])
            .unwrap();
        assert_eq!(parent.candidate.folds, Some(1));
        assert_eq!(parent.candidate.params, p.candidate.params);
    }
    // The final model's trial, and every member of an ensemble or stacking, saw every fold.
    let best = best.expect("a final model");
    let by_id = |id: u64| trials.iter().find(|t| t.trial_id == id).unwrap();
    let mut members: Vec<u64> = vec![best.trial_id];
    if let Some(e) = &best.ensemble {
        members.extend(e.members.iter().map(|m| m.0));
    }
    for t in &trials {
        if let Some(e) = &t.ensemble {
            members.extend(e.members.iter().map(|m| m.0));
        }
    }
    for id in members {
        assert_eq!(by_id(id).candidate.folds, None, "trial {id}");
    }
    // A one-fold trial is never ranked first, however lucky its fold.
    let board = automl_engine::leaderboard(&trials, automl_core::Metric::RocAuc);
    assert!(board[0].trial.is_ranked());
    assert!(
        board
            .iter()
            .all(|r| r.rank.is_none() || r.trial.is_ranked())
    );
}
