//! Random forest and extra trees on binned data: bootstrap rows, `max_features` random features
//! per split, exhaustive bin thresholds (random forest) or one random bin threshold per feature
//! (extra trees), gini / entropy / squared-error criteria, learned missing direction.
//!
//! Categorical features are split as ordinal codes (bins in code order), like scikit-learn on
//! ordinal-encoded columns; native category-set splits are used by boosting only.

use crate::binning::BinnedData;
use crate::error::TreeError;
use crate::tree::{Rule, Tree};
use crate::{Dataset, Importance, check_deadline};
use automl_core::{Predictions, Rng};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Random forest (best threshold) or extra trees (random threshold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForestKind {
    /// Best bin threshold per candidate feature.
    RandomForest,
    /// One uniformly random bin threshold per candidate feature.
    ExtraTrees,
}

/// Split criterion for classification (regression always uses squared error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Criterion {
    /// Gini impurity.
    Gini,
    /// Shannon entropy.
    Entropy,
}

/// Hyperparameters of a forest.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    /// Random forest or extra trees.
    pub kind: ForestKind,
    /// Number of classes (0 = regression).
    pub n_classes: usize,
    /// Number of trees.
    pub n_trees: usize,
    /// Fraction of features drawn per split, in (0, 1]; at least one feature. As in
    /// scikit-learn, features that turn out constant in the node count toward the draw, which
    /// goes on past it only until one non-constant feature is found.
    pub max_features: f64,
    /// Minimum rows (distinct bootstrap rows) per leaf.
    pub min_samples_leaf: usize,
    /// Optional maximum depth.
    pub max_depth: Option<usize>,
    /// Classification criterion.
    pub criterion: Criterion,
    /// Draw a bootstrap sample per tree (default: true for random forest, false for extra trees).
    pub bootstrap: bool,
    /// Seed.
    pub seed: u64,
    /// Threads inside this fit (1 = none; > 1 grows trees in a local rayon pool).
    pub n_threads: usize,
}

impl ForestParams {
    /// Defaults for a kind and task (`n_classes = 0` for regression).
    pub fn new(kind: ForestKind, n_classes: usize) -> ForestParams {
        ForestParams {
            kind,
            n_classes,
            n_trees: 100,
            max_features: if n_classes == 0 { 1.0 } else { 0.3 },
            min_samples_leaf: 1,
            max_depth: None,
            criterion: Criterion::Gini,
            bootstrap: kind == ForestKind::RandomForest,
            seed: 0,
            n_threads: 1,
        }
    }
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    n_classes: usize,
    n_features: usize,
    trees: Vec<Tree>,
    gain: Vec<f64>,
    split_count: Vec<u32>,
}

struct Built {
    tree: Tree,
    /// Per feature: the summed gain of this tree's splits on it, and how many there are. Not
    /// one entry per split: a forest with one row per leaf has as many splits as rows per tree,
    /// and a list of them per tree, kept until the forest was grown, was 44 MB of a diamonds
    /// search's heap peak.
    gain: Vec<f64>,
    split_count: Vec<u32>,
}

impl Forest {
    /// Fit a forest. Deadline: checked before every tree; when passed the fit returns
    /// [`TreeError::Deadline`] (no partial model).
    pub fn fit(
        params: &ForestParams,
        train: &Dataset<'_>,
        deadline: Option<Instant>,
    ) -> Result<Forest, TreeError> {
        let rows = check_fit(params, train)?;
        let grow = grower(params, train, &rows, deadline);
        let built: Vec<Built> = if params.n_threads > 1 {
            thread_pool(params.n_threads)?.install(|| {
                (0..params.n_trees)
                    .into_par_iter()
                    .map(grow)
                    .collect::<Result<_, _>>()
            })?
        } else {
            (0..params.n_trees).map(grow).collect::<Result<_, _>>()?
        };
        let nf = train.data.n_features();
        let mut gain = vec![0.0; nf];
        let mut split_count = vec![0u32; nf];
        let mut trees = Vec::with_capacity(built.len());
        for b in built {
            b.add_importance(&mut gain, &mut split_count);
            trees.push(b.tree);
        }
        Ok(Forest {
            n_classes: params.n_classes,
            n_features: nf,
            trees,
            gain,
            split_count,
        })
    }

