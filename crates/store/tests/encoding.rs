//! The encodings of trial records in a real sled store: binary records (what this version
//! writes) and JSON records (what earlier versions wrote) read alike, in one store, through the
//! parallel and the one-thread read, and in the snapshot; a JSON record is rewritten as binary
//! when it is next written; a binary record of a newer format is refused.

use automl_core::meta::EnsembleDecision;
use automl_core::{TrialRecord, TrialState};
use automl_store::conformance::{completed, sample_candidate, sample_study};
use automl_store::{SledStore, SnapshotStore, Store, StoreError, StoreRead, codec, layout};
use std::path::Path;
use std::time::Duration;

/// A raw sled handle, retried while this process's dropped store still holds the lock.
fn raw_sled(dir: &Path) -> sled::Db {
    for _ in 0..500 {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("the lock of {} was never released", dir.display())
}

fn open(dir: &Path) -> SledStore {
    for _ in 0..500 {
        match SledStore::open(dir) {
            Err(StoreError::Locked { .. }) => std::thread::sleep(Duration::from_millis(10)),
            r => return r.unwrap(),
        }
    }
    panic!("the lock of {} was never released", dir.display())
}

/// Trial `i`: complete, failed, running, or an ensemble; some scores NaN or infinite.
fn varied(study: u64, i: u64) -> TrialRecord {
    let mut t = automl_store::conformance::completed(
        TrialRecord {
            schema_version: automl_core::SCHEMA_VERSION,
            study_id: study,
            trial_id: i,
            candidate: sample_candidate(i),
            strategy: "evolution".into(),
            state: TrialState::Running,
            fold_scores: Vec::new(),
            mean: f64::NAN,
            std: f64::NAN,
            metrics: Default::default(),
            fit_time_s: 0.0,
            predict_time_per_row_s: 0.0,
            model_size_bytes: 0,
            has_artifact: false,
            error: None,
            seed: 7 + i,
            started_at_ms: 1_760_000_000_000 + i,
            ended_at_ms: 0,
            extra: Default::default(),
            ensemble: None,
        },
        0.5 + (i % 100) as f64 / 1000.0,
    );
    match i % 6 {
        1 => {
            t.state = TrialState::Failed;
            t.mean = f64::NAN;
            t.error = Some(format!("fit {i} failed: \"quoted\"\nsecond line"));
        }
        2 => {
            t.mean = f64::INFINITY;
            t.fold_scores[1] = f64::NEG_INFINITY;
            t.metrics.insert("log_loss".into(), f64::NAN);
        }
        3 => {
            t.candidate.family = automl_core::ENSEMBLE_FAMILY.to_string();
            t.ensemble = Some(EnsembleDecision {
                used: i % 4 == 3,
                trial_id: Some(i),
                members: vec![(0, 0.75), (i / 2, 0.25)],
                cv_score: Some(0.9),
                single_selection_cv: None,
                best_single_cv: Some(0.88),
                reason: "better than the best single trial".into(),
            });
        }
        4 => t.state = TrialState::Running,
        _ => {}
    }
    t
}

/// What reading a record back through JSON gives: JSON has no infinity, every non-finite
/// float comes back as NaN.
fn through_json(mut t: TrialRecord) -> TrialRecord {
    let nan = |x: &mut f64| {
        if !x.is_finite() {
            *x = f64::NAN;
        }
    };
    nan(&mut t.mean);
    nan(&mut t.std);
    nan(&mut t.fit_time_s);
    nan(&mut t.predict_time_per_row_s);
    t.fold_scores.iter_mut().for_each(nan);
    t.metrics.values_mut().for_each(nan);
    t
}

/// Debug rendering, to compare records holding NaN.
fn debug<T: std::fmt::Debug + ?Sized>(x: &T) -> String {
    format!("{x:?}")
}

/// A store in `dir` with one study and trials `ids`, each stored as JSON (as earlier versions
/// wrote it) when `json(id)`, binary otherwise. Returns the study id and the records as read.
fn fill(
    dir: &Path,
    ids: impl Iterator<Item = u64>,
    counter: u64,
    json: impl Fn(u64) -> bool,
) -> (u64, Vec<TrialRecord>) {
    let study = open(dir).create_study(sample_study("enc")).unwrap();
    let db = raw_sled(dir);
    let tree = db.open_tree(layout::TRIALS_TREE).unwrap();
    let mut expected = Vec::new();
    let mut batch = sled::Batch::default();
    for i in ids {
        let t = varied(study, i);
        let bytes = if json(i) {
            expected.push(through_json(t.clone()));
            serde_json::to_vec(&t).unwrap()
        } else {
            expected.push(t.clone());
            codec::encode_trial(&t).unwrap()
        };
        batch.insert(&layout::trial_key(study, i)[..], bytes);
    }
    tree.apply_batch(batch).unwrap();
    db.open_tree(layout::COUNTERS_TREE)
        .unwrap()
        .insert(layout::trial_counter_key(study), &counter.to_be_bytes()[..])
        .unwrap();
    db.flush().unwrap();
    (study, expected)
}

#[test]
fn mixed_stores_read_every_record_as_written() {
    // 10 trials: one thread; 5,000 (and one past the counter): split over threads.
    for (n, extra) in [(10u64, None), (5000, Some(9_999u64))] {
        for json in [|_: u64| true, |_: u64| false, |i: u64| i % 3 == 0] {
            let dir = tempfile::tempdir().unwrap();
            let (study, expected) = fill(dir.path(), (0..n).chain(extra), n, json);
            let s = open(dir.path());
            let got = s.trials(study).unwrap();
            assert_eq!(got.len(), expected.len());
            assert_eq!(debug(&got), debug(&expected), "{n} trials");
            for i in [0, 1, 2, 3, n - 1] {
                let one = s.trial(study, i).unwrap().unwrap();
                assert_eq!(debug(&one), debug(&expected[i as usize]));
            }
            // Another study's trials are not mixed in, on either side of the key range.
            assert!(s.trials(study + 1).unwrap().is_empty());
            assert!(s.trials(study - 1).unwrap().is_empty());
            // The snapshot holds every record as JSON, readable by other processes.
            s.publish_snapshot().unwrap();
            let text = std::fs::read_to_string(dir.path().join(layout::SNAPSHOT_FILE)).unwrap();
            assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
            let snap = SnapshotStore::open(dir.path())
                .unwrap()
                .trials(study)
                .unwrap();
            let as_json: Vec<TrialRecord> = expected.into_iter().map(through_json).collect();
            assert_eq!(debug(&snap), debug(&as_json));
        }
    }
}

#[test]
fn json_records_become_binary_when_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let (study, expected) = fill(dir.path(), 0..6, 6, |_| true);
    assert_eq!(expected[4].state, TrialState::Running);
    {
        let s = open(dir.path());
        assert_eq!(s.mark_interrupted(study).unwrap(), 1);
        let t = s.start_trial(study, &sample_candidate(6), "r", 1).unwrap();
        s.finish_trial(&completed(t, 0.7), None).unwrap();
        s.delete_artifact(study, 0).unwrap();
    }
    let db = raw_sled(dir.path());
    let tree = db.open_tree(layout::TRIALS_TREE).unwrap();
    let first = |i: u64| tree.get(layout::trial_key(study, i)).unwrap().unwrap()[0];
    for (i, rewritten) in [(0, true), (1, false), (4, true), (5, false), (6, true)] {
        let expected_first = if rewritten { 0xA7 } else { b'{' };
        assert_eq!(first(i), expected_first, "trial {i}");
    }
    drop(tree);
    drop(db);
    let s = open(dir.path());
    let got = s.trials(study).unwrap();
    assert_eq!(got.len(), 7);
    assert_eq!(got[4].state, TrialState::Interrupted);
    assert_eq!(got[6].mean, 0.7);
    assert_eq!(debug(&got[1]), debug(&expected[1]));
}

