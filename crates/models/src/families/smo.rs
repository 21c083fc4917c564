//! The rbf-kernel SVM solver of the `svm` family: libsvm's SMO (Fan, Chen & Lin 2005: the
//! second-order working set selection, no shrinking) over a kernel matrix computed once per
//! fit and shared by every machine of it (the one-vs-rest machines and the Platt folds see the
//! same rows, or a subset of them). linfa-svm, which fitted these machines before, runs the
//! same algorithm but computes a new kernel matrix, pair by pair, for each of them: 30 on a
//! 10-class fit (10 machines, each with 2 Platt folds).

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Stopping tolerance on the maximal violating pair (libsvm's and linfa-svm's `eps`).
pub(crate) const EPS: f64 = 1e-3;
/// Curvature used for a non-positive second derivative (linfa-svm's value).
const TAU: f64 = 1e-10;

/// The solver ran past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PastDeadline;

/// Squared Euclidean distances between the rows of `a` and of `b` (rows × rows), through one
/// matrix product; rounding below zero is clamped.
fn squared_distances(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    let na: Vec<f64> = a.rows().into_iter().map(|r| r.dot(&r)).collect();
    let nb: Vec<f64> = b.rows().into_iter().map(|r| r.dot(&r)).collect();
    let mut d = a.dot(&b.t());
    for (i, mut row) in d.axis_iter_mut(Axis(0)).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (na[i] + nb[j] - 2.0 * *v).max(0.0);
        }
    }
    d
}

/// The rbf kernel exp(-gamma |a_i - b_j|²) between the rows of `a` and `b`.
pub(crate) fn rbf(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>, gamma: f64) -> Array2<f64> {
    let mut k = squared_distances(a, b);
    k.mapv_inplace(|d| (-gamma * d).exp());
    k
}

/// The rbf kernel of the rows of `x` with themselves (symmetric, ones on the diagonal).
pub(crate) fn rbf_square(x: ArrayView2<'_, f64>, gamma: f64) -> Array2<f64> {
    let mut k = rbf(x, x, gamma);
    for i in 0..k.nrows() {
        k[[i, i]] = 1.0;
    }
    k
}

/// The dual problem min ½ aᵀQa + pᵀa subject to yᵀa = const and 0 ≤ a ≤ c, with
/// Q_st = y_s y_t K[row[s], row[t]]: C-SVC has one variable per training row (p = -1, y the
/// ±1 labels); epsilon-SVR two (p = ε ∓ z, y = ±1, both pointing at the same kernel row).
pub(crate) struct Problem<'a> {
    /// The shared kernel matrix.
    pub kernel: &'a Array2<f64>,
    /// Each variable's row (and column) in `kernel`.
    pub rows: Vec<usize>,
    /// Each variable's sign, ±1.
    pub y: Vec<f64>,
    /// The linear term.
    pub p: Vec<f64>,
    /// The box bound.
    pub c: f64,
}

/// The solution of a [`Problem`]: the variables and the offset ρ of the decision function
/// f(x) = Σ_s a_s y_s k(row_s, x) - ρ.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub alpha: Vec<f64>,
    pub rho: f64,
}

