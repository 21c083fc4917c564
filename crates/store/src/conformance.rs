//! The conformance suite every `Store` implementation passes (public so other crates can run it
//! against their own stores). Each check gets a fresh, empty store from `make` and panics with
//! a message naming the check when the store misbehaves.

use crate::{INTERRUPTED_ERROR, Store, StoreError};
use automl_core::trial::SchemaColumn;
use automl_core::{
    Budget, Candidate, ParamValue, Params, SCHEMA_VERSION, StudyRecord, Task, TrialRecord,
    TrialState,
};
use std::collections::BTreeMap;

/// A factory of fresh, empty stores.
pub type MakeStore<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// One check of the suite.
pub type Check = fn(MakeStore<'_>);

/// The names of the checks, in order: the one list both [`CHECKS`] and
/// [`conformance_tests!`](crate::conformance_tests) are built from. It calls back
/// `$crate::__suite_expand!` with the suite's module, a mode token, its arguments and the names.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_names {
    ($($mode:tt)*) => {
        $crate::__suite_expand! {
            conformance [$($mode)*]
            empty_store,
            study_ids_and_listing,
            update_study,
            trial_ids_dense_per_study,
            start_trial_record,
            finish_roundtrip,
            non_finite_scores_roundtrip,
            finish_errors,
            artifacts_roundtrip,
            blocked_artifacts_roundtrip,
            update_finished_keeps_the_artifact,
            blobs,
            delete_artifact,
            retention_keeps_best_and_protected,
            retention_lower_is_better,
            mark_interrupted,
            concurrent_trials,
        }
    };
}

/// The expansions of a suite's name list (see [`__conformance_names!`]), shared by the store
/// suite (module `conformance`) and the queue suite (module `queue_conformance`): `[checks]` is
/// the suite's `CHECKS` table; `[tests $make]` is one `#[test]` per check, calling
/// `$crate::$suite::run_check` with the stores `$make` gives, and a test that the list and the
/// suite's `CHECKS` agree.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_expand {
    ($suite:ident [checks] $($name:ident,)*) => {
        &[$((stringify!($name), $name as Check)),*]
    };
    ($suite:ident [tests $make:expr] $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                let make = $make;
                $crate::$suite::run_check(stringify!($name), &make);
            }
        )*
        /// Every check of the suite has a test above (the list and `CHECKS` agree).
        #[test]
        fn every_check_has_a_test() {
            let tests: &[&str] = &[$(stringify!($name)),*];
            let checks: Vec<&str> = $crate::$suite::CHECKS.iter().map(|(n, _)| *n).collect();
            assert_eq!(tests, &checks[..]);
        }
    };
}

/// Expand the conformance suite into one `#[test]` per check, in a module `conformance`, for
/// the store made by `$make`: an expression evaluated at the start of each test that gives an
/// `impl Fn() -> Box<dyn Store>` making fresh, empty stores (it may own a temp dir). A check
/// that fails then fails alone, named by its test. For example, in `tests/memory.rs`:
///
/// ```ignore
/// automl_store::conformance_tests!(|| Box::new(MemoryStore::new()) as Box<dyn Store>);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        /// The store conformance suite, one test per check.
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::__conformance_names!(tests $make);
        }
    };
}

/// The checks of the suite, by name.
pub const CHECKS: &[(&str, Check)] = crate::__conformance_names!(checks);

/// Run the check called `name` (one of [`CHECKS`]); panics when the store fails it, or when
/// there is no check of that name.
pub fn run_check(name: &str, make: &dyn Fn() -> Box<dyn Store>) {
    let Some((_, check)) = CHECKS.iter().find(|(n, _)| *n == name) else {
        panic!("no store conformance check named `{name}`");
    };
    check(make);
}

/// Run every check of the suite; panics on the first failure. Prefer
/// [`conformance_tests!`](crate::conformance_tests), which gives each check its own test.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, check) in CHECKS {
        eprintln!("store conformance: {name}");
        check(make);
    }
}

