//! End-to-end tests of the dashboard server: a real sled store in a temp dir, the server on
//! port 0 in a thread, and requests over a plain `TcpStream`.

mod common;

use automl_ui::{Server, StopHandle, UiConfig};
use common::fixture::{fixture_trials, write_fixture};
use common::http::{get, request};
use serde_json::Value;
use std::path::Path;

/// Start a server over `store` on a free port; returns its address and a stop handle.
fn start(store: &Path) -> (String, StopHandle, std::thread::JoinHandle<()>) {
    let cfg = UiConfig {
        store: store.to_path_buf().into(),
        addr: "127.0.0.1:0".into(),
        log_dir: None,
    };
    let server = Server::bind(&cfg).expect("bind port 0");
    assert!(server.port() > 0, "port 0 must resolve to the real port");
    let addr = format!("127.0.0.1:{}", server.port());
    assert_eq!(server.url(), format!("http://{addr}/"));
    let stop = server.stop_handle();
    let join = std::thread::spawn(move || server.run().expect("server run"));
    (addr, stop, join)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[test]
fn page_and_studies_and_trials_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = write_fixture(&store, true);
    let (addr, stop, join) = start(&store);

    // The page: self-contained HTML (no external scripts or styles).
    let (status, ctype, body) = get(&addr, "/");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let page = String::from_utf8(body).unwrap();
    assert!(
        page.contains("<svg") || page.contains("createElementNS"),
        "plots are SVG"
    );
    assert!(!page.contains("<script src"), "no external scripts");
    assert!(
        !page.contains("<link rel=\"stylesheet\""),
        "no external CSS"
    );
    assert!(
        !page.contains("src=\"http"),
        "no external images or scripts"
    );
    assert!(page.contains("/api/studies"));

    // Studies.
    let (status, ctype, body) = get(&addr, "/api/studies");
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/json"));
    let v = json(&body);
    assert_eq!(v["live"], false);
    let studies = v["studies"].as_array().unwrap();
    assert_eq!(studies.len(), 1);
    let s = &studies[0];
    let n = fixture_trials().len();
    assert_eq!(s["study_id"], id);
    assert_eq!(s["name"], "fixture-flowers");
    assert_eq!(s["n_trials"], n as u64);
    assert_eq!(s["n_failed"], 1);
    assert_eq!(s["n_running"], 1);
    assert_eq!(s["n_complete"], (n - 2) as u64);
    assert_eq!(s["higher_is_better"], true);
    assert_eq!(s["running"], false);
    assert_eq!(
        s["best"]["trial_id"], 3,
        "trial 3 has the best mean accuracy"
    );
    assert_eq!(s["best"]["family"], "gbdt");
    assert_eq!(s["schema"].as_array().unwrap().len(), 4);

    // One study, by id and as `latest`.
    for path in [
        format!("/api/studies/{id}"),
        "/api/studies/latest".to_string(),
    ] {
        let (status, _, body) = get(&addr, &path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(json(&body)["study_id"], id);
    }

    // Trials in leaderboard order: complete ones ranked by mean, best first; then the rest.
    let (status, _, body) = get(&addr, &format!("/api/studies/{id}/trials"));
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["metric"], "accuracy");
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(trials.len(), n);
    let ranked: Vec<(u64, f64)> = trials
        .iter()
        .filter(|t| !t["rank"].is_null())
        .map(|t| (t["trial_id"].as_u64().unwrap(), t["mean"].as_f64().unwrap()))
        .collect();
    assert_eq!(ranked.len(), n - 2);
    assert!(
        ranked.windows(2).all(|w| w[0].1 >= w[1].1),
        "best first: {ranked:?}"
    );
    assert_eq!(trials[0]["rank"], 1);
    assert_eq!(trials[0]["trial_id"], 3);
    let failed = trials.iter().find(|t| t["state"] == "failed").unwrap();
    assert!(
        failed["mean"].is_null(),
        "a failed trial's NaN score is null in JSON"
    );
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("did not converge")
    );
    assert!(trials.iter().any(|t| t["state"] == "running"));

    // One trial: parameters, folds, lineage both ways.
    let (status, _, body) = get(&addr, &format!("/api/studies/{id}/trials/1"));
    assert_eq!(status, 200);
    let t = json(&body);
    assert_eq!(t["candidate"]["family"], "gbdt");
    assert_eq!(t["candidate"]["params"]["max_depth"], 4);
    assert_eq!(t["fold_scores"].as_array().unwrap().len(), 3);
    let children: Vec<u64> = t["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(
        children,
        vec![3, 5],
        "trials 3 and 5 name trial 1 as a parent"
    );
    let (_, _, body) = get(&addr, &format!("/api/studies/{id}/trials/5"));
    let t = json(&body);
    assert_eq!(t["candidate"]["operator"], "crossover");
    assert_eq!(t["candidate"]["parents"], serde_json::json!([1, 2]));

    // The endpoint list.
    let (status, _, body) = get(&addr, "/api");
    assert_eq!(status, 200);
    assert!(json(&body)["endpoints"].as_array().unwrap().len() >= 5);

    stop.stop();
    join.join().unwrap();
}

