//! `mlp`: a multilayer perceptron for tabular data (ReLU hidden layers, dropout, Adam with
//! decoupled weight decay, early stopping on a share of the fit's own training rows), for
//! binary, multiclass (softmax cross-entropy, probabilities out) and regression (squared error
//! on the standardised target).
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `n_layers` | 2 | [1, 8] | hidden layers |
//! | `width` | 128 | [1, 4096] | units per hidden layer |
//! | `dropout` | 0.1 | [0, 0.9] | dropout rate after every hidden layer (training only) |
//! | `learning_rate` | 1e-3 | (0, 1] | Adam step size |
//! | `weight_decay` | 1e-5 | [0, 1] | decoupled (AdamW) decay of the weights per step, × learning rate |
//! | `batch_size` | 128 | [1, 65536] | rows per Adam step (capped at the training rows) |
//! | `max_epochs` | 100 | [1, 100000] | passes over the training rows |
//!
//! **Engine.** Forward pass, backpropagation and Adam are written here on `ndarray` (f32,
//! `matrixmultiply`'s single-threaded sgemm), not on burn or candle: measured in
//! docs/BENCHMARKS.md §26, both crates cost 2–3 minutes and 130–140 more crates to build, and
//! per step they were slower on the small batches tabular data uses. Everything runs on the
//! calling thread, so a fit never oversubscribes `--jobs`; with one thread and our own
//! [`Rng`] for the initialisation, the shuffles and the dropout masks, the same seed gives the
//! same weights bit for bit.
//!
//! **Input.** The `Scaled` preprocessing: standardised numerics, one-hot (or frequency-coded,
//! high-cardinality) categoricals, never NaN. Categorical embeddings would need their own
//! `PrepKind` and are not done.
//!
//! **Early stopping.** With at least [`MIN_ROWS_FOR_VALID`] training rows, a stratified share
//! ([`VALID_FRACTION`]) of the rows the fit was given is held out (the fold's own validation
//! rows are never seen); training stops after [`PATIENCE`] epochs without a better validation
//! loss (log loss, or squared error on the standardised target) and the best epoch's weights
//! are kept. Fewer rows: all `max_epochs` on every row. Weights are initialised Glorot-uniform
//! (as scikit-learn's `MLPClassifier`), biases at zero; `sample_weight` scales each row's
//! share of the batch gradient. The model stores its weights as plain `Vec<f32>` (postcard),
//! independent of any library's format, and predicts with `ndarray`.

use crate::util::{self, ParamReader, TargetScale};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Rng, Task};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const NAME: &str = "mlp";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass, Task::Regression];
const PARAMS: &[&str] = &[
    "n_layers",
    "width",
    "dropout",
    "learning_rate",
    "weight_decay",
    "batch_size",
    "max_epochs",
];
/// Share of the training rows held out for early stopping.
pub const VALID_FRACTION: f64 = 0.1;
/// Fewest training rows for which a validation split is made.
pub const MIN_ROWS_FOR_VALID: usize = 40;
/// Epochs without a better validation loss before training stops.
pub const PATIENCE: usize = 10;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

/// The `mlp` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct MlpFamily;

/// One dense layer: `out = in · w + b`, `w` stored row-major (`n_in` rows of `n_out`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Dense {
    n_in: usize,
    n_out: usize,
    w: Vec<f32>,
    b: Vec<f32>,
}

/// A fitted multilayer perceptron.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MlpModel {
    /// Hidden layers (ReLU) then the output layer (linear; softmax for classification).
    layers: Vec<Dense>,
    /// Class indices present at fit time (the output units), empty for regression.
    classes: Vec<usize>,
    /// Total number of classes of the task (0 for regression).
    n_classes: usize,
    /// The target's standardisation (regression).
    target: Option<TargetScale>,
    n_features: usize,
    /// Epochs run, best epoch (1-based, 0 without a validation split) and its validation loss.
    epochs: usize,
    best_epoch: usize,
    valid_loss: Option<f64>,
}

/// The hyperparameters of one fit.
#[derive(Debug, Clone, Copy)]
struct Settings {
    n_layers: usize,
    width: usize,
    dropout: f32,
    learning_rate: f32,
    weight_decay: f32,
    batch_size: usize,
    max_epochs: usize,
}

