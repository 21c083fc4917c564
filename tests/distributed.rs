//! One search across processes on a real PostgreSQL server (`automl_store::pg_test::PgServer`,
//! started by the tests themselves; a test fails, never skips, when it cannot start): a
//! coordinator (`automl fit --store URL --remote-workers`) and `automl worker` processes, a
//! worker killed mid-trial, the database restarted mid-search, bad URLs, live reading commands,
//! the no-DDL worker role. Every distributed run is checked against the one-process sled run
//! with the same seed and trial budget: same trials, same parameters, same scores (bits).

use crate::util::{Background, Run, example, predict_in, run_in, spawn_in};
use automl_store::pg_test::{PASSWORD, PgServer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// Generous: a debug build on two busy cores.
const LONG: Duration = Duration::from_secs(180);

/// The search every test runs: small data, the fast space, 12 trials, seed 7.
const SEARCH: [&str; 6] = ["--max-trials", "12", "--seed", "7", "--space", "fast"];

/// The test-only delay of `automl worker` before it hands a result back (see cmd_worker.rs).
const DELAY_ENV: &str = "AUTOML_TEST_EVAL_DELAY_MS";

/// A leaderboard row that must be identical across runs: trial id, family, parameters, state,
/// mean score (bits).
type Row = (u64, String, String, String, u64);

fn churn() -> String {
    example("churn.csv").to_str().unwrap().to_string()
}

/// `automl leaderboard --store STORE --format json`, as rows sorted by trial id.
fn leaderboard(dir: &Path, store: &str) -> Vec<Row> {
    let run = run_in(dir, &["leaderboard", "--store", store, "--format", "json"]).ok();
    rows(&run.stdout())
}

fn rows(json: &str) -> Vec<Row> {
    let v: Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("leaderboard JSON does not parse: {e}\n{json}"));
    let mut rows: Vec<Row> = v
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|r| {
            (
                r["trial_id"].as_u64().expect("trial_id"),
                r["family"].as_str().expect("family").to_string(),
                r["params"].to_string(),
                r["state"].as_str().expect("state").to_string(),
                r["mean"].as_f64().unwrap_or(f64::NAN).to_bits(),
            )
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows
}

/// The one-process run on a sled store: its leaderboard and its predictions on churn.csv.
struct Reference {
    rows: Vec<Row>,
    predictions: String,
}

fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut args = vec!["fit", churn_path(), "--store", "sled", "-q"];
        args.extend_from_slice(&SEARCH);
        run_in(dir, &args).ok();
        let rows = leaderboard(dir, "sled");
        let preds = predict_in(dir, "sled", churn_path(), "preds.csv", &[]);
        Reference {
            rows,
            predictions: std::fs::read_to_string(preds).unwrap(),
        }
    })
}

fn churn_path() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(churn)
}

/// Every trial 0..12 plus the meta-trials (ensemble, maybe stacking), all complete.
fn assert_all_complete_once(rows: &[Row]) {
    let ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
    let n = rows.len() as u64;
    assert_eq!(ids, (0..n).collect::<Vec<u64>>(), "trial ids: {rows:?}");
    // After the 12 searched trials: the ensemble, and the stacking when one was fitted.
    let mut meta: Vec<&str> = rows[12..].iter().map(|r| r.1.as_str()).collect();
    meta.sort_unstable();
    assert!(
        meta == ["ensemble"] || meta == ["ensemble", "stacking"],
        "the meta-trials: {rows:?}"
    );
    for r in rows {
        assert_eq!(r.3, "complete", "trial {} is not complete: {rows:?}", r.0);
    }
}

