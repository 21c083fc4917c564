//! Test-only families that misbehave on purpose, to prove the trainer and engine isolate a
//! bad candidate: `test_panic` panics in `fit`, `test_loop` ignores its deadline, `test_alloc`
//! asks for a huge buffer. They are registered only when the environment variable
//! `AUTOML_TEST_FAMILIES=1` is set when the registry is first used ([`enabled`]), so the real
//! binary can be tested end to end without offering them in normal use.
//!
//! | family | param | default | valid range | meaning |
//! |---|---|---|---|---|
//! | `test_panic` | — | | | `fit` panics with "test_panic: deliberate panic in fit" |
//! | `test_loop` | `seconds` | 3600 | [0, 1e7] | `fit` runs this long whatever its deadline |
//! | `test_alloc` | `gigabytes` | 64 | [0, 1e6] | `fit` tries to reserve this many GiB |
//!
//! `test_loop` sleeps in 10 ms steps rather than spinning, so that a test which leaves it
//! running (the engine abandons it when the budget ends) does not steal a core from other
//! tests; what it models is a fit that never looks at its deadline. `test_alloc` declares its
//! buffer through [`Family::memory_estimate`], so the trainer's memory guard refuses it before
//! `fit` runs; without the guard it would try `Vec::try_reserve` and fail cleanly (a
//! `ModelError::Fit`) instead of aborting the process when the memory is not there.
//! Every model they produce predicts the training class shares (or the mean).

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Task};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const ALL_TASKS: &[Task] = &[Task::Binary, Task::Multiclass, Task::Regression];

/// Name of the environment variable that enables the test families (value `1`).
pub const ENV_VAR: &str = "AUTOML_TEST_FAMILIES";

/// Whether the test families should be registered (`AUTOML_TEST_FAMILIES=1`).
pub fn enabled() -> bool {
    std::env::var(ENV_VAR).is_ok_and(|v| v == "1")
}

/// The test families, in registration order.
pub fn families() -> Vec<Box<dyn Family>> {
    vec![Box::new(TestPanic), Box::new(TestLoop), Box::new(TestAlloc)]
}

/// `test_panic`: panics in `fit`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestPanic;

/// `test_loop`: runs for `seconds` whatever its deadline.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestLoop;

/// `test_alloc`: tries to reserve `gigabytes` GiB.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestAlloc;

/// The model of every test family: constant predictions (training class shares or mean).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConstantModel {
    family: String,
    /// Class shares (classification) or empty (regression).
    shares: Vec<f64>,
    /// Mean of the target (regression).
    mean: f64,
    n_features: usize,
}

impl ConstantModel {
    fn fit(family: &'static str, input: &FitInput<'_>) -> Result<Self, ModelError> {
        util::check_input(family, ALL_TASKS, input)?;
        let n = input.y.len() as f64;
        let (shares, mean) = if input.task.is_classification() {
            let mut counts = vec![0.0; input.n_classes];
            for v in input.y {
                counts[*v as usize] += 1.0;
            }
            (counts.iter().map(|c| c / n).collect(), 0.0)
        } else {
            (Vec::new(), input.y.iter().sum::<f64>() / n)
        };
        Ok(ConstantModel {
            family: family.to_string(),
            shares,
            mean,
            n_features: input.x.ncols(),
        })
    }
}

fn static_name(name: &str) -> &'static str {
    match name {
        "test_panic" => "test_panic",
        "test_loop" => "test_loop",
        _ => "test_alloc",
    }
}

impl Model for ConstantModel {
    fn family(&self) -> &'static str {
        static_name(&self.family)
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(self.family(), x, self.n_features)?;
        if self.shares.is_empty() {
            return Ok(Predictions::regression(vec![self.mean; x.nrows()]));
        }
        let k = self.shares.len();
        let proba = Array2::from_shape_fn((x.nrows(), k), |(_, j)| self.shares[j]);
        Ok(Predictions::from_proba(proba))
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(self.family(), self)
    }
}

fn decode_constant(family: &'static str, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
    let m: ConstantModel = util::decode(family, bytes)?;
    if m.family != family {
        return Err(ModelError::Decode {
            family: family.to_string(),
            reason: format!("the bytes hold a `{}` model", m.family),
        });
    }
    Ok(Box::new(m))
}

impl Family for TestPanic {
    fn name(&self) -> &'static str {
        "test_panic"
    }
    fn description(&self) -> &'static str {
        "test only: panics in fit"
    }
    fn tasks(&self) -> &'static [Task] {
        ALL_TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Dense
    }
    fn fit(&self, params: &Params, _input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        ParamReader::new(self.name(), params, &[])?;
        panic!("test_panic: deliberate panic in fit");
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        decode_constant(self.name(), bytes)
    }
}