impl Settings {
    fn read(params: &Params) -> Result<Self, ModelError> {
        let p = ParamReader::new(NAME, params, PARAMS)?;
        Ok(Settings {
            n_layers: p.int("n_layers", 2, 1, 8)? as usize,
            width: p.int("width", 128, 1, 4096)? as usize,
            dropout: p.float("dropout", 0.1, 0.0, 0.9)? as f32,
            learning_rate: p.positive("learning_rate", 1e-3, 1.0)? as f32,
            weight_decay: p.float("weight_decay", 1e-5, 0.0, 1.0)? as f32,
            batch_size: p.int("batch_size", 128, 1, 65_536)? as usize,
            max_epochs: p.int("max_epochs", 100, 1, 100_000)? as usize,
        })
    }
}

impl Family for MlpFamily {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "multilayer perceptron: ReLU, dropout, Adam, early stopping (own ndarray backprop)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn final_keeps_fold_models(&self) -> bool {
        true
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Scaled
    }
    fn relative_cost(&self) -> f64 {
        6.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let s = Settings::read(params)?;
        util::check_input(NAME, TASKS, input)?;
        util::check_deadline(NAME, input.deadline)?;
        Ok(Box::new(fit(&s, input)?))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        let m: MlpModel = util::decode(NAME, bytes)?;
        m.validate()?;
        Ok(Box::new(m))
    }
}

/// Split `0..n` into (train, valid) row lists, stratified by class for classification.
fn holdout(
    y: &[usize],
    n_out: usize,
    classification: bool,
    rng: &mut Rng,
) -> (Vec<usize>, Vec<usize>) {
    let groups: Vec<Vec<usize>> = if classification {
        let mut g = vec![Vec::new(); n_out];
        for (i, &c) in y.iter().enumerate() {
            g[c].push(i);
        }
        g
    } else {
        vec![(0..y.len()).collect()]
    };
    let (mut tr, mut va) = (Vec::new(), Vec::new());
    for mut g in groups {
        rng.shuffle(&mut g);
        // keep at least one row of every class for training
        let k = ((g.len() as f64 * VALID_FRACTION).round() as usize).min(g.len().saturating_sub(1));
        va.extend_from_slice(&g[..k]);
        tr.extend_from_slice(&g[k..]);
    }
    tr.sort_unstable();
    va.sort_unstable();
    (tr, va)
}

/// Glorot-uniform weights, zero biases.
fn init_layer(n_in: usize, n_out: usize, rng: &mut Rng) -> Dense {
    let bound = (6.0 / (n_in + n_out) as f64).sqrt();
    Dense {
        n_in,
        n_out,
        w: (0..n_in * n_out)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect(),
        b: vec![0.0; n_out],
    }
}

/// A layer's weights as ndarray values, and its Adam moments.
struct Trainable {
    w: Array2<f32>,
    b: Array1<f32>,
    mw: Array2<f32>,
    vw: Array2<f32>,
    mb: Array1<f32>,
    vb: Array1<f32>,
}

impl Trainable {
    fn new(d: &Dense) -> Self {
        let w = Array2::from_shape_vec((d.n_in, d.n_out), d.w.clone()).expect("shape");
        Trainable {
            mw: Array2::zeros(w.dim()),
            vw: Array2::zeros(w.dim()),
            mb: Array1::zeros(d.n_out),
            vb: Array1::zeros(d.n_out),
            b: Array1::from(d.b.clone()),
            w,
        }
    }
    fn to_dense(&self) -> Dense {
        Dense {
            n_in: self.w.nrows(),
            n_out: self.w.ncols(),
            w: self.w.iter().copied().collect(),
            b: self.b.to_vec(),
        }
    }
}

