//! A remote worker (`automl worker`): lanes that claim queued trials from a shared store,
//! evaluate them with [`automl_trainer::evaluate`] (the one evaluation path) and hand the
//! results back through the queue; the coordinator writes the trial records.
//!
//! Each lane claims one entry at a time under a lease and renews it every
//! [`WorkerConfig::heartbeat`] while the evaluation runs on its own thread. A renewal that
//! answers `false` (the lease expired and the entry went to another worker, or the coordinator
//! gave up on the trial) drops the work: its result is never sent. The training data of a study
//! is read once from the store (the blob the coordinator wrote, see [`crate::wire`]) and kept
//! per study in memory.
//!
//! When does a worker stop? With a study ([`WorkerConfig::study`]): it waits for the study to
//! exist, and exits once the study has ended and nothing of it is queued. Without one: after
//! [`WorkerConfig::idle_timeout`] without claiming anything. Always: when the cancel flag is
//! set (work in progress is dropped; its lease expires and the coordinator requeues it), or
//! when the store fails (the error is returned; the store retries for its own reconnect
//! window first).

use crate::error::EngineError;
use crate::study::TRIAL_GRACE;
use crate::wire::{QueuedTrial, TrainingDataSpec, encode_evaluation, training_data_key};
use automl_core::TrialState;
use automl_store::{Lease, Store, TrialQueue};
use automl_trainer::{Evaluation, TrainingData, evaluate};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a worker without a study waits with nothing to claim before it exits.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The lease a worker takes on a trial; renewed every [`DEFAULT_HEARTBEAT`].
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How often a worker renews its lease (a third of [`DEFAULT_LEASE`]).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);

/// The shortest and the longest pause between two polls of an empty queue.
const POLL_MIN: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(200);

/// A delay before a finished result is handed back: `(study id, trial id) -> delay`. For tests
/// that scramble the order in which trials finish.
pub type FinishDelay = Arc<dyn Fn(u64, u64) -> Duration + Send + Sync>;

/// Settings of a worker.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Work on this study only (None: any study, oldest first).
    pub study: Option<u64>,
    /// Lanes: trials evaluated at once (at least 1).
    pub jobs: usize,
    /// Without a study: exit after this long with nothing to claim.
    pub idle_timeout: Duration,
    /// The lease taken on a trial.
    pub lease: Duration,
    /// How often the lease is renewed (well below `lease`).
    pub heartbeat: Duration,
    /// The worker's name in the queue and in the trial records (`host:pid` by default).
    pub name: String,
    /// Test hook: hold each result back this long before handing it back. The delay counts
    /// as evaluation time: the lease is renewed through it, and a worker stopped during it
    /// drops the result.
    pub finish_delay: Option<FinishDelay>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            study: None,
            jobs: 1,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            lease: DEFAULT_LEASE,
            heartbeat: DEFAULT_HEARTBEAT,
            name: default_worker_name(),
            finish_delay: None,
        }
    }
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("study", &self.study)
            .field("jobs", &self.jobs)
            .field("idle_timeout", &self.idle_timeout)
            .field("lease", &self.lease)
            .field("heartbeat", &self.heartbeat)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `host:pid` of this process (the host from `HOSTNAME` or `/etc/hostname`).
pub fn default_worker_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string());
    format!("{}:{}", host.trim(), std::process::id())
}

/// What a worker is doing (sent to the progress callback, from any lane).
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// A trial was claimed.
    Claimed {
        /// Its study.
        study_id: u64,
        /// The trial.
        trial_id: u64,
        /// Which claim of the trial this is (1 = first).
        attempt: u32,
        /// Its model family (empty if the payload was unreadable).
        family: String,
    },
    /// A trial's result was handed back.
    Finished {
        /// Its study.
        study_id: u64,
        /// The trial.
        trial_id: u64,
        /// How it ended.
        state: TrialState,
        /// Its mean score (NaN unless complete).
        mean: f64,
        /// Seconds spent on it.
        seconds: f64,
    },
    /// A trial was dropped: its lease was lost or the coordinator gave up on it.
    Dropped {
        /// Its study.
        study_id: u64,
        /// The trial.
        trial_id: u64,
    },
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Trials whose result was handed back.
    pub finished: u64,
    /// Trials dropped (lease lost, cancelled by the coordinator, or the worker stopped).
    pub dropped: u64,
}

