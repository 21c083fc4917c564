//! Tests of `SledStore` on real sled databases in temp dirs: the conformance suite, reopening,
//! schema-version refusal, corruption, the process lock, the read-only snapshot and crash
//! durability (a child process killed with SIGKILL while writing trials).
//!
//! Child processes are this test binary re-run on the ignored test `child_process`, with the
//! environment variable `AUTOML_STORE_TEST_CHILD` saying what to do.

use automl_core::TrialState;
use automl_store::conformance::{
    completed, sample_artifact, sample_blocks, sample_candidate, sample_study,
};
use automl_store::{
    SledStore, SnapshotStore, Store, StoreError, StoreRead, layout, open_read_only,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const CHILD_ENV: &str = "AUTOML_STORE_TEST_CHILD";
const DIR_ENV: &str = "AUTOML_STORE_TEST_DIR";
const ARTIFACT_LEN: usize = 20_000;

/// Fresh stores, each in its own directory under one temp dir the factory owns.
fn sled_stores() -> impl Fn() -> Box<dyn Store> {
    let root = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    move || {
        let dir = root
            .path()
            .join(n.fetch_add(1, Ordering::SeqCst).to_string());
        Box::new(SledStore::open(&dir).unwrap())
    }
}

automl_store::conformance_tests!(sled_stores());

/// A raw sled handle on a store directory, for planting damage. sled releases the lock of a
/// dropped handle from background threads, so retry while it is still held by this process.
fn raw_sled(dir: &Path) -> sled::Db {
    for _ in 0..500 {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("raw sled open failed: {e}"),
        }
    }
    panic!("the lock of {} was never released", dir.display())
}

/// `f()` once the lock of a raw sled handle dropped by this test is released.
fn after_raw<T>(f: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
    for _ in 0..500 {
        match f() {
            Err(StoreError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            r => return r,
        }
    }
    f()
}

/// Debug rendering, to compare records holding NaN (NaN != NaN but prints alike).
fn debug<T: std::fmt::Debug + ?Sized>(x: &T) -> String {
    format!("{x:?}")
}

/// A store with one study: trial 0 complete with an artifact, 1 failed, 2 running; one blob.
fn populate(s: &SledStore) -> u64 {
    let id = s.create_study(sample_study("p")).unwrap();
    let t0 = s
        .start_trial(id, &sample_candidate(0), "random", 1)
        .unwrap();
    s.finish_trial(&completed(t0, 0.8), Some(&sample_artifact(0, 5000)))
        .unwrap();
    let mut t1 = s
        .start_trial(id, &sample_candidate(1), "random", 2)
        .unwrap();
    t1.state = TrialState::Failed;
    t1.error = Some("boom".to_string());
    s.finish_trial(&t1, None).unwrap();
    s.start_trial(id, &sample_candidate(2), "random", 3)
        .unwrap();
    s.put_blob(id, "oof", b"0.1,0.2").unwrap();
    id
}

#[test]
fn reopen_persists_everything_and_continues_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (id, before) = {
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.path(), dir.path());
        let id = populate(&s);
        (id, s.trials(id).unwrap())
    };
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.studies().unwrap().len(), 1);
    let mut want = sample_study("p");
    want.study_id = id;
    assert_eq!(s.study(id).unwrap(), Some(want));
    let after = s.trials(id).unwrap();
    assert_eq!(after.len(), 3);
    assert_eq!(debug(&after[..2]), debug(&before[..2]));
    assert_eq!(after[2].state, TrialState::Running);
    assert_eq!(s.artifact(id, 0).unwrap(), Some(sample_artifact(0, 5000)));
    assert_eq!(s.blob(id, "oof").unwrap().as_deref(), Some(&b"0.1,0.2"[..]));
    assert_eq!(s.mark_interrupted(id).unwrap(), 1);
    let next = s
        .start_trial(id, &sample_candidate(3), "random", 4)
        .unwrap();
    assert_eq!(next.trial_id, 3, "trial ids continue after reopen");
    assert_eq!(s.create_study(sample_study("q")).unwrap(), id + 1);
    assert!(s.size_on_disk() > 5000);
}

#[test]
fn second_open_in_the_same_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let _held = SledStore::open(dir.path()).unwrap();
    match SledStore::open(dir.path()) {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path()),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("expected Locked, the second open succeeded"),
    }
}

