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

/// How rows depend on each other, for validation: independent rows (random folds), groups of
/// rows that must stay on one side of every split (`--group-col`), or rows ordered in time
/// (`--time-col`, forward-chaining folds).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum RowBlocks {
    /// Independent rows: shuffled (stratified) folds.
    #[default]
    Independent,
    /// Rows sharing a value of `column` are never split.
    Groups {
        /// The column the groups come from (not a feature).
        column: String,
        /// Per row: its group, dense `0..n_groups`.
        ids: Vec<u32>,
    },
    /// Rows ordered by `column`: every fold trains on strictly earlier rows only.
    Time {
        /// The column the times come from (not a feature).
        column: String,
        /// Per row: its time (a number, or seconds since 1970 for ISO-8601 values).
        t: Vec<f64>,
        /// Rows (in time order) left out between the training rows and the validation block.
        gap: usize,
    },
}

impl RowBlocks {
    /// The column behind the blocks, if any.
    pub fn column(&self) -> Option<&str> {
        match self {
            RowBlocks::Independent => None,
            RowBlocks::Groups { column, .. } | RowBlocks::Time { column, .. } => Some(column),
        }
    }

    /// Keep only the rows `keep` (in that order).
    pub fn select_rows(&self, keep: &[usize]) -> RowBlocks {
        match self {
            RowBlocks::Independent => RowBlocks::Independent,
            RowBlocks::Groups { column, ids } => RowBlocks::Groups {
                column: column.clone(),
                ids: keep.iter().map(|&i| ids[i]).collect(),
            },
            RowBlocks::Time { column, t, gap } => RowBlocks::Time {
                column: column.clone(),
                t: keep.iter().map(|&i| t[i]).collect(),
                gap: *gap,
            },
        }
    }
}

/// Why grouped or time-ordered splits cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// Fewer groups than the splits need.
    #[error("{groups} distinct group(s), but {needed} are needed (at least one per fold)")]
    TooFewGroups {
        /// Distinct groups.
        groups: usize,
        /// Groups needed.
        needed: usize,
    },
    /// Fewer distinct times than the forward-chaining blocks need.
    #[error(
        "{distinct} distinct time(s), too few for {blocks} time blocks (the folds plus the first training block)"
    )]
    TooFewTimes {
        /// Distinct times.
        distinct: usize,
        /// Blocks needed.
        blocks: usize,
    },
    /// The gap leaves a fold without training rows.
    #[error(
        "a gap of {gap} row(s) leaves the earliest fold no training rows ({before} row(s) precede its validation block)"
    )]
    GapTooLarge {
        /// The gap.
        gap: usize,
        /// Rows before the earliest validation block.
        before: usize,
    },
    /// Group ids or times of a different length than the targets.
    #[error("{found} group/time values for {expected} rows")]
    Length {
        /// Values given.
        found: usize,
        /// Rows.
        expected: usize,
    },
}

/// Rows per group (dense ids `0..n_groups`).
fn rows_by_group(ids: &[u32]) -> Vec<Vec<usize>> {
    let n_groups = ids.iter().map(|&g| g as usize + 1).max().unwrap_or(0);
    let mut rows = vec![Vec::new(); n_groups];
    for (i, &g) in ids.iter().enumerate() {
        rows[g as usize].push(i);
    }
    rows.retain(|r| !r.is_empty());
    rows
}

/// Splits from a fold assignment per row.
fn splits_from(fold_of: &[usize], k: usize) -> Vec<Split> {
    (0..k)
        .map(|f| {
            let (valid, train): (Vec<usize>, Vec<usize>) =
                (0..fold_of.len()).partition(|&i| fold_of[i] == f);
            Split { train, valid }
        })
        .collect()
}