    /// Fit a forest as [`Forest::fit`] does, without ever holding it: each tree, once grown,
    /// predicts the rows of `valid` (raw rows, NaN = missing) and is written to `sink` as its
    /// part of [`Forest::encode_into`]'s bytes, then freed. A forest of deep trees is several
    /// times its lz4-compressed encoding; a cross-validation fold that keeps that encoding
    /// holds one live tree instead of all of them.
    ///
    /// The bytes handed to `sink` are those of `encode_into` of the forest `fit` grows, and
    /// the predictions those of its [`Forest::predict`] on `valid`, bit for bit. On an error
    /// (the deadline, as in `fit`) what `sink` received is not a forest. Without a sink the
    /// trees are not encoded: the predictions are all that is kept.
    pub fn fit_streamed(
        params: &ForestParams,
        train: &Dataset<'_>,
        deadline: Option<Instant>,
        valid: ArrayView2<'_, f64>,
        mut sink: Option<Sink<'_>>,
    ) -> Result<StreamedFit, TreeError> {
        let rows = check_fit(params, train)?;
        let nf = train.data.n_features();
        crate::check_cols(valid.ncols(), nf)?;
        let encode_error =
            |e: postcard::Error| TreeError::Data(format!("cannot encode a tree: {e}"));
        let valid = valid.as_standard_layout();
        let xs = valid.as_slice().expect("standard layout");
        let k = params.n_classes.max(1);
        let mut acc = Array2::<f64>::zeros((valid.nrows(), k));
        // `encode_into`'s layout: the fields in order, the trees as their count then each tree.
        if let Some(sink) = sink.as_mut() {
            sink(
                &postcard::to_stdvec(&(params.n_classes, nf, params.n_trees as u64))
                    .map_err(encode_error)?,
            );
        }
        let mut gain = vec![0.0; nf];
        let mut split_count = vec![0u32; nf];
        let mut n_leaves = 0usize;
        let mut predict_s = 0.0;
        let mut buf = Vec::new();
        let mut take = |b: Built| -> Result<(), TreeError> {
            b.add_importance(&mut gain, &mut split_count);
            n_leaves += b.tree.n_leaves();
            let t0 = Instant::now();
            if nf > 0 {
                for (row, out) in xs.chunks_exact(nf).zip(acc.rows_mut()) {
                    let v = b.tree.leaf_values(b.tree.leaf_raw(row));
                    for (a, &p) in out.into_iter().zip(v) {
                        *a += p as f64;
                    }
                }
            }
            predict_s += t0.elapsed().as_secs_f64();
            if let Some(sink) = sink.as_mut() {
                buf.clear();
                buf =
                    postcard::to_extend(&b.tree, std::mem::take(&mut buf)).map_err(encode_error)?;
                drop(b);
                sink(&buf);
            }
            Ok(())
        };
        let grow = grower(params, train, &rows, deadline);
        if params.n_threads > 1 {
            // A few trees per thread at a time: all threads busy, few trees live.
            let pool = thread_pool(params.n_threads)?;
            let step = 2 * params.n_threads;
            for start in (0..params.n_trees).step_by(step) {
                let end = (start + step).min(params.n_trees);
                let built: Vec<Built> = pool.install(|| {
                    (start..end)
                        .into_par_iter()
                        .map(&grow)
                        .collect::<Result<_, _>>()
                })?;
                for b in built {
                    take(b)?;
                }
            }
        } else {
            for t in 0..params.n_trees {
                take(grow(t)?)?;
            }
        }
        if let Some(sink) = sink.as_mut() {
            sink(&postcard::to_stdvec(&(&gain, &split_count)).map_err(encode_error)?);
        }
        let t0 = Instant::now();
        let inv = 1.0 / params.n_trees as f64;
        acc.mapv_inplace(|v| v * inv);
        let predictions = finish_predictions(acc, params.n_classes);
        predict_s += t0.elapsed().as_secs_f64();
        Ok(StreamedFit {
            predictions,
            n_trees: params.n_trees,
            n_leaves,
            split_count,
            predict_s,
        })
    }