/// Run a worker until its study ends, it idles out, `cancel` is set, or the store fails.
/// `store` must have a trial queue ([`EngineError::NoQueue`] otherwise).
pub fn run_worker(
    store: &dyn Store,
    cfg: &WorkerConfig,
    cancel: &AtomicBool,
    progress: &(dyn Fn(&WorkerEvent) + Sync),
) -> Result<WorkerSummary, EngineError> {
    run_worker_with(store, cfg, cancel, progress, None)
}

/// [`run_worker`] with the training data of one study already built (the coordinator's own
/// lanes share its copy instead of reading the blob).
pub(crate) fn run_worker_with(
    store: &dyn Store,
    cfg: &WorkerConfig,
    cancel: &AtomicBool,
    progress: &(dyn Fn(&WorkerEvent) + Sync),
    known: Option<(u64, Arc<TrainingData>)>,
) -> Result<WorkerSummary, EngineError> {
    let queue = store.queue().ok_or(EngineError::NoQueue)?;
    let worker = Worker {
        store,
        queue,
        cfg,
        cancel,
        failed: AtomicBool::new(false),
        progress,
        data: Mutex::new(known.into_iter().collect()),
        finished: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
    };
    let results: Vec<Result<(), EngineError>> = std::thread::scope(|s| {
        let lanes: Vec<_> = (0..cfg.jobs.max(1))
            .map(|_| {
                s.spawn(|| {
                    let r = worker.lane();
                    if r.is_err() {
                        worker.failed.store(true, Ordering::SeqCst);
                    }
                    r
                })
            })
            .collect();
        lanes
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(EngineError::Config("a worker lane panicked".to_string()))
                })
            })
            .collect()
    });
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(WorkerSummary {
        finished: worker.finished.load(Ordering::SeqCst),
        dropped: worker.dropped.load(Ordering::SeqCst),
    })
}

struct Worker<'a> {
    store: &'a dyn Store,
    queue: &'a dyn TrialQueue,
    cfg: &'a WorkerConfig,
    cancel: &'a AtomicBool,
    /// Set when a lane failed: the others stop too.
    failed: AtomicBool,
    progress: &'a (dyn Fn(&WorkerEvent) + Sync),
    /// Built training data per study.
    data: Mutex<HashMap<u64, Arc<TrainingData>>>,
    finished: AtomicU64,
    dropped: AtomicU64,
}

/// What became of a claimed trial.
enum Work {
    /// Evaluated (or refused with a reason): hand this back.
    Done(Box<Evaluation>),
    /// The lease is gone or the worker stops: hand nothing back.
    Dropped,
}