#[test]
fn newer_schema_in_metadata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    {
        let db = raw_sled(dir.path());
        let meta = db.open_tree(layout::META_TREE).unwrap();
        meta.insert(
            layout::META_KEY,
            &br#"{"format":"automl-store","schema_version":999,"created_by":"automl 9"}"#[..],
        )
        .unwrap();
        db.flush().unwrap();
    }
    let err = SledStore::open(dir.path()).err().expect("must refuse");
    assert!(
        matches!(err, StoreError::NewerSchema { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade automl"), "{err}");
    let err = open_read_only(dir.path()).err().expect("must refuse");
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
}

#[test]
fn newer_schema_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = SledStore::open(dir.path()).unwrap();
        populate(&s)
    };
    let record = {
        let s = SledStore::open(dir.path()).unwrap();
        s.trial(id, 1).unwrap().unwrap()
    };
    // A JSON record (as earlier versions wrote) and a binary one, both of schema 999.
    let mut json = serde_json::to_value(&record).unwrap();
    json["schema_version"] = serde_json::json!(999);
    json["a_field_from_the_future"] = serde_json::json!(true);
    let json = serde_json::to_vec(&json).unwrap();
    let binary = {
        let enc = automl_store::codec::encode_trial(&record).unwrap();
        // Tag, format, then the schema version as postcard's varint (one byte below 128):
        // this build's becomes 999.
        assert_eq!(u32::from(enc[2]), automl_core::SCHEMA_VERSION);
        let mut b = enc[..2].to_vec();
        b.extend_from_slice(&[0xE7, 0x07]);
        b.extend_from_slice(&enc[3..]);
        b
    };
    for bytes in [json, binary] {
        {
            let db = raw_sled(dir.path());
            let trials = db.open_tree(layout::TRIALS_TREE).unwrap();
            trials.insert(layout::trial_key(id, 1), bytes).unwrap();
            db.flush().unwrap();
        }
        let s = after_raw(|| SledStore::open(dir.path())).unwrap();
        assert!(
            s.trial(id, 0).unwrap().is_some(),
            "other records still readable"
        );
        let err = s.trial(id, 1).unwrap_err();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 999, .. }),
            "{err}"
        );
        assert!(matches!(s.trials(id), Err(StoreError::NewerSchema { .. })));
    }
}

#[test]
fn path_that_is_a_file_or_a_foreign_directory_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store");
    std::fs::write(&file, b"hello").unwrap();
    let err = SledStore::open(&file).err().expect("file refused");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(err.to_string().contains("is a file"), "{err}");
    assert!(matches!(
        open_read_only(&file),
        Err(StoreError::NotAStore { .. })
    ));

    let foreign = dir.path().join("home");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), b"mine").unwrap();
    let err = SledStore::open(&foreign)
        .err()
        .expect("foreign dir refused");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert!(
        !foreign.join("db").exists(),
        "nothing written into a foreign directory"
    );
    assert!(matches!(
        open_read_only(&foreign),
        Err(StoreError::NotAStore { .. })
    ));

    // A sled database written by something else.
    let other = dir.path().join("other-sled");
    {
        let db = raw_sled(&other);
        db.open_tree(layout::STUDIES_TREE)
            .unwrap()
            .insert(b"k", b"v")
            .unwrap();
        db.flush().unwrap();
    }
    let err = after_raw(|| SledStore::open(&other))
        .err()
        .expect("foreign sled refused");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
}

