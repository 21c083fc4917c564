//! `svm`: support vector machines — C-SVC with Platt probabilities for classification
//! (one-vs-rest for more than two classes), epsilon-SVR for regression. The rbf kernel uses
//! libsvm's SMO ([`super::smo`]) on one kernel matrix per fit, shared by all its machines and
//! Platt folds (linfa-svm, used before, computed one per machine and fold; its fitted models
//! are still read); the linear kernel uses a dual coordinate descent solver written
//! here (Hsieh et al. 2008 / Ho & Lin 2012, as liblinear: hinge and epsilon-insensitive loss,
//! bias as a constant feature), because linfa's SMO needed 140 s for a linear fit on
//! 3000 rows.
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `c` | 1.0 | (0, 1e6] | box constraint |
//! | `kernel` | `rbf` | `rbf`, `linear` | kernel |
//! | `gamma_scale` | 1.0 | (0, 1e6] | rbf: gamma = gamma_scale / n_features (inputs are standardized) |
//! | `epsilon` | 0.1 | (0, 1e3] | regression: insensitive tube width, in standard deviations of the target |
//!
//! Classification: each binary machine's decision values are mapped to probabilities with
//! Platt's sigmoid (Lin, Lin & Weng 2007 Newton fit), fitted on 2-fold out-of-fold decision
//! values (scikit-learn uses 5 folds) so that probabilities are not over-confident;
//! the folds are stratified and seeded by `FitInput::seed`. With more than two classes, one
//! machine per class (one-vs-rest) gives P(class | x), and the rows are normalised to sum to 1.
//! Regression standardizes the target, so `epsilon` is scale free.
//!
//! Only offered up to [`MAX_ROWS`] training rows (`Family::max_rows`), and a larger fit is
//! refused (`ModelError::Data`): the SMO solver keeps an n x n kernel matrix of `f64`
//! (18 MB at 1500 rows, 72 MB at 3000, 200 MB at 5000, per fit in flight). The limit was set
//! when linfa-svm fitted these machines (a default rbf binary fit with 3 Platt folds took 8.8 s
//! at 3000 rows). On the shared kernel matrix a default fit (release, 30 features,
//! `examples/svm_limit.rs ROWS`, with `MAX_ROWS` raised for the larger counts) takes
//! 0.03-0.11 s at 1500 rows, 0.14-0.51 s at 3000 and 0.38-1.52 s at 5000 (binary, 4-class
//! one-vs-rest, regression), so time no longer sets the limit: it stays at 1500 because a
//! limit of 3000, measured end to end (BENCHMARKS.md §54), was better nowhere beyond the
//! seeds' spread (ames worse on both seeds at 60 s, a 3000-row rodents sample better on both).
//! Linear fits are far cheaper but share the limit.
//! `sample_weight` is ignored.

use super::smo::{self, Problem, RbfMachines};
use crate::util::{self, ParamReader, TargetScale};
use crate::{Family, FitInput, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Rng, Task};
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const NAME: &str = "svm";
const TASKS: &[Task] = &[Task::Binary, Task::Multiclass, Task::Regression];
/// Largest training set the family accepts.
pub const MAX_ROWS: usize = 1500;
const PLATT_FOLDS: usize = 2;
/// Epoch cap and relative tolerance of the linear dual coordinate descent.
const CD_EPOCHS: usize = 1000;
const CD_TOL: f64 = 0.01;

/// The `svm` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct SvmFamily;

/// A decision function.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Decision {
    /// linfa-svm classifier (rbf): f = sum alpha k(sv, x) - rho. Only in models stored before
    /// the rbf machines were fitted here ([`Fitted::RbfClassifier`]).
    Svc(Svm<f64, bool>),
    /// linfa-svm regressor (rbf), likewise only read.
    Svr(Svm<f64, f64>),
    /// Linear: f = w . x + b.
    Linear { w: Array1<f64>, b: f64 },
}

