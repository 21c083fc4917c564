//! The per-fold prepared matrices: a candidate on a row subsample never builds the fold's whole
//! training matrix, and scores the same whether or not another candidate built it first.

use automl_core::{Candidate, Metric, Params, PrepKind, Rng, Task, TrialState};
use automl_data::{Column, Frame};
use automl_trainer::{CvConfig, TrainingData, evaluate};
use std::sync::Arc;

/// 600 rows: two numeric columns (one with missing values) and a 5-level categorical one.
fn data() -> TrainingData {
    let n = 600;
    let mut rng = Rng::new(11);
    let a: Vec<f64> = (0..n).map(|_| rng.uniform(0.0, 10.0)).collect();
    let b: Vec<f64> = (0..n)
        .map(|i| {
            if i % 7 == 0 {
                f64::NAN
            } else {
                rng.uniform(0.0, 1.0)
            }
        })
        .collect();
    let c: Vec<Option<String>> = (0..n).map(|i| Some(format!("c{}", i % 5))).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| a[i] + 3.0 * (i % 5) as f64 + rng.uniform(0.0, 1.0))
        .collect();
    let frame = Frame::new(vec![
        Column::numeric("a", a),
        Column::numeric("b", b),
        Column::categorical("c", &c),
    ]);
    TrainingData::new(
        Arc::new(frame),
        y,
        Task::Regression,
        0,
        Metric::Rmse,
        &CvConfig::default(),
    )
}

fn at(family: &str, fidelity: f64) -> Candidate {
    let mut c = Candidate::new(family, Params::new(), "test");
    c.fidelity = fidelity;
    c
}

#[test]
fn a_subsample_never_builds_the_whole_training_matrix_and_scores_the_same_either_way() {
    for (family, kind) in [("ridge", PrepKind::Scaled), ("gbdt", PrepKind::Tree)] {
        // A subsample alone: every fold's validation matrix, no training matrix.
        let lazy = data();
        let sub = evaluate(&lazy, &at(family, 0.5), 7, None);
        assert_eq!(sub.state, TrialState::Complete, "{family}: {:?}", sub.error);
        for i in 0..lazy.folds.len() {
            let p = lazy.prepared(i, kind).unwrap();
            assert!(!p.has_train_matrix(), "{family} fold {i}");
            assert_eq!(p.x_valid.nrows(), lazy.folds[i].y_valid.len());
        }
        // A full-fidelity candidate builds it; the subsample then takes its rows from it and
        // scores exactly as before.
        let built = data();
        let full = evaluate(&built, &at(family, 1.0), 7, None);
        assert_eq!(
            full.state,
            TrialState::Complete,
            "{family}: {:?}",
            full.error
        );
        assert!(
            built.prepared(0, kind).unwrap().has_train_matrix(),
            "{family}"
        );
        let again = evaluate(&built, &at(family, 0.5), 7, None);
        assert_eq!(again.fold_scores, sub.fold_scores, "{family}");
        assert_eq!(again.oof, sub.oof, "{family}");
        assert_ne!(again.fold_scores, full.fold_scores, "{family}");
    }
    // A target-encoded kind's training rows are encoded out of inner folds at once.
    let d = data();
    assert!(
        d.prepared(0, PrepKind::ScaledTarget)
            .unwrap()
            .has_train_matrix()
    );
}

/// A complete trial hands its fold models over as the lz4 blocks they were compressed in while
/// they were encoded (never unpacked whole), and those blocks are the bag's artifact.
#[test]
fn a_trials_bag_comes_as_blocks_that_unpack_to_its_fold_models() {
    use automl_core::Artifact;
    use automl_trainer::Predictor;
    let d = data();
    let e = evaluate(&d, &at("random_forest", 1.0), 3, None);
    assert_eq!(e.state, TrialState::Complete, "{:?}", e.error);
    let Some(Artifact::Blocks(blocks)) = e.artifact else {
        panic!(
            "the bag is not handed over as blocks: {:?}",
            e.artifact.is_some()
        );
    };
    assert!(blocks.n_blocks() > 1 && blocks.packed_len() < blocks.len());
    let n = blocks.len();
    let raw = Artifact::Blocks(blocks).into_raw().unwrap();
    assert_eq!(raw.len(), n);
    assert_eq!(e.model_size_bytes, (n / d.folds.len()) as u64);
    match Predictor::from_bytes(&raw).unwrap().0 {
        Predictor::Bag(folds) => assert_eq!(folds.len(), d.folds.len()),
        _ => panic!("not a bag"),
    }
}

/// A trial's fold models, fitted and encoded in one go (a forest tree by tree), are the models
/// that predicted its out-of-fold rows: each one read back from the bag predicts its fold's
/// validation rows exactly as the trial's out-of-fold predictions hold them, and a trial that
/// keeps no models scores and predicts the same.
#[test]
fn a_trials_fold_models_read_back_predict_its_out_of_fold_rows() {
    use automl_trainer::{Predictor, evaluate_scores};
    let d = data();
    for (family, kind) in [
        ("random_forest", PrepKind::Tree),
        ("extra_trees", PrepKind::Tree),
        ("gbdt", PrepKind::Tree),
        ("ridge", PrepKind::Scaled),
    ] {
        let e = evaluate(&d, &at(family, 1.0), 5, None);
        assert_eq!(e.state, TrialState::Complete, "{family}: {:?}", e.error);
        let raw = e.artifact.unwrap().into_raw().unwrap();
        let Predictor::Bag(folds) = Predictor::from_bytes(&raw).unwrap().0 else {
            panic!("{family}: not a bag");
        };
        assert_eq!(folds.len(), d.folds.len(), "{family}");
        let (rows, pooled) = e.oof.clone().unwrap();
        let mut at_row = 0;
        for (i, (fold, pipeline)) in d.folds.iter().zip(&folds).enumerate() {
            assert_eq!(pipeline.family, family);
            let n = fold.y_valid.len();
            assert_eq!(
                rows[at_row..at_row + n],
                fold.split.valid[..],
                "{family} fold {i}"
            );
            let x = &d.prepared(i, kind).unwrap().x_valid;
            let p = pipeline.model.predict(x.view()).unwrap();
            assert_eq!(
                p.values[..],
                pooled.values[at_row..at_row + n],
                "{family} fold {i}"
            );
            if i == 0 && family != "ridge" {
                assert_eq!(e.facts, pipeline.model.facts(), "{family}");
            }
            at_row += n;
        }
        assert_eq!(at_row, rows.len(), "{family}");
        let scores = evaluate_scores(&d, &at(family, 1.0), 5, None);
        assert_eq!(scores.fold_scores, e.fold_scores, "{family}");
        assert_eq!(scores.oof, e.oof, "{family}");
        assert_eq!(scores.facts, e.facts, "{family}");
        assert!(scores.artifact.is_none(), "{family}");
    }
}
