//! The scheduler: a state machine that owns the asking window, the trials in flight, their
//! deadlines, cancellation and in-order telling, and drives an [`Executor`].
//!
//! Determinism (invariant 6 of docs/architecture.md): the `k`-th trial of a session is asked
//! only once the session's trials `0..k-W` have finished (`W` = the study's parallelism,
//! [`DEFAULT_PARALLELISM`] unless set), and just
//! before that ask the strategy is told exactly those trials, in ask order, and no others. A
//! trial that finishes early is recorded at once (store, progress) but held back from the
//! strategy until the ask it is due for. So what `ask` sees depends only on the seed, the
//! trials before it and the trial budget, never on `jobs` or on the order in which
//! evaluations finish.
//!
//! Under a time budget alone (no trial budget) the result depends on the clock anyway, so
//! the scheduler does not let one long trial hold the workers back
//! ([`SchedulerConfig::wait_for_stragglers`] off): it asks as soon as a worker is free, and
//! before each ask tells the strategy the due trials (positions `0..k-W`) that have finished,
//! in ask order. A straggler still running when its turn comes is told once it finishes,
//! before the next ask. So the strategy still sees results W trials late, and sees each trial
//! exactly once, but no longer waits for the slowest.
//!
//! The scheduler knows nothing of strategies, stores or models: it talks to a [`Driver`] (the
//! study) for asking, recording and telling, and to an [`Executor`] for running evaluations.

use super::executor::{Executor, Job};
use crate::error::EngineError;
use automl_core::{Budget, TrialState};
use automl_trainer::Evaluation;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The default parallelism `W` of a study (its asking window): the `k`-th trial of a session
/// is asked after exactly the session's trials `0..k-W` were told, whatever `jobs` or the
/// number of workers is. A study stores its own W (`StudyRecord::parallelism`).
pub const DEFAULT_PARALLELISM: usize = 6;

/// The asking window of a study that does not set its parallelism ([`DEFAULT_PARALLELISM`]).
pub const ASK_WINDOW: usize = DEFAULT_PARALLELISM;

/// Whether a search under `budget` waits for stragglers (see
/// [`SchedulerConfig::wait_for_stragglers`]): yes unless it has a time budget and no trial
/// budget. A trial budget (alone or with a time budget that does not cut it short) promises
/// the same leaderboard for the same seed (invariant 6); so does no budget at all.
pub(crate) fn waits_for_stragglers(budget: &Budget) -> bool {
    budget.max_trials.is_some() || budget.time_s.is_none()
}

/// After Ctrl-C, running trials get this long to finish before they are recorded as interrupted.
pub const CANCEL_GRACE: Duration = Duration::from_secs(3);

/// A trial still running this long after its own deadline (see
/// [`crate::StudyConfig::trial_time_limit`]) is recorded timed out and abandoned.
pub const TRIAL_GRACE: Duration = Duration::from_secs(2);

/// The study side of a search, as the scheduler sees it.
pub(crate) trait Driver {
    /// When the search must stop asking (None without a time budget). May move as results
    /// arrive (the time reserved for the final model follows the best trial).
    fn search_end(&self) -> Option<Instant>;
    /// Ask the strategy for the next candidate and start its trial (stored as running).
    /// `Ok(None)`: the strategy has nothing more to propose. The job's deadline is set by the
    /// scheduler when it is submitted.
    fn ask(&mut self) -> Result<Option<Job>, EngineError>;
    /// Estimated peak memory of evaluating `job`, bytes (for admission, see
    /// [`SchedulerConfig::memory_budget`]).
    fn memory_need(&self, job: &Job) -> u64;
    /// A trial finished (any state): record it. Called as results arrive, in any order;
    /// `running` is how many trials are still in flight.
    fn finished(
        &mut self,
        trial_id: u64,
        eval: Evaluation,
        running: usize,
    ) -> Result<(), EngineError>;
    /// Tell the strategy about a finished trial. Called exactly once per trial, in ask order,
    /// just before the ask it is due for (or at the end of the search).
    fn tell(&mut self, trial_id: u64) -> Result<(), EngineError>;
    /// Trials of an earlier session not yet told to the strategy, in ask order: they open
    /// this session as if asked first. `Some(job)`: still being evaluated (remote workers
    /// hold it; its submission is a re-submission, and enqueueing an existing queue entry is
    /// a no-op); `None`: already finished and recorded, held for its tell. None by default.
    fn carried(&mut self) -> Vec<(u64, Option<Job>)> {
        Vec::new()
    }
}

