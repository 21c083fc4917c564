//! Conformance tests run against every registered family: roundtrip, determinism,
//! probabilities, quality above a constant baseline, parameter and input validation.

use automl_core::{Metric, ParamValue, Params, Predictions, Rng, Task};
use automl_models::families::{
    decision_tree::DecisionTreeModel, knn::KnnModel, linear::LinearModel, logistic::LogisticModel,
    naive_bayes::NaiveBayesModel, svm::SvmModel,
};
use automl_models::{Family, FitInput, Model, ModelError, registry};
use ndarray::Array2;

/// A synthetic dataset with a train / test split.
struct Data {
    x: Array2<f64>,
    y: Vec<f64>,
    xt: Array2<f64>,
    yt: Vec<f64>,
    task: Task,
    n_classes: usize,
}

/// Gaussian blobs: class c centred at `sep` * e_(c mod d) (+ sign flips), unit noise.
fn blobs(n: usize, d: usize, k: usize, sep: f64, seed: u64) -> Data {
    let mut rng = Rng::new(seed);
    let mut make = |n: usize| {
        let mut x = Array2::zeros((n, d));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % k;
            for j in 0..d {
                let centre = if j == c % d {
                    if c >= d { -sep } else { sep }
                } else {
                    0.0
                };
                x[[i, j]] = centre + rng.normal();
            }
            y.push(c as f64);
        }
        (x, y)
    };
    let (x, y) = make(n);
    let (xt, yt) = make(n / 2);
    Data {
        x,
        y,
        xt,
        yt,
        task: if k == 2 {
            Task::Binary
        } else {
            Task::Multiclass
        },
        n_classes: k,
    }
}

/// y = 3 x0 - 2 x1 + x2 + 5 + 0.5 noise, plus irrelevant columns.
fn linear_signal(n: usize, d: usize, seed: u64) -> Data {
    let mut rng = Rng::new(seed);
    let mut make = |n: usize| {
        let mut x = Array2::zeros((n, d));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            for j in 0..d {
                x[[i, j]] = rng.normal();
            }
            y.push(3.0 * x[[i, 0]] - 2.0 * x[[i, 1]] + x[[i, 2]] + 5.0 + 0.5 * rng.normal());
        }
        (x, y)
    };
    let (x, y) = make(n);
    let (xt, yt) = make(n / 2);
    Data {
        x,
        y,
        xt,
        yt,
        task: Task::Regression,
        n_classes: 0,
    }
}

fn input<'a>(d: &'a Data, seed: u64) -> FitInput<'a> {
    FitInput::new(d.x.view(), &d.y, d.task, d.n_classes, seed)
}

fn datasets() -> Vec<Data> {
    vec![
        blobs(240, 4, 2, 1.5, 1),
        blobs(300, 5, 3, 2.5, 2),
        blobs(320, 3, 4, 3.0, 3),
        linear_signal(300, 6, 4),
    ]
}

/// The families of this crate's own zoo (the tree engine's families take `PrepKind::Tree`
/// input, where NaN means missing, and have their own conventions and tests).
fn zoo(task: Task) -> Vec<&'static dyn Family> {
    registry()
        .families_for(task)
        .into_iter()
        .filter(|f| f.prep_kind() != automl_core::PrepKind::Tree)
        .collect()
}

fn fit(f: &dyn Family, d: &Data, params: &Params, seed: u64) -> Box<dyn Model> {
    f.fit(params, &input(d, seed))
        .unwrap_or_else(|e| panic!("{} on {}: {e}", f.name(), d.task))
}

fn check_shape(f: &dyn Family, d: &Data, p: &Predictions) {
    assert_eq!(p.len(), d.xt.nrows(), "{}", f.name());
    if d.task.is_classification() {
        let proba = p
            .proba
            .as_ref()
            .expect("classification returns probabilities");
        assert_eq!(proba.dim(), (d.xt.nrows(), d.n_classes), "{}", f.name());
        for row in proba.rows() {
            let s: f64 = row.sum();
            assert!((s - 1.0).abs() < 1e-9, "{}: row sums to {s}", f.name());
            assert!(
                row.iter().all(|v| (0.0..=1.0).contains(v)),
                "{}: {row}",
                f.name()
            );
        }
    } else {
        assert!(p.proba.is_none());
        assert!(p.values.iter().all(|v| v.is_finite()), "{}", f.name());
    }
}