/// A study record with plausible content (its `study_id` is ignored by `create_study`).
pub fn sample_study(name: &str) -> StudyRecord {
    StudyRecord {
        schema_version: SCHEMA_VERSION,
        study_id: 999,
        name: name.to_string(),
        data_path: format!("data/{name}.csv"),
        fingerprint: "00ff".to_string(),
        schema: vec![
            SchemaColumn {
                name: "age".to_string(),
                kind: "numeric".to_string(),
            },
            SchemaColumn {
                name: "city".to_string(),
                kind: "categorical".to_string(),
            },
        ],
        target: "y".to_string(),
        classes: vec!["no".to_string(), "yes".to_string()],
        task: Task::Binary,
        metric: "roc_auc".to_string(),
        space: "[gbdt]\nlearning_rate = { float = [0.01, 0.3], log = true }\n".to_string(),
        strategy: "evolution".to_string(),
        seed: 42,
        budget: Budget {
            time_s: Some(60.0),
            max_trials: Some(100),
        },
        started_at_ms: 1_700_000_000_000,
        ended_at_ms: 0,
        final_trial: None,
        keep_models: Some(5),
        extra: BTreeMap::from([("note".to_string(), "sample".to_string())]),
        validation: Some(automl_core::Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 1,
        }),
        n_rows: Some(600),
        data_report: Some("600 rows x 2 columns".to_string()),
        memory_limit_bytes: Some(1 << 30),
        ensemble: None,
        stacking: None,
        final_model: None,
        parallelism: None,
    }
}

/// A candidate with a few parameters of each kind.
pub fn sample_candidate(i: u64) -> Candidate {
    let mut params = Params::new();
    params.insert(
        "learning_rate".to_string(),
        ParamValue::Float(0.05 + i as f64 * 0.01),
    );
    params.insert("max_depth".to_string(), ParamValue::Int(3 + i as i64));
    params.insert("loss".to_string(), ParamValue::Str("logloss".to_string()));
    params.insert("bootstrap".to_string(), ParamValue::Bool(i % 2 == 0));
    let mut c = Candidate::new("gbdt", params, "mutate");
    c.parents = vec![i, i + 1];
    c.fidelity = 0.5;
    c
}

/// Deterministic artifact bytes of a given size.
pub fn sample_artifact(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            if i % 3 == 0 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            } else {
                (i % 7) as u8
            }
        })
        .collect()
}

/// Turn a started record into a complete one with the given mean.
pub fn completed(mut t: TrialRecord, mean: f64) -> TrialRecord {
    t.state = TrialState::Complete;
    t.fold_scores = vec![mean - 0.01, mean, mean + 0.01];
    t.mean = mean;
    t.std = 0.01;
    t.metrics = BTreeMap::from([("roc_auc".to_string(), mean), ("accuracy".to_string(), 0.8)]);
    t.fit_time_s = 1.5;
    t.predict_time_per_row_s = 2e-6;
    t.ended_at_ms = t.started_at_ms + 1500;
    t.extra = BTreeMap::from([("n_rounds".to_string(), "120".to_string())]);
    t
}

fn empty_store(make: MakeStore<'_>) {
    let s = make();
    assert!(s.studies().unwrap().is_empty(), "empty_store: studies");
    assert!(
        s.latest_study().unwrap().is_none(),
        "empty_store: latest_study"
    );
    assert!(s.study(1).unwrap().is_none(), "empty_store: study(1)");
    assert!(s.trials(1).unwrap().is_empty(), "empty_store: trials(1)");
    assert!(s.trial(1, 0).unwrap().is_none(), "empty_store: trial");
    assert!(s.artifact(1, 0).unwrap().is_none(), "empty_store: artifact");
    assert!(s.blob(1, "oof").unwrap().is_none(), "empty_store: blob");
    s.flush().unwrap();
}

fn study_ids_and_listing(make: MakeStore<'_>) {
    let s = make();
    let ids: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|n| s.create_study(sample_study(n)).unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "study ids ascending: {ids:?}"
    );
    assert!(
        !ids.contains(&999),
        "create_study must ignore study.study_id"
    );
    let listed = s.studies().unwrap();
    assert_eq!(listed.iter().map(|x| x.study_id).collect::<Vec<_>>(), ids);
    assert_eq!(
        listed.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    for (id, got) in ids.iter().zip(&listed) {
        let mut want = sample_study(&got.name);
        want.study_id = *id;
        assert_eq!(got, &want, "study roundtrip");
        assert_eq!(got.schema_version, SCHEMA_VERSION);
        assert_eq!(s.study(*id).unwrap().as_ref(), Some(got));
    }
    assert_eq!(s.latest_study().unwrap().map(|x| x.study_id), Some(ids[2]));
    assert!(s.study(ids[2] + 1).unwrap().is_none());
}

