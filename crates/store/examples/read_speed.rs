//! Benchmark of reading many trial records: fills a temp sled store with N realistic trial
//! records (default 100,000; `cargo run -p automl-store --release --example read_speed -- N`)
//! and prints the time of `StoreRead::trials`, of `publish_snapshot`, and of opening and reading
//! the snapshot. The records are in the encoding the store writes; `-- N --json` fills them as
//! the JSON that earlier versions wrote instead. Prints times only; it asserts nothing about them.

use automl_core::{
    Candidate, ParamValue, Params, SCHEMA_VERSION, TrialRecord, TrialState, meta::EnsembleDecision,
};
use automl_store::conformance::sample_study;
use automl_store::{SledStore, SnapshotStore, Store, StoreRead, layout};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A complete trial record shaped like the ones a gbdt search writes.
fn record(study_id: u64, trial_id: u64) -> TrialRecord {
    let x = trial_id as f64;
    let mut params = Params::new();
    params.insert(
        "learning_rate".into(),
        ParamValue::Float(0.01 + (x * 0.37) % 0.3),
    );
    params.insert(
        "max_depth".into(),
        ParamValue::Int(3 + (trial_id % 8) as i64),
    );
    params.insert("min_child_weight".into(), ParamValue::Float(1.0 + x % 7.0));
    params.insert(
        "subsample".into(),
        ParamValue::Float(0.5 + (x * 0.13) % 0.5),
    );
    params.insert(
        "colsample".into(),
        ParamValue::Float(0.4 + (x * 0.07) % 0.6),
    );
    params.insert("l2".into(), ParamValue::Float(1e-3 * (1.0 + x % 100.0)));
    params.insert("n_rounds".into(), ParamValue::Int(500));
    params.insert("loss".into(), ParamValue::Str("logloss".into()));
    params.insert("bootstrap".into(), ParamValue::Bool(trial_id % 2 == 0));
    let mut candidate = Candidate::new("gbdt", params, "mutate");
    candidate.parents = vec![trial_id / 2, trial_id / 3];
    let mean = 0.8 + (x * 0.0001) % 0.1;
    let metrics = BTreeMap::from([
        ("roc_auc".to_string(), mean),
        ("log_loss".to_string(), 0.4 - mean / 10.0),
        ("accuracy".to_string(), 0.81),
        ("balanced_accuracy".to_string(), 0.79),
        ("f1".to_string(), 0.74),
        ("average_precision".to_string(), 0.77),
    ]);
    TrialRecord {
        schema_version: SCHEMA_VERSION,
        study_id,
        trial_id,
        candidate,
        strategy: "evolution".into(),
        state: TrialState::Complete,
        fold_scores: vec![mean - 0.02, mean - 0.01, mean, mean + 0.01, mean + 0.02],
        mean,
        std: 0.0141,
        metrics,
        fit_time_s: 0.4 + x % 3.0,
        predict_time_per_row_s: 2.5e-6,
        model_size_bytes: 48_213,
        has_artifact: trial_id % 50 == 0,
        error: None,
        seed: 42 + trial_id,
        started_at_ms: 1_760_000_000_000 + trial_id * 20,
        ended_at_ms: 1_760_000_000_000 + trial_id * 20 + 400,
        extra: BTreeMap::from([("n_rounds".to_string(), "187".to_string())]),
        ensemble: None::<EnsembleDecision>,
    }
}

/// The best of `runs` timings of `f`, with its last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.expect("runs > 0"))
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N: a number of trials"))
        .unwrap_or(100_000);
    let json = std::env::args().any(|a| a == "--json");
    let dir = tempfile::tempdir().expect("temp dir");
    let study = {
        let s = SledStore::open(dir.path()).expect("open");
        s.create_study(sample_study("bench")).expect("study")
    };
    // Fill through a raw sled handle (one flush, not one per trial); the records are what the
    // store writes (or the JSON of earlier versions).
    let t = Instant::now();
    let size = {
        let db = loop {
            match sled::open(dir.path()) {
                Ok(db) => break db,
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let trials = db.open_tree(layout::TRIALS_TREE).expect("tree");
        let mut bytes = 0;
        let mut batch = sled::Batch::default();
        for i in 0..n {
            let v = if json {
                serde_json::to_vec(&record(study, i)).expect("json")
            } else {
                automl_store::codec::encode_trial(&record(study, i)).expect("encode")
            };
            bytes += v.len();
            batch.insert(&layout::trial_key(study, i)[..], v);
            if i % 10_000 == 9_999 {
                trials
                    .apply_batch(std::mem::take(&mut batch))
                    .expect("batch");
            }
        }
        trials.apply_batch(batch).expect("batch");
        db.open_tree(layout::COUNTERS_TREE)
            .expect("tree")
            .insert(layout::trial_counter_key(study), &n.to_be_bytes()[..])
            .expect("counter");
        db.flush().expect("flush");
        bytes
    };
    println!(
        "filled {n} trial records ({:.1} MB of {}) in {:.2?}",
        size as f64 / 1e6,
        if json { "JSON" } else { "binary records" },
        t.elapsed()
    );
    let s = loop {
        match SledStore::open(dir.path()) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let (cold, first) = time(1, || s.trials(study).expect("trials"));
    assert_eq!(first.len() as u64, n);
    println!("trials() first read:        {cold:.2?}");
    let (warm, _) = time(5, || s.trials(study).expect("trials"));
    println!("trials() best of 5:         {warm:.2?}");
    let (one, _) = time(5, || s.trial(study, n / 2).expect("trial"));
    println!("trial() best of 5:          {one:.2?}");
    // The first request rewrites at once; later ones are throttled (and free when nothing
    // was written since), and `flush` serves a deferred one.
    let (publish, _) = time(1, || s.publish_snapshot().expect("publish"));
    println!("snapshot rewrite (first publish_snapshot): {publish:.2?}");
    let (open, snap) = time(3, || SnapshotStore::open(dir.path()).expect("snapshot"));
    println!("SnapshotStore::open best of 3: {open:.2?}");
    let (snap_read, rows) = time(5, || snap.trials(study).expect("trials"));
    assert_eq!(rows.len() as u64, n);
    println!("snapshot trials() best of 5: {snap_read:.2?}");
}