/// Start the coordinator: `automl fit churn.csv --store URL --remote-workers` + the search.
fn coordinator(
    dir: &Path,
    name: &str,
    url: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> Background {
    let mut args = vec!["fit", churn_path(), "--store", url, "--remote-workers"];
    args.extend_from_slice(&SEARCH);
    args.extend_from_slice(extra);
    spawn_in(dir, name, &args, envs)
}

/// Start `automl worker --store URL --study 1 --lease 3 --name NAME`.
fn worker(dir: &Path, name: &str, url: &str, envs: &[(&str, &str)]) -> Background {
    spawn_in(
        dir,
        name,
        &[
            "worker", "--store", url, "--study", "1", "--lease", "3", "--name", name,
        ],
        envs,
    )
}

/// `worker: N trials evaluated` from a worker's summary line.
fn evaluated(run: &Run) -> u64 {
    let out = run.stdout();
    let line = out
        .lines()
        .find(|l| l.contains("trials evaluated"))
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    line.split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Trial ids of the `finished study 1 trial X` lines of a worker's stderr.
fn finished_trials(stderr: &str) -> Vec<u64> {
    trial_ids(stderr, "finished study 1 trial ")
}

fn trial_ids(stderr: &str, prefix: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|l| l.split(prefix).nth(1))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// stderr is exactly one line, `error: …`, and neither stream shows `password`.
fn assert_one_line_error(run: &Run, password: &str, what: &str) {
    assert_eq!(
        run.code(),
        2,
        "{what}: exit code\nstderr:\n{}",
        run.stderr()
    );
    let err = run.stderr();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: not one line:\n{err}"
    );
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert!(!err.contains(password), "{what}: password printed: {err}");
    assert!(
        !run.stdout().contains(password),
        "{what}: password printed: {}",
        run.stdout()
    );
}

#[test]
fn worker_killed_mid_trial_is_retried_and_the_leaderboard_equals_the_one_process_run() {
    let expected = &reference().rows;
    let url = PgServer::shared().create_database().expose();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Workers first: the study does not exist yet, they wait for it. The victim holds every
    // result for 10 s, so it is surely mid-trial when killed; the others for 1 s, so trials
    // stay queued for the victim to claim.
    let mut victim = worker(dir, "victim", &url, &[(DELAY_ENV, "10000")]);
    let mut w2 = worker(dir, "w2", &url, &[(DELAY_ENV, "1000")]);
    let mut w3 = worker(dir, "w3", &url, &[(DELAY_ENV, "1000")]);
    for w in [&mut victim, &mut w2, &mut w3] {
        w.wait_stderr("study 1 | 1 lane | lease 3.0s", LONG);
    }
    let mut coord = coordinator(dir, "coordinator", &url, &[], &[]);
    victim.wait_stderr("claimed study 1 trial ", LONG);
    victim.kill9();
    let victim_err = victim.stderr();
    let claimed = trial_ids(&victim_err, "claimed study 1 trial ");
    let done = finished_trials(&victim_err);
    let lost: Vec<u64> = claimed
        .iter()
        .copied()
        .filter(|t| !done.contains(t))
        .collect();
    assert_eq!(
        lost.len(),
        1,
        "the victim held one trial when killed:\n{victim_err}"
    );
    let lost = lost[0];

    let c = coord.wait(LONG).ok();
    assert!(
        c.stdout().contains("(12 complete, 0 failed"),
        "{}",
        c.stdout()
    );
    let r2 = w2.wait(LONG).ok();
    let r3 = w3.wait(LONG).ok();

    // Every trial was handed back exactly once, the lost one by a live worker on attempt 2.
    let mut all = done.clone();
    all.extend(finished_trials(&r2.stderr()));
    all.extend(finished_trials(&r3.stderr()));
    all.sort_unstable();
    assert_eq!(all, (0..12).collect::<Vec<u64>>(), "results handed back");
    assert_eq!(evaluated(&r2) + evaluated(&r3) + done.len() as u64, 12);
    let retry = format!("claimed study 1 trial {lost} ");
    let retried_by = [("w2", &r2), ("w3", &r3)]
        .into_iter()
        .find(|(_, r)| {
            r.stderr()
                .lines()
                .any(|l| l.contains(&retry) && l.ends_with("(attempt 2)"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no live worker claimed trial {lost} again\nw2:\n{}\nw3:\n{}",
                r2.stderr(),
                r3.stderr()
            )
        })
        .0;

    let got = leaderboard(dir, &url);
    assert_all_complete_once(&got);
    assert_eq!(
        &got, expected,
        "the distributed leaderboard differs from the sled run"
    );

    let show = run_in(dir, &["show", &lost.to_string(), "--store", &url, "--json"]).ok();
    let rec: Value = serde_json::from_str(&show.stdout()).unwrap();
    assert_eq!(rec["extra"]["attempts"], "2", "{}", show.stdout());
    assert_eq!(rec["extra"]["worker"], retried_by, "{}", show.stdout());
    assert_eq!(rec["state"], "complete");
}

#[test]
fn workers_exit_when_the_study_has_ended_or_after_the_idle_timeout() {
    let url = PgServer::shared().create_database().expose();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The coordinator evaluates in a local lane: no worker is needed to end the study.
    let mut args = vec![
        "fit",
        churn_path(),
        "--store",
        &url,
        "--remote-workers",
        "--jobs",
        "1",
        "-q",
    ];
    args.extend_from_slice(&SEARCH);
    run_in(dir, &args).ok();

    let late = run_in(
        dir,
        &["worker", "--store", &url, "--study", "1", "--name", "late"],
    )
    .ok();
    assert!(
        late.stdout()
            .contains("worker late: 0 trials evaluated, 0 dropped"),
        "{}",
        late.stdout()
    );
    let idle = run_in(
        dir,
        &[
            "worker",
            "--store",
            &url,
            "--idle-timeout",
            "2",
            "--name",
            "idle",
        ],
    )
    .ok();
    assert!(
        idle.stderr().contains("any study (exits after 2"),
        "{}",
        idle.stderr()
    );
    assert!(
        idle.stdout()
            .contains("worker idle: 0 trials evaluated, 0 dropped"),
        "{}",
        idle.stdout()
    );
}

#[test]
fn database_restarts_are_survived_and_a_longer_outage_is_resumed() {
    let expected = &reference().rows;
    let server = PgServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let slow = [(DELAY_ENV, "1500")];

    // Restarted within the reconnect window while trials run: everyone reconnects.
    let url = server.create_database().expose();
    let mut w1 = worker(dir, "r-w1", &url, &slow);
    let mut w2 = worker(dir, "r-w2", &url, &slow);
    let mut coord = coordinator(dir, "r-coordinator", &url, &[], &[]);
    coord.wait_stderr("] trial ", LONG);
    server.restart();
    // Mid-search: 10 trials that take at least 1.5 s each on 2 workers are still to come.
    assert!(coord.is_running(), "the search ended before the restart");
    let c = coord.wait(LONG).ok();
    assert!(
        c.stdout().contains("(12 complete, 0 failed"),
        "{}",
        c.stdout()
    );
    w1.wait(LONG).ok();
    w2.wait(LONG).ok();
    assert_eq!(&leaderboard(dir, &url), expected, "after a restart");

    // Down for longer than the window: the coordinator gives up with one line and exit 2.
    let url = server.create_database().expose();
    let window = [("AUTOML_PG_RETRY_WINDOW_S", "3")];
    let slow_window = [slow[0], window[0]];
    let mut w1 = worker(dir, "o-w1", &url, &slow_window);
    let mut w2 = worker(dir, "o-w2", &url, &slow_window);
    let mut coord = coordinator(dir, "o-coordinator", &url, &[], &window);
    coord.wait_stderr("] trial ", LONG);
    server.stop();
    assert!(coord.is_running(), "the search ended before the outage");
    let c = coord.wait(LONG);
    assert_eq!(
        c.code(),
        2,
        "coordinator after the outage\nstderr:\n{}",
        c.stderr()
    );
    let err = c.stderr();
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.starts_with("error: "), "{err}");
    assert!(
        !err.contains(PASSWORD) && !c.stdout().contains(PASSWORD),
        "{err}"
    );
    for w in [&mut w1, &mut w2] {
        let r = w.wait(LONG);
        assert_eq!(
            r.code(),
            2,
            "worker after the outage\nstderr:\n{}",
            r.stderr()
        );
        assert!(!r.stderr().contains(PASSWORD), "{}", r.stderr());
    }

    // Back up: --resume with workers completes the study, with the same leaderboard.
    server.start_again();
    let mut w1 = worker(dir, "s-w1", &url, &[]);
    let mut w2 = worker(dir, "s-w2", &url, &[]);
    let mut coord = coordinator(dir, "s-coordinator", &url, &["--resume"], &[]);
    let c = coord.wait(LONG).ok();
    assert!(
        c.stdout().contains("(12 complete, 0 failed"),
        "{}",
        c.stdout()
    );
    w1.wait(LONG).ok();
    w2.wait(LONG).ok();
    let got = leaderboard(dir, &url);
    assert_all_complete_once(&got);
    // The searched trials are the uninterrupted run's. The ensemble is not compared: it is
    // selected from the out-of-fold predictions of this session's trials only (an earlier
    // session's live in its memory alone), so after a resume it may pick other members.
    assert_eq!(got[..12], expected[..12], "after --resume");
}

#[test]
fn bad_urls_wrong_passwords_and_unreachable_hosts_are_one_line_errors() {
    let server = PgServer::shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = server.create_database();
    let wrong = good.with_password("pw-Wrong-6t4").expose();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (
            "a bad URL",
            "postgres://x:pw-Url-4x1@:notaport/db".to_string(),
            "pw-Url-4x1",
        ),
        ("a wrong password", wrong, "pw-Wrong-6t4"),
        (
            "an unreachable host",
            format!("postgres://u:pw-Closed-2m7@127.0.0.1:{closed}/db?sslmode=disable"),
            "pw-Closed-2m7",
        ),
    ];
    for (what, url, password) in &cases {
        let fit = run_in(
            dir,
            &[
                "fit",
                churn_path(),
                "--store",
                url,
                "--remote-workers",
                "-q",
                "--max-trials",
                "2",
            ],
        );
        assert_one_line_error(&fit, password, &format!("fit with {what}"));
        let worker = run_in(dir, &["worker", "--store", url, "--idle-timeout", "1"]);
        assert_one_line_error(&worker, password, &format!("worker with {what}"));
        let lb = run_in(dir, &["leaderboard", "--store", url]);
        assert_one_line_error(&lb, password, &format!("leaderboard with {what}"));
    }
}