/// Settings of one search session.
#[derive(Clone)]
pub(crate) struct SchedulerConfig {
    /// The asking window: the study's parallelism W.
    pub window: usize,
    /// Ask the `k`-th trial only once the trials `0..k-W` have finished (invariant 6). Off
    /// under a time budget alone (see the module docs and [`waits_for_stragglers`]): workers
    /// then never sit idle behind one long trial.
    pub wait_for_stragglers: bool,
    /// Trials this session may still ask (None = no trial budget).
    pub max_new: Option<usize>,
    /// A trial's own time limit (its deadline is the earlier of this and the search end).
    pub trial_limit: Option<Duration>,
    /// Stop asking (Ctrl-C); running trials get [`CANCEL_GRACE`].
    pub cancel: Arc<AtomicBool>,
    /// Abandon running trials at once.
    pub abort: Arc<AtomicBool>,
    /// Memory the running trials may need together, bytes: a trial waits (asked, not yet
    /// submitted) while the running ones' estimates plus its own exceed it, unless nothing
    /// runs. `u64::MAX` = no admission control.
    pub memory_budget: u64,
}

/// What a search session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Trials asked (and recorded) in this session, adopted ones included (not those an
    /// earlier session finished).
    pub asked: usize,
    /// Whether the user stopped the search.
    pub cancelled: bool,
}

struct Running {
    /// When the trial is abandoned if it has not returned (own deadline + [`TRIAL_GRACE`]).
    give_up: Option<Instant>,
    /// Its estimated memory need.
    need: u64,
}

/// The state machine of one search session (see the module docs).
pub(crate) struct Scheduler {
    cfg: SchedulerConfig,
    /// Session trials in ask order.
    order: Vec<u64>,
    /// Position of a trial in `order`.
    index: HashMap<u64, usize>,
    /// Per position: finished (recorded).
    done: Vec<bool>,
    /// Leading positions all finished.
    done_prefix: usize,
    /// Leading positions all told to the strategy (`told <= done_prefix`).
    told: usize,
    /// Per position: told (beyond `told`, only stragglers passed over are not).
    told_at: Vec<bool>,
    /// Asked, waiting for memory to be submitted.
    waiting: VecDeque<(Job, u64)>,
    in_flight: BTreeMap<u64, Running>,
    exhausted: bool,
    cancelled_at: Option<Instant>,
}

impl Scheduler {
    /// A scheduler for one session.
    pub fn new(cfg: SchedulerConfig) -> Scheduler {
        Scheduler {
            cfg,
            order: Vec::new(),
            index: HashMap::new(),
            done: Vec::new(),
            done_prefix: 0,
            told: 0,
            told_at: Vec::new(),
            waiting: VecDeque::new(),
            in_flight: BTreeMap::new(),
            exhausted: false,
            cancelled_at: None,
        }
    }

