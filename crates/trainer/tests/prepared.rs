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
