//! `naive_bayes`: Gaussian naive Bayes (linfa-bayes `GaussianNb`) for binary and multiclass tasks.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `var_smoothing` | 1e-9 | (0, 1e3] | share of the largest feature variance added to every variance |
//! | `proba_smoothing` | 0.01 | [0, 0.5] | probabilities are mixed with the uniform distribution by this share: naive Bayes is notoriously over-confident, and this keeps its log loss finite and tunable |
//!
//! Probabilities are a softmax of linfa's joint log-likelihoods computed here with the max
//! subtracted (linfa's own `predict_proba` exponentiates unshifted log-likelihoods, which
//! underflows to NaN on wide data). `sample_weight` is ignored.

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use linfa::prelude::*;
use linfa_bayes::{GaussianNb, NaiveBayes};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

const NAME: &str = "naive_bayes";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass];

/// The `naive_bayes` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct NaiveBayesFamily;

/// A fitted Gaussian naive Bayes model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NaiveBayesModel {
    nb: GaussianNb<f64, usize>,
    classes: Vec<usize>,
    n_classes: usize,
    n_features: usize,
    #[serde(default)]
    proba_smoothing: f64,
}

impl Family for NaiveBayesFamily {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "Gaussian naive Bayes (linfa-bayes)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Dense
    }
    fn relative_cost(&self) -> f64 {
        1.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(NAME, params, &["var_smoothing", "proba_smoothing"])?;
        let var_smoothing = p.positive("var_smoothing", 1e-9, 1e3)?;
        let proba_smoothing = p.float("proba_smoothing", 0.01, 0.0, 0.5)?;
        util::check_input(NAME, TASKS, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let classes = util::classes_present(input.y, input.n_classes);
        let y: Array1<usize> = input.y.iter().map(|v| *v as usize).collect();
        let dataset = DatasetBase::new(input.x, y);
        let nb = util::catch(NAME, || {
            GaussianNb::params()
                .var_smoothing(var_smoothing)
                .fit(&dataset)
        })?
        .map_err(|e| ModelError::Fit {
            family: NAME,
            reason: e.to_string(),
        })?;
        Ok(Box::new(NaiveBayesModel {
            nb,
            classes,
            n_classes: input.n_classes,
            n_features: input.x.ncols(),
            proba_smoothing,
        }))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(util::decode::<NaiveBayesModel>(NAME, bytes)?))
    }
}

impl Model for NaiveBayesModel {
    fn family(&self) -> &'static str {
        NAME
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(NAME, x, self.n_features)?;
        let jll = self.nb.joint_log_likelihood(x);
        let mut z = Array2::zeros((x.nrows(), self.classes.len()));
        for (j, c) in self.classes.iter().enumerate() {
            let col = jll.get(c).ok_or_else(|| ModelError::Predict {
                family: NAME,
                reason: format!("class {c} is missing from the fitted model"),
            })?;
            z.column_mut(j).assign(col);
        }
        if z.iter().any(|v| v.is_nan()) {
            return Err(ModelError::Predict {
                family: NAME,
                reason: "non-finite log-likelihoods (a zero variance?); increase var_smoothing"
                    .into(),
            });
        }
        util::softmax_rows(&mut z);
        let mut proba = util::expand_proba(&z, &self.classes, self.n_classes);
        if self.proba_smoothing > 0.0 {
            let k = self.n_classes.max(1) as f64;
            proba.mapv_inplace(|v| (1.0 - self.proba_smoothing) * v + self.proba_smoothing / k);
        }
        Ok(Predictions::from_proba(proba))
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(NAME, self)
    }
}
