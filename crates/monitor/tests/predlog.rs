//! The prediction log: writers sharing a directory, rotation, torn lines, filters, row hashes
//! and the serving report's figures.

use automl_data::{Column, Frame};
use automl_monitor::MonitorError;
use automl_monitor::predlog::*;
use serde_json::json;
use std::path::Path;

fn pred(ts: u64, model: &str, role: Role, req: &str, outputs: Vec<serde_json::Value>) -> LogRecord {
    LogRecord::Prediction(PredictionEntry {
        ts_ms: ts,
        source: "serve".into(),
        model: model.into(),
        role,
        request_id: req.into(),
        rows: outputs.len(),
        row_hashes: vec![0; outputs.len()],
        inputs: None,
        outputs,
        latency_us: 1000 * ts,
        error: None,
    })
}

fn segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn two_writers_interleave_in_their_own_segments_and_merge_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..2u64)
        .map(|w| {
            let d = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut log = LogWriter::open(&d, LogOptions::default()).unwrap();
                for i in 0..50u64 {
                    let ts = i * 2 + w; // writer 0 even, writer 1 odd times
                    log.append(&pred(
                        ts,
                        &format!("m{w}"),
                        Role::Primary,
                        &format!("{w}-{i}"),
                        vec![json!(i)],
                    ))
                    .unwrap();
                }
                log.flush().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(segments(dir.path()).len(), 2, "one segment per writer");
    let all = read_log(dir.path(), &LogFilter::default()).unwrap();
    assert_eq!(all.len(), 100);
    let ts: Vec<u64> = all.iter().map(LogRecord::ts_ms).collect();
    assert_eq!(ts, (0..100).collect::<Vec<u64>>());
}

#[test]
fn segments_rotate_at_64_mib_by_default() {
    // docs/production.md promises it.
    assert_eq!(LogOptions::default().segment_bytes, 64 << 20);
}

#[test]
fn rotation_starts_new_segments_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogWriter::open(dir.path(), LogOptions { segment_bytes: 300 }).unwrap();
    for i in 0..20 {
        log.append(&pred(i, "m", Role::Batch, "r", vec![json!("yes")]))
            .unwrap();
    }
    log.flush().unwrap();
    let segs = segments(dir.path());
    assert!(segs.len() >= 5, "{} segments", segs.len());
    for s in &segs {
        // Each segment is closed once it reaches the limit: at most one line beyond it.
        let text = std::fs::read_to_string(s).unwrap();
        let longest = text.lines().map(str::len).max().unwrap() as u64 + 1;
        assert!((text.len() as u64) < 300 + longest, "{} bytes", text.len());
    }
    let all = read_log(dir.path(), &LogFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(LogRecord::ts_ms).collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>()
    );
}

