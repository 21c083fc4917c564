//! Unit tests of boosting and forests on small exact and synthetic data.

use crate::gbdt::train_loss_curve;
use crate::*;
use automl_core::Rng;
use ndarray::{Array2, ShapeBuilder, array};

/// Synthetic classification data: 4 numeric features (one with 10 % NaN) + 1 categorical code.
fn synth(n: usize, n_classes: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let mut x = Array2::zeros((n, 5));
    let mut y = vec![0.0; n];
    for i in 0..n {
        for j in 0..4 {
            x[[i, j]] = rng.normal();
        }
        let cat = rng.below(6);
        x[[i, 4]] = cat as f64;
        let s = x[[i, 0]]
            + 0.5 * x[[i, 1]] * x[[i, 2]]
            + if cat % 2 == 0 { 0.8 } else { -0.8 }
            + 0.3 * rng.normal();
        if rng.bernoulli(0.1) {
            x[[i, 3]] = f64::NAN;
        }
        y[i] = if n_classes == 0 {
            s
        } else {
            let q = 1.0 / (1.0 + (-2.0 * s).exp());
            ((q * n_classes as f64) as usize).min(n_classes - 1) as f64
        };
    }
    (x, y)
}

const CAT: [bool; 5] = [false, false, false, false, true];

fn exact_params(objective: Objective) -> GbdtParams {
    GbdtParams {
        objective,
        learning_rate: 1.0,
        max_rounds: 1,
        max_leaves: 2,
        min_samples_leaf: 1,
        min_child_weight: 0.0,
        ..GbdtParams::default()
    }
}

#[test]
fn one_split_found_by_hand_with_known_gain() {
    let x = array![[1.0], [2.0], [3.0], [4.0]];
    let y = [1.0, 1.0, 5.0, 5.0];
    let d = BinnedData::with_min_data_in_bin(x.view(), &[false], 255, 1).unwrap();
    let m = Gbdt::fit(
        &exact_params(Objective::L2),
        &Dataset::new(&d, &y),
        None,
        None,
    )
    .unwrap();
    let t = &m.trees()[0];
    assert_eq!(t.nodes.len(), 1);
    assert_eq!(t.threshold(&t.nodes[0]), 2.5);
    // base 3, gradients (2, 2, -2, -2): gain = 4^2/2 + 4^2/2 - 0 = 16
    assert_eq!(m.feature_importance(Importance::Gain), vec![16.0]);
    assert_eq!(m.feature_importance(Importance::Split), vec![1.0]);
    let p = m
        .predict(array![[0.0], [2.5], [2.6], [9.0]].view())
        .unwrap();
    assert_eq!(p.values, vec![1.0, 1.0, 5.0, 5.0]);
}

#[test]
fn missing_values_follow_the_learned_default_direction() {
    // missing rows look like the high group: they must be routed right
    let x = array![[1.0], [2.0], [3.0], [4.0], [f64::NAN], [f64::NAN]];
    let y = [0.0, 0.0, 10.0, 10.0, 10.0, 10.0];
    let d = BinnedData::with_min_data_in_bin(x.view(), &[false], 255, 1).unwrap();
    let m = Gbdt::fit(
        &exact_params(Objective::L2),
        &Dataset::new(&d, &y),
        None,
        None,
    )
    .unwrap();
    let t = &m.trees()[0];
    assert!(!t.nodes[0].default_left());
    let p = m.predict(array![[f64::NAN], [1.5], [3.5]].view()).unwrap();
    for (a, b) in p.values.iter().zip([10.0, 0.0, 10.0]) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    // mirrored: missing like the low group goes left
    let y2 = [0.0, 0.0, 10.0, 10.0, 0.0, 0.0];
    let m2 = Gbdt::fit(
        &exact_params(Objective::L2),
        &Dataset::new(&d, &y2),
        None,
        None,
    )
    .unwrap();
    assert!(m2.trees()[0].nodes[0].default_left());
    assert!(m2.predict(array![[f64::NAN]].view()).unwrap().values[0].abs() < 1e-5);
}