#[test]
fn binary_record_of_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (study, _) = fill(dir.path(), 0..3, 3, |_| false);
    {
        let db = raw_sled(dir.path());
        let tree = db.open_tree(layout::TRIALS_TREE).unwrap();
        let key = layout::trial_key(study, 1);
        let mut v = tree.get(key).unwrap().unwrap().to_vec();
        v[1] = 3;
        v.push(0x55); // a field of the future
        tree.insert(key, v).unwrap();
        db.flush().unwrap();
    }
    let s = open(dir.path());
    assert!(s.trial(study, 0).unwrap().is_some());
    let err = s.trial(study, 1).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerFormat { found: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer automl"), "{err}");
    assert!(matches!(
        s.trials(study),
        Err(StoreError::NewerFormat { .. })
    ));
}

/// The schema version in a store's metadata (what an older automl checks on open).
fn meta_schema_version(dir: &Path) -> u64 {
    let db = raw_sled(dir);
    let meta = db.open_tree(layout::META_TREE).unwrap();
    let bytes = meta.get(layout::META_KEY).unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["schema_version"].as_u64().unwrap()
}

#[test]
fn an_older_store_is_raised_to_this_schema_when_a_trial_is_written_not_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let study = {
        let s = open(dir.path());
        s.create_study(sample_study("old")).unwrap()
    };
    // Make it look like a store of schema 1 (JSON records only).
    {
        let db = raw_sled(dir.path());
        let meta = db.open_tree(layout::META_TREE).unwrap();
        let bytes = meta.get(layout::META_KEY).unwrap().unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["schema_version"] = 1.into();
        meta.insert(layout::META_KEY, serde_json::to_vec(&v).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    assert_eq!(meta_schema_version(dir.path()), 1);
    {
        let s = open(dir.path());
        assert!(s.trials(study).unwrap().is_empty());
    }
    assert_eq!(
        meta_schema_version(dir.path()),
        1,
        "reading changes nothing"
    );
    {
        let s = open(dir.path());
        let t = s.start_trial(study, &sample_candidate(0), "r", 1).unwrap();
        s.finish_trial(&completed(t, 0.5), None).unwrap();
    }
    assert_eq!(
        meta_schema_version(dir.path()),
        u64::from(automl_core::SCHEMA_VERSION),
        "a binary record was written: an older automl must refuse the store"
    );
}
