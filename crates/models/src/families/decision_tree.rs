//! `decision_tree`: a single CART tree (exact splits) for classification and regression.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `max_depth` | 8 | [1, 64] | depth limit |
//! | `min_samples_leaf` | 2 | [1, 1000000] | rows each leaf must keep |
//! | `criterion` | `gini` | `gini`, `entropy` | split criterion (classification only; ignored for regression, which uses squared error) |
//!
//! Implemented here rather than with linfa-trees or smartcore: linfa-trees has no regression
//! tree and overflows its stack on NaN; smartcore's `predict_proba` returns one-hot leaf
//! labels. This tree stores the (sample-weighted) class frequencies of each leaf, so
//! probabilities are leaf frequencies, and the regression value is the leaf mean. It is built
//! iteratively (no recursion), fully deterministic (ties keep the lowest feature and
//! threshold), checks the deadline while growing, and honours `sample_weight`.

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const NAME: &str = "decision_tree";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass, Task::Regression];
const LEAF: u32 = u32::MAX;

/// The `decision_tree` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct DecisionTree;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Node {
    /// Split feature, or `LEAF`.
    feature: u32,
    /// Rows with `x[feature] <= threshold` go left.
    threshold: f64,
    left: u32,
    right: u32,
    /// Leaf output: class frequencies (classification) or `[mean]` (regression).
    value: Vec<f64>,
}

/// A fitted decision tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionTreeModel {
    nodes: Vec<Node>,
    task: Task,
    n_classes: usize,
    n_features: usize,
    depth: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Criterion {
    Gini,
    Entropy,
    Mse,
}

struct Grower<'a> {
    x: ArrayView2<'a, f64>,
    y: &'a [f64],
    w: Vec<f64>,
    n_classes: usize,
    criterion: Criterion,
    min_leaf: usize,
}

fn xlnx(v: f64) -> f64 {
    if v > 0.0 { v * v.ln() } else { 0.0 }
}

