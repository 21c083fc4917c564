//! The model zoo: one module per model family, each turning a parameter set into a fitted,
//! serializable [`Model`]. The [`registry`] is the one place typed parameters become trait
//! objects and the one place a stored model's bytes are decoded.

pub mod error;
pub mod families;
mod lbfgs;
pub mod registry;
mod util;
pub use util::postcard_exact;

pub use error::ModelError;
pub use registry::{Registry, registry};

use automl_core::{Params, Predictions, PrepKind, Task};
use ndarray::ArrayView2;
use std::collections::BTreeMap;
use std::time::Instant;

/// Everything a family needs to fit one model on one training set.
///
/// `x` is already preprocessed for the family's [`Family::prep_kind`]: for `Scaled`/`Dense`
/// it never contains NaN or infinity; for `Tree` it holds raw numeric values with NaN for
/// missing and category codes (flagged in `categorical`).
pub struct FitInput<'a> {
    /// Feature matrix, rows x features.
    pub x: ArrayView2<'a, f64>,
    /// Target: class index (0..n_classes) as f64, or the regression value.
    pub y: &'a [f64],
    /// The task.
    pub task: Task,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    /// Which columns of `x` are categorical codes (only meaningful for `PrepKind::Tree`).
    pub categorical: &'a [bool],
    /// Optional per-row weights.
    pub sample_weight: Option<&'a [f64]>,
    /// Seed for every random choice of this fit.
    pub seed: u64,
    /// The fit should give up (returning `ModelError::Deadline`) once this instant passes,
    /// where the underlying library allows checking.
    pub deadline: Option<Instant>,
    /// Shared per-fold bins for the tree-engine families (built from exactly `x`);
    /// `None` -> the family bins `x` itself (same result, more work).
    pub binned: Option<&'a automl_trees::BinnedCache>,
    /// What the model is for: a first look's fold or a full fit.
    pub purpose: FitPurpose,
}

/// What a fit is for. A family may spend less on a first look than on a model that is kept
/// or scored as a full trial: `gbdt` early-stops on a holdout of its own rows in both, and
/// only a full fit then fits again on every row for the chosen rounds (a first look's score
/// only ranks it against other first looks; BENCHMARKS §61).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FitPurpose {
    /// A model that is kept, or one fold of a full-fidelity cross-validation (the default).
    #[default]
    Full,
    /// One fold of a low-fidelity first look (successive halving on a fraction of the rows
    /// or of the folds): its score ranks it against other first looks, and its models are
    /// never part of a final model.
    FirstLook,
}

impl<'a> FitInput<'a> {
    /// An input with no categorical flags, no sample weights and no deadline; set the other
    /// public fields afterwards when needed (this keeps callers compiling when fields are added).
    pub fn new(
        x: ArrayView2<'a, f64>,
        y: &'a [f64],
        task: Task,
        n_classes: usize,
        seed: u64,
    ) -> Self {
        FitInput {
            x,
            y,
            task,
            n_classes,
            categorical: &[],
            sample_weight: None,
            seed,
            deadline: None,
            binned: None,
            purpose: FitPurpose::Full,
        }
    }
}

/// A fitted model. Object-safe, `Send + Sync`, serializable through [`Model::to_bytes`]
/// (decoded again by [`Family::decode`]).
pub trait Model: Send + Sync {
    /// The family name (stable id).
    fn family(&self) -> &'static str;
    /// Predict a batch of rows (same encoding as at fit time). Classification returns
    /// probabilities whose rows sum to 1.
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError>;
    /// Serialize the fitted state (compact; the store compresses it).
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError>;
    /// The bytes of [`Model::to_bytes`] handed to `sink` in pieces, consuming the model. A
    /// model much larger than its encoding (a forest of deep trees) frees each part once it is
    /// written, so it is never held beside the whole encoding.
    fn encode_into(self: Box<Self>, sink: &mut dyn FnMut(&[u8])) -> Result<(), ModelError> {
        sink(&self.to_bytes()?);
        Ok(())
    }
    /// Facts worth storing with the trial (e.g. `n_rounds` chosen by early stopping).
    fn facts(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// The fitted tree ensemble (gbdt, random forest, extra trees) for explanations; None for
    /// the other families.
    fn tree_ensemble(&self) -> Option<automl_trees::Ensemble<'_>> {
        None
    }
}

