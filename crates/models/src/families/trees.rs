//! `gbdt`, `random_forest`, `extra_trees`: the families backed by our histogram tree engine
//! (crate `automl-trees`). Input is `PrepKind::Tree`: raw numeric columns with NaN for missing
//! plus category-code columns flagged in `FitInput::categorical`.
//!
//! `gbdt` (binary log loss, softmax, or squared error):
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `learning_rate` | 0.1 | (0, 1] | shrinkage per round |
//! | `max_leaves` | 31 | [2, 4096] | leaves per tree (leaf-wise growth) |
//! | `min_samples_leaf` | 20 | [1, 1000000] | rows per leaf |
//! | `min_child_weight` | 1e-3 | [0, 1e6] | hessian sum per leaf |
//! | `lambda_l2` | 1e-3 | [0, 1e6] | L2 penalty on leaf values |
//! | `lambda_l1` | 1e-3 | [0, 1e6] | L1 penalty on leaf values |
//! | `subsample` | 1.0 | (0, 1] | rows sampled per round |
//! | `colsample` | 1.0 | (0, 1] | features sampled per tree |
//! | `max_rounds` | 500 | [1, 100000] | cap on boosting rounds |
//! | `max_bins` | 255 | [2, 255] | histogram bins per feature |
//!
//! The number of rounds is chosen by early stopping: with at least 40 training rows,
//! [`VALID_FRACTION`] of them (stratified by class for classification, drawn with
//! `FitInput::seed`) are held out and boosting stops after [`PATIENCE`] rounds without
//! improvement of the held-out loss. In a full fit ([`FitPurpose::Full`]: a final model, or a
//! fold of a full-fidelity trial) with at most [`REFIT_MAX_ROWS`] training rows the model is
//! then fitted again on every row, for the best round count times all rows / non-held-out rows
//! (at most `max_rounds`), so the held-out rows train the kept model too (on bikeshare the 15 %
//! left out cost 4 % of RMSE: BENCHMARKS §40); with more rows, and in a fold of a successive-
//! halving first look ([`FitPurpose::FirstLook`], where the second fit would more than double
//! the look's cost: BENCHMARKS §61), the model is kept at its best round. `facts()["n_rounds"]` reports the kept model's rounds, `facts()["valid_loss"]`
//! the holdout's best loss. With fewer than 40 rows all rows train for `max_rounds`.
//!
//! `random_forest` / `extra_trees` (bootstrap only for the random forest; 255 bins; categorical
//! codes are split as ordinal values):
//!
//! | param | default | valid range | meaning |
//! |---|---|---|---|
//! | `n_trees` | 100 | [1, 10000] | trees |
//! | `max_features` | 0.3 (rf) / 0.5 (et) | (0, 1] | fraction of features drawn per split |
//! | `min_samples_leaf` | 1 | [1, 1000000] | rows per leaf |
//! | `criterion` | `gini` | `gini`, `entropy` | classification criterion (regression: squared error) |
//!
//! Bins come from `FitInput::binned` when the trainer shares a per-fold cache (it must hold
//! exactly `FitInput::x`), else the family bins `x` itself; both give identical models.

use crate::util::{self, ParamReader};
use crate::{Family, FitInput, FitPredicted, FitPurpose, Model, ModelError};
use automl_core::{Params, Predictions, PrepKind, Rng, Task};
use automl_trees::{
    BinnedData, Criterion, Dataset, Forest, ForestKind, ForestParams, Gbdt, GbdtParams, Importance,
    Objective, TreeError,
};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

const TASKS: &[Task] = &[Task::Binary, Task::Multiclass, Task::Regression];
/// Share of the training rows held out for early stopping.
pub const VALID_FRACTION: f64 = 0.15;
/// Early-stopping patience in rounds.
pub const PATIENCE: usize = 30;
/// Fewest training rows for which a validation split is made.
pub const MIN_ROWS_FOR_VALID: usize = 40;
/// Most training rows for which the rounds chosen on the holdout are refitted on every row;
/// above it the holdout's rows are a small loss and a second fit a large cost.
pub const REFIT_MAX_ROWS: usize = 100_000;

/// A `gbdt` full fit's time against a first look's on as many rows, where it refits (see
/// `Family::final_fit_cost`).
pub const FINAL_FIT_COST: f64 = 2.4;

/// `gbdt`'s default learning rate.
const GBDT_RATE: f64 = 0.1;
/// `gbdt`'s default maximum rounds.
const GBDT_ROUNDS: usize = 500;

/// [`Family::cheaper`] for `gbdt`: the largest learning rate it scales up to (LightGBM's
/// default is 0.1; the search space goes to 0.3).
pub const CHEAPER_MAX_RATE: f64 = 0.2;
/// [`Family::cheaper`] for `gbdt`: the fewest rounds it keeps. More rows need more rounds:
/// a 743-round configuration at rate 0.022, cut to 81 rounds at 0.2 and fitted on 475k rows,
/// scored 1.06 RMSE against 0.92 for the original on 12k rows.
pub const CHEAPER_MIN_ROUNDS: usize = 200;

/// The `gbdt` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct GbdtFamily;
/// The `random_forest` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomForestFamily;
/// The `extra_trees` family.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExtraTreesFamily;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Inner {
    Gbdt(Gbdt),
    Forest(Forest),
}

