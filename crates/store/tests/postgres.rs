//! Tests of `PgStore` on a real PostgreSQL server started by `PgServer` (one per test binary,
//! one database per test): the store and queue conformance suites, URL parsing and masking,
//! connection failures (bad URL, wrong password, closed port, TLS required), the versioned
//! schema, a role without DDL rights, corrupt rows, chunked artifacts, `SKIP LOCKED`, and a
//! server restart during a call (on a server of its own).

use automl_core::TrialState;
use automl_store::conformance::{completed, sample_blocks, sample_candidate, sample_study};
use automl_store::pg_test::{self, PgServer};
use automl_store::postgres::{PgUrl, SslMode};
use automl_store::{PgStore, Store, StoreError, StoreLocation, StoreRead, open_read, open_store};
use std::time::Duration;

fn server() -> &'static PgServer {
    PgServer::shared()
}

automl_store::conformance_tests!(|| {
    Box::new(PgStore::open(&super::server().url()).unwrap()) as Box<dyn Store>
});

/// `n` connections to one fresh database.
fn handles(n: usize) -> Vec<Box<dyn Store>> {
    let url = server().url();
    (0..n)
        .map(|_| Box::new(PgStore::open(&url).unwrap()) as Box<dyn Store>)
        .collect()
}

automl_store::queue_conformance_tests!(handles);

/// A plain client on the database of `url` (to inspect or damage rows).
fn raw(url: &PgUrl) -> postgres::Client {
    postgres::Client::connect(&url.expose(), postgres::NoTls).unwrap()
}

/// The error of a failed open.
fn open_err(url: &PgUrl) -> StoreError {
    match PgStore::open(url) {
        Ok(_) => panic!("opening {url} should fail"),
        Err(e) => e,
    }
}

fn assert_one_line_without(e: &StoreError, secrets: &[&str]) -> String {
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    for s in secrets {
        assert!(!msg.contains(s), "the message shows a password: {msg}");
        assert!(
            !format!("{e:?}").contains(s),
            "the debug form shows a password: {e:?}"
        );
    }
    msg
}

#[test]
fn url_parsing_and_masking() {
    let u =
        PgUrl::parse("postgres://alice:s3cr%40t@db.example:6543/automl?sslmode=require").unwrap();
    assert_eq!(u.user(), Some("alice"));
    assert_eq!(
        (u.host(), u.port(), u.dbname()),
        ("db.example", 6543, Some("automl"))
    );
    assert_eq!(u.sslmode(), SslMode::Require);
    assert!(u.has_password());
    let shown = u.to_string();
    assert_eq!(
        shown,
        "postgres://alice:***@db.example:6543/automl?sslmode=require"
    );
    assert!(!format!("{u:?}").contains("s3cr"), "{u:?}");
    assert!(u.expose().contains("s3cr%40t"), "expose keeps the password");
    assert_eq!(PgUrl::parse(&u.expose()).unwrap(), u, "expose round-trips");

    let d = PgUrl::parse("postgresql://bob@[::1]/x").unwrap();
    assert_eq!(
        (d.host(), d.port(), d.sslmode()),
        ("::1", 5432, SslMode::Prefer)
    );
    assert!(!d.has_password());
    let sock = PgUrl::parse("postgres://u:p@%2Fvar%2Frun%2Fpostgresql/db").unwrap();
    assert_eq!(sock.host(), "/var/run/postgresql");
    let q = PgUrl::parse("postgres://h/db?user=u&password=topsecret&sslmode=verify-full").unwrap();
    assert_eq!(q.user(), Some("u"));
    assert_eq!(q.sslmode(), SslMode::VerifyFull);
    assert!(!q.to_string().contains("topsecret"), "{q}");
    // A password holding an unencoded `/` or `@` still parses and never shows.
    let odd = PgUrl::parse("postgres://u:pa/ss@word@h:1/db").unwrap();
    assert_eq!((odd.host(), odd.dbname()), ("h", Some("db")));
    assert!(!odd.to_string().contains("pa/ss"), "{odd}");

    match StoreLocation::parse("POSTGRES://u:hunter2@h/db").unwrap() {
        StoreLocation::Postgres(p) => assert_eq!(p.to_string(), "postgres://u:***@h:5432/db"),
        other => panic!("{other:?}"),
    }
    let loc = StoreLocation::parse("postgres://u:hunter2@h/db").unwrap();
    assert!(loc.is_shared());
    assert!(!loc.to_string().contains("hunter2") && !format!("{loc:?}").contains("hunter2"));
    assert_eq!(
        StoreLocation::parse("runs/store").unwrap(),
        StoreLocation::Dir("runs/store".into())
    );
    assert_eq!(
        "postgres.db".parse::<StoreLocation>().unwrap(),
        StoreLocation::Dir("postgres.db".into())
    );
}

