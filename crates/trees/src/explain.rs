//! Explanations of fitted tree ensembles: gain importance and per-prediction contributions.
//!
//! Contributions use the Saabas attribution (path walking), not TreeSHAP: every node gets the
//! expected value of its subtree (the mean of its leaves weighted by how many background rows
//! reach them), and a row's walk from the root to its leaf credits each split's feature with
//! the change in expected value from the node to the child taken. For every row
//! `base + sum(contributions) = raw score` exactly (the walk telescopes), where `base` is the
//! expected raw score over the background rows. Unlike TreeSHAP it is not consistent (a
//! feature used near the root tends to get more credit than its Shapley value), but it is
//! linear in the tree depth and needs nothing stored beyond the fitted trees.

use crate::error::TreeError;
use crate::forest::Forest;
use crate::gbdt::Gbdt;
use crate::tree::Tree;
use crate::{Importance, check_cols};
use ndarray::{Array2, ArrayView2};

/// A borrowed fitted tree ensemble of either kind.
#[derive(Debug, Clone, Copy)]
pub enum Ensemble<'a> {
    /// Gradient boosting (raw scores: margins for classification, values for regression, the
    /// log of the values under the tweedie objective).
    Gbdt(&'a Gbdt),
    /// Random forest or extra trees (raw scores: class frequencies or values).
    Forest(&'a Forest),
}

/// Per-prediction contributions for one output of an ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// The expected raw score over the background rows.
    pub base: f64,
    /// Rows x features: each feature's contribution to the row's raw score.
    pub values: Array2<f64>,
    /// The raw score of every row (`base + row sum of values`, up to rounding).
    pub raw: Vec<f64>,
}

impl<'a> Ensemble<'a> {
    /// Number of input features.
    pub fn n_features(&self) -> usize {
        match self {
            Ensemble::Gbdt(m) => m.n_features(),
            Ensemble::Forest(m) => m.n_features(),
        }
    }

    /// Raw-score outputs: 1 for regression and binary boosting, the number of classes for
    /// multiclass boosting and forest classification.
    pub fn n_outputs(&self) -> usize {
        match self {
            Ensemble::Gbdt(m) => m.objective().n_outputs(),
            Ensemble::Forest(m) => m.n_classes().max(1),
        }
    }

    /// Whether a regression's raw score is the log of the prediction (boosting with the
    /// tweedie objective) rather than the prediction itself.
    pub fn log_link(&self) -> bool {
        match self {
            Ensemble::Gbdt(m) => matches!(m.objective(), crate::gbdt::Objective::Tweedie { .. }),
            Ensemble::Forest(_) => false,
        }
    }

    /// Total split gain (boosting) or impurity decrease (forests) per feature.
    pub fn gain(&self) -> Vec<f64> {
        match self {
            Ensemble::Gbdt(m) => m.feature_importance(Importance::Gain),
            Ensemble::Forest(m) => m.feature_importance(Importance::Gain),
        }
    }

    /// Contributions of every feature to `output`'s raw score for the rows of `x`, with node
    /// expectations weighted by the rows of `background` (usually the training rows; empty =
    /// every leaf weighted equally). Both in the model's input encoding, NaN = missing.
    pub fn contributions(
        &self,
        background: ArrayView2<'_, f64>,
        x: ArrayView2<'_, f64>,
        output: usize,
    ) -> Result<Contributions, TreeError> {
        let nf = self.n_features();
        check_cols(x.ncols(), nf)?;
        if background.nrows() > 0 {
            check_cols(background.ncols(), nf)?;
        }
        if output >= self.n_outputs() {
            return Err(TreeError::Shape(format!(
                "output {output} out of range: the model has {} outputs",
                self.n_outputs()
            )));
        }
        // (tree, value index within a leaf, scale)
        let (parts, mut base): (Vec<(&Tree, usize, f64)>, f64) = match self {
            Ensemble::Gbdt(m) => {
                let k = m.objective().n_outputs();
                let trees = m
                    .trees()
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| j % k == output)
                    .map(|(_, t)| (t, 0, 1.0))
                    .collect();
                (trees, m.base()[output])
            }
            Ensemble::Forest(m) => {
                let s = 1.0 / m.n_trees().max(1) as f64;
                (m.trees().iter().map(|t| (t, output, s)).collect(), 0.0)
            }
        };
        let n = x.nrows();
        let mut values = Array2::<f64>::zeros((n, nf));
        let mut raw = vec![0.0; n];
        let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        let bg: Vec<Vec<f64>> = background.rows().into_iter().map(|r| r.to_vec()).collect();
        for (tree, vi, scale) in parts {
            let means = node_means(tree, vi, &leaf_cover(tree, &bg));
            let root = means
                .first()
                .copied()
                .unwrap_or(tree.leaf_values(0)[vi] as f64);
            base += scale * root;
            for (i, row) in rows.iter().enumerate() {
                let mut out = values.row_mut(i);
                let leaf = walk(tree, row, &means, vi, |f, d| out[f] += scale * d);
                raw[i] += scale * tree.leaf_values(leaf)[vi] as f64;
            }
        }
        let offset = match self {
            Ensemble::Gbdt(m) => m.base()[output],
            Ensemble::Forest(_) => 0.0,
        };
        raw.iter_mut().for_each(|r| *r += offset);
        if !base.is_finite() {
            base = 0.0;
        }
        Ok(Contributions { base, values, raw })
    }
}

/// Background rows reaching each leaf.
fn leaf_cover(tree: &Tree, rows: &[Vec<f64>]) -> Vec<f64> {
    let mut c = vec![0.0; tree.n_leaves()];
    for r in rows {
        c[tree.leaf_raw(r)] += 1.0;
    }
    c
}

/// Expected value of every internal node (cover-weighted mean of its leaves; the plain mean
/// of its children where no background row reaches it). Children always have higher node
/// indices than their parent, so one reverse pass suffices.
fn node_means(tree: &Tree, vi: usize, cover: &[f64]) -> Vec<f64> {
    let n = tree.nodes.len();
    let mut mean = vec![0.0; n];
    let mut cov = vec![0.0; n];
    for i in (0..n).rev() {
        let node = &tree.nodes[i];
        let side = |c: i32| -> (f64, f64) {
            if c < 0 {
                let l = !c as usize;
                (cover[l], tree.leaf_values(l)[vi] as f64)
            } else {
                (cov[c as usize], mean[c as usize])
            }
        };
        let (cl, ml) = side(node.left);
        let (cr, mr) = side(node.right);
        cov[i] = cl + cr;
        mean[i] = if cl + cr > 0.0 {
            (cl * ml + cr * mr) / (cl + cr)
        } else {
            (ml + mr) / 2.0
        };
    }
    mean
}

/// Walk `row` from the root, calling `credit(feature, change)` at every split; returns the leaf.
fn walk(
    tree: &Tree,
    row: &[f64],
    means: &[f64],
    vi: usize,
    mut credit: impl FnMut(usize, f64),
) -> usize {
    if tree.nodes.is_empty() {
        return 0;
    }
    let mut i = 0usize;
    loop {
        let n = &tree.nodes[i];
        let c = if tree.goes_left(n, row[n.feature() as usize]) {
            n.left
        } else {
            n.right
        };
        let child = if c < 0 {
            tree.leaf_values(!c as usize)[vi] as f64
        } else {
            means[c as usize]
        };
        credit(n.feature() as usize, child - means[i]);
        if c < 0 {
            return !c as usize;
        }
        i = c as usize;
    }
}
