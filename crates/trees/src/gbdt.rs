//! Gradient boosting on binned data: objectives, the boosting loop with row/column subsampling,
//! early stopping on a validation set, and the fitted [`Gbdt`] model.

use crate::error::TreeError;
use crate::grow::{GrowConfig, Grower};
use crate::tree::Tree;
use crate::{Dataset, Importance, check_deadline};
use automl_core::{Predictions, Rng};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The loss being boosted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Objective {
    /// Binary log loss; labels 0/1; one tree per round.
    Binary,
    /// Softmax cross-entropy; labels `0..n_classes`; one tree per class per round.
    Multiclass {
        /// Number of classes (>= 2).
        n_classes: usize,
    },
    /// Squared error.
    L2,
    /// Huber loss with threshold `delta`.
    Huber {
        /// Residuals beyond `delta` are penalized linearly.
        delta: f64,
    },
    /// Absolute error (leaf outputs renewed to the median residual of the leaf).
    L1,
    /// Tweedie deviance with a log link (LightGBM's `tweedie`): for non-negative targets
    /// whose spread grows with their mean (counts, amounts). Scores are the log of the
    /// prediction; the model predicts their exponential. Appended last: models encoded before
    /// it existed decode unchanged.
    Tweedie {
        /// Variance power, in (1, 2): 1 is Poisson, 2 is gamma.
        power: f64,
    },
}

impl Objective {
    /// Trees per round (scores per row).
    pub fn n_outputs(self) -> usize {
        match self {
            Objective::Multiclass { n_classes } => n_classes,
            _ => 1,
        }
    }
    fn is_classification(self) -> bool {
        matches!(self, Objective::Binary | Objective::Multiclass { .. })
    }
}

/// Hyperparameters of gradient boosting (defaults follow LightGBM).
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtParams {
    /// The loss.
    pub objective: Objective,
    /// Shrinkage per round, in (0, 1].
    pub learning_rate: f64,
    /// Maximum boosting rounds.
    pub max_rounds: usize,
    /// Maximum leaves per tree (leaf-wise growth), >= 2.
    pub max_leaves: usize,
    /// Optional maximum depth.
    pub max_depth: Option<usize>,
    /// Minimum rows per leaf.
    pub min_samples_leaf: usize,
    /// Minimum hessian sum per leaf.
    pub min_child_weight: f64,
    /// L2 regularization of leaf values.
    pub lambda_l2: f64,
    /// L1 regularization of leaf values.
    pub lambda_l1: f64,
    /// Minimum gain to split.
    pub min_split_gain: f64,
    /// Fraction of rows sampled (without replacement) per round, in (0, 1].
    pub subsample: f64,
    /// Fraction of features sampled per tree, in (0, 1].
    pub colsample: f64,
    /// Early stopping patience in rounds (only with a validation set).
    pub early_stopping_rounds: usize,
    /// Categorical: smoothing added to the hessian when ordering categories.
    pub cat_smooth: f64,
    /// Categorical: extra L2 for category-set splits.
    pub cat_l2: f64,
    /// Categorical: at most this many categories on the scanned side.
    pub max_cat_threshold: usize,
    /// Categorical: features with at most this many categories use one-vs-rest splits.
    pub max_cat_onehot: usize,
    /// Seed of the subsampling.
    pub seed: u64,
    /// Threads inside this fit (1 = none; > 1 builds histograms in a local rayon pool).
    pub n_threads: usize,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            objective: Objective::L2,
            learning_rate: 0.1,
            max_rounds: 100,
            max_leaves: 31,
            max_depth: None,
            min_samples_leaf: 20,
            min_child_weight: 1e-3,
            lambda_l2: 0.0,
            lambda_l1: 0.0,
            min_split_gain: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            early_stopping_rounds: 50,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            max_cat_threshold: 32,
            max_cat_onehot: 4,
            seed: 0,
            n_threads: 1,
        }
    }
}