#[test]
fn roundtrip_gives_identical_predictions() {
    for d in datasets() {
        for f in registry().families_for(d.task) {
            let m = fit(f, &d, &Params::new(), 7);
            assert_eq!(m.family(), f.name());
            let p = m.predict(d.xt.view()).unwrap();
            check_shape(f, &d, &p);
            let bytes = m.to_bytes().unwrap();
            let back = registry().decode(f.name(), &bytes).unwrap();
            assert_eq!(
                back.predict(d.xt.view()).unwrap(),
                p,
                "{} on {}",
                f.name(),
                d.task
            );
            // Another family must refuse the bytes or at least not claim to be this family.
            assert!(registry().decode(f.name(), &[]).is_err());
            assert!(registry().decode(f.name(), &[99, 1, 2]).is_err());
        }
    }
}

#[test]
fn same_seed_same_model() {
    for d in datasets() {
        for f in registry().families_for(d.task) {
            let a = fit(f, &d, &Params::new(), 11);
            let b = fit(f, &d, &Params::new(), 11);
            assert_eq!(
                a.predict(d.xt.view()).unwrap(),
                b.predict(d.xt.view()).unwrap(),
                "{}",
                f.name()
            );
            // Naive Bayes keeps linfa's per-class HashMap, whose order is not fixed.
            if f.name() != "naive_bayes" {
                assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap(), "{}", f.name());
            }
        }
    }
}

#[test]
fn every_family_beats_the_constant_baseline() {
    for d in datasets() {
        for f in registry().families_for(d.task) {
            let m = fit(f, &d, &Params::new(), 3);
            let p = m.predict(d.xt.view()).unwrap();
            if d.task.is_classification() {
                let acc = Metric::Accuracy.compute(&d.yt, &p, d.n_classes);
                let majority = 1.0 / d.n_classes as f64; // balanced classes
                assert!(
                    acc > majority + 0.2,
                    "{} on {}: accuracy {acc}",
                    f.name(),
                    d.task
                );
                // A single unpruned tree has 0/1 leaf frequencies: its log loss can be large.
                if f.name() == "decision_tree" {
                    continue;
                }
                let ll = Metric::LogLoss.compute(&d.yt, &p, d.n_classes);
                assert!(
                    ll < (d.n_classes as f64).ln(),
                    "{} on {}: log loss {ll} not better than uniform",
                    f.name(),
                    d.task
                );
            } else {
                let r2 = Metric::R2.compute(&d.yt, &p, 0);
                assert!(r2 > 0.5, "{}: R2 {r2}", f.name());
            }
        }
    }
}

#[test]
fn linear_models_recover_the_coefficients() {
    let d = linear_signal(400, 4, 9);
    for name in ["linear", "ridge"] {
        let m = fit(registry().get(name).unwrap(), &d, &Params::new(), 0);
        let r2 = Metric::R2.compute(&d.yt, &m.predict(d.xt.view()).unwrap(), 0);
        assert!(r2 > 0.95, "{name}: R2 {r2}");
    }
    // A huge lasso penalty removes every feature: predictions are the target mean.
    let mut p = Params::new();
    p.insert("alpha".into(), ParamValue::Float(100.0));
    let m = fit(registry().get("lasso").unwrap(), &d, &p, 0);
    let mean = d.y.iter().sum::<f64>() / d.y.len() as f64;
    for v in m.predict(d.xt.view()).unwrap().values {
        assert!((v - mean).abs() < 1e-6, "{v} vs {mean}");
    }
}