#[test]
fn categorical_split_on_a_category_set() {
    // 7 categories (more than one-vs-rest handles); {0, 2, 5} have target 4, the rest -4.
    let codes: Vec<f64> = (0..70).map(|i| (i % 7) as f64).collect();
    let x = Array2::from_shape_vec((70, 1), codes.clone()).unwrap();
    let y: Vec<f64> = codes
        .iter()
        .map(|&c| {
            if [0.0, 2.0, 5.0].contains(&c) {
                4.0
            } else {
                -4.0
            }
        })
        .collect();
    let d = BinnedData::new(x.view(), &[true], 255).unwrap();
    let mut p = exact_params(Objective::L2);
    p.cat_l2 = 0.0;
    let m = Gbdt::fit(&p, &Dataset::new(&d, &y), None, None).unwrap();
    assert_eq!(
        m.trees()[0].nodes[0].cat(),
        1,
        "expected a categorical split"
    );
    let pred = m.predict(x.view()).unwrap();
    for (a, b) in pred.values.iter().zip(&y) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    // an unseen category code goes to the right side
    let unseen = m.predict(array![[9.0]].view()).unwrap().values[0];
    assert!((unseen.abs() - 4.0).abs() < 1e-5);
}

#[test]
fn multiclass_probabilities_sum_to_one_and_fit() {
    let (x, y) = synth(600, 4, 1);
    let d = BinnedData::new(x.view(), &CAT, 64).unwrap();
    let p = GbdtParams {
        objective: Objective::Multiclass { n_classes: 4 },
        max_rounds: 30,
        ..GbdtParams::default()
    };
    let m = Gbdt::fit(&p, &Dataset::new(&d, &y), None, None).unwrap();
    assert_eq!(m.trees().len(), 30 * 4);
    let pred = m.predict(x.view()).unwrap();
    let proba = pred.proba.as_ref().unwrap();
    assert_eq!(proba.ncols(), 4);
    for r in proba.rows() {
        assert!((r.sum() - 1.0).abs() < 1e-12);
        assert!(r.iter().all(|&v| v > 0.0 && v < 1.0));
    }
    let acc = pred.values.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
    assert!(acc > 0.7, "training accuracy {acc}");
}

#[test]
fn same_seed_gives_bit_identical_predictions() {
    let (x, y) = synth(400, 2, 2);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let mk = |seed| GbdtParams {
        objective: Objective::Binary,
        max_rounds: 20,
        subsample: 0.7,
        colsample: 0.6,
        seed,
        ..GbdtParams::default()
    };
    let fit = |seed| {
        Gbdt::fit(&mk(seed), &Dataset::new(&d, &y), None, None)
            .unwrap()
            .predict_raw(x.view())
            .unwrap()
    };
    let a = fit(7);
    let b = fit(7);
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(u, v)| u.to_bits() == v.to_bits())
    );
    assert_ne!(a, fit(8));
    let threaded = Gbdt::fit(
        &GbdtParams {
            n_threads: 2,
            ..mk(7)
        },
        &Dataset::new(&d, &y),
        None,
        None,
    )
    .unwrap()
    .predict_raw(x.view())
    .unwrap();
    assert_eq!(a, threaded);
    // forests too, with and without threads
    let fp = ForestParams {
        n_trees: 8,
        seed: 3,
        ..ForestParams::new(ForestKind::RandomForest, 2)
    };
    let f1 = Forest::fit(&fp, &Dataset::new(&d, &y), None)
        .unwrap()
        .predict(x.view())
        .unwrap();
    let f2 = Forest::fit(
        &ForestParams {
            n_threads: 2,
            ..fp.clone()
        },
        &Dataset::new(&d, &y),
        None,
    )
    .unwrap()
    .predict(x.view())
    .unwrap();
    assert_eq!(f1, f2);
}