/// A fitted tree-engine model of one of the three families.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeModel {
    family: String,
    n_features: usize,
    /// Classes seen in training (classification); absent classes get probability 0.
    present: Vec<bool>,
    inner: Inner,
}

fn fam_name(name: &str) -> &'static str {
    match name {
        "gbdt" => "gbdt",
        "random_forest" => "random_forest",
        _ => "extra_trees",
    }
}

fn map_err(family: &'static str, e: TreeError) -> ModelError {
    match e {
        TreeError::Deadline { .. } => ModelError::Deadline { family },
        TreeError::InvalidParam {
            param,
            value,
            reason,
        } => ModelError::InvalidParam {
            family,
            param: param.to_string(),
            value,
            reason,
        },
        TreeError::Shape(reason) | TreeError::Data(reason) => ModelError::Data { family, reason },
    }
}

/// Checks shared by the three families (NaN in x is allowed; labels must be class indices).
fn check(family: &'static str, input: &FitInput<'_>) -> Result<(), ModelError> {
    if !TASKS.contains(&input.task) {
        return Err(ModelError::UnsupportedTask {
            family,
            task: input.task.to_string(),
        });
    }
    let (n, d) = input.x.dim();
    let data = |reason: String| ModelError::Data { family, reason };
    if n == 0 || d == 0 {
        return Err(data(format!(
            "the training matrix is empty ({n} rows x {d} columns); at least one row and one column are needed"
        )));
    }
    if !input.categorical.is_empty() && input.categorical.len() != d {
        return Err(data(format!(
            "{} categorical flags for {d} columns; pass one flag per column (or none)",
            input.categorical.len()
        )));
    }
    if input.task.is_classification() && input.n_classes < 2 {
        return Err(data(format!(
            "n_classes is {} for a {} task; at least 2 are needed",
            input.n_classes, input.task
        )));
    }
    for (i, row) in input.x.rows().into_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| v.is_infinite()) {
            return Err(data(format!(
                "x[{i}, {j}] = {} is infinite; tree families accept NaN for missing values but not infinities",
                row[j]
            )));
        }
    }
    if input.task.is_classification() {
        let k = input.n_classes;
        if let Some(i) = input
            .y
            .iter()
            .position(|v| !(v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < k))
        {
            return Err(data(format!(
                "target value at row {i} is {}, not a class index in 0..{k}",
                input.y[i]
            )));
        }
        if present_classes(input.y, k).iter().filter(|&&p| p).count() < 2 {
            return Err(data(
                "the training rows hold a single class; at least two classes are needed".into(),
            ));
        }
    }
    if let Some(c) = input.binned {
        let (cn, cd) = c.x().dim();
        if (cn, cd) != (n, d) {
            return Err(data(format!(
                "the shared bin cache holds a {cn} x {cd} matrix but x is {n} x {d}; the cache must be built from exactly x"
            )));
        }
    }
    Ok(())
}

/// Which classes occur in `y`.
fn present_classes(y: &[f64], k: usize) -> Vec<bool> {
    let mut p = vec![false; k];
    for &v in y {
        p[v as usize] = true;
    }
    p
}

fn present_of(input: &FitInput<'_>) -> Vec<bool> {
    if input.task.is_classification() {
        present_classes(input.y, input.n_classes)
    } else {
        Vec::new()
    }
}

/// The binned training matrix: the shared cache when given, else binned here.
fn binned(
    family: &'static str,
    input: &FitInput<'_>,
    max_bins: usize,
) -> Result<Arc<BinnedData>, ModelError> {
    match input.binned {
        Some(c) => c.try_get(max_bins).map_err(|e| map_err(family, e)),
        None => {
            let flags: Vec<bool> = if input.categorical.is_empty() {
                vec![false; input.x.ncols()]
            } else {
                input.categorical.to_vec()
            };
            BinnedData::new(input.x, &flags, max_bins)
                .map(Arc::new)
                .map_err(|e| map_err(family, e))
        }
    }
}

/// The rounds to refit on all `n` rows after early stopping kept `best` rounds trained on
/// `n_train` of them: as many more as there are more rows, at most `max_rounds`; None (keep
/// the early-stopped model) above [`REFIT_MAX_ROWS`].
fn refit_rounds(n: usize, n_train: usize, best: usize, max_rounds: usize) -> Option<usize> {
    (n <= REFIT_MAX_ROWS && n_train > 0)
        .then(|| (((best * n) as f64 / n_train as f64).round() as usize).clamp(1, max_rounds))
}