    /// The forest's postcard encoding (the bytes of `postcard::to_stdvec(&forest)`), handed to
    /// `sink` in pieces, tree by tree, each tree freed once it is written: a forest of deep
    /// trees is about twice its encoding, and is never held beside the whole of it.
    pub fn encode_into(self, sink: &mut dyn FnMut(&[u8])) -> Result<(), postcard::Error> {
        let Forest {
            n_classes,
            n_features,
            trees,
            gain,
            split_count,
        } = self;
        // postcard writes a struct as its fields in order and a Vec as its length (the same
        // varint as a u64's) then its elements.
        sink(&postcard::to_stdvec(&(
            n_classes,
            n_features,
            trees.len() as u64,
        ))?);
        let mut buf = Vec::new();
        for tree in trees {
            buf.clear();
            buf = postcard::to_extend(&tree, buf)?;
            drop(tree);
            sink(&buf);
        }
        sink(&postcard::to_stdvec(&(gain, split_count))?);
        Ok(())
    }

    /// Number of features expected by predict.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
    /// Number of classes (0 = regression).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Feature importance: total weighted impurity decrease or split count per feature.
    pub fn feature_importance(&self, kind: Importance) -> Vec<f64> {
        match kind {
            Importance::Gain => self.gain.clone(),
            Importance::Split => self.split_count.iter().map(|&c| c as f64).collect(),
        }
    }

    /// Predict raw rows (NaN = missing): mean of leaf class frequencies, or mean of leaf means.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Predictions, TreeError> {
        crate::check_cols(x.ncols(), self.n_features)?;
        let k = self.n_classes.max(1);
        let mut out = Array2::<f64>::zeros((x.nrows(), k));
        let mut buf = Vec::new();
        let mut acc = Vec::new();
        let inv = 1.0 / self.trees.len() as f64;
        crate::for_row_blocks(x, &mut buf, |start, nb, block, nf| {
            acc.clear();
            acc.resize(nb * k, 0.0f64);
            for t in &self.trees {
                for i in 0..nb {
                    let v = t.leaf_values(t.leaf_raw(&block[i * nf..(i + 1) * nf]));
                    for (a, &p) in acc[i * k..(i + 1) * k].iter_mut().zip(v) {
                        *a += p as f64;
                    }
                }
            }
            for i in 0..nb {
                for c in 0..k {
                    out[[start + i, c]] = acc[i * k + c] * inv;
                }
            }
        });
        Ok(finish_predictions(out, self.n_classes))
    }
}

/// The mean over the trees of their leaves' values, per row, as predictions: regression the
/// first column, classification each row's class frequencies scaled to sum to 1.
fn finish_predictions(mut out: Array2<f64>, n_classes: usize) -> Predictions {
    if n_classes == 0 {
        return Predictions::regression(out.column(0).to_vec());
    }
    for mut r in out.rows_mut() {
        let s: f64 = r.sum();
        if s > 0.0 {
            r.mapv_inplace(|v| v / s);
        }
    }
    Predictions::from_proba(out)
}

/// Where an encoding is written, piece by piece.
pub type Sink<'a> = &'a mut dyn FnMut(&[u8]);

/// What [`Forest::fit_streamed`] hands back besides the forest's bytes.
#[derive(Debug, Clone)]
pub struct StreamedFit {
    /// The forest's predictions on the validation rows.
    pub predictions: Predictions,
    /// Trees grown.
    pub n_trees: usize,
    /// Leaves over all trees.
    pub n_leaves: usize,
    /// Per feature, how many splits use it ([`Importance::Split`]).
    pub split_count: Vec<u32>,
    /// Seconds spent predicting the validation rows.
    pub predict_s: f64,
}

