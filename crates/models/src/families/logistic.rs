//! `logistic`: multinomial logistic regression with an L2 penalty (linfa-logistic's
//! `MultiLogisticRegression`, L-BFGS), for binary and multiclass tasks.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `alpha` | 1e-3 | [0, 1e6] | L2 penalty weight on the summed log loss (like 1 / C in scikit-learn) |
//! | `max_iterations` | 100 | [1, 100000] | L-BFGS iterations |
//!
//! Both tasks use the softmax model (binary = two classes), so probabilities are calibrated in
//! the maximum-likelihood sense. The fitted coefficients are stored by this crate (not the
//! linfa type) and predictions are computed here. `sample_weight` is not supported by the
//! solver and is ignored.

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

const NAME: &str = "logistic";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass];

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
        "multinomial logistic regression, L2 penalty (linfa-logistic, L-BFGS)"
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
        let max_iterations = p.int("max_iterations", 100, 1, 100_000)? as u64;
        util::check_input(NAME, TASKS, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let classes = util::classes_present(input.y, input.n_classes);
        let y: Array1<usize> = input.y.iter().map(|v| *v as usize).collect();
        let dataset = DatasetBase::new(input.x, y);
        let fitted = util::catch(NAME, || {
            MultiLogisticRegression::default()
                .alpha(alpha)
                .max_iterations(max_iterations)
                .fit(&dataset)
        })?
        .map_err(|e| ModelError::Fit {
            family: NAME,
            reason: e.to_string(),
        })?;
        if fitted.classes() != classes.as_slice() {
            return Err(ModelError::Fit {
                family: NAME,
                reason: "the solver returned an unexpected class list".into(),
            });
        }
        let coef = fitted.params().to_owned();
        let intercept = fitted.intercept().to_owned();
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