    /// Run the session to its end: ask, submit, record and tell until the budget, the strategy
    /// or the user stops it and every asked trial is recorded and told.
    pub fn run(
        mut self,
        exec: &mut dyn Executor,
        driver: &mut dyn Driver,
    ) -> Result<Outcome, EngineError> {
        let capacity = exec.capacity().max(1);
        let mut carried_done = 0;
        for (id, job) in driver.carried() {
            self.index.insert(id, self.order.len());
            self.order.push(id);
            self.done.push(job.is_none());
            self.told_at.push(false);
            match job {
                Some(job) => {
                    let need = driver.memory_need(&job);
                    self.waiting.push_back((job, need));
                }
                None => carried_done += 1,
            }
        }
        while self.done_prefix < self.done.len() && self.done[self.done_prefix] {
            self.done_prefix += 1;
        }
        loop {
            let search_end = driver.search_end();
            let time_up = search_end.is_some_and(|e| Instant::now() >= e);
            if self.cancelled_at.is_none() && self.cfg.cancel.load(Ordering::SeqCst) {
                self.cancelled_at = Some(Instant::now());
            }
            self.submit_waiting(exec, search_end)?;
            while !time_up
                && !self.stop_asking()
                && self.in_flight.len() + self.waiting.len() < capacity
                && self.due_ready()
            {
                self.tell_due(driver, self.order.len().saturating_sub(self.cfg.window))?;
                let Some(job) = driver.ask()? else {
                    self.exhausted = true;
                    break;
                };
                self.index.insert(job.trial_id, self.order.len());
                self.order.push(job.trial_id);
                self.done.push(false);
                self.told_at.push(false);
                let need = driver.memory_need(&job);
                self.waiting.push_back((job, need));
                self.submit_waiting(exec, search_end)?;
            }
            if time_up || self.cancelled_at.is_some() {
                // Asked but never started: nothing ran, nothing to wait for.
                let (state, reason) = self.stop_reason();
                while let Some((job, _)) = self.waiting.pop_front() {
                    self.record(
                        driver,
                        job.trial_id,
                        Evaluation::failed(state, reason.into(), 0.0),
                    )?;
                }
            }
            if self.in_flight.is_empty()
                && self.waiting.is_empty()
                && (time_up || self.stop_asking())
            {
                break;
            }
            let wait = search_end
                .map_or(Duration::from_millis(200), |e| {
                    e.saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(200))
                })
                .max(Duration::from_millis(5));
            let got = if self.in_flight.is_empty() {
                None
            } else {
                exec.wait(wait)?
            };
            match got {
                // A result for a trial already given up on is dropped.
                Some((id, eval)) if self.in_flight.remove(&id).is_some() => {
                    self.record(driver, id, eval)?;
                }
                Some(_) => {}
                None if !self.in_flight.is_empty()
                    && (time_up
                        || self.cfg.abort.load(Ordering::SeqCst)
                        || self
                            .cancelled_at
                            .is_some_and(|c| c.elapsed() >= CANCEL_GRACE)) =>
                {
                    // Past the search deadline (or the user's patience): running trials
                    // cannot be waited for.
                    let (state, reason) = self.stop_reason();
                    for id in std::mem::take(&mut self.in_flight).into_keys() {
                        exec.abandon(id)?;
                        self.record(driver, id, Evaluation::failed(state, reason.into(), 0.0))?;
                    }
                }
                None => {}
            }
            self.give_up_overdue(exec, driver)?;
        }
        let asked = self.order.len();
        self.tell_due(driver, asked)?;
        Ok(Outcome {
            asked: asked - carried_done,
            cancelled: self.cancelled_at.is_some(),
        })
    }

    fn stop_asking(&self) -> bool {
        self.exhausted
            || self.cancelled_at.is_some()
            || self.cfg.max_new.is_some_and(|m| self.order.len() >= m)
    }

    /// Whether the next ask may happen: every trial it is due to have seen has finished (or
    /// stragglers are not waited for).
    fn due_ready(&self) -> bool {
        !self.cfg.wait_for_stragglers
            || self.done_prefix >= self.order.len().saturating_sub(self.cfg.window)
    }

    fn stop_reason(&self) -> (TrialState, &'static str) {
        if self.cancelled_at.is_some() {
            (TrialState::Interrupted, "stopped by the user")
        } else {
            (TrialState::TimedOut, "stopped: the time budget ran out")
        }
    }

    /// Tell the strategy the session's finished trials before position `upto` not told yet,
    /// in ask order. Waiting for stragglers, those are exactly the positions `told..upto`.
    fn tell_due(&mut self, driver: &mut dyn Driver, upto: usize) -> Result<(), EngineError> {
        debug_assert!(
            !self.cfg.wait_for_stragglers || upto <= self.done_prefix,
            "telling an unfinished trial"
        );
        for pos in self.told..upto.min(self.order.len()) {
            if self.done[pos] && !self.told_at[pos] {
                driver.tell(self.order[pos])?;
                self.told_at[pos] = true;
            }
        }
        while self.told < self.told_at.len() && self.told_at[self.told] {
            self.told += 1;
        }
        Ok(())
    }

    /// Submit waiting jobs, in ask order, while their memory fits.
    fn submit_waiting(
        &mut self,
        exec: &mut dyn Executor,
        search_end: Option<Instant>,
    ) -> Result<(), EngineError> {
        while let Some((_, need)) = self.waiting.front() {
            let used: u64 = self.in_flight.values().map(|r| r.need).sum();
            if !self.in_flight.is_empty() && used.saturating_add(*need) > self.cfg.memory_budget {
                break;
            }
            let (mut job, need) = self.waiting.pop_front().expect("front exists");
            let own = self.cfg.trial_limit.map(|l| Instant::now() + l);
            job.deadline = search_end.into_iter().chain(own).min();
            self.in_flight.insert(
                job.trial_id,
                Running {
                    give_up: own.map(|o| o + TRIAL_GRACE),
                    need,
                },
            );
            exec.submit(job)?;
        }
        Ok(())
    }

    /// A trial far past its own deadline is not coming back in useful time: record it timed
    /// out (told in its turn like any other) and free its slot.
    fn give_up_overdue(
        &mut self,
        exec: &mut dyn Executor,
        driver: &mut dyn Driver,
    ) -> Result<(), EngineError> {
        let now = Instant::now();
        let overdue: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, r)| r.give_up.is_some_and(|t| now >= t))
            .map(|(id, _)| *id)
            .collect();
        let limit = self.cfg.trial_limit.map_or(0.0, |l| l.as_secs_f64());
        for id in overdue {
            self.in_flight.remove(&id);
            exec.abandon(id)?;
            let eval = Evaluation::failed(
                TrialState::TimedOut,
                format!(
                    "stopped: still running {:.0} s after the per-trial time limit of \
                     {limit:.1} s (it ignored its deadline); raise the trial time limit if such \
                     trials should finish",
                    TRIAL_GRACE.as_secs_f64()
                ),
                limit,
            );
            self.record(driver, id, eval)?;
        }
        Ok(())
    }

    fn record(
        &mut self,
        driver: &mut dyn Driver,
        id: u64,
        eval: Evaluation,
    ) -> Result<(), EngineError> {
        let pos = self.index[&id];
        self.done[pos] = true;
        while self.done_prefix < self.done.len() && self.done[self.done_prefix] {
            self.done_prefix += 1;
        }
        driver.finished(id, eval, self.in_flight.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::{Candidate, Params, Rng};
    use std::collections::BTreeSet;

    /// Chooses which held job finishes next.
    type Pick = Box<dyn FnMut(&[u64]) -> usize>;

    /// An executor that finishes its jobs in an order chosen by `pick` (from the jobs it holds),
    /// instantly: no threads, no clock.
    struct FakeExecutor {
        capacity: usize,
        held: Vec<u64>,
        pick: Pick,
    }

    impl Executor for FakeExecutor {
        fn capacity(&self) -> usize {
            self.capacity
        }
        fn submit(&mut self, job: Job) -> Result<(), EngineError> {
            self.held.push(job.trial_id);
            Ok(())
        }
        fn wait(&mut self, _timeout: Duration) -> Result<Option<(u64, Evaluation)>, EngineError> {
            if self.held.is_empty() {
                return Ok(None);
            }
            let i = (self.pick)(&self.held) % self.held.len();
            let id = self.held.remove(i);
            let mut eval = Evaluation::failed(TrialState::Complete, String::new(), 0.0);
            eval.error = None;
            eval.mean = id as f64;
            Ok(Some((id, eval)))
        }
    }

    /// A driver that asks trial ids 0, 1, 2, ... and logs, at every ask, the set of trials the
    /// strategy has been told.
    #[derive(Default)]
    struct LogDriver {
        next: u64,
        limit: u64,
        told: Vec<u64>,
        recorded: BTreeSet<u64>,
        seen_at_ask: Vec<Vec<u64>>,
        need: u64,
        peak_running: usize,
        /// Trials carried over from an earlier session, (id, still running). Finished ones
        /// must be in `recorded` already.
        carry: Vec<(u64, bool)>,
    }

    impl Driver for LogDriver {
        fn search_end(&self) -> Option<Instant> {
            None
        }
        fn ask(&mut self) -> Result<Option<Job>, EngineError> {
            if self.next >= self.limit {
                return Ok(None);
            }
            self.seen_at_ask.push(self.told.clone());
            let id = self.next;
            self.next += 1;
            Ok(Some(job(id)))
        }
        fn memory_need(&self, _job: &Job) -> u64 {
            self.need
        }
        fn finished(
            &mut self,
            id: u64,
            _eval: Evaluation,
            running: usize,
        ) -> Result<(), EngineError> {
            assert!(self.recorded.insert(id), "trial {id} recorded twice");
            self.peak_running = self.peak_running.max(running + 1);
            Ok(())
        }
        fn tell(&mut self, id: u64) -> Result<(), EngineError> {
            assert!(
                self.recorded.contains(&id),
                "told trial {id} before it finished"
            );
            self.told.push(id);
            Ok(())
        }
        fn carried(&mut self) -> Vec<(u64, Option<Job>)> {
            self.carry
                .iter()
                .map(|&(id, running)| (id, running.then(|| job(id))))
                .collect()
        }
    }

    /// A job of the fake driver.
    fn job(id: u64) -> Job {
        Job {
            trial_id: id,
            candidate: Candidate::new("x", Params::new(), "test"),
            seed: id,
            deadline: None,
        }
    }

    fn config(max_new: Option<usize>) -> SchedulerConfig {
        config_w(max_new, ASK_WINDOW)
    }

    fn config_w(max_new: Option<usize>, window: usize) -> SchedulerConfig {
        SchedulerConfig {
            window,
            wait_for_stragglers: true,
            max_new,
            trial_limit: None,
            cancel: Arc::new(AtomicBool::new(false)),
            abort: Arc::new(AtomicBool::new(false)),
            memory_budget: u64::MAX,
        }
    }

    fn run(jobs: usize, window: usize, pick: Pick, n: u64) -> LogDriver {
        run_cfg(jobs, config_w(None, window), pick, n)
    }

    /// A session of `n` asks on `jobs` fake workers under `cfg`.
    fn run_cfg(jobs: usize, cfg: SchedulerConfig, pick: Pick, n: u64) -> LogDriver {
        let mut exec = FakeExecutor {
            capacity: jobs,
            held: Vec::new(),
            pick,
        };
        let mut driver = LogDriver {
            limit: n,
            ..LogDriver::default()
        };
        let out = Scheduler::new(cfg).run(&mut exec, &mut driver).unwrap();
        assert_eq!(out.asked as u64, n);
        driver
    }

    /// Adversarial finish orders: newest first, oldest first, and seeded random picks.
    fn orders() -> Vec<(&'static str, Pick)> {
        let mut out: Vec<(&'static str, Pick)> = vec![
            ("newest first", Box::new(|h: &[u64]| h.len() - 1)),
            ("oldest first", Box::new(|_: &[u64]| 0)),
        ];
        for seed in 0..4u64 {
            let mut rng = Rng::new(seed);
            out.push(("random", Box::new(move |h: &[u64]| rng.below(h.len()))));
        }
        out
    }

    #[test]
    fn every_ask_sees_exactly_the_trials_due_whatever_jobs_and_finish_order() {
        let n = 40u64;
        for (jobs, window) in [
            (1, 6),
            (2, 6),
            (3, 6),
            (6, 6),
            (9, 6),
            (1, 3),
            (3, 3),
            (9, 1),
        ] {
            for (name, pick) in orders() {
                let d = run(jobs, window, pick, n);
                for (k, seen) in d.seen_at_ask.iter().enumerate() {
                    let due: Vec<u64> = (0..k.saturating_sub(window) as u64).collect();
                    assert_eq!(
                        seen, &due,
                        "jobs {jobs}, {name}: ask {k} saw {seen:?}, due {due:?}"
                    );
                }
                assert_eq!(
                    d.told,
                    (0..n).collect::<Vec<_>>(),
                    "jobs {jobs}, {name}: every trial told once, in ask order"
                );
                assert!(
                    d.peak_running <= jobs.min(window + 1),
                    "jobs {jobs}, {name}: {} running at once",
                    d.peak_running
                );
            }
        }
    }

    #[test]
    fn under_a_time_budget_alone_a_long_trial_holds_no_worker_back() {
        let window = 6;
        let n = 40u64;
        // Trial 0 runs until nothing else is left to run.
        let straggler =
            || -> Pick { Box::new(|h: &[u64]| h.iter().position(|&id| id != 0).unwrap_or(0)) };
        let free_cfg = |wait: bool| SchedulerConfig {
            wait_for_stragglers: wait,
            ..config_w(None, window)
        };
        let session = |wait: bool| run_cfg(2, free_cfg(wait), straggler(), n);
        // Waiting for it: the 8th ask (due to see trial 0) waits until trial 0 finished, so
        // one worker sat idle once trials 1..7 had finished.
        let waited = session(true);
        assert_eq!(waited.seen_at_ask[7], vec![0]);
        assert_eq!(waited.told, (0..n).collect::<Vec<_>>());

        // Not waiting: every ask goes ahead and sees the due trials that finished, in ask
        // order, trial 0 left out until it finished; it is told once, at the end.
        let free = session(false);
        assert_eq!(free.seen_at_ask.len(), n as usize);
        for (k, seen) in free.seen_at_ask.iter().enumerate() {
            let due: Vec<u64> = (1..k.saturating_sub(window) as u64).collect();
            assert_eq!(seen, &due, "ask {k}");
        }
        let mut told = free.told.clone();
        told.sort_unstable();
        assert_eq!(told, (0..n).collect::<Vec<_>>(), "every trial told once");
        assert_eq!(free.told[..33], (1..34).collect::<Vec<_>>()[..]);
        assert_eq!(free.told[33], 0, "the straggler is told once it finished");

        // Whatever the finish order: an ask sees only due trials, what it saw stays seen, and
        // every trial is told exactly once.
        for (name, pick) in orders() {
            let driver = run_cfg(3, free_cfg(false), pick, n);
            for (k, seen) in driver.seen_at_ask.iter().enumerate() {
                assert!(
                    seen.iter()
                        .all(|&id| (id as usize) < k.saturating_sub(window)),
                    "{name}: ask {k} saw {seen:?}"
                );
                if k > 0 {
                    assert!(
                        seen.starts_with(&driver.seen_at_ask[k - 1]),
                        "{name}: ask {k}"
                    );
                }
            }
            let mut told = driver.told.clone();
            told.sort_unstable();
            assert_eq!(told, (0..n).collect::<Vec<_>>(), "{name}");
            assert!(driver.peak_running <= 3, "{name}");
        }
    }

    #[test]
    fn only_a_time_budget_alone_stops_waiting_for_stragglers() {
        let budget = |time_s, max_trials| Budget { time_s, max_trials };
        assert!(!waits_for_stragglers(&budget(Some(60.0), None)));
        assert!(waits_for_stragglers(&budget(Some(60.0), Some(50))));
        assert!(waits_for_stragglers(&budget(None, Some(50))));
        assert!(waits_for_stragglers(&budget(None, None)));
    }

    #[test]
    fn the_trial_budget_and_an_exhausted_strategy_end_the_session() {
        let mut exec = FakeExecutor {
            capacity: 3,
            held: Vec::new(),
            pick: Box::new(|h: &[u64]| h.len() - 1),
        };
        let mut driver = LogDriver {
            limit: 100,
            ..LogDriver::default()
        };
        let out = Scheduler::new(config(Some(7)))
            .run(&mut exec, &mut driver)
            .unwrap();
        assert_eq!(out.asked, 7);
        assert_eq!(driver.told, (0..7).collect::<Vec<_>>());

        // A strategy with 4 candidates and a budget of 10: 4 trials.
        let mut driver = LogDriver {
            limit: 4,
            ..LogDriver::default()
        };
        let out = Scheduler::new(config(Some(10)))
            .run(&mut exec, &mut driver)
            .unwrap();
        assert_eq!(out.asked, 4);
        assert!(!out.cancelled);
    }

    #[test]
    fn memory_admission_runs_big_trials_one_at_a_time() {
        let mut exec = FakeExecutor {
            capacity: 4,
            held: Vec::new(),
            pick: Box::new(|_: &[u64]| 0),
        };
        let mut driver = LogDriver {
            limit: 12,
            need: 600,
            ..LogDriver::default()
        };
        let mut cfg = config(None);
        cfg.memory_budget = 1000;
        let out = Scheduler::new(cfg).run(&mut exec, &mut driver).unwrap();
        assert_eq!(out.asked, 12);
        assert_eq!(
            driver.peak_running, 1,
            "two trials of 600 exceed 1000 together"
        );
    }

    #[test]
    fn adopted_trials_open_the_session_and_are_told_first_in_order() {
        for (name, pick) in orders() {
            let mut exec = FakeExecutor {
                capacity: 3,
                held: Vec::new(),
                pick,
            };
            // Trials 4, 5, 6 of an earlier session are still held by workers; new asks are
            // 0, 1, ... in this fake (ids only need to be distinct).
            let mut driver = LogDriver {
                limit: 10,
                carry: vec![(104, true), (105, true), (106, true)],
                ..LogDriver::default()
            };
            let out = Scheduler::new(config_w(None, 3))
                .run(&mut exec, &mut driver)
                .unwrap();
            assert_eq!(out.asked, 13, "{name}");
            let mut told = vec![104, 105, 106];
            told.extend(0..10);
            assert_eq!(driver.told, told, "{name}");
            // Adopted trials take the first places of the window: the second ask (5th of the
            // session) is due to see the first adopted trial.
            assert!(driver.seen_at_ask[0].is_empty(), "{name}");
            assert_eq!(driver.seen_at_ask[1], vec![104], "{name}");
        }
    }

    #[test]
    fn carried_trials_keep_their_place_in_the_window_and_finished_ones_are_not_rerun() {
        for (name, pick) in orders() {
            let mut exec = FakeExecutor {
                capacity: 3,
                held: Vec::new(),
                pick,
            };
            // An earlier session left 100 and 102 finished but not told, 101 still running.
            let mut driver = LogDriver {
                limit: 5,
                carry: vec![(100, false), (101, true), (102, false)],
                recorded: [100, 102].into_iter().collect(),
                ..LogDriver::default()
            };
            let out = Scheduler::new(config_w(None, 3))
                .run(&mut exec, &mut driver)
                .unwrap();
            // Finished carried trials are never re-submitted (`finished` would see them twice).
            assert_eq!(out.asked, 6, "{name}");
            let mut told = vec![100, 101, 102];
            told.extend(0..5);
            assert_eq!(driver.told, told, "{name}");
            // The k-th trial of the session sees its positions 0..k-3, carried ones included.
            assert!(driver.seen_at_ask[0].is_empty(), "{name}");
            assert_eq!(driver.seen_at_ask[1], vec![100], "{name}");
            assert_eq!(driver.seen_at_ask[2], vec![100, 101], "{name}");
            assert_eq!(driver.seen_at_ask[3], vec![100, 101, 102], "{name}");
        }
    }

    #[test]
    fn cancelling_stops_asking_and_records_what_was_asked() {
        let cancel = Arc::new(AtomicBool::new(true));
        let mut cfg = config(None);
        cfg.cancel = cancel;
        let mut exec = FakeExecutor {
            capacity: 2,
            held: Vec::new(),
            pick: Box::new(|_: &[u64]| 0),
        };
        let mut driver = LogDriver {
            limit: 50,
            ..LogDriver::default()
        };
        let out = Scheduler::new(cfg).run(&mut exec, &mut driver).unwrap();
        assert!(out.cancelled);
        assert_eq!(out.asked, 0);
    }
}