/// Group `k`-fold: every group's rows in one validation fold, so no split has a group on both
/// sides. Groups are shuffled (seeded) and dealt greedily, largest first: for classification
/// (stratified-grouped) each goes to the fold where its classes are least represented so far
/// (relative to their totals), otherwise, and on ties, to the fold with the fewest rows. `k` is
/// clamped to at least 2; fewer groups than `k` is [`SplitError::TooFewGroups`].
pub fn group_kfold(
    y: &[f64],
    task: Task,
    groups: &[u32],
    k: usize,
    seed: u64,
) -> Result<Vec<Split>, SplitError> {
    if groups.len() != y.len() {
        return Err(SplitError::Length {
            found: groups.len(),
            expected: y.len(),
        });
    }
    let k = k.max(2);
    let mut by_group = rows_by_group(groups);
    if by_group.len() < k {
        return Err(SplitError::TooFewGroups {
            groups: by_group.len(),
            needed: k,
        });
    }
    let mut rng = Rng::derive(seed, 0x0067_6b66_6f6c);
    rng.shuffle(&mut by_group);
    by_group.sort_by_key(|r| std::cmp::Reverse(r.len()));
    let class = |v: f64| {
        if task.is_classification() && v.is_finite() && v >= 0.0 {
            v as usize
        } else {
            0
        }
    };
    let n_classes = y.iter().map(|&v| class(v) + 1).max().unwrap_or(1);
    let mut totals = vec![0usize; n_classes];
    for &v in y {
        totals[class(v)] += 1;
    }
    let mut fold_class = vec![vec![0usize; n_classes]; k];
    let mut fold_rows = vec![0usize; k];
    let mut fold_of = vec![0usize; y.len()];
    for rows in &by_group {
        let mut counts = vec![0usize; n_classes];
        for &i in rows {
            counts[class(y[i])] += 1;
        }
        let cost = |f: usize| -> f64 {
            if !task.is_classification() {
                return 0.0;
            }
            counts
                .iter()
                .zip(&fold_class[f])
                .zip(&totals)
                .map(|((&g, &have), &tot)| g as f64 * have as f64 / tot.max(1) as f64)
                .sum()
        };
        let best = (0..k)
            .min_by(|&a, &b| {
                cost(a)
                    .total_cmp(&cost(b))
                    .then(fold_rows[a].cmp(&fold_rows[b]))
                    .then(a.cmp(&b))
            })
            .unwrap_or(0);
        for &i in rows {
            fold_of[i] = best;
        }
        fold_rows[best] += rows.len();
        for (c, g) in counts.iter().enumerate() {
            fold_class[best][c] += g;
        }
    }
    Ok(splits_from(&fold_of, k))
}

/// One train / validation split with whole groups on each side and about `valid_fraction` of
/// the rows in validation (shuffled groups, seeded). Fewer than 2 groups is an error.
pub fn group_holdout(
    y: &[f64],
    groups: &[u32],
    valid_fraction: f64,
    seed: u64,
) -> Result<Split, SplitError> {
    if groups.len() != y.len() {
        return Err(SplitError::Length {
            found: groups.len(),
            expected: y.len(),
        });
    }
    let mut by_group = rows_by_group(groups);
    if by_group.len() < 2 {
        return Err(SplitError::TooFewGroups {
            groups: by_group.len(),
            needed: 2,
        });
    }
    let frac = if valid_fraction.is_finite() {
        valid_fraction.clamp(0.0, 1.0)
    } else {
        0.2
    };
    let mut rng = Rng::derive(seed, 0x0067_686f_6c64);
    rng.shuffle(&mut by_group);
    let want = (y.len() as f64 * frac).round() as usize;
    let mut is_valid = vec![false; y.len()];
    let mut taken = 0;
    for (gi, rows) in by_group.iter().enumerate() {
        // At least one group on each side.
        if gi + 1 == by_group.len() || (gi > 0 && taken >= want) {
            break;
        }
        for &i in rows {
            is_valid[i] = true;
        }
        taken += rows.len();
    }
    let (valid, train): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| is_valid[i]);
    Ok(Split { train, valid })
}

