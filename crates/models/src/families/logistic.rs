//! `logistic`: multinomial logistic regression with an L2 penalty, fitted by L-BFGS, for
//! binary and multiclass tasks.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `alpha` | 1e-3 | [0, 1e6] | L2 penalty weight on the summed log loss (like 1 / C in scikit-learn) |
//! | `max_iterations` | 100 | [1, 100000] | L-BFGS iterations |
//!
//! Both tasks use the softmax model (binary = two classes), so probabilities are calibrated in
//! the maximum-likelihood sense. The objective is linfa-logistic's (which fitted this family
//! before): the summed log loss over the rows, each weighted by its `sample_weight`, plus
//! `alpha / 2 · |W|²` (intercepts not penalised), minimised from zero by L-BFGS with 10
//! correction pairs, stopped after `max_iterations` iterations or when the gradient's norm is
//! below 1e-4 ([`crate::lbfgs`]). One pass over the rows computes the loss and its gradient
//! together; linfa-logistic made three (loss and gradient apart, and the gradient again after
//! each line search).

use crate::lbfgs;
use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

const NAME: &str = "logistic";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass];
/// The gradient norm below which L-BFGS stops (linfa-logistic's default).
const TOL_GRAD: f64 = 1e-4;

/// The `logistic` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct Logistic;

/// A fitted multinomial logistic regression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Coefficients, features x present classes.
    coef: Array2<f64>,
    /// Intercepts, one per present class.
    intercept: Array1<f64>,
    /// Class indices present at fit time (columns of `coef`).
    classes: Vec<usize>,
    /// Total number of classes of the task.
    n_classes: usize,
}

impl Family for Logistic {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "multinomial logistic regression, L2 penalty (L-BFGS)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Scaled
    }
    fn relative_cost(&self) -> f64 {
        2.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(NAME, params, &["alpha", "max_iterations"])?;
        let alpha = p.float("alpha", 1e-3, 0.0, 1e6)?;
        let max_iterations = p.int("max_iterations", 100, 1, 100_000)? as usize;
        util::check_input(NAME, TASKS, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let classes = util::classes_present(input.y, input.n_classes);
        let (coef, intercept) = fit_softmax(
            input.x,
            input.y,
            input.sample_weight,
            &classes,
            alpha,
            lbfgs::Limits {
                max_iterations,
                tol_grad: TOL_GRAD,
                deadline: input.deadline,
            },
        )
        .map_err(|_| ModelError::Deadline { family: NAME })?;
        if coef.iter().chain(intercept.iter()).any(|v| !v.is_finite()) {
            return Err(ModelError::Fit {
                family: NAME,
                reason: "the solver produced non-finite coefficients; increase alpha".into(),
            });
        }
        Ok(Box::new(LogisticModel {
            coef,
            intercept,
            classes,
            n_classes: input.n_classes,
        }))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(util::decode::<LogisticModel>(NAME, bytes)?))
    }
}

/// Minimise the summed (weighted) softmax log loss of `y` (class indices, all in `classes`)
/// plus `alpha / 2 · |W|²` by L-BFGS from zero, within `limits`. Returns the coefficients (features ×
/// `classes`) and the intercepts (one per entry of `classes`).
fn fit_softmax(
    x: ArrayView2<'_, f64>,
    y: &[f64],
    sample_weight: Option<&[f64]>,
    classes: &[usize],
    alpha: f64,
    limits: lbfgs::Limits,
) -> Result<(Array2<f64>, Array1<f64>), lbfgs::PastDeadline> {
    let x = x.as_standard_layout();
    let (n, p) = x.dim();
    let k = classes.len();
    let rows = x.as_slice().expect("standard layout");
    // each row's position among the present classes
    let mut slot = vec![0usize; classes.last().map_or(0, |c| c + 1)];
    for (i, &c) in classes.iter().enumerate() {
        slot[c] = i;
    }
    let target: Vec<usize> = y.iter().map(|&v| slot[v as usize]).collect();
    let mut z = vec![0.0; k];
    // the parameters: W (p × k, row-major), then the k intercepts
    let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
        let (w, b) = theta.split_at(p * k);
        let (gw, gb) = grad.split_at_mut(p * k);
        gw.fill(0.0);
        gb.fill(0.0);
        let mut loss = 0.0;
        for i in 0..n {
            let row = &rows[i * p..(i + 1) * p];
            z.copy_from_slice(b);
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    for (zc, wc) in z.iter_mut().zip(&w[j * k..(j + 1) * k]) {
                        *zc += v * wc;
                    }
                }
            }
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let t = target[i];
            let z_t = z[t];
            let mut sum = 0.0;
            for zc in z.iter_mut() {
                *zc = (*zc - max).exp();
                sum += *zc;
            }
            let weight = sample_weight.map_or(1.0, |sw| sw[i]);
            loss += weight * (max + sum.ln() - z_t);
            // z becomes the weighted residual: weight · (probability - indicator)
            let scale = weight / sum;
            for zc in z.iter_mut() {
                *zc *= scale;
            }
            z[t] -= weight;
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    for (gc, dc) in gw[j * k..(j + 1) * k].iter_mut().zip(&z) {
                        *gc += v * dc;
                    }
                }
            }
            for (gc, dc) in gb.iter_mut().zip(&z) {
                *gc += dc;
            }
        }
        let mut penalty = 0.0;
        for (gc, wc) in gw.iter_mut().zip(w) {
            penalty += wc * wc;
            *gc += alpha * wc;
        }
        loss + 0.5 * alpha * penalty
    };
    let min = lbfgs::minimize(objective, vec![0.0; (p + 1) * k], limits)?;
    let coef = Array2::from_shape_vec((p, k), min.x[..p * k].to_vec()).expect("p × k values");
    let intercept = Array1::from(min.x[p * k..].to_vec());
    Ok((coef, intercept))
}