impl GbdtParams {
    fn validate(&self) -> Result<(), TreeError> {
        let bad = |param: &'static str, value: String, reason: &str| {
            Err(TreeError::InvalidParam {
                param,
                value,
                reason: reason.into(),
            })
        };
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be in (0, 1]",
            );
        }
        if self.max_leaves < 2 {
            return bad("max_leaves", self.max_leaves.to_string(), "must be >= 2");
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad("subsample", self.subsample.to_string(), "must be in (0, 1]");
        }
        if !(self.colsample > 0.0 && self.colsample <= 1.0) {
            return bad("colsample", self.colsample.to_string(), "must be in (0, 1]");
        }
        if !(self.lambda_l2 >= 0.0 && self.lambda_l1 >= 0.0 && self.min_child_weight >= 0.0) {
            return bad(
                "lambda_l2/lambda_l1/min_child_weight",
                format!(
                    "{}/{}/{}",
                    self.lambda_l2, self.lambda_l1, self.min_child_weight
                ),
                "must be >= 0",
            );
        }
        if let Objective::Multiclass { n_classes } = self.objective
            && n_classes < 2
        {
            return bad("n_classes", n_classes.to_string(), "must be >= 2");
        }
        if let Objective::Huber { delta } = self.objective
            && delta.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        {
            return bad("delta", delta.to_string(), "must be > 0");
        }
        if let Objective::Tweedie { power } = self.objective
            && !(power > 1.0 && power < 2.0)
        {
            return bad("tweedie_power", power.to_string(), "must be in (1, 2)");
        }
        Ok(())
    }

    fn grow_config(&self) -> GrowConfig {
        GrowConfig {
            max_leaves: self.max_leaves,
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            min_child_weight: self.min_child_weight,
            lambda_l2: self.lambda_l2,
            lambda_l1: self.lambda_l1,
            min_split_gain: self.min_split_gain,
            cat_smooth: self.cat_smooth,
            cat_l2: self.cat_l2,
            max_cat_threshold: self.max_cat_threshold,
            max_cat_onehot: self.max_cat_onehot,
        }
    }
}

/// A fitted gradient-boosted ensemble. Trees are stored round-major (`n_outputs` per round).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    objective: Objective,
    n_features: usize,
    base: Vec<f64>,
    trees: Vec<Tree>,
    gain: Vec<f64>,
    split_count: Vec<u32>,
    /// Validation loss per round (empty without validation).
    valid_loss: Vec<f64>,
}

fn rows_of(d: &Dataset<'_>) -> Vec<u32> {
    match d.rows {
        Some(r) => r.to_vec(),
        None => (0..d.data.n_rows() as u32).collect(),
    }
}

