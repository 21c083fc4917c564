//! `lasso`: L1-penalised least squares (elastic net with `l1_ratio` = 1, the same coordinate
//! descent).
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `alpha` | 0.01 | (0, 1e4] | penalty: 1/(2n) \|y - x b\|^2 + alpha \|b\|_1 on the standardized target |
//!
//! See `elastic_net` for the target scaling; `sample_weight` is ignored.

use super::elastic_net::fit_elastic;
use super::linear::{LinearKind, LinearModel, REGRESSION};
use crate::util::ParamReader;
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, PrepKind, Task};

const NAME: &str = "lasso";

/// The `lasso` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct Lasso;

impl Family for Lasso {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "lasso regression (coordinate descent)"
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
        let alpha = p.positive("alpha", 0.01, 1e4)?;
        Ok(Box::new(fit_elastic(LinearKind::Lasso, input, alpha, 1.0)?))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        LinearModel::decode(LinearKind::Lasso, bytes)
    }
}