fn update_study(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("u")).unwrap();
    let mut st = s.study(id).unwrap().unwrap();
    st.ended_at_ms = st.started_at_ms + 5000;
    st.final_trial = Some(3);
    st.extra.insert("rows".to_string(), "150".to_string());
    s.update_study(&st).unwrap();
    assert_eq!(
        s.study(id).unwrap(),
        Some(st.clone()),
        "update_study roundtrip"
    );
    let mut ghost = st;
    ghost.study_id = id + 100;
    assert!(
        matches!(s.update_study(&ghost), Err(StoreError::NotFound { .. })),
        "update_study of an unknown study must be NotFound"
    );
    assert!(
        s.study(id + 100).unwrap().is_none(),
        "update_study must not create"
    );
}

fn trial_ids_dense_per_study(make: MakeStore<'_>) {
    let s = make();
    let a = s.create_study(sample_study("a")).unwrap();
    let b = s.create_study(sample_study("b")).unwrap();
    let mut ids_a = Vec::new();
    let mut ids_b = Vec::new();
    for i in 0..4 {
        ids_a.push(
            s.start_trial(a, &sample_candidate(i), "random", i)
                .unwrap()
                .trial_id,
        );
        if i % 2 == 0 {
            ids_b.push(
                s.start_trial(b, &sample_candidate(i), "random", i)
                    .unwrap()
                    .trial_id,
            );
        }
    }
    assert_eq!(ids_a, [0, 1, 2, 3], "trial ids of study a");
    assert_eq!(ids_b, [0, 1], "trial ids of study b");
    assert_eq!(
        s.trials(a)
            .unwrap()
            .iter()
            .map(|t| t.trial_id)
            .collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(s.trials(b).unwrap().iter().all(|t| t.study_id == b));
    let err = s.start_trial(b + 1, &sample_candidate(0), "random", 0);
    assert!(
        matches!(err, Err(StoreError::NotFound { .. })),
        "start_trial on unknown study: {err:?}"
    );
}

fn start_trial_record(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    let c = sample_candidate(7);
    let t = s.start_trial(id, &c, "evolution", 1234).unwrap();
    assert_eq!(t.state, TrialState::Running);
    assert_eq!((t.study_id, t.trial_id, t.seed), (id, 0, 1234));
    assert_eq!(t.candidate, c);
    assert_eq!(t.strategy, "evolution");
    assert_eq!(t.schema_version, SCHEMA_VERSION);
    assert!(t.started_at_ms > 0 && t.ended_at_ms == 0);
    assert!(!t.has_artifact && t.error.is_none());
    assert!(t.mean.is_nan(), "a running trial has mean NaN");
    let stored = s.trial(id, 0).unwrap().expect("started trial is stored");
    assert_eq!(stored.candidate, c);
    assert_eq!(stored.state, TrialState::Running);
    assert!(stored.mean.is_nan(), "NaN mean survives storage");
    assert_eq!(stored.started_at_ms, t.started_at_ms);
}

fn finish_roundtrip(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    let t = s
        .start_trial(id, &sample_candidate(1), "random", 5)
        .unwrap();
    let mut done = completed(t, 0.91);
    done.model_size_bytes = 1;
    let art = sample_artifact(1, 3000);
    s.finish_trial(&done, Some(&art)).unwrap();
    let got = s.trial(id, 0).unwrap().unwrap();
    let mut want = done.clone();
    want.has_artifact = true;
    want.model_size_bytes = art.len() as u64;
    assert_eq!(got, want, "finished record roundtrip");
    assert_eq!(s.trials(id).unwrap(), vec![want]);

    // A failed trial without an artifact; ended_at_ms filled in when 0.
    let t = s
        .start_trial(id, &sample_candidate(2), "random", 6)
        .unwrap();
    let mut failed = t.clone();
    failed.state = TrialState::Failed;
    failed.error = Some("fit error: singular matrix".to_string());
    s.finish_trial(&failed, None).unwrap();
    let got = s.trial(id, 1).unwrap().unwrap();
    assert_eq!(got.state, TrialState::Failed);
    assert_eq!(got.error.as_deref(), Some("fit error: singular matrix"));
    assert!(got.ended_at_ms >= got.started_at_ms && got.ended_at_ms > 0);
    assert!(!got.has_artifact);
    assert!(s.artifact(id, 1).unwrap().is_none());
}

fn non_finite_scores_roundtrip(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    let t = s
        .start_trial(id, &sample_candidate(1), "random", 5)
        .unwrap();
    let mut done = completed(t, 0.5);
    done.fold_scores = vec![0.5, f64::NAN, 0.7];
    done.mean = f64::NAN;
    done.std = f64::NAN;
    done.metrics.insert("log_loss".to_string(), f64::NAN);
    s.finish_trial(&done, None).unwrap();
    let got = s.trial(id, 0).unwrap().unwrap();
    assert!(got.mean.is_nan() && got.std.is_nan());
    assert_eq!(got.fold_scores[0], 0.5);
    assert!(got.fold_scores[1].is_nan());
    assert_eq!(got.fold_scores[2], 0.7);
    assert!(got.metrics["log_loss"].is_nan());
    assert_eq!(got.metrics["accuracy"], 0.8);
    assert_eq!(got.fit_time_s, 1.5);
}

fn finish_errors(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    let t = s
        .start_trial(id, &sample_candidate(1), "random", 5)
        .unwrap();
    let r = s.finish_trial(&t, None);
    assert!(
        matches!(r, Err(StoreError::Invalid { .. })),
        "finishing as running: {r:?}"
    );
    let mut ghost = completed(t, 0.5);
    ghost.trial_id = 17;
    let r = s.finish_trial(&ghost, Some(b"x"));
    assert!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "finishing an unstarted trial: {r:?}"
    );
    assert!(s.trial(id, 17).unwrap().is_none());
    assert!(
        s.artifact(id, 17).unwrap().is_none(),
        "no artifact for a rejected finish"
    );
    assert_eq!(s.trials(id).unwrap().len(), 1);
}