#[test]
fn bad_urls_are_invalid_and_masked() {
    for bad in [
        "postgres://u:hunter2@h:notaport/db",
        "postgres://u:hunter2@h:5432/db?sslmode=sometimes",
        "postgres://u:hunter2@h/db?colour=blue",
        "postgres://u:hunter2@:5432/db",
        "postgres://u:hunter2@h/db?password=hunter2&x",
        "postgres://u:hunter2@h/d%zzb",
        "postgres://u:hunter2?@h/db?sslmode=bad",
    ] {
        let e = StoreLocation::parse(bad).expect_err(bad);
        assert!(matches!(e, StoreError::Invalid { .. }), "{bad}: {e:?}");
        let msg = assert_one_line_without(&e, &["hunter2"]);
        assert!(msg.contains("expected postgres://"), "{msg}");
    }
}

#[test]
fn wrong_password_is_unavailable_without_the_password() {
    let url = server().url();
    let e = open_err(&url.with_password("Wrong-Pass-77"));
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    let msg = assert_one_line_without(&e, &["Wrong-Pass-77", pg_test::PASSWORD]);
    assert!(msg.contains("password authentication failed"), "{msg}");
    assert!(msg.contains("check the user and password"), "{msg}");
    assert!(msg.contains(":***@"), "the store is named, masked: {msg}");
    let e = match open_read(&StoreLocation::Postgres(url.with_password("Wrong-Pass-77"))) {
        Ok(_) => panic!("must fail"),
        Err(e) => e,
    };
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
}

#[test]
fn closed_port_and_missing_database_are_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = PgUrl::parse(&format!(
        "postgres://automl:Secret-1@127.0.0.1:{port}/db?connect_timeout=5"
    ))
    .unwrap();
    let e = open_err(&url);
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    let msg = assert_one_line_without(&e, &["Secret-1"]);
    assert!(
        msg.contains(&format!(
            "check that the server is running and accepts connections at 127.0.0.1:{port}"
        )),
        "{msg}"
    );
    let missing = server().url().with_dbname("no_such_database");
    let e = open_err(&missing);
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    let msg = assert_one_line_without(&e, &[pg_test::PASSWORD]);
    assert!(
        msg.contains("no_such_database") && msg.contains("database name"),
        "{msg}"
    );
}

#[test]
fn sslmode_is_honoured() {
    let url = server().url();
    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        let e = open_err(&url.with_sslmode(mode));
        assert!(
            matches!(e, StoreError::Unavailable { .. }),
            "{mode:?}: {e:?}"
        );
        let msg = assert_one_line_without(&e, &[pg_test::PASSWORD]);
        assert!(
            msg.contains("the server does not offer TLS") && msg.contains(mode.as_str()),
            "{msg}"
        );
    }
    for mode in [SslMode::Disable, SslMode::Prefer] {
        let s = PgStore::open(&url.with_sslmode(mode)).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(s.studies().unwrap().is_empty());
    }
}