#[test]
fn a_directory_store_cannot_have_remote_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fit = run_in(
        dir,
        &[
            "fit",
            churn_path(),
            "--store",
            "st",
            "--remote-workers",
            "-q",
        ],
    );
    assert_eq!(fit.code(), 2, "{}", fit.stderr());
    assert!(
        fit.stderr()
            .contains("--remote-workers needs a store that several processes share"),
        "{}",
        fit.stderr()
    );
    assert!(fit.stderr().contains("postgres://"), "{}", fit.stderr());
    assert!(!dir.join("st").exists(), "the directory store was created");
    let worker = run_in(dir, &["worker", "--store", "st"]);
    assert_eq!(worker.code(), 2, "{}", worker.stderr());
    assert!(
        worker
            .stderr()
            .contains("`automl worker` needs a store that several processes share"),
        "{}",
        worker.stderr()
    );
    assert_eq!(
        worker.stderr().trim_end().lines().count(),
        1,
        "{}",
        worker.stderr()
    );
}

#[test]
fn reading_commands_work_live_and_predict_matches_the_one_process_run() {
    let reference = reference();
    let url = PgServer::shared().create_database().expose();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // No worker yet: the coordinator has queued its first trials and waits.
    let mut coord = coordinator(dir, "coordinator", &url, &[], &[]);
    coord.wait_stderr("coordinator: waiting for `automl worker", LONG);
    let studies = run_in(dir, &["studies", "--store", &url]).ok();
    assert!(studies.stdout().contains("churn"), "{}", studies.stdout());
    assert!(studies.stdout().contains("running"), "{}", studies.stdout());
    let live = run_in(dir, &["leaderboard", "--store", &url, "--format", "json"]).ok();
    let live: Value = serde_json::from_str(&live.stdout()).unwrap();
    let live = live.as_array().expect("a JSON array");
    assert!(
        live.iter().any(|r| r["state"] == "running"),
        "the queued trials are listed as running: {live:?}"
    );

    let mut w = worker(dir, "w", &url, &[]);
    let c = coord.wait(LONG).ok();
    assert!(
        c.stdout().contains("(12 complete, 0 failed"),
        "{}",
        c.stdout()
    );
    let w = w.wait(LONG).ok();
    for out in [c.stdout(), c.stderr(), w.stdout(), w.stderr()] {
        assert!(!out.contains(PASSWORD), "password printed: {out}");
    }
    assert_eq!(leaderboard(dir, &url), reference.rows);
    let studies = run_in(dir, &["studies", "--store", &url]).ok();
    assert!(
        studies.stdout().contains("finished"),
        "{}",
        studies.stdout()
    );

    let preds = predict_in(dir, &url, churn_path(), "preds.csv", &[]);
    assert_eq!(
        std::fs::read_to_string(preds).unwrap(),
        reference.predictions,
        "predictions from PostgreSQL differ from the sled run's"
    );
    let report = run_in(dir, &["report", "--store", &url, "--output", "report.md"]).ok();
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("churn"), "{md}");
    assert!(!md.contains(PASSWORD) && !report.stdout().contains(PASSWORD));
}