impl Model for LogisticModel {
    fn family(&self) -> &'static str {
        NAME
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(NAME, x, self.coef.nrows())?;
        let mut z = x.dot(&self.coef) + &self.intercept;
        util::softmax_rows(&mut z);
        Ok(Predictions::from_proba(util::expand_proba(
            &z,
            &self.classes,
            self.n_classes,
        )))
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(NAME, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn limits(max_iterations: usize, tol_grad: f64, deadline: Option<Instant>) -> lbfgs::Limits {
        lbfgs::Limits {
            max_iterations,
            tol_grad,
            deadline,
        }
    }

    /// `n` rows of `p` smooth features; the class follows the first two features plus a
    /// deterministic wobble, so the classes overlap (no separation).
    fn data(n: usize, p: usize, k: usize) -> (Array2<f64>, Vec<f64>) {
        let x = Array2::from_shape_fn((n, p), |(i, j)| {
            (i as f64 * (j + 1) as f64 * 0.37 + j as f64).sin()
        });
        let y = (0..n)
            .map(|i| {
                let s = x[[i, 0]] + 0.5 * x[[i, 1]] + 0.4 * (1.3 * i as f64).cos();
                match k {
                    2 => (s > 0.1) as u8 as f64,
                    _ if s < -0.4 => 0.0,
                    _ if s < 0.4 => 1.0,
                    _ => 2.0,
                }
            })
            .collect();
        (x, y)
    }

    fn fit(
        x: &Array2<f64>,
        y: &[f64],
        w: Option<&[f64]>,
        k: usize,
        alpha: f64,
    ) -> (Array2<f64>, Array1<f64>) {
        let classes: Vec<usize> = (0..k).collect();
        fit_softmax(
            x.view(),
            y,
            w,
            &classes,
            alpha,
            limits(100_000, 1e-10, None),
        )
        .unwrap()
    }

    /// scikit-learn 1.9.1's `LogisticRegression(C=1/alpha, tol=1e-14, max_iter=100000)` on the
    /// same data (three classes: the softmax model with the same penalty), coefficients
    /// features × classes.
    #[test]
    fn reaches_scikit_learns_multinomial_solution() {
        let cases: [(f64, [f64; 9], [f64; 3]); 2] = [
            (
                0.5,
                [
                    -2.792314435135951,
                    0.3709610020140169,
                    2.4213534331219346,
                    -1.2043792715833475,
                    0.2250532388635427,
                    0.9793260327198046,
                    0.17273443995925689,
                    0.18651325290773868,
                    -0.3592476928669956,
                ],
                [
                    -0.42975458886700263,
                    0.3426649670921677,
                    0.08708962177483438,
                ],
            ),
            (
                0.01,
                [
                    -7.595543520598199,
                    0.7228196182059682,
                    6.872723902392218,
                    -3.0865941759007685,
                    -0.05657023068390618,
                    3.1431644065846767,
                    0.2149492262099421,
                    -0.08620655574653703,
                    -0.12874267046340512,
                ],
                [-1.038179480744638, 1.7046524814949118, -0.6664730007502833],
            ),
        ];
        let (x, y) = data(60, 3, 3);
        for (alpha, want_coef, want_b) in cases {
            let (coef, b) = fit(&x, &y, None, 3, alpha);
            for (i, (got, want)) in coef.iter().zip(want_coef).enumerate() {
                assert!(
                    (got - want).abs() < 1e-6,
                    "alpha {alpha}: coef {i} {got} vs {want}"
                );
            }
            // the intercepts are unpenalised, so fixed up to a shift; both sum to zero
            for (c, (got, want)) in b.iter().zip(want_b).enumerate() {
                assert!(
                    (got - want).abs() < 1e-6,
                    "alpha {alpha}: intercept {c} {got} vs {want}"
                );
            }
        }
    }

    /// Two classes: the softmax model with penalty alpha equals the logistic model with
    /// coefficients w1 - w0 and penalty alpha / 2, i.e. scikit-learn's `C = 2 / alpha`
    /// (`LogisticRegression(C=10, tol=1e-14)` on the same data).
    #[test]
    fn reaches_scikit_learns_binary_solution() {
        let want = [
            3.679653804867522,
            1.8938627631973515,
            -0.54727200175478,
            -1.0020348745444587,
        ];
        let (x, y) = data(50, 4, 2);
        let (coef, b) = fit(&x, &y, None, 2, 0.2);
        for (j, want) in want.iter().enumerate() {
            let got = coef[[j, 1]] - coef[[j, 0]];
            assert!((got - want).abs() < 1e-6, "coef {j} {got} vs {want}");
        }
        assert!((b[1] - b[0] - -0.27340637975833504).abs() < 1e-6, "{b}");
    }

    /// The family's own stopping rule (gradient norm 1e-4) gives scikit-learn's probabilities
    /// to 1e-5, through `fit` and `predict`.
    #[test]
    fn the_family_predicts_scikit_learns_probabilities() {
        let (x, y) = data(60, 3, 3);
        let mut params = Params::new();
        params.insert("alpha".into(), automl_core::ParamValue::Float(0.01));
        params.insert("max_iterations".into(), automl_core::ParamValue::Int(1000));
        let input = FitInput::new(x.view(), &y, Task::Multiclass, 3, 0);
        let model = Logistic.fit(&params, &input).unwrap();
        let p = model
            .predict(x.select(ndarray::Axis(0), &[0, 1, 2]).view())
            .unwrap();
        let want = [
            0.0028343286052346845,
            0.42857857925676907,
            0.5685870921379963,
            7.641415965833493e-06,
            0.04717896196937532,
            0.9528133966146589,
            6.282421714456684e-07,
            0.022335287591890143,
            0.9776640841659385,
        ];
        let got = p.proba.unwrap();
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-5, "probability {i}: {g} vs {w}");
        }
    }

    /// A row of weight 2 counts as two copies of the row.
    #[test]
    fn a_sample_weight_counts_as_copies() {
        let (x, y) = data(40, 3, 3);
        let w: Vec<f64> = (0..40).map(|i| 1.0 + (i % 3 == 0) as u8 as f64).collect();
        let copies: Vec<usize> = (0..40).flat_map(|i| vec![i; w[i] as usize]).collect();
        let xc = x.select(ndarray::Axis(0), &copies);
        let yc: Vec<f64> = copies.iter().map(|&i| y[i]).collect();
        let (cw, bw) = fit(&x, &y, Some(&w), 3, 0.1);
        let (cc, bc) = fit(&xc, &yc, None, 3, 0.1);
        for (a, b) in cw.iter().chain(&bw).zip(cc.iter().chain(&bc)) {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn a_past_deadline_stops_the_fit() {
        let (x, y) = data(60, 3, 3);
        let past = Instant::now() - Duration::from_secs(1);
        let got = fit_softmax(
            x.view(),
            &y,
            None,
            &[0, 1, 2],
            1e-6,
            limits(1_000_000, 0.0, Some(past)),
        );
        assert!(got.is_err());
    }

    /// Only the classes present are modelled: class 1 absent of 3 gets probability 0.
    #[test]
    fn an_absent_class_gets_no_probability() {
        let (x, y) = data(60, 3, 3);
        let keep: Vec<usize> = (0..60).filter(|&i| y[i] != 1.0).collect();
        let xs = x.select(ndarray::Axis(0), &keep);
        let ys: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let input = FitInput::new(xs.view(), &ys, Task::Multiclass, 3, 0);
        let model = Logistic.fit(&Params::new(), &input).unwrap();
        let p = model.predict(xs.view()).unwrap();
        let proba = p.proba.unwrap();
        assert!(proba.column(1).iter().all(|&v| v == 0.0));
        for row in proba.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }
}