impl Gbdt {
    /// Fit on `train`; with `valid` (rows binned with the same mappers, e.g. other rows of the
    /// same [`BinnedData`] or [`BinnedData::apply`]), stop when the validation loss has not
    /// improved for `early_stopping_rounds` rounds and keep the best round.
    ///
    /// Deadline: checked once per round; when passed the fit returns
    /// [`TreeError::Deadline`] (no partial model).
    pub fn fit(
        params: &GbdtParams,
        train: &Dataset<'_>,
        valid: Option<&Dataset<'_>>,
        deadline: Option<Instant>,
    ) -> Result<Gbdt, TreeError> {
        params.validate()?;
        train.check(
            params.objective.is_classification(),
            classes_of(params.objective),
        )?;
        if let Objective::Tweedie { .. } = params.objective {
            for d in std::iter::once(train).chain(valid) {
                let negative = |&r: &u32| d.y[r as usize].is_nan() || d.y[r as usize] < 0.0;
                if let Some(r) = rows_of(d).into_iter().find(negative) {
                    return Err(TreeError::Data(format!(
                        "the tweedie objective needs a non-negative target; row {r} is {}",
                        d.y[r as usize]
                    )));
                }
            }
        }
        if let Some(v) = valid {
            v.check(
                params.objective.is_classification(),
                classes_of(params.objective),
            )?;
            if v.data.mappers() != train.data.mappers() {
                return Err(TreeError::Shape(
                    "the validation set was binned with other bin mappers; bin it with BinnedData::apply on the training data".into(),
                ));
            }
        }
        let pool = if params.n_threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(params.n_threads)
                    .build()
                    .map_err(|e| {
                        TreeError::Data(format!("cannot start {} threads: {e}", params.n_threads))
                    })?,
            )
        } else {
            None
        };
        match pool {
            Some(p) => p.install(|| Self::fit_inner(params, train, valid, deadline)),
            None => Self::fit_inner(params, train, valid, deadline),
        }
    }

    fn fit_inner(
        params: &GbdtParams,
        train: &Dataset<'_>,
        valid: Option<&Dataset<'_>>,
        deadline: Option<Instant>,
    ) -> Result<Gbdt, TreeError> {
        let data = train.data;
        let n_all = data.n_rows();
        let nf = data.n_features();
        let k = params.objective.n_outputs();
        let rows = rows_of(train);
        let w = |r: usize| train.weights.map_or(1.0, |w| w[r]);
        let base = base_score(params.objective, train.y, &rows, train.weights);
        let cfg = params.grow_config();
        let mut rng = Rng::new(params.seed);
        // scores[c * n_all + r]
        let mut scores = vec![0.0f64; k * n_all];
        for (c, &b) in base.iter().enumerate() {
            for &r in &rows {
                scores[c * n_all + r as usize] = b;
            }
        }
        let vrows = valid.map(rows_of).unwrap_or_default();
        let n_v = valid.map_or(0, |v| v.data.n_rows());
        let mut vscores = vec![0.0f64; k * n_v];
        for (c, &b) in base.iter().enumerate() {
            for &r in &vrows {
                vscores[c * n_v + r as usize] = b;
            }
        }
        let mut gh = vec![[0.0f64; 2]; k * n_all];
        let mut grower = Grower::new(data);
        grower.parallel = params.n_threads > 1;
        let mut trees: Vec<Tree> = Vec::new();
        let mut gain = vec![0.0; nf];
        let mut split_count = vec![0u32; nf];
        let mut round_imp: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut valid_loss = Vec::new();
        let mut best_round = 0usize;
        let mut best_loss = f64::INFINITY;
        let all_features: Vec<usize> = (0..nf).collect();
        let n_cols = ((params.colsample * nf as f64).round() as usize).clamp(1, nf.max(1));
        let n_bag = ((params.subsample * rows.len() as f64).round() as usize).clamp(1, rows.len());
        let mut in_bag = vec![false; if n_bag < rows.len() { n_all } else { 0 }];
        let mut bag: Vec<u32> = Vec::with_capacity(n_bag);
        for round in 0..params.max_rounds {
            check_deadline(deadline, round)?;
            gradients(
                params.objective,
                train.y,
                &w,
                &rows,
                &scores,
                n_all,
                &mut gh,
            );
            // row subsample
            bag.clear();
            if n_bag < rows.len() {
                let mut pick = rng.sample_indices(rows.len(), n_bag);
                pick.sort_unstable();
                bag.extend(pick.iter().map(|&i| rows[i]));
                in_bag.iter_mut().for_each(|b| *b = false);
                for &r in &bag {
                    in_bag[r as usize] = true;
                }
            } else {
                bag.extend_from_slice(&rows);
            }
            let mut imp = Vec::new();
            for c in 0..k {
                let feats: Vec<usize> = if n_cols < nf {
                    let mut f = rng.sample_indices(nf, n_cols);
                    f.sort_unstable();
                    f
                } else {
                    all_features.clone()
                };
                let ghc = &gh[c * n_all..(c + 1) * n_all];
                let mut tree = grower.grow(&cfg, ghc, &bag, &feats);
                imp.extend_from_slice(&grower.splits);
                // leaf values
                let mut values = Vec::with_capacity(grower.leaves.len());
                for leaf in &grower.leaves {
                    let raw = match params.objective {
                        Objective::L1 => {
                            let res: Vec<(f64, f64)> = grower.rows[leaf.start..leaf.end]
                                .iter()
                                .map(|&r| {
                                    let r = r as usize;
                                    (train.y[r] - scores[c * n_all + r], w(r))
                                })
                                .collect();
                            weighted_median(res)
                        }
                        _ => cfg.leaf_output(&leaf.sum),
                    };
                    values.push((raw * params.learning_rate) as f32);
                }
                tree.values = values;
                // update training scores: in-bag rows via leaf ranges, the rest by traversal
                let sc = &mut scores[c * n_all..(c + 1) * n_all];
                for (li, leaf) in grower.leaves.iter().enumerate() {
                    let v = tree.values[li] as f64;
                    for &r in &grower.rows[leaf.start..leaf.end] {
                        sc[r as usize] += v;
                    }
                }
                if n_bag < rows.len() {
                    for &r in &rows {
                        if !in_bag[r as usize] {
                            let l = tree.leaf_binned(data, r as usize);
                            sc[r as usize] += tree.values[l] as f64;
                        }
                    }
                }
                if let Some(v) = valid {
                    let vs = &mut vscores[c * n_v..(c + 1) * n_v];
                    for &r in &vrows {
                        let l = tree.leaf_binned(v.data, r as usize);
                        vs[r as usize] += tree.values[l] as f64;
                    }
                }
                tree.finish();
                trees.push(tree);
            }
            round_imp.push(imp);
            if let Some(v) = valid {
                let loss = mean_loss(params.objective, v.y, v.weights, &vrows, &vscores, n_v);
                valid_loss.push(loss);
                if loss < best_loss {
                    best_loss = loss;
                    best_round = round;
                } else if round - best_round >= params.early_stopping_rounds {
                    break;
                }
            }
        }
        let kept_rounds = if valid.is_some() && !valid_loss.is_empty() {
            best_round + 1
        } else {
            trees.len() / k
        };
        trees.truncate(kept_rounds * k);
        for imp in round_imp.iter().take(kept_rounds) {
            for &(f, g) in imp {
                gain[f] += g;
                split_count[f] += 1;
            }
        }
        Ok(Gbdt {
            objective: params.objective,
            n_features: nf,
            base,
            trees,
            gain,
            split_count,
            valid_loss,
        })
    }

    /// Fit again on `all` (no validation set) for `rounds` rounds, keeping this model's
    /// validation loss curve as the record of how the round count was chosen: early stopping on
    /// a holdout picks the rounds, then every row trains the model that is kept.
    pub fn refit_on(
        mut self,
        params: &GbdtParams,
        all: &Dataset<'_>,
        rounds: usize,
        deadline: Option<Instant>,
    ) -> Result<Gbdt, TreeError> {
        // This model's trees are freed before the second fit grows its own.
        let valid_loss = std::mem::take(&mut self.valid_loss);
        drop(self);
        let p = GbdtParams {
            max_rounds: rounds.max(1),
            ..params.clone()
        };
        let mut m = Gbdt::fit(&p, all, None, deadline)?;
        m.valid_loss = valid_loss;
        Ok(m)
    }

    /// The objective.
    pub fn objective(&self) -> Objective {
        self.objective
    }
    /// Number of boosting rounds kept (the best round with early stopping; after
    /// [`Gbdt::refit_on`], the rounds refitted).
    pub fn n_rounds(&self) -> usize {
        self.trees.len() / self.objective.n_outputs()
    }
    /// Validation loss after each round that was run (empty without validation).
    pub fn valid_loss(&self) -> &[f64] {
        &self.valid_loss
    }
    /// The trees, round-major.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
    /// The initial raw score per output (before the first tree).
    pub fn base(&self) -> &[f64] {
        &self.base
    }
    /// Number of features expected by predict.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Feature importance: total split gain or split count per feature.
    pub fn feature_importance(&self, kind: Importance) -> Vec<f64> {
        match kind {
            Importance::Gain => self.gain.clone(),
            Importance::Split => self.split_count.iter().map(|&c| c as f64).collect(),
        }
    }

    /// Raw scores (margins), rows x n_outputs, on raw rows (NaN = missing).
    pub fn predict_raw(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, TreeError> {
        crate::check_cols(x.ncols(), self.n_features)?;
        let k = self.objective.n_outputs();
        let mut out = Array2::zeros((x.nrows(), k));
        let mut buf = Vec::new();
        let mut acc = Vec::new();
        // trees outer, a block of rows inner: each tree stays in cache for the whole block
        crate::for_row_blocks(x, &mut buf, |start, nb, block, nf| {
            acc.clear();
            for _ in 0..nb {
                acc.extend_from_slice(&self.base);
            }
            for round in self.trees.chunks_exact(k) {
                for (c, t) in round.iter().enumerate() {
                    for i in 0..nb {
                        let row = &block[i * nf..(i + 1) * nf];
                        acc[i * k + c] += t.values[t.leaf_raw(row)] as f64;
                    }
                }
            }
            for i in 0..nb {
                for c in 0..k {
                    out[[start + i, c]] = acc[i * k + c];
                }
            }
        });
        Ok(out)
    }

    /// Predictions on raw rows: class probabilities (rows sum to 1) or regression values.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, TreeError> {
        let raw = self.predict_raw(x)?;
        Ok(match self.objective {
            Objective::Binary => {
                let mut p = Array2::zeros((raw.nrows(), 2));
                for i in 0..raw.nrows() {
                    let q = sigmoid(raw[[i, 0]]);
                    p[[i, 0]] = 1.0 - q;
                    p[[i, 1]] = q;
                }
                Predictions::from_proba(p)
            }
            Objective::Multiclass { .. } => {
                let mut p = raw;
                for mut row in p.rows_mut() {
                    softmax(row.as_slice_mut().expect("standard layout"));
                }
                Predictions::from_proba(p)
            }
            Objective::Tweedie { .. } => {
                Predictions::regression(raw.column(0).iter().map(|s| s.exp()).collect())
            }
            _ => Predictions::regression(raw.column(0).to_vec()),
        })
    }
}

