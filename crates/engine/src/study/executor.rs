//! Where trial evaluations run: the [`Executor`] trait the scheduler drives, and
//! [`ThreadExecutor`], today's implementation (one OS thread per evaluation, on this machine).
//!
//! An executor only evaluates: it never asks, tells or writes trial records. Remote workers
//! (evaluations claimed from a shared store's queue by other processes) are another
//! implementation of the same trait ([`crate::study::RemoteExecutor`]); there is one
//! evaluation path, [`automl_trainer::evaluate`].

use crate::error::EngineError;
use automl_core::Candidate;
use automl_trainer::{Evaluation, Pool, TrainingData, evaluate};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One evaluation to run: a started trial's candidate, its seed and its deadline.
#[derive(Debug, Clone)]
pub struct Job {
    /// The trial (already stored as running).
    pub trial_id: u64,
    /// What to cross-validate.
    pub candidate: Candidate,
    /// The trial's seed (derived from the study seed and the trial id).
    pub seed: u64,
    /// When the evaluation must give up (the earlier of the search end and the trial's own
    /// time limit); None = no limit.
    pub deadline: Option<Instant>,
}

/// Runs evaluations and hands back their results, in whatever order they finish. The
/// scheduler never has more than [`Executor::capacity`] jobs submitted and not yet returned.
pub trait Executor {
    /// How many evaluations may run at once.
    fn capacity(&self) -> usize;
    /// Start evaluating `job`; its result comes back from [`Executor::wait`]. An error (e.g. the
    /// shared store of remote workers failed) ends the search with that error.
    fn submit(&mut self, job: Job) -> Result<(), EngineError>;
    /// Wait at most `timeout` for one finished evaluation: `Some((trial_id, evaluation))`. A
    /// result for a trial the scheduler has already given up on is ignored.
    fn wait(&mut self, timeout: Duration) -> Result<Option<(u64, Evaluation)>, EngineError>;
    /// The scheduler gave up on a submitted trial (past its deadline and [`super::TRIAL_GRACE`],
    /// the time budget ran out, or the user stopped the search): its result is no longer
    /// wanted. The default does nothing (a thread left behind finishes on its own).
    fn abandon(&mut self, trial_id: u64) -> Result<(), EngineError> {
        let _ = trial_id;
        Ok(())
    }
}

/// Evaluations on threads of this process: one thread per evaluation ([`Pool`]), so an
/// evaluation that never returns is left behind without blocking the next one.
pub struct ThreadExecutor {
    pool: Pool<(u64, Evaluation)>,
    data: Arc<TrainingData>,
}

impl ThreadExecutor {
    /// An executor running up to `jobs` evaluations of candidates on `data` at once.
    pub fn new(data: Arc<TrainingData>, jobs: usize) -> ThreadExecutor {
        ThreadExecutor {
            pool: Pool::new(jobs),
            data,
        }
    }
}

impl Executor for ThreadExecutor {
    fn capacity(&self) -> usize {
        self.pool.jobs()
    }

    fn submit(&mut self, job: Job) -> Result<(), EngineError> {
        let data = self.data.clone();
        self.pool.spawn(move || {
            let eval = evaluate(&data, &job.candidate, job.seed, job.deadline);
            (job.trial_id, eval)
        });
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<(u64, Evaluation)>, EngineError> {
        Ok(self.pool.results().recv_timeout(timeout).ok())
    }
}

/// Builds the executor of a run from the study's shared training data (folds, prepared
/// matrices) and its `jobs`.
pub type MakeExecutor<'a> =
    Box<dyn FnOnce(Arc<TrainingData>, usize) -> Box<dyn Executor + 'a> + 'a>;

/// The default: [`ThreadExecutor`].
pub fn thread_executor<'a>() -> MakeExecutor<'a> {
    Box::new(|data, jobs| Box::new(ThreadExecutor::new(data, jobs)) as Box<dyn Executor>)
}