impl Grower<'_> {
    /// Leaf value and cost (weighted impurity x weight) of a set of rows.
    fn node_stats(&self, rows: &[usize]) -> (Vec<f64>, f64) {
        if self.criterion == Criterion::Mse {
            let (mut sw, mut sy, mut syy) = (0.0, 0.0, 0.0);
            for &r in rows {
                let w = self.w[r];
                sw += w;
                sy += w * self.y[r];
                syy += w * self.y[r] * self.y[r];
            }
            let mean = if sw > 0.0 { sy / sw } else { 0.0 };
            let cost = if sw > 0.0 {
                (syy - sy * sy / sw).max(0.0)
            } else {
                0.0
            };
            (vec![mean], cost)
        } else {
            let mut counts = vec![0.0; self.n_classes];
            for &r in rows {
                counts[self.y[r] as usize] += self.w[r];
            }
            let total: f64 = counts.iter().sum();
            let cost = self.class_cost(&counts, total);
            // Leaf probabilities as an m-estimate with m = one row (in units of the leaf's mean
            // row weight) spread uniformly over the classes: a pure leaf of two rows says
            // (2 + 1/k) / 3, not 1.0, which keeps the log loss of a single tree finite and
            // honest without flattening large leaves.
            let value = if total > 0.0 {
                let a = total / rows.len().max(1) as f64;
                let k = self.n_classes.max(1) as f64;
                counts.iter().map(|c| (c + a / k) / (total + a)).collect()
            } else {
                let mut c = vec![0.0; self.n_classes];
                for &r in rows {
                    c[self.y[r] as usize] += 1.0;
                }
                let n = rows.len() as f64;
                c.iter().map(|v| v / n).collect()
            };
            (value, cost)
        }
    }

    fn class_cost(&self, counts: &[f64], total: f64) -> f64 {
        if total <= 0.0 {
            return 0.0;
        }
        match self.criterion {
            Criterion::Gini => total - counts.iter().map(|c| c * c).sum::<f64>() / total,
            _ => xlnx(total) - counts.iter().map(|c| xlnx(*c)).sum::<f64>(),
        }
    }

    /// Best split of `rows`: (feature, threshold, child cost), if any lowers the cost.
    fn best_split(&self, rows: &[usize], parent_cost: f64) -> Option<(usize, f64, f64)> {
        let n = rows.len();
        let mut best: Option<(usize, f64, f64)> = None;
        let mut best_cost = parent_cost - 1e-10 * parent_cost.abs() - 1e-14;
        let mut order: Vec<usize> = rows.to_vec();
        let k = self.n_classes;
        let mut left = vec![0.0; k];
        let mut tot = vec![0.0; k];
        for &r in rows {
            if self.criterion != Criterion::Mse {
                tot[self.y[r] as usize] += self.w[r];
            }
        }
        let (mut ty, mut tw) = (0.0, 0.0);
        for &r in rows {
            ty += self.w[r] * self.y[r];
            tw += self.w[r];
        }
        let tsq: f64 = tot.iter().map(|c| c * c).sum();
        let tent: f64 = tot.iter().map(|c| xlnx(*c)).sum();
        for f in 0..self.x.ncols() {
            let col = self.x.column(f);
            order.sort_unstable_by(|a, b| col[*a].total_cmp(&col[*b]).then(a.cmp(b)));
            if col[order[0]] == col[order[n - 1]] {
                continue;
            }
            left.iter_mut().for_each(|v| *v = 0.0);
            let (mut lw, mut ly) = (0.0, 0.0);
            // Running sums of squares / x ln x of the class weights on each side.
            let (mut lsq, mut rsq, mut lent, mut rent) = (0.0, tsq, 0.0, tent);
            for i in 0..n - 1 {
                let r = order[i];
                let w = self.w[r];
                lw += w;
                match self.criterion {
                    Criterion::Mse => ly += w * self.y[r],
                    Criterion::Gini => {
                        let c = self.y[r] as usize;
                        let right_c = tot[c] - left[c];
                        lsq += 2.0 * w * left[c] + w * w;
                        rsq += (right_c - w) * (right_c - w) - right_c * right_c;
                        left[c] += w;
                    }
                    Criterion::Entropy => {
                        let c = self.y[r] as usize;
                        let right_c = tot[c] - left[c];
                        lent += xlnx(left[c] + w) - xlnx(left[c]);
                        rent += xlnx(right_c - w) - xlnx(right_c);
                        left[c] += w;
                    }
                }
                let nl = i + 1;
                if nl < self.min_leaf || n - nl < self.min_leaf {
                    continue;
                }
                let (a, b) = (col[r], col[order[i + 1]]);
                if a == b {
                    continue;
                }
                let rw = tw - lw;
                if lw <= 0.0 || rw <= 0.0 {
                    continue;
                }
                let cost = match self.criterion {
                    Criterion::Mse => {
                        // SSE = sum w y^2 - (sum w y)^2 / W per side; sum w y^2 is constant.
                        let ry = ty - ly;
                        parent_cost + ty * ty / tw - ly * ly / lw - ry * ry / rw
                    }
                    Criterion::Gini => (lw - lsq / lw) + (rw - rsq / rw),
                    Criterion::Entropy => (xlnx(lw) - lent) + (xlnx(rw) - rent),
                };
                if cost < best_cost {
                    best_cost = cost;
                    let mid = a + (b - a) / 2.0;
                    let thr = if mid >= b { a } else { mid };
                    best = Some((f, thr, cost));
                }
            }
        }
        best
    }
}

