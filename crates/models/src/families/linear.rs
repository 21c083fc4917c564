//! `linear`: ordinary least squares, plus the fitted linear model and the normal-equation
//! solver shared by `ridge`, `lasso` and `elastic_net`.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `fit_intercept` | true | true, false | fit an intercept |
//!
//! Solved here through the (sample-weighted, centered) normal equations with a Cholesky
//! factorisation, with a 1e-10 relative ridge jitter: linfa-linear's unpivoted QR returns
//! huge, cancelling coefficients when columns are collinear, which one-hot encoding with all
//! levels always produces.

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

const NAME: &str = "linear";
pub(crate) const REGRESSION: &[Task] = &[Task::Regression];

/// Which linear family produced a [`LinearModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinearKind {
    /// Ordinary least squares.
    Linear,
    /// L2-penalised least squares.
    Ridge,
    /// L1-penalised least squares.
    Lasso,
    /// L1 + L2 penalised least squares.
    ElasticNet,
}

impl LinearKind {
    /// The family name.
    pub fn name(self) -> &'static str {
        match self {
            LinearKind::Linear => "linear",
            LinearKind::Ridge => "ridge",
            LinearKind::Lasso => "lasso",
            LinearKind::ElasticNet => "elastic_net",
        }
    }
}

/// A fitted linear regression: `y = x . coef + intercept`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearModel {
    pub(crate) kind: LinearKind,
    pub(crate) coef: Array1<f64>,
    pub(crate) intercept: f64,
}

impl LinearModel {
    /// Decode and check the kind.
    pub(crate) fn decode(kind: LinearKind, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        let m: LinearModel = util::decode(kind.name(), bytes)?;
        if m.kind != kind {
            return Err(ModelError::Decode {
                family: kind.name().to_string(),
                reason: format!("the bytes hold a `{}` model", m.kind.name()),
            });
        }
        Ok(Box::new(m))
    }

    /// Check finiteness of the solution.
    pub(crate) fn checked(self) -> Result<Self, ModelError> {
        if !self.intercept.is_finite() || self.coef.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Fit {
                family: self.kind.name(),
                reason: "the solver produced non-finite coefficients".into(),
            });
        }
        Ok(self)
    }
}

impl Model for LinearModel {
    fn family(&self) -> &'static str {
        self.kind.name()
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(self.kind.name(), x, self.coef.len())?;
        Ok(Predictions::regression(
            (x.dot(&self.coef) + self.intercept).to_vec(),
        ))
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(self.kind.name(), self)
    }
}

/// Weighted column means of `x` and the weighted mean of `y` (zeros when no intercept).
pub(crate) fn centers(
    x: ArrayView2<'_, f64>,
    y: &[f64],
    w: &[f64],
    fit_intercept: bool,
) -> (Array1<f64>, f64) {
    if !fit_intercept {
        return (Array1::zeros(x.ncols()), 0.0);
    }
    let wa = Array1::from(w.to_vec());
    let sw = wa.sum();
    let xm = x.t().dot(&wa) / sw;
    let ym = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
    (xm, ym)
}

/// Solve min sum w (y - x b - b0)^2 + alpha |b|^2 through the normal equations.
pub(crate) fn solve_ridge(
    family: &'static str,
    x: ArrayView2<'_, f64>,
    y: &[f64],
    sample_weight: Option<&[f64]>,
    alpha: f64,
    fit_intercept: bool,
) -> Result<(Array1<f64>, f64), ModelError> {
    let n = x.nrows();
    let w: Vec<f64> = sample_weight.map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
    if w.iter().sum::<f64>() <= 0.0 {
        return Err(ModelError::Data {
            family,
            reason: "all sample weights are zero".into(),
        });
    }
    let (xm, ym) = centers(x, y, &w, fit_intercept);
    let sq: Array1<f64> = w.iter().map(|v| v.sqrt()).collect();
    let xs = (&x - &xm.view().insert_axis(Axis(0))) * sq.view().insert_axis(Axis(1));
    let ys: Array1<f64> = y.iter().zip(&sq).map(|(v, s)| (v - ym) * s).collect();
    let mut a = xs.t().dot(&xs);
    let b = xs.t().dot(&ys);
    let p = a.nrows();
    let mean_diag = (0..p).map(|i| a[[i, i]]).sum::<f64>() / p as f64;
    let base = mean_diag.max(1e-300);
    let mut jitter = 1e-10 * base;
    for i in 0..p {
        a[[i, i]] += alpha;
    }
    for _ in 0..8 {
        if let Some(coef) = cholesky_solve(&a, &b, jitter) {
            let intercept = ym - xm.dot(&coef);
            return Ok((coef, intercept));
        }
        jitter *= 100.0;
    }
    Err(ModelError::Fit {
        family,
        reason: "the normal equations are singular even after regularisation".into(),
    })
}

/// Solve (a + jitter I) z = b by Cholesky; None if not positive definite.
fn cholesky_solve(a: &Array2<f64>, b: &Array1<f64>, jitter: f64) -> Option<Array1<f64>> {
    let p = a.nrows();
    let mut l = Array2::<f64>::zeros((p, p));
    for i in 0..p {
        for j in 0..=i {
            let mut s = a[[i, j]] + if i == j { jitter } else { 0.0 };
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[[i, i]] = s.sqrt();
            } else {
                l[[i, j]] = s / l[[j, j]];
            }
        }
    }
    let mut z = Array1::<f64>::zeros(p);
    for i in 0..p {
        let s = b[i] - (0..i).map(|k| l[[i, k]] * z[k]).sum::<f64>();
        z[i] = s / l[[i, i]];
    }
    for i in (0..p).rev() {
        let s = z[i] - (i + 1..p).map(|k| l[[k, i]] * z[k]).sum::<f64>();
        z[i] = s / l[[i, i]];
    }
    z.iter().all(|v| v.is_finite()).then_some(z)
}

/// The `linear` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct Linear;

impl Family for Linear {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "ordinary least squares (normal equations, Cholesky)"
    }
    fn tasks(&self) -> &'static [Task] {
        REGRESSION
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Scaled
    }
    fn relative_cost(&self) -> f64 {
        1.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(NAME, params, &["fit_intercept"])?;
        let fit_intercept = p.boolean("fit_intercept", true)?;
        util::check_input(NAME, REGRESSION, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let (coef, intercept) = solve_ridge(
            NAME,
            input.x,
            input.y,
            input.sample_weight,
            0.0,
            fit_intercept,
        )?;
        Ok(Box::new(
            LinearModel {
                kind: LinearKind::Linear,
                coef,
                intercept,
            }
            .checked()?,
        ))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        LinearModel::decode(LinearKind::Linear, bytes)
    }
}
