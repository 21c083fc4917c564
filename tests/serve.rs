//! `automl serve` end to end: the real binary on a loopback port, real HTTP requests over raw
//! TCP: /predict (JSON and CSV, equal to `automl predict`), the Open Inference Protocol v2,
//! /metrics, errors with their statuses, concurrent clients, shadow and canary models, admin
//! promote / rollback, automatic rollback, SIGTERM under load, and the store left free.
//! Every server runs with `--no-log` but the one that checks the prediction log it writes.

use crate::util::{Background, example, read_csv, run_in, spawn_in};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One answer.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 client (one request per connection). An `Err` means no complete
/// answer came back.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    // A server that answers early (413) may close before reading everything.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Resp> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("incomplete header"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let body = if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        let mut r = rest;
        loop {
            let nl = r
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("truncated chunk"))?;
            let n = usize::from_str_radix(String::from_utf8_lossy(&r[..nl]).trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if n == 0 {
                break;
            }
            let start = nl + 2;
            if r.len() < start + n {
                return Err(bad("truncated chunk"));
            }
            body.extend_from_slice(&r[start..start + n]);
            r = &r[start + n + 2..];
        }
        body
    } else {
        let n: usize = get("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("no content-length"))?;
        if rest.len() != n {
            return Err(bad("body shorter than content-length"));
        }
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn post_json(addr: &str, path: &str, body: &Value) -> Resp {
    http(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .expect("request")
}

fn get(addr: &str, path: &str) -> Resp {
    http(addr, "GET", path, &[], b"").expect("request")
}

/// A running `automl serve`.
struct Server {
    bg: Background,
    addr: String,
}

/// Start `automl serve --port 0 --no-log ARGS` in `dir` and wait for its ready line.
fn serve(dir: &Path, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut all = vec!["serve", "--port", "0", "--no-log", "--workers", "2"];
    all.extend_from_slice(args);
    let mut bg = spawn_in(dir, name, &all, envs);
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let out = bg.stdout();
        if let Some(line) = out.lines().find(|l| l.starts_with("serving ")) {
            let addr = line
                .rsplit_once("on http://")
                .map(|(_, a)| a.trim().to_string())
                .expect("ready line names the address");
            return Server { bg, addr };
        }
        assert!(
            bg.is_running(),
            "serve ended before it was ready\nstdout:\n{}\nstderr:\n{}",
            bg.stdout(),
            bg.stderr()
        );
        assert!(Instant::now() < end, "serve not ready:\n{}", bg.stderr());
        std::thread::sleep(Duration::from_millis(30));
    }
}

impl Server {
    /// The value of an unlabelled or labelled series in /metrics (0 when absent).
    fn metric(&self, series: &str) -> f64 {
        let m = get(&self.addr, "/metrics");
        assert_eq!(m.status, 200);
        m.text()
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Wait until `series` reaches at least `at_least` (the shadow works asynchronously).
    fn wait_metric(&self, series: &str, at_least: f64) -> f64 {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.metric(series);
            if v >= at_least || Instant::now() > end {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> i32 {
        let st = std::process::Command::new("kill")
            .args(["-TERM", &self.bg.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        self.bg.wait(Duration::from_secs(60)).code()
    }
}

/// The models every test uses, built once: a store with a churn study (`db`), its final model
/// and trial 0 as files, and `plus.automl`, a model that needs a column (`zz`) the requests
/// never have, so it fails on every request.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIX: OnceLock<Fixture> = OnceLock::new();
    FIX.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let data = example("churn.csv");
        let fit = |data: &str, store: &str| {
            run_in(
                &dir,
                &[
                    "fit",
                    data,
                    "--store",
                    store,
                    "--max-trials",
                    "4",
                    "--space",
                    "fast",
                    "--jobs",
                    "2",
                    "--seed",
                    "1",
                    "--quiet",
                ],
            )
            .ok();
        };
        fit(data.to_str().unwrap(), "db");
        run_in(
            &dir,
            &["export", "--store", "db", "--output", "final.automl"],
        )
        .ok();
        run_in(
            &dir,
            &[
                "export",
                "--store",
                "db",
                "--trial",
                "0",
                "--output",
                "t0.automl",
            ],
        )
        .ok();
        // churn + a column `zz`.
        let text = std::fs::read_to_string(&data).unwrap();
        let plus: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("zz,{l}\n")
                } else {
                    format!("{},{l}\n", (i * 7919) % 101)
                }
            })
            .collect();
        std::fs::write(dir.join("plus.csv"), plus).unwrap();
        fit("plus.csv", "db-plus");
        run_in(
            &dir,
            &["export", "--store", "db-plus", "--output", "plus.automl"],
        )
        .ok();
        Fixture { _tmp: tmp, dir }
    })
}

/// The rows of churn.csv as JSON records (numbers where the cell is a number).
fn churn_records() -> Vec<Map<String, Value>> {
    let (header, rows) = read_csv(&example("churn.csv"));
    rows.iter()
        .map(|r| {
            header
                .iter()
                .zip(r)
                .map(|(h, c)| {
                    let v = c.parse::<f64>().map_or(json!(c), |x| json!(x));
                    (h.clone(), v)
                })
                .collect()
        })
        .collect()
}

fn record(i: usize) -> Value {
    Value::Object(churn_records()[i].clone())
}

/// The tenth row for ad hoc requests.
fn one() -> Value {
    json!([record(10)])
}

#[test]
fn predict_json_and_csv_match_automl_predict_and_errors_keep_the_server_up() {
    let f = fixture();
    let dir = f.dir.as_path();
    let data = example("churn.csv");
    let preds = dir.join("preds-serve.csv");
    run_in(
        dir,
        &[
            "predict",
            data.to_str().unwrap(),
            "--store",
            "db",
            "--output",
            preds.to_str().unwrap(),
        ],
    )
    .ok();
    let (header, rows) = read_csv(&preds);
    let s = serve(dir, "eq", &["--store", "db", "--max-body", "64KiB"], &[]);
    assert!(
        s.bg.stdout().contains("as study-1 on http://127.0.0.1:"),
        "{}",
        s.bg.stdout()
    );
    // JSON records (shuffled key order does not matter: maps) and the CSV body.
    let records: Vec<Value> = churn_records().into_iter().map(Value::Object).collect();
    let by_json = post_json(&s.addr, "/predict", &Value::Array(records[..300].to_vec()));
    assert_eq!(by_json.status, 200, "{}", by_json.text());
    let csv = std::fs::read(&data).unwrap();
    let by_csv = http(
        &s.addr,
        "POST",
        "/predict",
        &[("Content-Type", "text/csv")],
        &csv,
    )
    .unwrap();
    assert_eq!(by_csv.status, 200, "{}", by_csv.text());
    let (j, c) = (by_json.json(), by_csv.json());
    assert_eq!(c["predictions"].as_array().unwrap().len(), rows.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(c["predictions"][i], json!(row[0]), "row {i}");
        if i < 300 {
            assert_eq!(j["predictions"][i], json!(row[0]), "row {i}");
        }
        for (k, h) in header.iter().enumerate().skip(1) {
            let class = h.strip_prefix("proba_").unwrap();
            let want: f64 = row[k].parse().unwrap();
            assert_eq!(
                c["probabilities"][i][class].as_f64().unwrap(),
                want,
                "row {i}"
            );
            if i < 300 {
                assert_eq!(j["probabilities"][i][class].as_f64().unwrap(), want);
            }
        }
    }
    // Bad input: a JSON error with the right status, and the server keeps answering.
    let mut missing = churn_records()[0].clone();
    missing.remove("contract");
    let mut bad_value = churn_records()[0].clone();
    bad_value.insert("tenure_months".into(), json!("twelve"));
    let big = vec![b'['; 100 << 10];
    let cases: Vec<(u16, Resp)> = vec![
        (
            400,
            http(&s.addr, "POST", "/predict", &[], b"[{\"a\": 1,").unwrap(),
        ),
        (400, post_json(&s.addr, "/predict", &json!([1, 2, 3]))),
        (400, post_json(&s.addr, "/predict", &json!([]))),
        (
            400,
            http(
                &s.addr,
                "POST",
                "/predict",
                &[("Content-Type", "text/csv")],
                b"a,b\n1,2,3\n",
            )
            .unwrap(),
        ),
        (422, post_json(&s.addr, "/predict", &json!([missing]))),
        (422, post_json(&s.addr, "/predict", &json!([bad_value]))),
        (413, http(&s.addr, "POST", "/predict", &[], &big).unwrap()),
        (
            404,
            post_json(&s.addr, "/v2/models/nope/infer", &json!({"inputs": []})),
        ),
    ];
    for (want, r) in cases {
        assert_eq!(r.status, want, "{}", r.text());
        let e = r.json();
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        let ok = post_json(&s.addr, "/predict", &one());
        assert_eq!(ok.status, 200, "after a {want}: {}", ok.text());
    }
    let e = post_json(&s.addr, "/predict", &json!([missing])).json()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(e.contains("contract"), "{e}");
    assert_eq!(s.metric("automl_http_responses_total{code=\"422\"}"), 3.0);
    assert_eq!(s.metric("automl_http_responses_total{code=\"413\"}"), 1.0);
    assert_eq!(s.stop(), 0);
}

#[test]
fn open_inference_protocol_v2_and_metrics() {
    let f = fixture();
    let s = serve(
        &f.dir,
        "oip",
        &["--model", "final.automl", "--model-name", "churn"],
        &[],
    );
    assert_eq!(get(&s.addr, "/v2/health/live").json()["live"], json!(true));
    assert_eq!(
        get(&s.addr, "/v2/health/ready").json()["ready"],
        json!(true)
    );
    assert_eq!(get(&s.addr, "/v2/models/churn/ready").status, 200);
    let meta = get(&s.addr, "/v2/models/churn").json();
    assert_eq!(meta["name"], json!("churn"));
    let names: Vec<&str> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"contract") && !names.contains(&"churned"),
        "{meta}"
    );
    let dtype = |col: &str| {
        meta["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == col)
            .map(|i| i["datatype"].clone())
    };
    assert_eq!(dtype("contract"), Some(json!("BYTES")), "{meta}");
    assert_eq!(dtype("monthly_charges"), Some(json!("FP64")), "{meta}");
    assert_eq!(get(&s.addr, "/v2/models/other").status, 404);
    // Three rows as one tensor per column.
    let recs = churn_records();
    let mut inputs = Vec::new();
    for c in &meta["inputs"].as_array().unwrap().clone() {
        let name = c["name"].as_str().unwrap();
        let data: Vec<Value> = recs[..3].iter().map(|r| r[name].clone()).collect();
        inputs.push(json!({"name": name, "shape": [3], "datatype": c["datatype"], "data": data}));
    }
    let before = s.metric("automl_requests_total{model=\"churn\",role=\"primary\"}");
    let r = post_json(
        &s.addr,
        "/v2/models/churn/infer",
        &json!({"id": "r1", "inputs": inputs}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = r.json();
    assert_eq!(r["id"], json!("r1"));
    assert_eq!(r["model_name"], json!("churn"));
    let direct = post_json(
        &s.addr,
        "/predict",
        &Value::Array(recs[..3].iter().cloned().map(Value::Object).collect()),
    )
    .json();
    let out = r["outputs"].as_array().unwrap();
    let pred = out.iter().find(|o| o["name"] == "predict").unwrap();
    assert_eq!(pred["data"], direct["predictions"]);
    assert_eq!(pred["shape"], json!([3]));
    let proba = out.iter().find(|o| o["name"] == "probabilities").unwrap();
    assert_eq!(proba["shape"], json!([3, 2]));
    let classes = proba["parameters"]["classes"].as_array().unwrap();
    for i in 0..3 {
        for (j, c) in classes.iter().enumerate() {
            assert_eq!(
                proba["data"][i * 2 + j],
                direct["probabilities"][i][c.as_str().unwrap()]
            );
        }
    }
    // A tensor with the wrong length is malformed.
    let bad =
        json!({"inputs": [{"name": "contract", "shape": [2], "datatype": "BYTES", "data": ["a"]}]});
    assert_eq!(
        post_json(&s.addr, "/v2/models/churn/infer", &bad).status,
        400
    );
    // /metrics moved: two batches scored, a latency histogram, 200s counted.
    assert_eq!(
        s.metric("automl_requests_total{model=\"churn\",role=\"primary\"}"),
        before + 2.0
    );
    assert_eq!(
        s.metric("automl_predict_seconds_count{model=\"churn\",role=\"primary\"}"),
        before + 2.0
    );
    assert!(s.metric("automl_http_responses_total{code=\"200\"}") >= 4.0);
    assert!(
        get(&s.addr, "/metrics").text().contains(
            "automl_predict_seconds_bucket{model=\"churn\",role=\"primary\",le=\"+Inf\"}"
        )
    );
    assert_eq!(s.stop(), 0);
}

#[test]
fn sixteen_concurrent_clients_get_the_right_answers() {
    let f = fixture();
    let s = serve(&f.dir, "conc", &["--model", "final.automl"], &[]);
    let reference: Vec<Value> = (0..16)
        .map(|i| post_json(&s.addr, "/predict", &json!([record(i)])).json())
        .collect();
    let addr = s.addr.clone();
    std::thread::scope(|sc| {
        for (i, want) in reference.iter().enumerate() {
            let addr = &addr;
            sc.spawn(move || {
                for _ in 0..25 {
                    let r = post_json(addr, "/predict", &json!([record(i)]));
                    assert_eq!(r.status, 200);
                    assert_eq!(&r.json(), want);
                }
            });
        }
    });
    assert_eq!(
        s.metric("automl_requests_total{model=\"final\",role=\"primary\"}"),
        16.0 * 26.0
    );
    assert_eq!(s.stop(), 0);
}

#[test]
fn a_failing_shadow_and_a_slow_shadow_leave_the_answers_alone() {
    let f = fixture();
    let plain = serve(&f.dir, "plain", &["--model", "final.automl"], &[]);
    let want: Vec<Value> = (0..30)
        .map(|i| post_json(&plain.addr, "/predict", &json!([record(i)])).json())
        .collect();
    assert_eq!(plain.stop(), 0);
    // A shadow that fails on every request (it needs a column the requests lack).
    let s = serve(
        &f.dir,
        "shadow-fail",
        &["--model", "final.automl", "--shadow", "plus.automl"],
        &[],
    );
    assert!(s.bg.stdout().contains("shadow plus"), "{}", s.bg.stdout());
    for (i, w) in want.iter().enumerate() {
        let r = post_json(&s.addr, "/predict", &json!([record(i)]));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(&r.json(), w);
    }
    let errors = s.wait_metric("automl_errors_total{model=\"plus\",role=\"shadow\"}", 30.0);
    let dropped = s.metric("automl_shadow_dropped_total");
    assert_eq!(errors + dropped, 30.0, "errors {errors} dropped {dropped}");
    assert!(errors > 0.0);
    assert_eq!(s.stop(), 0);
    // A slow shadow with a queue of 2: the answers come, and the overflow is dropped and counted.
    let s = serve(
        &f.dir,
        "shadow-slow",
        &[
            "--model",
            "final.automl",
            "--shadow",
            "t0.automl",
            "--shadow-queue",
            "2",
        ],
        &[("AUTOML_TEST_SHADOW_DELAY_MS", "300")],
    );
    for (i, w) in want.iter().enumerate() {
        let r = post_json(&s.addr, "/predict", &json!([record(i)]));
        assert_eq!(r.status, 200);
        assert_eq!(&r.json(), w);
    }
    let dropped = s.metric("automl_shadow_dropped_total");
    assert!(dropped >= 1.0, "nothing dropped");
    let scored = s.wait_metric(
        "automl_requests_total{model=\"t0\",role=\"shadow\"}",
        30.0 - dropped,
    );
    assert_eq!(scored + dropped, 30.0);
    let compared = s.metric("automl_rows_compared_total{model=\"t0\",role=\"shadow\"}");
    assert_eq!(compared, scored);
    assert_eq!(s.stop(), 0);
}

fn answered_by(r: &Resp) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("x-model").unwrap().to_string()
}

#[test]
fn canary_split_sticky_keys_admin_promote_and_rollback() {
    let f = fixture();
    let s = serve(
        &f.dir,
        "canary",
        &[
            "--model",
            "final.automl",
            "--canary",
            "t0.automl:30",
            "--admin-token",
            "s3cret",
        ],
        &[],
    );
    let n = 400;
    let canary = (0..n)
        .filter(|i| answered_by(&post_json(&s.addr, "/predict", &json!([record(i % 50)]))) == "t0")
        .count();
    assert!(
        (80..=160).contains(&canary),
        "{canary} of {n} to the canary at 30 %"
    );
    // The primary scored the canary's requests off the path: the agreement rate is counted.
    let rows = s.metric("automl_rows_total{model=\"t0\",role=\"canary\"}");
    assert_eq!(rows, canary as f64);
    let compared = s.wait_metric(
        "automl_rows_compared_total{model=\"t0\",role=\"canary\"}",
        rows,
    );
    assert_eq!(compared + s.metric("automl_shadow_dropped_total"), rows);
    let agreed = s.metric("automl_rows_agreed_total{model=\"t0\",role=\"canary\"}");
    assert!(agreed > 0.0 && agreed <= compared, "{agreed} of {compared}");
    let status = http(
        &s.addr,
        "GET",
        "/admin/status",
        &[("Authorization", "Bearer s3cret")],
        b"",
    )
    .unwrap();
    assert_eq!(status.status, 200);
    let status = status.json();
    assert_eq!(status["canary"]["percent"], json!(30.0));
    assert_eq!(
        status["canary"]["stats"]["agreement"],
        json!(agreed / compared)
    );
    // Sticky: a key always goes the same way; about 30 % of the keys go to the canary.
    let mut keyed = 0;
    for k in 0..200 {
        let key = format!("user-{k}");
        let ask = || {
            answered_by(
                &http(
                    &s.addr,
                    "POST",
                    "/predict",
                    &[("X-Request-Key", key.as_str())],
                    one().to_string().as_bytes(),
                )
                .unwrap(),
            )
        };
        let first = ask();
        assert_eq!(ask(), first, "key {key} changed sides");
        assert_eq!(ask(), first, "key {key} changed sides");
        keyed += usize::from(first == "t0");
    }
    assert!(
        (30..=90).contains(&keyed),
        "{keyed} of 200 keys to the canary"
    );
    // Admin: no token 401, a wrong one 403, the right one promotes.
    let promote = |tok: Option<&str>| {
        let auth = tok.map(|t| format!("Bearer {t}"));
        let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        http(&s.addr, "POST", "/admin/canary/promote", &h, b"").unwrap()
    };
    assert_eq!(promote(None).status, 401);
    assert_eq!(promote(Some("wrong")).status, 403);
    let p = promote(Some("s3cret"));
    assert_eq!(p.status, 200, "{}", p.text());
    assert_eq!(p.json()["promoted"], json!("t0"));
    for i in 0..20 {
        assert_eq!(
            answered_by(&post_json(&s.addr, "/predict", &json!([record(i)]))),
            "t0"
        );
    }
    assert_eq!(promote(Some("s3cret")).status, 409);
    // The service keeps its name in URLs after the promotion (docs/production.md).
    assert_eq!(get(&s.addr, "/v2/models/final").status, 200);
    assert_eq!(s.metric("automl_canary_promotions_total"), 1.0);
    assert_eq!(s.stop(), 0);
    // Rollback by hand (the canary named by trial id, from the store): all to the primary.
    let s = serve(
        &f.dir,
        "rollback",
        &[
            "--store",
            "db",
            "--canary",
            "0:50",
            "--admin-token",
            "s3cret",
        ],
        &[],
    );
    let r = http(
        &s.addr,
        "POST",
        "/admin/canary/rollback",
        &[("Authorization", "Bearer s3cret")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["rolled_back"], json!("trial-0"));
    for i in 0..40 {
        assert_eq!(
            answered_by(&post_json(&s.addr, "/predict", &json!([record(i)]))),
            "study-1"
        );
    }
    assert_eq!(s.stop(), 0);
    // Without a token the admin endpoints are disabled.
    let s = serve(
        &f.dir,
        "noadmin",
        &["--model", "final.automl", "--canary", "t0.automl:10"],
        &[],
    );
    let r = http(
        &s.addr,
        "POST",
        "/admin/canary/rollback",
        &[("Authorization", "Bearer x")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(s.stop(), 0);
}

#[test]
fn a_failing_canary_is_rolled_back_automatically_and_clients_never_see_its_errors() {
    let f = fixture();
    let s = serve(
        &f.dir,
        "autoroll",
        &[
            "--model",
            "final.automl",
            "--canary",
            "plus.automl:50",
            "--canary-min-requests",
            "20",
        ],
        &[],
    );
    let want = post_json(&s.addr, "/predict", &one()).json();
    for _ in 0..100 {
        let r = post_json(&s.addr, "/predict", &one());
        assert_eq!(answered_by(&r), "final");
        assert_eq!(r.json()["predictions"], want["predictions"]);
    }
    assert_eq!(s.metric("automl_canary_rollbacks_total"), 1.0);
    assert_eq!(
        s.metric("automl_errors_total{model=\"plus\",role=\"canary\"}"),
        20.0
    );
    let mut bg = s.bg;
    let err = bg.wait_stderr("canary_auto_rolled_back", Duration::from_secs(10));
    assert!(err.contains("error rate 100.0 % over 20 requests"), "{err}");
}

#[test]
fn sigterm_under_load_finishes_every_accepted_request() {
    let f = fixture();
    let s = serve(
        &f.dir,
        "term",
        &["--model", "final.automl"],
        &[("AUTOML_TEST_REQUEST_DELAY_MS", "700")],
    );
    let want = post_json(&s.addr, "/predict", &one()).json();
    let addr = s.addr.clone();
    let body = one().to_string();
    // Eight requests held in flight, sent completely before the signal.
    let (tx, rx) = std::sync::mpsc::channel();
    let inflight: Vec<_> = (0..8)
        .map(|_| {
            let (addr, body, tx) = (addr.clone(), body.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                let req = format!(
                    "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                c.write_all(req.as_bytes()).unwrap();
                tx.send(()).unwrap();
                let mut raw = Vec::new();
                c.read_to_end(&mut raw).unwrap();
                parse_response(&raw)
            })
        })
        .collect();
    for _ in 0..8 {
        rx.recv().unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let code = s.stop();
    for h in inflight {
        let r = h
            .join()
            .unwrap()
            .expect("an in-flight request got no complete answer");
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), want);
    }
    assert_eq!(code, 0);
    // Afterwards the port is closed.
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn serve_holds_no_lock_and_a_locked_store_is_reported() {
    let f = fixture();
    // A copy of the store, so the fit below does not change the other tests' study.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("churn.csv");
    let data = data.to_str().unwrap();
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--max-trials",
            "2",
            "--space",
            "fast",
            "--quiet",
        ],
    )
    .ok();
    let s = serve(dir, "nolock", &["--store", "db"], &[]);
    // A new fit on the same store while it serves.
    run_in(
        dir,
        &[
            "fit",
            data,
            "--store",
            "db",
            "--max-trials",
            "2",
            "--space",
            "fast",
            "--quiet",
        ],
    )
    .ok();
    assert_eq!(post_json(&s.addr, "/predict", &one()).status, 200);
    assert_eq!(s.stop(), 0);
    // A fit holding the store: serve says so and exits 2; the exported file serves.
    let mut fit = spawn_in(
        dir,
        "longfit",
        &[
            "fit",
            data,
            "--store",
            "db",
            "--time-budget",
            "60",
            "--space",
            "fast",
            "--jobs",
            "1",
        ],
        &[],
    );
    let t0 = Instant::now();
    while !fit.stderr().contains("trial") && !fit.stdout().contains("trial") {
        assert!(
            fit.is_running() && t0.elapsed() < Duration::from_secs(30),
            "{}",
            fit.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = run_in(dir, &["serve", "--store", "db", "--port", "0", "--no-log"]);
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("--model FILE"), "{}", r.stderr());
    let model = f.dir.join("final.automl");
    let s = serve(dir, "file", &["--model", model.to_str().unwrap()], &[]);
    assert_eq!(post_json(&s.addr, "/predict", &one()).status, 200);
    assert_eq!(s.stop(), 0);
    fit.kill9();
}

/// Start `automl serve` with its prediction log in `dir/log` (no `--no-log`).
fn serve_logged(dir: &Path, name: &str, args: &[&str]) -> Server {
    let mut all = vec!["serve", "--port", "0", "--workers", "2", "--log-dir", "log"];
    all.extend_from_slice(args);
    let mut bg = spawn_in(dir, name, &all, &[]);
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(line) = bg.stdout().lines().find(|l| l.starts_with("serving ")) {
            let addr = line.rsplit_once("on http://").unwrap().1.trim().to_string();
            return Server { bg, addr };
        }
        assert!(bg.is_running() && Instant::now() < end, "{}", bg.stderr());
        std::thread::sleep(Duration::from_millis(30));
    }
}

#[test]
fn the_prediction_log_holds_primary_and_shadow_entries_and_events() {
    use automl_monitor::predlog::{LogFilter, LogRecord, Role, read_log};
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(f.dir.join("final.automl"), dir.join("final.automl")).unwrap();
    std::fs::copy(f.dir.join("t0.automl"), dir.join("t0.automl")).unwrap();
    let s = serve_logged(
        dir,
        "logged",
        &[
            "--model",
            "final.automl",
            "--shadow",
            "t0.automl",
            "--log-inputs",
        ],
    );
    for i in 0..5 {
        assert_eq!(
            post_json(&s.addr, "/predict", &json!([record(i), record(i + 1)])).status,
            200
        );
    }
    s.wait_metric("automl_requests_total{model=\"t0\",role=\"shadow\"}", 5.0);
    assert_eq!(s.stop(), 0);
    let log = read_log(&dir.join("log"), &LogFilter::default()).unwrap();
    let preds: Vec<_> = log
        .iter()
        .filter_map(|r| match r {
            LogRecord::Prediction(p) => Some(p),
            _ => None,
        })
        .collect();
    let primary: Vec<_> = preds.iter().filter(|p| p.role == Role::Primary).collect();
    let shadow: Vec<_> = preds.iter().filter(|p| p.role == Role::Shadow).collect();
    assert_eq!(primary.len(), 5);
    assert_eq!(shadow.len(), 5);
    for p in &primary {
        assert_eq!(
            (p.source.as_str(), p.model.as_str(), p.rows),
            ("serve", "final", 2)
        );
        assert_eq!(p.row_hashes.len(), 2);
        assert_eq!(p.outputs.len(), 2);
        assert_eq!(p.inputs.as_ref().map(Vec::len), Some(2));
        let twin = shadow
            .iter()
            .find(|s| s.request_id == p.request_id)
            .unwrap();
        assert_eq!(twin.row_hashes, p.row_hashes);
    }
    let events: Vec<String> = log
        .iter()
        .filter_map(|r| match r {
            LogRecord::Event(e) => Some(e.event.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(events, ["started", "stopped"]);
    // serve-report reads the same log: the primary and the shadow, compared row by row.
    let r = crate::util::run_in(
        dir,
        &["serve-report", "--log-dir", "log", "--format", "json"],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    let shadows = v["shadows"].as_array().unwrap();
    assert_eq!(shadows.len(), 1, "{v}");
    assert_eq!(shadows[0]["model"], "t0", "{v}");
    assert_eq!(shadows[0]["against"][0], "final", "{v}");
    assert_eq!(shadows[0]["rows"], 10, "{v}");
}

#[test]
fn drift_over_the_served_traffic_on_demand_and_every_n_rows() {
    use automl_monitor::predlog::{LogFilter, LogRecord, read_log};
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(f.dir.join("final.automl"), dir.join("final.automl")).unwrap();
    let s = serve_logged(
        dir,
        "drift",
        &[
            "--model",
            "final.automl",
            "--drift-window",
            "400",
            "--drift-every",
            "300",
        ],
    );
    let r = get(&s.addr, "/drift");
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("window is empty"), "{}", r.text());
    // The training rows themselves, in batches of 100: no drift.
    let rows = churn_records();
    for chunk in rows.chunks(100) {
        let body = Value::Array(chunk.iter().cloned().map(Value::Object).collect());
        assert_eq!(post_json(&s.addr, "/predict", &body).status, 200);
    }
    let r = get(&s.addr, "/drift");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(v["model"], "final");
    assert_eq!(v["window_rows"], 400, "the last 4 requests of 100 rows");
    assert_eq!(v["report"]["drift"], false, "{v}");
    assert_eq!(v["report"]["n_new"], 400);
    // The same rows with monthly charges tripled: drift, in that column.
    for chunk in rows[..400].chunks(100) {
        let body = Value::Array(
            chunk
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    // (a missing value stays missing)
                    if let Some(x) = r["monthly_charges"].as_f64() {
                        r.insert("monthly_charges".into(), json!(x * 3.0));
                    }
                    Value::Object(r)
                })
                .collect(),
        );
        assert_eq!(post_json(&s.addr, "/predict", &body).status, 200);
    }
    let v: Value = serde_json::from_str(&get(&s.addr, "/drift").text()).unwrap();
    assert_eq!(v["report"]["drift"], true, "{v}");
    let flagged: Vec<&str> = v["report"]["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(flagged.contains(&"monthly_charges"), "{flagged:?}");
    assert_eq!(s.metric("automl_drift_detected{model=\"final\"}"), 1.0);
    // 1000 rows answered with a check every 300: besides the 2 asked for, automatic checks
    // ran (at least the first; a trigger that comes during a check is merged into the next).
    assert!(s.wait_metric("automl_drift_checks_total", 3.0) >= 3.0);
    assert_eq!(s.stop(), 0);
    let checks: Vec<bool> = read_log(&dir.join("log"), &LogFilter::default())
        .unwrap()
        .iter()
        .filter_map(|r| match r {
            LogRecord::Drift(d) if d.source == "serve" && d.model == "final" => {
                d.report["drift"].as_bool()
            }
            _ => None,
        })
        .collect();
    assert!(checks.len() >= 3, "{checks:?}");
    assert!(
        checks.contains(&true) && checks.contains(&false),
        "{checks:?}"
    );
}

#[test]
fn a_request_past_the_timeout_is_a_504_json_error_and_the_server_goes_on() {
    let f = fixture();
    // Every /predict is held 1.5 s (test hook) and the timeout is 0.3 s.
    let s = serve(
        &f.dir,
        "timeout",
        &["--model", "final.automl", "--timeout", "0.3"],
        &[("AUTOML_TEST_REQUEST_DELAY_MS", "1500")],
    );
    let r = post_json(&s.addr, "/predict", &one());
    assert_eq!(r.status, 504, "{}", r.text());
    let v: Value = serde_json::from_str(&r.text()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("--timeout"), "{v}");
    // Routes without the hold still answer.
    assert_eq!(get(&s.addr, "/v2/health/live").status, 200);
    assert_eq!(s.metric("automl_http_responses_total{code=\"504\"}"), 1.0);
    assert_eq!(s.stop(), 0);
}

#[test]
fn serve_help_shows_the_documented_defaults_and_endpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), &["serve", "--help"]).ok().stdout();
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "--port <N> Port to listen on (0 = any free port; the bound port is printed) [default: 8080]",
        "[default: 127.0.0.1]",
        "[default: 16MiB]",
        "then 504 [default: 30]",
        "percentage... [default: 5]",
        "canary requests [default: 20]",
        "dropped and counted [default: 1024]",
        "(`GET /drift`) [default: 10000]",
        "(0: only on `GET /drift`) [default: 10000]",
        "STORE/predictions for a store directory, ./automl-predictions",
        "POST /predict",
        "/v2/models/NAME/infer",
        "GET /metrics",
        "X-Request-Key",
    ] {
        assert!(flat.contains(want), "`{want}` not in:\n{out}");
    }
}
