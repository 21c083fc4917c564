//! `MemoryStore`: an in-memory `Store` for tests. It keeps encoded bytes (the same JSON records
//! and compressed blobs as the sled store), so both behave alike, NaN handling included. It has
//! a [`TrialQueue`] too (leases timed by this process's monotonic clock), so a coordinator and
//! in-process workers can share one store: a clone is another handle on the same store.

use crate::codec::{self, artifact_name, blob_name, trial_name};
use crate::queue::{Lease, QueueCounts, QueueResult, QueueState, TrialQueue};
use crate::{Packed, Store, StoreError, StoreRead};
use automl_core::{Candidate, StudyRecord, TrialRecord, TrialState};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One entry of the in-memory queue.
struct Entry {
    state: QueueState,
    attempts: u32,
    /// Token of the current (or last) claim; 0 before the first.
    token: u64,
    /// Token of the claim that finished the entry (0: not finished).
    finished_by: u64,
    worker: String,
    lease_until: Option<Instant>,
    payload: Vec<u8>,
    result: Option<Vec<u8>>,
}

#[derive(Default)]
struct Inner {
    studies: BTreeMap<u64, Vec<u8>>,
    trials: BTreeMap<(u64, u64), Vec<u8>>,
    artifacts: BTreeMap<(u64, u64), Vec<u8>>,
    blobs: BTreeMap<(u64, String), Vec<u8>>,
    next_study: u64,
    next_trial: BTreeMap<u64, u64>,
    queue: BTreeMap<(u64, u64), Entry>,
    next_token: u64,
}

/// A store that lives in memory (lost when its last handle is dropped). Thread-safe. A clone
/// is another handle on the same store (as two processes attach to one PostgreSQL database).
#[derive(Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

const PATH: &str = "<memory>";

fn path() -> &'static Path {
    Path::new(PATH)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in another thread cannot leave the maps half-updated (each method writes
        // after all fallible work), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        self.trials
            .get(&(study_id, trial_id))
            .map(|b| codec::decode_trial(b, &trial_name(study_id, trial_id), path()))
            .transpose()
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        self.trials
            .range((study_id, 0)..=(study_id, u64::MAX))
            .map(|((s, t), b)| codec::decode_trial(b, &trial_name(*s, *t), path()))
            .collect()
    }
    fn require_study(&self, study_id: u64) -> Result<(), StoreError> {
        if self.studies.contains_key(&study_id) {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                what: format!("study {study_id}"),
            })
        }
    }
}

impl StoreRead for MemoryStore {
    fn studies(&self) -> Result<Vec<StudyRecord>, StoreError> {
        let g = self.lock();
        g.studies
            .iter()
            .map(|(id, b)| codec::decode_study(b, &format!("study {id}"), path()))
            .collect()
    }
    fn study(&self, id: u64) -> Result<Option<StudyRecord>, StoreError> {
        let g = self.lock();
        g.studies
            .get(&id)
            .map(|b| codec::decode_study(b, &format!("study {id}"), path()))
            .transpose()
    }
    fn latest_study(&self) -> Result<Option<StudyRecord>, StoreError> {
        let g = self.lock();
        g.studies
            .iter()
            .next_back()
            .map(|(id, b)| codec::decode_study(b, &format!("study {id}"), path()))
            .transpose()
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        self.lock().trials(study_id)
    }
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        self.lock().trial(study_id, trial_id)
    }
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let g = self.lock();
        g.artifacts
            .get(&(study_id, trial_id))
            .map(|b| codec::decompress(b, &artifact_name(study_id, trial_id)))
            .transpose()
    }
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let g = self.lock();
        g.blobs
            .get(&(study_id, key.to_string()))
            .map(|b| codec::decompress(b, &blob_name(study_id, key)))
            .transpose()
    }
}