#[test]
fn collinear_columns_do_not_break_least_squares() {
    // Duplicate a column (as one-hot encoding with every level does with the intercept).
    let mut d = linear_signal(200, 3, 5);
    let dup = |x: &Array2<f64>| {
        let mut out = Array2::zeros((x.nrows(), 4));
        for j in 0..3 {
            out.column_mut(j).assign(&x.column(j));
        }
        out.column_mut(3).assign(&x.column(0));
        out
    };
    d.x = dup(&d.x);
    d.xt = dup(&d.xt);
    let m = fit(registry().get("linear").unwrap(), &d, &Params::new(), 0);
    let r2 = Metric::R2.compute(&d.yt, &m.predict(d.xt.view()).unwrap(), 0);
    assert!(r2 > 0.9, "R2 {r2}");
}

#[test]
fn invalid_params_are_rejected() {
    let cases: &[(&str, &str, ParamValue)] = &[
        ("logistic", "alpha", ParamValue::Float(-1.0)),
        ("logistic", "max_iterations", ParamValue::Int(0)),
        ("naive_bayes", "var_smoothing", ParamValue::Float(0.0)),
        ("knn", "k", ParamValue::Int(0)),
        ("knn", "weights", ParamValue::Str("cosine".into())),
        ("svm", "c", ParamValue::Float(0.0)),
        ("svm", "kernel", ParamValue::Str("poly".into())),
        ("svm", "gamma_scale", ParamValue::Float(f64::NAN)),
        ("svm", "epsilon", ParamValue::Float(-0.1)),
        ("decision_tree", "max_depth", ParamValue::Int(0)),
        ("decision_tree", "min_samples_leaf", ParamValue::Float(2.5)),
        ("decision_tree", "criterion", ParamValue::Str("mse".into())),
        ("linear", "fit_intercept", ParamValue::Str("maybe".into())),
        ("ridge", "alpha", ParamValue::Str("big".into())),
        ("lasso", "alpha", ParamValue::Float(0.0)),
        ("elastic_net", "l1_ratio", ParamValue::Float(1.5)),
        ("elastic_net", "no_such_param", ParamValue::Int(1)),
    ];
    let cls = blobs(60, 3, 2, 2.0, 1);
    let reg = linear_signal(60, 3, 1);
    for (family, param, value) in cases {
        let f = registry().get(family).unwrap();
        let d = if f.tasks().contains(&Task::Binary) {
            &cls
        } else {
            &reg
        };
        let mut p = Params::new();
        p.insert(param.to_string(), value.clone());
        match f.fit(&p, &input(d, 0)) {
            Err(ModelError::InvalidParam { param: got, .. }) => assert_eq!(&got, param),
            Err(e) => panic!("{family}.{param}: wrong error {e}"),
            Ok(_) => panic!("{family}.{param} = {value} was accepted"),
        }
    }
}

#[test]
fn non_finite_inputs_are_errors_not_crashes() {
    for mut d in datasets() {
        d.x[[5, 1]] = f64::NAN;
        for f in zoo(d.task) {
            match f.fit(&Params::new(), &input(&d, 0)) {
                Err(ModelError::Data { .. }) => {}
                Err(e) => panic!("{}: wrong error {e}", f.name()),
                Ok(_) => panic!("{}: accepted NaN", f.name()),
            }
        }
        d.x[[5, 1]] = 0.0;
        d.xt[[0, 0]] = f64::INFINITY;
        for f in zoo(d.task) {
            let m = fit(f, &d, &Params::new(), 0);
            assert!(matches!(
                m.predict(d.xt.view()),
                Err(ModelError::Predict { .. })
            ));
            // Wrong column count.
            let narrow = d.xt.select(ndarray::Axis(1), &[0]);
            assert!(matches!(
                m.predict(narrow.view()),
                Err(ModelError::Predict { .. })
            ));
        }
    }
}