fn artifacts_roundtrip(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    let sizes = [0usize, 1, 1000, 200_000];
    for (i, &n) in sizes.iter().enumerate() {
        let t = s
            .start_trial(id, &sample_candidate(i as u64), "random", 0)
            .unwrap();
        let art = sample_artifact(i as u64 + 10, n);
        s.finish_trial(&completed(t, 0.5), Some(&art)).unwrap();
    }
    for (i, &n) in sizes.iter().enumerate() {
        let got = s.artifact(id, i as u64).unwrap().expect("artifact stored");
        assert_eq!(got, sample_artifact(i as u64 + 10, n), "artifact {i} bytes");
        let t = s.trial(id, i as u64).unwrap().unwrap();
        assert!(t.has_artifact);
        assert_eq!(t.model_size_bytes, n as u64);
    }
    // Re-finishing without an artifact removes it.
    let t = s.trial(id, 2).unwrap().unwrap();
    s.finish_trial(&t, None).unwrap();
    assert!(s.artifact(id, 2).unwrap().is_none());
    assert!(!s.trial(id, 2).unwrap().unwrap().has_artifact);
    assert!(s.artifact(id, 99).unwrap().is_none());
}

/// [`Store::update_finished`] rewrites a finished trial's record and leaves its artifact as
/// stored (blocked or whole, or none), whatever the given record says about it; it refuses a
/// trial not in the store and a running one.
fn update_finished_keeps_the_artifact(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("u")).unwrap();
    let bytes = sample_artifact(7, 150_000);
    let arts = [
        Some(sample_blocks(&bytes, 40_000)),
        Some(automl_core::Artifact::Raw(bytes.clone())),
        None,
    ];
    for (i, art) in arts.into_iter().enumerate() {
        let t = s
            .start_trial(id, &sample_candidate(i as u64), "random", 0)
            .unwrap();
        s.finish_trial_owned(&completed(t, 0.25), art).unwrap();
        let stored = s.trial(id, i as u64).unwrap().unwrap();
        let mut rec = stored.clone();
        rec.extra
            .insert("seed_variance".into(), "{\"seed_std\":0.5}".into());
        // What the caller says about the artifact is ignored.
        rec.has_artifact = !stored.has_artifact;
        rec.model_size_bytes = 3;
        s.update_finished(&rec).unwrap();
        let back = s.trial(id, i as u64).unwrap().unwrap();
        assert_eq!(back.extra, rec.extra, "trial {i}: the new record");
        assert_eq!(back.mean, stored.mean, "trial {i}");
        assert_eq!(back.has_artifact, stored.has_artifact, "trial {i}");
        assert_eq!(back.model_size_bytes, stored.model_size_bytes, "trial {i}");
        let want = (i < 2).then(|| bytes.clone());
        assert_eq!(
            s.artifact(id, i as u64).unwrap(),
            want,
            "trial {i}: the artifact"
        );
    }
    let mut missing = s.trial(id, 0).unwrap().unwrap();
    missing.trial_id = 99;
    assert!(matches!(
        s.update_finished(&missing),
        Err(StoreError::NotFound { .. })
    ));
    let running = s
        .start_trial(id, &sample_candidate(9), "random", 0)
        .unwrap();
    let mut done = running.clone();
    done.state = TrialState::Complete;
    assert!(s.update_finished(&done).is_err(), "a running trial");
    assert!(s.update_finished(&running).is_err(), "a running record");
    assert_eq!(
        s.trial(id, running.trial_id).unwrap().unwrap().state,
        TrialState::Running
    );
}

