//! The prediction log end to end: `automl predict` logs each batch (hashes, outputs; inputs
//! only when asked), `--no-log` logs nothing, the default log directory rule, and
//! `automl serve-report` on a crafted log gives the exact figures.

use crate::util::{example, predict_in, read_csv, run_in};
use serde_json::{Value, json};
use std::path::Path;

/// The first `n` data rows of churn.csv, as a new CSV in `dir`.
fn head(dir: &Path, name: &str, n: usize) -> String {
    let text = std::fs::read_to_string(example("churn.csv")).unwrap();
    let lines: Vec<&str> = text.lines().take(n + 1).collect();
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

/// Every line of every segment in `dir`, parsed.
fn log_lines(dir: &Path) -> Vec<Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

#[test]
fn predict_logs_each_batch_beside_the_store_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A store directory that already holds a log (written before the first fit) still opens.
    std::fs::create_dir_all(d.join("s.db/predictions")).unwrap();
    let train = head(d, "train.csv", 80);
    run_in(
        d,
        &[
            "fit",
            &train,
            "--store",
            "s.db",
            "--max-trials",
            "2",
            "--space",
            "fast",
            "--no-ensemble",
            "-q",
        ],
    )
    .ok();
    // 5 rows, the first two repeated at the end.
    let text = std::fs::read_to_string(&train).unwrap();
    let l: Vec<&str> = text.lines().collect();
    let new = d.join("new.csv");
    std::fs::write(&new, [l[0], l[1], l[2], l[3], l[1], l[2]].join("\n") + "\n").unwrap();
    let new = new.to_str().unwrap();

    let p1 = predict_in(d, "s.db", new, "p1.csv", &[]);
    let p2 = predict_in(d, "s.db", new, "p2.csv", &[]);
    let log = d.join("s.db/predictions");
    let recs = log_lines(&log);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let (_, rows) = read_csv(&p1);
    let preds: Vec<Value> = rows.iter().map(|r| json!(r[0])).collect();
    for r in &recs {
        assert_eq!(r["kind"], "prediction");
        assert_eq!(r["source"], "predict");
        assert_eq!(r["role"], "batch");
        assert_eq!(r["model"], "study-1");
        assert_eq!(r["rows"], 5);
        assert!(r.get("inputs").is_none(), "inputs are opt-in");
        assert_eq!(r["outputs"].as_array().unwrap(), &preds);
        let h = r["row_hashes"].as_array().unwrap();
        assert_eq!(h.len(), 5);
        assert_eq!(h[0], h[3]);
        assert_eq!(h[1], h[4]);
        assert_ne!(h[0], h[1]);
    }
    assert_eq!(recs[0]["row_hashes"], recs[1]["row_hashes"]);
    // Two processes, two segments.
    assert_eq!(std::fs::read_dir(&log).unwrap().count(), 2);
    // Logging does not change what is predicted.
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    let p3 = predict_in(d, "s.db", new, "p3.csv", &["--no-log"]);
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p3).unwrap());
    assert_eq!(log_lines(&log).len(), 2, "--no-log wrote a record");

    // --log-inputs and --log-dir.
    predict_in(
        d,
        "s.db",
        new,
        "p4.csv",
        &["--log-inputs", "--log-dir", "elsewhere", "--trial", "0"],
    );
    let recs = log_lines(&d.join("elsewhere"));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["model"], "trial-0");
    let inputs = recs[0]["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 5);
    assert!(inputs[0].get("tenure_months").is_some(), "{inputs:?}");
    assert_eq!(inputs[0], inputs[3]);

    // A model file logs in ./automl-predictions under its file name.
    run_in(d, &["export", "--store", "s.db", "--output", "m.automl"]).ok();
    run_in(
        d,
        &["predict", new, "--model", "m.automl", "--output", "p5.csv"],
    )
    .ok();
    let recs = log_lines(&d.join("automl-predictions"));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["model"], "m.automl");

    // serve-report over the store's log.
    let out = run_in(d, &["serve-report", "--store", "s.db", "--format", "json"])
        .ok()
        .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["models"][0]["model"], "study-1");
    assert_eq!(v["models"][0]["requests"], 2);
    assert_eq!(v["models"][0]["rows"], 10);
    let table = run_in(d, &["serve-report", "--store", "s.db"])
        .ok()
        .stdout();
    assert!(
        table.contains("study-1") && table.contains("batch"),
        "{table}"
    );
}

#[test]
fn fit_into_a_directory_holding_only_a_log_makes_a_store_there() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("s.db/predictions")).unwrap();
    std::fs::write(d.join("s.db/predictions/x.jsonl"), "").unwrap();
    // Anything else in the directory is still refused.
    std::fs::write(d.join("other.txt"), "").unwrap();
    let train = head(d, "train.csv", 60);
    run_in(
        d,
        &[
            "fit",
            &train,
            "--store",
            "s.db",
            "--max-trials",
            "1",
            "--space",
            "fast",
            "-q",
        ],
    )
    .ok();
    assert!(d.join("s.db/predictions/x.jsonl").exists());
    std::fs::create_dir_all(d.join("t.db/predictions")).unwrap();
    std::fs::write(d.join("t.db/notes.txt"), "mine").unwrap();
    let r = run_in(
        d,
        &[
            "fit",
            &train,
            "--store",
            "t.db",
            "--max-trials",
            "1",
            "--space",
            "fast",
            "-q",
        ],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("not empty"), "{}", r.stderr());
}

