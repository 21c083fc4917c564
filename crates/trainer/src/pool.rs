//! Runs evaluations concurrently, one OS thread per evaluation, and reports results on a
//! channel.
//!
//! A thread per evaluation (rather than a fixed pool) is what lets the engine walk away from a
//! candidate that never returns: the abandoned thread keeps running until the process ends,
//! but the next evaluation gets a fresh thread instead of waiting behind it. The caller bounds
//! concurrency (the engine never has more than `jobs` evaluations in flight); a thread costs
//! tens of microseconds to start, nothing next to a model fit.

use std::sync::mpsc::{Receiver, Sender, channel};

/// Runs work on worker threads (the caller keeps at most [`Pool::jobs`] in flight). Results
/// of spawned work arrive on [`Pool::results`].
pub struct Pool<T: Send + 'static> {
    tx: Sender<T>,
    rx: Receiver<T>,
    jobs: usize,
}

impl<T: Send + 'static> Pool<T> {
    /// A pool meant for `jobs` concurrent evaluations (at least 1).
    pub fn new(jobs: usize) -> Pool<T> {
        let (tx, rx) = channel();
        Pool {
            tx,
            rx,
            jobs: jobs.max(1),
        }
    }
    /// Number of concurrent evaluations this pool is meant for.
    pub fn jobs(&self) -> usize {
        self.jobs
    }
    /// Run `f` on a new worker thread; its result is sent to the results channel.
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let tx = self.tx.clone();
        std::thread::Builder::new()
            .name("automl-trainer".into())
            .spawn(move || {
                // The receiver may be gone if the engine stopped waiting (budget over): ignore.
                let _ = tx.send(f());
            })
            .expect("cannot start a trainer thread");
    }
    /// The channel on which results arrive.
    pub fn results(&self) -> &Receiver<T> {
        &self.rx
    }
}
