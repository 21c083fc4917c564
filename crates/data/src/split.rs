//! Validation splits: stratified / shuffled k-fold and holdout, seeded with automl_core::Rng.

use automl_core::{Rng, Task};
use serde::{Deserialize, Serialize};

/// Row indices of one train / validation split (both sorted ascending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub valid: Vec<usize>,
}

/// Row indices grouped by class (classification) or one group of all rows (regression),
/// each group shuffled.
fn shuffled_groups(y: &[f64], task: Task, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = if task.is_classification() {
        let k = y
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| v as usize + 1)
            .max()
            .unwrap_or(0);
        let mut g = vec![Vec::new(); k];
        for (i, &v) in y.iter().enumerate() {
            g[if v.is_finite() && v >= 0.0 {
                v as usize
            } else {
                0
            }]
            .push(i);
        }
        g
    } else {
        vec![(0..y.len()).collect()]
    };
    for g in &mut groups {
        rng.shuffle(g);
    }
    groups
}

/// `k`-fold cross-validation splits: stratified for classification (each class dealt round-robin
/// over the folds, so every fold holds its share of every class with at least `k` rows),
/// shuffled for regression. Every row is in exactly one validation set. `k` is clamped to
/// `2..=n_rows`. Same `seed` = same splits.
pub fn kfold(y: &[f64], task: Task, k: usize, seed: u64) -> Vec<Split> {
    let n = y.len();
    let k = k.clamp(2, n.max(2));
    let mut rng = Rng::derive(seed, 0x006b_666f_6c64);
    let groups = shuffled_groups(y, task, &mut rng);
    let mut fold_of = vec![0usize; n];
    // Continue the round-robin across classes, starting each class at a random fold, so fold
    // sizes stay within one row of each other overall.
    let mut next = rng.below(k);
    for g in &groups {
        for &i in g {
            fold_of[i] = next;
            next = (next + 1) % k;
        }
    }
    (0..k)
        .map(|f| {
            let (valid, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold_of[i] == f);
            Split { train, valid }
        })
        .collect()
}

/// One train / validation split with about `valid_fraction` of the rows in validation,
/// stratified for classification (every class with at least 2 rows is in both parts).
/// Same `seed` = same split.
pub fn holdout(y: &[f64], task: Task, valid_fraction: f64, seed: u64) -> Split {
    let n = y.len();
    let frac = if valid_fraction.is_finite() {
        valid_fraction.clamp(0.0, 1.0)
    } else {
        0.2
    };
    let mut rng = Rng::derive(seed, 0x0068_6f6c_64ff);
    let groups = shuffled_groups(y, task, &mut rng);
    let mut is_valid = vec![false; n];
    for g in &groups {
        let m = g.len();
        let mut take = (m as f64 * frac).round() as usize;
        if m >= 2 {
            take = take.clamp(1, m - 1);
        } else {
            take = take.min(m);
        }
        for &i in &g[..take] {
            is_valid[i] = true;
        }
    }
    let (valid, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| is_valid[i]);
    Split { train, valid }
}