fn classes_of(o: Objective) -> usize {
    match o {
        Objective::Binary => 2,
        Objective::Multiclass { n_classes } => n_classes,
        _ => 0,
    }
}

#[inline]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softmax(s: &mut [f64]) {
    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut z = 0.0;
    for v in s.iter_mut() {
        *v = (*v - m).exp();
        z += *v;
    }
    for v in s.iter_mut() {
        *v /= z;
    }
}

fn weighted_median(mut v: Vec<(f64, f64)>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|p| p.1).sum();
    let mut acc = 0.0;
    for &(x, wt) in &v {
        acc += wt;
        if acc >= total / 2.0 {
            return x;
        }
    }
    v[v.len() - 1].0
}

/// The smallest mean a tweedie model starts from (an all-zero target would start at ln 0).
const TWEEDIE_MIN_MEAN: f64 = 1e-12;

/// Multiclass base scores are this fraction of the centred log prior (0 = LightGBM's zero start).
const PRIOR_SHRINK: f64 = 0.5;

fn base_score(o: Objective, y: &[f64], rows: &[u32], w: Option<&[f64]>) -> Vec<f64> {
    let wt = |r: usize| w.map_or(1.0, |w| w[r]);
    let total: f64 = rows
        .iter()
        .map(|&r| wt(r as usize))
        .sum::<f64>()
        .max(1e-300);
    match o {
        Objective::Binary => {
            let pos: f64 = rows.iter().map(|&r| wt(r as usize) * y[r as usize]).sum();
            let p = (pos / total).clamp(1e-6, 1.0 - 1e-6);
            vec![(p / (1.0 - p)).ln()]
        }
        Objective::Multiclass { n_classes } => {
            let mut c = vec![0.0; n_classes];
            for &r in rows {
                c[y[r as usize] as usize] += wt(r as usize);
            }
            // centred log prior, shrunk toward 0 so rare classes keep a usable hessian
            let logp: Vec<f64> = c
                .iter()
                .map(|&v| (v / total).clamp(1e-6, 1.0).ln())
                .collect();
            let mean = logp.iter().sum::<f64>() / n_classes as f64;
            logp.iter().map(|&v| PRIOR_SHRINK * (v - mean)).collect()
        }
        Objective::L2 => {
            vec![
                rows.iter()
                    .map(|&r| wt(r as usize) * y[r as usize])
                    .sum::<f64>()
                    / total,
            ]
        }
        Objective::Tweedie { .. } => {
            let mean = rows
                .iter()
                .map(|&r| wt(r as usize) * y[r as usize])
                .sum::<f64>()
                / total;
            vec![mean.max(TWEEDIE_MIN_MEAN).ln()]
        }
        Objective::Huber { .. } | Objective::L1 => {
            vec![weighted_median(
                rows.iter()
                    .map(|&r| (y[r as usize], wt(r as usize)))
                    .collect(),
            )]
        }
    }
}

