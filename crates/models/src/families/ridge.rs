//! `ridge`: L2-penalised least squares (scikit-learn's `Ridge` objective).
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `alpha` | 1.0 | [0, 1e8] | penalty: minimise sum w (y - x b - b0)^2 + alpha \|b\|^2 (intercept unpenalised) |
//!
//! Solved exactly by the normal equations shared with `linear`; honours `sample_weight`.

use super::linear::{LinearKind, LinearModel, REGRESSION, solve_ridge};
use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, PrepKind, Task};

const NAME: &str = "ridge";

/// The `ridge` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ridge;

impl Family for Ridge {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "ridge regression (closed form)"
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
        let p = ParamReader::new(NAME, params, &["alpha"])?;
        let alpha = p.float("alpha", 1.0, 0.0, 1e8)?;
        util::check_input(NAME, REGRESSION, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let (coef, intercept) =
            solve_ridge(NAME, input.x, input.y, input.sample_weight, alpha, true)?;
        Ok(Box::new(
            LinearModel {
                kind: LinearKind::Ridge,
                coef,
                intercept,
            }
            .checked()?,
        ))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        LinearModel::decode(LinearKind::Ridge, bytes)
    }
}