/// `bytes` as an artifact compressed in blocks of `cut` bytes (the form a bag of fold models
/// reaches a store in).
pub fn sample_blocks(bytes: &[u8], cut: usize) -> automl_core::Artifact {
    let mut b = automl_core::Blocks::new();
    for piece in bytes.chunks(cut.max(1)) {
        b.push_raw(piece);
    }
    automl_core::Artifact::Blocks(b)
}

/// Artifacts handed over by value ([`Store::finish_trial_owned`]), whole or compressed in
/// blocks (a bag of fold models as cross-validation wrote it), read back whole, their raw
/// length recorded.
fn blocked_artifacts_roundtrip(make: MakeStore<'_>) {
    use automl_core::{Artifact, Blocks};
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    let cases: Vec<(Vec<u8>, Artifact)> = vec![
        (
            sample_artifact(1, 200_000),
            sample_blocks(&sample_artifact(1, 200_000), 65_536),
        ),
        (
            sample_artifact(2, 1000),
            sample_blocks(&sample_artifact(2, 1000), 1),
        ),
        (Vec::new(), Artifact::Blocks(Blocks::new())),
        (
            sample_artifact(3, 5000),
            Artifact::Raw(sample_artifact(3, 5000)),
        ),
    ];
    let n = cases.len();
    for (i, (_, art)) in cases.into_iter().enumerate() {
        let t = s
            .start_trial(id, &sample_candidate(i as u64), "random", 0)
            .unwrap();
        s.finish_trial_owned(&completed(t, 0.5), Some(art)).unwrap();
    }
    let wants = [
        sample_artifact(1, 200_000),
        sample_artifact(2, 1000),
        Vec::new(),
        sample_artifact(3, 5000),
    ];
    assert_eq!(wants.len(), n);
    for (i, want) in wants.iter().enumerate() {
        let got = s.artifact(id, i as u64).unwrap().expect("artifact stored");
        assert_eq!(&got, want, "artifact {i} bytes");
        let t = s.trial(id, i as u64).unwrap().unwrap();
        assert!(t.has_artifact, "artifact {i}");
        assert_eq!(t.model_size_bytes, want.len() as u64, "artifact {i} size");
    }
    // Re-finishing by value without an artifact removes it.
    let t = s.trial(id, 0).unwrap().unwrap();
    s.finish_trial_owned(&t, None).unwrap();
    assert!(s.artifact(id, 0).unwrap().is_none());
    assert!(!s.trial(id, 0).unwrap().unwrap().has_artifact);
}

