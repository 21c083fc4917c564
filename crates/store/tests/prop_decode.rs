//! Property tests (fuzzing) of the store's record decoders: damaged or arbitrary bytes where a
//! study record, trial record, artifact, blob, counter or metadata should be give errors, never
//! panics. Two routes reach the (crate-private) decoders: the read-only snapshot file (fast,
//! many cases) and a real sled database whose values are overwritten with raw sled (slower).
//!
//! CI runs the default number of cases; for a long run outside CI set `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=100000 PROPTEST_SLED_CASES=5000 cargo test -p automl-store --test prop_decode`.

use automl_store::conformance::{completed, sample_artifact, sample_candidate, sample_study};
use automl_store::{SledStore, SnapshotStore, Store, StoreError, StoreRead, layout};
use proptest::prelude::*;
use std::path::Path;
use std::time::Duration;

/// A valid study and trial record as the store writes them (JSON), taken once from the
/// snapshot of a real SledStore.
fn valid_records() -> &'static (String, String) {
    static R: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(&dir.path().join("db")).unwrap();
        let id = s.create_study(sample_study("fuzz")).unwrap();
        let t = s
            .start_trial(id, &sample_candidate(0), "random", 1)
            .unwrap();
        let mut t = completed(t, 0.8);
        t.fold_scores[1] = f64::NAN; // a null in the JSON
        s.finish_trial(&t, None).unwrap();
        s.publish_snapshot().unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("db").join(layout::SNAPSHOT_FILE)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        (v["studies"][0].to_string(), v["trials"][0].to_string())
    })
}

/// Edits of a byte string: overwrite, delete, insert, truncate.
fn mutate(bytes: &mut Vec<u8>, edits: &[(usize, u8, u8)]) {
    for &(pos, op, b) in edits {
        if bytes.is_empty() {
            bytes.push(b);
            continue;
        }
        let p = pos % bytes.len();
        match op % 4 {
            0 => bytes[p] = b,
            1 => {
                bytes.remove(p);
            }
            2 => bytes.insert(p, b),
            _ => bytes.truncate(p),
        }
    }
}

/// JSON-aware edits of a record: replace a field's value with an edge-case value or drop it.
fn mutate_json(record: &str, edits: &[(usize, usize, bool)]) -> String {
    const VALUES: &[&str] = &[
        "null",
        "0",
        "-1",
        "1e400",
        "18446744073709551615",
        "18446744073709551616",
        "4294967296",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "[null]",
        "{\"a\":null}",
        "true",
        "1.5",
        "[1e308, null]",
        "\"running\"",
        "\"complete\"",
        "\"regression\"",
    ];
    let mut v: serde_json::Value = serde_json::from_str(record).unwrap();
    for &(field, value, drop) in edits {
        let Some(obj) = v.as_object_mut() else { break };
        let keys: Vec<String> = obj.keys().cloned().collect();
        if keys.is_empty() {
            break;
        }
        let k = &keys[field % keys.len()];
        if drop {
            obj.remove(k);
        } else {
            obj.insert(
                k.clone(),
                serde_json::from_str(VALUES[value % VALUES.len()])
                    .unwrap_or(serde_json::Value::Null),
            );
        }
    }
    v.to_string()
}

fn snapshot_with(dir: &Path, studies: &[String], trials: &[String]) {
    let text = format!(
        "{{\"format\":\"automl-store-snapshot\",\"schema_version\":1,\"written_at_ms\":1,\"studies\":[{}],\"trials\":[{}]}}",
        studies.join(","),
        trials.join(",")
    );
    std::fs::write(dir.join(layout::SNAPSHOT_FILE), text).unwrap();
}

/// Read everything a snapshot offers; errors are fine.
fn read_snapshot(dir: &Path) {
    if let Ok(s) = SnapshotStore::open(dir) {
        let studies = s.studies().unwrap_or_default();
        for st in &studies {
            let _ = s.trials(st.study_id);
            let _ = s.trial(st.study_id, 0);
        }
        let _ = s.latest_study();
        let _ = s.artifact(1, 0);
    }
}

/// Retry `f` while a raw sled handle dropped by this test still holds the lock (`locked`
/// tells a lock error from others).
fn retry<T, E>(mut f: impl FnMut() -> Result<T, E>, locked: impl Fn(&E) -> bool) -> Result<T, E> {
    for _ in 0..500 {
        match f() {
            Err(e) if locked(&e) => std::thread::sleep(Duration::from_millis(10)),
            r => return r,
        }
    }
    f()
}

/// Which stored value a sled case damages.
#[derive(Debug, Clone, Copy)]
enum Target {
    Study,
    Trial,
    Artifact,
    Blob,
    TrialCounter,
    StudyCounter,
    Meta,
    ExtraTrialKey,
}