#[test]
fn corrupted_records_and_blobs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = SledStore::open(dir.path()).unwrap();
        let id = populate(&s);
        let t = s
            .start_trial(id, &sample_candidate(4), "random", 0)
            .unwrap();
        s.finish_trial(&completed(t, 0.6), Some(&sample_artifact(4, 3000)))
            .unwrap();
        id
    };
    {
        let db = raw_sled(dir.path());
        let arts = db.open_tree(layout::ARTIFACTS_TREE).unwrap();
        arts.insert(layout::trial_key(id, 0), &b"garbage bytes, not lz4"[..])
            .unwrap();
        let mut flipped = arts
            .get(layout::trial_key(id, 3))
            .unwrap()
            .unwrap()
            .to_vec();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x5a;
        arts.insert(layout::trial_key(id, 3), flipped).unwrap();
        let blobs = db.open_tree(layout::BLOBS_TREE).unwrap();
        let mut truncated = blobs
            .get(layout::blob_key(id, "oof"))
            .unwrap()
            .unwrap()
            .to_vec();
        truncated.truncate(truncated.len() - 3);
        blobs
            .insert(layout::blob_key(id, "oof"), truncated)
            .unwrap();
        let trials = db.open_tree(layout::TRIALS_TREE).unwrap();
        trials
            .insert(layout::trial_key(id, 1), &b"{\"schema_version\":1,"[..])
            .unwrap();
        let studies = db.open_tree(layout::STUDIES_TREE).unwrap();
        studies
            .insert(layout::study_key(id + 1), &b"\xff\xfe not json"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let s = SledStore::open(dir.path()).unwrap();
    for trial in [0, 3] {
        let err = s.artifact(id, trial).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(&format!("trial {trial}")), "{err}");
    }
    assert!(matches!(s.blob(id, "oof"), Err(StoreError::Corrupt { .. })));
    assert!(matches!(s.trial(id, 1), Err(StoreError::Corrupt { .. })));
    assert!(matches!(s.trials(id), Err(StoreError::Corrupt { .. })));
    assert!(s.trial(id, 0).unwrap().is_some());
    assert!(matches!(s.study(id + 1), Err(StoreError::Corrupt { .. })));
    assert!(matches!(s.studies(), Err(StoreError::Corrupt { .. })));
    assert!(s.study(id).unwrap().is_some());
}

/// sled keeps values over ~64 KB in memory for good, so large artifacts and blobs are written as
/// 16 KB chunks behind a small head; values written whole by an earlier version still read.
#[test]
fn large_values_are_chunked_and_whole_values_from_older_stores_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = sample_artifact(7, 300_000);
    let id = {
        let s = SledStore::open(dir.path()).unwrap();
        let id = s.create_study(sample_study("chunks")).unwrap();
        for i in 0..3 {
            let t = s
                .start_trial(id, &sample_candidate(i), "random", 0)
                .unwrap();
            s.finish_trial(&completed(t, 0.5), Some(&big)).unwrap();
        }
        s.put_blob(id, "final_model", &big).unwrap();
        s.put_blob(id, "final_model", &big[..50_000]).unwrap();
        s.delete_artifact(id, 1).unwrap();
        id
    };
    {
        let db = raw_sled(dir.path());
        let arts = db.open_tree(layout::ARTIFACTS_TREE).unwrap();
        let prefix = |t: u64| layout::trial_key(id, t).to_vec();
        let keys = |t: u64| arts.scan_prefix(prefix(t)).count();
        assert!(keys(0) > 2, "a 300 KB artifact is split into chunks");
        assert_eq!(keys(1), 0, "a deleted artifact leaves no chunk behind");
        for kv in arts.iter() {
            let (_, v) = kv.unwrap();
            assert!(v.len() <= 16 * 1024, "a stored value of {} bytes", v.len());
        }
        // an artifact written whole, as before chunking
        let whole = automl_store::codec::compress(&big[..1234]);
        arts.insert(layout::trial_key(id, 9), whole).unwrap();
        // a chunk of trial 2 lost
        let lost = arts.scan_prefix(prefix(2)).nth(2).unwrap().unwrap().0;
        arts.remove(lost).unwrap();
        let blobs = db.open_tree(layout::BLOBS_TREE).unwrap();
        let head = blobs
            .get(layout::blob_key(id, "final_model"))
            .unwrap()
            .unwrap();
        let n_chunks = u32::from_be_bytes(head[8..12].try_into().unwrap()) as usize;
        assert_eq!(
            blobs
                .scan_prefix(layout::blob_key(id, "final_model"))
                .count(),
            1 + n_chunks,
            "overwriting with a shorter value drops the extra chunks"
        );
        db.flush().unwrap();
    }
    let s = after_raw(|| SledStore::open(dir.path())).unwrap();
    assert_eq!(s.artifact(id, 0).unwrap(), Some(big.clone()));
    assert_eq!(s.artifact(id, 1).unwrap(), None);
    assert_eq!(s.artifact(id, 9).unwrap().as_deref(), Some(&big[..1234]));
    let err = s.artifact(id, 2).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
    assert_eq!(
        s.blob(id, "final_model").unwrap().as_deref(),
        Some(&big[..50_000])
    );
}