/// Rows sorted by time (ties by row), and the positions in that order where the time changes.
fn time_order(t: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by(|&a, &b| t[a].total_cmp(&t[b]).then(a.cmp(&b)));
    let changes = (1..order.len())
        .filter(|&p| t[order[p - 1]].total_cmp(&t[order[p]]).is_ne())
        .collect();
    (order, changes)
}

/// The first position `>= p` where the time changes (so ties never straddle), if any.
fn snap(changes: &[usize], p: usize) -> Option<usize> {
    let i = changes.partition_point(|&c| c < p);
    changes.get(i).copied()
}

/// Train on the time-ordered rows before `start` minus the last `gap`, validate on
/// `start..end` (positions in `order`).
fn forward_split(
    order: &[usize],
    start: usize,
    end: usize,
    gap: usize,
) -> Result<Split, SplitError> {
    let train_end = start.saturating_sub(gap);
    if train_end == 0 {
        return Err(SplitError::GapTooLarge { gap, before: start });
    }
    let mut train = order[..train_end].to_vec();
    let mut valid = order[start..end].to_vec();
    train.sort_unstable();
    valid.sort_unstable();
    Ok(Split { train, valid })
}

/// Forward-chaining folds: rows sorted by time are cut into `k + 1` blocks of about equal size
/// (cuts moved forward to where the time changes, so equal times never straddle a cut); fold
/// `f` validates on block `f + 1` and trains on every earlier row except the `gap` rows just
/// before the block. Every training row is strictly earlier than every validation row of its
/// fold, and the last fold validates on the most recent block.
pub fn forward_folds(t: &[f64], k: usize, gap: usize) -> Result<Vec<Split>, SplitError> {
    let n = t.len();
    let k = k.max(2);
    let (order, changes) = time_order(t);
    let too_few = || SplitError::TooFewTimes {
        distinct: changes.len() + usize::from(n > 0),
        blocks: k + 1,
    };
    let mut cuts = Vec::with_capacity(k + 1);
    for j in 1..=k {
        let ideal = (j * n).div_ceil(k + 1);
        let prev = cuts.last().copied().unwrap_or(0);
        let c = snap(&changes, ideal.max(prev + 1)).ok_or_else(too_few)?;
        cuts.push(c);
    }
    cuts.push(n);
    (0..k)
        .map(|f| forward_split(&order, cuts[f], cuts[f + 1], gap))
        .collect()
}

