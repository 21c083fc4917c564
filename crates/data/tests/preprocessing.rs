//! Preprocessing: no NaN / infinity out of Scaled / Dense (property-style over random messy
//! frames), by-name matching, unseen categories, missing columns, tree codes, serde.

use automl_core::{PrepKind, Rng};
use automl_data::{Column, ColumnData, ColumnKind, DataError, Frame, MISSING_CODE, Preprocessor};

/// A random messy frame: numeric columns with NaN, +-inf, 1e308, constants; categoricals with
/// few or many (> 254) levels and missing codes; booleans.
fn messy_frame(rng: &mut Rng, n: usize) -> Frame {
    let mut cols = Vec::new();
    let n_cols = 1 + rng.below(7);
    for j in 0..n_cols {
        let name = format!("c{j}");
        match rng.below(3) {
            0 => {
                let mode = rng.below(4);
                let v = (0..n)
                    .map(|_| match rng.below(12) {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        2 => f64::NEG_INFINITY,
                        3 => 1e308,
                        4 => -1e308,
                        5 => f64::MIN_POSITIVE,
                        _ => match mode {
                            0 => 7.0,
                            1 => rng.normal() * 1e200,
                            _ => rng.normal(),
                        },
                    })
                    .collect();
                cols.push(Column::numeric(name, v));
            }
            1 => {
                let n_levels = [1, 3, 12, 300][rng.below(4)];
                let levels: Vec<String> = (0..n_levels).map(|l| format!("L{l}")).collect();
                let codes = (0..n)
                    .map(|_| {
                        if rng.bernoulli(0.15) {
                            MISSING_CODE
                        } else {
                            rng.below(n_levels) as u32
                        }
                    })
                    .collect();
                cols.push(Column {
                    name,
                    kind: ColumnKind::Categorical,
                    data: ColumnData::Categorical { codes, levels },
                });
            }
            _ => {
                let v = (0..n)
                    .map(|_| {
                        if rng.bernoulli(0.2) {
                            f64::NAN
                        } else {
                            rng.below(2) as f64
                        }
                    })
                    .collect();
                cols.push(Column::boolean(name, v));
            }
        }
    }
    Frame::new(cols)
}

/// Equal, with NaN equal to NaN.
fn same(a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>) -> bool {
    a.dim() == b.dim()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn scaled_and_dense_never_emit_nan_or_inf() {
    let mut rng = Rng::new(20240611);
    for case in 0..150 {
        let n = 1 + rng.below(400);
        let frame = messy_frame(&mut rng, n);
        // Training rows: a random subset (possibly tiny, possibly all-missing in a column).
        let k = 1 + rng.below(n);
        let rows = rng.sample_indices(n, k);
        // The same frame with its columns reversed, and fresh random data under the same names.
        let other = Frame {
            columns: frame.columns.iter().rev().cloned().collect(),
            n_rows: n,
        };
        let mut shuffled = messy_frame(&mut rng, n).columns;
        for (c, orig) in shuffled.iter_mut().zip(&frame.columns) {
            c.name = orig.name.clone();
        }
        for kind in PrepKind::ALL {
            let prep = Preprocessor::fit(&frame, &rows, kind);
            let x = prep.transform(&frame).unwrap();
            assert_eq!(x.dim(), (n, prep.n_outputs()));
            assert_eq!(prep.output_names().len(), prep.n_outputs());
            assert_eq!(prep.categorical_mask().len(), prep.n_outputs());
            let xr = prep.transform(&other).unwrap();
            assert!(same(&xr, &x), "case {case}: column order must not matter");
            if kind == PrepKind::Tree {
                assert!(
                    x.iter().all(|v| !v.is_infinite()),
                    "case {case}: inf from Tree"
                );
            } else {
                assert!(
                    x.iter().all(|v| v.is_finite()),
                    "case {case}: {kind:?} non-finite"
                );
            }
            // Unseen data (different levels / values) too.
            let fresh: Vec<Column> = shuffled
                .iter()
                .filter(|c| frame.column(&c.name).is_some_and(|o| o.kind == c.kind))
                .cloned()
                .collect();
            if fresh.len() == frame.columns.len() {
                let xf = prep.transform(&Frame::new(fresh)).unwrap();
                if kind != PrepKind::Tree {
                    assert!(
                        xf.iter().all(|v| v.is_finite()),
                        "case {case}: fresh {kind:?}"
                    );
                }
            }
        }
    }
}

fn train_frame() -> Frame {
    let n = 40;
    let num: Vec<f64> = (0..n)
        .map(|i| if i % 8 == 3 { f64::NAN } else { i as f64 })
        .collect();
    let cat: Vec<Option<&str>> = (0..n)
        .map(|i| {
            if i % 7 == 4 {
                None
            } else {
                Some(["red", "green", "blue"][i % 3])
            }
        })
        .collect();
    let big: Vec<Option<String>> = (0..n).map(|i| Some(format!("v{}", i % 20))).collect();
    let flag: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    Frame::new(vec![
        Column::numeric("num", num),
        Column::categorical("cat", &cat),
        Column::categorical("big", &big),
        Column::boolean("flag", flag),
    ])
}

#[test]
fn encodings_and_names() {
    let f = train_frame();
    let rows: Vec<usize> = (0..f.n_rows).collect();
    let dense = Preprocessor::fit(&f, &rows, PrepKind::Dense);
    assert_eq!(
        dense.output_names(),
        vec![
            "num",
            "num__missing",
            "cat=blue",
            "cat=green",
            "cat=red",
            "cat__missing",
            "big__freq",
            "flag"
        ]
    );
    let x = dense.transform(&f).unwrap();
    // Row 3: num missing -> median of the others, indicator 1.
    let present: Vec<f64> = (0..40).filter(|i| i % 8 != 3).map(|i| i as f64).collect();
    let mut sorted = present.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted.len(), 35);
    let median = sorted[17];
    assert_eq!(x[[3, 0]], median);
    assert_eq!(x[[3, 1]], 1.0);
    assert_eq!(x[[2, 1]], 0.0);
    // Row 0: red.
    assert_eq!((x[[0, 2]], x[[0, 3]], x[[0, 4]]), (0.0, 0.0, 1.0));
    // Row 4: cat missing -> most frequent level + indicator.
    assert_eq!(x[[4, 5]], 1.0);
    assert_eq!(x[[4, 2]] + x[[4, 3]] + x[[4, 4]], 1.0);
    // Frequency: each of 20 levels appears twice in 40 rows.
    assert_eq!(x[[0, 6]], 0.05);
    // Scaled: every output standardized on the training rows.
    let scaled = Preprocessor::fit(&f, &rows, PrepKind::Scaled);
    let xs = scaled.transform(&f).unwrap();
    for c in xs.columns() {
        let mean = c.mean().unwrap();
        assert!(mean.abs() < 1e-9, "{mean}");
        let sd = c.std(0.0);
        assert!((sd - 1.0).abs() < 1e-9 || sd == 0.0, "{sd}");
    }
    // Tree: raw numbers with NaN, codes for categoricals.
    let tree = Preprocessor::fit(&f, &rows, PrepKind::Tree);
    assert_eq!(tree.categorical_mask(), vec![false, true, true, false]);
    assert_eq!(tree.category_counts(), vec![0, 3, 20, 0]);
    let xt = tree.transform(&f).unwrap();
    assert!(xt[[3, 0]].is_nan());
    assert_eq!(xt[[0, 1]], 2.0, "red is level 2 of blue, green, red");
    assert!(xt[[4, 1]].is_nan());
    assert_eq!(tree.kind(), PrepKind::Tree);
}