/// A model family: a recipe from parameters to a fitted model.
pub trait Family: Send + Sync {
    /// Stable id, as in the search-space files (`logistic`, `gbdt`, ...).
    fn name(&self) -> &'static str;
    /// One-line description.
    fn description(&self) -> &'static str;
    /// Tasks the family can handle.
    fn tasks(&self) -> &'static [Task];
    /// The input encoding the family needs.
    fn prep_kind(&self) -> PrepKind;
    /// Largest training set (rows) this family is offered for; `None` = no limit.
    fn max_rows(&self) -> Option<usize> {
        None
    }
    /// Rough relative cost of a default fit (1 = cheapest); used to order the cheap-first start.
    fn relative_cost(&self) -> f64 {
        1.0
    }
    /// Bytes a fit on `rows` x `cols` (with `n_classes` classes, 0 for regression) is expected
    /// to need at its peak, when the family knows better than the trainer's generic table
    /// (`automl_trainer::memory`); `None` = use that table.
    fn memory_estimate(
        &self,
        _params: &Params,
        _rows: usize,
        _cols: usize,
        _n_classes: usize,
    ) -> Option<u64> {
        None
    }
    /// A variant of `params` whose fit is expected to take about `share` (in (0, 1]) of the
    /// time `params` take on the same rows, for little accuracy, with the share it achieves
    /// (at least `share` when the family can go no lower, at most 1). The big-data push fits a
    /// configuration on more rows than its own cost allows in the time left
    /// (`automl_engine`, operator `push`). `None`: the family has no such knob.
    fn cheaper(&self, _params: &Params, _share: f64) -> Option<(Params, f64)> {
        None
    }
    /// Whether one fit varies so much with its seed (a neural network's initialisation, batch
    /// order and early-stopping split) that, under k-fold CV, the final model of a single trial
    /// of this family keeps the trial's k fold models, averaged, instead of one refit on all
    /// rows (measured in docs/BENCHMARKS.md §32: true for `mlp`; for `gbdt` the refit did
    /// better on held-out seeds).
    fn final_keeps_fold_models(&self) -> bool {
        false
    }
    /// How many refits on all rows, each with its own seed, the final model averages for a
    /// trial of this family with `params`: more than 1 where one fit varies with its seed enough
    /// for an average of a few to predict better (a `gbdt` that samples rows or columns: 3).
    /// The engine uses it on regression only; the end-of-study reserve plans for the first
    /// refit, the others fill the time left before the budget's end, and all of them are made
    /// without a time budget.
    fn final_refit_seeds(&self, _params: &Params) -> usize {
        1
    }
    /// A [`FitPurpose::Full`] fit's time on `n_rows` rows against a [`FitPurpose::FirstLook`]
    /// fit's on as many, for the same parameters: above 1 when the family does more for a full
    /// fit (`gbdt`'s second fit on every row). The end-of-study reserve scales a first look's
    /// fold time by it to estimate a refit.
    fn final_fit_cost(&self, _n_rows: usize) -> f64 {
        1.0
    }
    /// Fit a model. Parameters absent from `params` take the family's documented defaults;
    /// out-of-range values are a `ModelError::InvalidParam`.
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError>;
    /// Decode a model written by `Model::to_bytes` of this family.
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError>;
    /// Fit, predict the rows of `valid`, and hand the model's [`Model::encode_into`] bytes to
    /// `sink` when one is given (none: the model is not kept). The predictions, facts and
    /// bytes are those of [`Family::fit`], [`Model::predict`], [`Model::facts`] and
    /// `encode_into`, which is what this default does. A family whose model is built from
    /// parts does it without ever holding the whole model: a forest predicts with each tree
    /// and writes it as soon as it is grown, so one tree is live instead of hundreds. On an
    /// error what `sink` received is not a model.
    fn fit_predict(
        &self,
        params: &Params,
        input: &FitInput<'_>,
        valid: ArrayView2<'_, f64>,
        sink: Option<automl_trees::Sink<'_>>,
    ) -> Result<FitPredicted, ModelError> {
        let model = self.fit(params, input)?;
        let t0 = Instant::now();
        let predictions = if valid.nrows() == 0 {
            // No rows to predict (a final refit): not every model accepts an empty batch.
            no_predictions(input)
        } else {
            model.predict(valid)?
        };
        let predict_s = t0.elapsed().as_secs_f64();
        let facts = model.facts();
        if let Some(sink) = sink {
            model.encode_into(sink)?;
        }
        Ok(FitPredicted {
            predictions,
            facts,
            predict_s,
        })
    }
}

/// Predictions for no rows, shaped for `input`'s task.
fn no_predictions(input: &FitInput<'_>) -> Predictions {
    if input.task.is_classification() {
        Predictions::from_proba(ndarray::Array2::zeros((0, input.n_classes)))
    } else {
        Predictions::regression(Vec::new())
    }
}

/// What [`Family::fit_predict`] hands back besides the model's bytes.
#[derive(Debug, Clone)]
pub struct FitPredicted {
    /// The model's predictions on the validation rows.
    pub predictions: Predictions,
    /// The model's [`Model::facts`].
    pub facts: BTreeMap<String, String>,
    /// Seconds of the fit spent predicting the validation rows.
    pub predict_s: f64,
}
