//! What a fitted model returns, and which input encoding a model family needs.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Predictions for a batch of rows.
///
/// Classification: `values[i]` is the predicted class index (as f64) and `proba` holds one
/// row per input row, one column per class, each row summing to 1.
/// Regression: `values[i]` is the predicted value and `proba` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Class index (classification) or value (regression), one per row.
    pub values: Vec<f64>,
    /// Class probabilities (classification only), shape rows x classes.
    pub proba: Option<Array2<f64>>,
}

impl Predictions {
    /// Regression predictions.
    pub fn regression(values: Vec<f64>) -> Self {
        Predictions {
            values,
            proba: None,
        }
    }
    /// Classification predictions from probabilities; `values` is the argmax per row
    /// (ties go to the lowest class index).
    pub fn from_proba(proba: Array2<f64>) -> Self {
        let mut p = Predictions {
            values: vec![0.0; proba.nrows()],
            proba: Some(proba),
        };
        p.refresh_values();
        p
    }
    /// Classification: set `values` to the argmax of each row of `proba` again (ties go to the
    /// lowest class index), after `proba` was changed in place. Nothing without `proba`.
    pub fn refresh_values(&mut self) {
        let Some(proba) = &self.proba else {
            return;
        };
        self.values.resize(proba.nrows(), 0.0);
        for (r, v) in proba.rows().into_iter().zip(self.values.iter_mut()) {
            let mut best = 0usize;
            for (j, &p) in r.iter().enumerate() {
                if p > r[best] {
                    best = j;
                }
            }
            *v = best as f64;
        }
    }
    /// Number of rows predicted.
    pub fn len(&self) -> usize {
        self.values.len()
    }
    /// True when no rows were predicted.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The input encoding a model family needs. The preprocessing for each kind is fitted on the
/// training rows only (inside each CV fold) and saved with the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PrepKind {
    /// Impute (median / most frequent) + missing indicators + one-hot (low cardinality) +
    /// frequency/ordinal encoding (high cardinality) + standardization. For linear models,
    /// SVM, kNN. Never contains NaN or infinity.
    Scaled,
    /// As `Scaled` but without standardization (naive Bayes, single decision trees).
    /// Never contains NaN or infinity.
    Dense,
    /// For our own tree engine: numeric columns raw with NaN for missing, categorical columns
    /// as category codes (f64, NaN for missing/unseen) flagged as categorical.
    Tree,
    /// As `Scaled`, but categoricals with more than 10 training levels are target encoded
    /// (K-fold out-of-fold on the training rows, m-estimate smoothed) instead of frequency
    /// encoded. Chosen by the trainer for `cat_encoding = target`, never by a family; it
    /// depends on the targets, so it is fitted with them. (Variants are positional in stored
    /// models: new ones go at the end.)
    ScaledTarget,
    /// As `Dense`, with the target encoding of `ScaledTarget`.
    DenseTarget,
}

impl PrepKind {
    /// The kinds a family declares, in a stable order (the target-encoded kinds are derived
    /// from them with [`PrepKind::with_target_encoding`]).
    pub const ALL: [PrepKind; 3] = [PrepKind::Scaled, PrepKind::Dense, PrepKind::Tree];

    /// The target-encoded variant of a family's kind (`Scaled` → `ScaledTarget`, `Dense` →
    /// `DenseTarget`); `None` for `Tree`, which splits on categories natively.
    pub fn with_target_encoding(self) -> Option<PrepKind> {
        match self {
            PrepKind::Scaled | PrepKind::ScaledTarget => Some(PrepKind::ScaledTarget),
            PrepKind::Dense | PrepKind::DenseTarget => Some(PrepKind::DenseTarget),
            PrepKind::Tree => None,
        }
    }

    /// The kind without target encoding.
    pub fn base(self) -> PrepKind {
        match self {
            PrepKind::ScaledTarget => PrepKind::Scaled,
            PrepKind::DenseTarget => PrepKind::Dense,
            k => k,
        }
    }

    /// True for the target-encoded kinds (fitted with the targets).
    pub fn is_target_encoded(self) -> bool {
        matches!(self, PrepKind::ScaledTarget | PrepKind::DenseTarget)
    }
}
