//! Every metric checked against the scikit-learn reference cases in
//! ../shared/bench/reference/metric-cases.json, to 1e-9.

use automl_core::{Metric, Predictions};
use ndarray::Array2;
use serde_json::Value;
use std::path::Path;

fn cases() -> Option<Vec<Value>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench/reference/metric-cases.json");
    let text = std::fs::read_to_string(&p).ok()?;
    let v: Value = serde_json::from_str(&text).expect("valid json");
    Some(v["cases"].as_array().expect("cases").clone())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn metrics_match_scikit_learn_reference_cases() {
    let Some(cases) = cases() else {
        eprintln!("metric-cases.json not found beside the repo; skipping");
        return;
    };
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate() {
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
            other => panic!("unknown kind {other}"),
        };
        for (name, expected) in case["expected"].as_object().unwrap() {
            let m =
                Metric::from_name(name).unwrap_or_else(|| panic!("metric {name} not implemented"));
            let got = m.compute(&y, &pred, k);
            let want = expected.as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-9,
                "case {i} {name}: got {got}, sklearn {want}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} values checked");
}

#[test]
fn directions_and_defaults() {
    use automl_core::Task;
    assert_eq!(Metric::default_for(Task::Binary), Metric::RocAuc);
    assert_eq!(Metric::default_for(Task::Multiclass), Metric::LogLoss);
    assert_eq!(Metric::default_for(Task::Regression), Metric::Rmse);
    assert!(Metric::RocAuc.higher_is_better() && !Metric::LogLoss.higher_is_better());
    assert!(Metric::Rmse.better(1.0, 2.0) && Metric::R2.better(0.9, 0.5));
    assert!(!Metric::Rmse.better(f64::NAN, 2.0) && Metric::Rmse.better(2.0, f64::NAN));
    assert!(!Metric::RocAuc.applies_to(Task::Regression));
    for m in Metric::ALL {
        assert_eq!(Metric::from_name(m.name()), Some(m));
    }
}
