//! K-fold target encoding of high-cardinality categoricals (the `cat_encoding = target`
//! preprocessing, [`automl_core::PrepKind::ScaledTarget`] / `DenseTarget`).
//!
//! A level is encoded by the smoothed mean of the target over the training rows holding it
//! (an m-estimate: `(sum + m · prior) / (n + m)`, `m` = [`SMOOTHING`]); regression encodes
//! the mean of y, binary P(class 1), multiclass one column per class (P(class c)). Missing and
//! unseen levels get the prior (the mean over the rows the statistics come from).
//!
//! No row's encoding uses its own label: the training rows of a fit get **out-of-fold**
//! encodings (the rows dealt into [`TARGET_FOLDS`] inner folds by a seeded shuffle; a row's
//! statistics, prior included, come from the other inner folds), while new rows (a CV
//! validation fold, prediction) get the statistics of all the fit's training rows. K-fold
//! rather than CatBoost's ordered statistics: ordered statistics give the first rows of the
//! permutation encodings from almost no data (noisy, and a single permutation makes them
//! depend on row order), which CatBoost averages away over many permutations inside its
//! boosting; our families fit once on a fixed matrix, and K-fold encodings come from 80 % of
//! the rows, close to what a new row sees from 100 %.

use automl_core::Rng;

use crate::frame::{ColumnData, Frame, MISSING_CODE};

/// Inner folds of the out-of-fold training encodings.
pub const TARGET_FOLDS: usize = 5;
/// The m of the m-estimate: a level seen on `n` rows is shrunk towards the prior with weight
/// `m / (n + m)` (a level seen 10 times is halfway between its mean and the prior).
pub const SMOOTHING: f64 = 10.0;

/// The target a categorical is encoded against: values aligned with the fit's rows (class
/// index for classification) and the number of classes (0 for regression).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Targets of the fit's training rows, in the order of its `rows`.
    pub y: &'a [f64],
    /// Number of classes; 0 = regression.
    pub n_classes: usize,
    /// Seed of the inner folds.
    pub seed: u64,
}

impl Target<'_> {
    /// Encoded columns per categorical: 1 for regression and binary, one per class otherwise.
    pub fn width(&self) -> usize {
        if self.n_classes > 2 {
            self.n_classes
        } else {
            1
        }
    }

    /// Add row `i`'s statistics (y, or the class indicators) to `acc` (length `width`).
    fn add(&self, i: usize, acc: &mut [f64]) {
        let v = self.y[i];
        match self.n_classes {
            0 => acc[0] += if v.is_finite() { v } else { 0.0 },
            1 | 2 => acc[0] += f64::from(v == 1.0),
            _ => {
                if let Some(a) = acc.get_mut(v as usize) {
                    *a += 1.0;
                }
            }
        }
    }
}

/// The fitted statistics of one column: per level the smoothed encoding (flat, `width` per
/// level) and the prior.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `values[l * width .. (l + 1) * width]` encodes level `l`.
    pub values: Vec<f64>,
    /// Encoding of a missing or unseen level.
    pub prior: Vec<f64>,
}

/// Sums and counts per level over some rows.
struct Stats {
    sums: Vec<f64>,
    counts: Vec<f64>,
    total: Vec<f64>,
    n: f64,
}

impl Stats {
    fn new(n_levels: usize, w: usize) -> Stats {
        Stats {
            sums: vec![0.0; n_levels * w],
            counts: vec![0.0; n_levels],
            total: vec![0.0; w],
            n: 0.0,
        }
    }

    fn add(&mut self, target: &Target, i: usize, level: Option<usize>, w: usize) {
        target.add(i, &mut self.total);
        self.n += 1.0;
        if let Some(l) = level {
            target.add(i, &mut self.sums[l * w..(l + 1) * w]);
            self.counts[l] += 1.0;
        }
    }

