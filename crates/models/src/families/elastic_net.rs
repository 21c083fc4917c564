//! `elastic_net`: L1 + L2 penalised least squares by coordinate descent (linfa-elasticnet);
//! also the solver behind `lasso`.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `alpha` | 0.01 | (0, 1e4] | penalty strength |
//! | `l1_ratio` | 0.5 | [0, 1] | share of the L1 term |
//!
//! Objective (scikit-learn's, on the standardized target): 1/(2n) \|y - x b\|^2 +
//! alpha l1_ratio \|b\|_1 + alpha (1 - l1_ratio) / 2 \|b\|^2. The target is standardized
//! before the fit (and the coefficients mapped back), so `alpha` means the same on every
//! dataset; `x` is centered here because linfa-elasticnet only centers the target.
//! `sample_weight` is ignored.

use super::linear::{LinearKind, LinearModel, REGRESSION, centers};
use crate::util::{self, ParamReader, TargetScale};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, PrepKind, Task};
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Axis};

const NAME: &str = "elastic_net";

/// Fit an elastic net; shared with `lasso`.
pub(crate) fn fit_elastic(
    kind: LinearKind,
    input: &FitInput<'_>,
    alpha: f64,
    l1_ratio: f64,
) -> Result<LinearModel, ModelError> {
    let family = kind.name();
    util::check_input(family, REGRESSION, input)?;
    util::check_deadline(family, input.deadline)?;
    let n = input.x.nrows();
    let ones = vec![1.0; n];
    let (xm, _) = centers(input.x, input.y, &ones, true);
    let xc = &input.x - &xm.view().insert_axis(Axis(0));
    let scale = TargetScale::fit(input.y);
    let y = Array1::from(scale.forward(input.y));
    let ds = DatasetBase::new(xc, y);
    let fitted = util::catch(family, || {
        ElasticNet::params()
            .penalty(alpha)
            .l1_ratio(l1_ratio)
            .with_intercept(false)
            .max_iterations(1000)
            .tolerance(1e-4)
            .fit(&ds)
    })?
    .map_err(|e| ModelError::Fit {
        family,
        reason: e.to_string(),
    })?;
    let coef = fitted.hyperplane() * scale.sd;
    let intercept = scale.mean + fitted.intercept() * scale.sd - xm.dot(&coef);
    LinearModel {
        kind,
        coef,
        intercept,
    }
    .checked()
}

/// The `elastic_net` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct ElasticNetFamily;

impl Family for ElasticNetFamily {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "elastic net regression (linfa-elasticnet coordinate descent)"
    }
    fn tasks(&self) -> &'static [Task] {
        REGRESSION
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Scaled
    }
    fn relative_cost(&self) -> f64 {
        2.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(NAME, params, &["alpha", "l1_ratio"])?;
        let alpha = p.positive("alpha", 0.01, 1e4)?;
        let l1_ratio = p.float("l1_ratio", 0.5, 0.0, 1.0)?;
        Ok(Box::new(fit_elastic(
            LinearKind::ElasticNet,
            input,
            alpha,
            l1_ratio,
        )?))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        LinearModel::decode(LinearKind::ElasticNet, bytes)
    }
}