/// Split `0..n` into (train, valid) row lists, stratified by class for classification.
fn holdout(y: &[f64], n_classes: usize, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut rng = Rng::derive(seed, 0x7EE5);
    let groups: Vec<Vec<u32>> = if n_classes > 0 {
        let mut g = vec![Vec::new(); n_classes];
        for (i, &v) in y.iter().enumerate() {
            g[v as usize].push(i as u32);
        }
        g
    } else {
        vec![(0..y.len() as u32).collect()]
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

impl Family for GbdtFamily {
    fn name(&self) -> &'static str {
        "gbdt"
    }
    fn description(&self) -> &'static str {
        "gradient-boosted histogram trees with early stopping (own engine, LightGBM-style)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Tree
    }
    fn relative_cost(&self) -> f64 {
        4.0
    }
    /// A full fit early-stops as a first look's does (0.85 of the rows for the best rounds +
    /// 30) and then fits every row again for 1/0.85 × the best rounds: 1 + 1.18 / 0.85 = 2.4
    /// times a first look's fit as the rounds grow (less with few rounds), where it refits.
    fn final_fit_cost(&self, n_rows: usize) -> f64 {
        if (MIN_ROWS_FOR_VALID..=REFIT_MAX_ROWS).contains(&n_rows) {
            FINAL_FIT_COST
        } else {
            1.0
        }
    }
    /// 3 when rows or columns are sampled (`subsample` or `colsample` below 1): for LightGBM,
    /// three such fits averaged scored better on the test set than one on 16 of 16 dataset and
    /// configuration pairs (`bench/refit_seeds_lightgbm.py`; ours in docs/BENCHMARKS.md §64).
    /// Without sampling only the early-stopping split varies with the seed.
    fn final_refit_seeds(&self, params: &Params) -> usize {
        let sampled = |name: &str| {
            params
                .get(name)
                .and_then(|v| v.as_f64())
                .is_some_and(|v| v < 1.0)
        };
        if sampled("subsample") || sampled("colsample") {
            3
        } else {
            1
        }
    }
    /// Fewer rounds at a proportionally larger learning rate (rounds × rate is kept), the rate
    /// at most [`CHEAPER_MAX_RATE`] and the rounds at least [`CHEAPER_MIN_ROUNDS`].
    fn cheaper(&self, params: &Params, share: f64) -> Option<(Params, f64)> {
        use automl_core::{ParamValue, params::ParamsExt};
        let rate = params.f64_or("learning_rate", GBDT_RATE);
        let rounds = params.i64_or("max_rounds", GBDT_ROUNDS as i64).max(1) as f64;
        if !(rate > 0.0 && share > 0.0) {
            return None;
        }
        let floor = (rate / CHEAPER_MAX_RATE)
            .max(CHEAPER_MIN_ROUNDS as f64 / rounds)
            .min(1.0);
        let kept = (rounds * share.clamp(floor, 1.0)).round().max(1.0);
        let achieved = kept / rounds;
        let mut p = params.clone();
        p.insert("max_rounds".into(), ParamValue::Int(kept as i64));
        p.insert(
            "learning_rate".into(),
            ParamValue::Float((rate / achieved).min(1.0)),
        );
        Some((p, achieved))
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        const NAME: &str = "gbdt";
        let p = ParamReader::new(
            NAME,
            params,
            &[
                "learning_rate",
                "max_leaves",
                "min_samples_leaf",
                "min_child_weight",
                "lambda_l2",
                "lambda_l1",
                "subsample",
                "colsample",
                "max_rounds",
                "max_bins",
                "objective",
                "tweedie_power",
            ],
        )?;
        let learning_rate = p.positive("learning_rate", GBDT_RATE, 1.0)?;
        let max_leaves = p.int("max_leaves", 31, 2, 4096)? as usize;
        let min_samples_leaf = p.int("min_samples_leaf", 20, 1, 1_000_000)? as usize;
        let min_child_weight = p.float("min_child_weight", 1e-3, 0.0, 1e6)?;
        let lambda_l2 = p.float("lambda_l2", 1e-3, 0.0, 1e6)?;
        let lambda_l1 = p.float("lambda_l1", 1e-3, 0.0, 1e6)?;
        let subsample = p.positive("subsample", 1.0, 1.0)?;
        let colsample = p.positive("colsample", 1.0, 1.0)?;
        let max_rounds = p.int("max_rounds", GBDT_ROUNDS as i64, 1, 100_000)? as usize;
        let max_bins = p.int("max_bins", 255, 2, 255)? as usize;
        check(NAME, input)?;
        util::check_deadline(NAME, input.deadline)?;
        let data = binned(NAME, input, max_bins)?;
        let objective = match input.task {
            Task::Binary => Objective::Binary,
            Task::Multiclass => Objective::Multiclass {
                n_classes: input.n_classes,
            },
            Task::Regression => match p.choice("objective", "l2", &["l2", "tweedie"])? {
                "tweedie" => Objective::Tweedie {
                    power: p.float("tweedie_power", 1.3, 1.01, 1.99)?,
                },
                _ => Objective::L2,
            },
        };
        let gp = GbdtParams {
            objective,
            learning_rate,
            max_rounds,
            max_leaves,
            min_samples_leaf,
            min_child_weight,
            lambda_l2,
            lambda_l1,
            subsample,
            colsample,
            early_stopping_rounds: PATIENCE,
            seed: input.seed,
            ..GbdtParams::default()
        };
        let n = input.x.nrows();
        let base = Dataset {
            weights: input.sample_weight,
            ..Dataset::new(&data, input.y)
        };
        let model = if n >= MIN_ROWS_FOR_VALID {
            let k = if input.task.is_classification() {
                input.n_classes
            } else {
                0
            };
            if k > 0
                && let Some(i) = input
                    .y
                    .iter()
                    .position(|v| !(v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < k))
            {
                return Err(ModelError::Data {
                    family: NAME,
                    reason: format!(
                        "target value at row {i} is {}, not a class index in 0..{k}",
                        input.y[i]
                    ),
                });
            }
            let (tr, va) = holdout(input.y, k, input.seed);
            let train = Dataset {
                rows: Some(&tr),
                ..base
            };
            let valid = Dataset {
                rows: Some(&va),
                ..base
            };
            let stopped = Gbdt::fit(&gp, &train, Some(&valid), input.deadline)
                .map_err(|e| map_err(NAME, e))?;
            // A first look's model stays early-stopped: a second fit would double its cost,
            // and it is only ranked against other first looks.
            match refit_rounds(n, tr.len(), stopped.n_rounds(), max_rounds) {
                Some(rounds) if input.purpose == FitPurpose::Full => {
                    stopped.refit_on(&gp, &base, rounds, input.deadline)
                }
                _ => Ok(stopped),
            }
        } else {
            Gbdt::fit(&gp, &base, None, input.deadline)
        }
        .map_err(|e| map_err(NAME, e))?;
        Ok(Box::new(TreeModel {
            family: NAME.into(),
            n_features: input.x.ncols(),
            present: present_of(input),
            inner: Inner::Gbdt(model),
        }))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        decode_as("gbdt", bytes)
    }
}

