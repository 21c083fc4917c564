//! Leakage checks on the training data: how well each column alone predicts the target, by a
//! cheap one-column model cross-validated on a seeded sample of the rows.
//!
//! The model bins the column (numbers: up to 256 quantile bins of the training fold, at least 5
//! training rows each, or for classification the cuts between pure runs of one class when the
//! sorted values fall into few of them; categories and booleans: one bin per level; missing
//! values: a bin of their own) and predicts each bin's training statistics, smoothed toward the
//! training fold's overall statistic (class frequencies, or the mean). For numbers in
//! regression the prediction interpolates linearly between the bins' (mean x, mean y) points,
//! and a least-squares line is tried too (the better of the two is kept). Everything is fitted on the training folds only.
//! Scores: ROC AUC (binary), accuracy (multiclass), R² (regression), averaged over the folds.
//! The folds are 3 of the same kind as the study's when `--group-col` / `--time-col` is given
//! (grouped or forward-chaining), else stratified 3-fold.

use automl_core::{Rng, Task};

use crate::frame::{Column, ColumnData, MISSING_CODE};
use crate::split::{RowBlocks, Split, forward_folds, group_kfold, kfold};

/// A column alone reaching this cross-validated score is excluded (unless kept).
pub(crate) const EXCLUDE_SCORE: f64 = 0.999;
/// A column alone reaching this score (but below [`EXCLUDE_SCORE`]) is warned about.
pub(crate) const WARN_SCORE: f64 = 0.98;
/// Rows needed before the check runs at all.
pub(crate) const MIN_ROWS: usize = 30;
/// Rows sampled (seeded) for the check on larger files.
const MAX_ROWS: usize = 20_000;
/// Folds of the check.
const FOLDS: usize = 3;
/// Seed of the sample and of the folds (fixed: the report does not depend on the study seed).
const SEED: u64 = 0x6c65_616b_6167_6500;
/// Most quantile bins of a numeric column.
const MAX_BINS: usize = 256;
/// Fewest training rows per quantile bin.
const MIN_BIN_ROWS: usize = 5;
/// Pseudo-rows of the smoothing toward the fold's overall statistic.
const SMOOTHING: f64 = 1.0;

/// The rows, targets and folds every column is scored on.
pub(crate) struct Probe {
    rows: Vec<usize>,
    y: Vec<f64>,
    folds: Vec<Split>,
    task: Task,
    n_classes: usize,
}

impl Probe {
    /// The probe for targets `y` (class indices or values) of a `task` with `n_classes`
    /// classes; `None` when there are too few rows or no usable folds.
    pub(crate) fn new(y: &[f64], task: Task, n_classes: usize, blocks: &RowBlocks) -> Option<Self> {
        let n = y.len();
        if n < MIN_ROWS {
            return None;
        }
        let rows: Vec<usize> = if n > MAX_ROWS {
            let mut all: Vec<usize> = (0..n).collect();
            Rng::derive(SEED, 1).shuffle(&mut all);
            all.truncate(MAX_ROWS);
            all.sort_unstable();
            all
        } else {
            (0..n).collect()
        };
        let ys: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
        let folds = match blocks {
            RowBlocks::Independent => None,
            RowBlocks::Groups { ids, .. } => {
                // Dense group ids of the sampled rows.
                let mut map = std::collections::HashMap::new();
                let g: Vec<u32> = rows
                    .iter()
                    .map(|&i| {
                        let next = map.len() as u32;
                        *map.entry(ids[i]).or_insert(next)
                    })
                    .collect();
                group_kfold(&ys, task, &g, FOLDS, SEED).ok()
            }
            RowBlocks::Time { t, gap, .. } => {
                let t: Vec<f64> = rows.iter().map(|&i| t[i]).collect();
                forward_folds(&t, FOLDS, *gap).ok()
            }
        }
        .unwrap_or_else(|| kfold(&ys, task, FOLDS, SEED));
        Some(Probe {
            rows,
            y: ys,
            folds,
            task,
            n_classes,
        })
    }

