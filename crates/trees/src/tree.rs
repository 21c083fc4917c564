//! One fitted decision tree: compact nodes, routing of raw rows (NaN allowed) and binned rows.

use crate::binning::{BinnedData, FeatureBins, cat_bin};
use automl_core::FxMap;
use serde::{Deserialize, Serialize};

/// Largest feature index a node can hold (the index shares a 32-bit word with the bin and the
/// missing-value direction). Fitting checks the data against it.
pub const MAX_FEATURES: usize = 1 << 23;

/// [`Node::aux`] marks a categorical split with this bit; the rest is `1 + index` into
/// [`Tree::cat_sets`]. Without it, `aux` indexes the tree's thresholds.
const CAT_BIT: u32 = 1 << 31;

/// An internal node. Children `>= 0` are node indices; a child `c < 0` is leaf `!c`.
///
/// 16 bytes. A forest with one row per leaf holds about one node per training row and tree,
/// and on diamonds two such forests fitted at once were most of a 60 s search's peak. The
/// split value of a numeric split is not in the node: its tree keeps each distinct threshold
/// once ([`Tree::threshold`]), and a node holds its index. The feature index, the split bin
/// and where missing values go share one word. Stored artifacts keep the earlier
/// field-by-field layout ([`NodeWire`], the threshold written out), so they read the same
/// either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Left child.
    pub left: i32,
    /// Right child.
    pub right: i32,
    /// Numeric split: the index of its threshold in the tree. Categorical split:
    /// `CAT_BIT | (1 + index)` into [`Tree::cat_sets`].
    aux: u32,
    /// Feature index (bits 9..32), missing values go left (bit 8), split bin (bits 0..8).
    packed: u32,
}

impl Node {
    /// A node; `feature` must be below [`MAX_FEATURES`].
    fn new(feature: u32, (left, right): (i32, i32), bin: u8, default_left: bool, aux: u32) -> Node {
        debug_assert!((feature as usize) < MAX_FEATURES);
        Node {
            left,
            right,
            aux,
            packed: (feature << 9) | (u32::from(default_left) << 8) | u32::from(bin),
        }
    }

    /// Feature index.
    #[inline]
    pub fn feature(&self) -> u32 {
        self.packed >> 9
    }

    /// Numeric split in bin space: bins `1..=bin` go left.
    #[inline]
    pub fn bin(&self) -> u8 {
        self.packed as u8
    }

    /// Where missing values (bin 0) go.
    #[inline]
    pub fn default_left(&self) -> bool {
        self.packed & (1 << 8) != 0
    }

    /// 0 for a numeric split, else `1 + index` into [`Tree::cat_sets`].
    #[inline]
    pub fn cat(&self) -> u32 {
        if self.aux & CAT_BIT != 0 {
            self.aux & !CAT_BIT
        } else {
            0
        }
    }
}

/// A node as artifacts store it, field by field.
#[derive(Clone, Serialize, Deserialize)]
struct NodeWire {
    threshold: f64,
    feature: u32,
    left: i32,
    right: i32,
    bin: u8,
    default_left: bool,
    cat: u32,
}

/// A tree as artifacts store it: its nodes field by field (see [`Node`]).
#[derive(Deserialize)]
struct TreeWire {
    nodes: Vec<NodeWire>,
    cat_sets: Vec<CatSet>,
    values: Vec<f32>,
    stride: u32,
}

impl TryFrom<TreeWire> for Tree {
    type Error = String;
    fn try_from(w: TreeWire) -> Result<Tree, String> {
        let mut tree = Tree {
            nodes: Vec::with_capacity(w.nodes.len()),
            cat_sets: w.cat_sets,
            values: w.values,
            stride: w.stride,
            cuts: Vec::new(),
            cut_of: FxMap::default(),
            leaf_parent: Vec::new(),
        };
        for n in w.nodes {
            if n.feature as usize >= MAX_FEATURES {
                return Err(format!(
                    "a tree node names feature {}; at most {MAX_FEATURES} are supported",
                    n.feature
                ));
            }
            let aux = if n.cat == 0 {
                let i = tree.cut_index(n.feature, n.bin, n.threshold);
                if tree.cuts[i as usize].to_bits() == n.threshold.to_bits() {
                    i
                } else {
                    // Not from one binning (no fit writes this): kept as written all the same.
                    tree.cuts.push(n.threshold);
                    (tree.cuts.len() - 1) as u32
                }
            } else if n.cat & CAT_BIT == 0 {
                CAT_BIT | n.cat
            } else {
                return Err(format!("a tree node names category set {}", n.cat));
            };
            tree.nodes.push(Node::new(
                n.feature,
                (n.left, n.right),
                n.bin,
                n.default_left,
                aux,
            ));
        }
        tree.finish();
        Ok(tree)
    }
}