#[test]
fn serialization_round_trip_keeps_predictions() {
    let (x, y) = synth(300, 3, 3);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let p = GbdtParams {
        objective: Objective::Multiclass { n_classes: 3 },
        max_rounds: 10,
        ..GbdtParams::default()
    };
    let m = Gbdt::fit(&p, &Dataset::new(&d, &y), None, None).unwrap();
    let bytes = postcard::to_allocvec(&m).unwrap();
    let back: Gbdt = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(
        m.predict_raw(x.view()).unwrap(),
        back.predict_raw(x.view()).unwrap()
    );
    let f = Forest::fit(
        &ForestParams::new(ForestKind::ExtraTrees, 3),
        &Dataset::new(&d, &y),
        None,
    )
    .unwrap();
    let fb: Forest = postcard::from_bytes(&postcard::to_allocvec(&f).unwrap()).unwrap();
    assert_eq!(f.predict(x.view()).unwrap(), fb.predict(x.view()).unwrap());
}

#[test]
fn a_forest_encoded_tree_by_tree_is_its_postcard_encoding() {
    // Classification (class frequencies per leaf) and regression, with a categorical column
    // (category sets) and missing values in the data.
    for n_classes in [3, 0] {
        let (mut x, y) = synth(400, n_classes, 5);
        x[[7, 1]] = f64::NAN;
        x[[8, 4]] = f64::NAN;
        let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
        for kind in [ForestKind::RandomForest, ForestKind::ExtraTrees] {
            let f = Forest::fit(
                &ForestParams::new(kind, n_classes),
                &Dataset::new(&d, &y),
                None,
            )
            .unwrap();
            assert!(f.trees().iter().any(|t| !t.cat_sets.is_empty()));
            let whole = postcard::to_stdvec(&f).unwrap();
            let mut pieces = Vec::new();
            f.encode_into(&mut |b| pieces.push(b.to_vec())).unwrap();
            // the head, one piece per tree, the tail
            assert_eq!(pieces.len(), 2 + ForestParams::new(kind, n_classes).n_trees);
            assert_eq!(pieces.concat(), whole, "{kind:?}, {n_classes} classes");
        }
    }
}

#[test]
fn a_streamed_forest_writes_the_fitted_forests_bytes_and_predicts_as_it_does() {
    // Classification and regression, both kinds, with and without threads, on rows with a
    // categorical column and missing values, predicting rows it was not fitted on.
    for n_classes in [3, 0] {
        let (mut x, y) = synth(400, n_classes, 6);
        x[[7, 1]] = f64::NAN;
        x[[8, 4]] = f64::NAN;
        let (mut valid, _) = synth(57, n_classes, 7);
        valid[[3, 0]] = f64::NAN;
        let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
        for kind in [ForestKind::RandomForest, ForestKind::ExtraTrees] {
            for n_threads in [1, 3] {
                let params = ForestParams {
                    n_trees: 23,
                    n_threads,
                    seed: 9,
                    ..ForestParams::new(kind, n_classes)
                };
                let train = Dataset::new(&d, &y);
                let f = Forest::fit(&params, &train, None).unwrap();
                let mut bytes = Vec::new();
                let mut sink = |b: &[u8]| bytes.extend_from_slice(b);
                let s = Forest::fit_streamed(&params, &train, None, valid.view(), Some(&mut sink))
                    .unwrap();
                let unkept = Forest::fit_streamed(&params, &train, None, valid.view(), None);
                assert_eq!(unkept.unwrap().predictions, s.predictions);
                let what = format!("{kind:?}, {n_classes} classes, {n_threads} threads");
                assert_eq!(bytes, postcard::to_stdvec(&f).unwrap(), "{what}");
                assert_eq!(s.predictions, f.predict(valid.view()).unwrap(), "{what}");
                assert_eq!(s.n_trees, 23);
                assert_eq!(
                    s.n_leaves,
                    f.trees().iter().map(|t| t.n_leaves()).sum::<usize>()
                );
                let splits: Vec<u32> = f
                    .feature_importance(Importance::Split)
                    .iter()
                    .map(|&c| c as u32)
                    .collect();
                assert_eq!(s.split_count, splits, "{what}");
            }
        }
    }
    // A column-major view of the validation rows predicts the same.
    let (x, y) = synth(200, 0, 8);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let params = ForestParams::new(ForestKind::ExtraTrees, 0);
    let train = Dataset::new(&d, &y);
    let mut fortran = Array2::zeros(x.raw_dim().f());
    fortran.assign(&x);
    assert!(!fortran.is_standard_layout());
    let a = Forest::fit_streamed(&params, &train, None, fortran.view(), None).unwrap();
    let b = Forest::fit_streamed(&params, &train, None, x.view(), None).unwrap();
    assert_eq!(a.predictions, b.predictions);
    // The checks of `fit`: no trees, a wrong column count, the deadline.
    let none = ForestParams {
        n_trees: 0,
        ..params.clone()
    };
    assert!(Forest::fit_streamed(&none, &train, None, x.view(), None).is_err());
    let narrow = x.slice_axis(ndarray::Axis(1), (0..4).into());
    assert!(Forest::fit_streamed(&params, &train, None, narrow, None).is_err());
    let past = std::time::Instant::now() - std::time::Duration::from_secs(1);
    let r = Forest::fit_streamed(&params, &train, Some(past), x.view(), None);
    assert!(matches!(r, Err(TreeError::Deadline { .. })), "{r:?}");
}

