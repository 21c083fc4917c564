//! The Serving & drift view's endpoint: `/api/serving` over a prediction log written with the
//! monitor crate's writer, in the store's default place and in a `log_dir` of its own.

mod common;

use automl_monitor::predlog::{
    DriftEntry, LogOptions, LogRecord, LogWriter, PredictionEntry, Role,
};
use automl_ui::{Server, StopHandle, UiConfig};
use common::http::get;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn start(
    store: &Path,
    log_dir: Option<PathBuf>,
) -> (String, StopHandle, std::thread::JoinHandle<()>) {
    let cfg = UiConfig {
        store: store.to_path_buf().into(),
        addr: "127.0.0.1:0".into(),
        log_dir,
    };
    let server = Server::bind(&cfg).expect("bind port 0");
    let addr = format!("127.0.0.1:{}", server.port());
    let stop = server.stop_handle();
    let join = std::thread::spawn(move || server.run().expect("server run"));
    (addr, stop, join)
}

fn pred(
    ts: u64,
    model: &str,
    role: Role,
    req: &str,
    outputs: Value,
    error: Option<&str>,
) -> LogRecord {
    let outputs = outputs.as_array().unwrap().clone();
    LogRecord::Prediction(PredictionEntry {
        ts_ms: ts,
        source: "serve".into(),
        model: model.into(),
        role,
        request_id: req.into(),
        rows: outputs.len().max(1),
        row_hashes: vec![7; outputs.len().max(1)],
        inputs: None,
        outputs,
        latency_us: 1500,
        error: error.map(String::from),
    })
}

fn write_log(dir: &Path) {
    let now = automl_monitor::predlog::now_ms();
    let mut w = LogWriter::open(dir, LogOptions::default()).unwrap();
    for r in [
        pred(
            now,
            "study-1",
            Role::Primary,
            "a",
            json!(["yes", "no"]),
            None,
        ),
        pred(
            now + 1,
            "study-2",
            Role::Shadow,
            "a",
            json!(["yes", "yes"]),
            None,
        ),
        pred(now + 2, "study-3", Role::Canary, "b", json!(["no"]), None),
        pred(
            now + 3,
            "study-1",
            Role::Primary,
            "c",
            json!([]),
            Some("bad input"),
        ),
        LogRecord::Drift(DriftEntry {
            ts_ms: now + 4,
            source: "drift".into(),
            model: "study-1".into(),
            report: json!({"drift": true, "domain": {"auc": 0.81}, "columns": [
                {"name": "tenure", "kind": "numeric", "effect": 0.42, "p_value": 0.0001, "flagged": true},
                {"name": "plan", "kind": "categorical", "effect": 0.03, "p_value": 0.6, "flagged": false}]}),
        }),
    ] {
        w.append(&r).unwrap();
    }
    w.flush().unwrap();
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[test]
fn serving_endpoint_reports_the_store_log_and_the_page_has_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (addr, stop, join) = start(&store, None);

    // No log yet: an empty report, not an error.
    let (status, _, body) = get(&addr, "/api/serving");
    assert_eq!(status, 200);
    let v = json_of(&body);
    assert_eq!(v["exists"], false);
    assert_eq!(v["records"], 0);
    assert!(
        v["log_dir"].as_str().unwrap().ends_with("predictions"),
        "{v}"
    );

    write_log(&store.join("predictions"));
    let (status, _, body) = get(&addr, "/api/serving");
    assert_eq!(status, 200);
    let v = json_of(&body);
    assert_eq!(v["exists"], true);
    assert_eq!(v["records"], 5);
    let r = &v["report"];
    let m1 = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "study-1")
        .unwrap();
    assert_eq!(m1["requests"], 2);
    assert_eq!(m1["errors"], 1);
    assert_eq!(m1["error_rate"], 0.5);
    assert_eq!(m1["latency_ms_p50"], 1.5);
    assert_eq!(r["shadows"][0]["agreement"], 0.5);
    assert_eq!(r["canaries"][0]["share"].as_f64(), Some(1.0 / 3.0));
    assert_eq!(r["drift"][0]["flagged"], json!(["tenure"]));
    assert_eq!(r["drift"][0]["report"]["domain"]["auc"], 0.81);

    // The last 0 seconds: nothing (every record is older than now).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (status, _, body) = get(&addr, "/api/serving?since=0");
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["records"], 0);
    let (status, _, _) = get(&addr, "/api/serving?since=soon");
    assert_eq!(status, 400);

    // The page carries the view and calls the endpoint.
    let (_, _, page) = get(&addr, "/");
    let page = String::from_utf8(page).unwrap();
    for needle in [
        "id=\"serving-view\"",
        "/api/serving",
        "drift-columns",
        "canary-split",
    ] {
        assert!(page.contains(needle), "page lacks {needle}");
    }
    // Listed among the endpoints.
    let (_, _, body) = get(&addr, "/api");
    assert!(String::from_utf8_lossy(&body).contains("/api/serving"));

    // Garbage in the middle of a segment: a 500 naming the file and line.
    std::fs::write(
        store.join("predictions/0000000000000-1-0-000000.jsonl"),
        "nope\n{}\n",
    )
    .unwrap();
    let (status, _, body) = get(&addr, "/api/serving");
    assert_eq!(status, 500);
    assert!(
        String::from_utf8_lossy(&body).contains("000000.jsonl:1"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    stop.stop();
    join.join().unwrap();
}

#[test]
fn serving_endpoint_reads_a_log_dir_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("elsewhere");
    write_log(&log);
    let (addr, stop, join) = start(&dir.path().join("store"), Some(log.clone()));
    let (status, _, body) = get(&addr, "/api/serving");
    assert_eq!(status, 200);
    let v = json_of(&body);
    assert_eq!(v["records"], 5);
    assert_eq!(v["log_dir"], log.display().to_string());
    stop.stop();
    join.join().unwrap();
}
