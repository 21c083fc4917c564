//! Every metric checked against scikit-learn reference cases, to 1e-9: the cases copied into
//! `tests/fixtures/metric-cases.json` always. An ignored test (run by `.ci/run` where the shared
//! bench folder is beside the repo, `../shared/bench/reference/metric-cases.json`) checks every
//! case of the source too, and that the fixture still matches it.
//!
//! Regenerate the fixture from the source: `AUTOML_UPDATE_FIXTURES=1 cargo test -p automl-core
//! --test metric_cases -- --ignored`.

use automl_core::{Metric, Predictions};
use ndarray::Array2;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Cases larger than this (as JSON) stay out of the fixture (the 2000-row, 10-class case).
const MAX_CASE_BYTES: usize = 100_000;

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/metric-cases.json")
}

fn source_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/reference/metric-cases.json")
}

fn read(p: &Path) -> Value {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).expect("valid json")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Check every metric of one case; returns how many values were checked.
fn check_case(what: &str, case: &Value) -> usize {
    let y = floats(&case["y_true"]);
    let (pred, k) = match case["kind"].as_str().unwrap() {
        "binary" => {
            let p = floats(&case["proba_positive"]);
            let mut a = Array2::zeros((p.len(), 2));
            for (r, x) in p.iter().enumerate() {
                a[(r, 0)] = 1.0 - x;
                a[(r, 1)] = *x;
            }
            (Predictions::from_proba(a), 2)
        }
        "multiclass" => {
            let rows = case["proba"].as_array().unwrap();
            let k = rows[0].as_array().unwrap().len();
            let mut a = Array2::zeros((rows.len(), k));
            for (r, row) in rows.iter().enumerate() {
                for (c, x) in floats(row).into_iter().enumerate() {
                    a[(r, c)] = x;
                }
            }
            (Predictions::from_proba(a), k)
        }
        "regression" => (Predictions::regression(floats(&case["y_pred"])), 0),
        other => panic!("{what}: unknown kind {other}"),
    };
    let mut checked = 0;
    for (name, expected) in case["expected"].as_object().unwrap() {
        let m = Metric::from_name(name).unwrap_or_else(|| panic!("metric {name} not implemented"));
        let got = m.compute(&y, &pred, k);
        let want = expected.as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9,
            "{what} {name}: got {got}, sklearn {want}"
        );
        checked += 1;
    }
    checked
}

/// The fixture as built from the source: the small cases, each with its index in the source.
fn fixture_from(source: &Value) -> Value {
    let cases: Vec<Value> = source["cases"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, c)| serde_json::to_string(c).unwrap().len() <= MAX_CASE_BYTES)
        .map(|(i, c)| {
            let mut c = c.clone();
            c["source_index"] = json!(i);
            c
        })
        .collect();
    json!({
        "source": "shared/bench/reference/metric-cases.json (beside the repo), written by shared/bench/reference/make_metric_cases.py",
        "note": "Every case of the source up to 100 kB of JSON, unchanged, with its index in the source. Regenerate: AUTOML_UPDATE_FIXTURES=1 cargo test -p automl-core --test metric_cases -- --ignored (needs the shared folder beside the repo).",
        "generator": source["generator"],
        "cases": cases,
    })
}

/// Where two JSON values differ (numbers compared to 1 part in 1e15: this test's JSON parser is
/// not exact to the last bit), or None.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            ((x - y).abs() > 1e-15 * x.abs().max(1.0)).then(|| format!("{at}: {x} vs {y}"))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} vs {} items", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (x, y))| first_difference(x, y, &format!("{at}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.keys().ne(y.keys()) {
                return Some(format!("{at}: keys differ"));
            }
            x.iter()
                .find_map(|(k, v)| first_difference(v, &y[k], &format!("{at}.{k}")))
        }
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

#[test]
fn metrics_match_scikit_learn_reference_cases() {
    let fixture = read(&fixture_path());
    let cases = fixture["cases"].as_array().expect("cases");
    let mut checked = 0;
    for case in cases {
        let what = format!("fixture case {}", case["source_index"]);
        checked += check_case(&what, case);
    }
    assert!(checked >= 40, "only {checked} values checked");
    let kinds: Vec<&str> = cases.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    for kind in ["binary", "multiclass", "regression"] {
        assert!(kinds.contains(&kind), "no {kind} case in the fixture");
    }
}

/// Needs the shared bench folder beside the repo, so a bare clone skips it (ignored, not
/// passed); `.ci/run` runs it with `--ignored` when the folder is there.
#[test]
#[ignore = "needs ../shared/bench beside the repo; `.ci/run` runs it when present"]
fn fixture_matches_the_shared_reference() {
    let src = source_path();
    assert!(
        src.is_file(),
        "{} not found: this check compares the fixture with its source",
        src.display()
    );
    let source = read(&src);
    let want = fixture_from(&source);
    if std::env::var_os("AUTOML_UPDATE_FIXTURES").is_some() {
        std::fs::write(fixture_path(), serde_json::to_string(&want).unwrap() + "\n").unwrap();
    }
    let fixture = read(&fixture_path());
    if let Some(at) = first_difference(&fixture["cases"], &want["cases"], "cases") {
        panic!(
            "tests/fixtures/metric-cases.json drifted from {} at {at}; regenerate it (see the top of this file)",
            src.display()
        );
    }
    for (i, case) in source["cases"].as_array().unwrap().iter().enumerate() {
        check_case(&format!("source case {i}"), case);
    }
}