#[test]
fn training_loss_never_increases() {
    let (x, y) = synth(500, 0, 4);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    for objective in [Objective::L2, Objective::Binary] {
        let yy: Vec<f64> = if objective == Objective::Binary {
            y.iter().map(|&v| if v > 0.0 { 1.0 } else { 0.0 }).collect()
        } else {
            y.clone()
        };
        let p = GbdtParams {
            objective,
            max_rounds: 40,
            ..GbdtParams::default()
        };
        let curve = train_loss_curve(&p, &Dataset::new(&d, &yy));
        assert_eq!(curve.len(), 41);
        for w in curve.windows(2) {
            assert!(
                w[1] <= w[0] + 1e-12,
                "{objective:?}: loss went up {} -> {}",
                w[0],
                w[1]
            );
        }
        assert!(curve[40] < 0.5 * curve[0]);
        // raw-row prediction agrees with the binned training scores
        let m = Gbdt::fit(&p, &Dataset::new(&d, &yy), None, None).unwrap();
        let raw = m.predict_raw(x.view()).unwrap();
        let rows: Vec<u32> = (0..500).collect();
        let loss = crate::gbdt::mean_loss(
            objective,
            &yy,
            None,
            &rows,
            raw.column(0).as_slice().unwrap(),
            500,
        );
        assert!((loss - curve[40]).abs() < 1e-12);
    }
}

#[test]
fn early_stopping_stops_and_keeps_the_best_round() {
    // pure-noise target: validation loss stops improving quickly
    let mut rng = Rng::new(5);
    let x = Array2::from_shape_fn((400, 3), |_| rng.normal());
    let y: Vec<f64> = (0..400).map(|_| rng.normal()).collect();
    let d = BinnedData::new(x.view(), &[false; 3], 255).unwrap();
    let tr: Vec<u32> = (0..300).collect();
    let va: Vec<u32> = (300..400).collect();
    let p = GbdtParams {
        objective: Objective::L2,
        max_rounds: 500,
        early_stopping_rounds: 10,
        min_samples_leaf: 5,
        ..GbdtParams::default()
    };
    let train = Dataset {
        rows: Some(&tr),
        ..Dataset::new(&d, &y)
    };
    let valid = Dataset {
        rows: Some(&va),
        ..Dataset::new(&d, &y)
    };
    let m = Gbdt::fit(&p, &train, Some(&valid), None).unwrap();
    let curve = m.valid_loss();
    assert!(curve.len() < 500, "ran {} rounds", curve.len());
    let best = m.n_rounds();
    assert_eq!(curve.len(), best + 10);
    let min = curve.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(curve[best - 1], min);
}