    /// The score's name, as the metric names are spelled elsewhere.
    pub(crate) fn metric(&self) -> &'static str {
        match self.task {
            Task::Binary => "roc_auc",
            Task::Multiclass => "accuracy",
            Task::Regression => "r2",
        }
    }

    /// The cross-validated score of `col` alone (`None` when no fold can be scored).
    pub(crate) fn score(&self, col: &Column) -> Option<f64> {
        let values: Vec<Value> = self.rows.iter().map(|&i| value(col, i)).collect();
        let numeric = matches!(col.data, ColumnData::Numeric(_));
        let mut total = 0.0;
        let mut weight = 0.0;
        for split in &self.folds {
            if split.train.is_empty() || split.valid.is_empty() {
                continue;
            }
            let labels = self.task.is_classification().then_some(self.y.as_slice());
            let bins = Binner::fit(&values, &split.train, numeric, labels);
            let s = if self.task.is_classification() {
                self.classify(&values, &bins, split)
            } else {
                let binned = self.regress(&values, &bins, split);
                let line = if numeric {
                    self.line(&values, split)
                } else {
                    None
                };
                match (binned, line) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                }
            };
            if let Some(s) = s {
                total += s * split.valid.len() as f64;
                weight += split.valid.len() as f64;
            }
        }
        (weight > 0.0).then(|| total / weight)
    }

    fn classify(&self, values: &[Value], bins: &Binner, split: &Split) -> Option<f64> {
        let k = self.n_classes.max(2);
        let nb = bins.n_bins();
        let mut counts = vec![0.0; nb * k];
        let mut prior = vec![0.0; k];
        for &i in &split.train {
            let c = self.y[i] as usize;
            counts[bins.bin(values[i]) * k + c] += 1.0;
            prior[c] += 1.0;
        }
        let n_train = split.train.len() as f64;
        for p in &mut prior {
            *p /= n_train;
        }
        let prob = |b: usize, c: usize| {
            let row = &counts[b * k..(b + 1) * k];
            let tot: f64 = row.iter().sum();
            (row[c] + SMOOTHING * prior[c]) / (tot + SMOOTHING)
        };
        if self.task == Task::Binary {
            let scored: Vec<(f64, bool)> = split
                .valid
                .iter()
                .map(|&i| (prob(bins.bin(values[i]), 1), self.y[i] == 1.0))
                .collect();
            roc_auc(&scored)
        } else {
            let hits = split
                .valid
                .iter()
                .filter(|&&i| {
                    let b = bins.bin(values[i]);
                    let best = (0..k)
                        .max_by(|&a, &c| prob(b, a).total_cmp(&prob(b, c)).then(c.cmp(&a)))
                        .unwrap_or(0);
                    best == self.y[i] as usize
                })
                .count();
            Some(hits as f64 / split.valid.len() as f64)
        }
    }

    fn regress(&self, values: &[Value], bins: &Binner, split: &Split) -> Option<f64> {
        let nb = bins.n_bins();
        let mut sum = vec![0.0; nb];
        let mut cnt = vec![0.0; nb];
        for &i in &split.train {
            let b = bins.bin(values[i]);
            sum[b] += self.y[i];
            cnt[b] += 1.0;
        }
        let mean = sum.iter().sum::<f64>() / split.train.len() as f64;
        // Numbers: the line through the bins' (mean x, mean y) points, so a smooth function
        // of the column is not held back by the bin widths.
        let mut knots: Vec<(f64, f64)> = Vec::new();
        if let Binner::Edges(_) = bins {
            let mut sx = vec![0.0; nb];
            for &i in &split.train {
                if let Value::Num(x) = values[i] {
                    sx[bins.bin(values[i])] += x;
                }
            }
            knots = (0..nb - 1)
                .filter(|&b| cnt[b] > 0.0)
                .map(|b| (sx[b] / cnt[b], sum[b] / cnt[b]))
                .collect();
        }
        let pred: Vec<f64> = split
            .valid
            .iter()
            .map(|&i| match values[i] {
                Value::Num(x) if !knots.is_empty() => interpolate(&knots, x),
                v => {
                    let b = bins.bin(v);
                    (sum[b] + SMOOTHING * mean) / (cnt[b] + SMOOTHING)
                }
            })
            .collect();
        r2(
            &split.valid.iter().map(|&i| self.y[i]).collect::<Vec<_>>(),
            &pred,
        )
    }

    /// R² of a least-squares line fitted on the training rows (missing values predicted by the
    /// training mean).
    fn line(&self, values: &[Value], split: &Split) -> Option<f64> {
        let pts: Vec<(f64, f64)> = split
            .train
            .iter()
            .filter_map(|&i| match values[i] {
                Value::Num(x) => Some((x, self.y[i])),
                _ => None,
            })
            .collect();
        if pts.len() < 2 {
            return None;
        }
        let m = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / m;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / m;
        let (sxy, sxx) = pts.iter().fold((0.0, 0.0), |a, p| {
            (a.0 + (p.0 - mx) * (p.1 - my), a.1 + (p.0 - mx) * (p.0 - mx))
        });
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let pred: Vec<f64> = split
            .valid
            .iter()
            .map(|&i| match values[i] {
                Value::Num(x) => my + slope * (x - mx),
                _ => my,
            })
            .collect();
        r2(
            &split.valid.iter().map(|&i| self.y[i]).collect::<Vec<_>>(),
            &pred,
        )
    }
}