#[test]
fn unsupported_task_and_bad_labels_are_errors() {
    let reg = linear_signal(50, 3, 2);
    for name in ["logistic", "naive_bayes"] {
        let f = registry().get(name).unwrap();
        assert!(matches!(
            f.fit(&Params::new(), &input(&reg, 0)),
            Err(ModelError::UnsupportedTask { .. })
        ));
    }
    let mut cls = blobs(50, 3, 2, 2.0, 2);
    cls.y.iter_mut().for_each(|v| *v = 0.0);
    for f in zoo(Task::Binary) {
        assert!(
            matches!(
                f.fit(&Params::new(), &input(&cls, 0)),
                Err(ModelError::Data { .. })
            ),
            "{}: single class accepted",
            f.name()
        );
    }
    cls.y[0] = 2.5;
    cls.y[1] = 1.0;
    for f in zoo(Task::Binary) {
        assert!(matches!(
            f.fit(&Params::new(), &input(&cls, 0)),
            Err(ModelError::Data { .. })
        ));
    }
}

#[test]
fn classes_absent_from_training_get_little_probability() {
    // 4-class task whose training rows only hold classes 0, 1 and 3.
    let mut d = blobs(240, 4, 4, 3.0, 8);
    let keep: Vec<usize> = (0..d.y.len()).filter(|&i| d.y[i] != 2.0).collect();
    d.x = d.x.select(ndarray::Axis(0), &keep);
    d.y = keep.iter().map(|&i| d.y[i]).collect();
    for f in zoo(Task::Multiclass) {
        let m = fit(f, &d, &Params::new(), 0);
        let p = m.predict(d.xt.view()).unwrap();
        check_shape(f, &d, &p);
        let proba = p.proba.unwrap();
        // Zero, or only the smoothing mass (naive Bayes' proba_smoothing, a tree's m-estimate
        // leaves: at most 1/(2k) in a one-row leaf): small and never the predicted class.
        assert!(
            proba.column(2).iter().all(|v| *v <= 0.125 + 1e-12),
            "{}",
            f.name()
        );
        assert!(p.values.iter().all(|v| *v != 2.0), "{}", f.name());
    }
}

#[test]
fn every_non_default_choice_fits() {
    let cls = blobs(150, 3, 3, 2.5, 4);
    let reg = linear_signal(150, 3, 4);
    let s = |v: &str| ParamValue::Str(v.into());
    let cases: Vec<(&str, Vec<(&str, ParamValue)>)> = vec![
        (
            "knn",
            vec![("weights", s("distance")), ("k", ParamValue::Int(500))],
        ),
        (
            "svm",
            vec![("kernel", s("linear")), ("c", ParamValue::Float(10.0))],
        ),
        (
            "svm",
            vec![
                ("gamma_scale", ParamValue::Float(20.0)),
                ("epsilon", ParamValue::Float(0.5)),
            ],
        ),
        (
            "decision_tree",
            vec![
                ("criterion", s("entropy")),
                ("max_depth", ParamValue::Int(20)),
            ],
        ),
        (
            "decision_tree",
            vec![("min_samples_leaf", ParamValue::Int(50))],
        ),
        (
            "logistic",
            vec![
                ("alpha", ParamValue::Float(1e-5)),
                ("max_iterations", ParamValue::Int(300)),
            ],
        ),
        ("linear", vec![("fit_intercept", ParamValue::Bool(false))]),
        (
            "elastic_net",
            vec![
                ("l1_ratio", ParamValue::Float(0.05)),
                ("alpha", ParamValue::Float(10.0)),
            ],
        ),
    ];
    for (name, kv) in cases {
        let f = registry().get(name).unwrap();
        let params: Params = kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        for d in [&cls, &reg] {
            if !f.tasks().contains(&d.task)
                || (d.task == Task::Regression && params.contains_key("criterion"))
            {
                continue;
            }
            let m = fit(f, d, &params, 1);
            check_shape(f, d, &m.predict(d.xt.view()).unwrap());
        }
    }
}