#[test]
fn a_forest_split_is_found_across_bins_empty_in_the_node() {
    // x1 = 1..=8, x0 = x1 odd; y = 100 x0 + 10 [x1 > 4]. The root splits on x0; in each child
    // x1's rows fill every other bin (2, 4, 6, 8 or 1, 3, 5, 7), so the child's threshold scan
    // crosses empty bins, and only the cut between 4 and 5 makes both depth-2 leaves exact.
    let mut rows = Vec::new();
    for v in 1..=8u32 {
        for _ in 0..5 {
            rows.push(v);
        }
    }
    let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| {
        let v = rows[i];
        if j == 0 { (v % 2) as f64 } else { v as f64 }
    });
    let y: Vec<f64> = rows
        .iter()
        .map(|&v| 100.0 * (v % 2) as f64 + if v > 4 { 10.0 } else { 0.0 })
        .collect();
    let d = BinnedData::new(x.view(), &[false, false], 255).unwrap();
    let p = ForestParams {
        n_trees: 1,
        max_features: 1.0,
        max_depth: Some(2),
        bootstrap: false,
        ..ForestParams::new(ForestKind::RandomForest, 0)
    };
    let f = Forest::fit(&p, &Dataset::new(&d, &y), None).unwrap();
    let pred = f.predict(x.view()).unwrap();
    for (i, (got, want)) in pred.values.iter().zip(&y).enumerate() {
        assert!(
            (got - want).abs() < 1e-9,
            "row {i} (x1 = {}): {got} vs {want}",
            rows[i]
        );
    }
}

#[test]
fn forests_give_valid_probabilities_and_learn() {
    let (x, y) = synth(600, 3, 6);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    for kind in [ForestKind::RandomForest, ForestKind::ExtraTrees] {
        for criterion in [Criterion::Gini, Criterion::Entropy] {
            let p = ForestParams {
                n_trees: 20,
                max_features: 0.6,
                criterion,
                ..ForestParams::new(kind, 3)
            };
            let f = Forest::fit(&p, &Dataset::new(&d, &y), None).unwrap();
            let pred = f.predict(x.view()).unwrap();
            let proba = pred.proba.as_ref().unwrap();
            for r in proba.rows() {
                assert!((r.sum() - 1.0).abs() < 1e-9);
                assert!(r.iter().all(|&v| (0.0..=1.0).contains(&v)));
            }
            let acc = pred.values.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / 600.0;
            assert!(acc > 0.85, "{kind:?} {criterion:?} training accuracy {acc}");
            assert!(f.feature_importance(Importance::Gain)[0] > 0.0);
        }
    }
    // regression: mean of trees fits the training target closely
    let (x, y) = synth(400, 0, 7);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let f = Forest::fit(
        &ForestParams::new(ForestKind::RandomForest, 0),
        &Dataset::new(&d, &y),
        None,
    )
    .unwrap();
    let pred = f.predict(x.view()).unwrap();
    let mse: f64 = pred
        .values
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / 400.0;
    let var: f64 = {
        let m = y.iter().sum::<f64>() / 400.0;
        y.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 400.0
    };
    assert!(mse < 0.3 * var, "mse {mse} var {var}");
}

#[test]
fn past_deadline_is_an_error() {
    let (x, y) = synth(100, 2, 8);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let past = Some(std::time::Instant::now());
    let p = GbdtParams {
        objective: Objective::Binary,
        ..GbdtParams::default()
    };
    assert!(matches!(
        Gbdt::fit(&p, &Dataset::new(&d, &y), None, past),
        Err(TreeError::Deadline { .. })
    ));
    let fp = ForestParams::new(ForestKind::RandomForest, 2);
    assert!(matches!(
        Forest::fit(&fp, &Dataset::new(&d, &y), past),
        Err(TreeError::Deadline { .. })
    ));
}