/// A tree's nodes written field by field, each with its threshold.
struct NodesOut<'a>(&'a Tree);

impl Serialize for NodesOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        s.collect_seq(t.nodes.iter().map(|n| NodeWire {
            threshold: t.threshold(n),
            feature: n.feature(),
            left: n.left,
            right: n.right,
            bin: n.bin(),
            default_left: n.default_left(),
            cat: n.cat(),
        }))
    }
}

impl Serialize for Tree {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Tree", 4)?;
        st.serialize_field("nodes", &NodesOut(self))?;
        st.serialize_field("cat_sets", &self.cat_sets)?;
        st.serialize_field("values", &self.values)?;
        st.serialize_field("stride", &self.stride)?;
        st.end()
    }
}

/// The bins (bit `b` = bin `b`) sent left by a categorical split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatSet {
    /// 256-bit set of bins going left.
    pub bits: [u64; 4],
    /// Codes `>= cap` share bin `cap + 1` (see [`FeatureBins`]).
    pub cap: u32,
}

impl CatSet {
    #[inline]
    fn contains(&self, b: u8) -> bool {
        (self.bits[(b >> 6) as usize] >> (b & 63)) & 1 == 1
    }
}

/// A split rule in bin space, as found by a split search.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    /// Bins `1..=bin` go left; the missing bin goes left iff `default_left`.
    Numeric { bin: u8, default_left: bool },
    /// Bins in the set go left (bit 0 = missing).
    Cat { bits: [u64; 4] },
}

impl Rule {
    /// For every bin, whether it goes left.
    pub(crate) fn table(&self) -> [bool; 256] {
        let mut t = [false; 256];
        match *self {
            Rule::Numeric { bin, default_left } => {
                t[0] = default_left;
                for e in t.iter_mut().take(bin as usize + 1).skip(1) {
                    *e = true;
                }
            }
            Rule::Cat { bits } => {
                for (b, e) in t.iter_mut().enumerate() {
                    *e = (bits[b >> 6] >> (b & 63)) & 1 == 1;
                }
            }
        }
        t
    }
}

/// A fitted tree. Leaf `l` holds `stride` values at `values[l * stride..]` (one score for
/// boosting and regression, class frequencies for forest classification).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "TreeWire")]
pub struct Tree {
    /// Internal nodes; node 0 is the root (empty = a single leaf).
    pub nodes: Vec<Node>,
    /// Category sets of categorical splits.
    pub cat_sets: Vec<CatSet>,
    /// Leaf values, `stride` per leaf.
    pub values: Vec<f32>,
    /// Values per leaf.
    pub stride: u32,
    /// The distinct thresholds of the numeric splits, in the order they first occur in
    /// `nodes` (a numeric node holds its index).
    cuts: Vec<f64>,
    /// While the tree grows or is read: the index in `cuts` of each (feature, bin) split on,
    /// keyed `feature << 8 | bin`.
    cut_of: FxMap<u32, u32>,
    /// Where each leaf hangs (node, is_left) while the tree grows.
    leaf_parent: Vec<Option<(u32, bool)>>,
}

impl Tree {
    /// A single-leaf tree (values filled later).
    pub(crate) fn new(stride: usize) -> Tree {
        Tree {
            nodes: Vec::new(),
            cat_sets: Vec::new(),
            values: Vec::new(),
            stride: stride as u32,
            cuts: Vec::new(),
            cut_of: FxMap::default(),
            leaf_parent: vec![None],
        }
    }

    /// Growth is over: drop what only growing needs and the spare capacity of its vectors. A
    /// forest with one row per leaf has about as many nodes as rows per tree; on diamonds,
    /// heaptrack put 449 MB of a 60 s search's 527 MB heap peak in `Tree::split`, whose vectors
    /// grow by doubling (and `leaf_parent` holds one more entry per leaf).
    pub(crate) fn finish(&mut self) {
        self.leaf_parent = Vec::new();
        self.cut_of = FxMap::default();
        self.nodes.shrink_to_fit();
        self.cat_sets.shrink_to_fit();
        self.values.shrink_to_fit();
        self.cuts.shrink_to_fit();
    }

    /// The index in `cuts` of the split of `feature` at `bin` (value `threshold`), added on
    /// its first use.
    fn cut_index(&mut self, feature: u32, bin: u8, threshold: f64) -> u32 {
        let cuts = &mut self.cuts;
        *self
            .cut_of
            .entry(feature << 8 | u32::from(bin))
            .or_insert_with(|| {
                cuts.push(threshold);
                (cuts.len() - 1) as u32
            })
    }