impl Store for MemoryStore {
    fn create_study(&self, study: StudyRecord) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let id = g.next_study.max(1);
        let mut s = study;
        s.study_id = id;
        let bytes = codec::encode_study(&s)?;
        g.studies.insert(id, bytes);
        g.next_study = id + 1;
        Ok(id)
    }
    fn update_study(&self, study: &StudyRecord) -> Result<(), StoreError> {
        let bytes = codec::encode_study(study)?;
        let mut g = self.lock();
        g.require_study(study.study_id)?;
        g.studies.insert(study.study_id, bytes);
        Ok(())
    }
    fn start_trial(
        &self,
        study_id: u64,
        candidate: &Candidate,
        strategy: &str,
        seed: u64,
    ) -> Result<TrialRecord, StoreError> {
        let mut g = self.lock();
        g.require_study(study_id)?;
        let id = g.next_trial.get(&study_id).copied().unwrap_or(0);
        let rec = crate::new_trial_record(study_id, id, candidate, strategy, seed);
        let bytes = codec::encode_trial(&rec)?;
        g.trials.insert((study_id, id), bytes);
        g.next_trial.insert(study_id, id + 1);
        Ok(rec)
    }
    fn write_finished(&self, rec: &TrialRecord, packed: Packed) -> Result<(), StoreError> {
        let bytes = codec::encode_trial(rec)?;
        let key = (rec.study_id, rec.trial_id);
        let mut g = self.lock();
        if !g.trials.contains_key(&key) {
            return Err(StoreError::NotFound {
                what: trial_name(rec.study_id, rec.trial_id),
            });
        }
        g.trials.insert(key, bytes);
        match packed {
            Packed::Replace(p) => {
                g.artifacts.insert(key, p.into_vec());
            }
            Packed::Delete => {
                g.artifacts.remove(&key);
            }
            Packed::Keep => {}
        }
        Ok(())
    }
    fn write_blob(
        &self,
        study_id: u64,
        key: &str,
        stored: codec::Stored,
    ) -> Result<(), StoreError> {
        let stored = stored.into_vec();
        let mut g = self.lock();
        g.require_study(study_id)?;
        g.blobs.insert((study_id, key.to_string()), stored);
        Ok(())
    }
    fn delete_artifact(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        let mut g = self.lock();
        let Some(mut rec) = g.trial(study_id, trial_id)? else {
            return Err(StoreError::NotFound {
                what: trial_name(study_id, trial_id),
            });
        };
        rec.has_artifact = false;
        let bytes = codec::encode_trial(&rec)?;
        g.trials.insert((study_id, trial_id), bytes);
        g.artifacts.remove(&(study_id, trial_id));
        Ok(())
    }
    fn mark_interrupted(&self, study_id: u64) -> Result<usize, StoreError> {
        let mut g = self.lock();
        let now = codec::now_ms();
        let mut updates = Vec::new();
        for mut t in g.trials(study_id)? {
            if t.state == TrialState::Running {
                crate::interrupt(&mut t, now);
                updates.push(((t.study_id, t.trial_id), codec::encode_trial(&t)?));
            }
        }
        let n = updates.len();
        g.trials.extend(updates);
        Ok(n)
    }
    fn apply_retention(
        &self,
        study_id: u64,
        keep_best: u64,
        metric_higher_is_better: bool,
        protect: &[u64],
    ) -> Result<usize, StoreError> {
        let victims = {
            let g = self.lock();
            crate::retention_victims(
                &g.trials(study_id)?,
                keep_best,
                metric_higher_is_better,
                protect,
            )
        };
        for &t in &victims {
            self.delete_artifact(study_id, t)?;
        }
        Ok(victims.len())
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn queue(&self) -> Option<&dyn TrialQueue> {
        Some(self)
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
fn deadline(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl TrialQueue for MemoryStore {
    fn enqueue(&self, study_id: u64, trial_id: u64, payload: &[u8]) -> Result<(), StoreError> {
        let mut g = self.lock();
        g.require_study(study_id)?;
        g.queue
            .entry((study_id, trial_id))
            .or_insert_with(|| Entry {
                state: QueueState::Queued,
                attempts: 0,
                token: 0,
                finished_by: 0,
                worker: String::new(),
                lease_until: None,
                payload: payload.to_vec(),
                result: None,
            });
        Ok(())
    }
    fn claim(
        &self,
        worker: &str,
        study: Option<u64>,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let mut g = self.lock();
        g.next_token += 1;
        let token = g.next_token;
        let Some((&(study_id, trial_id), e)) = g
            .queue
            .iter_mut()
            .find(|((s, _), e)| e.state == QueueState::Queued && study.is_none_or(|x| x == *s))
        else {
            return Ok(None);
        };
        e.state = QueueState::Claimed;
        e.attempts += 1;
        e.token = token;
        e.worker = worker.to_string();
        e.lease_until = Some(deadline(lease));
        Ok(Some(Lease {
            study_id,
            trial_id,
            token,
            attempt: e.attempts,
            payload: e.payload.clone(),
        }))
    }
    fn renew(&self, lease: &Lease, lease_dur: Duration) -> Result<bool, StoreError> {
        let mut g = self.lock();
        match g.queue.get_mut(&(lease.study_id, lease.trial_id)) {
            Some(e) if e.state == QueueState::Claimed && e.token == lease.token => {
                e.lease_until = Some(deadline(lease_dur));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn finish(&self, lease: &Lease, result: &[u8]) -> Result<bool, StoreError> {
        let mut g = self.lock();
        match g.queue.get_mut(&(lease.study_id, lease.trial_id)) {
            Some(e) if e.finished_by == lease.token => Ok(true),
            Some(e) if e.state == QueueState::Claimed && e.token == lease.token => {
                e.state = QueueState::Done;
                e.finished_by = lease.token;
                e.lease_until = None;
                e.result = Some(result.to_vec());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn requeue_expired(
        &self,
        study: Option<u64>,
        max_attempts: u32,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let now = Instant::now();
        let mut g = self.lock();
        let mut out = Vec::new();
        for (&(s, t), e) in g.queue.iter_mut() {
            let expired = e.state == QueueState::Claimed && e.lease_until.is_some_and(|u| u <= now);
            if !expired || study.is_some_and(|x| x != s) {
                continue;
            }
            e.lease_until = None;
            if e.attempts >= max_attempts {
                e.state = QueueState::Lost;
                e.worker.clear();
            } else {
                e.state = QueueState::Queued;
            }
            out.push((s, t));
        }
        Ok(out)
    }
    fn take_results(&self, study_id: u64) -> Result<Vec<QueueResult>, StoreError> {
        let mut g = self.lock();
        let mut out = Vec::new();
        for (&(_, t), e) in g.queue.range_mut((study_id, 0)..=(study_id, u64::MAX)) {
            if !matches!(e.state, QueueState::Done | QueueState::Lost) {
                continue;
            }
            out.push(QueueResult {
                trial_id: t,
                attempts: e.attempts,
                worker: if e.state == QueueState::Lost {
                    String::new()
                } else {
                    e.worker.clone()
                },
                result: e.result.take(),
            });
            e.state = QueueState::Closed;
            e.payload = Vec::new();
        }
        Ok(out)
    }
    fn cancel(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        if let Some(e) = self.lock().queue.get_mut(&(study_id, trial_id)) {
            e.state = QueueState::Closed;
            e.lease_until = None;
            e.result = None;
        }
        Ok(())
    }
    fn forget_closed(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        let mut g = self.lock();
        let key = (study_id, trial_id);
        if g.queue
            .get(&key)
            .is_some_and(|e| e.state == QueueState::Closed)
        {
            g.queue.remove(&key);
        }
        Ok(())
    }
    fn entry_state(&self, study_id: u64, trial_id: u64) -> Result<Option<QueueState>, StoreError> {
        Ok(self
            .lock()
            .queue
            .get(&(study_id, trial_id))
            .map(|e| e.state))
    }
    fn counts(&self, study_id: u64) -> Result<QueueCounts, StoreError> {
        let g = self.lock();
        let mut c = QueueCounts::default();
        let mut workers = BTreeSet::new();
        for e in g
            .queue
            .range((study_id, 0)..=(study_id, u64::MAX))
            .map(|(_, e)| e)
        {
            match e.state {
                QueueState::Queued => c.queued += 1,
                QueueState::Claimed => {
                    c.claimed += 1;
                    workers.insert(e.worker.as_str());
                }
                QueueState::Done | QueueState::Lost => c.done += 1,
                QueueState::Closed => {}
            }
        }
        c.workers = workers.len() as u64;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{
        completed, sample_artifact, sample_blocks, sample_candidate, sample_study,
    };

    /// A bag handed over in lz4 blocks is kept as those blocks, never unpacked whole and
    /// compressed again.
    #[test]
    fn blocked_artifacts_are_kept_as_their_blocks() {
        let s = MemoryStore::new();
        let id = s.create_study(sample_study("blocks")).unwrap();
        let raw = sample_artifact(4, 50_000);
        let t = s
            .start_trial(id, &sample_candidate(0), "random", 0)
            .unwrap();
        s.finish_trial_owned(&completed(t, 0.5), Some(sample_blocks(&raw, 20_000)))
            .unwrap();
        assert_eq!(&s.lock().artifacts[&(id, 0)][..4], b"AMZ2");
        assert_eq!(s.artifact(id, 0).unwrap(), Some(raw));
    }
}