/// A bag of fold models handed over in lz4 blocks is stored as those blocks (never unpacked
/// whole and compressed again), and reads back whole; an artifact handed over whole is
/// compressed whole, as before.
#[test]
fn blocked_artifacts_are_stored_as_their_blocks() {
    use automl_core::Artifact;
    let dir = tempfile::tempdir().unwrap();
    let big = sample_artifact(5, 100_000);
    let id = {
        let s = SledStore::open(dir.path()).unwrap();
        let id = s.create_study(sample_study("blocks")).unwrap();
        for (i, art) in [sample_blocks(&big, 30_000), Artifact::Raw(big.clone())]
            .into_iter()
            .enumerate()
        {
            let t = s
                .start_trial(id, &sample_candidate(i as u64), "random", 0)
                .unwrap();
            s.finish_trial_owned(&completed(t, 0.5), Some(art)).unwrap();
        }
        id
    };
    {
        let db = raw_sled(dir.path());
        let arts = db.open_tree(layout::ARTIFACTS_TREE).unwrap();
        // The stored value: the head's chunks, in order (a value written whole is its head).
        let stored = |t: u64| -> Vec<u8> {
            let parts: Vec<Vec<u8>> = arts
                .scan_prefix(layout::trial_key(id, t))
                .map(|kv| kv.unwrap().1.to_vec())
                .collect();
            if parts.len() == 1 {
                parts[0].clone()
            } else {
                parts[1..].concat()
            }
        };
        assert_eq!(&stored(0)[..4], b"AMZ2", "blocks are stored as blocks");
        assert_eq!(&stored(1)[..4], b"AMZ1", "whole bytes are compressed whole");
    }
    let s = after_raw(|| SledStore::open(dir.path())).unwrap();
    for t in 0..2 {
        assert_eq!(s.artifact(id, t).unwrap().as_deref(), Some(&big[..]));
        let rec = s.trial(id, t).unwrap().unwrap();
        assert_eq!(rec.model_size_bytes, big.len() as u64);
    }
}

#[test]
fn snapshot_is_published_atomically_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let s = SledStore::open(dir.path()).unwrap();
    let id = populate(&s);
    s.publish_snapshot().unwrap();
    let snap = SnapshotStore::open(dir.path()).unwrap();
    assert!(snap.written_at_ms() > 0);
    assert_eq!(snap.studies().unwrap(), s.studies().unwrap());
    assert_eq!(snap.latest_study().unwrap().map(|x| x.study_id), Some(id));
    let (a, b) = (snap.trials(id).unwrap(), s.trials(id).unwrap());
    assert_eq!(a.len(), 3);
    assert_eq!(debug(&a[..2]), debug(&b[..2]));
    assert!(a[2].mean.is_nan() && a[2].state == TrialState::Running);
    assert_eq!(snap.trial(id, 0).unwrap(), s.trial(id, 0).unwrap());
    let err = snap.artifact(id, 0).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains("retry when the fit finishes"),
        "{err}"
    );
    assert!(matches!(
        snap.blob(id, "oof"),
        Err(StoreError::InUse { .. })
    ));

    let t = s
        .start_trial(id, &sample_candidate(5), "random", 0)
        .unwrap();
    s.finish_trial(&completed(t, 0.99), None).unwrap();
    // A second publish within the throttle interval is deferred; `flush` publishes it.
    s.publish_snapshot().unwrap();
    s.flush().unwrap();
    let snap = SnapshotStore::open(dir.path()).unwrap();
    assert_eq!(snap.trial(id, 3).unwrap().map(|t| t.mean), Some(0.99));
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    std::fs::write(dir.path().join(layout::SNAPSHOT_FILE), b"{\"format\":").unwrap();
    assert!(matches!(
        SnapshotStore::open(dir.path()),
        Err(StoreError::Snapshot { .. })
    ));
}