#[test]
fn fitted_on_training_rows_only() {
    let f = train_frame();
    // Training rows never contain "blue" (i % 3 == 2) nor a missing num.
    let rows: Vec<usize> = (0..40).filter(|i| i % 3 != 2 && i % 8 != 3).collect();
    let dense = Preprocessor::fit(&f, &rows, PrepKind::Dense);
    let names = dense.output_names();
    assert!(!names.contains(&"cat=blue".to_string()), "{names:?}");
    assert!(!names.contains(&"num__missing".to_string()), "{names:?}");
    let x = dense.transform(&f).unwrap();
    // Row 2 is blue: unseen -> all one-hot outputs zero.
    let cat_cols: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("cat="))
        .map(|(i, _)| i)
        .collect();
    assert!(cat_cols.iter().all(|&j| x[[2, j]] == 0.0));
    let tree = Preprocessor::fit(&f, &rows, PrepKind::Tree);
    let xt = tree.transform(&f).unwrap();
    assert!(xt[[2, 1]].is_nan(), "unseen level -> NaN code");
    let sub = tree.transform_rows(&f, &[0, 2]).unwrap();
    assert_eq!(sub.nrows(), 2);
    assert_eq!(sub[[0, 0]], xt[[0, 0]]);
}

#[test]
fn by_name_matching_extra_and_missing_columns() {
    let f = train_frame();
    let rows: Vec<usize> = (0..f.n_rows).collect();
    let prep = Preprocessor::fit(&f, &rows, PrepKind::Scaled);
    let want = prep.transform(&f).unwrap();
    let mut cols = f.columns.clone();
    cols.reverse();
    cols.insert(1, Column::numeric("extra", vec![1.0; f.n_rows]));
    let got = prep.transform(&Frame::new(cols.clone())).unwrap();
    assert_eq!(got, want);
    // Prediction frames keep their own level order: strings are matched, not codes.
    let names: Vec<Option<String>> = (0..f.n_rows)
        .map(|i| f.column("cat").unwrap().cell_string(i))
        .collect();
    let mut relabeled: Vec<Option<String>> = names.clone();
    relabeled.push(Some("aaa-unseen".into()));
    let recoded =
        Column::categorical("cat", &relabeled).select_rows(&(0..f.n_rows).collect::<Vec<_>>());
    let cols2: Vec<Column> = f
        .columns
        .iter()
        .map(|c| {
            if c.name == "cat" {
                recoded.clone()
            } else {
                c.clone()
            }
        })
        .collect();
    assert_eq!(prep.transform(&Frame::new(cols2)).unwrap(), want);
    // A missing column is an error naming it.
    let cols3: Vec<Column> = f
        .columns
        .iter()
        .filter(|c| c.name != "big")
        .cloned()
        .collect();
    match prep.transform(&Frame::new(cols3)) {
        Err(e @ DataError::FrameMissingColumns { .. }) => assert!(e.to_string().contains("big")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        prep.transform_rows(&f, &[f.n_rows]),
        Err(DataError::RowOutOfRange { .. })
    ));
}