impl Problem<'_> {
    /// A C-SVC problem over `rows` of the kernel with labels `positive`.
    pub fn svc<'a>(
        kernel: &'a Array2<f64>,
        rows: Vec<usize>,
        positive: &[bool],
        c: f64,
    ) -> Problem<'a> {
        Problem {
            kernel,
            y: positive
                .iter()
                .map(|&v| if v { 1.0 } else { -1.0 })
                .collect(),
            p: vec![-1.0; rows.len()],
            rows,
            c,
        }
    }

    /// An epsilon-SVR problem over every row of the kernel with targets `z`.
    pub fn svr<'a>(kernel: &'a Array2<f64>, z: &[f64], c: f64, epsilon: f64) -> Problem<'a> {
        let n = z.len();
        Problem {
            kernel,
            rows: (0..n).chain(0..n).collect(),
            y: (0..2 * n).map(|s| if s < n { 1.0 } else { -1.0 }).collect(),
            p: (0..2 * n)
                .map(|s| {
                    if s < n {
                        epsilon - z[s]
                    } else {
                        epsilon + z[s - n]
                    }
                })
                .collect(),
            c,
        }
    }

    /// Row `s` of Q over every variable, into `out`.
    fn q_row(&self, s: usize, out: &mut [f64]) {
        let k = self.kernel.row(self.rows[s]);
        let ys = self.y[s];
        for ((o, &r), &yt) in out.iter_mut().zip(&self.rows).zip(&self.y) {
            *o = ys * yt * k[r];
        }
    }

    /// Run SMO from a = 0 until the maximal violating pair is within [`EPS`] (or libsvm's
    /// iteration cap); the deadline is checked every 1,000 iterations, from the first.
    pub fn solve(&self, deadline: Option<Instant>) -> Result<Solution, PastDeadline> {
        let l = self.rows.len();
        let c = self.c;
        let y = &self.y;
        let qd: Vec<f64> = self.rows.iter().map(|&r| self.kernel[[r, r]]).collect();
        let mut alpha = vec![0.0; l];
        let mut g = self.p.clone();
        let (mut qi, mut qj) = (vec![0.0; l], vec![0.0; l]);
        let max_iter = (100 * l).max(10_000_000);
        let mut iter = 0;
        while iter < max_iter {
            if iter % 1000 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(PastDeadline);
            }
            // i: the maximal violator in I_up
            let (mut gmax, mut i) = (f64::NEG_INFINITY, usize::MAX);
            for t in 0..l {
                if y[t] > 0.0 {
                    if alpha[t] < c && -g[t] >= gmax {
                        gmax = -g[t];
                        i = t;
                    }
                } else if alpha[t] > 0.0 && g[t] >= gmax {
                    gmax = g[t];
                    i = t;
                }
            }
            // j: the largest second-order decrease with i, from I_low
            let (mut gmax2, mut j, mut obj_min) = (f64::NEG_INFINITY, usize::MAX, f64::INFINITY);
            if i != usize::MAX {
                self.q_row(i, &mut qi);
                for t in 0..l {
                    let (grad_diff, quad) = if y[t] > 0.0 {
                        if alpha[t] <= 0.0 {
                            continue;
                        }
                        gmax2 = gmax2.max(g[t]);
                        (gmax + g[t], qd[i] + qd[t] - 2.0 * y[i] * qi[t] * y[t])
                    } else {
                        if alpha[t] >= c {
                            continue;
                        }
                        gmax2 = gmax2.max(-g[t]);
                        (gmax - g[t], qd[i] + qd[t] + 2.0 * y[i] * qi[t] * y[t])
                    };
                    if grad_diff > 0.0 {
                        let obj = -(grad_diff * grad_diff) / if quad > 0.0 { quad } else { TAU };
                        if obj <= obj_min {
                            obj_min = obj;
                            j = t;
                        }
                    }
                }
            }
            if gmax + gmax2 < EPS || j == usize::MAX {
                break;
            }
            iter += 1;
            self.q_row(j, &mut qj);
            let (old_i, old_j) = (alpha[i], alpha[j]);
            if y[i] != y[j] {
                let quad = qd[i] + qd[j] + 2.0 * qi[j];
                let delta = (-g[i] - g[j]) / if quad > 0.0 { quad } else { TAU };
                let diff = alpha[i] - alpha[j];
                alpha[i] += delta;
                alpha[j] += delta;
                if diff > 0.0 {
                    if alpha[j] < 0.0 {
                        alpha[j] = 0.0;
                        alpha[i] = diff;
                    }
                } else if alpha[i] < 0.0 {
                    alpha[i] = 0.0;
                    alpha[j] = -diff;
                }
                if diff > 0.0 {
                    if alpha[i] > c {
                        alpha[i] = c;
                        alpha[j] = c - diff;
                    }
                } else if alpha[j] > c {
                    alpha[j] = c;
                    alpha[i] = c + diff;
                }
            } else {
                let quad = qd[i] + qd[j] - 2.0 * qi[j];
                let delta = (g[i] - g[j]) / if quad > 0.0 { quad } else { TAU };
                let sum = alpha[i] + alpha[j];
                alpha[i] -= delta;
                alpha[j] += delta;
                if sum > c {
                    if alpha[i] > c {
                        alpha[i] = c;
                        alpha[j] = sum - c;
                    }
                } else if alpha[j] < 0.0 {
                    alpha[j] = 0.0;
                    alpha[i] = sum;
                }
                if sum > c {
                    if alpha[j] > c {
                        alpha[j] = c;
                        alpha[i] = sum - c;
                    }
                } else if alpha[i] < 0.0 {
                    alpha[i] = 0.0;
                    alpha[j] = sum;
                }
            }
            let (di, dj) = (alpha[i] - old_i, alpha[j] - old_j);
            for ((gt, a), b) in g.iter_mut().zip(&qi).zip(&qj) {
                *gt += a * di + b * dj;
            }
        }
        Ok(Solution {
            rho: rho(&alpha, &g, y, c),
            alpha,
        })
    }
}