#[test]
fn the_worker_role_without_ddl_rights_runs_workers_on_a_migrated_database() {
    let server = PgServer::shared();
    let owner = server.create_database();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let url = owner.expose();
    // The coordinator, as the owner, migrates the database and waits for workers.
    let mut coord = coordinator(dir, "coordinator", &url, &[], &[]);
    coord.wait_stderr("coordinator: waiting for `automl worker", LONG);
    let worker_url = server.worker_url(&owner).expose();
    let mut w = worker(dir, "restricted", &worker_url, &[]);
    let c = coord.wait(LONG).ok();
    assert!(
        c.stdout().contains("(12 complete, 0 failed"),
        "{}",
        c.stdout()
    );
    let r = w.wait(LONG).ok();
    assert_eq!(evaluated(&r), 12, "{}", r.stdout());
    let mut counts = BTreeMap::new();
    for t in finished_trials(&r.stderr()) {
        *counts.entry(t).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 12, "{}", r.stderr());
}

#[test]
fn the_store_url_and_its_password_can_come_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let full = PgServer::shared().create_database().expose();
    let bare = full.replacen(&format!(":{PASSWORD}@"), "@", 1);
    assert_ne!(bare, full, "the fixture's URL holds the password: {full}");
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let out = crate::util::automl()
            .args(args)
            .envs(envs.iter().copied())
            .current_dir(dir)
            .output()
            .expect("cannot run the automl binary");
        Run { out }
    };
    // AUTOML_STORE names the store; PGPASSWORD gives the password the URL lacks.
    let env = [("AUTOML_STORE", bare.as_str()), ("PGPASSWORD", PASSWORD)];
    run(
        &[
            "fit",
            churn_path(),
            "--max-trials",
            "3",
            "--space",
            "fast",
            "--no-ensemble",
            "-q",
        ],
        &env,
    )
    .ok();
    assert!(
        !dir.join("automl.db").exists(),
        "the default directory store was used instead of AUTOML_STORE"
    );
    let json = run(&["leaderboard", "--format", "json"], &env)
        .ok()
        .stdout();
    assert_eq!(rows(&json).len(), 3, "{json}");
    // Without the password: a one-line authentication error that names no password.
    let denied = run(&["studies"], &[("AUTOML_STORE", bare.as_str())]);
    assert_one_line_error(&denied, PASSWORD, "studies without a password");
    // A libpq password file instead (PGPASSFILE).
    let pgpass = dir.join("pgpass");
    std::fs::write(&pgpass, format!("*:*:*:*:{PASSWORD}\n")).unwrap();
    let studies = run(
        &["studies"],
        &[
            ("AUTOML_STORE", bare.as_str()),
            ("PGPASSFILE", pgpass.to_str().unwrap()),
        ],
    )
    .ok()
    .stdout();
    assert!(studies.contains("churn"), "{studies}");
    // No user in the URL either: PGUSER names it.
    let (user, rest) = bare
        .strip_prefix("postgres://")
        .and_then(|r| r.split_once('@'))
        .expect("a URL with a user");
    let no_user = format!("postgres://{rest}");
    let studies = run(
        &["studies"],
        &[
            ("AUTOML_STORE", no_user.as_str()),
            ("PGUSER", user),
            ("PGPASSWORD", PASSWORD),
        ],
    )
    .ok()
    .stdout();
    assert!(studies.contains("churn"), "{studies}");
    // --help shows where the value comes from, never the value.
    let help = run(
        &["leaderboard", "--help"],
        &[("AUTOML_STORE", full.as_str())],
    )
    .ok()
    .stdout();
    assert!(help.contains("AUTOML_STORE"), "{help}");
    assert!(
        !help.contains(PASSWORD),
        "--help shows the password: {help}"
    );
}

