//! automl-trees: our histogram tree engine. Quantile binning once per dataset ([`BinnedData`],
//! shared through [`BinnedCache`]), gradient boosting ([`Gbdt`]), random forest and extra trees
//! ([`Forest`]), all deterministic for a seed, `Send + Sync` and serde-serializable, predicting
//! on raw rows with NaN for missing values.

pub mod binning;
pub mod error;
pub mod explain;
pub mod forest;
pub mod gbdt;
mod grow;
pub mod tree;

pub use binning::{BinnedCache, BinnedData, FeatureBins};
pub use error::TreeError;
pub use explain::{Contributions, Ensemble};
pub use forest::{Criterion, Forest, ForestKind, ForestParams, Sink, StreamedFit};
pub use gbdt::{Gbdt, GbdtParams, Objective};
pub use tree::Tree;

use std::time::Instant;

/// Training (or validation) rows: binned features, targets and optional weights, all indexed by
/// row of `data`; `rows` restricts the set to a subset (e.g. one side of an internal split).
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a> {
    /// Binned features.
    pub data: &'a BinnedData,
    /// Target per row of `data`: class index (as f64) or regression value.
    pub y: &'a [f64],
    /// Optional weight per row of `data`.
    pub weights: Option<&'a [f64]>,
    /// Optional subset of row indices (ascending order gives the best memory access).
    pub rows: Option<&'a [u32]>,
}

impl<'a> Dataset<'a> {
    /// All rows of `data`, unweighted.
    pub fn new(data: &'a BinnedData, y: &'a [f64]) -> Dataset<'a> {
        Dataset {
            data,
            y,
            weights: None,
            rows: None,
        }
    }

    pub(crate) fn check(&self, classification: bool, n_classes: usize) -> Result<(), TreeError> {
        let n = self.data.n_rows();
        check_features(self.data.n_features())?;
        if self.y.len() != n {
            return Err(TreeError::Shape(format!(
                "y has {} values but the data has {n} rows; pass one target per row",
                self.y.len()
            )));
        }
        if let Some(w) = self.weights {
            if w.len() != n {
                return Err(TreeError::Shape(format!(
                    "weights have {} values but the data has {n} rows",
                    w.len()
                )));
            }
            if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(TreeError::Data(format!(
                    "weight of row {i} is {}; weights must be finite and >= 0",
                    w[i]
                )));
            }
        }
        let rows: Box<dyn Iterator<Item = usize>> = match self.rows {
            Some(r) => {
                if let Some(&bad) = r.iter().find(|&&i| i as usize >= n) {
                    return Err(TreeError::Shape(format!(
                        "row index {bad} is out of range for {n} rows"
                    )));
                }
                Box::new(r.iter().map(|&i| i as usize))
            }
            None => Box::new(0..n),
        };
        let mut count = 0usize;
        for i in rows {
            count += 1;
            let v = self.y[i];
            if classification {
                if !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < n_classes) {
                    return Err(TreeError::Data(format!(
                        "label of row {i} is {v}; labels must be class indices 0..{n_classes}"
                    )));
                }
            } else if !v.is_finite() {
                return Err(TreeError::Data(format!(
                    "target of row {i} is {v}; regression targets must be finite"
                )));
            }
        }
        if count == 0 {
            return Err(TreeError::Data("no training rows".into()));
        }
        Ok(())
    }
}

/// Kind of feature importance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Total gain (boosting) or impurity decrease (forests) of the splits on a feature.
    Gain,
    /// Number of splits on a feature.
    Split,
}

pub(crate) fn check_deadline(deadline: Option<Instant>, done: usize) -> Result<(), TreeError> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(TreeError::Deadline { rounds: done }),
        _ => Ok(()),
    }
}

/// Tree nodes hold feature indices below [`tree::MAX_FEATURES`], and a tree needs a feature to
/// split on (a forest draws at least one per split).
pub(crate) fn check_features(n: usize) -> Result<(), TreeError> {
    if n == 0 {
        return Err(TreeError::Shape(
            "the data has no feature columns; tree models need at least one".into(),
        ));
    }
    if n > tree::MAX_FEATURES {
        return Err(TreeError::Shape(format!(
            "the data has {n} features; tree models take at most {}",
            tree::MAX_FEATURES
        )));
    }
    Ok(())
}

pub(crate) fn check_cols(got: usize, want: usize) -> Result<(), TreeError> {
    if got != want {
        return Err(TreeError::Shape(format!(
            "x has {got} columns but the model was fitted on {want}; pass the same columns"
        )));
    }
    Ok(())
}

/// Rows per prediction block.
const PREDICT_BLOCK: usize = 256;

/// Call `f(first_row, n_rows, rows, n_features)` for consecutive blocks of rows given as one
/// row-major slice (borrowed when `x` is in standard layout, copied otherwise).
pub(crate) fn for_row_blocks(
    x: ndarray::ArrayView2<'_, f64>,
    buf: &mut Vec<f64>,
    mut f: impl FnMut(usize, usize, &[f64], usize),
) {
    let (n, nf) = x.dim();
    let contiguous = x.as_slice();
    for start in (0..n).step_by(PREDICT_BLOCK) {
        let end = (start + PREDICT_BLOCK).min(n);
        match contiguous {
            Some(s) => f(start, end - start, &s[start * nf..end * nf], nf),
            None => {
                buf.clear();
                for r in start..end {
                    buf.extend(x.row(r).iter().copied());
                }
                f(start, end - start, buf, nf);
            }
        }
    }
}

#[cfg(test)]
mod tests;