#[test]
fn open_read_only_uses_the_database_when_free() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = SledStore::open(dir.path()).unwrap();
        populate(&s)
    };
    let ro = open_read_only(dir.path()).unwrap();
    assert_eq!(ro.trials(id).unwrap().len(), 3);
    assert_eq!(ro.artifact(id, 0).unwrap(), Some(sample_artifact(0, 5000)));

    let missing = dir.path().join("nope");
    let err = open_read_only(&missing).err().expect("missing store");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(!missing.exists(), "a read-only open never creates a store");
}

// ---------------------------------------------------------------- child processes

/// Kills the child when dropped (a failing test leaves no process behind).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(mode: &str, dir: &Path) -> (ChildGuard, BufReader<ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (ChildGuard(child), out)
}

/// The next line of the child's output starting with `prefix`, without the prefix.
fn read_until(out: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "child exited before printing `{prefix}`");
        // libtest may print `test child_process ... ` on the same line first.
        if let Some(at) = line.find(prefix) {
            return line[at + prefix.len()..].trim().to_string();
        }
    }
}

/// Entry point of the child processes (run only when spawned by a test below).
#[test]
#[ignore = "helper process spawned by the lock, snapshot and durability tests"]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        eprintln!("child_process is a helper; it does nothing unless spawned by another test");
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    let s = SledStore::open(&dir).unwrap();
    let out = std::io::stdout();
    match mode.as_str() {
        "hold" => {
            let id = populate(&s);
            s.publish_snapshot().unwrap();
            writeln!(out.lock(), "CHILD READY {id}").unwrap();
            out.lock().flush().unwrap();
            // Hold the store until the parent closes our stdin.
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        }
        "write" => {
            let id = s.create_study(sample_study("crash")).unwrap();
            writeln!(out.lock(), "CHILD STUDY {id}").unwrap();
            for i in 0..100_000u64 {
                let t = s
                    .start_trial(id, &sample_candidate(i), "random", i)
                    .unwrap();
                let tid = t.trial_id;
                let art = sample_artifact(tid, ARTIFACT_LEN);
                s.finish_trial(&completed(t, tid as f64), Some(&art))
                    .unwrap();
                s.publish_snapshot().unwrap();
                let mut o = out.lock();
                writeln!(o, "CHILD DONE {tid}").unwrap();
                o.flush().unwrap();
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn another_process_holding_the_store_gives_locked_and_read_only_uses_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut out) = spawn_child("hold", dir.path());
    let id: u64 = read_until(&mut out, "CHILD READY").parse().unwrap();

    let err = SledStore::open(dir.path())
        .err()
        .expect("store is held by the child");
    match &err {
        StoreError::Locked { path } => assert_eq!(path, dir.path()),
        e => panic!("expected Locked, got {e}"),
    }
    assert!(err.to_string().contains("another automl process"), "{err}");

    let ro = open_read_only(dir.path()).expect("read-only open never fails on the lock");
    let trials = ro.trials(id).unwrap();
    assert_eq!(trials.len(), 3);
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(trials[0].mean, 0.8);
    assert_eq!(trials[1].state, TrialState::Failed);
    assert_eq!(
        ro.latest_study().unwrap().map(|s| s.name),
        Some("p".to_string())
    );
    let err = ro.artifact(id, 0).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    drop(ro);

    // Release: close the child's stdin, let it exit, and the store opens normally.
    drop(child.0.stdin.take());
    assert!(child.0.wait().unwrap().success());
    let s = SledStore::open(dir.path()).unwrap();
    assert_eq!(s.artifact(id, 0).unwrap(), Some(sample_artifact(0, 5000)));
}

#[test]
fn read_only_open_while_locked_without_snapshot_says_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, mut out) = spawn_child("hold", dir.path());
    read_until(&mut out, "CHILD READY");
    std::fs::remove_file(dir.path().join(layout::SNAPSHOT_FILE)).unwrap();
    let err = open_read_only(dir.path()).err().expect("no snapshot");
    assert!(matches!(err, StoreError::Snapshot { .. }), "{err}");
    assert!(err.to_string().contains("retry"), "{err}");
}