#[test]
fn errors_are_json_with_a_useful_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = write_fixture(&store, true);
    let (addr, stop, join) = start(&store);

    let cases = [
        ("GET", format!("/api/studies/{}", id + 40), 404, "no study"),
        ("GET", "/api/studies/abc".to_string(), 400, "not a number"),
        (
            "GET",
            format!("/api/studies/{id}/trials/99"),
            404,
            "no trial 99",
        ),
        (
            "GET",
            format!("/api/studies/{id}/trials/x"),
            400,
            "not a number",
        ),
        ("GET", "/nope".to_string(), 404, "no such page"),
        ("DELETE", "/api/studies".to_string(), 405, "not allowed"),
        (
            "GET",
            format!("/api/studies/{id}/predict"),
            405,
            "not allowed",
        ),
        ("POST", format!("/api/studies/{id}/predict"), 400, "empty"),
        (
            "POST",
            format!("/api/studies/{id}/predict?trial=z"),
            400,
            "must be a number",
        ),
    ];
    for (method, path, status, needle) in cases {
        let (got, ctype, body) = request(&addr, method, &path, b"");
        assert_eq!(
            got,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(ctype.starts_with("application/json"), "{method} {path}");
        let msg = json(&body)["error"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{method} {path}: {msg}");
    }
    // The fixture has no stored model: predicting says so.
    let (got, _, body) = request(
        &addr,
        "POST",
        &format!("/api/studies/{id}/predict"),
        b"petal_length\n1\n",
    );
    assert_eq!(got, 404, "{}", String::from_utf8_lossy(&body));
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("no final model")
    );

    stop.stop();
    join.join().unwrap();
}

#[test]
fn missing_store_is_reported_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("not-yet");
    let (addr, stop, join) = start(&store);
    let (status, _, body) = get(&addr, "/api/studies");
    assert_eq!(status, 404);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("automl fit")
    );
    assert!(!store.exists(), "the dashboard must never create a store");
    // The page itself is still served, so it can show the message and poll.
    assert_eq!(get(&addr, "/").0, 200);
    stop.stop();
    join.join().unwrap();
}

#[test]
fn store_lock_is_released_between_requests() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    write_fixture(&store, true);
    let (addr, stop, join) = start(&store);
    for _ in 0..3 {
        assert_eq!(get(&addr, "/api/studies").0, 200);
        // A writer (as `automl fit` would) can open the database right after a request.
        let s = automl_store::SledStore::open(&store)
            .expect("the dashboard must not keep the store locked");
        drop(s);
    }
    stop.stop();
    join.join().unwrap();
}

#[test]
fn live_snapshot_is_read_while_a_writer_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = write_fixture(&store, false);
    // Hold the database as a running fit does, and publish its snapshot.
    let writer = automl_store::SledStore::open(&store).unwrap();
    writer.publish_snapshot().unwrap();
    let (addr, stop, join) = start(&store);
    let (status, _, body) = get(&addr, "/api/studies");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    assert_eq!(v["live"], true);
    assert_eq!(v["studies"][0]["running"], true);
    assert_eq!(v["studies"][0]["n_trials"], fixture_trials().len() as u64);
    let (status, _, body) = get(&addr, &format!("/api/studies/{id}/trials"));
    assert_eq!(status, 200);
    assert_eq!(
        json(&body)["trials"].as_array().unwrap().len(),
        fixture_trials().len()
    );
    // Predictions need the models, which only the database holds.
    let (status, _, body) = request(
        &addr,
        "POST",
        &format!("/api/studies/{id}/predict"),
        b"petal_length\n1\n",
    );
    assert_eq!(status, 409);
    assert_eq!(json(&body)["error"], automl_ui::api::IN_USE_MESSAGE);
    drop(writer);
    stop.stop();
    join.join().unwrap();
}