impl Decision {
    fn values(&self, x: ArrayView2<'_, f64>) -> Vec<f64> {
        match self {
            Decision::Svc(svm) => x
                .rows()
                .into_iter()
                .map(|r| svm.weighted_sum(&r) - svm.rho)
                .collect(),
            Decision::Svr(svm) => x
                .rows()
                .into_iter()
                .map(|r| svm.weighted_sum(&r) - svm.rho)
                .collect(),
            Decision::Linear { w, b } => (x.dot(w) + *b).to_vec(),
        }
    }
    fn n_support(&self) -> usize {
        match self {
            Decision::Svc(svm) => svm.nsupport(),
            Decision::Svr(svm) => svm.nsupport(),
            Decision::Linear { .. } => 0,
        }
    }
}

/// One binary machine with its Platt sigmoid: P(positive | f) = 1 / (1 + exp(a f + b)).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Machine {
    dec: Decision,
    a: f64,
    b: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Fitted {
    /// Two present classes: one machine for `classes[1]` against `classes[0]`.
    Binary(Machine),
    /// One-vs-rest, one machine per present class.
    OneVsRest(Vec<Machine>),
    /// Epsilon-SVR on the standardized target.
    Regression { dec: Decision, scale: TargetScale },
    /// rbf machines sharing their support vectors, each with its Platt sigmoid `(a, b)`: one
    /// machine (`classes[1]` against `classes[0]`) for two present classes, else one per
    /// present class (one-vs-rest).
    RbfClassifier {
        machines: RbfMachines,
        platt: Vec<(f64, f64)>,
    },
    /// rbf epsilon-SVR (one machine) on the standardized target.
    RbfRegression {
        machines: RbfMachines,
        scale: TargetScale,
    },
}

/// A fitted SVM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SvmModel {
    fitted: Fitted,
    classes: Vec<usize>,
    n_classes: usize,
    n_features: usize,
}

fn fit_error(e: impl std::fmt::Display) -> ModelError {
    ModelError::Fit {
        family: NAME,
        reason: e.to_string(),
    }
}

/// Squared norms of the rows with the constant bias feature appended.
fn row_norms(x: ArrayView2<'_, f64>) -> Vec<f64> {
    x.rows().into_iter().map(|r| r.dot(&r) + 1.0).collect()
}

/// Linear C-SVC (hinge loss) by dual coordinate descent; the bias is a constant feature.
fn linear_svc(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    c: f64,
    seed: u64,
    input: &FitInput<'_>,
) -> Result<Decision, ModelError> {
    let (n, d) = x.dim();
    let sign: Vec<f64> = y.iter().map(|v| if *v { 1.0 } else { -1.0 }).collect();
    let q = row_norms(x);
    let mut alpha = vec![0.0; n];
    let mut w = Array1::<f64>::zeros(d);
    let mut b = 0.0;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    for epoch in 0..CD_EPOCHS {
        if epoch % 16 == 0 {
            util::check_deadline(NAME, input.deadline)?;
        }
        rng.shuffle(&mut order);
        let (mut max_pg, mut min_pg) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &order {
            let xi = x.row(i);
            let g = sign[i] * (xi.dot(&w) + b) - 1.0;
            let pg = if alpha[i] == 0.0 {
                g.min(0.0)
            } else if alpha[i] == c {
                g.max(0.0)
            } else {
                g
            };
            max_pg = max_pg.max(pg);
            min_pg = min_pg.min(pg);
            if pg.abs() > 1e-12 {
                let new = (alpha[i] - g / q[i]).clamp(0.0, c);
                let delta = (new - alpha[i]) * sign[i];
                alpha[i] = new;
                w.scaled_add(delta, &xi);
                b += delta;
            }
        }
        if max_pg - min_pg < CD_TOL {
            break;
        }
    }
    finite_linear(w, b)
}