impl Worker<'_> {
    fn stopping(&self) -> bool {
        self.cancel.load(Ordering::SeqCst) || self.failed.load(Ordering::SeqCst)
    }

    /// Sleep `d` in short steps, returning early when the worker stops.
    fn pause(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopping() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn lane(&self) -> Result<(), EngineError> {
        let mut idle_since = Instant::now();
        let mut pause = POLL_MIN;
        while !self.stopping() {
            if let Some(lease) = self
                .queue
                .claim(&self.cfg.name, self.cfg.study, self.cfg.lease)?
            {
                self.work(lease)?;
                idle_since = Instant::now();
                pause = POLL_MIN;
                continue;
            }
            match self.cfg.study {
                Some(id) => {
                    // Wait for a study that does not exist yet; stop once it has ended and
                    // nothing of it is left to claim.
                    if let Some(study) = self.store.study(id)? {
                        if study.ended_at_ms != 0 && self.queue.counts(id)?.queued == 0 {
                            return Ok(());
                        }
                    }
                }
                None if idle_since.elapsed() >= self.cfg.idle_timeout => return Ok(()),
                None => {}
            }
            self.pause(pause);
            pause = (pause * 2).min(POLL_MAX);
        }
        Ok(())
    }

    fn work(&self, lease: Lease) -> Result<(), EngineError> {
        let started = Instant::now();
        let job = QueuedTrial::decode(&lease.payload);
        (self.progress)(&WorkerEvent::Claimed {
            study_id: lease.study_id,
            trial_id: lease.trial_id,
            attempt: lease.attempt,
            family: job
                .as_ref()
                .map(|j| j.candidate.family.clone())
                .unwrap_or_default(),
        });
        let work = match job {
            Err(e) => Work::Done(Box::new(refused(e.to_string()))),
            Ok(job) if job.trial_id != lease.trial_id => Work::Done(Box::new(refused(format!(
                "the queue entry of trial {} holds trial {}",
                lease.trial_id, job.trial_id
            )))),
            Ok(job) => match self.data_for(lease.study_id)? {
                Err(reason) => Work::Done(Box::new(refused(reason))),
                Ok(data) => self.evaluate(&lease, data, job)?,
            },
        };
        let mut eval = match work {
            Work::Done(eval) => *eval,
            Work::Dropped => {
                self.dropped(&lease);
                return Ok(());
            }
        };
        let payload = encode_evaluation(&eval);
        // The fold models' blocks are in the payload now: not held twice while it is sent.
        eval.artifact = None;
        if self.queue.finish(&lease, &payload)? {
            self.finished.fetch_add(1, Ordering::SeqCst);
            (self.progress)(&WorkerEvent::Finished {
                study_id: lease.study_id,
                trial_id: lease.trial_id,
                state: eval.state,
                mean: eval.mean,
                seconds: started.elapsed().as_secs_f64(),
            });
        } else {
            self.dropped(&lease);
        }
        Ok(())
    }

    /// Count and report a trial whose result is not handed back.
    fn dropped(&self, lease: &Lease) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        (self.progress)(&WorkerEvent::Dropped {
            study_id: lease.study_id,
            trial_id: lease.trial_id,
        });
    }

    /// Evaluate on a thread of its own while this lane renews the lease.
    fn evaluate(
        &self,
        lease: &Lease,
        data: Arc<TrainingData>,
        job: QueuedTrial,
    ) -> Result<Work, EngineError> {
        let deadline = job.deadline_ms.map(crate::wire::unix_ms_to_instant);
        // An evaluation that ignores its deadline is given up here too (the coordinator has
        // given up on it by then), so a lane is never held forever.
        let give_up = deadline.map(|d| d + 2 * TRIAL_GRACE);
        // The test delay is held on the evaluation thread, so the lease is renewed through it
        // as through a slow evaluation.
        let delay = self
            .cfg
            .finish_delay
            .as_ref()
            .map(|d| d(lease.study_id, lease.trial_id));
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let eval = evaluate(&data, &job.candidate, job.seed, deadline);
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            let _ = tx.send(eval);
        });
        let heartbeat = self.cfg.heartbeat.max(Duration::from_millis(10));
        let mut next_renew = Instant::now() + heartbeat;
        loop {
            let wait = next_renew
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            match rx.recv_timeout(wait) {
                Ok(eval) => return Ok(Work::Done(Box::new(eval))),
                Err(RecvTimeoutError::Disconnected) => {
                    return Ok(Work::Done(Box::new(refused(
                        "the evaluation thread ended without a result".to_string(),
                    ))));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.stopping() || give_up.is_some_and(|g| Instant::now() >= g) {
                return Ok(Work::Dropped);
            }
            if Instant::now() >= next_renew {
                if !self.queue.renew(lease, self.cfg.lease)? {
                    return Ok(Work::Dropped);
                }
                next_renew = Instant::now() + heartbeat;
            }
        }
    }

    /// The study's training data: cached, or read from its blob and split into folds.
    /// `Ok(Err(reason))`: the study or its data is missing or damaged (the trial fails).
    fn data_for(&self, study_id: u64) -> Result<Result<Arc<TrainingData>, String>, EngineError> {
        let mut cache = self.data.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(&study_id) {
            return Ok(Ok(d.clone()));
        }
        let Some(study) = self.store.study(study_id)? else {
            return Ok(Err(format!("study {study_id} is not in the store")));
        };
        let key = training_data_key(&study.fingerprint);
        let Some(bytes) = self.store.blob(study_id, &key)? else {
            return Ok(Err(format!(
                "the training data of study {study_id} is not in the store (blob `{key}`)"
            )));
        };
        let spec = match TrainingDataSpec::decode(&bytes) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let data = match spec.build() {
            Ok(d) => Arc::new(d),
            Err(e) => return Ok(Err(e.to_string())),
        };
        cache.insert(study_id, data.clone());
        Ok(Ok(data))
    }
}

/// A failed evaluation for a trial the worker could not even start.
fn refused(reason: String) -> Evaluation {
    Evaluation::failed(
        TrialState::Failed,
        format!("the worker could not evaluate this trial: {reason}"),
        0.0,
    )
}