impl Family for TestLoop {
    fn name(&self) -> &'static str {
        "test_loop"
    }
    fn description(&self) -> &'static str {
        "test only: ignores its deadline and runs for `seconds`"
    }
    fn tasks(&self) -> &'static [Task] {
        ALL_TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Dense
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(self.name(), params, &["seconds"])?;
        let seconds = p.float("seconds", 3600.0, 0.0, 1e7)?;
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        // Deliberately never looks at `input.deadline`.
        while Instant::now() < end {
            std::thread::sleep(
                Duration::from_millis(10).min(end.saturating_duration_since(Instant::now())),
            );
        }
        Ok(Box::new(ConstantModel::fit(self.name(), input)?))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        decode_constant(self.name(), bytes)
    }
}

/// Bytes `test_alloc` asks for, from its `gigabytes` parameter (GiB; default 64).
fn alloc_bytes(params: &Params) -> Result<u64, ModelError> {
    let p = ParamReader::new("test_alloc", params, &["gigabytes"])?;
    let gib = p.float("gigabytes", 64.0, 0.0, 1e6)?;
    Ok((gib * (1u64 << 30) as f64) as u64)
}

impl Family for TestAlloc {
    fn name(&self) -> &'static str {
        "test_alloc"
    }
    fn description(&self) -> &'static str {
        "test only: tries to allocate `gigabytes` GiB"
    }
    fn tasks(&self) -> &'static [Task] {
        ALL_TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Dense
    }
    fn memory_estimate(
        &self,
        params: &Params,
        _rows: usize,
        _cols: usize,
        _n_classes: usize,
    ) -> Option<u64> {
        // An invalid parameter is reported by `fit`; estimate the default then.
        Some(alloc_bytes(params).unwrap_or(64 << 30))
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let bytes = alloc_bytes(params)?;
        let len = usize::try_from(bytes).map_err(|_| ModelError::Fit {
            family: "test_alloc",
            reason: format!("{bytes} bytes do not fit in this platform's address space"),
        })?;
        let mut buf: Vec<u8> = Vec::new();
        buf.try_reserve_exact(len).map_err(|e| ModelError::Fit {
            family: "test_alloc",
            reason: format!("cannot reserve {bytes} bytes: {e}"),
        })?;
        // Writing the buffer commits the memory.
        buf.resize(len, 1);
        std::hint::black_box(&buf);
        drop(buf);
        Ok(Box::new(ConstantModel::fit(self.name(), input)?))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        decode_constant(self.name(), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::ParamValue;
    use ndarray::array;

    fn input<'a>(x: ArrayView2<'a, f64>, y: &'a [f64]) -> FitInput<'a> {
        FitInput::new(x, y, Task::Binary, 2, 1)
    }

    #[test]
    fn test_panic_panics_in_fit() {
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let y = [0.0, 1.0, 0.0, 1.0];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            TestPanic.fit(&Params::new(), &input(x.view(), &y))
        }));
        let msg = r.err().expect("fit must panic");
        let text = msg.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(text.contains("deliberate panic"), "{text}");
    }

    #[test]
    fn test_loop_ignores_its_deadline_but_ends_after_seconds() {
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let y = [0.0, 1.0, 0.0, 1.0];
        let mut inp = input(x.view(), &y);
        inp.deadline = Some(Instant::now());
        let mut params = Params::new();
        params.insert("seconds".into(), ParamValue::Float(0.05));
        let m = TestLoop.fit(&params, &inp).expect("ends normally");
        let p = m.predict(x.view()).unwrap();
        let proba = p.proba.expect("classification gives probabilities");
        assert_eq!(proba.row(0).to_vec(), vec![0.5, 0.5]);
        let back = TestLoop.decode(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back.family(), "test_loop");
        assert!(TestPanic.decode(&m.to_bytes().unwrap()).is_err());
    }

    #[test]
    fn test_alloc_declares_its_buffer_and_fails_cleanly_when_it_cannot_get_it() {
        let mut params = Params::new();
        assert_eq!(TestAlloc.memory_estimate(&params, 10, 2, 2), Some(64 << 30));
        params.insert("gigabytes".into(), ParamValue::Float(0.5));
        assert_eq!(TestAlloc.memory_estimate(&params, 10, 2, 2), Some(1 << 29));
        // More than any address space allows: try_reserve fails, fit returns an error.
        params.insert("gigabytes".into(), ParamValue::Float(1e6));
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let y = [0.0, 1.0, 0.0, 1.0];
        let err = TestAlloc
            .fit(&params, &input(x.view(), &y))
            .err()
            .expect("cannot reserve a petabyte");
        assert!(err.to_string().contains("cannot reserve"), "{err}");
        // A small buffer works and gives a constant model.
        params.insert("gigabytes".into(), ParamValue::Float(1e-4));
        let m = TestAlloc.fit(&params, &input(x.view(), &y)).unwrap();
        assert_eq!(m.family(), "test_alloc");
    }
}