fn line(v: Value) -> String {
    v.to_string() + "\n"
}

fn pred(ts: u64, model: &str, role: &str, req: &str, outputs: Value, latency_us: u64) -> String {
    let rows = outputs.as_array().unwrap().len();
    line(json!({
        "kind": "prediction", "ts_ms": ts, "source": "serve", "model": model, "role": role,
        "request_id": req, "rows": rows, "row_hashes": vec![1; rows], "outputs": outputs,
        "latency_us": latency_us,
    }))
}

#[test]
fn serve_report_on_a_crafted_log_gives_the_exact_figures() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    std::fs::create_dir_all(&log).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let t = now - 1000;
    // Segment A (one process): primary answers, canary, an error.
    let a = [
        pred(
            t,
            "study-1",
            "primary",
            "r1",
            json!(["yes", "no", "no", "yes"]),
            2000,
        ),
        pred(t + 2, "study-1", "primary", "r2", json!(["no"]), 4000),
        pred(
            t + 4,
            "study-2",
            "canary",
            "r3",
            json!(["yes", "yes"]),
            6000,
        ),
        line(
            json!({"kind": "prediction", "ts_ms": t + 6, "source": "serve", "model": "study-1",
            "role": "primary", "request_id": "r4", "rows": 1, "row_hashes": [1], "outputs": [],
            "latency_us": 8000, "error": "bad input"}),
        ),
        line(
            json!({"kind": "event", "ts_ms": t + 7, "event": "canary_rolled_back",
            "model": "study-2", "detail": "error rate"}),
        ),
    ]
    .concat();
    // Segment B (another process): the shadow, and a torn last line.
    let b = [
        pred(
            t + 1,
            "study-3",
            "shadow",
            "r1",
            json!(["yes", "yes", "no", "yes"]),
            1000,
        ),
        pred(t + 3, "study-3", "shadow", "r2", json!(["no"]), 1000),
        pred(t + 5, "study-3", "shadow", "r3", json!(["no", "yes"]), 1000),
        line(
            json!({"kind": "drift", "ts_ms": t + 8, "source": "drift", "model": "study-1",
            "report": {"drift": true, "columns": [
                {"name": "tenure_months", "flagged": true, "effect": 0.4},
                {"name": "contract", "flagged": false}]}}),
        ),
        "{\"kind\":\"prediction\",\"ts_ms\":".to_string(),
    ]
    .concat();
    std::fs::write(log.join(format!("{t:013}-1-0-000000.jsonl")), a).unwrap();
    std::fs::write(log.join(format!("{t:013}-2-0-000000.jsonl")), b).unwrap();
    let logs = log.to_str().unwrap();
    let out = run_in(
        dir.path(),
        &["serve-report", "--log-dir", logs, "--format", "json"],
    )
    .ok()
    .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["records"], 9);
    let m1 = &v["models"][0];
    assert_eq!(m1["model"], "study-1");
    assert_eq!(
        (
            m1["requests"].as_u64(),
            m1["rows"].as_u64(),
            m1["errors"].as_u64()
        ),
        (Some(3), Some(6), Some(1))
    );
    assert_eq!(m1["latency_ms_p50"], 4.0);
    assert_eq!(m1["latency_ms_p99"], 8.0);
    let s = &v["shadows"][0];
    assert_eq!(s["model"], "study-3");
    assert_eq!(s["against"], json!(["study-1", "study-2"]));
    // r1: 3 of 4 agree, r2: 1 of 1, r3: 1 of 2 -> 5 of 7.
    assert_eq!(
        (s["rows"].as_u64(), s["agreeing_rows"].as_u64()),
        (Some(7), Some(5))
    );
    assert_eq!(s["agreement"].as_f64(), Some(5.0 / 7.0));
    assert_eq!(v["canaries"][0]["model"], "study-2");
    assert_eq!(v["canaries"][0]["share"], 0.25);
    assert_eq!(v["drift"][0]["drift"], true);
    assert_eq!(v["drift"][0]["flagged"], json!(["tenure_months"]));
    assert_eq!(v["events"][0]["event"], "canary_rolled_back");

    // --model and --since filter.
    let out = run_in(
        dir.path(),
        &[
            "serve-report",
            "--log-dir",
            logs,
            "--format",
            "json",
            "--model",
            "study-3",
        ],
    )
    .ok()
    .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["records"], 3);
    let out = run_in(
        dir.path(),
        &[
            "serve-report",
            "--log-dir",
            logs,
            "--format",
            "json",
            "--since",
            "1ms",
        ],
    )
    .ok()
    .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["records"], 0);

    let table = run_in(dir.path(), &["serve-report", "--log-dir", logs])
        .ok()
        .stdout();
    assert!(
        table.contains("study-3 vs study-1, study-2: 71.4 % of 7 rows"),
        "{table}"
    );
    assert!(table.contains("study-2: 25.0 %"), "{table}");
    assert!(
        table.contains("drift: true, flagged: tenure_months"),
        "{table}"
    );
    assert!(table.contains("canary_rolled_back"), "{table}");

    // Garbage in the middle of a segment is an error naming file and line.
    std::fs::write(log.join(format!("{t:013}-3-0-000000.jsonl")), "oops\n{}\n").unwrap();
    let r = run_in(dir.path(), &["serve-report", "--log-dir", logs]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("-3-0-000000.jsonl:1:"),
        "{}",
        r.stderr()
    );
}