fn gradients(
    o: Objective,
    y: &[f64],
    w: &dyn Fn(usize) -> f64,
    rows: &[u32],
    scores: &[f64],
    n: usize,
    gh: &mut [[f64; 2]],
) {
    match o {
        Objective::Binary => {
            for &r in rows {
                let r = r as usize;
                let p = sigmoid(scores[r]);
                let wt = w(r);
                gh[r] = [(p - y[r]) * wt, (p * (1.0 - p)).max(1e-16) * wt];
            }
        }
        Objective::Multiclass { n_classes: k } => {
            let factor = k as f64 / (k as f64 - 1.0);
            let mut p = vec![0.0; k];
            for &r in rows {
                let r = r as usize;
                for c in 0..k {
                    p[c] = scores[c * n + r];
                }
                softmax(&mut p);
                let wt = w(r);
                let yc = y[r] as usize;
                for c in 0..k {
                    let t = if c == yc { 1.0 } else { 0.0 };
                    gh[c * n + r] = [
                        (p[c] - t) * wt,
                        (factor * p[c] * (1.0 - p[c])).max(1e-16) * wt,
                    ];
                }
            }
        }
        Objective::L2 => {
            for &r in rows {
                let r = r as usize;
                let wt = w(r);
                gh[r] = [(scores[r] - y[r]) * wt, wt];
            }
        }
        Objective::Huber { delta } => {
            for &r in rows {
                let r = r as usize;
                let wt = w(r);
                gh[r] = [(scores[r] - y[r]).clamp(-delta, delta) * wt, wt];
            }
        }
        Objective::Tweedie { power } => {
            // d/df of the deviance -y e^{(1-p) f} / (1-p) + e^{(2-p) f} / (2-p), f the log of
            // the prediction; both hessian terms are >= 0 for p in (1, 2) and y >= 0.
            for &r in rows {
                let r = r as usize;
                let wt = w(r);
                let e1 = ((1.0 - power) * scores[r]).exp();
                let e2 = ((2.0 - power) * scores[r]).exp();
                gh[r] = [
                    (e2 - y[r] * e1) * wt,
                    ((2.0 - power) * e2 - y[r] * (1.0 - power) * e1).max(1e-16) * wt,
                ];
            }
        }
        Objective::L1 => {
            for &r in rows {
                let r = r as usize;
                let wt = w(r);
                let d = scores[r] - y[r];
                let s = if d > 0.0 {
                    1.0
                } else if d < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                gh[r] = [s * wt, wt];
            }
        }
    }
}