#[test]
fn bad_labels_and_shapes_are_reported() {
    let x = array![[1.0], [2.0]];
    let d = BinnedData::new(x.view(), &[false], 255).unwrap();
    let p = GbdtParams {
        objective: Objective::Binary,
        ..GbdtParams::default()
    };
    assert!(matches!(
        Gbdt::fit(&p, &Dataset::new(&d, &[0.0, 2.0]), None, None),
        Err(TreeError::Data(_))
    ));
    assert!(matches!(
        Gbdt::fit(&p, &Dataset::new(&d, &[0.0]), None, None),
        Err(TreeError::Shape(_))
    ));
    let m = Gbdt::fit(&p, &Dataset::new(&d, &[0.0, 1.0]), None, None).unwrap();
    assert!(matches!(
        m.predict(array![[1.0, 2.0]].view()),
        Err(TreeError::Shape(_))
    ));
}

#[test]
fn data_without_feature_columns_is_an_error_not_a_panic() {
    let x = Array2::<f64>::zeros((6, 0));
    let d = BinnedData::new(x.view(), &[], 255).unwrap();
    let y = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    let no_features = |e: TreeError| matches!(e, TreeError::Shape(m) if m.contains("no feature"));
    let g = GbdtParams {
        objective: Objective::Binary,
        ..GbdtParams::default()
    };
    assert!(no_features(
        Gbdt::fit(&g, &Dataset::new(&d, &y), None, None).unwrap_err()
    ));
    for kind in [ForestKind::RandomForest, ForestKind::ExtraTrees] {
        let p = ForestParams {
            n_trees: 3,
            ..ForestParams::new(kind, 2)
        };
        assert!(no_features(
            Forest::fit(&p, &Dataset::new(&d, &y), None).unwrap_err()
        ));
    }
}

#[test]
fn models_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Gbdt>();
    check::<Forest>();
    check::<BinnedData>();
    check::<BinnedCache>();
}

/// Saabas contributions: base + contributions = raw score for every row, for boosting
/// (regression, binary, multiclass) and forests; the feature the target depends on most gets
/// the largest mean absolute contribution and the largest gain.
#[test]
fn contributions_sum_to_the_raw_score() {
    for n_classes in [0, 2, 3] {
        let (x, y) = synth(400, n_classes, 11);
        let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
        let objective = match n_classes {
            0 => Objective::L2,
            2 => Objective::Binary,
            k => Objective::Multiclass { n_classes: k },
        };
        let g = Gbdt::fit(
            &GbdtParams {
                objective,
                max_rounds: 30,
                ..GbdtParams::default()
            },
            &Dataset::new(&d, &y),
            None,
            None,
        )
        .unwrap();
        let f = Forest::fit(
            &ForestParams::new(ForestKind::RandomForest, n_classes),
            &Dataset::new(&d, &y),
            None,
        )
        .unwrap();
        let g_raw = g.predict_raw(x.view()).unwrap();
        let f_pred = f.predict(x.view()).unwrap();
        for (e, is_gbdt) in [(Ensemble::Gbdt(&g), true), (Ensemble::Forest(&f), false)] {
            for out in 0..e.n_outputs() {
                let c = e.contributions(x.view(), x.view(), out).unwrap();
                for i in 0..x.nrows() {
                    let want = if is_gbdt {
                        g_raw[[i, out]]
                    } else if n_classes == 0 {
                        f_pred.values[i]
                    } else {
                        f_pred.proba.as_ref().unwrap()[[i, out]]
                    };
                    let sum = c.base + c.values.row(i).sum();
                    assert!((sum - want).abs() < 1e-9, "{n_classes} {is_gbdt} {i}");
                    assert!((c.raw[i] - want).abs() < 1e-9);
                }
            }
            if n_classes == 0 {
                let c = e.contributions(x.view(), x.view(), 0).unwrap();
                let mean_abs: Vec<f64> = (0..5)
                    .map(|j| c.values.column(j).iter().map(|v| v.abs()).sum::<f64>())
                    .collect();
                assert!(mean_abs[0] > mean_abs[3], "{mean_abs:?}");
                let gain = e.gain();
                assert!(gain[0] > gain[3], "{gain:?}");
            }
        }
    }
    // a bad output index is an error, not a panic
    let (x, y) = synth(50, 0, 1);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let g = Gbdt::fit(&GbdtParams::default(), &Dataset::new(&d, &y), None, None).unwrap();
    assert!(
        Ensemble::Gbdt(&g)
            .contributions(x.view(), x.view(), 1)
            .is_err()
    );
}