/// Forward pass in evaluation mode (no dropout): the output layer's raw scores.
fn forward(layers: &[(ArrayView2<'_, f32>, &[f32])], x: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut h = x.to_owned();
    for (l, (w, b)) in layers.iter().enumerate() {
        let mut z = h.dot(w);
        let last = l + 1 == layers.len();
        for mut row in z.rows_mut() {
            for (v, bias) in row.iter_mut().zip(b.iter()) {
                *v += bias;
                if !last && *v < 0.0 {
                    *v = 0.0;
                }
            }
        }
        h = z;
    }
    h
}

/// Weighted mean loss of raw scores against targets: log loss over the present classes, or
/// half the squared error on the standardised target.
fn loss(
    out: &Array2<f32>,
    y: &[usize],
    yr: &[f32],
    w: Option<&[f32]>,
    classification: bool,
) -> f64 {
    let (mut total, mut wsum) = (0.0f64, 0.0f64);
    for (i, row) in out.rows().into_iter().enumerate() {
        let wi = w.map_or(1.0, |w| f64::from(w[i]));
        let l = if classification {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = row
                .iter()
                .map(|v| (*v as f64 - max).exp())
                .sum::<f64>()
                .ln()
                + max;
            lse - row[y[i]] as f64
        } else {
            0.5 * (row[0] as f64 - yr[i] as f64).powi(2)
        };
        total += wi * l;
        wsum += wi;
    }
    if wsum > 0.0 { total / wsum } else { 0.0 }
}

fn fit(s: &Settings, input: &FitInput<'_>) -> Result<MlpModel, ModelError> {
    let classification = input.task.is_classification();
    let (n, d) = input.x.dim();
    let classes = if classification {
        util::classes_present(input.y, input.n_classes)
    } else {
        Vec::new()
    };
    let n_out = if classification { classes.len() } else { 1 };
    // Class index -> output unit.
    let mut unit = vec![0usize; input.n_classes];
    for (j, &c) in classes.iter().enumerate() {
        unit[c] = j;
    }
    let yc: Vec<usize> = if classification {
        input.y.iter().map(|v| unit[*v as usize]).collect()
    } else {
        vec![0; n]
    };
    let target = (!classification).then(|| TargetScale::fit(input.y));
    let yr: Vec<f32> = match &target {
        Some(t) => t.forward(input.y).into_iter().map(|v| v as f32).collect(),
        None => vec![0.0; n],
    };
    let x: Array2<f32> = input.x.mapv(|v| v as f32);
    let mut rng = Rng::derive(input.seed, 0x004D_4C50);
    let (train, valid) = if n >= MIN_ROWS_FOR_VALID {
        holdout(&yc, n_out, classification, &mut rng)
    } else {
        ((0..n).collect(), Vec::new())
    };
    // Row weights normalised to mean 1 over the training rows.
    let weights: Option<Vec<f32>> = input.sample_weight.map(|w| {
        let mean = train.iter().map(|&i| w[i]).sum::<f64>() / train.len() as f64;
        let mean = if mean > 0.0 { mean } else { 1.0 };
        w.iter().map(|v| (v / mean) as f32).collect()
    });
    let xv = x.select(Axis(0), &valid);
    let yv: Vec<usize> = valid.iter().map(|&i| yc[i]).collect();
    let yrv: Vec<f32> = valid.iter().map(|&i| yr[i]).collect();
    let wv: Option<Vec<f32>> = weights
        .as_ref()
        .map(|w| valid.iter().map(|&i| w[i]).collect());

    let mut sizes = vec![d];
    sizes.extend(std::iter::repeat_n(s.width, s.n_layers));
    sizes.push(n_out);
    let mut net: Vec<Trainable> = sizes
        .windows(2)
        .map(|w| Trainable::new(&init_layer(w[0], w[1], &mut rng)))
        .collect();
    let keep = 1.0 - s.dropout;
    let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
    let batch = s.batch_size.min(train.len()).max(1);
    let mut order = train.clone();
    let mut best: Option<(f64, usize, Vec<Dense>)> = None;
    let mut step = 0i32;
    let mut epochs = 0;
    for epoch in 1..=s.max_epochs {
        util::check_deadline(NAME, input.deadline)?;
        epochs = epoch;
        rng.shuffle(&mut order);
        for rows in order.chunks(batch) {
            step += 1;
            let m = rows.len();
            // Forward, keeping every layer's (post-dropout) activation.
            let mut acts: Vec<Array2<f32>> = vec![x.select(Axis(0), rows)];
            for (l, layer) in net.iter().enumerate() {
                let mut z = acts[l].dot(&layer.w);
                let hidden = l + 1 < net.len();
                for mut row in z.rows_mut() {
                    for (v, bias) in row.iter_mut().zip(layer.b.iter()) {
                        *v += bias;
                        if hidden {
                            if *v < 0.0 || (s.dropout > 0.0 && rng.f64() < s.dropout as f64) {
                                *v = 0.0;
                            } else {
                                *v *= scale;
                            }
                        }
                    }
                }
                acts.push(z);
            }
            // Gradient of the mean (weighted) loss with respect to the output scores.
            let mut g = acts.pop().expect("output");
            let wsum: f32 = match &weights {
                Some(w) => rows.iter().map(|&i| w[i]).sum::<f32>().max(1e-12),
                None => m as f32,
            };
            for (r, mut row) in g.rows_mut().into_iter().enumerate() {
                let i = rows[r];
                let wi = weights.as_ref().map_or(1.0, |w| w[i]) / wsum;
                if classification {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    row.mapv_inplace(|v| (v - max).exp());
                    let sum: f32 = row.sum();
                    row.mapv_inplace(|v| v / sum * wi);
                    row[yc[i]] -= wi;
                } else {
                    row[0] = (row[0] - yr[i]) * wi;
                }
            }
            // Backward, updating each layer once its input gradient is taken.
            let (c1, c2) = (1.0 - BETA1.powi(step), 1.0 - BETA2.powi(step));
            for l in (0..net.len()).rev() {
                let a = &acts[l];
                let gw = a.t().dot(&g);
                let gb = g.sum_axis(Axis(0));
                if l > 0 {
                    let mut gp = g.dot(&net[l].w.t());
                    ndarray::Zip::from(&mut gp).and(a).for_each(|gv, av| {
                        *gv = if *av > 0.0 { *gv * scale } else { 0.0 };
                    });
                    g = gp;
                }
                let layer = &mut net[l];
                let (lr, wd) = (s.learning_rate, s.weight_decay);
                ndarray::Zip::from(&mut layer.w)
                    .and(&mut layer.mw)
                    .and(&mut layer.vw)
                    .and(&gw)
                    .for_each(|w, mw, vw, gv| {
                        *mw = BETA1 * *mw + (1.0 - BETA1) * gv;
                        *vw = BETA2 * *vw + (1.0 - BETA2) * gv * gv;
                        *w -= lr * ((*mw / c1) / ((*vw / c2).sqrt() + EPS) + wd * *w);
                    });
                ndarray::Zip::from(&mut layer.b)
                    .and(&mut layer.mb)
                    .and(&mut layer.vb)
                    .and(&gb)
                    .for_each(|b, mb, vb, gv| {
                        *mb = BETA1 * *mb + (1.0 - BETA1) * gv;
                        *vb = BETA2 * *vb + (1.0 - BETA2) * gv * gv;
                        *b -= lr * (*mb / c1) / ((*vb / c2).sqrt() + EPS);
                    });
            }
        }
        if net.iter().any(|l| l.w.iter().any(|v| !v.is_finite())) {
            return Err(ModelError::Fit {
                family: NAME,
                reason: format!(
                    "the weights diverged at epoch {epoch}; lower the learning rate ({})",
                    s.learning_rate
                ),
            });
        }
        if !valid.is_empty() {
            let views: Vec<(ArrayView2<'_, f32>, &[f32])> = net
                .iter()
                .map(|l| (l.w.view(), l.b.as_slice().expect("contiguous")))
                .collect();
            let v = loss(
                &forward(&views, xv.view()),
                &yv,
                &yrv,
                wv.as_deref(),
                classification,
            );
            let improved = best.as_ref().is_none_or(|(b, _, _)| v < *b - 1e-6);
            if improved {
                best = Some((v, epoch, net.iter().map(Trainable::to_dense).collect()));
            } else if best.as_ref().is_some_and(|(_, e, _)| epoch - e >= PATIENCE) {
                break;
            }
        }
    }
    let (layers, best_epoch, valid_loss) = match best {
        Some((v, e, layers)) => (layers, e, Some(v)),
        None => (net.iter().map(Trainable::to_dense).collect(), 0, None),
    };
    Ok(MlpModel {
        layers,
        classes,
        n_classes: input.n_classes,
        target,
        n_features: d,
        epochs,
        best_epoch,
        valid_loss,
    })
}

impl MlpModel {
    /// Check the decoded layer shapes chain from the features to the outputs.
    fn validate(&self) -> Result<(), ModelError> {
        let bad = |reason: String| ModelError::Decode {
            family: NAME.to_string(),
            reason,
        };
        let n_out = if self.target.is_some() {
            1
        } else {
            self.classes.len()
        };
        let mut n_in = self.n_features;
        for (i, l) in self.layers.iter().enumerate() {
            if l.n_in != n_in || l.w.len() != l.n_in * l.n_out || l.b.len() != l.n_out {
                return Err(bad(format!("layer {i} has inconsistent shapes")));
            }
            n_in = l.n_out;
        }
        if self.layers.is_empty()
            || n_in != n_out
            || self.classes.iter().any(|c| *c >= self.n_classes.max(1))
        {
            return Err(bad("the output layer does not match the task".into()));
        }
        Ok(())
    }
}

impl Model for MlpModel {
    fn family(&self) -> &'static str {
        NAME
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(NAME, x, self.n_features)?;
        let views: Vec<(ArrayView2<'_, f32>, &[f32])> = self
            .layers
            .iter()
            .map(|l| {
                (
                    ArrayView2::from_shape((l.n_in, l.n_out), &l.w).expect("validated shape"),
                    l.b.as_slice(),
                )
            })
            .collect();
        let out = forward(&views, x.mapv(|v| v as f32).view());
        if let Some(t) = &self.target {
            return Ok(Predictions::regression(
                out.column(0)
                    .iter()
                    .map(|v| *v as f64 * t.sd + t.mean)
                    .collect(),
            ));
        }
        let mut z = out.mapv(f64::from);
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
    fn facts(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        f.insert("epochs".to_string(), self.epochs.to_string());
        f.insert("best_epoch".to_string(), self.best_epoch.to_string());
        if let Some(v) = self.valid_loss {
            f.insert("valid_loss".to_string(), format!("{v:.6}"));
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::{Metric, ParamValue};

    /// XOR-like classes: the sign of x0 · x1, plus noise columns. No linear model separates it.
    fn xor(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let x = Array2::from_shape_fn((n, 4), |_| rng.uniform(-1.0, 1.0));
        let y = x
            .rows()
            .into_iter()
            .map(|r| f64::from(u8::from(r[0] * r[1] > 0.0)))
            .collect();
        (x, y)
    }

    /// y = sin(3 x0) + x1² - x0 x2 + small noise.
    fn wave(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let x = Array2::from_shape_fn((n, 3), |_| rng.uniform(-1.5, 1.5));
        let y = x
            .rows()
            .into_iter()
            .map(|r| (3.0 * r[0]).sin() + r[1] * r[1] - r[0] * r[2] + 0.05 * rng.normal())
            .collect();
        (x, y)
    }

    fn fit_with(
        family: &str,
        params: &Params,
        x: &Array2<f64>,
        y: &[f64],
        task: Task,
        seed: u64,
    ) -> Box<dyn Model> {
        let k = if task.is_classification() { 2 } else { 0 };
        crate::registry()
            .get(family)
            .unwrap()
            .fit(params, &FitInput::new(x.view(), y, task, k, seed))
            .unwrap()
    }

    #[test]
    fn learns_xor_where_logistic_cannot() {
        let (x, y) = xor(800, 1);
        let (xt, yt) = xor(400, 2);
        let mlp = fit_with("mlp", &Params::new(), &x, &y, Task::Binary, 0);
        let lin = fit_with("logistic", &Params::new(), &x, &y, Task::Binary, 0);
        let acc = |m: &dyn Model| Metric::Accuracy.compute(&yt, &m.predict(xt.view()).unwrap(), 2);
        let (a_mlp, a_lin) = (acc(mlp.as_ref()), acc(lin.as_ref()));
        assert!(a_mlp > 0.9, "mlp accuracy {a_mlp}");
        assert!(a_lin < 0.7, "logistic accuracy {a_lin}");
    }

    #[test]
    fn nonlinear_regression_beats_a_linear_model() {
        let (x, y) = wave(1000, 3);
        let (xt, yt) = wave(500, 4);
        let mlp = fit_with("mlp", &Params::new(), &x, &y, Task::Regression, 0);
        let lin = fit_with("linear", &Params::new(), &x, &y, Task::Regression, 0);
        let r2 = |m: &dyn Model| Metric::R2.compute(&yt, &m.predict(xt.view()).unwrap(), 0);
        let (r_mlp, r_lin) = (r2(mlp.as_ref()), r2(lin.as_ref()));
        assert!(r_mlp > 0.9, "mlp R2 {r_mlp}");
        assert!(r_mlp > r_lin + 0.3, "mlp R2 {r_mlp} vs linear {r_lin}");
    }

    #[test]
    fn seed_decides_the_weights_bit_for_bit() {
        let (x, y) = xor(300, 5);
        let mut p = Params::new();
        p.insert("dropout".into(), ParamValue::Float(0.3));
        p.insert("max_epochs".into(), ParamValue::Int(15));
        let bytes = |seed| {
            fit_with("mlp", &p, &x, &y, Task::Binary, seed)
                .to_bytes()
                .unwrap()
        };
        assert_eq!(bytes(9), bytes(9));
        assert_ne!(bytes(9), bytes(10));
    }

    #[test]
    fn early_stopping_stops_on_noise_and_keeps_the_best_epoch() {
        let mut rng = Rng::new(6);
        let x = Array2::from_shape_fn((400, 5), |_| rng.normal());
        let y: Vec<f64> = (0..400).map(|_| rng.normal()).collect();
        let mut p = Params::new();
        p.insert("max_epochs".into(), ParamValue::Int(500));
        p.insert("learning_rate".into(), ParamValue::Float(1e-2));
        let m = fit_with("mlp", &p, &x, &y, Task::Regression, 0);
        let f = m.facts();
        let epochs: usize = f["epochs"].parse().unwrap();
        let best: usize = f["best_epoch"].parse().unwrap();
        assert!(epochs < 500, "ran {epochs} epochs on noise");
        assert_eq!(epochs, best + PATIENCE, "{f:?}");
        assert!(f.contains_key("valid_loss"));
        // Too few rows for a validation split: every epoch runs, on every row.
        let small = x.select(Axis(0), &(0..30).collect::<Vec<_>>());
        p.insert("max_epochs".into(), ParamValue::Int(7));
        let m = fit_with("mlp", &p, &small, &y[..30], Task::Regression, 0);
        assert_eq!(m.facts()["epochs"], "7");
        assert_eq!(m.facts()["best_epoch"], "0");
    }

    #[test]
    fn zero_weight_rows_are_ignored() {
        // Class 1 rows carry no weight: the model learns class 0 everywhere.
        let (x, y) = xor(300, 7);
        let w: Vec<f64> = y.iter().map(|v| 1.0 - v).collect();
        let mut input = FitInput::new(x.view(), &y, Task::Binary, 2, 0);
        input.sample_weight = Some(&w);
        let m = MlpFamily.fit(&Params::new(), &input).unwrap();
        let p = m.predict(x.view()).unwrap();
        assert!(p.values.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn invalid_params_and_corrupt_bytes_are_errors() {
        let (x, y) = xor(60, 8);
        for (k, v) in [
            ("width", ParamValue::Int(0)),
            ("n_layers", ParamValue::Int(9)),
            ("dropout", ParamValue::Float(0.95)),
            ("learning_rate", ParamValue::Float(0.0)),
            ("batch_size", ParamValue::Str("big".into())),
            ("epochs", ParamValue::Int(3)),
        ] {
            let mut p = Params::new();
            p.insert(k.into(), v);
            let r = MlpFamily.fit(&p, &FitInput::new(x.view(), &y, Task::Binary, 2, 0));
            assert!(matches!(r, Err(ModelError::InvalidParam { .. })), "{k}");
        }
        let m = fit_with("mlp", &Params::new(), &x, &y, Task::Binary, 0);
        let mut model: MlpModel = util::decode(NAME, &m.to_bytes().unwrap()).unwrap();
        model.layers[0].w.pop();
        let bytes = util::encode(NAME, &model).unwrap();
        assert!(matches!(
            MlpFamily.decode(&bytes),
            Err(ModelError::Decode { .. })
        ));
    }
}