/// A forest family's parameters read and its input checked and binned.
fn forest_setup(
    name: &'static str,
    kind: ForestKind,
    default_max_features: f64,
    params: &Params,
    input: &FitInput<'_>,
) -> Result<(ForestParams, Arc<automl_trees::BinnedData>), ModelError> {
    let p = ParamReader::new(
        name,
        params,
        &["n_trees", "max_features", "min_samples_leaf", "criterion"],
    )?;
    let n_trees = p.int("n_trees", 100, 1, 10_000)? as usize;
    let max_features = p.positive("max_features", default_max_features, 1.0)?;
    let min_samples_leaf = p.int("min_samples_leaf", 1, 1, 1_000_000)? as usize;
    let criterion = match p.choice("criterion", "gini", &["gini", "entropy"])? {
        "entropy" => Criterion::Entropy,
        _ => Criterion::Gini,
    };
    check(name, input)?;
    util::check_deadline(name, input.deadline)?;
    let data = binned(name, input, 255)?;
    let n_classes = if input.task.is_classification() {
        input.n_classes
    } else {
        0
    };
    let fp = ForestParams {
        n_trees,
        max_features,
        min_samples_leaf,
        criterion,
        seed: input.seed,
        ..ForestParams::new(kind, n_classes)
    };
    Ok((fp, data))
}

fn fit_forest(
    name: &'static str,
    kind: ForestKind,
    default_max_features: f64,
    params: &Params,
    input: &FitInput<'_>,
) -> Result<Box<dyn Model>, ModelError> {
    let (fp, data) = forest_setup(name, kind, default_max_features, params, input)?;
    let train = Dataset {
        weights: input.sample_weight,
        ..Dataset::new(&data, input.y)
    };
    let model = Forest::fit(&fp, &train, input.deadline).map_err(|e| map_err(name, e))?;
    Ok(Box::new(TreeModel {
        family: name.into(),
        n_features: input.x.ncols(),
        present: present_of(input),
        inner: Inner::Forest(model),
    }))
}

/// [`Family::fit_predict`] of a forest family: [`Forest::fit_streamed`] behind the
/// [`TreeModel`] head `encode_into` writes.
fn fit_predict_forest(
    name: &'static str,
    kind: ForestKind,
    default_max_features: f64,
    params: &Params,
    input: &FitInput<'_>,
    valid: ArrayView2<'_, f64>,
    mut sink: Option<automl_trees::Sink<'_>>,
) -> Result<FitPredicted, ModelError> {
    let (fp, data) = forest_setup(name, kind, default_max_features, params, input)?;
    let n_features = input.x.ncols();
    check_predict_input(name, n_features, valid)?;
    let train = Dataset {
        weights: input.sample_weight,
        ..Dataset::new(&data, input.y)
    };
    let present = present_of(input);
    if let Some(sink) = sink.as_mut() {
        sink(&util::encode(
            name,
            &(name.to_string(), n_features, &present, FOREST),
        )?);
    }
    let s = Forest::fit_streamed(&fp, &train, input.deadline, valid, sink)
        .map_err(|e| map_err(name, e))?;
    let predictions = zero_absent(s.predictions, &present);
    Ok(FitPredicted {
        predictions,
        facts: tree_facts(
            s.n_trees,
            s.n_leaves,
            s.split_count.iter().map(|&c| c as f64),
        ),
        predict_s: s.predict_s,
    })
}

/// `Inner::Forest`'s variant index in [`TreeModel`]'s postcard encoding.
const FOREST: u32 = 1;

/// The checks of [`TreeModel::predict`]: the model's column count and no infinity.
fn check_predict_input(
    family: &'static str,
    n_features: usize,
    x: ArrayView2<'_, f64>,
) -> Result<(), ModelError> {
    if x.ncols() != n_features {
        return Err(ModelError::Predict {
            family,
            reason: format!(
                "x has {} columns but the model was fitted on {}",
                x.ncols(),
                n_features
            ),
        });
    }
    for (i, row) in x.rows().into_iter().enumerate() {
        if let Some(j) = row.iter().position(|v| v.is_infinite()) {
            return Err(ModelError::Predict {
                family,
                reason: format!(
                    "x[{i}, {j}] = {} is infinite; use NaN for missing values",
                    row[j]
                ),
            });
        }
    }
    Ok(())
}

