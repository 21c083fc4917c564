//! Throttled publishing of the read snapshot of a `SledStore`.
//!
//! Rewriting `snapshot.json` after every finished trial costs time proportional to the number
//! of trials, so a long search spent quadratic time on it (100k trials: ~1 s per rewrite). A
//! publish request is therefore served at once only when the last rewrite is at least
//! [`MIN_INTERVAL`] old, and never sooner than [`COST_FACTOR`] times that rewrite's own
//! duration (so rewriting takes at most ~1/`COST_FACTOR` of the writer's time). A request
//! that comes sooner is deferred: a helper thread rewrites the snapshot when the interval has
//! passed, so the snapshot is never staler than that interval while the writer runs.
//! `Store::flush` and dropping the store publish a deferred request at once, and a request
//! when nothing was written since the last rewrite costs nothing.

use crate::StoreError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shortest time between two rewrites of the snapshot.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The time between two rewrites is at least this many times the last rewrite's duration.
pub(crate) const COST_FACTOR: u32 = 20;

/// What a snapshot is written from: the store directory and its study and trial trees.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) studies: sled::Tree,
    pub(crate) trials: sled::Tree,
}

impl Source {
    /// Write the snapshot now.
    fn write(&self) -> Result<(), StoreError> {
        let raw = |tree: &sled::Tree| -> Result<Vec<sled::IVec>, StoreError> {
            tree.iter()
                .values()
                .map(|v| v.map_err(|e| crate::sled_store::map_sled(&self.path, e)))
                .collect()
        };
        crate::snapshot::write(&self.path, &raw(&self.studies)?, &raw(&self.trials)?)
    }
}

#[derive(Default)]
struct State {
    /// When the last rewrite finished.
    last_at: Option<Instant>,
    /// The time to wait after `last_at` before the next rewrite.
    interval: Duration,
    /// A publish was requested and not yet served.
    pending: bool,
    /// The error of a deferred rewrite, returned by the next request.
    deferred_error: Option<StoreError>,
    /// The helper thread is running.
    helper: bool,
    /// The store is being dropped: the helper stops.
    closing: bool,
}

struct Shared {
    source: Source,
    /// Records were written since the last rewrite began (a request without changes is free).
    changed: AtomicBool,
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rewrite the snapshot now (the state lock held, so rewrites never overlap).
    fn write_now(&self, st: &mut State) -> Result<(), StoreError> {
        st.pending = false;
        self.changed.store(false, Ordering::SeqCst);
        let t0 = Instant::now();
        let result = self.source.write();
        let now = Instant::now();
        st.last_at = Some(now);
        st.interval = MIN_INTERVAL.max((now - t0) * COST_FACTOR);
        result
    }
}

/// The snapshot publisher of one store handle.
pub(crate) struct Publisher {
    shared: Arc<Shared>,
    helper: Mutex<Option<JoinHandle<()>>>,
}

impl Publisher {
    pub(crate) fn new(source: Source) -> Publisher {
        Publisher {
            shared: Arc::new(Shared {
                source,
                changed: AtomicBool::new(true),
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            }),
            helper: Mutex::new(None),
        }
    }

    /// Note that records were written (call after each write).
    pub(crate) fn touch(&self) {
        self.shared.changed.store(true, Ordering::SeqCst);
    }

    /// Publish now when the last rewrite is old enough, otherwise within the interval (see the
    /// module doc). Returns the error of this rewrite, or of an earlier deferred one.
    pub(crate) fn request(&self) -> Result<(), StoreError> {
        let mut st = self.shared.lock();
        if let Some(e) = st.deferred_error.take() {
            st.pending = true;
            return Err(e);
        }
        if !st.pending && !self.shared.changed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let due = st.last_at.map(|t| t + st.interval);
        if due.is_none_or(|due| Instant::now() >= due) {
            return self.shared.write_now(&mut st);
        }
        st.pending = true;
        if !st.helper {
            st.helper = true;
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("automl-snapshot".to_string())
                .spawn(move || helper(&shared));
            match spawned {
                Ok(h) => {
                    let mut slot = self.helper.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(old) = slot.replace(h) {
                        // The previous helper has said it is done; reap it.
                        drop(st);
                        let _ = old.join();
                    }
                }
                // No thread: publish now instead.
                Err(_) => {
                    st.helper = false;
                    return self.shared.write_now(&mut st);
                }
            }
        }
        Ok(())
    }

    /// Publish a deferred request now (nothing when there is none).
    pub(crate) fn publish_pending(&self) -> Result<(), StoreError> {
        let mut st = self.shared.lock();
        if st.deferred_error.take().is_some() {
            st.pending = true;
        }
        if st.pending {
            self.shared.write_now(&mut st)
        } else {
            Ok(())
        }
    }

    /// Publish a deferred request and stop the helper thread (the store is being dropped).
    pub(crate) fn close(&self) {
        let _ = self.publish_pending();
        self.shared.lock().closing = true;
        self.shared.wake.notify_all();
        let handle = self.helper.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// The helper thread: serve the deferred request when its interval has passed, then exit.
fn helper(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        if st.closing || !st.pending {
            st.helper = false;
            return;
        }
        let due = st.last_at.map_or_else(Instant::now, |t| t + st.interval);
        let now = Instant::now();
        if now >= due {
            if let Err(e) = shared.write_now(&mut st) {
                st.deferred_error = Some(e);
            }
            continue;
        }
        st = shared
            .wake
            .wait_timeout(st, due - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}
