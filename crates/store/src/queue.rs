//! The trial queue of a shared store: how a coordinator hands trials to worker processes.
//!
//! The coordinator (the `fit` process) asks the strategy, starts the trial record
//! ([`crate::Store::start_trial`]) and **enqueues** the evaluation (an opaque payload the
//! engine encodes: candidate, seed, deadline). A worker **claims** the oldest queued entry it
//! may take and holds a **lease** on it, which it **renews** by heartbeat while it evaluates;
//! it **finishes** the entry with an opaque result (the engine's encoded evaluation, fold models
//! included). The coordinator **takes the results** and writes the trial records itself, so the
//! trial records keep one writer.
//!
//! A lease that is not renewed in time **expires** (the worker was killed, its machine lost):
//! [`TrialQueue::requeue_expired`] puts the entry back in the queue with its attempt count
//! raised, or, past the attempt limit, marks it lost (a result the coordinator records as a
//! failed trial). A worker whose lease was taken away gets `false` from
//! [`TrialQueue::renew`] and [`TrialQueue::finish`] and drops its work: no entry is ever
//! finished twice, and none is lost.
//!
//! Lease times are measured by the store's clock (the database server's for PostgreSQL), so
//! workers on machines whose clocks differ agree on when a lease expires.

use crate::StoreError;
use std::time::Duration;

/// Where a queue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker under a lease.
    Claimed,
    /// Finished by a worker; the result waits for the coordinator.
    Done,
    /// Its lease expired more often than the attempt limit allows.
    Lost,
    /// The coordinator took its result (or cancelled it): the entry is closed.
    Closed,
}

/// A worker's hold on one queue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The study of the trial.
    pub study_id: u64,
    /// The trial.
    pub trial_id: u64,
    /// Identifies this claim: a later claim of the same entry (after the lease expired) gets
    /// another token, and only the current token may renew or finish the entry.
    pub token: u64,
    /// Which claim of the entry this is: 1 for the first, 2 after one expired lease, ...
    pub attempt: u32,
    /// The payload given to [`TrialQueue::enqueue`].
    pub payload: Vec<u8>,
}

/// What the coordinator gets back for one entry ([`TrialQueue::take_results`]).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueResult {
    /// The trial.
    pub trial_id: u64,
    /// How many times the entry was claimed.
    pub attempts: u32,
    /// The worker that finished it (empty when it was lost).
    pub worker: String,
    /// The finished result, or None when the entry was lost (every lease expired).
    pub result: Option<Vec<u8>>,
}

/// How many entries of a study are in each state, and how many workers hold leases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Waiting for a worker.
    pub queued: u64,
    /// Held by workers.
    pub claimed: u64,
    /// Finished (or lost) and not yet taken by the coordinator.
    pub done: u64,
    /// Distinct workers holding a lease now.
    pub workers: u64,
}

/// The queue of trials waiting for workers, held by a store that several processes share.
/// Implemented by the PostgreSQL store and, for tests and in-process workers, the memory store.
pub trait TrialQueue: Send + Sync {
    /// Queue the evaluation of a started trial. Enqueueing an entry that already exists is a
    /// no-op (so a retried call after a lost connection does not queue it twice), whatever its
    /// state and payload. `NotFound` when the study does not exist.
    fn enqueue(&self, study_id: u64, trial_id: u64, payload: &[u8]) -> Result<(), StoreError>;

    /// Claim the oldest queued entry (lowest study id, then lowest trial id) of `study`
    /// (any study when None) for `worker`, with a lease of `lease` from now. Never blocks on
    /// entries other workers are claiming (PostgreSQL: `FOR UPDATE SKIP LOCKED`). None when
    /// nothing is queued.
    fn claim(
        &self,
        worker: &str,
        study: Option<u64>,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError>;

    /// Extend a lease to `lease` from now. `Ok(false)`: the lease is no longer this worker's
    /// (it expired and was requeued, or the coordinator cancelled the entry); stop working on it.
    /// A lease past its expiry that no [`TrialQueue::requeue_expired`] has taken back yet is
    /// still this worker's: `renew` and `finish` succeed on it.
    fn renew(&self, lease: &Lease, lease_dur: Duration) -> Result<bool, StoreError>;

    /// Store the result of a claimed entry and mark it done. `Ok(false)`: the lease is no
    /// longer this worker's and the result was discarded. Idempotent for the same lease (a
    /// retried call after a lost connection answers `true` again).
    fn finish(&self, lease: &Lease, result: &[u8]) -> Result<bool, StoreError>;

    /// Requeue the entries of `study` (any study when None) whose lease has expired, raising
    /// their attempt count; an entry that has been claimed `max_attempts` times is marked lost
    /// instead. Returns the trial ids requeued or lost, as (study id, trial id).
    fn requeue_expired(
        &self,
        study: Option<u64>,
        max_attempts: u32,
    ) -> Result<Vec<(u64, u64)>, StoreError>;

    /// The results of the study's done and lost entries not taken before, by trial id; the
    /// entries are closed (their result payloads may be dropped by the store).
    fn take_results(&self, study_id: u64) -> Result<Vec<QueueResult>, StoreError>;

    /// Close an entry whatever its state (the coordinator gave up on the trial): a worker
    /// holding it gets `false` from `renew` and `finish`.
    fn cancel(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError>;

    /// Remove a closed entry, so that the trial can be enqueued again: a coordinator took its
    /// result (or cancelled it) and died before recording the trial, and a resumed session
    /// evaluates it anew. An entry in any other state, or none, is left alone.
    fn forget_closed(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError>;

    /// The state of one entry (None when it was never enqueued).
    fn entry_state(&self, study_id: u64, trial_id: u64) -> Result<Option<QueueState>, StoreError>;

    /// Counts of the study's entries by state.
    fn counts(&self, study_id: u64) -> Result<QueueCounts, StoreError>;
}
