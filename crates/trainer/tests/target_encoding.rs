//! `cat_encoding = target` in cross-validation: no leakage (a column of per-row ids scores
//! at chance, where an encoding that saw the validation labels scores perfectly), the kind is
//! cached per fold and chosen by the parameter, and the final refit predicts unseen levels.

use automl_core::{Candidate, Metric, ParamValue, Params, PrepKind, Rng, Task, TrialState};
use automl_data::target_encode::Target;
use automl_data::{Column, Frame, Preprocessor};
use automl_trainer::{CvConfig, TrainingData, evaluate, fit_full};
use std::sync::Arc;

fn logistic(cat: Option<&str>) -> Candidate {
    let mut p = Params::new();
    p.insert("alpha".into(), ParamValue::Float(1e-3));
    p.insert("max_iterations".into(), ParamValue::Int(100));
    if let Some(c) = cat {
        p.insert("cat_encoding".into(), ParamValue::Str(c.into()));
    }
    Candidate::new("logistic", p, "test")
}

/// A random binary target and a column holding a distinct id per row.
fn ids(n: usize) -> (Frame, Vec<f64>) {
    let mut rng = Rng::new(3);
    let y: Vec<f64> = (0..n).map(|_| rng.below(2) as f64).collect();
    let id: Vec<Option<String>> = (0..n).map(|i| Some(format!("id{i}"))).collect();
    (Frame::new(vec![Column::categorical("id", &id)]), y)
}

#[test]
fn a_validation_rows_encoding_never_uses_its_own_label() {
    let n = 400;
    let (f, y) = ids(n);
    let data = TrainingData::new(
        Arc::new(f.clone()),
        y.clone(),
        Task::Binary,
        2,
        Metric::RocAuc,
        &CvConfig::default(),
    );
    // Leaky: the encoding fitted on every row (validation rows included) scores each fold's
    // validation rows perfectly by itself.
    let all: Vec<usize> = (0..n).collect();
    let t = Target {
        y: &y,
        n_classes: 2,
        seed: 0,
    };
    let (leaky, _) = Preprocessor::fit_target(&f, &all, PrepKind::DenseTarget, &t).unwrap();
    for fold in &data.folds {
        let x = leaky.transform_rows(&f, &fold.split.valid).unwrap();
        let pred = automl_core::Predictions::from_proba(ndarray::Array2::from_shape_fn(
            (x.nrows(), 2),
            |(r, c)| if c == 1 { x[[r, 0]] } else { 1.0 - x[[r, 0]] },
        ));
        assert_eq!(Metric::RocAuc.compute(&fold.y_valid, &pred, 2), 1.0);
    }
    // Inside the folds: at chance.
    let ev = evaluate(&data, &logistic(Some("target")), 1, None);
    assert_eq!(ev.state, TrialState::Complete, "{:?}", ev.error);
    assert!(ev.mean < 0.62, "leaky CV score {}", ev.mean);
    // The target kind was cached as its own kind, beside the onehot one.
    let p = data.prepared(0, PrepKind::ScaledTarget).unwrap();
    assert_eq!(p.prep.kind(), PrepKind::ScaledTarget);
    assert_eq!(p.prep.output_names(), ["id__te"]);
}

#[test]
fn target_encoding_helps_where_the_level_carries_the_signal_and_is_deterministic() {
    // 40 levels, each with its own P(y = 1) of 0.1 or 0.9.
    let mut rng = Rng::new(9);
    let n = 600;
    let mut cat = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let l = rng.below(40);
        cat.push(Some(format!("L{l}")));
        let p = if (l * 7) % 3 == 0 { 0.9 } else { 0.1 };
        y.push(f64::from(rng.bernoulli(p)));
    }
    let f = Frame::new(vec![Column::categorical("cat", &cat)]);
    let data = TrainingData::new(
        Arc::new(f.clone()),
        y.clone(),
        Task::Binary,
        2,
        Metric::RocAuc,
        &CvConfig::default(),
    );
    let onehot = evaluate(&data, &logistic(None), 1, None);
    let explicit = evaluate(&data, &logistic(Some("onehot")), 1, None);
    let target = evaluate(&data, &logistic(Some("target")), 1, None);
    let again = evaluate(&data, &logistic(Some("target")), 1, None);
    assert_eq!(onehot.fold_scores, explicit.fold_scores);
    assert_eq!(target.fold_scores, again.fold_scores);
    assert!(
        target.mean > onehot.mean + 0.1,
        "target {} vs frequency {}",
        target.mean,
        onehot.mean
    );
    // The refit predicts new rows, unseen and missing levels included (the prior).
    let p = fit_full(&f, &y, Task::Binary, 2, &logistic(Some("target")), 1, None).unwrap();
    assert_eq!(p.prep.kind(), PrepKind::ScaledTarget);
    let new = Frame::new(vec![Column::categorical(
        "cat",
        &[Some("L0"), Some("unseen"), None],
    )]);
    let pred = p.predict(&new).unwrap();
    let proba = pred.proba.unwrap();
    assert!(proba[[0, 1]] > 0.7, "L0 is a 0.9 level: {}", proba[[0, 1]]);
    assert!((proba[[1, 1]] - proba[[2, 1]]).abs() < 1e-12);
    // A tree family refuses it; a bad value fails the trial.
    let mut bad = logistic(Some("hash"));
    assert_eq!(evaluate(&data, &bad, 1, None).state, TrialState::Failed);
    bad.family = "gbdt".into();
    bad.params.clear();
    bad.params
        .insert("cat_encoding".into(), ParamValue::Str("target".into()));
    assert_eq!(evaluate(&data, &bad, 1, None).state, TrialState::Failed);
}
