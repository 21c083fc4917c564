//! Shared helpers of the model families: parameter reading and validation, input checks,
//! (de)serialization with a format version, panic capture, probability utilities.

use crate::{FitInput, ModelError};
use automl_core::{ParamValue, Params, Task};
use ndarray::{Array2, ArrayView2};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Instant;

/// Version byte written in front of every serialized model of this crate.
pub(crate) const FORMAT_VERSION: u8 = 1;

/// Reads and validates the parameters of one family.
pub(crate) struct ParamReader<'a> {
    family: &'static str,
    params: &'a Params,
}

impl<'a> ParamReader<'a> {
    /// Check that every parameter name is one of `known`, then read them.
    pub(crate) fn new(
        family: &'static str,
        params: &'a Params,
        known: &[&str],
    ) -> Result<Self, ModelError> {
        if let Some(name) = params.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ModelError::InvalidParam {
                family,
                param: name.clone(),
                value: params[name].to_string(),
                reason: format!("unknown parameter; this family takes {}", known.join(", ")),
            });
        }
        Ok(ParamReader { family, params })
    }

    fn invalid(&self, name: &str, value: &ParamValue, reason: String) -> ModelError {
        ModelError::InvalidParam {
            family: self.family,
            param: name.to_string(),
            value: value.to_string(),
            reason,
        }
    }

    /// A float in `[low, high]` (use infinities for open ends).
    pub(crate) fn float(
        &self,
        name: &str,
        default: f64,
        low: f64,
        high: f64,
    ) -> Result<f64, ModelError> {
        let Some(v) = self.params.get(name) else {
            return Ok(default);
        };
        let x = v
            .as_f64()
            .ok_or_else(|| self.invalid(name, v, "expected a number".into()))?;
        if !x.is_finite() || x < low || x > high {
            return Err(self.invalid(
                name,
                v,
                format!("must be a finite number in [{low}, {high}]"),
            ));
        }
        Ok(x)
    }

    /// A float that must be strictly positive and at most `high`.
    pub(crate) fn positive(&self, name: &str, default: f64, high: f64) -> Result<f64, ModelError> {
        let x = self.float(name, default, 0.0, high)?;
        if x <= 0.0 {
            let v = &self.params[name];
            return Err(self.invalid(name, v, format!("must be > 0 and <= {high}")));
        }
        Ok(x)
    }

    /// An integer in `[low, high]`.
    pub(crate) fn int(
        &self,
        name: &str,
        default: i64,
        low: i64,
        high: i64,
    ) -> Result<i64, ModelError> {
        let Some(v) = self.params.get(name) else {
            return Ok(default);
        };
        let x = v
            .as_i64()
            .ok_or_else(|| self.invalid(name, v, "expected an integer".into()))?;
        if x < low || x > high {
            return Err(self.invalid(name, v, format!("must be an integer in [{low}, {high}]")));
        }
        Ok(x)
    }

    /// A categorical choice among `choices`.
    pub(crate) fn choice(
        &self,
        name: &str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ModelError> {
        let Some(v) = self.params.get(name) else {
            return Ok(default);
        };
        let s = v.as_str().ok_or_else(|| {
            self.invalid(name, v, format!("expected one of {}", choices.join(", ")))
        })?;
        choices
            .iter()
            .find(|c| **c == s)
            .copied()
            .ok_or_else(|| self.invalid(name, v, format!("expected one of {}", choices.join(", "))))
    }

    /// A boolean flag.
    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool, ModelError> {
        let Some(v) = self.params.get(name) else {
            return Ok(default);
        };
        v.as_bool()
            .ok_or_else(|| self.invalid(name, v, "expected true or false".into()))
    }
}

/// Validate a training set: task supported, shapes consistent, values finite, labels valid.
pub(crate) fn check_input(
    family: &'static str,
    tasks: &[Task],
    input: &FitInput<'_>,
) -> Result<(), ModelError> {
    if !tasks.contains(&input.task) {
        return Err(ModelError::UnsupportedTask {
            family,
            task: input.task.to_string(),
        });
    }
    let data = |reason: String| ModelError::Data { family, reason };
    let (n, d) = input.x.dim();
    if n == 0 || d == 0 {
        return Err(data(format!(
            "the training matrix is empty ({n} rows x {d} columns); at least one row and one column are needed"
        )));
    }
    if input.y.len() != n {
        return Err(data(format!(
            "the target has {} values but x has {n} rows",
            input.y.len()
        )));
    }
    check_finite(family, input.x)?;
    if let Some(i) = input.y.iter().position(|v| !v.is_finite()) {
        return Err(data(format!(
            "target value at row {i} is not finite ({})",
            input.y[i]
        )));
    }
    if let Some(w) = input.sample_weight {
        if w.len() != n {
            return Err(data(format!(
                "sample_weight has {} values but x has {n} rows",
                w.len()
            )));
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(data(format!(
                "sample weight at row {i} is {}; weights must be finite and >= 0",
                w[i]
            )));
        }
    }
    if input.task.is_classification() {
        if input.n_classes < 2 {
            return Err(data(format!(
                "n_classes is {} for a {} task; at least 2 are needed",
                input.n_classes, input.task
            )));
        }
        if let Some(i) = input
            .y
            .iter()
            .position(|v| v.fract() != 0.0 || *v < 0.0 || *v >= input.n_classes as f64)
        {
            return Err(data(format!(
                "target value at row {i} is {}, not a class index in 0..{}",
                input.y[i], input.n_classes
            )));
        }
        if classes_present(input.y, input.n_classes).len() < 2 {
            return Err(data(
                "the training rows hold a single class; at least two classes are needed".into(),
            ));
        }
    }
    Ok(())
}