/// One cell as the check sees it.
#[derive(Debug, Clone, Copy)]
enum Value {
    Num(f64),
    Code(u32),
    Missing,
}

fn value(col: &Column, i: usize) -> Value {
    match &col.data {
        ColumnData::Numeric(v) if v[i].is_finite() => Value::Num(v[i]),
        ColumnData::Categorical { codes, .. } if codes[i] != MISSING_CODE => Value::Code(codes[i]),
        _ => Value::Missing,
    }
}

/// A column's bins, fitted on training rows: quantile edges of numbers, or one bin per level.
enum Binner {
    Edges(Vec<f64>),
    Levels(usize),
}

impl Binner {
    /// Numbers are cut where the class changes when `labels` (classes) are given and the
    /// sorted training values fall into few pure runs (a column that separates the classes),
    /// else at quantiles.
    fn fit(values: &[Value], train: &[usize], numeric: bool, labels: Option<&[f64]>) -> Binner {
        if !numeric {
            let levels = values
                .iter()
                .filter_map(|v| match v {
                    Value::Code(c) => Some(*c as usize + 1),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            return Binner::Levels(levels);
        }
        let mut xs: Vec<f64> = train
            .iter()
            .filter_map(|&i| match values[i] {
                Value::Num(x) => Some(x),
                _ => None,
            })
            .collect();
        xs.sort_unstable_by(f64::total_cmp);
        let nb = (xs.len() / MIN_BIN_ROWS).clamp(1, MAX_BINS);
        if let Some(y) = labels {
            if let Some(edges) = class_runs(values, train, y, nb) {
                return Binner::Edges(edges);
            }
        }
        let mut edges: Vec<f64> = (1..nb).map(|j| xs[j * xs.len() / nb]).collect();
        edges.dedup();
        Binner::Edges(edges)
    }

    /// Bins, the missing bin last.
    fn n_bins(&self) -> usize {
        match self {
            Binner::Edges(e) => e.len() + 2,
            Binner::Levels(l) => l + 1,
        }
    }

    fn bin(&self, v: Value) -> usize {
        match (self, v) {
            (Binner::Edges(e), Value::Num(x)) => e.partition_point(|&edge| edge <= x),
            (Binner::Levels(l), Value::Code(c)) => (c as usize).min(*l),
            _ => self.n_bins() - 1,
        }
    }
}

/// Cut points between the runs of one class in the training rows sorted by value, when every
/// distinct value has a single class and there are fewer than `max_bins` runs.
fn class_runs(values: &[Value], train: &[usize], y: &[f64], max_bins: usize) -> Option<Vec<f64>> {
    let mut pts: Vec<(f64, f64)> = train
        .iter()
        .filter_map(|&i| match values[i] {
            Value::Num(x) => Some((x, y[i])),
            _ => None,
        })
        .collect();
    pts.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut edges = Vec::new();
    for w in pts.windows(2) {
        if w[1].1 != w[0].1 {
            if w[1].0 == w[0].0 {
                return None;
            }
            edges.push(w[0].0 + (w[1].0 - w[0].0) / 2.0);
            if edges.len() >= max_bins {
                return None;
            }
        }
    }
    Some(edges)
}

/// Piecewise-linear interpolation through `knots` (sorted by x), flat beyond the ends.
fn interpolate(knots: &[(f64, f64)], x: f64) -> f64 {
    let j = knots.partition_point(|k| k.0 <= x);
    if j == 0 {
        return knots[0].1;
    }
    if j == knots.len() {
        return knots[j - 1].1;
    }
    let (a, b) = (knots[j - 1], knots[j]);
    if b.0 > a.0 {
        a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
    } else {
        a.1
    }
}

/// ROC AUC (ties count half); `None` without both classes.
fn roc_auc(scored: &[(f64, bool)]) -> Option<f64> {
    let mut s = scored.to_vec();
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut pos, mut neg) = (0.0, 0.0);
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < s.len() {
        let mut j = i;
        while j < s.len() && s[j].0 == s[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0; // 1-based ranks i+1..=j
        for item in &s[i..j] {
            if item.1 {
                pos += 1.0;
                rank_sum += avg_rank;
            } else {
                neg += 1.0;
            }
        }
        i = j;
    }
    (pos > 0.0 && neg > 0.0).then(|| (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Coefficient of determination; `None` for a constant truth.
fn r2(truth: &[f64], pred: &[f64]) -> Option<f64> {
    let m = truth.iter().sum::<f64>() / truth.len() as f64;
    let ss_tot: f64 = truth.iter().map(|t| (t - m) * (t - m)).sum();
    let ss_res: f64 = truth.iter().zip(pred).map(|(t, p)| (t - p) * (t - p)).sum();
    (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(roc_auc(&[(0.1, false), (0.9, true)]), Some(1.0));
        assert_eq!(roc_auc(&[(0.5, false), (0.5, true)]), Some(0.5));
        assert_eq!(roc_auc(&[(0.9, false), (0.1, true)]), Some(0.0));
        assert_eq!(roc_auc(&[(0.9, true)]), None);
    }

    #[test]
    fn folds_follow_groups_and_time() {
        let y: Vec<f64> = (0..90).map(|i| (i % 2) as f64).collect();
        let ids: Vec<u32> = (0..90).map(|i| i / 10).collect();
        let blocks = RowBlocks::Groups {
            column: "g".into(),
            ids: ids.clone(),
        };
        let p = Probe::new(&y, Task::Binary, 2, &blocks).unwrap();
        for s in &p.folds {
            assert!(
                s.valid
                    .iter()
                    .all(|&v| s.train.iter().all(|&t| ids[t] != ids[v]))
            );
        }
        let t: Vec<f64> = (0..90).map(|i| i as f64).collect();
        let blocks = RowBlocks::Time {
            column: "t".into(),
            t,
            gap: 0,
        };
        let p = Probe::new(&y, Task::Binary, 2, &blocks).unwrap();
        for s in &p.folds {
            assert!(s.train.iter().max() < s.valid.iter().min());
        }
    }

    #[test]
    fn a_noisy_copy_scores_near_one_and_noise_does_not() {
        let n = 600;
        let mut rng = Rng::new(7);
        let y: Vec<f64> = (0..n).map(|_| rng.uniform(0.0, 10.0)).collect();
        let probe = Probe::new(&y, Task::Regression, 0, &RowBlocks::Independent).unwrap();
        let leak = Column::numeric("leak", y.iter().map(|v| v + rng.normal() * 1e-4).collect());
        let noise = Column::numeric("noise", (0..n).map(|_| rng.normal()).collect());
        assert!(probe.score(&leak).unwrap() >= EXCLUDE_SCORE);
        assert!(probe.score(&noise).unwrap() < 0.1);
    }
}