#[test]
fn schema_is_versioned_and_a_newer_one_refused() {
    let url = server().url();
    let loc = StoreLocation::Postgres(url.clone());
    let e = match open_read(&loc) {
        Ok(_) => panic!("an empty database is no store yet"),
        Err(e) => e,
    };
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e:?}");
    assert!(!e.to_string().contains(pg_test::PASSWORD));
    let s = open_store(&loc).unwrap();
    let id = s.create_study(sample_study("v")).unwrap();
    assert_eq!(id, 1, "study ids start at 1");
    drop(s);
    let mut c = raw(&url);
    let v: i32 = c
        .query_one("SELECT version FROM automl_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, automl_store::postgres::SCHEMA_VERSION);
    assert_eq!(open_read(&loc).unwrap().studies().unwrap().len(), 1);
    c.execute("UPDATE automl_schema SET version = 99", &[])
        .unwrap();
    for e in [
        PgStore::open(&url).err().expect("newer schema"),
        PgStore::open_read(&url).err().expect("newer schema"),
    ] {
        match &e {
            StoreError::NewerSchema { found: 99, .. } => {}
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        let msg = assert_one_line_without(&e, &[pg_test::PASSWORD]);
        assert!(msg.contains("upgrade automl"), "{msg}");
    }
}

#[test]
fn concurrent_openers_migrate_once() {
    let url = server().url();
    let stores: Vec<PgStore> = std::thread::scope(|scope| {
        let joins: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| PgStore::open(&url).unwrap()))
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let id = stores[0].create_study(sample_study("m")).unwrap();
    assert_eq!(stores[3].study(id).unwrap().unwrap().name, "m");
}

#[test]
fn a_role_without_ddl_rights_uses_a_migrated_database() {
    let url = server().url();
    let unmigrated = server().worker_url(&url);
    let e = open_err(&unmigrated);
    assert!(matches!(e, StoreError::Database { .. }), "{e:?}");
    let msg = assert_one_line_without(&e, &[pg_test::WORKER_PASSWORD]);
    assert!(
        msg.contains("42501") && msg.contains("database owner"),
        "{msg}"
    );

    let owner = PgStore::open(&url).unwrap();
    let id = owner.create_study(sample_study("w")).unwrap();
    owner
        .start_trial(id, &sample_candidate(0), "random", 0)
        .unwrap();
    owner.queue().unwrap().enqueue(id, 0, b"job").unwrap();
    let worker = PgStore::open(&server().worker_url(&url)).expect("worker opens without DDL");
    let q = worker.queue().unwrap();
    let lease = q
        .claim("w1", Some(id), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert!(q.finish(&lease, b"done").unwrap());
    let t = worker
        .start_trial(id, &sample_candidate(1), "random", 1)
        .unwrap();
    assert_eq!(t.trial_id, 1);
    assert_eq!(owner.queue().unwrap().take_results(id).unwrap().len(), 1);
    // What a worker needs is all it has: no DELETE (the coordinator, the owner, deletes).
    let e = worker.delete_artifact(id, 0).unwrap_err();
    let msg = assert_one_line_without(&e, &[pg_test::WORKER_PASSWORD]);
    assert!(msg.contains("42501"), "a worker could delete: {msg}");
}

#[test]
fn records_are_the_bytes_sled_keeps() {
    let url = server().url();
    let s = PgStore::open(&url).unwrap();
    let id = s.create_study(sample_study("b")).unwrap();
    let t = s
        .start_trial(id, &sample_candidate(0), "random", 9)
        .unwrap();
    let done = completed(t, 0.75);
    s.finish_trial(&done, None).unwrap();
    let stored = s.trial(id, 0).unwrap().unwrap();
    let bytes: Vec<u8> = raw(&url)
        .query_one(
            "SELECT record FROM automl_trials WHERE study_id = $1 AND trial_id = 0",
            &[&(id as i64)],
        )
        .unwrap()
        .get(0);
    assert_eq!(bytes, automl_store::codec::encode_trial(&stored).unwrap());
    assert!(s.disk_size().unwrap() > 0, "the database size");
}

/// Random bytes (incompressible), so a value spans several 1 MiB chunks.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn artifacts_and_blobs_are_chunked() {
    let url = server().url();
    let s = PgStore::open(&url).unwrap();
    let id = s.create_study(sample_study("c")).unwrap();
    let big = noise(2_500_000, 7);
    let t = s
        .start_trial(id, &sample_candidate(0), "random", 0)
        .unwrap();
    s.finish_trial(&completed(t.clone(), 0.5), Some(&big))
        .unwrap();
    s.put_blob(id, "final_model", &big).unwrap();
    let mut c = raw(&url);
    let count = |c: &mut postgres::Client, table: &str| -> i64 {
        c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(
        count(&mut c, "automl_artifact_chunks"),
        3,
        "2.5 MB in 1 MiB chunks"
    );
    assert_eq!(count(&mut c, "automl_blob_chunks"), 3);
    let longest: i32 = c
        .query_one("SELECT max(length(data)) FROM automl_artifact_chunks", &[])
        .unwrap()
        .get(0);
    assert!(longest as usize <= automl_store::postgres::CHUNK);
    assert_eq!(s.artifact(id, 0).unwrap(), Some(big.clone()));
    assert_eq!(s.blob(id, "final_model").unwrap(), Some(big.clone()));
    s.finish_trial(&completed(t, 0.5), Some(&big[..1000]))
        .unwrap();
    s.put_blob(id, "final_model", b"small").unwrap();
    assert_eq!(
        count(&mut c, "automl_artifact_chunks"),
        1,
        "old chunks dropped"
    );
    assert_eq!(count(&mut c, "automl_blob_chunks"), 1);
    assert_eq!(s.artifact(id, 0).unwrap().as_deref(), Some(&big[..1000]));
    s.delete_artifact(id, 0).unwrap();
    assert_eq!(count(&mut c, "automl_artifact_chunks"), 0);
}

/// A bag handed over in lz4 blocks is stored as those blocks (its first chunk starts with the
/// blocked form's magic), never unpacked whole and compressed again.
#[test]
fn blocked_artifacts_are_stored_as_their_blocks() {
    let url = server().create_database();
    let s = PgStore::open(&url).unwrap();
    let id = s.create_study(sample_study("blocks")).unwrap();
    let raw_bytes: Vec<u8> = (0..50_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let t = s
        .start_trial(id, &sample_candidate(0), "random", 0)
        .unwrap();
    s.finish_trial_owned(&completed(t, 0.5), Some(sample_blocks(&raw_bytes, 20_000)))
        .unwrap();
    let mut c = raw(&url);
    let first: Vec<u8> = c
        .query_one(
            "SELECT data FROM automl_artifact_chunks ORDER BY chunk LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(&first[..4], b"AMZ2");
    assert_eq!(s.artifact(id, 0).unwrap(), Some(raw_bytes));
}

#[test]
fn corrupt_rows_are_errors_not_panics() {
    let url = server().url();
    let s = PgStore::open(&url).unwrap();
    let id = s.create_study(sample_study("x")).unwrap();
    for i in 0..3 {
        let t = s
            .start_trial(id, &sample_candidate(i), "random", 0)
            .unwrap();
        s.finish_trial(&completed(t, 0.5), Some(&noise(2_200_000, i + 1)))
            .unwrap();
    }
    s.put_blob(id, "b", b"blob").unwrap();
    let mut c = raw(&url);
    let sid = id as i64;
    c.execute(
        "UPDATE automl_trials SET record = '\\xa701ffff'::bytea WHERE study_id = $1 AND trial_id = 0",
        &[&sid],
    )
    .unwrap();
    c.execute(
        "DELETE FROM automl_artifact_chunks WHERE study_id = $1 AND trial_id = 1 AND chunk = 1",
        &[&sid],
    )
    .unwrap();
    c.execute(
        "UPDATE automl_artifacts SET len = -5 WHERE study_id = $1 AND trial_id = 2",
        &[&sid],
    )
    .unwrap();
    c.execute(
        "UPDATE automl_blob_chunks SET data = 'junk'::bytea WHERE study_id = $1",
        &[&sid],
    )
    .unwrap();
    let corrupt = |r: Result<_, StoreError>, what: &str| match r {
        Err(StoreError::Corrupt { .. }) => {}
        Err(e) => panic!("{what}: expected Corrupt, got {e:?}"),
        Ok(_) => panic!("{what}: expected Corrupt, got a value"),
    };
    corrupt(s.trial(id, 0).map(|_| ()), "a damaged trial record");
    corrupt(s.trials(id).map(|_| ()), "a study with a damaged trial");
    corrupt(s.artifact(id, 1).map(|_| ()), "a missing chunk");
    corrupt(s.artifact(id, 2).map(|_| ()), "a damaged head");
    corrupt(s.blob(id, "b").map(|_| ()), "a damaged blob");
    c.execute(
        "UPDATE automl_studies SET record = 'not json'::bytea WHERE study_id = $1",
        &[&sid],
    )
    .unwrap();
    corrupt(s.studies().map(|_| ()), "a damaged study record");
    corrupt(s.study(id).map(|_| ()), "a damaged study record");
}

#[test]
fn claim_skips_entries_locked_by_another_transaction() {
    let url = server().url();
    let s = PgStore::open(&url).unwrap();
    let id = s.create_study(sample_study("k")).unwrap();
    let q = s.queue().unwrap();
    for t in 0..2 {
        s.start_trial(id, &sample_candidate(t), "random", 0)
            .unwrap();
        q.enqueue(id, t, b"p").unwrap();
    }
    let mut other = raw(&url);
    let mut tx = other.transaction().unwrap();
    tx.query(
        "SELECT 1 FROM automl_queue WHERE trial_id = 0 FOR UPDATE",
        &[],
    )
    .unwrap();
    // Would block until `tx` ends without SKIP LOCKED.
    let l = q
        .claim("w", Some(id), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(l.trial_id, 1, "the locked entry is skipped");
    tx.rollback().unwrap();
    let l = q
        .claim("w", Some(id), Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(l.trial_id, 0);
    let mut c = raw(&url);
    c.execute("UPDATE automl_queue SET state = 9 WHERE trial_id = 0", &[])
        .unwrap();
    match q.entry_state(id, 0) {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("an unknown queue state: {other:?}"),
    }
}

/// On a server of its own (stopping the shared one would break the other tests).
#[test]
fn calls_survive_a_database_restart_within_the_window() {
    let srv = PgServer::start();
    let url = srv.url();
    let s = PgStore::open(&url).unwrap();
    assert_eq!(s.retry_window(), Duration::from_secs(60), "default window");
    let id = s.create_study(sample_study("r")).unwrap();
    let t = s
        .start_trial(id, &sample_candidate(0), "random", 0)
        .unwrap();
    s.queue().unwrap().enqueue(id, 0, b"p").unwrap();

    srv.stop();
    let (started, next) = std::thread::scope(|scope| {
        let call = scope.spawn(|| s.start_trial(id, &sample_candidate(1), "random", 1));
        let other = scope.spawn(|| s.finish_trial(&completed(t.clone(), 0.5), Some(b"m")));
        std::thread::sleep(Duration::from_millis(1500));
        srv.start_again();
        (call.join().unwrap(), other.join().unwrap())
    });
    let started = started.expect("start_trial succeeds once the server is back");
    next.expect("finish_trial succeeds once the server is back");
    assert_eq!(started.trial_id, 1);
    let trials = s.trials(id).unwrap();
    assert_eq!(trials.len(), 2, "no trial started twice");
    assert_eq!(trials[0].state, TrialState::Complete);
    assert_eq!(s.artifact(id, 0).unwrap().as_deref(), Some(&b"m"[..]));
    let l = s
        .queue()
        .unwrap()
        .claim("w", None, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(l.trial_id, 0);

    // Past the window: Unavailable, one line, masked; the store works again afterwards.
    s.set_retry_window(Duration::from_millis(500));
    srv.stop();
    let e = s
        .trials(id)
        .expect_err("the server is down past the window");
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
    let msg = assert_one_line_without(&e, &[pg_test::PASSWORD]);
    assert!(msg.contains("not re-established"), "{msg}");
    srv.start_again();
    assert_eq!(s.trials(id).unwrap().len(), 2);
}

/// On a TLS server of its own: prefer and require encrypt, disable does not, verify-ca and
/// verify-full check the certificate (refused without its root, accepted with it).
#[test]
fn tls_modes_against_a_tls_server() {
    let srv = PgServer::start_with_tls();
    let url = srv.url();
    for (mode, encrypted) in [
        (SslMode::Disable, false),
        (SslMode::Prefer, true),
        (SslMode::Require, true),
    ] {
        let s = PgStore::open(&url.with_sslmode(mode)).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(s.uses_tls().unwrap(), encrypted, "{mode:?}");
    }
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        let e = open_err(&url.with_sslmode(mode));
        assert!(
            matches!(e, StoreError::Unavailable { .. }),
            "{mode:?}: {e:?}"
        );
        let msg = assert_one_line_without(&e, &[pg_test::PASSWORD]);
        assert!(msg.contains("certificate"), "{msg}");
        let root = srv.root_cert();
        let trusted = url
            .with_sslmode(mode)
            .with_sslrootcert(root.to_str().unwrap());
        let s = PgStore::open(&trusted).unwrap_or_else(|e| panic!("{mode:?} with its root: {e}"));
        assert!(s.uses_tls().unwrap());
    }
}

/// The server ends the store's connection (an administrator, a failover): the next call
/// reconnects without the caller noticing.
#[test]
fn a_terminated_connection_is_reopened() {
    let url = server().url();
    let s = PgStore::open(&url).unwrap();
    let id = s.create_study(sample_study("t")).unwrap();
    let mut c = raw(&url);
    let n = c
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    assert_eq!(n, 1, "the store's connection was ended");
    let t = s
        .start_trial(id, &sample_candidate(0), "random", 0)
        .unwrap();
    assert_eq!(t.trial_id, 0);
    assert_eq!(s.trials(id).unwrap().len(), 1);
}

/// A host starting with `/` is a Unix socket directory (percent-encoded in the URL).
#[test]
fn a_unix_socket_url_connects() {
    let tcp = server().url();
    let dir = server().socket_dir();
    let enc: String = dir
        .to_str()
        .unwrap()
        .chars()
        .map(|c| {
            if c == '/' {
                "%2F".to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let url = PgUrl::parse(&format!(
        "postgresql://{}@{enc}:{}/{}",
        pg_test::ROLE,
        server().port(),
        tcp.dbname().unwrap()
    ))
    .unwrap();
    assert_eq!(url.host(), dir.to_str().unwrap());
    let s = PgStore::open(&url).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.create_study(sample_study("u")).unwrap(), 1);
    assert!(!s.uses_tls().unwrap());
}

/// Every write is safe to repeat when its reply is lost after the commit: the retry finds the
/// work already done instead of doing it twice (no second study, trial id, claim or result).
#[test]
fn writes_retried_after_a_lost_reply_are_not_repeated() {
    let url = server().url();
    let s = PgStore::open(&url).unwrap();
    let q = s.queue().unwrap();
    s.lose_next_reply();
    let id = s.create_study(sample_study("l")).unwrap();
    assert_eq!(s.studies().unwrap().len(), 1, "one study");
    s.lose_next_reply();
    let t = s
        .start_trial(id, &sample_candidate(0), "random", 3)
        .unwrap();
    assert_eq!(t.trial_id, 0);
    assert_eq!(s.trials(id).unwrap().len(), 1, "one trial");
    assert_eq!(
        s.start_trial(id, &sample_candidate(1), "random", 4)
            .unwrap()
            .trial_id,
        1,
        "ids stay dense"
    );
    s.lose_next_reply();
    q.enqueue(id, 0, b"p").unwrap();
    s.lose_next_reply();
    let lease = q
        .claim("w", Some(id), Duration::from_secs(60))
        .unwrap()
        .expect("the claim made before the reply was lost");
    assert_eq!((lease.trial_id, lease.attempt), (0, 1));
    assert!(
        q.claim("w", Some(id), Duration::from_secs(60))
            .unwrap()
            .is_none()
    );
    s.lose_next_reply();
    assert!(q.finish(&lease, b"r").unwrap());
    s.lose_next_reply();
    let r = q.take_results(id).unwrap();
    assert_eq!(r.len(), 1, "the results closed before the reply was lost");
    assert_eq!(r[0].result.as_deref(), Some(&b"r"[..]));
    assert!(q.take_results(id).unwrap().is_empty());
    s.lose_next_reply();
    s.finish_trial(&completed(t, 0.9), Some(b"model")).unwrap();
    s.lose_next_reply();
    s.put_blob(id, "k", b"v").unwrap();
    assert_eq!(s.artifact(id, 0).unwrap().as_deref(), Some(&b"model"[..]));
    assert_eq!(s.blob(id, "k").unwrap().as_deref(), Some(&b"v"[..]));
}