impl Family for DecisionTree {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "CART decision tree with leaf class frequencies (own implementation)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Dense
    }
    fn relative_cost(&self) -> f64 {
        2.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(
            NAME,
            params,
            &["max_depth", "min_samples_leaf", "criterion"],
        )?;
        let max_depth = p.int("max_depth", 8, 1, 64)? as usize;
        let min_leaf = p.int("min_samples_leaf", 2, 1, 1_000_000)? as usize;
        let criterion = p.choice("criterion", "gini", &["gini", "entropy"])?;
        util::check_input(NAME, TASKS, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let criterion = match (input.task, criterion) {
            (Task::Regression, _) => Criterion::Mse,
            (_, "entropy") => Criterion::Entropy,
            _ => Criterion::Gini,
        };
        let n = input.x.nrows();
        let g = Grower {
            x: input.x,
            y: input.y,
            w: input
                .sample_weight
                .map_or_else(|| vec![1.0; n], <[f64]>::to_vec),
            n_classes: input.n_classes,
            criterion,
            min_leaf,
        };
        let mut nodes: Vec<Node> = Vec::new();
        let mut depth_reached = 0;
        // Work stack: (node index, rows, depth).
        let mut stack: Vec<(usize, Vec<usize>, usize)> = Vec::new();
        let (value, cost) = g.node_stats(&(0..n).collect::<Vec<_>>());
        nodes.push(Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
        });
        stack.push((0, (0..n).collect(), 0));
        let mut costs = vec![cost];
        while let Some((id, rows, depth)) = stack.pop() {
            if nodes.len() % 32 == 0 {
                util::check_deadline(NAME, input.deadline)?;
            }
            depth_reached = depth_reached.max(depth);
            if depth >= max_depth || rows.len() < 2 * min_leaf || costs[id] <= 1e-12 {
                continue;
            }
            let Some((f, thr, _)) = g.best_split(&rows, costs[id]) else {
                continue;
            };
            let (l, r): (Vec<usize>, Vec<usize>) =
                rows.into_iter().partition(|&i| input.x[[i, f]] <= thr);
            let (lv, lc) = g.node_stats(&l);
            let (rv, rc) = g.node_stats(&r);
            let li = nodes.len();
            nodes.push(Node {
                feature: LEAF,
                threshold: 0.0,
                left: 0,
                right: 0,
                value: lv,
            });
            nodes.push(Node {
                feature: LEAF,
                threshold: 0.0,
                left: 0,
                right: 0,
                value: rv,
            });
            costs.push(lc);
            costs.push(rc);
            let node = &mut nodes[id];
            node.feature = f as u32;
            node.threshold = thr;
            node.left = li as u32;
            node.right = li as u32 + 1;
            node.value = Vec::new();
            stack.push((li + 1, r, depth + 1));
            stack.push((li, l, depth + 1));
        }
        Ok(Box::new(DecisionTreeModel {
            nodes,
            task: input.task,
            n_classes: input.n_classes,
            n_features: input.x.ncols(),
            depth: depth_reached,
        }))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(util::decode::<DecisionTreeModel>(NAME, bytes)?))
    }
}

impl DecisionTreeModel {
    fn leaf(&self, row: ndarray::ArrayView1<'_, f64>) -> &[f64] {
        let mut i = 0usize;
        loop {
            let node = &self.nodes[i];
            if node.feature == LEAF {
                return &node.value;
            }
            i = if row[node.feature as usize] <= node.threshold {
                node.left as usize
            } else {
                node.right as usize
            };
        }
    }
}

impl Model for DecisionTreeModel {
    fn family(&self) -> &'static str {
        NAME
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(NAME, x, self.n_features)?;
        if self.task.is_classification() {
            let mut proba = Array2::zeros((x.nrows(), self.n_classes));
            for (i, row) in x.rows().into_iter().enumerate() {
                proba
                    .row_mut(i)
                    .assign(&ndarray::ArrayView1::from(self.leaf(row)));
            }
            Ok(Predictions::from_proba(proba))
        } else {
            Ok(Predictions::regression(
                x.rows().into_iter().map(|r| self.leaf(r)[0]).collect(),
            ))
        }
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(NAME, self)
    }
    fn facts(&self) -> BTreeMap<String, String> {
        let leaves = self.nodes.iter().filter(|n| n.feature == LEAF).count();
        BTreeMap::from([
            ("n_leaves".to_string(), leaves.to_string()),
            ("depth".to_string(), self.depth.to_string()),
        ])
    }
}
