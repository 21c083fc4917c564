//! A fixed-size rayon pool that runs evaluations concurrently and reports results on a channel.

use std::sync::mpsc::{Receiver, Sender, channel};

/// A pool of `jobs` worker threads. Results of spawned work arrive on [`Pool::results`].
pub struct Pool<T: Send + 'static> {
    pool: rayon::ThreadPool,
    tx: Sender<T>,
    rx: Receiver<T>,
    jobs: usize,
}

impl<T: Send + 'static> Pool<T> {
    /// A pool with `jobs` threads (at least 1).
    pub fn new(jobs: usize) -> Pool<T> {
        let jobs = jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("automl-trainer-{i}"))
            .build()
            .expect("cannot start the trainer threads");
        let (tx, rx) = channel();
        Pool { pool, tx, rx, jobs }
    }
    /// Number of worker threads.
    pub fn jobs(&self) -> usize {
        self.jobs
    }
    /// Run `f` on a worker; its result is sent to the results channel.
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let tx = self.tx.clone();
        self.pool.spawn(move || {
            // The receiver may be gone if the engine stopped waiting (budget over): ignore.
            let _ = tx.send(f());
        });
    }
    /// The channel on which results arrive.
    pub fn results(&self) -> &Receiver<T> {
        &self.rx
    }
}