fn target() -> impl Strategy<Value = Target> {
    prop::sample::select(vec![
        Target::Study,
        Target::Trial,
        Target::Artifact,
        Target::Blob,
        Target::TrialCounter,
        Target::StudyCounter,
        Target::Meta,
        Target::ExtraTrialKey,
    ])
}

/// Damage one value of a populated store with raw sled, then use the store every way.
fn sled_case(t: Target, garbage: Option<Vec<u8>>, edits: &[(usize, u8, u8)]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let id = {
        let s = SledStore::open(&dir).unwrap();
        let id = s.create_study(sample_study("fuzz")).unwrap();
        let t0 = s
            .start_trial(id, &sample_candidate(0), "random", 1)
            .unwrap();
        s.finish_trial(&completed(t0, 0.7), Some(&sample_artifact(1, 3000)))
            .unwrap();
        s.put_blob(id, "final", &sample_artifact(2, 500)).unwrap();
        s.flush().unwrap();
        id
    };
    {
        let db =
            retry(|| sled::open(&dir), |e| e.to_string().contains("lock")).expect("raw sled open");
        let (tree, key): (&str, Vec<u8>) = match t {
            Target::Study => (layout::STUDIES_TREE, layout::study_key(id).to_vec()),
            Target::Trial => (layout::TRIALS_TREE, layout::trial_key(id, 0).to_vec()),
            Target::Artifact => (layout::ARTIFACTS_TREE, layout::trial_key(id, 0).to_vec()),
            Target::Blob => (layout::BLOBS_TREE, layout::blob_key(id, "final")),
            Target::TrialCounter => (layout::COUNTERS_TREE, layout::trial_counter_key(id)),
            Target::StudyCounter => (layout::COUNTERS_TREE, layout::STUDY_COUNTER.to_vec()),
            Target::Meta => (layout::META_TREE, layout::META_KEY.to_vec()),
            Target::ExtraTrialKey => {
                let mut k = id.to_be_bytes().to_vec();
                k.extend_from_slice(&edits.first().map_or(3u8, |e| e.2).to_be_bytes());
                (layout::TRIALS_TREE, k)
            }
        };
        let tree = db.open_tree(tree).unwrap();
        let value = match garbage {
            Some(g) => g,
            None => {
                let mut v = tree
                    .get(&key)
                    .unwrap()
                    .map(|v| v.to_vec())
                    .unwrap_or_else(|| valid_records().1.clone().into_bytes());
                mutate(&mut v, edits);
                v
            }
        };
        tree.insert(key, value).unwrap();
        db.flush().unwrap();
    }
    let opened = retry(
        || SledStore::open(&dir),
        |e| matches!(e, StoreError::Locked { .. }),
    );
    let Ok(s) = opened else { return };
    let _ = s.studies();
    let _ = s.latest_study();
    let _ = s.study(id);
    let _ = s.trials(id);
    let _ = s.trial(id, 0);
    let _ = s.artifact(id, 0);
    let _ = s.blob(id, "final");
    let _ = s.start_trial(id, &sample_candidate(1), "random", 2);
    let _ = s.mark_interrupted(id);
    let _ = s.apply_retention(id, 0, true, &[]);
    if s.publish_snapshot().is_ok() {
        read_snapshot(&dir);
    }
    let _ = s.create_study(sample_study("again"));
}

// 256 cases by default; the environment variable PROPTEST_CASES overrides it.
proptest! {
    #[test]
    fn arbitrary_snapshot_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(layout::SNAPSHOT_FILE), &bytes).unwrap();
        read_snapshot(dir.path());
    }

    #[test]
    fn damaged_records_in_a_snapshot_never_panic(
        study_edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..4),
        trial_edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..4),
        byte_edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..3),
    ) {
        let (study, trial) = valid_records();
        let study = mutate_json(study, &study_edits);
        let mut trial = mutate_json(trial, &trial_edits).into_bytes();
        mutate(&mut trial, &byte_edits);
        let trial = String::from_utf8_lossy(&trial).into_owned();
        let dir = tempfile::tempdir().unwrap();
        snapshot_with(dir.path(), &[study], &[trial]);
        read_snapshot(dir.path());
    }

    #[test]
    fn arbitrary_json_records_in_a_snapshot_never_panic(
        record in "\\{(\"[a-z_]{1,12}\":(null|-?[0-9]{1,20}|\"[a-z]{0,4}\"|\\[[0-9,]{0,6}\\]|\\{\\}|true),?){0,8}\\}"
    ) {
        let dir = tempfile::tempdir().unwrap();
        let fixed = record.replace(",}", "}");
        snapshot_with(dir.path(), std::slice::from_ref(&fixed), std::slice::from_ref(&fixed));
        read_snapshot(dir.path());
    }
}

proptest! {
    // Each case opens real sled databases: 24 cases in CI, or PROPTEST_SLED_CASES.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_SLED_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn damaged_sled_values_never_panic(
        t in target(),
        garbage in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        sled_case(t, garbage, &edits);
    }
}
