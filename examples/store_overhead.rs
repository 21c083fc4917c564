//! How much of a search's wall time goes to the store: runs one study (the `automl fit`
//! defaults, a time budget) on a store wrapped in a timer that adds up the time of every store
//! call, and prints the calls, the store seconds per trial and their share of the wall time.
//! docs/BENCHMARKS.md compares the embedded (sled) store with PostgreSQL this way.
//!
//! ```text
//! cargo run --release --example store_overhead -- DATA.csv SECONDS STORE [JOBS [TARGET]]
//! ```
//!
//! STORE is a directory (created; use a fresh one) or a `postgres://` URL. The study runs in
//! this process with its local threads (no remote workers), so the two stores do the same
//! work: start, finish (with fold models), retention and blobs.

use automl_core::{Candidate, StudyRecord, TrialRecord};
use automl_engine::StudyBuilder;
use automl_store::{Packed, Store, StoreError, StoreLocation, StoreRead, TrialQueue};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// A store that times every call of the one it wraps.
struct Timed {
    inner: Box<dyn Store>,
    /// Per method: (calls, seconds).
    spent: Mutex<BTreeMap<&'static str, (u64, f64)>>,
}

impl Timed {
    fn time<T>(&self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        let mut spent = self.spent.lock().unwrap();
        let e = spent.entry(name).or_default();
        e.0 += 1;
        e.1 += t.elapsed().as_secs_f64();
        out
    }
}

impl StoreRead for Timed {
    fn studies(&self) -> Result<Vec<StudyRecord>, StoreError> {
        self.time("studies", || self.inner.studies())
    }
    fn study(&self, id: u64) -> Result<Option<StudyRecord>, StoreError> {
        self.time("study", || self.inner.study(id))
    }
    fn latest_study(&self) -> Result<Option<StudyRecord>, StoreError> {
        self.time("latest_study", || self.inner.latest_study())
    }
    fn trials(&self, study_id: u64) -> Result<Vec<TrialRecord>, StoreError> {
        self.time("trials", || self.inner.trials(study_id))
    }
    fn trial(&self, study_id: u64, trial_id: u64) -> Result<Option<TrialRecord>, StoreError> {
        self.time("trial", || self.inner.trial(study_id, trial_id))
    }
    fn artifact(&self, study_id: u64, trial_id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.time("artifact", || self.inner.artifact(study_id, trial_id))
    }
    fn blob(&self, study_id: u64, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.time("blob", || self.inner.blob(study_id, key))
    }
    fn disk_size(&self) -> Option<u64> {
        self.inner.disk_size()
    }
}

impl Store for Timed {
    fn create_study(&self, study: StudyRecord) -> Result<u64, StoreError> {
        self.time("create_study", || self.inner.create_study(study))
    }
    fn update_study(&self, study: &StudyRecord) -> Result<(), StoreError> {
        self.time("update_study", || self.inner.update_study(study))
    }
    fn start_trial(
        &self,
        study_id: u64,
        candidate: &Candidate,
        strategy: &str,
        seed: u64,
    ) -> Result<TrialRecord, StoreError> {
        self.time("start_trial", || {
            self.inner.start_trial(study_id, candidate, strategy, seed)
        })
    }
    fn finish_trial(
        &self,
        record: &TrialRecord,
        artifact: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        self.time("finish_trial", || self.inner.finish_trial(record, artifact))
    }
    fn finish_trial_owned(
        &self,
        record: &TrialRecord,
        artifact: Option<automl_core::Artifact>,
    ) -> Result<(), StoreError> {
        self.time("finish_trial", || {
            self.inner.finish_trial_owned(record, artifact)
        })
    }
    fn write_finished(&self, record: &TrialRecord, packed: Packed) -> Result<(), StoreError> {
        self.time("finish_trial", || self.inner.write_finished(record, packed))
    }
    fn update_finished(&self, record: &TrialRecord) -> Result<(), StoreError> {
        self.time("update_finished", || self.inner.update_finished(record))
    }
    fn put_blob(&self, study_id: u64, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.time("put_blob", || self.inner.put_blob(study_id, key, bytes))
    }
    fn put_blob_owned(
        &self,
        study_id: u64,
        key: &str,
        blob: automl_core::Artifact,
    ) -> Result<(), StoreError> {
        self.time("put_blob", || {
            self.inner.put_blob_owned(study_id, key, blob)
        })
    }
    fn write_blob(
        &self,
        study_id: u64,
        key: &str,
        stored: automl_store::codec::Stored,
    ) -> Result<(), StoreError> {
        self.time("put_blob", || self.inner.write_blob(study_id, key, stored))
    }
    fn delete_artifact(&self, study_id: u64, trial_id: u64) -> Result<(), StoreError> {
        self.time("delete_artifact", || {
            self.inner.delete_artifact(study_id, trial_id)
        })
    }
    fn mark_interrupted(&self, study_id: u64) -> Result<usize, StoreError> {
        self.time("mark_interrupted", || self.inner.mark_interrupted(study_id))
    }
    fn apply_retention(
        &self,
        study_id: u64,
        keep_best: u64,
        higher_is_better: bool,
        protect: &[u64],
    ) -> Result<usize, StoreError> {
        self.time("apply_retention", || {
            self.inner
                .apply_retention(study_id, keep_best, higher_is_better, protect)
        })
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.time("flush", || self.inner.flush())
    }
    fn publish_snapshot(&self) -> Result<(), StoreError> {
        self.time("publish_snapshot", || self.inner.publish_snapshot())
    }
    fn queue(&self) -> Option<&dyn TrialQueue> {
        self.inner.queue()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: store_overhead DATA.csv SECONDS STORE_DIR_OR_URL [JOBS [TARGET]]");
        std::process::exit(2);
    }
    let budget: f64 = args[1].parse()?;
    let at = StoreLocation::parse(&args[2])?;
    let store = Timed {
        inner: automl_store::open_store(&at)?,
        spent: Mutex::new(BTreeMap::new()),
    };
    let opts = automl_engine::ReadOptions {
        target: args.get(4).cloned(),
        ..Default::default()
    };
    let mut builder = StudyBuilder::from_csv_with(&args[0], opts)
        .time_budget(budget)
        .seed(0);
    if let Some(j) = args.get(3) {
        builder = builder.jobs(j.parse()?);
    }
    let started = Instant::now();
    let summary = builder.create(&store)?.run(&mut |_| {})?;
    let wall = started.elapsed().as_secs_f64();
    let spent = store.spent.lock().unwrap().clone();
    let total: f64 = spent.values().map(|v| v.1).sum();
    println!("store {at}: {} trials in {wall:.1} s", summary.trials);
    for (name, (calls, secs)) in &spent {
        println!(
            "  {name:<18} {calls:>6} calls {:>9.1} ms  ({:.2} ms per call)",
            secs * 1e3,
            secs * 1e3 / *calls as f64
        );
    }
    println!(
        "store time {:.2} s = {:.2} % of wall time, {:.2} ms per trial",
        total,
        100.0 * total / wall,
        1e3 * total / summary.trials.max(1) as f64
    );
    Ok(())
}