    /// The split value of numeric node `n`: rows with `value <= threshold` go left (the upper
    /// bound of its bin). 0 for a categorical split.
    #[inline]
    pub fn threshold(&self, n: &Node) -> f64 {
        if n.aux & CAT_BIT != 0 {
            0.0
        } else {
            self.cuts[n.aux as usize]
        }
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Split leaf `leaf`: it keeps its id as the left child; returns the new right leaf id.
    pub(crate) fn split(
        &mut self,
        leaf: usize,
        feature: usize,
        rule: &Rule,
        fb: &FeatureBins,
    ) -> usize {
        let ni = self.nodes.len() as u32;
        let right_leaf = self.leaf_parent.len();
        let (bin, default_left, aux) = match *rule {
            Rule::Numeric { bin, default_left } => {
                let aux = self.cut_index(feature as u32, bin, fb.upper[bin as usize - 1]);
                (bin, default_left, aux)
            }
            Rule::Cat { bits } => {
                self.cat_sets.push(CatSet {
                    bits,
                    cap: fb.cat_cap,
                });
                (0, bits[0] & 1 == 1, CAT_BIT | self.cat_sets.len() as u32)
            }
        };
        self.nodes.push(Node::new(
            feature as u32,
            (!(leaf as i32), !(right_leaf as i32)),
            bin,
            default_left,
            aux,
        ));
        if let Some((p, is_left)) = self.leaf_parent[leaf] {
            let pn = &mut self.nodes[p as usize];
            if is_left {
                pn.left = ni as i32;
            } else {
                pn.right = ni as i32;
            }
        }
        self.leaf_parent[leaf] = Some((ni, true));
        self.leaf_parent.push(Some((ni, false)));
        right_leaf
    }

    /// Leaf reached by a raw row (NaN = missing).
    #[inline]
    pub fn leaf_raw(&self, row: &[f64]) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            let c = if self.goes_left(n, row[n.feature() as usize]) {
                n.left
            } else {
                n.right
            };
            if c < 0 {
                return !c as usize;
            }
            i = c as usize;
        }
    }

    /// Whether a raw value (NaN = missing) goes to the left child of node `n`.
    #[inline]
    pub fn goes_left(&self, n: &Node, v: f64) -> bool {
        if n.aux & CAT_BIT == 0 {
            if v <= self.cuts[n.aux as usize] {
                true
            } else if v.is_nan() {
                n.default_left()
            } else {
                false
            }
        } else {
            let cs = &self.cat_sets[(n.aux & !CAT_BIT) as usize - 1];
            cs.contains(cat_bin(v, cs.cap))
        }
    }

    /// Leaf reached by row `r` of binned data (binned with the training mappers).
    #[inline]
    pub fn leaf_binned(&self, data: &BinnedData, r: usize) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            let b = data.column(n.feature() as usize)[r];
            let left = if n.aux & CAT_BIT == 0 {
                if b == 0 {
                    n.default_left()
                } else {
                    b <= n.bin()
                }
            } else {
                self.cat_sets[(n.aux & !CAT_BIT) as usize - 1].contains(b)
            };
            let c = if left { n.left } else { n.right };
            if c < 0 {
                return !c as usize;
            }
            i = c as usize;
        }
    }

    /// The values of leaf `l`.
    #[inline]
    pub fn leaf_values(&self, l: usize) -> &[f32] {
        let s = self.stride as usize;
        &self.values[l * s..(l + 1) * s]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_node_is_16_bytes_and_a_tree_is_stored_field_by_field_as_before() {
        assert_eq!(std::mem::size_of::<Node>(), 16);
        let max = MAX_FEATURES as u32 - 1;
        // The layout before: every node with its threshold, field by field.
        let wire = vec![
            (2.5f64, 0u32, -1i32, 1i32, 3u8, false, 0u32),
            (0.0, max, -2, -3, 0, true, 1),
            (-1.5e300, 70_000, 2, -4, 255, true, 0),
            (2.5, 0, -5, -6, 3, false, 0),
            (7.25, 0, 4, -7, 9, false, 0),
            (0.0, 5, -8, -9, 0, false, 2),
            (1e-300, 5, -10, -11, 1, true, 0),
            // The same feature and bin with another threshold reads back as written.
            (9.5, 0, -12, -13, 3, false, 0),
        ];
        let cat_sets = vec![
            CatSet {
                bits: [5, 0, 0, 1],
                cap: 7,
            },
            CatSet {
                bits: [2, 0, 0, 0],
                cap: 3,
            },
        ];
        let values: Vec<f32> = (0..14).map(|v| v as f32 * 0.5).collect();
        // (Categorical nodes were written with threshold 0 and bin 0.)
        let before = postcard::to_stdvec(&(&wire, &cat_sets, &values, 1u32)).unwrap();
        let t: Tree = postcard::from_bytes(&before).unwrap();
        assert_eq!(postcard::to_stdvec(&t).unwrap(), before);
        // Each distinct (feature, bin) threshold is kept once; categorical nodes have none.
        assert_eq!(t.cuts, vec![2.5, -1.5e300, 7.25, 1e-300, 9.5]);
        for (n, w) in t.nodes.iter().zip(&wire) {
            assert_eq!(
                (
                    t.threshold(n),
                    n.feature(),
                    n.left,
                    n.right,
                    n.bin(),
                    n.default_left(),
                    n.cat()
                ),
                (
                    if w.6 == 0 { w.0 } else { 0.0 },
                    w.1,
                    w.2,
                    w.3,
                    w.4,
                    w.5,
                    w.6
                )
            );
        }
        assert!(crate::check_features(MAX_FEATURES).is_ok());
        let err = crate::check_features(MAX_FEATURES + 1).unwrap_err();
        assert!(err.to_string().contains("at most 8388608"), "{err}");
        let too_far = vec![(0.0f64, MAX_FEATURES as u32, -1i32, -2i32, 0u8, false, 0u32)];
        let bytes = postcard::to_stdvec(&(&too_far, &cat_sets, &values, 1u32)).unwrap();
        assert!(postcard::from_bytes::<Tree>(&bytes).is_err());
    }

    #[test]
    fn a_grown_tree_reads_back_equal_and_keeps_one_threshold_per_feature_and_bin() {
        let x = array![[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [4.0, 1.0], [5.0, 1.0]];
        let d = BinnedData::with_min_data_in_bin(x.view(), &[false, true], 255, 1).unwrap();
        let num = |bin| Rule::Numeric {
            bin,
            default_left: false,
        };
        let mut t = Tree::new(1);
        let r = t.split(0, 0, &num(3), &d.mappers()[0]);
        t.split(0, 0, &num(1), &d.mappers()[0]);
        t.split(r, 0, &num(4), &d.mappers()[0]);
        t.split(2, 0, &num(1), &d.mappers()[0]);
        t.split(0, 1, &Rule::Cat { bits: [2, 0, 0, 0] }, &d.mappers()[1]);
        t.values = (0..t.n_leaves()).map(|v| v as f32).collect();
        t.finish();
        assert_eq!(t.cuts.len(), 3, "{:?}", t.cuts);
        let back: Tree = postcard::from_bytes(&postcard::to_stdvec(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        for i in 0..x.nrows() {
            let row = x.row(i).to_vec();
            assert_eq!(back.leaf_raw(&row), t.leaf_binned(&d, i), "row {i}");
        }
    }

    #[test]
    fn raw_and_binned_routing_agree() {
        let x = array![
            [1.0, 0.0],
            [2.0, 1.0],
            [f64::NAN, 2.0],
            [4.0, f64::NAN],
            [5.0, 1.0]
        ];
        let d = BinnedData::with_min_data_in_bin(x.view(), &[false, true], 255, 1).unwrap();
        let mut t = Tree::new(1);
        let r = t.split(
            0,
            0,
            &Rule::Numeric {
                bin: 2,
                default_left: false,
            },
            &d.mappers()[0],
        );
        // left leaf 0 split on categorical feature 1: codes {1} and missing go left
        let mut bits = [0u64; 4];
        bits[0] = 1 | (1 << 2);
        t.split(0, 1, &Rule::Cat { bits }, &d.mappers()[1]);
        assert_eq!(t.n_leaves(), 3);
        for i in 0..x.nrows() {
            let row = x.row(i).to_vec();
            assert_eq!(t.leaf_raw(&row), t.leaf_binned(&d, i), "row {i}");
        }
        assert_eq!(t.leaf_raw(&[1.0, 1.0]), 0);
        assert_eq!(t.leaf_raw(&[1.0, 0.0]), 2);
        assert_eq!(t.leaf_raw(&[f64::NAN, 0.0]), r);
        assert_eq!(t.leaf_raw(&[1.0, f64::NAN]), 0);
        // an unseen category goes right
        assert_eq!(t.leaf_raw(&[1.0, 7.0]), 2);
    }
}