/// One forward split: about the last `valid_fraction` of the rows by time validate (the cut at
/// a change of time), the earlier ones, minus the `gap` rows just before, train.
pub fn forward_holdout(t: &[f64], valid_fraction: f64, gap: usize) -> Result<Split, SplitError> {
    let n = t.len();
    let frac = if valid_fraction.is_finite() {
        valid_fraction.clamp(0.0, 1.0)
    } else {
        0.2
    };
    let (order, changes) = time_order(t);
    let ideal = n - ((n as f64 * frac).round() as usize).clamp(1, n.max(1));
    // The last change at or before the ideal cut, else the first one after it.
    let i = changes.partition_point(|&c| c <= ideal);
    let cut = match i {
        0 => changes.first().copied(),
        i => changes.get(i - 1).copied(),
    }
    .ok_or(SplitError::TooFewTimes {
        distinct: usize::from(n > 0),
        blocks: 2,
    })?;
    forward_split(&order, cut, n, gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_folds_never_split_a_group_and_cover_every_row() {
        let groups: Vec<u32> = (0..200).map(|i| (i * 7 % 23) as u32).collect();
        let y: Vec<f64> = (0..200).map(|i| (i % 3) as f64).collect();
        for task in [Task::Multiclass, Task::Regression] {
            let splits = group_kfold(&y, task, &groups, 5, 3).unwrap();
            assert_eq!(splits.len(), 5);
            let mut seen = vec![0; 200];
            for s in &splits {
                for &i in &s.valid {
                    seen[i] += 1;
                }
                let in_valid: std::collections::BTreeSet<u32> =
                    s.valid.iter().map(|&i| groups[i]).collect();
                assert!(s.train.iter().all(|&i| !in_valid.contains(&groups[i])));
                assert_eq!(s.train.len() + s.valid.len(), 200);
            }
            assert!(seen.iter().all(|&c| c == 1));
            assert_eq!(splits, group_kfold(&y, task, &groups, 5, 3).unwrap());
        }
        let h = group_holdout(&y, &groups, 0.2, 1).unwrap();
        let in_valid: std::collections::BTreeSet<u32> =
            h.valid.iter().map(|&i| groups[i]).collect();
        assert!(h.train.iter().all(|&i| !in_valid.contains(&groups[i])));
        assert!(!h.train.is_empty() && !h.valid.is_empty());
    }

    #[test]
    fn stratified_group_folds_keep_class_balance() {
        // 100 groups of 4 rows, each group one class; 30 % positives.
        let groups: Vec<u32> = (0..400).map(|i| (i / 4) as u32).collect();
        let y: Vec<f64> = (0..400).map(|i| f64::from((i / 4) % 10 < 3)).collect();
        for s in group_kfold(&y, Task::Binary, &groups, 5, 9).unwrap() {
            let pos = s.valid.iter().filter(|&&i| y[i] == 1.0).count() as f64;
            let share = pos / s.valid.len() as f64;
            assert!((share - 0.3).abs() < 0.06, "{share}");
            assert!((70..=90).contains(&s.valid.len()), "{}", s.valid.len());
        }
    }

    #[test]
    fn too_few_groups_is_an_error() {
        let y = vec![0.0; 10];
        let g: Vec<u32> = (0..10).map(|i| (i % 3) as u32).collect();
        assert_eq!(
            group_kfold(&y, Task::Regression, &g, 5, 0).unwrap_err(),
            SplitError::TooFewGroups {
                groups: 3,
                needed: 5
            }
        );
        assert!(group_holdout(&y, &[0; 10], 0.2, 0).is_err());
    }

    #[test]
    fn forward_folds_never_train_on_the_future() {
        // Shuffled rows, times with ties (each time on 3 rows).
        let mut rng = Rng::new(5);
        let mut t: Vec<f64> = (0..120).map(|i| (i / 3) as f64).collect();
        rng.shuffle(&mut t);
        let gap = 4;
        let splits = forward_folds(&t, 5, gap).unwrap();
        assert_eq!(splits.len(), 5);
        let max = |rows: &[usize]| rows.iter().map(|&i| t[i]).fold(f64::MIN, f64::max);
        let min = |rows: &[usize]| rows.iter().map(|&i| t[i]).fold(f64::MAX, f64::min);
        for s in &splits {
            assert!(max(&s.train) < min(&s.valid));
            // The gap: exactly `gap` rows between the training rows and the block.
            let between = t
                .iter()
                .filter(|&&x| x > max(&s.train) && x < min(&s.valid))
                .count();
            let at_edge = t.iter().filter(|&&x| x == max(&s.train)).count()
                - s.train.iter().filter(|&&i| t[i] == max(&s.train)).count();
            assert_eq!(between + at_edge, gap);
        }
        // The last fold validates on the most recent rows.
        assert_eq!(max(&splits[4].valid), 39.0);
        for w in splits.windows(2) {
            assert!(max(&w[0].valid) < min(&w[1].valid));
        }
        let h = forward_holdout(&t, 0.2, gap).unwrap();
        assert!(max(&h.train) < min(&h.valid));
        assert_eq!(max(&h.valid), 39.0);
        assert!((21..=27).contains(&h.valid.len()), "{}", h.valid.len());
    }

    #[test]
    fn forward_folds_errors() {
        let t = vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
        assert!(matches!(
            forward_folds(&t, 5, 0),
            Err(SplitError::TooFewTimes { .. })
        ));
        let t: Vec<f64> = (0..60).map(f64::from).collect();
        assert!(matches!(
            forward_folds(&t, 5, 10),
            Err(SplitError::GapTooLarge { gap: 10, .. })
        ));
        assert!(forward_folds(&t, 5, 9).is_ok());
    }
}