/// Classes never seen in training get exactly zero probability.
fn zero_absent(p: Predictions, present: &[bool]) -> Predictions {
    match p.proba {
        Some(mut proba) if present.iter().any(|&q| !q) => {
            for mut row in proba.rows_mut() {
                for (v, &q) in row.iter_mut().zip(present) {
                    if !q {
                        *v = 0.0;
                    }
                }
                let s = row.sum();
                if s > 0.0 {
                    row.mapv_inplace(|v| v / s);
                }
            }
            Predictions::from_proba(proba)
        }
        _ => p,
    }
}

/// A tree ensemble's facts: its trees, leaves and the features its splits use.
fn tree_facts(
    n_trees: usize,
    n_leaves: usize,
    split_counts: impl Iterator<Item = f64>,
) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    f.insert("n_trees".to_string(), n_trees.to_string());
    f.insert("n_leaves".to_string(), n_leaves.to_string());
    let used = split_counts.filter(|&c| c > 0.0).count();
    f.insert("features_used".to_string(), used.to_string());
    f
}

impl Family for RandomForestFamily {
    fn name(&self) -> &'static str {
        "random_forest"
    }
    fn description(&self) -> &'static str {
        "random forest on histogram bins (own engine), leaf class frequencies as probabilities"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Tree
    }
    fn relative_cost(&self) -> f64 {
        4.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        fit_forest(
            "random_forest",
            ForestKind::RandomForest,
            0.3,
            params,
            input,
        )
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        decode_as("random_forest", bytes)
    }
    fn fit_predict(
        &self,
        params: &Params,
        input: &FitInput<'_>,
        valid: ArrayView2<'_, f64>,
        sink: Option<automl_trees::Sink<'_>>,
    ) -> Result<FitPredicted, ModelError> {
        fit_predict_forest(
            "random_forest",
            ForestKind::RandomForest,
            0.3,
            params,
            input,
            valid,
            sink,
        )
    }
}

impl Family for ExtraTreesFamily {
    fn name(&self) -> &'static str {
        "extra_trees"
    }
    fn description(&self) -> &'static str {
        "extremely randomized trees on histogram bins (own engine)"
    }
    fn tasks(&self) -> &'static [Task] {
        TASKS
    }
    fn prep_kind(&self) -> PrepKind {
        PrepKind::Tree
    }
    fn relative_cost(&self) -> f64 {
        3.0
    }
    fn fit(&self, params: &Params, input: &FitInput<'_>) -> Result<Box<dyn Model>, ModelError> {
        fit_forest("extra_trees", ForestKind::ExtraTrees, 0.5, params, input)
    }
    fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
        decode_as("extra_trees", bytes)
    }
    fn fit_predict(
        &self,
        params: &Params,
        input: &FitInput<'_>,
        valid: ArrayView2<'_, f64>,
        sink: Option<automl_trees::Sink<'_>>,
    ) -> Result<FitPredicted, ModelError> {
        fit_predict_forest(
            "extra_trees",
            ForestKind::ExtraTrees,
            0.5,
            params,
            input,
            valid,
            sink,
        )
    }
}

fn decode_as(family: &'static str, bytes: &[u8]) -> Result<Box<dyn Model>, ModelError> {
    let m: TreeModel = util::decode(family, bytes)?;
    if m.family != family {
        return Err(ModelError::Decode {
            family: family.into(),
            reason: format!("the bytes hold a `{}` model", m.family),
        });
    }
    Ok(Box::new(m))
}