#[test]
fn killed_writer_loses_no_reported_trial_and_leaves_none_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, mut out) = spawn_child("write", dir.path());
    let study: u64 = read_until(&mut out, "CHILD STUDY").parse().unwrap();
    let mut reported: Vec<u64> = Vec::new();
    while reported.len() < 25 {
        reported.push(read_until(&mut out, "CHILD DONE").parse().unwrap());
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // Lines already written before the kill were reported too.
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("CHILD DONE ") {
            reported.push(line[at + 11..].trim().parse().unwrap());
        }
    }
    assert_eq!(reported, (0..reported.len() as u64).collect::<Vec<_>>());

    let s = SledStore::open(dir.path()).expect("the lock dies with the process");
    let trials = s.trials(study).unwrap();
    assert_eq!(
        trials.iter().map(|t| t.trial_id).collect::<Vec<_>>(),
        (0..trials.len() as u64).collect::<Vec<_>>(),
        "trial ids are dense"
    );
    assert!(
        trials.len() >= reported.len(),
        "every reported trial is stored"
    );
    assert!(
        trials.len() <= reported.len() + 2,
        "at most one unreported finished and one started"
    );
    let mut running = 0;
    for t in &trials {
        match t.state {
            TrialState::Complete => {
                assert!(
                    t.has_artifact,
                    "trial {} complete without artifact",
                    t.trial_id
                );
                assert_eq!(t.mean, t.trial_id as f64);
                let art = s.artifact(study, t.trial_id).unwrap();
                assert_eq!(
                    art,
                    Some(sample_artifact(t.trial_id, ARTIFACT_LEN)),
                    "artifact {}",
                    t.trial_id
                );
            }
            TrialState::Running => {
                assert!(
                    t.trial_id >= reported.len() as u64,
                    "reported trial {} not complete",
                    t.trial_id
                );
                assert!(
                    s.artifact(study, t.trial_id).unwrap().is_none(),
                    "half-written trial {}",
                    t.trial_id
                );
                running += 1;
            }
            other => panic!("unexpected state {other:?} of trial {}", t.trial_id),
        }
    }
    assert_eq!(s.mark_interrupted(study).unwrap(), running);
    assert!(
        s.trials(study)
            .unwrap()
            .iter()
            .all(|t| t.state != TrialState::Running)
    );
    // The snapshot the child published is readable too: trials 0.. of the database as of its
    // last rewrite (throttled, so possibly not the latest trials).
    let snap = SnapshotStore::open(dir.path()).unwrap();
    let in_snapshot = snap.trials(study).unwrap();
    assert!(!in_snapshot.is_empty());
    for t in &in_snapshot {
        assert!(t.trial_id < trials.len() as u64, "{}", t.trial_id);
    }
}

/// Publishing is throttled: a request soon after a rewrite is served later by a helper
/// thread (the snapshot catches up without another request), by `flush`, or on drop.
#[test]
fn throttled_snapshot_catches_up_by_itself_on_flush_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot_trials = |id| {
        SnapshotStore::open(dir.path())
            .unwrap()
            .trials(id)
            .unwrap()
            .len()
    };
    let s = SledStore::open(dir.path()).unwrap();
    let id = populate(&s);
    s.publish_snapshot().unwrap();
    assert_eq!(
        snapshot_trials(id),
        3,
        "the first request is served at once"
    );
    let t = s
        .start_trial(id, &sample_candidate(7), "random", 0)
        .unwrap();
    s.finish_trial(&completed(t, 0.5), None).unwrap();
    s.publish_snapshot().unwrap();
    // No further request: the helper publishes when the interval has passed.
    let mut waited = 0;
    while snapshot_trials(id) < 4 {
        waited += 1;
        assert!(waited < 1000, "the deferred snapshot was never written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let t = s
        .start_trial(id, &sample_candidate(8), "random", 0)
        .unwrap();
    s.finish_trial(&completed(t, 0.5), None).unwrap();
    s.publish_snapshot().unwrap();
    s.flush().unwrap();
    assert_eq!(snapshot_trials(id), 5, "flush publishes a deferred request");
    let t = s
        .start_trial(id, &sample_candidate(9), "random", 0)
        .unwrap();
    s.finish_trial(&completed(t, 0.5), None).unwrap();
    s.publish_snapshot().unwrap();
    drop(s);
    assert_eq!(
        snapshot_trials(id),
        6,
        "dropping the store publishes a deferred request"
    );
}