/// `GET path` on `base` (`http://127.0.0.1:PORT`), HTTP/1.0: (status, body).
fn http_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the dashboard");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|p| p.1).unwrap_or("");
    (status, body.to_string())
}

#[test]
fn the_dashboard_reads_a_postgresql_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let url = PgServer::shared().create_database().expose();
    run_in(
        dir,
        &[
            "fit",
            churn_path(),
            "--store",
            &url,
            "--max-trials",
            "3",
            "--space",
            "fast",
            "--no-ensemble",
            "-q",
        ],
    )
    .ok();
    let mut ui = spawn_in(dir, "ui", &["ui", "--store", &url, "--port", "0"], &[]);
    let end = std::time::Instant::now() + LONG;
    let base = loop {
        let out = ui.stdout();
        if let Some(at) = out.find("http://") {
            let rest = &out[at..];
            break rest.split_whitespace().next().unwrap().to_string();
        }
        assert!(
            ui.is_running() && std::time::Instant::now() < end,
            "the dashboard did not start\nstdout:\n{out}\nstderr:\n{}",
            ui.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!ui.stdout().contains(PASSWORD), "{}", ui.stdout());
    let (status, body) = http_get(&base, "/api/studies");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let store = v["store"].as_str().unwrap();
    assert!(
        store.starts_with("postgres://") && store.contains("***"),
        "{store}"
    );
    assert!(!body.contains(PASSWORD), "the password is served: {body}");
    assert_eq!(v["studies"][0]["name"], "churn", "{body}");
    let (status, body) = http_get(&base, "/api/studies/1/trials");
    assert_eq!(status, 200, "{body}");
    for id in 0..3 {
        assert!(
            body.contains(&format!("\"trial_id\":{id}")),
            "trial {id}: {body}"
        );
    }
    // The dashboard keeps one connection open for all its requests (the architecture's
    // promise), instead of connecting per request.
    for _ in 0..3 {
        assert_eq!(http_get(&base, "/api/studies").0, 200);
    }
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'automl'"
    );
    let out = std::process::Command::new("psql")
        .args([url.as_str(), "-Atc", &sql])
        .output()
        .expect("psql (PostgreSQL's client) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "the dashboard's connections to {db}"
    );
    ui.kill9();
}