/// Linear epsilon-SVR (epsilon-insensitive loss) by dual coordinate descent.
fn linear_svr(
    x: ArrayView2<'_, f64>,
    y: &[f64],
    c: f64,
    eps: f64,
    seed: u64,
    input: &FitInput<'_>,
) -> Result<Decision, ModelError> {
    let (n, d) = x.dim();
    let q = row_norms(x);
    let mut beta = vec![0.0; n];
    let mut w = Array1::<f64>::zeros(d);
    let mut b = 0.0;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(seed);
    let mut first = None;
    for epoch in 0..CD_EPOCHS {
        if epoch % 16 == 0 {
            util::check_deadline(NAME, input.deadline)?;
        }
        rng.shuffle(&mut order);
        let mut violation = 0.0;
        for &i in &order {
            let xi = x.row(i);
            let g = xi.dot(&w) + b - y[i];
            let (gp, gn) = (g + eps, g - eps);
            let bi = beta[i];
            violation += if bi == 0.0 {
                if gp < 0.0 {
                    -gp
                } else if gn > 0.0 {
                    gn
                } else {
                    0.0
                }
            } else if bi >= c {
                gp.max(0.0)
            } else if bi <= -c {
                (-gn).max(0.0)
            } else if bi > 0.0 {
                gp.abs()
            } else {
                gn.abs()
            };
            let h = q[i];
            let step = if gp < h * bi {
                -gp / h
            } else if gn > h * bi {
                -gn / h
            } else {
                -bi
            };
            let new = (bi + step).clamp(-c, c);
            let delta = new - bi;
            if delta != 0.0 {
                beta[i] = new;
                w.scaled_add(delta, &xi);
                b += delta;
            }
        }
        let v0 = *first.get_or_insert(violation);
        if violation <= CD_TOL * v0 {
            break;
        }
    }
    finite_linear(w, b)
}

fn finite_linear(w: Array1<f64>, b: f64) -> Result<Decision, ModelError> {
    if !b.is_finite() || w.iter().any(|v| !v.is_finite()) {
        return Err(fit_error(
            "the coordinate descent produced non-finite weights",
        ));
    }
    Ok(Decision::Linear { w, b })
}