/// Tree `t` of a forest, grown from its own seed, once the deadline is checked.
fn grower<'a>(
    params: &'a ForestParams,
    train: &'a Dataset<'a>,
    rows: &'a [u32],
    deadline: Option<Instant>,
) -> impl Fn(usize) -> Result<Built, TreeError> + Sync + 'a {
    move |t| {
        check_deadline(deadline, t)?;
        Ok(grow_tree(
            params,
            train,
            rows,
            Rng::derive(params.seed, t as u64),
        ))
    }
}

/// The checks of a fit; the training rows.
fn check_fit(params: &ForestParams, train: &Dataset<'_>) -> Result<Vec<u32>, TreeError> {
    if params.n_trees == 0 {
        return Err(TreeError::InvalidParam {
            param: "n_trees",
            value: "0".into(),
            reason: "must be >= 1".into(),
        });
    }
    if !(params.max_features > 0.0 && params.max_features <= 1.0) {
        return Err(TreeError::InvalidParam {
            param: "max_features",
            value: params.max_features.to_string(),
            reason: "must be a fraction in (0, 1]".into(),
        });
    }
    if params.n_classes == 1 {
        return Err(TreeError::InvalidParam {
            param: "n_classes",
            value: "1".into(),
            reason: "use 0 for regression or >= 2 classes".into(),
        });
    }
    train.check(params.n_classes > 0, params.n_classes)?;
    Ok(match train.rows {
        Some(r) => r.to_vec(),
        None => (0..train.data.n_rows() as u32).collect(),
    })
}

fn thread_pool(n: usize) -> Result<rayon::ThreadPool, TreeError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| TreeError::Data(format!("cannot start {n} threads: {e}")))
}

impl Built {
    /// Add this tree's gains and split counts to the forest's.
    fn add_importance(&self, gain: &mut [f64], split_count: &mut [u32]) {
        for (f, (g, c)) in self.gain.iter().zip(&self.split_count).enumerate() {
            gain[f] += g;
            split_count[f] += c;
        }
    }
}

/// Per-tree scratch.
struct Ctx<'a> {
    p: &'a ForestParams,
    data: &'a BinnedData,
    /// Class index (classification) per row id.
    cls: Vec<u16>,
    y: &'a [f64],
    /// Weight per row id (bootstrap multiplicity x sample weight).
    w: Vec<f64>,
    /// Stats per node: classification K class weights; regression [w, w*y].
    s: usize,
    hist: Vec<f64>,
    cnt: Vec<u32>,
    left: Vec<f64>,
    right: Vec<f64>,
    mstat: Vec<f64>,
    lm: Vec<f64>,
    scratch: Vec<u32>,
}

impl Ctx<'_> {
    #[inline]
    fn add(&self, stats: &mut [f64], r: usize) {
        let w = self.w[r];
        if self.p.n_classes > 0 {
            stats[self.cls[r] as usize] += w;
        } else {
            stats[0] += w;
            stats[1] += w * self.y[r];
        }
    }

    /// Score of a partition (higher is better); `None` if a side has no weight.
    #[inline]
    fn score(&self, st: &[f64]) -> Option<f64> {
        if self.p.n_classes == 0 {
            if st[0] <= 0.0 {
                return None;
            }
            return Some(st[1] * st[1] / st[0]);
        }
        let w: f64 = st.iter().sum();
        if w <= 0.0 {
            return None;
        }
        Some(match self.p.criterion {
            Criterion::Gini => st.iter().map(|c| c * c).sum::<f64>() / w,
            Criterion::Entropy => st
                .iter()
                .filter(|&&c| c > 0.0)
                .map(|&c| c * (c / w).ln())
                .sum::<f64>(),
        })
    }
}