/// Weighted mean loss of scores on `rows`.
pub(crate) fn mean_loss(
    o: Objective,
    y: &[f64],
    w: Option<&[f64]>,
    rows: &[u32],
    scores: &[f64],
    n: usize,
) -> f64 {
    let mut tot = 0.0;
    let mut tw = 0.0;
    let k = o.n_outputs();
    let mut p = vec![0.0; k];
    for &r in rows {
        let r = r as usize;
        let wt = w.map_or(1.0, |w| w[r]);
        let l = match o {
            Objective::Binary => {
                let q = sigmoid(scores[r]).clamp(1e-15, 1.0 - 1e-15);
                if y[r] > 0.5 { -q.ln() } else { -(1.0 - q).ln() }
            }
            Objective::Multiclass { .. } => {
                for c in 0..k {
                    p[c] = scores[c * n + r];
                }
                softmax(&mut p);
                -p[y[r] as usize].max(1e-15).ln()
            }
            Objective::L2 => (scores[r] - y[r]).powi(2),
            Objective::Huber { delta } => {
                let d = (scores[r] - y[r]).abs();
                if d <= delta {
                    0.5 * d * d
                } else {
                    delta * (d - 0.5 * delta)
                }
            }
            Objective::L1 => (scores[r] - y[r]).abs(),
            Objective::Tweedie { power } => {
                ((2.0 - power) * scores[r]).exp() / (2.0 - power)
                    - y[r] * ((1.0 - power) * scores[r]).exp() / (1.0 - power)
            }
        };
        tot += wt * l;
        tw += wt;
    }
    tot / tw.max(1e-300)
}

/// Training loss of a model on its own binned rows (used by tests).
#[cfg(test)]
pub(crate) fn train_loss_curve(params: &GbdtParams, train: &Dataset<'_>) -> Vec<f64> {
    let model = Gbdt::fit(params, train, None, None).unwrap();
    let n = train.data.n_rows();
    let k = params.objective.n_outputs();
    let rows = rows_of(train);
    let mut scores = vec![0.0; k * n];
    for c in 0..k {
        for &r in &rows {
            scores[c * n + r as usize] = model.base[c];
        }
    }
    let mut curve = vec![mean_loss(
        params.objective,
        train.y,
        train.weights,
        &rows,
        &scores,
        n,
    )];
    for round in model.trees.chunks_exact(k) {
        for (c, t) in round.iter().enumerate() {
            for &r in &rows {
                scores[c * n + r as usize] +=
                    t.values[t.leaf_binned(train.data, r as usize)] as f64;
            }
        }
        curve.push(mean_loss(
            params.objective,
            train.y,
            train.weights,
            &rows,
            &scores,
            n,
        ));
    }
    curve
}
