//! Target-encoded preprocessing (`ScaledTarget` / `DenseTarget`): which columns are target
//! encoded, out-of-fold training rows, unseen and missing levels, multiclass columns,
//! determinism and serde.

use automl_core::{PrepKind, Rng};
use automl_data::target_encode::Target;
use automl_data::{Column, Frame, Preprocessor};

/// `n` rows: a numeric column, a 3-level categorical and a 30-level one (every 13th missing);
/// the target is the high column's level mod `k` (k = 0: the level as a number).
fn frame(n: usize, k: usize) -> (Frame, Vec<f64>) {
    let mut rng = Rng::new(11);
    let mut num = Vec::new();
    let mut low = Vec::new();
    let mut high = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        num.push(rng.normal());
        low.push(Some(format!("c{}", rng.below(3))));
        let h = rng.below(30);
        high.push((i % 13 != 0).then(|| format!("h{h:02}")));
        y.push(if k == 0 { h as f64 } else { (h % k) as f64 });
    }
    let f = Frame::new(vec![
        Column::numeric("num", num),
        Column::categorical("low", &low),
        Column::categorical("high", &high),
    ]);
    (f, y)
}

#[test]
fn high_cardinality_columns_are_target_encoded_and_low_ones_stay_one_hot() {
    let (f, y) = frame(300, 2);
    let rows: Vec<usize> = (0..300).collect();
    let t = Target {
        y: &y,
        n_classes: 2,
        seed: 5,
    };
    for kind in [PrepKind::DenseTarget, PrepKind::ScaledTarget] {
        let (prep, x_train) = Preprocessor::fit_target(&f, &rows, kind, &t).unwrap();
        assert_eq!(prep.kind(), kind);
        let names = prep.output_names();
        assert_eq!(
            names,
            [
                "num",
                "low=c0",
                "low=c1",
                "low=c2",
                "high__te",
                "high__missing"
            ]
        );
        assert!(x_train.iter().all(|v| v.is_finite()));
        // The training rows' encodings are out of fold: they differ from what the same rows
        // get as new rows (the full table), in the target column only.
        let x_new = prep.transform_rows(&f, &rows).unwrap();
        let te = 4;
        assert!((0..300).any(|r| x_train[[r, te]] != x_new[[r, te]]));
        for c in [0, 1, 2, 3, 5] {
            for r in 0..300 {
                assert!((x_train[[r, c]] - x_new[[r, c]]).abs() < 1e-12);
            }
        }
        // The onehot kind is unchanged by this: the base kind's fit frequency encodes.
        let base = Preprocessor::fit(&f, &rows, kind.base());
        assert_eq!(base.output_names()[4], "high__freq");
        // Deterministic.
        let (prep2, x2) = Preprocessor::fit_target(&f, &rows, kind, &t).unwrap();
        assert_eq!(prep, prep2);
        assert_eq!(x_train, x2);
    }
}

#[test]
fn unseen_and_missing_levels_get_the_prior() {
    let (f, y) = frame(300, 2);
    let rows: Vec<usize> = (0..300).collect();
    let t = Target {
        y: &y,
        n_classes: 2,
        seed: 5,
    };
    let (prep, _) = Preprocessor::fit_target(&f, &rows, PrepKind::DenseTarget, &t).unwrap();
    let prior = y.iter().sum::<f64>() / y.len() as f64;
    let new = Frame::new(vec![
        Column::numeric("num", vec![0.0, 0.0, 0.0]),
        Column::categorical("low", &[Some("c0"), Some("c0"), Some("c0")]),
        Column::categorical("high", &[Some("never seen"), None, Some("h03")]),
    ]);
    let x = prep.transform(&new).unwrap();
    assert!((x[[0, 4]] - prior).abs() < 1e-12);
    assert_eq!(x[[0, 5]], 0.0);
    assert!((x[[1, 4]] - prior).abs() < 1e-12);
    assert_eq!(x[[1, 5]], 1.0, "missing indicator");
    // A seen level: its smoothed mean, between the level's mean and the prior.
    let held: Vec<f64> = (0..300)
        .filter(|&r| f.columns[2].cell_string(r).as_deref() == Some("h03"))
        .map(|r| y[r])
        .collect();
    let n = held.len() as f64;
    let expect = (held.iter().sum::<f64>() + 10.0 * prior) / (n + 10.0);
    assert!((x[[2, 4]] - expect).abs() < 1e-12);
}

#[test]
fn multiclass_gets_one_column_per_class_and_regression_one() {
    let (f, y) = frame(200, 3);
    let rows: Vec<usize> = (0..200).collect();
    let t = Target {
        y: &y,
        n_classes: 3,
        seed: 1,
    };
    let (prep, x) = Preprocessor::fit_target(&f, &rows, PrepKind::DenseTarget, &t).unwrap();
    let names = prep.output_names();
    assert_eq!(
        &names[4..],
        ["high__te=0", "high__te=1", "high__te=2", "high__missing"]
    );
    for r in 0..200 {
        let s = x[[r, 4]] + x[[r, 5]] + x[[r, 6]];
        assert!((s - 1.0).abs() < 1e-9, "row {r}: {s}");
    }
    let (f, y) = frame(200, 0);
    let t = Target {
        y: &y,
        n_classes: 0,
        seed: 1,
    };
    let (prep, x) = Preprocessor::fit_target(&f, &rows, PrepKind::ScaledTarget, &t).unwrap();
    assert_eq!(prep.output_names()[4], "high__te");
    // Standardized on the training matrix the model sees.
    let col = x.column(4);
    assert!(col.sum().abs() / 200.0 < 1e-9);
}

#[test]
fn target_encoded_preprocessor_round_trips_through_postcard() {
    let (f, y) = frame(120, 2);
    let rows: Vec<usize> = (0..120).collect();
    let t = Target {
        y: &y,
        n_classes: 2,
        seed: 3,
    };
    let (prep, _) = Preprocessor::fit_target(&f, &rows, PrepKind::ScaledTarget, &t).unwrap();
    let bytes = postcard::to_allocvec(&prep).unwrap();
    let back: Preprocessor = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(prep, back);
    assert_eq!(prep.transform(&f).unwrap(), back.transform(&f).unwrap());
}