fn blobs(make: MakeStore<'_>) {
    let s = make();
    let a = s.create_study(sample_study("a")).unwrap();
    let b = s.create_study(sample_study("b")).unwrap();
    let oof = sample_artifact(3, 5000);
    s.put_blob(a, "oof/trial-3", &oof).unwrap();
    s.put_blob(a, "ensemble", b"{\"members\":[1,2]}").unwrap();
    s.put_blob(b, "ensemble", b"other").unwrap();
    s.put_blob(a, "ключ ünïcode", b"").unwrap();
    assert_eq!(s.blob(a, "oof/trial-3").unwrap(), Some(oof));
    assert_eq!(
        s.blob(a, "ensemble").unwrap().as_deref(),
        Some(&b"{\"members\":[1,2]}"[..])
    );
    assert_eq!(
        s.blob(b, "ensemble").unwrap().as_deref(),
        Some(&b"other"[..])
    );
    assert_eq!(s.blob(a, "ключ ünïcode").unwrap(), Some(Vec::new()));
    assert!(
        s.blob(a, "oof").unwrap().is_none(),
        "prefix of a key is not a key"
    );
    s.put_blob(a, "ensemble", b"v2").unwrap();
    assert_eq!(s.blob(a, "ensemble").unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(
        s.blob(b, "ensemble").unwrap().as_deref(),
        Some(&b"other"[..])
    );
    let r = s.put_blob(b + 1, "x", b"y");
    assert!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "blob for unknown study: {r:?}"
    );
    // By value, whole or in blocks (a final model compressed while it was encoded), read back
    // whole, replacing what was there.
    let big = sample_artifact(4, 300_000);
    s.put_blob_owned(a, "ensemble", sample_blocks(&big, 65_536))
        .unwrap();
    assert_eq!(s.blob(a, "ensemble").unwrap().as_deref(), Some(&big[..]));
    s.put_blob_owned(a, "one", sample_blocks(b"x", 1)).unwrap();
    assert_eq!(s.blob(a, "one").unwrap().as_deref(), Some(&b"x"[..]));
    s.put_blob_owned(a, "empty", sample_blocks(b"", 1)).unwrap();
    assert_eq!(s.blob(a, "empty").unwrap(), Some(Vec::new()));
    s.put_blob_owned(b, "ensemble", automl_core::Artifact::Raw(b"raw".to_vec()))
        .unwrap();
    assert_eq!(s.blob(b, "ensemble").unwrap().as_deref(), Some(&b"raw"[..]));
    assert_eq!(s.blob(a, "ensemble").unwrap().as_deref(), Some(&big[..]));
    let r = s.put_blob_owned(b + 1, "x", sample_blocks(b"y", 1));
    assert!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "blob for unknown study: {r:?}"
    );
}

fn delete_artifact(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("a")).unwrap();
    for i in 0..2 {
        let t = s
            .start_trial(id, &sample_candidate(i), "random", 0)
            .unwrap();
        s.finish_trial(&completed(t, 0.5), Some(&sample_artifact(i, 500)))
            .unwrap();
    }
    s.delete_artifact(id, 0).unwrap();
    assert!(s.artifact(id, 0).unwrap().is_none());
    let t0 = s.trial(id, 0).unwrap().unwrap();
    assert!(!t0.has_artifact);
    assert_eq!(t0.state, TrialState::Complete);
    assert_eq!(t0.mean, 0.5, "scores are kept forever");
    assert_eq!(s.artifact(id, 1).unwrap(), Some(sample_artifact(1, 500)));
    s.delete_artifact(id, 0).unwrap();
    let r = s.delete_artifact(id, 9);
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
}

fn kept(s: &dyn Store, id: u64) -> Vec<u64> {
    s.trials(id)
        .unwrap()
        .into_iter()
        .filter(|t| {
            let has = s.artifact(id, t.trial_id).unwrap().is_some();
            assert_eq!(
                has, t.has_artifact,
                "has_artifact consistent for trial {}",
                t.trial_id
            );
            has
        })
        .map(|t| t.trial_id)
        .collect()
}

fn retention_setup(s: &dyn Store, means: &[f64]) -> u64 {
    let id = s.create_study(sample_study("r")).unwrap();
    for (i, &m) in means.iter().enumerate() {
        let t = s
            .start_trial(id, &sample_candidate(i as u64), "random", 0)
            .unwrap();
        s.finish_trial(&completed(t, m), Some(&sample_artifact(i as u64, 100)))
            .unwrap();
    }
    // A failed trial (no artifact) and a running one.
    let t = s
        .start_trial(id, &sample_candidate(50), "random", 0)
        .unwrap();
    let mut f = t.clone();
    f.state = TrialState::Failed;
    f.error = Some("boom".to_string());
    s.finish_trial(&f, None).unwrap();
    s.start_trial(id, &sample_candidate(51), "random", 0)
        .unwrap();
    id
}

