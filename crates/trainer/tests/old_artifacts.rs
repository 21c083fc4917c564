//! Artifacts written before `cat_encoding` existed (a committed fixture: a bag of logistic
//! fold pipelines with one-hot, frequency-encoded and numeric inputs, encoded by the code of
//! that time) still decode and predict as the same candidate fitted today: the same classes,
//! and the same probabilities up to the solver (the fixture's fold models were fitted by
//! linfa-logistic, today's by our own L-BFGS; measured: the probabilities differ by 5e-7).

use automl_core::{Candidate, ParamValue, Params, Rng, Task};
use automl_data::{Column, Frame};
use automl_trainer::{Predictor, PredictorInfo, fit_full};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bag_before_cat_encoding.bin"
);

/// 120 rows: a numeric column with missing values, a 3-level and a 15-level categorical,
/// and a binary target that depends on all three.
fn frame() -> (Frame, Vec<f64>) {
    let mut rng = Rng::new(7);
    let n = 120;
    let mut num = Vec::new();
    let mut low = Vec::new();
    let mut high = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let x = rng.normal();
        num.push(if i % 17 == 0 { f64::NAN } else { x });
        let l = rng.below(3);
        low.push(Some(format!("c{l}")));
        let h = rng.below(15);
        high.push(if i % 23 == 0 {
            None
        } else {
            Some(format!("h{h:02}"))
        });
        let s = x + l as f64 * 0.5 + if h < 7 { 1.0 } else { -1.0 } + rng.normal();
        y.push(if s > 0.5 { 1.0 } else { 0.0 });
    }
    let f = Frame::new(vec![
        Column::numeric("num", num),
        Column::categorical("low", &low),
        Column::categorical("high", &high),
    ]);
    (f, y)
}

fn candidate() -> Candidate {
    let mut params = Params::new();
    params.insert("alpha".into(), ParamValue::Float(1e-3));
    params.insert("max_iterations".into(), ParamValue::Int(100));
    Candidate::new("logistic", params, "default")
}

#[test]
#[ignore = "writes the fixture; run once with the code before cat_encoding"]
fn write_fixture() {
    let (f, y) = frame();
    let p = fit_full(&f, &y, Task::Binary, 2, &candidate(), 3, None).unwrap();
    let info = PredictorInfo {
        task: Task::Binary,
        n_classes: 2,
    };
    let bytes = Predictor::Bag(vec![p]).to_bytes(info).unwrap();
    std::fs::write(FIXTURE, bytes).unwrap();
}

#[test]
fn an_artifact_written_before_cat_encoding_decodes_and_predicts_as_today() {
    let bytes = std::fs::read(FIXTURE).unwrap();
    let (old, info) = Predictor::from_bytes(&bytes).unwrap();
    assert_eq!(info.task, Task::Binary);
    let (f, y) = frame();
    // A configuration without `cat_encoding` means `onehot`: today's fit is the same model.
    let today = fit_full(&f, &y, Task::Binary, 2, &candidate(), 3, None).unwrap();
    let a = old.predict(&f, info).unwrap();
    let b = Predictor::Bag(vec![today]).predict(&f, info).unwrap();
    assert_eq!(a.values, b.values);
    let (pa, pb) = (a.proba.unwrap(), b.proba.unwrap());
    let diff = (&pa - &pb).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(diff < 1e-5, "probabilities differ by {diff}");
    // Unseen and missing levels still predict.
    let new = Frame::new(vec![
        Column::numeric("num", vec![0.1, f64::NAN]),
        Column::categorical("low", &[Some("zz"), None]),
        Column::categorical("high", &[Some("never"), None]),
    ]);
    assert_eq!(old.predict(&new, info).unwrap().len(), 2);
}