impl Model for TreeModel {
    fn family(&self) -> &'static str {
        fam_name(&self.family)
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, ModelError> {
        let family = fam_name(&self.family);
        check_predict_input(family, self.n_features, x)?;
        let r = match &self.inner {
            Inner::Gbdt(m) => m.predict(x),
            Inner::Forest(m) => m.predict(x),
        };
        let p = r.map_err(|e| ModelError::Predict {
            family,
            reason: e.to_string(),
        })?;
        Ok(zero_absent(p, &self.present))
    }
    fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        util::encode(fam_name(&self.family), self)
    }
    fn encode_into(self: Box<Self>, sink: &mut dyn FnMut(&[u8])) -> Result<(), ModelError> {
        let TreeModel {
            family,
            n_features,
            present,
            inner,
        } = *self;
        let name = fam_name(&family);
        let forest = match inner {
            Inner::Forest(f) => f,
            inner => {
                let whole = TreeModel {
                    family,
                    n_features,
                    present,
                    inner,
                };
                sink(&whole.to_bytes()?);
                return Ok(());
            }
        };
        // `to_bytes`: the format byte, the fields in order, and `inner` as its variant's index
        // then the forest.
        sink(&util::encode(name, &(family, n_features, present, FOREST))?);
        forest
            .encode_into(sink)
            .map_err(|e| util::encode_error(name, e))
    }
    fn tree_ensemble(&self) -> Option<automl_trees::Ensemble<'_>> {
        Some(match &self.inner {
            Inner::Gbdt(m) => automl_trees::Ensemble::Gbdt(m),
            Inner::Forest(m) => automl_trees::Ensemble::Forest(m),
        })
    }
    fn facts(&self) -> BTreeMap<String, String> {
        let (trees, split_counts) = match &self.inner {
            Inner::Gbdt(m) => (m.trees(), m.feature_importance(Importance::Split)),
            Inner::Forest(m) => (m.trees(), m.feature_importance(Importance::Split)),
        };
        let leaves: usize = trees.iter().map(|t| t.n_leaves()).sum();
        let mut f = tree_facts(trees.len(), leaves, split_counts.into_iter());
        if let Inner::Gbdt(m) = &self.inner {
            f.insert("n_rounds".to_string(), m.n_rounds().to_string());
            if let Some(best) = m.valid_loss().iter().copied().reduce(f64::min) {
                f.insert("valid_loss".to_string(), format!("{best:.6}"));
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::ParamValue;
    use automl_trees::BinnedCache;
    use ndarray::Array2;

    fn data(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let mut x = Array2::zeros((n, 3));
        let mut y = vec![0.0; n];
        for i in 0..n {
            x[[i, 0]] = rng.normal();
            x[[i, 1]] = if rng.bernoulli(0.2) {
                f64::NAN
            } else {
                rng.normal()
            };
            x[[i, 2]] = rng.below(4) as f64;
            let s = x[[i, 0]] + if x[[i, 2]] >= 2.0 { 1.0 } else { -1.0 } + 0.3 * rng.normal();
            y[i] = if s > 0.5 {
                2.0
            } else if s > -0.5 {
                1.0
            } else {
                0.0
            };
        }
        (x, y)
    }

    #[test]
    fn families_fit_predict_roundtrip_and_share_bins() {
        let (x, y) = data(300, 1);
        let cat = [false, false, true];
        let cache = BinnedCache::new(Arc::new(x.clone()), cat.to_vec());
        let families: [&dyn Family; 3] = [&GbdtFamily, &RandomForestFamily, &ExtraTreesFamily];
        for fam in families {
            let mut params = Params::new();
            if fam.name() == "gbdt" {
                params.insert("max_rounds".into(), ParamValue::Int(60));
            } else {
                params.insert("n_trees".into(), ParamValue::Int(20));
            }
            let mut input = FitInput::new(x.view(), &y, Task::Multiclass, 3, 9);
            input.categorical = &cat;
            let a = fam.fit(&params, &input).unwrap();
            input.binned = Some(&cache);
            let b = fam.fit(&params, &input).unwrap();
            let pa = a.predict(x.view()).unwrap();
            assert_eq!(
                pa,
                b.predict(x.view()).unwrap(),
                "{}: cache changed the model",
                fam.name()
            );
            let proba = pa.proba.as_ref().unwrap();
            for r in proba.rows() {
                assert!((r.sum() - 1.0).abs() < 1e-9);
            }
            let acc = pa.values.iter().zip(&y).filter(|(p, t)| p == t).count() as f64 / 300.0;
            assert!(acc > 0.7, "{} accuracy {acc}", fam.name());
            let bytes = a.to_bytes().unwrap();
            let back = fam.decode(&bytes).unwrap();
            assert_eq!(back.predict(x.view()).unwrap(), pa);
            // Encoded piece by piece (a forest tree by tree), the bytes are the same.
            let mut pieces = Vec::new();
            b.encode_into(&mut |p| pieces.push(p.to_vec())).unwrap();
            let n_pieces = if fam.name() == "gbdt" { 1 } else { 1 + 20 + 2 };
            assert_eq!(pieces.len(), n_pieces, "{}", fam.name());
            assert_eq!(pieces.concat(), bytes, "{}", fam.name());
            if fam.name() == "gbdt" {
                let rounds: usize = a.facts()["n_rounds"].parse().unwrap();
                assert!((1..=60).contains(&rounds));
            }
        }
    }

    #[test]
    fn a_forest_fitted_tree_by_tree_equals_fit_predict_facts_and_encode() {
        let (x, y) = data(300, 2);
        let (valid, _) = data(40, 3);
        let cat = [false, false, true];
        // Class 1 absent from the training rows: it must get probability 0 on both paths.
        let y3: Vec<f64> = y.iter().map(|&v| if v == 1.0 { 2.0 } else { v }).collect();
        let y_reg: Vec<f64> = (0..300).map(|i| x[[i, 0]] * 2.0 + y[i]).collect();
        let families: [&dyn Family; 2] = [&RandomForestFamily, &ExtraTreesFamily];
        for fam in families {
            for (task, n_classes, target) in
                [(Task::Multiclass, 3, &y3), (Task::Regression, 0, &y_reg)]
            {
                let mut params = Params::new();
                params.insert("n_trees".into(), ParamValue::Int(15));
                let mut input = FitInput::new(x.view(), target, task, n_classes, 4);
                input.categorical = &cat;
                let model = fam.fit(&params, &input).unwrap();
                let predictions = model.predict(valid.view()).unwrap();
                let facts = model.facts();
                let mut bytes = Vec::new();
                model
                    .encode_into(&mut |b| bytes.extend_from_slice(b))
                    .unwrap();
                let mut streamed = Vec::new();
                let mut sink = |b: &[u8]| streamed.extend_from_slice(b);
                let s = fam
                    .fit_predict(&params, &input, valid.view(), Some(&mut sink))
                    .unwrap();
                let what = format!("{} {task}", fam.name());
                assert_eq!(streamed, bytes, "{what}");
                assert_eq!(s.predictions, predictions, "{what}");
                assert_eq!(s.facts, facts, "{what}");
                if let Some(p) = &s.predictions.proba {
                    assert!(p.column(1).iter().all(|&v| v == 0.0), "{what}");
                }
                let back = fam.decode(&streamed).unwrap();
                assert_eq!(back.predict(valid.view()).unwrap(), predictions, "{what}");
                // The checks of `predict`: an infinity, a wrong column count.
                let mut bad = valid.clone();
                bad[[5, 0]] = f64::INFINITY;
                let e = fam
                    .fit_predict(&params, &input, bad.view(), None)
                    .unwrap_err();
                assert!(e.to_string().contains("infinite"), "{e}");
                let narrow = valid.slice_axis(ndarray::Axis(1), (0..2).into());
                assert!(fam.fit_predict(&params, &input, narrow, None).is_err());
                // Not kept: the same predictions and facts.
                let unkept = fam
                    .fit_predict(&params, &input, valid.view(), None)
                    .unwrap();
                assert_eq!(unkept.predictions, predictions, "{what}");
                assert_eq!(unkept.facts, facts, "{what}");
            }
        }
        // The default path (the gbdt): fit, predict, facts and encode.
        let input = FitInput::new(x.view(), &y, Task::Multiclass, 3, 4);
        let model = GbdtFamily.fit(&Params::new(), &input).unwrap();
        let mut bytes = Vec::new();
        let mut sink = |b: &[u8]| bytes.extend_from_slice(b);
        let s = GbdtFamily
            .fit_predict(&Params::new(), &input, valid.view(), Some(&mut sink))
            .unwrap();
        assert_eq!(s.predictions, model.predict(valid.view()).unwrap());
        assert_eq!(s.facts, model.facts());
        assert_eq!(bytes, model.to_bytes().unwrap());
    }

    #[test]
    fn gbdt_early_stopping_on_noise_and_bad_params() {
        let mut rng = Rng::new(3);
        let x = Array2::from_shape_fn((200, 2), |_| rng.normal());
        let y: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
        let input = FitInput::new(x.view(), &y, Task::Regression, 0, 1);
        let m = GbdtFamily.fit(&Params::new(), &input).unwrap();
        let rounds: usize = m.facts()["n_rounds"].parse().unwrap();
        assert!(rounds < 500, "noise should stop early, ran {rounds}");
        let mut bad = Params::new();
        bad.insert("subsample".into(), ParamValue::Float(1.5));
        assert!(matches!(
            GbdtFamily.fit(&bad, &input),
            Err(ModelError::InvalidParam { .. })
        ));
        let mut past = FitInput::new(x.view(), &y, Task::Regression, 0, 1);
        past.deadline = Some(std::time::Instant::now());
        assert!(matches!(
            RandomForestFamily.fit(&Params::new(), &past),
            Err(ModelError::Deadline { .. })
        ));
    }

    #[test]
    fn a_cheaper_gbdt_keeps_rounds_times_rate_within_its_bounds() {
        let params = |rate: f64, rounds: i64| {
            let mut p = Params::new();
            p.insert("learning_rate".into(), ParamValue::Float(rate));
            p.insert("max_rounds".into(), ParamValue::Int(rounds));
            p.insert("max_leaves".into(), ParamValue::Int(27));
            p
        };
        let get = |p: &Params| {
            (
                p["learning_rate"].as_f64().unwrap(),
                p["max_rounds"].as_i64().unwrap(),
            )
        };
        // A tenth of the time: a tenth of the rounds at ten times the rate, other params kept.
        let (p, s) = GbdtFamily.cheaper(&params(0.01, 2000), 0.1).unwrap();
        assert!(
            (get(&p).0 - 0.1).abs() < 1e-12 && get(&p).1 == 200,
            "{:?}",
            get(&p)
        );
        assert_eq!(p["max_leaves"], ParamValue::Int(27));
        assert!((s - 0.1).abs() < 1e-12);
        // The rate stops at CHEAPER_MAX_RATE: 0.034 -> 0.2 keeps 17 % of 1891 rounds.
        let (p, s) = GbdtFamily.cheaper(&params(0.034, 1891), 0.05).unwrap();
        let (rate, rounds) = get(&p);
        assert_eq!(rounds, 321);
        assert!((s - 321.0 / 1891.0).abs() < 1e-12, "{s}");
        assert!((rate - 0.034 / s).abs() < 1e-12 && rate <= CHEAPER_MAX_RATE * 1.01);
        // At least CHEAPER_MIN_ROUNDS rounds, and fewer are never cut; a rate already at the
        // bound is not scaled.
        let (p, _) = GbdtFamily.cheaper(&params(0.001, 1000), 0.01).unwrap();
        assert_eq!(get(&p).1, CHEAPER_MIN_ROUNDS as i64);
        let (p, s) = GbdtFamily.cheaper(&params(0.001, 150), 0.01).unwrap();
        assert_eq!((get(&p), s), ((0.001, 150), 1.0));
        let (p, s) = GbdtFamily.cheaper(&params(0.25, 400), 0.1).unwrap();
        assert_eq!((get(&p), s), ((0.25, 400), 1.0));
        // Absent params take the defaults (0.1, 500 rounds); the cheaper params fit.
        let (p, s) = GbdtFamily.cheaper(&Params::new(), 0.5).unwrap();
        assert_eq!(get(&p), (0.2, 250));
        assert_eq!(s, 0.5);
        let mut rng = Rng::new(4);
        let x = Array2::from_shape_fn((300, 3), |_| rng.normal());
        let y: Vec<f64> = (0..300).map(|i| x[[i, 0]] + 0.1 * rng.normal()).collect();
        let input = FitInput::new(x.view(), &y, Task::Regression, 0, 1);
        let m = GbdtFamily.fit(&p, &input).unwrap();
        let rounds: usize = m.facts()["n_rounds"].parse().unwrap();
        assert!((1..=250).contains(&rounds), "{rounds}");
        // Other families have no such knob.
        assert!(RandomForestFamily.cheaper(&Params::new(), 0.5).is_none());
    }

    #[test]
    fn rows_held_out_for_early_stopping_still_train_the_kept_gbdt() {
        // The holdout's rows alone have x1 = 1 and a target of 10; every other row has a
        // target near 0. Early stopping never trains on them, so only a refit on every row
        // can predict 10 there (at a rate of 1, one round of it does).
        let n = 400;
        let (_, va) = holdout(&vec![0.0; n], 0, 7);
        let mut rng = Rng::new(8);
        let mut x = Array2::from_shape_fn((n, 2), |_| rng.normal());
        let mut y: Vec<f64> = (0..n).map(|_| 0.1 * rng.normal()).collect();
        for &r in &va {
            x[[r as usize, 1]] = 1.0 + 10.0 * x[[r as usize, 1]].abs();
            y[r as usize] = 10.0;
        }
        let mut params = Params::new();
        params.insert("max_rounds".into(), ParamValue::Int(80));
        params.insert("learning_rate".into(), ParamValue::Float(1.0));
        params.insert("min_samples_leaf".into(), ParamValue::Int(5));
        let fit = |purpose| {
            let input = FitInput {
                purpose,
                ..FitInput::new(x.view(), &y, Task::Regression, 0, 7)
            };
            let m = GbdtFamily.fit(&params, &input).unwrap();
            let p = m.predict(x.view()).unwrap().values;
            let held = va.iter().map(|&r| p[r as usize]).sum::<f64>() / va.len() as f64;
            (m, held)
        };
        let (m, held) = fit(FitPurpose::Full);
        assert!(held > 5.0, "held-out rows predicted {held}, not near 10");
        let rounds: usize = m.facts()["n_rounds"].parse().unwrap();
        assert!((1..=80).contains(&rounds), "{rounds}");
        assert!(m.facts().contains_key("valid_loss"));
        // A first look's model is the early-stopped one: it never saw those rows.
        let (m, held) = fit(FitPurpose::FirstLook);
        assert!(
            held.abs() < 1.0,
            "a first look's model predicted {held} on rows it never saw"
        );
        assert!(m.facts().contains_key("valid_loss"));
    }

    #[test]
    fn only_a_full_gbdt_fit_costs_more_than_a_first_looks() {
        assert_eq!(GbdtFamily.final_fit_cost(6_483), FINAL_FIT_COST);
        assert_eq!(GbdtFamily.final_fit_cost(REFIT_MAX_ROWS), FINAL_FIT_COST);
        // Above the refit's row cap, and below the rows a holdout needs, both fits are one.
        assert_eq!(GbdtFamily.final_fit_cost(REFIT_MAX_ROWS + 1), 1.0);
        assert_eq!(GbdtFamily.final_fit_cost(MIN_ROWS_FOR_VALID - 1), 1.0);
        assert_eq!(RandomForestFamily.final_fit_cost(6_483), 1.0);
    }

    #[test]
    fn refit_rounds_scale_with_the_rows_up_to_max_rounds_and_stop_above_the_row_cap() {
        // 85 of 100 rows trained 170 rounds: 200 on all rows.
        assert_eq!(refit_rounds(100, 85, 170, 500), Some(200));
        assert_eq!(refit_rounds(100, 85, 170, 180), Some(180));
        assert_eq!(refit_rounds(100, 85, 0, 500), Some(1));
        assert_eq!(
            refit_rounds(REFIT_MAX_ROWS, REFIT_MAX_ROWS * 85 / 100, 100, 500),
            Some(118)
        );
        assert_eq!(
            refit_rounds(REFIT_MAX_ROWS + 1, REFIT_MAX_ROWS, 100, 500),
            None
        );
    }

    #[test]
    fn holdout_is_stratified_and_disjoint() {
        let y: Vec<f64> = (0..100).map(|i| if i < 80 { 0.0 } else { 1.0 }).collect();
        let (tr, va) = holdout(&y, 2, 5);
        assert_eq!(tr.len() + va.len(), 100);
        assert_eq!(va.iter().filter(|&&r| y[r as usize] == 1.0).count(), 3);
        assert_eq!(va.iter().filter(|&&r| y[r as usize] == 0.0).count(), 12);
        assert!(tr.iter().all(|r| !va.contains(r)));
    }
}