fn retention_keeps_best_and_protected(make: MakeStore<'_>) {
    let s = make();
    let means = [0.70, 0.90, 0.60, 0.95, 0.80, 0.90];
    let id = retention_setup(&*s, &means);
    assert_eq!(kept(&*s, id), [0, 1, 2, 3, 4, 5]);
    // Best 2 by mean (higher is better): 3 (0.95), then 1 (0.90, lower id than 5). Protect 2.
    let dropped = s.apply_retention(id, 2, true, &[2]).unwrap();
    assert_eq!(dropped, 3, "dropped 0, 4, 5");
    assert_eq!(kept(&*s, id), [1, 2, 3]);
    for t in s.trials(id).unwrap() {
        assert!(
            t.state != TrialState::Complete || t.mean.is_finite(),
            "scores kept"
        );
    }
    assert_eq!(
        s.trials(id).unwrap().len(),
        means.len() + 2,
        "records are never dropped"
    );
    assert_eq!(
        s.apply_retention(id, 2, true, &[2]).unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(s.apply_retention(id, 10, true, &[]).unwrap(), 0);
    assert_eq!(kept(&*s, id), [1, 2, 3]);
    assert_eq!(s.apply_retention(id, 0, true, &[3]).unwrap(), 2);
    assert_eq!(kept(&*s, id), [3]);
}

fn retention_lower_is_better(make: MakeStore<'_>) {
    let s = make();
    let id = retention_setup(&*s, &[3.0, 1.0, 2.0, f64::NAN, 0.5]);
    let other = retention_setup(&*s, &[1.0, 2.0]);
    let dropped = s.apply_retention(id, 2, false, &[]).unwrap();
    assert_eq!(dropped, 3);
    assert_eq!(kept(&*s, id), [1, 4], "the two lowest errors are kept");
    assert_eq!(kept(&*s, other), [0, 1], "another study is untouched");
}

fn mark_interrupted(make: MakeStore<'_>) {
    let s = make();
    let a = s.create_study(sample_study("a")).unwrap();
    let b = s.create_study(sample_study("b")).unwrap();
    for i in 0..3 {
        s.start_trial(a, &sample_candidate(i), "random", 0).unwrap();
    }
    let t = s.trial(a, 1).unwrap().unwrap();
    s.finish_trial(&completed(t, 0.7), Some(b"model")).unwrap();
    s.start_trial(b, &sample_candidate(0), "random", 0).unwrap();
    assert_eq!(s.mark_interrupted(a).unwrap(), 2);
    let ts = s.trials(a).unwrap();
    for i in [0, 2] {
        assert_eq!(ts[i].state, TrialState::Interrupted);
        assert_eq!(ts[i].error.as_deref(), Some(INTERRUPTED_ERROR));
        assert!(ts[i].ended_at_ms >= ts[i].started_at_ms && ts[i].ended_at_ms > 0);
    }
    assert_eq!(ts[1].state, TrialState::Complete);
    assert_eq!(ts[1].mean, 0.7);
    assert_eq!(s.artifact(a, 1).unwrap().as_deref(), Some(&b"model"[..]));
    assert_eq!(s.mark_interrupted(a).unwrap(), 0, "second call finds none");
    assert_eq!(
        s.trial(b, 0).unwrap().unwrap().state,
        TrialState::Running,
        "other study untouched"
    );
    assert_eq!(s.mark_interrupted(b + 5).unwrap(), 0);
    // Ids continue after interrupted trials.
    assert_eq!(
        s.start_trial(a, &sample_candidate(9), "random", 0)
            .unwrap()
            .trial_id,
        3
    );
}

fn concurrent_trials(make: MakeStore<'_>) {
    let s = make();
    let id = s.create_study(sample_study("c")).unwrap();
    let store: &dyn Store = &*s;
    std::thread::scope(|scope| {
        for w in 0..4u64 {
            scope.spawn(move || {
                for i in 0..10u64 {
                    let t = store
                        .start_trial(id, &sample_candidate(w * 100 + i), "random", w)
                        .unwrap();
                    let art = sample_artifact(t.trial_id, 64);
                    store.finish_trial(&completed(t, 0.5), Some(&art)).unwrap();
                }
            });
        }
    });
    let ts = s.trials(id).unwrap();
    assert_eq!(
        ts.iter().map(|t| t.trial_id).collect::<Vec<_>>(),
        (0..40).collect::<Vec<_>>()
    );
    for t in &ts {
        assert_eq!(t.state, TrialState::Complete);
        assert_eq!(
            s.artifact(id, t.trial_id).unwrap(),
            Some(sample_artifact(t.trial_id, 64))
        );
    }
}