fn grow_tree(p: &ForestParams, train: &Dataset<'_>, rows_all: &[u32], mut rng: Rng) -> Built {
    let data = train.data;
    let n_all = data.n_rows();
    let nf = data.n_features();
    let s = if p.n_classes > 0 { p.n_classes } else { 2 };
    let mut w = vec![0.0f64; n_all];
    let base_w = |r: usize| train.weights.map_or(1.0, |w| w[r]);
    let mut rows: Vec<u32> = if p.bootstrap {
        let n = rows_all.len();
        for _ in 0..n {
            let r = rows_all[rng.below(n)] as usize;
            w[r] += 1.0;
        }
        let mut v: Vec<u32> = rows_all
            .iter()
            .copied()
            .filter(|&r| w[r as usize] > 0.0)
            .collect();
        v.sort_unstable();
        v.dedup();
        for &r in &v {
            w[r as usize] *= base_w(r as usize);
        }
        v
    } else {
        for &r in rows_all {
            w[r as usize] = base_w(r as usize);
        }
        rows_all.to_vec()
    };
    let cls: Vec<u16> = if p.n_classes > 0 {
        train.y.iter().map(|&v| v as u16).collect()
    } else {
        Vec::new()
    };
    let mut ctx = Ctx {
        p,
        data,
        cls,
        y: train.y,
        w,
        s,
        hist: vec![0.0; 257 * s],
        cnt: vec![0; 257],
        left: vec![0.0; s],
        right: vec![0.0; s],
        mstat: vec![0.0; s],
        lm: vec![0.0; s],
        scratch: Vec::new(),
    };
    let max_feat = ((p.max_features * nf as f64).floor() as usize).clamp(1, nf);
    let mut tree = Tree::new(if p.n_classes > 0 { p.n_classes } else { 1 });
    let stride = tree.stride as usize;
    let mut values: Vec<f32> = Vec::new();
    let mut gain_of = vec![0.0f64; nf];
    let mut split_count = vec![0u32; nf];
    let mut feats: Vec<usize> = (0..nf).collect();
    // (leaf id, start, end, depth)
    let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
    let mut node = vec![0.0f64; s];
    while let Some((leaf, start, end, depth)) = stack.pop() {
        node.iter_mut().for_each(|v| *v = 0.0);
        let mut ymin = f64::INFINITY;
        let mut ymax = f64::NEG_INFINITY;
        for &r in &rows[start..end] {
            ctx.add(&mut node, r as usize);
            if p.n_classes == 0 {
                ymin = ymin.min(train.y[r as usize]);
                ymax = ymax.max(train.y[r as usize]);
            }
        }
        let n = end - start;
        let pure = if p.n_classes > 0 {
            node.iter().filter(|&&c| c > 0.0).count() <= 1
        } else {
            ymin == ymax
        };
        let mut split = None;
        if !pure && n >= 2 * p.min_samples_leaf.max(1) && p.max_depth.is_none_or(|d| depth < d) {
            split = find_split(
                &mut ctx,
                &rows[start..end],
                &node,
                &mut feats,
                max_feat,
                &mut rng,
            );
        }
        match split {
            Some((gain, f, rule)) => {
                let table = rule.table();
                let mid = start
                    + crate::grow::partition(
                        &mut rows[start..end],
                        &mut ctx.scratch,
                        data.column(f),
                        &table,
                    );
                let right = tree.split(leaf, f, &rule, &data.mappers()[f]);
                gain_of[f] += gain;
                split_count[f] += 1;
                stack.push((right, mid, end, depth + 1));
                stack.push((leaf, start, mid, depth + 1));
            }
            None => {
                let need = (leaf + 1) * stride;
                if values.len() < need {
                    values.resize(need, 0.0);
                }
                let out = &mut values[leaf * stride..need];
                if p.n_classes > 0 {
                    let tot: f64 = node.iter().sum();
                    for (o, c) in out.iter_mut().zip(&node) {
                        *o = (c / tot) as f32;
                    }
                } else {
                    out[0] = (node[1] / node[0]) as f32;
                }
            }
        }
    }
    values.resize(tree.n_leaves() * stride, 0.0);
    tree.values = values;
    tree.finish();
    Built {
        tree,
        gain: gain_of,
        split_count,
    }
}