/// libsvm's offset: the mean of y_t g_t over the free variables, else the middle of the
/// bounds the others set.
fn rho(alpha: &[f64], g: &[f64], y: &[f64], c: f64) -> f64 {
    let (mut ub, mut lb) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut n_free, mut sum_free) = (0usize, 0.0);
    for t in 0..alpha.len() {
        let yg = y[t] * g[t];
        if alpha[t] >= c {
            if y[t] < 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else if alpha[t] <= 0.0 {
            if y[t] > 0.0 {
                ub = ub.min(yg);
            } else {
                lb = lb.max(yg);
            }
        } else {
            n_free += 1;
            sum_free += yg;
        }
    }
    if n_free > 0 {
        sum_free / n_free as f64
    } else {
        (ub + lb) / 2.0
    }
}

/// Kernel machines sharing one set of support vectors: machine m's decision value for a row x
/// is Σ_s coef[s, m] exp(-gamma |sv_s - x|²) - rho[m], so the kernel between a row and the
/// support vectors is computed once for all machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RbfMachines {
    pub gamma: f64,
    /// Support vectors (the training rows some machine uses), one per row.
    pub sv: Array2<f64>,
    /// Coefficients (a_s y_s), support vectors × machines.
    pub coef: Array2<f64>,
    pub rho: Vec<f64>,
}

impl RbfMachines {
    /// Collect the machines fitted on the rows of `x`: `coef[m][i]` is machine m's
    /// coefficient of row i (zero for a row it does not use).
    pub fn new(x: ArrayView2<'_, f64>, gamma: f64, coef: &[Vec<f64>], rho: Vec<f64>) -> Self {
        let used: Vec<usize> = (0..x.nrows())
            .filter(|&i| coef.iter().any(|m| m[i] != 0.0))
            .collect();
        let sv = x.select(Axis(0), &used);
        let coef = Array2::from_shape_fn((used.len(), coef.len()), |(s, m)| coef[m][used[s]]);
        RbfMachines {
            gamma,
            sv,
            coef,
            rho,
        }
    }

    /// Decision values, rows × machines.
    pub fn values(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut f = rbf(x, self.sv.view(), self.gamma).dot(&self.coef);
        for mut row in f.rows_mut() {
            for (v, r) in row.iter_mut().zip(&self.rho) {
                *v -= r;
            }
        }
        f
    }

    pub fn n_support(&self) -> usize {
        self.sv.nrows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> (Array2<f64>, Vec<bool>) {
        let x = Array2::from_shape_fn((n, 2), |(i, j)| {
            (i as f64 * (j + 1) as f64 * 0.71 + j as f64).sin()
        });
        let y = (0..n)
            .map(|i| {
                x[[i, 0]] * x[[i, 0]] + x[[i, 1]] * x[[i, 1]] + 0.2 * (1.7 * i as f64).cos() < 0.6
            })
            .collect();
        (x, y)
    }

    #[test]
    fn the_kernel_matches_its_definition() {
        let (x, _) = data(7);
        let k = rbf_square(x.view(), 0.5);
        for i in 0..7 {
            for j in 0..7 {
                let d: f64 = (0..2).map(|c| (x[[i, c]] - x[[j, c]]).powi(2)).sum();
                assert!((k[[i, j]] - (-0.5 * d).exp()).abs() < 1e-12);
            }
        }
    }

    /// The solution meets the KKT conditions to within the tolerance: y_t f(x_t) ≥ 1 - EPS for
    /// a = 0, ≤ 1 + EPS for a = c, and within EPS of 1 in between; and Σ a_t y_t = 0.
    #[test]
    fn the_svc_solution_meets_the_kkt_conditions() {
        let (x, y) = data(120);
        let k = rbf_square(x.view(), 1.0);
        for c in [0.1, 1.0, 100.0] {
            let prob = Problem::svc(&k, (0..120).collect(), &y, c);
            let s = prob.solve(None).unwrap();
            let balance: f64 = s.alpha.iter().zip(&prob.y).map(|(a, y)| a * y).sum();
            assert!(balance.abs() < 1e-9, "c {c}: sum a y = {balance}");
            for t in 0..120 {
                let f: f64 = (0..120)
                    .map(|s2| s.alpha[s2] * prob.y[s2] * k[[s2, t]])
                    .sum::<f64>()
                    - s.rho;
                let m = prob.y[t] * f;
                let a = s.alpha[t];
                if a <= 0.0 {
                    assert!(m >= 1.0 - EPS, "c {c}: row {t} margin {m} at a = 0");
                } else if a >= c {
                    assert!(m <= 1.0 + EPS, "c {c}: row {t} margin {m} at a = c");
                } else {
                    assert!((m - 1.0).abs() <= EPS, "c {c}: row {t} margin {m}, free");
                }
            }
        }
    }

    #[test]
    fn a_past_deadline_stops_the_solver() {
        let (x, y) = data(400);
        let k = rbf_square(x.view(), 50.0);
        let prob = Problem::svc(&k, (0..400).collect(), &y, 1e4);
        let past = Instant::now() - std::time::Duration::from_secs(1);
        assert!(prob.solve(Some(past)).is_err());
    }
}
