//! [`RemoteExecutor`]: evaluations run by workers in other processes (or lanes of this one),
//! through the trial queue of a shared store.
//!
//! Submitting enqueues the trial (candidate, seed, deadline as Unix milliseconds); waiting
//! polls the queue for finished results (20 ms between polls, growing to 200 ms while nothing
//! arrives) and, every [`RemoteConfig::requeue_every`], puts entries whose lease expired back
//! in the queue. An entry whose leases expired [`RemoteConfig::max_attempts`] times comes back
//! as a failed evaluation that says so. Every result carries `attempts` and `worker` in its
//! facts, so the trial record says which worker finished it and after how many claims.
//! Giving up on a trial cancels its entry: the worker holding it drops it at its next renewal.

use super::executor::{Executor, Job};
use crate::error::EngineError;
use crate::wire::{QueuedTrial, decode_evaluation, instant_to_unix_ms};
use automl_core::TrialState;
use automl_store::{QueueResult, TrialQueue};
use automl_trainer::Evaluation;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How many times a trial may be claimed before it is recorded as lost.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

const POLL_MIN: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(200);

/// Settings of a search whose trials are evaluated by remote workers.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    /// Worker lanes the coordinator runs itself (0: it evaluates nothing).
    pub local_lanes: usize,
    /// Claims of a trial before it is recorded as lost (at least 1).
    pub max_attempts: u32,
    /// How often expired leases are looked for.
    pub requeue_every: Duration,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            local_lanes: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            requeue_every: Duration::from_secs(1),
        }
    }
}

/// Evaluations through a shared store's trial queue (see the module docs). Its capacity is
/// the study's parallelism: every trial asked is queued at once.
pub struct RemoteExecutor<'a> {
    queue: &'a dyn TrialQueue,
    study_id: u64,
    capacity: usize,
    cfg: RemoteConfig,
    last_requeue: Option<Instant>,
    ready: VecDeque<(u64, Evaluation)>,
    /// The pause before the next poll: grows while nothing arrives, across waits.
    pause: Duration,
    /// Set when the executor is dropped (the search is over): the coordinator's own lanes stop.
    stop_on_drop: Option<Arc<AtomicBool>>,
}

impl<'a> RemoteExecutor<'a> {
    /// An executor queueing the trials of `study_id` on `queue`, up to `capacity` at once.
    pub fn new(
        queue: &'a dyn TrialQueue,
        study_id: u64,
        capacity: usize,
        cfg: RemoteConfig,
    ) -> RemoteExecutor<'a> {
        RemoteExecutor {
            queue,
            study_id,
            capacity: capacity.max(1),
            cfg,
            last_requeue: None,
            ready: VecDeque::new(),
            pause: POLL_MIN,
            stop_on_drop: None,
        }
    }

    /// Set `flag` when this executor is dropped.
    pub fn stop_on_drop(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop_on_drop = Some(flag);
        self
    }

    /// Requeue expired leases (when due) and collect finished results.
    fn poll(&mut self) -> Result<(), EngineError> {
        if self
            .last_requeue
            .is_none_or(|t| t.elapsed() >= self.cfg.requeue_every)
        {
            self.queue
                .requeue_expired(Some(self.study_id), self.cfg.max_attempts.max(1))?;
            self.last_requeue = Some(Instant::now());
        }
        for r in self.queue.take_results(self.study_id)? {
            let id = r.trial_id;
            self.ready.push_back((id, evaluation_of(r)));
        }
        Ok(())
    }
}

impl Drop for RemoteExecutor<'_> {
    fn drop(&mut self) {
        if let Some(f) = &self.stop_on_drop {
            f.store(true, Ordering::SeqCst);
        }
    }
}

/// The evaluation a queue result stands for, with `attempts` and `worker` in its facts.
fn evaluation_of(r: QueueResult) -> Evaluation {
    let mut eval = match &r.result {
        None => Evaluation::failed(
            TrialState::Failed,
            format!(
                "lost: the workers evaluating this trial were lost {} times (their leases \
                 expired without a result); it is not retried again",
                r.attempts
            ),
            0.0,
        ),
        Some(bytes) => decode_evaluation(bytes).unwrap_or_else(|e| {
            Evaluation::failed(
                TrialState::Failed,
                format!("the result from worker {} could not be read: {e}", r.worker),
                0.0,
            )
        }),
    };
    eval.facts
        .insert("attempts".to_string(), r.attempts.to_string());
    if !r.worker.is_empty() {
        eval.facts.insert("worker".to_string(), r.worker);
    }
    eval
}

impl Executor for RemoteExecutor<'_> {
    fn capacity(&self) -> usize {
        self.capacity
    }

    fn submit(&mut self, job: Job) -> Result<(), EngineError> {
        let payload = QueuedTrial {
            trial_id: job.trial_id,
            candidate: job.candidate,
            seed: job.seed,
            deadline_ms: job.deadline.map(instant_to_unix_ms),
        }
        .encode();
        self.queue.enqueue(self.study_id, job.trial_id, &payload)?;
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> Result<Option<(u64, Evaluation)>, EngineError> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Ok(Some(r));
            }
            self.poll()?;
            if !self.ready.is_empty() {
                self.pause = POLL_MIN;
                continue;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(self.pause.min(left));
            self.pause = (self.pause * 2).min(POLL_MAX);
        }
    }

    fn abandon(&mut self, trial_id: u64) -> Result<(), EngineError> {
        self.queue.cancel(self.study_id, trial_id)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/distributed.md and `automl worker --help` promise at most 3 claims of a trial.
    #[test]
    fn a_trial_is_claimed_at_most_three_times_by_default() {
        assert_eq!(RemoteConfig::default().max_attempts, 3);
    }
}
