//! One fitted decision tree: compact nodes, routing of raw rows (NaN allowed) and binned rows.

use crate::binning::{BinnedData, FeatureBins, cat_bin};
use serde::{Deserialize, Serialize};

/// Largest feature index a node can hold (the index shares a 32-bit word with the bin and the
/// missing-value direction). Fitting checks the data against it.
pub const MAX_FEATURES: usize = 1 << 23;

/// An internal node. Children `>= 0` are node indices; a child `c < 0` is leaf `!c`.
///
/// 24 bytes, not 32: the feature index, the split bin and where missing values go share one
/// word. A forest with one row per leaf holds about one node per training row and tree, and on
/// diamonds its live trees were most of a search's heap peak. Stored artifacts keep the earlier
/// field-by-field layout ([`NodeWire`]), so they read the same either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "NodeWire", try_from = "NodeWire")]
pub struct Node {
    /// Numeric split: rows with `value <= threshold` go left (the bin upper bound, f64).
    pub threshold: f64,
    /// Left child.
    pub left: i32,
    /// Right child.
    pub right: i32,
    /// 0 for a numeric split, else `1 + index` into [`Tree::cat_sets`].
    pub cat: u32,
    /// Feature index (bits 9..32), missing values go left (bit 8), split bin (bits 0..8).
    packed: u32,
}

impl Node {
    /// A node; `feature` must be below [`MAX_FEATURES`].
    pub fn new(
        threshold: f64,
        feature: u32,
        (left, right): (i32, i32),
        bin: u8,
        default_left: bool,
        cat: u32,
    ) -> Node {
        debug_assert!((feature as usize) < MAX_FEATURES);
        Node {
            threshold,
            left,
            right,
            cat,
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

impl From<Node> for NodeWire {
    fn from(n: Node) -> NodeWire {
        NodeWire {
            threshold: n.threshold,
            feature: n.feature(),
            left: n.left,
            right: n.right,
            bin: n.bin(),
            default_left: n.default_left(),
            cat: n.cat,
        }
    }
}

impl TryFrom<NodeWire> for Node {
    type Error = String;
    fn try_from(w: NodeWire) -> Result<Node, String> {
        if w.feature as usize >= MAX_FEATURES {
            return Err(format!(
                "a tree node names feature {}; at most {MAX_FEATURES} are supported",
                w.feature
            ));
        }
        Ok(Node::new(
            w.threshold,
            w.feature,
            (w.left, w.right),
            w.bin,
            w.default_left,
            w.cat,
        ))
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Internal nodes; node 0 is the root (empty = a single leaf).
    pub nodes: Vec<Node>,
    /// Category sets of categorical splits.
    pub cat_sets: Vec<CatSet>,
    /// Leaf values, `stride` per leaf.
    pub values: Vec<f32>,
    /// Values per leaf.
    pub stride: u32,
    /// Where each leaf hangs (node, is_left) while the tree grows; not serialized.
    #[serde(skip)]
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
            leaf_parent: vec![None],
        }
    }

    /// Growth is over: drop what only growing needs and the spare capacity of its vectors. A
    /// forest with one row per leaf has about as many nodes as rows per tree; on diamonds,
    /// heaptrack put 449 MB of a 60 s search's 527 MB heap peak in `Tree::split`, whose vectors
    /// grow by doubling (and `leaf_parent` holds one more entry per leaf).
    pub(crate) fn finish(&mut self) {
        self.leaf_parent = Vec::new();
        self.nodes.shrink_to_fit();
        self.cat_sets.shrink_to_fit();
        self.values.shrink_to_fit();
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
        let (threshold, bin, default_left, cat) = match *rule {
            Rule::Numeric { bin, default_left } => {
                (fb.upper[bin as usize - 1], bin, default_left, 0)
            }
            Rule::Cat { bits } => {
                self.cat_sets.push(CatSet {
                    bits,
                    cap: fb.cat_cap,
                });
                (0.0, 0, bits[0] & 1 == 1, self.cat_sets.len() as u32)
            }
        };
        self.nodes.push(Node::new(
            threshold,
            feature as u32,
            (!(leaf as i32), !(right_leaf as i32)),
            bin,
            default_left,
            cat,
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
        if n.cat == 0 {
            if v <= n.threshold {
                true
            } else if v.is_nan() {
                n.default_left()
            } else {
                false
            }
        } else {
            let cs = &self.cat_sets[n.cat as usize - 1];
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
            let left = if n.cat == 0 {
                if b == 0 {
                    n.default_left()
                } else {
                    b <= n.bin()
                }
            } else {
                self.cat_sets[n.cat as usize - 1].contains(b)
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
    fn a_node_is_24_bytes_and_stored_field_by_field_as_before() {
        assert_eq!(std::mem::size_of::<Node>(), 24);
        let max = MAX_FEATURES as u32 - 1;
        for (feature, bin, default_left, cat) in [
            (0, 0, false, 0),
            (max, 255, true, 7),
            (70_000, 3, false, u32::MAX),
        ] {
            let n = Node::new(-1.5e300, feature, (-3, 9), bin, default_left, cat);
            assert_eq!(
                (n.feature(), n.bin(), n.default_left()),
                (feature, bin, default_left)
            );
            let bytes = postcard::to_stdvec(&n).unwrap();
            let before = (-1.5e300f64, feature, -3i32, 9i32, bin, default_left, cat);
            assert_eq!(bytes, postcard::to_stdvec(&before).unwrap());
            assert_eq!(postcard::from_bytes::<Node>(&bytes).unwrap(), n);
        }
        assert!(crate::check_features(MAX_FEATURES).is_ok());
        let err = crate::check_features(MAX_FEATURES + 1).unwrap_err();
        assert!(err.to_string().contains("at most 8388608"), "{err}");
        let too_far = (0.0f64, MAX_FEATURES as u32, 1i32, 2i32, 0u8, false, 0u32);
        let err = postcard::from_bytes::<Node>(&postcard::to_stdvec(&too_far).unwrap());
        assert!(err.is_err());
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
