//! `knn`: k-nearest neighbours (exact, Euclidean) for classification and regression.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `k` | 5 | [1, 100000] | neighbours (clamped to the number of training rows) |
//! | `weights` | `uniform` | `uniform`, `distance` | vote weights: equal, or 1 / distance |
//!
//! Implemented here (brute force, distances via one matrix product per 256-row block), so the
//! model is plain data that serializes and reloads, and ties are broken deterministically
//! (nearer first, then lower training row). Classification probabilities are the weighted
//! class shares among the neighbours, smoothed by one pseudo-neighbour spread evenly over the
//! classes (so no class gets probability 0); regression predicts the weighted mean. With `distance`
//! weights, neighbours at distance 0 take all the weight (as in scikit-learn).
//! `sample_weight` multiplies each neighbour's vote.

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

const NAME: &str = "knn";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass, Task::Regression];
const BLOCK: usize = 256;

/// The `knn` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct Knn;

/// A fitted kNN model: the training rows themselves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnnModel {
    x: Array2<f64>,
    norms: Array1<f64>,
    y: Vec<f64>,
    weight: Option<Vec<f64>>,
    k: usize,
    distance_weights: bool,
    task: Task,
    n_classes: usize,
}

impl Family for Knn {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "k-nearest neighbours, exact Euclidean search (own implementation)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Scaled
    }
    fn relative_cost(&self) -> f64 {
        3.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(NAME, params, &["k", "weights"])?;
        let k = p.int("k", 5, 1, 100_000)? as usize;
        let weights = p.choice("weights", "uniform", &["uniform", "distance"])?;
        util::check_input(NAME, TASKS, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let x = input.x.to_owned();
        let norms = x.map_axis(Axis(1), |r| r.dot(&r));
        Ok(Box::new(KnnModel {
            k: k.min(x.nrows()),
            x,
            norms,
            y: input.y.to_vec(),
            weight: input.sample_weight.map(<[f64]>::to_vec),
            distance_weights: weights == "distance",
            task: input.task,
            n_classes: input.n_classes,
        }))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(util::decode::<KnnModel>(NAME, bytes)?))
    }
}

impl KnnModel {
    /// The `k` nearest training rows of each query row, as (squared distance, row) pairs
    /// sorted nearest first, passed to `visit(query_index, neighbours)`.
    fn neighbours(&self, q: ArrayView2<'_, f64>, mut visit: impl FnMut(usize, &[(f64, usize)])) {
        let n = self.x.nrows();
        let mut cand: Vec<(f64, usize)> = Vec::with_capacity(n);
        for start in (0..q.nrows()).step_by(BLOCK) {
            let end = (start + BLOCK).min(q.nrows());
            let block = q.slice_axis(Axis(0), ndarray::Slice::from(start..end));
            let dots = block.dot(&self.x.t());
            for (bi, qrow) in block.rows().into_iter().enumerate() {
                let qn = qrow.dot(&qrow);
                cand.clear();
                cand.extend(dots.row(bi).iter().zip(self.norms.iter()).enumerate().map(
                    |(j, (d, xn))| {
                        // Rounding noise of the expanded form: treat tiny as exact 0.
                        let d2 = qn + xn - 2.0 * d;
                        let d2 = if d2 <= 1e-12 * (qn + xn) { 0.0 } else { d2 };
                        (d2, j)
                    },
                ));
                let cmp =
                    |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if self.k < cand.len() {
                    cand.select_nth_unstable_by(self.k - 1, cmp);
                    cand.truncate(self.k);
                }
                cand.sort_unstable_by(cmp);
                visit(start + bi, &cand);
            }
        }
    }

    /// Vote weights of the neighbours.
    fn vote_weights(&self, nb: &[(f64, usize)], out: &mut Vec<f64>) {
        out.clear();
        let sw = |j: usize| self.weight.as_ref().map_or(1.0, |w| w[j]);
        if self.distance_weights {
            let exact = nb.iter().any(|(d, _)| *d == 0.0);
            for &(d, j) in nb {
                let w = if exact {
                    if d == 0.0 { 1.0 } else { 0.0 }
                } else {
                    1.0 / d.sqrt()
                };
                out.push(w * sw(j));
            }
        } else {
            out.extend(nb.iter().map(|&(_, j)| sw(j)));
        }
        if out.iter().sum::<f64>() <= 0.0 {
            // All neighbours carry zero sample weight: fall back to equal votes.
            out.iter_mut().for_each(|w| *w = 1.0);
        }
    }
}

impl Model for KnnModel {
    fn family(&self) -> &'static str {
        NAME
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(NAME, x, self.x.ncols())?;
        let mut w = Vec::new();
        if self.task.is_classification() {
            let mut proba = Array2::zeros((x.nrows(), self.n_classes));
            self.neighbours(x, |i, nb| {
                self.vote_weights(nb, &mut w);
                let total: f64 = w.iter().sum();
                // Weighted class shares among the k neighbours, plus one pseudo-neighbour spread
                // evenly over the classes (an m-estimate): a class no neighbour votes for gets
                // 1 / (K (k + 1)) instead of 0, so one surprise cannot cost an infinite log loss.
                let k = nb.len() as f64;
                let even = 1.0 / (self.n_classes as f64 * (k + 1.0));
                for c in 0..self.n_classes {
                    proba[[i, c]] = even;
                }
                for (&(_, j), wj) in nb.iter().zip(&w) {
                    proba[[i, self.y[j] as usize]] += wj / total * k / (k + 1.0);
                }
            });
            Ok(Predictions::from_proba(proba))
        } else {
            let mut values = vec![0.0; x.nrows()];
            self.neighbours(x, |i, nb| {
                self.vote_weights(nb, &mut w);
                let total: f64 = w.iter().sum();
                values[i] = nb
                    .iter()
                    .zip(&w)
                    .map(|(&(_, j), wj)| self.y[j] * wj)
                    .sum::<f64>()
                    / total;
            });
            Ok(Predictions::regression(values))
        }
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(NAME, self)
    }
}