/// Counts whose mean is exp(linear signal): Poisson draws by inversion.
fn counts(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let (x, _) = synth(n, 0, seed);
    let mut rng = Rng::new(seed + 100);
    let y = (0..n)
        .map(|i| {
            let mu = (1.0 + 0.8 * x[[i, 0]] - 0.5 * x[[i, 1]]).exp();
            let (mut k, mut p, u) = (0.0, (-mu).exp(), rng.uniform(0.0, 1.0));
            let mut cum = p;
            while u > cum && k < 1000.0 {
                k += 1.0;
                p *= mu / k;
                cum += p;
            }
            k
        })
        .collect();
    (x, y)
}

#[test]
fn tweedie_boosts_the_log_of_the_prediction_and_fits_counts_better_than_squared_error() {
    let (x, y) = counts(2000, 7);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    let tr: Vec<u32> = (0..1500).collect();
    let te: Vec<u32> = (1500..2000).collect();
    let train = Dataset {
        rows: Some(&tr),
        ..Dataset::new(&d, &y)
    };
    let fit = |objective| {
        let p = GbdtParams {
            objective,
            max_rounds: 60,
            learning_rate: 0.1,
            max_leaves: 8,
            ..GbdtParams::default()
        };
        Gbdt::fit(&p, &train, None, None).unwrap()
    };
    let tw = fit(Objective::Tweedie { power: 1.3 });
    let l2 = fit(Objective::L2);
    // the start is the log of the mean target; predictions are exp(raw) > 0
    let mean = tr.iter().map(|&r| y[r as usize]).sum::<f64>() / tr.len() as f64;
    assert!((tw.base()[0] - mean.ln()).abs() < 1e-9);
    let raw = tw.predict_raw(x.view()).unwrap();
    let pred = tw.predict(x.view()).unwrap();
    for (r, p) in raw.column(0).iter().zip(&pred.values) {
        assert!((r.exp() - p).abs() <= 1e-9 * p.max(1.0) && *p > 0.0);
    }
    // training deviance falls every round
    let p = GbdtParams {
        objective: Objective::Tweedie { power: 1.3 },
        max_rounds: 30,
        ..GbdtParams::default()
    };
    let curve = train_loss_curve(&p, &Dataset::new(&d, &y));
    for w in curve.windows(2) {
        assert!(w[1] <= w[0] + 1e-9, "{} -> {}", w[0], w[1]);
    }
    // on counts whose spread grows with their mean, the held-out squared error is lower
    let sq = |m: &Gbdt| {
        let p = m.predict(x.view()).unwrap().values;
        te.iter()
            .map(|&r| (p[r as usize] - y[r as usize]).powi(2))
            .sum::<f64>()
            / te.len() as f64
    };
    assert!(sq(&tw) < sq(&l2), "tweedie {} l2 {}", sq(&tw), sq(&l2));
    // an encoded tweedie model decodes to the same model
    let bytes = postcard::to_allocvec(&tw).unwrap();
    let back: Gbdt = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, tw);
}

#[test]
fn tweedie_refuses_a_negative_target_and_a_power_outside_one_to_two() {
    let (x, mut y) = counts(100, 3);
    let d = BinnedData::new(x.view(), &CAT, 255).unwrap();
    for power in [1.0, 2.0, f64::NAN] {
        let p = GbdtParams {
            objective: Objective::Tweedie { power },
            ..GbdtParams::default()
        };
        let e = Gbdt::fit(&p, &Dataset::new(&d, &y), None, None).unwrap_err();
        assert!(e.to_string().contains("tweedie_power"), "{e}");
    }
    y[17] = -1.0;
    let p = GbdtParams {
        objective: Objective::Tweedie { power: 1.5 },
        ..GbdtParams::default()
    };
    let e = Gbdt::fit(&p, &Dataset::new(&d, &y), None, None).unwrap_err();
    assert!(e.to_string().contains("non-negative target; row 17"), "{e}");
}