#[test]
fn kind_mismatch_is_tolerated_or_reported() {
    let f = Frame::new(vec![
        Column::numeric("a", vec![1.0, 2.0, 3.0]),
        Column::categorical("b", &[Some("1"), Some("2"), Some("1")]),
    ]);
    let rows = [0, 1, 2];
    let prep = Preprocessor::fit(&f, &rows, PrepKind::Dense);
    // Numbers arriving as text and categories arriving as numbers still match.
    let g = Frame::new(vec![
        Column::categorical("a", &[Some("1"), Some("2"), Some("3")]),
        Column::numeric("b", vec![1.0, 2.0, 1.0]),
    ]);
    assert_eq!(prep.transform(&g).unwrap(), prep.transform(&f).unwrap());
    let bad = Frame::new(vec![
        Column::categorical("a", &[Some("x")]),
        Column::numeric("b", vec![1.0]),
    ]);
    assert!(matches!(
        prep.transform(&bad),
        Err(DataError::NotNumeric { .. })
    ));
}

#[test]
fn many_levels_use_frequency_for_trees() {
    let n = 600;
    let vals: Vec<Option<String>> = (0..n).map(|i| Some(format!("k{}", i % 300))).collect();
    let f = Frame::new(vec![Column::categorical("zip", &vals)]);
    let rows: Vec<usize> = (0..n).collect();
    let tree = Preprocessor::fit(&f, &rows, PrepKind::Tree);
    assert_eq!(tree.categorical_mask(), vec![false]);
    assert_eq!(tree.output_names(), vec!["zip__freq"]);
    let x = tree.transform(&f).unwrap();
    assert!((x[[0, 0]] - 2.0 / 600.0).abs() < 1e-15);
}

#[test]
fn serde_round_trip() {
    let f = train_frame();
    let rows: Vec<usize> = (0..30).collect();
    for kind in PrepKind::ALL {
        let prep = Preprocessor::fit(&f, &rows, kind);
        let bytes = postcard::to_allocvec(&prep).unwrap();
        let back: Preprocessor = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, prep);
        assert!(same(
            &back.transform(&f).unwrap(),
            &prep.transform(&f).unwrap()
        ));
        // JSON (floats may differ in the last bit without serde_json's float_roundtrip).
        let json = serde_json::to_string(&prep).unwrap();
        let back: Preprocessor = serde_json::from_str(&json).unwrap();
        let (a, b) = (back.transform(&f).unwrap(), prep.transform(&f).unwrap());
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0)
                    || (x.is_nan() && y.is_nan()))
        );
    }
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Preprocessor>();
}

#[test]
fn a_column_missing_on_few_training_rows_is_imputed_without_an_indicator() {
    use automl_data::MIN_MISSING_FOR_INDICATOR;
    let n = 30;
    // `rare` is missing on MIN_MISSING_FOR_INDICATOR - 1 rows, `often` on exactly that many.
    let rare: Vec<f64> = (0..n)
        .map(|i| {
            if i < MIN_MISSING_FOR_INDICATOR - 1 {
                f64::NAN
            } else {
                i as f64
            }
        })
        .collect();
    let often: Vec<f64> = (0..n)
        .map(|i| {
            if i < MIN_MISSING_FOR_INDICATOR {
                f64::NAN
            } else {
                1.0
            }
        })
        .collect();
    let cat: Vec<Option<&str>> = (0..n)
        .map(|i| {
            if i == 7 {
                None
            } else {
                Some(["a", "b"][i % 2])
            }
        })
        .collect();
    let f = Frame::new(vec![
        Column::numeric("rare", rare),
        Column::numeric("often", often),
        Column::categorical("cat", &cat),
    ]);
    let rows: Vec<usize> = (0..n).collect();
    for kind in [PrepKind::Dense, PrepKind::Scaled] {
        let p = Preprocessor::fit(&f, &rows, kind);
        assert_eq!(
            p.output_names(),
            vec!["rare", "often", "often__missing", "cat=a", "cat=b"],
            "{kind:?}"
        );
        let x = p.transform(&f).unwrap();
        assert!(x.iter().all(|v| v.is_finite()));
    }
    let x = Preprocessor::fit(&f, &rows, PrepKind::Dense)
        .transform(&f)
        .unwrap();
    // The missing `rare` values get the median of the present ones (4..=29 -> 16.5).
    assert_eq!(x[[0, 0]], 16.5);
    // Row 7's missing category gets the most frequent level (a: 15 rows vs b: 14).
    assert_eq!((x[[7, 3]], x[[7, 4]]), (1.0, 0.0));
}