/// Platt's sigmoid fit (Lin, Lin & Weng 2007): returns (a, b).
fn platt(f: &[f64], y: &[bool]) -> (f64, f64) {
    let prior1 = y.iter().filter(|v| **v).count() as f64;
    let prior0 = y.len() as f64 - prior1;
    let hi = (prior1 + 1.0) / (prior1 + 2.0);
    let lo = 1.0 / (prior0 + 2.0);
    let t: Vec<f64> = y.iter().map(|v| if *v { hi } else { lo }).collect();
    let (mut a, mut b) = (0.0, ((prior0 + 1.0) / (prior1 + 1.0)).ln());
    let sigma = 1e-12;
    let objective = |a: f64, b: f64| -> f64 {
        f.iter()
            .zip(&t)
            .map(|(fi, ti)| {
                let z = fi * a + b;
                if z >= 0.0 {
                    ti * z + (1.0 + (-z).exp()).ln()
                } else {
                    (ti - 1.0) * z + (1.0 + z.exp()).ln()
                }
            })
            .sum()
    };
    let mut fval = objective(a, b);
    for _ in 0..100 {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (sigma, sigma, 0.0, 0.0, 0.0);
        for (fi, ti) in f.iter().zip(&t) {
            let z = fi * a + b;
            let (p, q) = if z >= 0.0 {
                let e = (-z).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = z.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let d2 = p * q;
            h11 += fi * fi * d2;
            h22 += d2;
            h21 += fi * d2;
            let d1 = ti - p;
            g1 += fi * d1;
            g2 += d1;
        }
        if g1.abs() < 1e-5 && g2.abs() < 1e-5 {
            break;
        }
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let gd = g1 * da + g2 * db;
        let mut step = 1.0;
        let mut moved = false;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = objective(na, nb);
            if nf < fval + 1e-4 * step * gd {
                a = na;
                b = nb;
                fval = nf;
                moved = true;
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    (a, b)
}

fn platt_prob(f: f64, a: f64, b: f64) -> f64 {
    let z = f * a + b;
    if z >= 0.0 {
        let e = (-z).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + z.exp())
    }
}

/// The Platt folds of a machine's labels `y`: stratified (each label's rows shuffled and dealt
/// round-robin), `None` when a fold would lack a label or the rows are too few.
fn platt_folds(y: &[bool], seed: u64) -> Option<Vec<usize>> {
    let n = y.len();
    let n_pos = y.iter().filter(|v| **v).count();
    if n_pos < PLATT_FOLDS || n - n_pos < PLATT_FOLDS || n < 10 * PLATT_FOLDS {
        return None;
    }
    let mut rng = Rng::new(seed);
    let mut fold = vec![0usize; n];
    for label in [false, true] {
        let mut idx: Vec<usize> = (0..n).filter(|&i| y[i] == label).collect();
        rng.shuffle(&mut idx);
        for (k, i) in idx.into_iter().enumerate() {
            fold[i] = k % PLATT_FOLDS;
        }
    }
    Some(fold)
}

/// Platt's sigmoid on decision values, refused when it does not converge.
fn checked_platt(f: &[f64], y: &[bool]) -> Result<(f64, f64), ModelError> {
    let (a, b) = platt(f, y);
    if !a.is_finite() || !b.is_finite() {
        return Err(fit_error("Platt scaling did not converge"));
    }
    Ok((a, b))
}

/// Fit one linear binary machine plus its Platt sigmoid on out-of-fold decision values.
fn fit_machine(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    c: f64,
    seed: u64,
    input: &FitInput<'_>,
) -> Result<Machine, ModelError> {
    util::check_deadline(NAME, input.deadline)?;
    let dec = linear_svc(x, y, c, seed, input)?;
    let n = y.len();
    let mut oof = vec![0.0; n];
    let folds = platt_folds(y, seed);
    let mut use_oof = folds.is_some();
    if let Some(fold) = folds {
        for k in 0..PLATT_FOLDS {
            util::check_deadline(NAME, input.deadline)?;
            let train: Vec<usize> = (0..n).filter(|&i| fold[i] != k).collect();
            let test: Vec<usize> = (0..n).filter(|&i| fold[i] == k).collect();
            let xt = x.select(Axis(0), &train);
            let yt: Vec<bool> = train.iter().map(|&i| y[i]).collect();
            match linear_svc(xt.view(), &yt, c, seed ^ (k as u64 + 1), input) {
                Ok(m) => {
                    let f = m.values(x.select(Axis(0), &test).view());
                    for (i, v) in test.into_iter().zip(f) {
                        oof[i] = v;
                    }
                }
                Err(e @ ModelError::Deadline { .. }) => return Err(e),
                Err(_) => {
                    use_oof = false;
                    break;
                }
            }
        }
    }
    let f = if use_oof { oof } else { dec.values(x) };
    let (a, b) = checked_platt(&f, y)?;
    Ok(Machine { dec, a, b })
}

/// Solve an SMO problem, mapping a past deadline and non-finite results to errors.
fn solve(problem: &Problem<'_>, input: &FitInput<'_>) -> Result<smo::Solution, ModelError> {
    let s = problem
        .solve(input.deadline)
        .map_err(|_| ModelError::Deadline { family: NAME })?;
    if !s.rho.is_finite() || s.alpha.iter().any(|a| !a.is_finite()) {
        return Err(fit_error("the SMO solver produced non-finite values"));
    }
    Ok(s)
}

/// rbf C-SVC machines, one per label vector in `labels` (seeded by `seeds` for their Platt
/// folds), with Platt sigmoids fitted on 2-fold out-of-fold decision values; every machine
/// and fold reads one kernel matrix of the rows of `x`.
fn fit_rbf_classifier(
    x: ArrayView2<'_, f64>,
    labels: &[Vec<bool>],
    seeds: &[u64],
    c: f64,
    gamma: f64,
    input: &FitInput<'_>,
) -> Result<Fitted, ModelError> {
    let n = x.nrows();
    let kernel = smo::rbf_square(x, gamma);
    let (mut coefs, mut rhos, mut platts) = (Vec::new(), Vec::new(), Vec::new());
    let signed = |alpha: &[f64], rows: &[usize], y: &[bool]| -> Vec<f64> {
        alpha
            .iter()
            .zip(rows)
            .map(|(a, &r)| if y[r] { *a } else { -*a })
            .collect()
    };
    for (y, &seed) in labels.iter().zip(seeds) {
        util::check_deadline(NAME, input.deadline)?;
        let all: Vec<usize> = (0..n).collect();
        let sol = solve(&Problem::svc(&kernel, all.clone(), y, c), input)?;
        let coef = signed(&sol.alpha, &all, y);
        let f = match platt_folds(y, seed) {
            Some(fold) => {
                let mut oof = vec![0.0; n];
                for k in 0..PLATT_FOLDS {
                    let train: Vec<usize> = (0..n).filter(|&i| fold[i] != k).collect();
                    let yt: Vec<bool> = train.iter().map(|&i| y[i]).collect();
                    let s = solve(&Problem::svc(&kernel, train.clone(), &yt, c), input)?;
                    let w = signed(&s.alpha, &train, y);
                    for t in (0..n).filter(|&i| fold[i] == k) {
                        let k_t = kernel.row(t);
                        oof[t] = train
                            .iter()
                            .zip(&w)
                            .map(|(&r, wr)| wr * k_t[r])
                            .sum::<f64>()
                            - s.rho;
                    }
                }
                oof
            }
            None => {
                let w = Array1::from(coef.clone());
                (0..n).map(|t| kernel.row(t).dot(&w) - sol.rho).collect()
            }
        };
        platts.push(checked_platt(&f, y)?);
        coefs.push(coef);
        rhos.push(sol.rho);
    }
    Ok(Fitted::RbfClassifier {
        machines: RbfMachines::new(x, gamma, &coefs, rhos),
        platt: platts,
    })
}

impl Family for SvmFamily {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "SVM: C-SVC with Platt probabilities (one-vs-rest), epsilon-SVR (SMO for rbf, dual coordinate descent for linear)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Scaled
    }
    fn max_rows(&self) -> Option<usize> {
        Some(MAX_ROWS)
    }
    fn relative_cost(&self) -> f64 {
        10.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        let p = ParamReader::new(NAME, params, &["c", "kernel", "gamma_scale", "epsilon"])?;
        let c = p.positive("c", 1.0, 1e6)?;
        let kernel = p.choice("kernel", "rbf", &["rbf", "linear"])?;
        let gamma_scale = p.positive("gamma_scale", 1.0, 1e6)?;
        let epsilon = p.positive("epsilon", 0.1, 1e3)?;
        util::check_input(NAME, TASKS, input)?;
        let (n, d) = input.x.dim();
        if n > MAX_ROWS {
            return Err(ModelError::Data {
                family: NAME,
                reason: format!(
                    "{n} training rows is above this family's limit of {MAX_ROWS} (its kernel matrix grows as rows^2); subsample or use another family"
                ),
            });
        }
        let gamma = (kernel == "rbf").then(|| gamma_scale / d as f64);
        let classes = util::classes_present(input.y, input.n_classes);
        let fitted = if input.task == Task::Regression {
            util::check_deadline(NAME, input.deadline)?;
            let scale = TargetScale::fit(input.y);
            let z = scale.forward(input.y);
            match gamma {
                None => Fitted::Regression {
                    dec: linear_svr(input.x, &z, c, epsilon, input.seed, input)?,
                    scale,
                },
                Some(gamma) => {
                    let kernel = smo::rbf_square(input.x, gamma);
                    let s = solve(&Problem::svr(&kernel, &z, c, epsilon), input)?;
                    let coef: Vec<f64> = (0..n).map(|i| s.alpha[i] - s.alpha[i + n]).collect();
                    Fitted::RbfRegression {
                        machines: RbfMachines::new(input.x, gamma, &[coef], vec![s.rho]),
                        scale,
                    }
                }
            }
        } else {
            // one label vector per machine: classes[1] against classes[0], or one-vs-rest
            let (labels, seeds): (Vec<Vec<bool>>, Vec<u64>) = if classes.len() == 2 {
                let y = input.y.iter().map(|v| *v as usize == classes[1]).collect();
                (vec![y], vec![input.seed])
            } else {
                classes
                    .iter()
                    .enumerate()
                    .map(|(j, &k)| {
                        let y = input.y.iter().map(|v| *v as usize == k).collect();
                        (y, Rng::derive_seed(input.seed, j as u64))
                    })
                    .unzip()
            };
            match gamma {
                Some(gamma) => fit_rbf_classifier(input.x, &labels, &seeds, c, gamma, input)?,
                None => {
                    let mut machines = Vec::with_capacity(labels.len());
                    for (y, &seed) in labels.iter().zip(&seeds) {
                        machines.push(fit_machine(input.x, y, c, seed, input)?);
                    }
                    if classes.len() == 2 {
                        Fitted::Binary(machines.pop().expect("one machine"))
                    } else {
                        Fitted::OneVsRest(machines)
                    }
                }
            }
        };
        Ok(Box::new(SvmModel {
            fitted,
            classes,
            n_classes: input.n_classes,
            n_features: d,
        }))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        Ok(Box::new(util::decode::<SvmModel>(NAME, bytes)?))
    }
}

impl Model for SvmModel {
    fn family(&self) -> &'static str {
        NAME
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        util::check_predict(NAME, x, self.n_features)?;
        let (f, platt): (Array2<f64>, Vec<(f64, f64)>) = match &self.fitted {
            Fitted::Regression { dec, scale } => {
                return Ok(Predictions::regression(
                    dec.values(x)
                        .into_iter()
                        .map(|f| f * scale.sd + scale.mean)
                        .collect(),
                ));
            }
            Fitted::RbfRegression { machines, scale } => {
                return Ok(Predictions::regression(
                    machines
                        .values(x)
                        .column(0)
                        .iter()
                        .map(|f| f * scale.sd + scale.mean)
                        .collect(),
                ));
            }
            Fitted::Binary(m) => (
                Array2::from_shape_vec((x.nrows(), 1), m.dec.values(x)).expect("one column"),
                vec![(m.a, m.b)],
            ),
            Fitted::OneVsRest(ms) => {
                let mut f = Array2::zeros((x.nrows(), ms.len()));
                for (j, m) in ms.iter().enumerate() {
                    f.column_mut(j).assign(&Array1::from(m.dec.values(x)));
                }
                (f, ms.iter().map(|m| (m.a, m.b)).collect())
            }
            Fitted::RbfClassifier { machines, platt } => (machines.values(x), platt.clone()),
        };
        let p = if platt.len() == 1 {
            let (a, b) = platt[0];
            let mut p = Array2::zeros((x.nrows(), 2));
            for (i, &v) in f.column(0).iter().enumerate() {
                let p1 = platt_prob(v, a, b);
                p[[i, 0]] = 1.0 - p1;
                p[[i, 1]] = p1;
            }
            p
        } else {
            let mut p = Array2::zeros(f.dim());
            for ((i, j), v) in f.indexed_iter() {
                p[[i, j]] = platt_prob(*v, platt[j].0, platt[j].1);
            }
            for mut row in p.rows_mut() {
                let s: f64 = row.sum();
                if s > 0.0 {
                    row.mapv_inplace(|v| v / s);
                } else {
                    row.fill(1.0 / platt.len() as f64);
                }
            }
            p
        };
        Ok(Predictions::from_proba(util::expand_proba(
            &p,
            &self.classes,
            self.n_classes,
        )))
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(NAME, self)
    }
    fn facts(&self) -> BTreeMap<String, String> {
        let n_support: usize = match &self.fitted {
            Fitted::Regression { dec, .. } => dec.n_support(),
            Fitted::Binary(m) => m.dec.n_support(),
            Fitted::OneVsRest(ms) => ms.iter().map(|m| m.dec.n_support()).sum(),
            Fitted::RbfClassifier { machines, .. } | Fitted::RbfRegression { machines, .. } => {
                machines.n_support()
            }
        };
        BTreeMap::from([("n_support".to_string(), n_support.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::prelude::*;
    use ndarray::ArrayView1;

    fn data(n: usize, d: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, d), |(i, j)| {
            (i as f64 * (j + 1) as f64 * 0.53 + j as f64).sin() * 1.5
        })
    }

    fn labels(x: &Array2<f64>) -> Vec<bool> {
        (0..x.nrows())
            .map(|i| x[[i, 0]] * x[[i, 1]] + 0.3 * (2.1 * i as f64).cos() > 0.0)
            .collect()
    }

    /// Our machine's decision values on `x` are within 0.02 of `want`.
    fn assert_agrees(
        x: &Array2<f64>,
        gamma: f64,
        coef: Vec<f64>,
        rho: f64,
        want: Vec<f64>,
        what: &str,
    ) {
        let f = RbfMachines::new(x.view(), gamma, &[coef], vec![rho]).values(x.view());
        for (i, want) in want.into_iter().enumerate() {
            let got = f[[i, 0]];
            assert!((got - want).abs() < 0.02, "{what} row {i}: {got} vs {want}");
        }
    }

    /// Our SMO and linfa-svm's (the same libsvm algorithm) give the same decision values to
    /// within the stopping tolerance's effect, for C-SVC and epsilon-SVR.
    #[test]
    fn the_smo_agrees_with_linfa_svm() {
        let x = data(150, 3);
        let y = labels(&x);
        let (gamma, c) = (0.5, 2.0);
        let kernel = smo::rbf_square(x.view(), gamma);
        let ours = Problem::svc(&kernel, (0..150).collect(), &y, c)
            .solve(None)
            .unwrap();
        let theirs = Svm::<f64, bool>::params()
            .pos_neg_weights(c, c)
            .eps(1e-3)
            .shrinking(false)
            .gaussian_kernel(1.0 / gamma)
            .fit(&DatasetBase::new(x.view(), ArrayView1::from(&y)))
            .unwrap();
        let coef: Vec<f64> = ours
            .alpha
            .iter()
            .zip(&y)
            .map(|(a, &p)| if p { *a } else { -*a })
            .collect();
        let want = x
            .rows()
            .into_iter()
            .map(|r| theirs.weighted_sum(&r) - theirs.rho);
        assert_agrees(&x, gamma, coef, ours.rho, want.collect(), "svc");
        let z: Vec<f64> = (0..150)
            .map(|i| x[[i, 0]] * x[[i, 1]] + x[[i, 2]])
            .collect();
        let ours = Problem::svr(&kernel, &z, c, 0.1).solve(None).unwrap();
        let theirs = Svm::<f64, f64>::params()
            .c_svr(c, Some(0.1))
            .eps(1e-3)
            .shrinking(false)
            .gaussian_kernel(1.0 / gamma)
            .fit(&DatasetBase::new(x.view(), ArrayView1::from(&z)))
            .unwrap();
        let coef: Vec<f64> = (0..150)
            .map(|i| ours.alpha[i] - ours.alpha[i + 150])
            .collect();
        let want = x
            .rows()
            .into_iter()
            .map(|r| theirs.weighted_sum(&r) - theirs.rho);
        assert_agrees(&x, gamma, coef, ours.rho, want.collect(), "svr");
    }

    /// A model stored with linfa-svm's machines (before the SMO moved here) still decodes and
    /// predicts what it did.
    #[test]
    fn a_model_with_linfa_machines_still_decodes() {
        let x = data(80, 3);
        let y = labels(&x);
        let svm = Svm::<f64, bool>::params()
            .pos_neg_weights(1.0, 1.0)
            .gaussian_kernel(3.0)
            .fit(&DatasetBase::new(x.view(), ArrayView1::from(&y)))
            .unwrap();
        let model = SvmModel {
            fitted: Fitted::Binary(Machine {
                dec: Decision::Svc(svm),
                a: -1.5,
                b: 0.1,
            }),
            classes: vec![0, 1],
            n_classes: 2,
            n_features: 3,
        };
        let back = SvmFamily.decode(&model.to_bytes().unwrap()).unwrap();
        let (p, q) = (
            model.predict(x.view()).unwrap(),
            back.predict(x.view()).unwrap(),
        );
        assert_eq!(p, q);
        assert!(p.proba.unwrap().iter().all(|v| (0.0..=1.0).contains(v)));
    }

    /// One-vs-rest rbf machines share their support vectors: the model keeps each training row
    /// at most once, however many machines use it.
    #[test]
    fn one_vs_rest_machines_share_support_vectors() {
        let x = data(90, 3);
        let y: Vec<f64> = (0..90).map(|i| (i % 3) as f64).collect();
        let input = FitInput::new(x.view(), &y, Task::Multiclass, 3, 7);
        let model = SvmFamily.fit(&Params::new(), &input).unwrap();
        let n_support: usize = model.facts()["n_support"].parse().unwrap();
        assert!(n_support > 0 && n_support <= 90, "{n_support}");
        let p = model.predict(x.view()).unwrap();
        for row in p.proba.unwrap().rows() {
            assert!((row.sum() - 1.0).abs() < 1e-9);
        }
    }
}