#[test]
fn knn_with_k_one_memorises_and_distance_weights_exact_matches() {
    let d = blobs(100, 3, 3, 1.0, 5);
    for weights in ["uniform", "distance"] {
        let mut p = Params::new();
        p.insert(
            "k".into(),
            ParamValue::Int(if weights == "uniform" { 1 } else { 7 }),
        );
        p.insert("weights".into(), ParamValue::Str(weights.into()));
        let m = fit(registry().get("knn").unwrap(), &d, &p, 0);
        let pred = m.predict(d.x.view()).unwrap();
        assert_eq!(pred.values, d.y, "{weights}");
    }
}

#[test]
fn decision_tree_respects_limits_and_weights() {
    let d = blobs(200, 3, 2, 1.0, 6);
    let mut p = Params::new();
    p.insert("max_depth".into(), ParamValue::Int(1));
    let m = fit(registry().get("decision_tree").unwrap(), &d, &p, 0);
    assert_eq!(m.facts()["n_leaves"], "2");
    p.insert("max_depth".into(), ParamValue::Int(30));
    p.insert("min_samples_leaf".into(), ParamValue::Int(1));
    let m = fit(registry().get("decision_tree").unwrap(), &d, &p, 0);
    // A fully grown tree fits its (distinct-valued) training rows exactly.
    assert_eq!(m.predict(d.x.view()).unwrap().values, d.y);
    // Zero weight on class 1 rows: the tree predicts class 0 everywhere.
    let w: Vec<f64> =
        d.y.iter()
            .map(|v| if *v == 1.0 { 0.0 } else { 1.0 })
            .collect();
    let mut inp = input(&d, 0);
    inp.sample_weight = Some(&w);
    let m = registry()
        .get("decision_tree")
        .unwrap()
        .fit(&Params::new(), &inp)
        .unwrap();
    assert!(
        m.predict(d.xt.view())
            .unwrap()
            .values
            .iter()
            .all(|v| *v == 0.0)
    );
}

#[test]
fn svm_declares_and_enforces_its_row_limit() {
    let f = registry().get("svm").unwrap();
    let limit = f.max_rows().expect("svm declares a row limit");
    let d = blobs(limit + 1, 2, 2, 1.0, 1);
    assert!(matches!(
        f.fit(&Params::new(), &input(&d, 0)),
        Err(ModelError::Data { .. })
    ));
}

#[test]
fn passed_deadline_is_reported() {
    let d = blobs(100, 3, 2, 1.0, 1);
    for f in zoo(Task::Binary) {
        let mut inp = input(&d, 0);
        inp.deadline = Some(std::time::Instant::now());
        assert!(
            matches!(
                f.fit(&Params::new(), &inp),
                Err(ModelError::Deadline { .. })
            ),
            "{}",
            f.name()
        );
    }
}

#[test]
fn registry_is_complete_and_consistent() {
    let names: Vec<&str> = registry().families().iter().map(|f| f.name()).collect();
    for n in [
        "logistic",
        "naive_bayes",
        "knn",
        "svm",
        "decision_tree",
        "linear",
        "ridge",
        "lasso",
        "elastic_net",
    ] {
        assert!(names.contains(&n), "{n} missing");
    }
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "duplicate family names");
    for t in Task::ALL {
        for f in registry().families_for(t) {
            assert!(f.tasks().contains(&t));
            assert!(f.relative_cost() >= 1.0);
            assert!(!f.description().is_empty());
        }
    }
    assert!(matches!(
        registry().decode("nope", &[1]),
        Err(ModelError::UnknownFamily(_))
    ));
    assert!(registry().get("svm").unwrap().max_rows().is_some());
    assert!(registry().get("linear").unwrap().max_rows().is_none());
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn models_are_send_and_sync() {
    assert_send_sync::<LogisticModel>();
    assert_send_sync::<NaiveBayesModel>();
    assert_send_sync::<KnnModel>();
    assert_send_sync::<SvmModel>();
    assert_send_sync::<DecisionTreeModel>();
    assert_send_sync::<LinearModel>();
    assert_send_sync::<Box<dyn Model>>();
    assert_send_sync::<&'static dyn Family>();
}