#[test]
fn a_live_worker_keeps_its_lease_through_a_trial_longer_than_the_lease() {
    let url = PgServer::shared().create_database().expose();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // `worker --help` states the defaults docs/distributed.md promises.
    let help = run_in(dir, &["worker", "--help"]).ok().stdout();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for (flag, default) in [("--idle-timeout", "60"), ("--lease", "30")] {
        let at = flat.find(flag).expect(flag);
        let next = flat[at..].find("[default: ").map(|i| &flat[at + i..]);
        assert!(
            next.is_some_and(|t| t.starts_with(&format!("[default: {default}]"))),
            "{flag} default: {flat}"
        );
    }
    // Each trial takes 3 s longer than it would; the lease is 2 s and renewed every third of
    // it, so no trial is ever claimed twice.
    let mut coord = spawn_in(
        dir,
        "coordinator",
        &[
            "fit",
            churn_path(),
            "--store",
            &url,
            "--remote-workers",
            "--max-trials",
            "2",
            "--space",
            "fast",
            "--no-ensemble",
            "-q",
        ],
        &[],
    );
    let mut slow = spawn_in(
        dir,
        "slow",
        &[
            "worker", "--store", &url, "--study", "1", "--lease", "2", "--name", "slow",
        ],
        &[(DELAY_ENV, "3000")],
    );
    coord.wait(LONG).ok();
    slow.wait(LONG).ok();
    for id in ["0", "1"] {
        let shown = run_in(dir, &["show", id, "--store", &url, "--json"])
            .ok()
            .stdout();
        let v: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(v["state"], "complete", "{shown}");
        assert_eq!(
            v["extra"]["attempts"], "1",
            "trial {id} was claimed again: {shown}"
        );
    }
}