    /// The smoothed table of `self` minus `minus` (the other inner folds' rows).
    fn table(&self, minus: Option<&Stats>, w: usize) -> Table {
        let n = self.n - minus.map_or(0.0, |m| m.n);
        let prior: Vec<f64> = (0..w)
            .map(|j| {
                let t = self.total[j] - minus.map_or(0.0, |m| m.total[j]);
                if n > 0.0 { t / n } else { 0.0 }
            })
            .collect();
        let n_levels = self.counts.len();
        let mut values = Vec::with_capacity(n_levels * w);
        for l in 0..n_levels {
            let c = self.counts[l] - minus.map_or(0.0, |m| m.counts[l]);
            for (j, p) in prior.iter().enumerate() {
                let s = self.sums[l * w + j] - minus.map_or(0.0, |m| m.sums[l * w + j]);
                values.push((s + SMOOTHING * p) / (c + SMOOTHING));
            }
        }
        Table { values, prior }
    }
}

/// Fit the encoding of a column whose level (among `n_levels` fitted levels; `None` =
/// missing) at the fit's `i`-th training row is `levels[i]`. Returns the table new rows are
/// encoded with (all rows' statistics) and the out-of-fold encodings of the training rows
/// (`levels.len() × width`, row-major).
pub fn fit(levels: &[Option<usize>], n_levels: usize, target: &Target) -> (Table, Vec<f64>) {
    let w = target.width();
    let n = levels.len();
    let mut all = Stats::new(n_levels, w);
    for (i, &l) in levels.iter().enumerate() {
        all.add(target, i, l, w);
    }
    let full = all.table(None, w);
    let k = TARGET_FOLDS.min(n);
    let mut oof = vec![0.0; n * w];
    if k < 2 {
        // One row: nothing else to learn from; the empty prior (zeros) is all it may see.
        return (full, oof);
    }
    let fold_of = inner_folds(n, k, target.seed);
    let mut per_fold: Vec<Stats> = (0..k).map(|_| Stats::new(n_levels, w)).collect();
    for (i, &l) in levels.iter().enumerate() {
        per_fold[fold_of[i]].add(target, i, l, w);
    }
    let tables: Vec<Table> = per_fold.iter().map(|f| all.table(Some(f), w)).collect();
    for (i, &l) in levels.iter().enumerate() {
        let t = &tables[fold_of[i]];
        let src = match l {
            Some(l) => &t.values[l * w..(l + 1) * w],
            None => &t.prior[..],
        };
        oof[i * w..(i + 1) * w].copy_from_slice(src);
    }
    (full, oof)
}

/// The inner fold of each of `n` rows: a seeded shuffle dealt round-robin into `k` folds
/// (sizes differ by at most one).
fn inner_folds(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(seed ^ 0x7A29_E7E1).shuffle(&mut order);
    let mut fold_of = vec![0; n];
    for (pos, &row) in order.iter().enumerate() {
        fold_of[row] = pos % k;
    }
    fold_of
}