/// Best split of a node among `max_feat` non-constant random features.
fn find_split(
    ctx: &mut Ctx<'_>,
    rows: &[u32],
    node: &[f64],
    feats: &mut [usize],
    max_feat: usize,
    rng: &mut Rng,
) -> Option<(f64, usize, Rule)> {
    let parent = ctx.score(node)?;
    let nf = feats.len();
    let s = ctx.s;
    let msl = ctx.p.min_samples_leaf.max(1) as u32;
    let n = rows.len() as u32;
    // (gain, feature, threshold bin, default left, first non-empty bin right of the threshold)
    let mut best: Option<(f64, usize, u8, bool, u8)> = None;
    // As scikit-learn: `max_feat` drawn features count constant ones too, but the draw goes on
    // until at least one non-constant feature was found.
    let mut found = false;
    for i in 0..nf {
        // `i` features drawn so far
        if i >= max_feat && found {
            break;
        }
        let j = i + rng.below(nf - i);
        feats.swap(i, j);
        let f = feats[i];
        let col = ctx.data.column(f);
        let mut lo = 255u8;
        let mut hi = 0u8;
        let mut has_miss = false;
        for &r in rows {
            let b = col[r as usize];
            if b == 0 {
                has_miss = true;
            } else {
                lo = lo.min(b);
                hi = hi.max(b);
            }
        }
        let has_val = hi > 0;
        let constant = !has_val || (lo == hi && !has_miss);
        if constant {
            continue;
        }
        found = true;
        // candidate thresholds t (bins lo..=t go left); t == hi means "values vs missing"
        let (t_lo, t_hi) = match ctx.p.kind {
            ForestKind::RandomForest => (lo, if has_miss { hi } else { hi - 1 }),
            ForestKind::ExtraTrees => {
                let t = if lo == hi {
                    hi
                } else {
                    random_threshold(&ctx.data.mappers()[f], lo, hi, rng)
                };
                (t, t)
            }
        };
        // histogram over slots: 0 = missing, 1 + (b - lo)
        let width = (t_hi - lo) as usize + 2;
        ctx.hist[..width * s].iter_mut().for_each(|v| *v = 0.0);
        ctx.cnt[..width].iter_mut().for_each(|v| *v = 0);
        let ext = matches!(ctx.p.kind, ForestKind::ExtraTrees);
        {
            let hist = &mut ctx.hist;
            let cnt = &mut ctx.cnt;
            for &r in rows {
                let b = col[r as usize];
                let slot = if b == 0 {
                    0
                } else if b > t_hi {
                    continue;
                } else if ext {
                    1
                } else {
                    (b - lo) as usize + 1
                };
                let r = r as usize;
                cnt[slot] += 1;
                let wt = ctx.w[r];
                if ctx.p.n_classes > 0 {
                    hist[slot * s + ctx.cls[r] as usize] += wt;
                } else {
                    hist[slot * s] += wt;
                    hist[slot * s + 1] += wt * ctx.y[r];
                }
            }
        }
        let mut acc_cnt = 0u32;
        let mut left = std::mem::take(&mut ctx.left);
        let mut right = std::mem::take(&mut ctx.right);
        let mut mstat = std::mem::take(&mut ctx.mstat);
        let mut lm = std::mem::take(&mut ctx.lm);
        left.iter_mut().for_each(|v| *v = 0.0);
        mstat.copy_from_slice(&ctx.hist[..s]);
        let miss_cnt = ctx.cnt[0];
        let n_slots = if ext { 1 } else { (t_hi - lo) as usize + 1 };
        for k in 0..n_slots {
            let slot = k + 1;
            if k > 0 && ctx.cnt[slot] == 0 {
                // an empty slot leaves the left side as it was: its candidates are the slot
                // before's, already scored, and a tie never wins (strict `>`)
                continue;
            }
            acc_cnt += ctx.cnt[slot];
            for (l, h) in left.iter_mut().zip(&ctx.hist[slot * s..slot * s + s]) {
                *l += h;
            }
            let t = if ext { t_lo } else { lo + k as u8 };
            for miss_left in [false, true] {
                if miss_left && !has_miss {
                    continue;
                }
                // "values vs missing" only with missing on the right
                if t == hi && miss_left {
                    continue;
                }
                let lc = acc_cnt + if miss_left { miss_cnt } else { 0 };
                if lc < msl || n - lc < msl {
                    continue;
                }
                let lref: &[f64] = if miss_left {
                    for ((o, a), b) in lm.iter_mut().zip(&left).zip(&mstat) {
                        *o = a + b;
                    }
                    &lm
                } else {
                    &left
                };
                for ((r, p), l) in right.iter_mut().zip(node).zip(lref) {
                    *r = p - l;
                }
                let (Some(a), Some(b)) = (ctx.score(lref), ctx.score(&right)) else {
                    continue;
                };
                let gain = a + b - parent;
                if best.is_none_or(|bb| gain > bb.0) {
                    // empty slots give the same split as the last non-empty one and never win
                    // (strict `>`), so `t` is the highest bin with rows on the left
                    let next = if ext || t == hi {
                        t
                    } else {
                        (slot + 1..n_slots + 1)
                            .find(|&q| ctx.cnt[q] > 0)
                            .map_or(hi, |q| lo + (q - 1) as u8)
                    };
                    best = Some((gain, f, t, miss_left || (!has_miss && lc >= n - lc), next));
                }
            }
        }
        ctx.left = left;
        ctx.right = right;
        ctx.mstat = mstat;
        ctx.lm = lm;
    }
    let (gain, f, t, default_left, next) = best?;
    let fb = &ctx.data.mappers()[f];
    let t = if fb.categorical {
        t
    } else {
        mid_gap_cut(fb, t, next)
    };
    let rule = if fb.categorical {
        let mut bits = [0u64; 4];
        for b in 1..=t {
            bits[(b >> 6) as usize] |= 1 << (b & 63);
        }
        if default_left {
            bits[0] |= 1;
        }
        Rule::Cat { bits }
    } else {
        Rule::Numeric {
            bin: t,
            default_left,
        }
    };
    Some((gain.max(0.0), f, rule))
}