#[test]
fn a_torn_last_line_is_skipped_but_garbage_elsewhere_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    log.append(&pred(1, "m", Role::Batch, "a", vec![json!(1)]))
        .unwrap();
    log.append(&pred(2, "m", Role::Batch, "b", vec![json!(2)]))
        .unwrap();
    log.flush().unwrap();
    let seg = log.segment().unwrap().to_path_buf();
    drop(log);
    let good = std::fs::read_to_string(&seg).unwrap();
    std::fs::write(
        &seg,
        format!("{good}{{\"kind\":\"prediction\",\"ts_ms\":3,\"sou"),
    )
    .unwrap();
    assert_eq!(
        read_log(dir.path(), &LogFilter::default()).unwrap().len(),
        2
    );

    std::fs::write(&seg, format!("not json\n{good}")).unwrap();
    match read_log(dir.path(), &LogFilter::default()) {
        Err(MonitorError::Corrupt(m)) => {
            assert!(m.contains(&format!("{}:1:", seg.display())), "{m}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // A missing directory is an empty log.
    assert!(
        read_log(&dir.path().join("nope"), &LogFilter::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn filter_by_time_and_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogWriter::open(dir.path(), LogOptions::default()).unwrap();
    for i in 0..10 {
        let m = if i % 2 == 0 { "a" } else { "b" };
        log.append(&pred(i, m, Role::Primary, &i.to_string(), vec![json!(0)]))
            .unwrap();
    }
    log.append(&LogRecord::Event(EventEntry {
        ts_ms: 11,
        event: "started".into(),
        model: "a".into(),
        detail: String::new(),
    }))
    .unwrap();
    log.flush().unwrap();
    let f = LogFilter {
        since_ms: Some(5),
        model: Some("a".into()),
    };
    let got: Vec<u64> = read_log(dir.path(), &f)
        .unwrap()
        .iter()
        .map(LogRecord::ts_ms)
        .collect();
    assert_eq!(got, vec![6, 8, 11]);
}

#[test]
fn row_hashes_ignore_category_numbering_and_column_order() {
    let a = Frame::new(vec![
        Column::numeric("x", vec![1.0, 2.0, f64::NAN]),
        Column::categorical("c", &[Some("red"), Some("blue"), None]),
    ]);
    // Same rows, other level set (other codes), other column order, rows permuted.
    let b = Frame::new(vec![
        Column::categorical("c", &[Some("blue"), Some("red"), Some("aqua"), None]),
        Column::numeric("x", vec![2.0, 1.0, 1.0, f64::NAN]),
    ]);
    let ha = row_hashes(&a);
    let hb = row_hashes(&b);
    assert_eq!(ha[0], hb[1]);
    assert_eq!(ha[1], hb[0]);
    assert_eq!(ha[2], hb[3]);
    assert_ne!(ha[0], hb[2]);
    assert_ne!(ha[0], ha[1]);
    // A fixed function (FNV-1a 64 of `x`, 0, tag 1, the bits of 1.0): the same in every run
    // and version, and in serve and predict.
    let one = Frame::new(vec![Column::numeric("x", vec![1.0])]);
    assert_eq!(row_hashes(&one), vec![0xe0d8_5cc5_b2f1_39b1]);
}

#[test]
fn report_counts_agreement_canary_share_and_percentiles() {
    let mut recs = vec![
        // 4 requests: primary p answers 3, canary c answers 1; shadow s scores all 4.
        pred(1, "p", Role::Primary, "r1", vec![json!("yes"), json!("no")]),
        pred(2, "s", Role::Shadow, "r1", vec![json!("yes"), json!("yes")]),
        pred(3, "p", Role::Primary, "r2", vec![json!(1.0)]),
        pred(4, "s", Role::Shadow, "r2", vec![json!(1.0 + 1e-12)]),
        pred(5, "c", Role::Canary, "r3", vec![json!(2.0), json!(3.0)]),
        pred(6, "s", Role::Shadow, "r3", vec![json!(2.0), json!(3.1)]),
        pred(7, "s", Role::Shadow, "r-none", vec![json!(0)]),
    ];
    let mut failed = pred(8, "p", Role::Primary, "r4", vec![]);
    if let LogRecord::Prediction(e) = &mut failed {
        e.error = Some("boom".into());
    }
    recs.push(failed);
    recs.push(LogRecord::Drift(DriftEntry {
        ts_ms: 9,
        source: "drift".into(),
        model: "p".into(),
        report: json!({"drift": true, "columns": [{"name": "x", "flagged": true}, {"name": "y", "flagged": false}]}),
    }));
    let r = serve_report(&recs);
    let p = r.models.iter().find(|m| m.model == "p").unwrap();
    assert_eq!((p.requests, p.rows, p.errors), (3, 3, 1));
    assert!((p.error_rate - 1.0 / 3.0).abs() < 1e-12);
    // latencies 1, 3, 8 ms: nearest rank p50 = 3, p90 = p99 = 8.
    assert_eq!(
        (p.latency_ms_p50, p.latency_ms_p90, p.latency_ms_p99),
        (3.0, 8.0, 8.0)
    );
    let s = &r.shadows[0];
    assert_eq!(s.model, "s");
    assert_eq!(s.against, vec!["c".to_string(), "p".to_string()]);
    assert_eq!(
        (s.requests, s.rows, s.agreeing_rows, s.unmatched),
        (3, 5, 3, 1)
    );
    assert_eq!(s.agreement, Some(0.6));
    assert_eq!(r.canaries.len(), 1);
    assert_eq!(r.canaries[0].requests, 1);
    assert_eq!(r.canaries[0].share, 0.25); // r1, r2, r4 primary + r3 canary
    assert_eq!(r.drift[0].drift, Some(true));
    assert_eq!(r.drift[0].flagged, vec!["x".to_string()]);
    assert_eq!((r.from_ms, r.to_ms), (Some(1), Some(9)));
}

#[test]
fn percentile_is_nearest_rank() {
    let xs: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&xs, 50.0), 50.0);
    assert_eq!(percentile(&xs, 99.0), 99.0);
    assert_eq!(percentile(&xs, 100.0), 100.0);
    assert_eq!(percentile(&[], 50.0), 0.0);
    assert_eq!(percentile(&[7.0], 1.0), 7.0);
}