/// Whether `frame` has a categorical column with more than `max_levels` distinct levels
/// present (what makes `cat_encoding` worth searching: at most that many levels are one-hot
/// encoded either way).
pub fn has_high_cardinality(frame: &Frame, max_levels: usize) -> bool {
    frame.columns.iter().any(|c| match &c.data {
        ColumnData::Categorical { codes, levels } => {
            let mut seen = vec![false; levels.len()];
            let mut distinct = 0;
            for &code in codes {
                if code != MISSING_CODE {
                    if let Some(s) = seen.get_mut(code as usize) {
                        if !*s {
                            *s = true;
                            distinct += 1;
                        }
                    }
                }
            }
            distinct > max_levels
        }
        ColumnData::Numeric(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: &[f64], n_classes: usize) -> Target<'_> {
        Target {
            y,
            n_classes,
            seed: 1,
        }
    }

    #[test]
    fn smoothing_prior_and_missing() {
        // Level 0 on 10 rows all y = 1; level 1 on 10 rows all y = 0; 5 missing rows y = 1.
        let mut levels = vec![Some(0); 10];
        levels.extend(vec![Some(1); 10]);
        levels.extend(vec![None; 5]);
        let mut y = vec![1.0; 10];
        y.extend(vec![0.0; 10]);
        y.extend(vec![1.0; 5]);
        let (full, oof) = fit(&levels, 3, &t(&y, 2));
        let prior = 15.0 / 25.0;
        assert_eq!(full.prior, vec![prior]);
        // m-estimate: (10 + 10 p) / (10 + 10), (0 + 10 p) / 20; level 2 unseen -> prior.
        assert!((full.values[0] - (10.0 + 10.0 * prior) / 20.0).abs() < 1e-12);
        assert!((full.values[1] - (10.0 * prior) / 20.0).abs() < 1e-12);
        assert!((full.values[2] - prior).abs() < 1e-12);
        // Out of fold: a missing row gets its inner fold's complement prior, never its own
        // label; level-0 rows still encode above level-1 rows.
        assert_eq!(oof.len(), 25);
        for i in 0..10 {
            assert!(oof[i] > oof[10 + i]);
        }
        // Regression: the mean of y.
        let (full, _) = fit(&[Some(0), Some(0), Some(1)], 2, &t(&[2.0, 4.0, 9.0], 0));
        assert_eq!(full.prior, vec![5.0]);
        assert!((full.values[0] - (6.0 + 50.0) / 12.0).abs() < 1e-12);
    }

    #[test]
    fn out_of_fold_rows_never_see_their_own_label() {
        // Every level on one row: the out-of-fold encoding is the prior of the other folds,
        // whatever the row's own label.
        let n = 50;
        let levels: Vec<Option<usize>> = (0..n).map(Some).collect();
        let y: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let (full, oof) = fit(&levels, n, &t(&y, 2));
        let fold_of = inner_folds(n, TARGET_FOLDS, 1);
        for i in 0..n {
            let others: Vec<f64> = (0..n)
                .filter(|&j| fold_of[j] != fold_of[i])
                .map(|j| y[j])
                .collect();
            let p = others.iter().sum::<f64>() / others.len() as f64;
            assert!((oof[i] - p).abs() < 1e-12, "row {i}");
        }
        // The full table does use the label (this is why validation rows never enter it).
        assert!(full.values[1] > full.values[0]);
    }

    #[test]
    fn multiclass_has_one_column_per_class_summing_to_one() {
        let levels = [Some(0), Some(0), Some(1), Some(1), Some(1), None, Some(0)];
        let y = [0.0, 2.0, 1.0, 1.0, 2.0, 0.0, 0.0];
        let tg = t(&y, 3);
        assert_eq!(tg.width(), 3);
        let (full, oof) = fit(&levels, 2, &tg);
        assert_eq!(full.values.len(), 6);
        assert_eq!(oof.len(), 21);
        assert!((full.prior.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for l in 0..2 {
            let s: f64 = full.values[l * 3..l * 3 + 3].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        for i in 0..7 {
            let s: f64 = oof[i * 3..i * 3 + 3].iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        // Level 0: classes 0,2,0 -> class 0 above its prior 3/7.
        assert!(full.values[0] > full.prior[0]);
    }

    #[test]
    fn deterministic_per_seed() {
        let levels: Vec<Option<usize>> = (0..40).map(|i| Some(i % 7)).collect();
        let y: Vec<f64> = (0..40).map(|i| ((i * 31) % 5) as f64).collect();
        let a = fit(&levels, 7, &t(&y, 0));
        let b = fit(&levels, 7, &t(&y, 0));
        assert_eq!(a, b);
        let c = fit(
            &levels,
            7,
            &Target {
                y: &y,
                n_classes: 0,
                seed: 2,
            },
        );
        assert_eq!(a.0, c.0, "the full table does not depend on the seed");
        assert_ne!(a.1, c.1, "the inner folds do");
    }
}