/// The cut of a best split, placed mid-gap as scikit-learn places it. The node's rows fill bins
/// up to `t` on the left and from `next` on the right; every bin bound between them splits the
/// node's rows alike. The lowest bound (bin `t`'s own) would send any unseen value in the gap
/// to the right. scikit-learn cuts half-way between the two nearest values instead. On integer
/// pixels (digits), cutting at the low end cost 2.7 % in log loss against it. So this takes
/// the bound nearest the middle of the gap, `(upper(t) + lower(next)) / 2`, and keeps raw and
/// binned prediction in agreement (the cut is still a bin bound).
fn mid_gap_cut(fb: &crate::binning::FeatureBins, t: u8, next: u8) -> u8 {
    // u16: bin 255 is a valid `t` (`t + 1` would overflow a u8).
    if u16::from(next) <= u16::from(t) + 1 {
        return t;
    }
    // threshold k cuts at upper[k - 1]; candidates k in t..next
    let cuts = &fb.upper[t as usize - 1..next as usize - 1];
    let target = cuts[0] + (cuts[cuts.len() - 1] - cuts[0]) / 2.0;
    if !target.is_finite() {
        return t;
    }
    let i = cuts.partition_point(|&c| c < target);
    let i = if i > 0 && (i == cuts.len() || target - cuts[i - 1] <= cuts[i] - target) {
        i - 1
    } else {
        i
    };
    t + i as u8
}