/// Fail with `ModelError::Data` when `x` holds a NaN or infinity.
pub(crate) fn check_finite(family: &'static str, x: ArrayView2<'_, f64>) -> Result<(), ModelError> {
    for (i, row) in x.rows().into_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::Data {
                family,
                reason: format!(
                    "x[{i}, {j}] = {} is not finite; this family needs imputed, finite inputs",
                    row[j]
                ),
            });
        }
    }
    Ok(())
}

/// Validate a batch to predict: column count as at fit time, finite values.
pub(crate) fn check_predict(
    family: &'static str,
    x: ArrayView2<'_, f64>,
    n_features: usize,
) -> Result<(), ModelError> {
    if x.ncols() != n_features {
        return Err(ModelError::Predict {
            family,
            reason: format!(
                "x has {} columns but the model was fitted on {n_features}",
                x.ncols()
            ),
        });
    }
    for (i, row) in x.rows().into_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::Predict {
                family,
                reason: format!("x[{i}, {j}] = {} is not finite", row[j]),
            });
        }
    }
    Ok(())
}

/// The sorted class indices present in `y`.
pub(crate) fn classes_present(y: &[f64], n_classes: usize) -> Vec<usize> {
    let mut seen = vec![false; n_classes];
    for v in y {
        let c = *v as usize;
        if c < n_classes {
            seen[c] = true;
        }
    }
    (0..n_classes).filter(|c| seen[*c]).collect()
}

/// Fail with `ModelError::Deadline` when the deadline has passed.
pub(crate) fn check_deadline(
    family: &'static str,
    deadline: Option<Instant>,
) -> Result<(), ModelError> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(ModelError::Deadline { family }),
        _ => Ok(()),
    }
}

/// Run a library call, turning a panic into `ModelError::Fit`.
pub(crate) fn catch<T>(family: &'static str, f: impl FnOnce() -> T) -> Result<T, ModelError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|e| {
        let msg = e
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ModelError::Fit {
            family,
            reason: format!("the library panicked: {msg}"),
        }
    })
}

/// `prefix`, then the postcard bytes of `value`, in one allocation of the exact size: the size
/// is measured first, because a buffer grown by doubling and then copied held up to three times
/// a forest's encoded size at once (67 MB of a diamonds search's heap peak).
pub fn postcard_exact<T: Serialize + ?Sized>(
    prefix: &[u8],
    value: &T,
) -> Result<Vec<u8>, postcard::Error> {
    let size = postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())?;
    let mut out = Vec::with_capacity(prefix.len() + size);
    out.extend_from_slice(prefix);
    postcard::to_extend(value, out)
}

/// Serialize a fitted state: one format-version byte, then postcard ([`postcard_exact`]).
pub(crate) fn encode<T: Serialize>(family: &'static str, value: &T) -> Result<Vec<u8>, ModelError> {
    postcard_exact(&[FORMAT_VERSION], value).map_err(|e| encode_error(family, e))
}

/// The error of a fitted model that cannot be serialized.
pub(crate) fn encode_error(family: &'static str, e: postcard::Error) -> ModelError {
    ModelError::Predict {
        family,
        reason: format!("cannot serialize the fitted model: {e}"),
    }
}

/// Inverse of [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(
    family: &'static str,
    bytes: &[u8],
) -> Result<T, ModelError> {
    let err = |reason: String| ModelError::Decode {
        family: family.to_string(),
        reason,
    };
    match bytes.first() {
        None => Err(err("no bytes".into())),
        Some(&FORMAT_VERSION) => {
            postcard::from_bytes(&bytes[1..]).map_err(|e| err(format!("postcard: {e}")))
        }
        Some(v) => Err(err(format!(
            "format version {v} is not known to this build (it reads version {FORMAT_VERSION})"
        ))),
    }
}

/// Softmax of each row in place (numerically stable).
pub(crate) fn softmax_rows(m: &mut Array2<f64>) {
    for mut row in m.rows_mut() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.mapv_inplace(|v| (v - max).exp());
        let s: f64 = row.sum();
        row.mapv_inplace(|v| v / s);
    }
}

/// Spread probabilities over the present classes into `n_classes` columns (absent classes get 0).
pub(crate) fn expand_proba(p: &Array2<f64>, classes: &[usize], n_classes: usize) -> Array2<f64> {
    if classes.len() == n_classes {
        return p.clone();
    }
    let mut out = Array2::zeros((p.nrows(), n_classes));
    for (j, &c) in classes.iter().enumerate() {
        out.column_mut(c).assign(&p.column(j));
    }
    out
}

/// Mean and standard deviation of a target (sd 1 when constant), for scale-free fitting.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TargetScale {
    /// Mean of the training target.
    pub(crate) mean: f64,
    /// Standard deviation of the training target (1 when it is constant).
    pub(crate) sd: f64,
}

impl TargetScale {
    /// Fit on a target.
    pub(crate) fn fit(y: &[f64]) -> Self {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let sd = if var.sqrt() > 1e-12 * (1.0 + mean.abs()) {
            var.sqrt()
        } else {
            1.0
        };
        TargetScale { mean, sd }
    }
    /// Standardize.
    pub(crate) fn forward(&self, y: &[f64]) -> Vec<f64> {
        y.iter().map(|v| (v - self.mean) / self.sd).collect()
    }
}