/// A random threshold bin in `lo..hi` (bins `lo..=t` go left). Numeric features: a cut value
/// drawn uniformly over the node's range (as scikit-learn draws between the node's min and max
/// value), rounded up to the next bin bound; categorical codes: uniform over bins.
///
/// The range runs from the lower bound of bin `lo` to the upper bound of bin `hi - 1`, so
/// threshold `t` is drawn with probability proportional to the width of bin `t`: a draw inside
/// bin `lo` gives `t = lo` (values of bin `lo` left), one inside bin `hi - 1` gives `t = hi - 1`.
/// (Drawing from the upper bound of bin `lo` instead, as an earlier version did, could never
/// choose `t = lo`: the lowest cut of every node was never tried.) The first value bin has no
/// stored lower bound; the width of its neighbour stands in for its own.
fn random_threshold(fb: &crate::binning::FeatureBins, lo: u8, hi: u8, rng: &mut Rng) -> u8 {
    if fb.categorical || hi - lo < 2 {
        return lo + rng.below((hi - lo) as usize) as u8;
    }
    // threshold t (lo <= t < hi) cuts at upper[t - 1]
    let cut_lo = fb.upper[lo as usize - 1];
    let a = if lo >= 2 {
        fb.upper[lo as usize - 2]
    } else {
        cut_lo - (fb.upper[lo as usize] - cut_lo)
    };
    let b = fb.upper[hi as usize - 2];
    if !(a.is_finite() && b.is_finite()) || b <= a {
        return lo + rng.below((hi - lo) as usize) as u8;
    }
    let u = rng.uniform(a, b);
    // first threshold whose cut point is >= u
    let k = fb.upper[lo as usize - 1..hi as usize - 1].partition_point(|&c| c < u);
    lo + k.min((hi - lo - 1) as usize) as u8
}

#[cfg(test)]
mod threshold_tests {
    use super::{mid_gap_cut, random_threshold};
    use crate::binning::FeatureBins;
    use automl_core::Rng;

    /// Bins 1..=5 with bounds 1, 2, 4, 8, +inf (widths 1, 2, 4 between the inner cuts).
    fn bins() -> FeatureBins {
        FeatureBins {
            categorical: false,
            n_bins: 6,
            upper: vec![1.0, 2.0, 4.0, 8.0, f64::INFINITY],
            cat_cap: 0,
        }
    }

    #[test]
    fn every_threshold_of_a_node_can_be_drawn_in_proportion_to_its_bin_width() {
        let fb = bins();
        let mut rng = Rng::new(7);
        // node values span bins 2..=5: thresholds 2, 3, 4 (bins 2, 3, 4 of widths 1, 2, 4)
        let mut counts = [0usize; 6];
        let n = 70_000;
        for _ in 0..n {
            let t = random_threshold(&fb, 2, 5, &mut rng);
            assert!((2..5).contains(&t), "threshold {t} outside 2..5");
            counts[t as usize] += 1;
        }
        let share = |t: usize| counts[t] as f64 / n as f64;
        assert!((share(2) - 1.0 / 7.0).abs() < 0.01, "{counts:?}");
        assert!((share(3) - 2.0 / 7.0).abs() < 0.01, "{counts:?}");
        assert!((share(4) - 4.0 / 7.0).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn the_first_value_bin_and_adjacent_bins_are_handled() {
        let fb = bins();
        let mut rng = Rng::new(1);
        let mut seen = [false; 6];
        for _ in 0..2000 {
            seen[random_threshold(&fb, 1, 3, &mut rng) as usize] = true;
            assert_eq!(random_threshold(&fb, 3, 4, &mut rng), 3);
        }
        assert!(seen[1] && seen[2], "{seen:?}");
    }

    #[test]
    fn the_mid_gap_cut_of_the_last_bin_does_not_overflow() {
        // 256 bins (missing + 255 value bins): a split after bin 255 is valid, and `t + 1`
        // overflowed a u8 (an extra_trees trial panicked on 150k rows in a debug build).
        let fb = FeatureBins {
            categorical: false,
            n_bins: 256,
            upper: (1..=255).map(f64::from).collect(),
            cat_cap: 0,
        };
        assert_eq!(mid_gap_cut(&fb, 255, 255), 255);
        assert_eq!(mid_gap_cut(&fb, 254, 255), 254);
        // A wide gap still cuts near its middle.
        let m = mid_gap_cut(&fb, 10, 20);
        assert!((14..=15).contains(&m), "{m}");
    }
}
