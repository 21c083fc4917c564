//! Leaf-wise growth of one gradient tree on binned data: gradient/hessian histograms, histogram
//! subtraction (build the smaller child, subtract for its sibling), split search with learned
//! missing direction and LightGBM-style categorical splits, in-place row partitioning.

use crate::binning::BinnedData;
use crate::tree::{Rule, Tree};

/// Sums of one histogram bin (or one node): gradient, hessian, row count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct HBin {
    pub g: f64,
    pub h: f64,
    pub n: f64,
}

impl HBin {
    #[inline]
    fn add(&mut self, o: &HBin) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    #[inline]
    fn sub(&self, o: &HBin) -> HBin {
        HBin {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// Split-search settings of the grower.
#[derive(Debug, Clone)]
pub(crate) struct GrowConfig {
    pub max_leaves: usize,
    pub max_depth: Option<usize>,
    pub min_samples_leaf: usize,
    pub min_child_weight: f64,
    pub lambda_l2: f64,
    pub lambda_l1: f64,
    pub min_split_gain: f64,
    pub cat_smooth: f64,
    pub cat_l2: f64,
    pub max_cat_threshold: usize,
    pub max_cat_onehot: usize,
}

impl GrowConfig {
    #[inline]
    fn tl1(&self, g: f64) -> f64 {
        if g > self.lambda_l1 {
            g - self.lambda_l1
        } else if g < -self.lambda_l1 {
            g + self.lambda_l1
        } else {
            0.0
        }
    }
    #[inline]
    fn score(&self, s: &HBin, l2: f64) -> f64 {
        // `tl1(g)²` without its branches on the sign of `g`, which the split scan cannot
        // predict (the same value: `tl1(g)` is `±a`, and a NaN gradient gives 0 both ways)
        let a = (s.g.abs() - self.lambda_l1).max(0.0);
        a * a / (s.h + l2)
    }
    /// The optimal (unshrunk) leaf output for sums `s`.
    #[inline]
    pub(crate) fn leaf_output(&self, s: &HBin) -> f64 {
        -self.tl1(s.g) / (s.h + self.lambda_l2)
    }
    #[inline]
    fn valid(&self, s: &HBin) -> bool {
        s.n >= self.min_samples_leaf as f64 && s.h >= self.min_child_weight
    }
}

/// A found split.
#[derive(Debug, Clone)]
struct Best {
    gain: f64,
    feature: usize,
    rule: Rule,
}

/// A leaf of the tree being grown: its rows are `rows[start..end]`.
#[derive(Debug, Clone)]
pub(crate) struct LeafInfo {
    pub start: usize,
    pub end: usize,
    pub sum: HBin,
    depth: usize,
    slot: Option<usize>,
    best: Option<Best>,
    /// The features that had a valid threshold in this leaf (`find_best`): the only ones its
    /// children can split on, so the only ones whose histograms they build.
    feats: Vec<usize>,
}

/// Reusable state for growing many trees on one binned dataset (no allocation per node).
pub(crate) struct Grower<'a> {
    data: &'a BinnedData,
    offsets: Vec<usize>,
    pool: Vec<Vec<HBin>>,
    free: Vec<usize>,
    /// Row indices, partitioned in place so each leaf owns a contiguous range.
    pub rows: Vec<u32>,
    scratch: Vec<u32>,
    og: Vec<[f64; 2]>,
    cats: Vec<(f64, u8, HBin)>,
    /// Leaves of the last grown tree (index = leaf id in the tree).
    pub leaves: Vec<LeafInfo>,
    /// (feature, gain) of every split of the last grown tree.
    pub splits: Vec<(usize, f64)>,
    /// Build histograms of different features in parallel (inside a caller's rayon pool).
    pub parallel: bool,
    /// Children sum, subtract and search only the features their parent found a valid
    /// threshold for (as LightGBM does; the same trees, see the test). Off only in tests.
    prune_features: bool,
    /// Per-feature histogram passes so far (one feature summed over one node's rows).
    pub(crate) feature_passes: u64,
}

impl<'a> Grower<'a> {
    pub(crate) fn new(data: &'a BinnedData) -> Grower<'a> {
        let mut offsets = Vec::with_capacity(data.n_features() + 1);
        let mut total = 0usize;
        for m in data.mappers() {
            offsets.push(total);
            total += m.n_bins;
        }
        offsets.push(total);
        Grower {
            data,
            offsets,
            pool: Vec::new(),
            free: Vec::new(),
            rows: Vec::new(),
            scratch: Vec::new(),
            og: Vec::new(),
            cats: Vec::new(),
            leaves: Vec::new(),
            splits: Vec::new(),
            parallel: false,
            prune_features: true,
            feature_passes: 0,
        }
    }

    fn alloc(&mut self) -> usize {
        if let Some(s) = self.free.pop() {
            s
        } else {
            self.pool
                .push(vec![HBin::default(); *self.offsets.last().unwrap()]);
            self.pool.len() - 1
        }
    }

    fn release(&mut self, slot: Option<usize>) {
        if let Some(s) = slot {
            self.free.push(s);
        }
    }

    /// Histogram of `rows[start..end]` into `slot`, for the given features. `total` is the
    /// node's sums (its gradients added in row order), which the dominant bins are derived
    /// from.
    fn build(
        &mut self,
        slot: usize,
        start: usize,
        end: usize,
        gh: &[[f64; 2]],
        features: &[usize],
        total: &HBin,
    ) {
        self.feature_passes += features.len() as u64;
        let rows = &self.rows[start..end];
        let og = &mut self.og;
        og.clear();
        og.extend(rows.iter().map(|&r| gh[r as usize]));
        let hist = &mut self.pool[slot];
        let data = self.data;
        let og: &[[f64; 2]] = og;
        let fill = |f: usize, hf: &mut [HBin]| {
            hf.fill(HBin::default());
            let col = data.column(f);
            // on a small node, summing the other bins costs more than the rows it skips
            let dominant = data.dominant(f).filter(|_| rows.len() >= 4 * hf.len());
            match dominant {
                None => {
                    for (&r, o) in rows.iter().zip(og.iter()) {
                        let e = &mut hf[col[r as usize] as usize];
                        e.g += o[0];
                        e.h += o[1];
                        e.n += 1.0;
                    }
                }
                Some(d) => {
                    // skip the dominant bin's rows; its sums are the node's less the others'
                    for (&r, o) in rows.iter().zip(og.iter()) {
                        let b = col[r as usize];
                        if b != d {
                            let e = &mut hf[b as usize];
                            e.g += o[0];
                            e.h += o[1];
                            e.n += 1.0;
                        }
                    }
                    let mut others = HBin::default();
                    for e in hf.iter() {
                        others.add(e);
                    }
                    hf[d as usize] = exact_empty(total.sub(&others));
                }
            }
        };
        if self.parallel && features.len() > 1 {
            // disjoint per-feature slices (features are ascending), filled in parallel;
            // every slice is summed in row order, so results do not depend on threads
            let mut parts: Vec<(usize, &mut [HBin])> = Vec::with_capacity(features.len());
            let mut rest: &mut [HBin] = hist;
            let mut consumed = 0usize;
            for &f in features {
                let (_, tail) = std::mem::take(&mut rest).split_at_mut(self.offsets[f] - consumed);
                let (mine, tail) = tail.split_at_mut(self.offsets[f + 1] - self.offsets[f]);
                parts.push((f, mine));
                rest = tail;
                consumed = self.offsets[f + 1];
            }
            use rayon::prelude::*;
            parts.into_par_iter().for_each(|(f, hf)| fill(f, hf));
        } else {
            for &f in features {
                fill(f, &mut hist[self.offsets[f]..self.offsets[f + 1]]);
            }
        }
    }

    /// Grow one tree on `bag` (row ids) with gradients `gh` (indexed by row id), considering
    /// only `features`. Leaf values are left empty; `self.leaves` describes the leaves.
    pub(crate) fn grow(
        &mut self,
        cfg: &GrowConfig,
        gh: &[[f64; 2]],
        bag: &[u32],
        features: &[usize],
    ) -> Tree {
        let mut tree = Tree::new(1);
        self.rows.clear();
        self.rows.extend_from_slice(bag);
        self.leaves.clear();
        self.splits.clear();
        let mut sum = HBin::default();
        for &r in bag {
            let e = gh[r as usize];
            sum.g += e[0];
            sum.h += e[1];
        }
        sum.n = bag.len() as f64;
        let n = bag.len();
        let mut root = LeafInfo {
            start: 0,
            end: n,
            sum,
            depth: 0,
            slot: None,
            best: None,
            feats: Vec::new(),
        };
        if cfg.max_leaves > 1 && self.can_split(cfg, &root) {
            let s = self.alloc();
            self.build(s, 0, n, gh, features, &root.sum);
            root.slot = Some(s);
            root.best = self.find_best(cfg, s, &root.sum, features, &mut root.feats);
        }
        self.leaves.push(root);
        while self.leaves.len() < cfg.max_leaves {
            // the leaf with the largest gain (first on ties)
            let mut pick: Option<(usize, f64)> = None;
            for (i, l) in self.leaves.iter().enumerate() {
                if let Some(b) = &l.best
                    && pick.is_none_or(|(_, g)| b.gain > g)
                {
                    pick = Some((i, b.gain));
                }
            }
            let Some((li, _)) = pick else { break };
            let best = self.leaves[li].best.take().expect("picked");
            let mut pfeats = std::mem::take(&mut self.leaves[li].feats);
            if !self.prune_features {
                pfeats = features.to_vec();
            }
            let (start, end, depth, pslot) = {
                let l = &self.leaves[li];
                (l.start, l.end, l.depth, l.slot)
            };
            let table = best.rule.table();
            let mid = start
                + partition(
                    &mut self.rows[start..end],
                    &mut self.scratch,
                    self.data.column(best.feature),
                    &table,
                );
            let right_id = tree.split(
                li,
                best.feature,
                &best.rule,
                &self.data.mappers()[best.feature],
            );
            debug_assert_eq!(right_id, self.leaves.len());
            self.splits.push((best.feature, best.gain));
            let pslot = pslot.expect("a leaf with a split has a histogram");
            let sums = self.sums(pslot, start, mid, end, gh, &best);
            let mut left = LeafInfo {
                start,
                end: mid,
                sum: sums.0,
                depth: depth + 1,
                slot: None,
                best: None,
                feats: Vec::new(),
            };
            let mut right = LeafInfo {
                start: mid,
                end,
                sum: sums.1,
                depth: depth + 1,
                slot: None,
                best: None,
                feats: Vec::new(),
            };
            let more = self.leaves.len() + 1 < cfg.max_leaves;
            let cl = more && self.can_split(cfg, &left);
            let cr = more && self.can_split(cfg, &right);
            if cl || cr {
                let left_small = (mid - start) <= (end - mid);
                let (small, large) = if left_small {
                    (&mut left, &mut right)
                } else {
                    (&mut right, &mut left)
                };
                let s = self.alloc();
                // a feature with no valid threshold in the parent has none in a child either
                // (each side of a child's threshold holds a subset of the parent's rows for
                // that threshold); only `pfeats` are summed, subtracted and searched
                self.build(s, small.start, small.end, gh, &pfeats, &small.sum);
                small.slot = Some(s);
                // sibling = parent - smaller, in the parent's slot
                let (ps, ss) = two_mut(&mut self.pool, pslot, s);
                subtract_features(ps, ss, &self.offsets, &pfeats);
                large.slot = Some(pslot);
                if cl {
                    let slot = left.slot.unwrap();
                    left.best = self.find_best(cfg, slot, &left.sum, &pfeats, &mut left.feats);
                }
                if cr {
                    let slot = right.slot.unwrap();
                    right.best = self.find_best(cfg, slot, &right.sum, &pfeats, &mut right.feats);
                }
            } else {
                self.release(Some(pslot));
            }
            if left.best.is_none() {
                self.release(left.slot.take());
            }
            if right.best.is_none() {
                self.release(right.slot.take());
            }
            self.leaves[li] = left;
            self.leaves.push(right);
        }
        for i in 0..self.leaves.len() {
            let s = self.leaves[i].slot.take();
            self.release(s);
        }
        tree
    }

    /// Left and right sums of a split of the node in `pslot` (recomputed from the rows for
    /// exactness of the count; gradients summed in row order).
    fn sums(
        &self,
        _pslot: usize,
        start: usize,
        mid: usize,
        end: usize,
        gh: &[[f64; 2]],
        _b: &Best,
    ) -> (HBin, HBin) {
        let s = |a: usize, b: usize| {
            let mut h = HBin::default();
            for &r in &self.rows[a..b] {
                let e = gh[r as usize];
                h.g += e[0];
                h.h += e[1];
            }
            h.n = (b - a) as f64;
            h
        };
        (s(start, mid), s(mid, end))
    }

    fn can_split(&self, cfg: &GrowConfig, l: &LeafInfo) -> bool {
        l.end - l.start >= 2 * cfg.min_samples_leaf.max(1)
            && l.sum.h >= 2.0 * cfg.min_child_weight
            && cfg.max_depth.is_none_or(|d| l.depth < d)
    }

    fn find_best(
        &mut self,
        cfg: &GrowConfig,
        slot: usize,
        total: &HBin,
        features: &[usize],
        splittable: &mut Vec<usize>,
    ) -> Option<Best> {
        let mut best: Option<Best> = None;
        let parent = cfg.score(total, cfg.lambda_l2);
        splittable.clear();
        for &f in features {
            let hist = &self.pool[slot][self.offsets[f]..self.offsets[f + 1]];
            let cand = if self.data.mappers()[f].categorical {
                // kept for the children unless no category set can be valid in any of them:
                // the sets tried depend on the leaf's own statistics, so a child may find a
                // valid one where this leaf found none
                let (cand, children_may_split) =
                    best_categorical(cfg, hist, total, parent, &mut self.cats);
                if children_may_split {
                    splittable.push(f);
                }
                cand
            } else {
                let cand = best_numeric(cfg, hist, total, parent);
                if cand.is_some() {
                    splittable.push(f);
                }
                cand
            };
            if let Some((gain, rule)) = cand
                && gain > cfg.min_split_gain
                && best.as_ref().is_none_or(|b| gain > b.gain)
            {
                best = Some(Best {
                    gain,
                    feature: f,
                    rule,
                });
            }
        }
        best
    }
}

/// A bin obtained by subtraction: exactly zero when it holds no rows (the counts are exact;
/// the gradient sums of the two sides were added in different orders), and no negative
/// hessian from rounding.
#[inline]
fn exact_empty(b: HBin) -> HBin {
    if b.n <= 0.0 {
        HBin::default()
    } else {
        HBin {
            h: b.h.max(0.0),
            ..b
        }
    }
}

/// `parent -= small` over the bins of `features` (ascending), each bin through
/// [`exact_empty`]. Runs of adjacent features are one slice, and the loop has no branch per
/// bin (the same values as `exact_empty(p.sub(s))`): this runs for every split on every bin
/// the children search.
fn subtract_features(parent: &mut [HBin], small: &[HBin], offsets: &[usize], features: &[usize]) {
    let mut i = 0;
    while i < features.len() {
        let a = offsets[features[i]];
        let mut j = i + 1;
        while j < features.len() && features[j] == features[j - 1] + 1 {
            j += 1;
        }
        let b = offsets[features[j - 1] + 1];
        for (p, s) in parent[a..b].iter_mut().zip(&small[a..b]) {
            let n = p.n - s.n;
            let keep = n > 0.0;
            let g = p.g - s.g;
            let h = (p.h - s.h).max(0.0);
            *p = HBin {
                g: if keep { g } else { 0.0 },
                h: if keep { h } else { 0.0 },
                n: if keep { n } else { 0.0 },
            };
        }
        i = j;
    }
}

fn two_mut<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    assert_ne!(a, b);
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

/// Stable in-place partition of `rows` by `table[col[row]]`; returns the number going left.
pub(crate) fn partition(
    rows: &mut [u32],
    scratch: &mut Vec<u32>,
    col: &[u8],
    table: &[bool; 256],
) -> usize {
    // Branch-free: every row is written to both sides and only the side it belongs to
    // advances (a split's rows go left or right unpredictably; a mispredicted branch per row
    // cost more than the extra store). `rows[l]` is behind the read position, `scratch` holds
    // the right side in order.
    let n = rows.len();
    scratch.clear();
    scratch.resize(n, 0);
    let mut l = 0usize;
    for i in 0..n {
        let r = rows[i];
        let left = table[col[r as usize] as usize] as usize;
        rows[l] = r;
        scratch[i - l] = r;
        l += left;
    }
    rows[l..].copy_from_slice(&scratch[..n - l]);
    l
}

/// Best numeric threshold: bins `1..=t` left, missing bin 0 tried on both sides.
fn best_numeric(cfg: &GrowConfig, hist: &[HBin], total: &HBin, parent: f64) -> Option<(f64, Rule)> {
    let nb = hist.len();
    if nb < 2 {
        return None;
    }
    let miss = hist[0];
    let has_miss = miss.n > 0.0;
    let mut best: Option<(f64, Rule)> = None;
    let mut acc = HBin::default();
    let l2 = cfg.lambda_l2;
    for (t, e) in hist.iter().enumerate().skip(1) {
        if t > 1 && e.n == 0.0 {
            // an empty bin leaves both candidates those of the bin before, which already
            // had them (ties keep the first)
            continue;
        }
        acc.add(e);
        let r = total.sub(&acc);
        if !cfg.valid(&r) {
            // the rows right of `t` only get fewer and lighter (hessians are not negative), and
            // the missing-left candidate's right side is a subset of them: no later threshold
            // is valid
            break;
        }
        // missing right: L = acc. Allowed up to nb-1 only if there is missing data on the right.
        if (t < nb - 1 || has_miss) && cfg.valid(&acc) {
            let gain = cfg.score(&acc, l2) + cfg.score(&r, l2) - parent;
            if best.as_ref().is_none_or(|b| gain > b.0) {
                // without missing data, send future missing values to the larger side
                let default_left = !has_miss && acc.n >= r.n;
                best = Some((
                    gain,
                    Rule::Numeric {
                        bin: t as u8,
                        default_left,
                    },
                ));
            }
        }
        if has_miss && t < nb - 1 {
            let mut lm = acc;
            lm.add(&miss);
            let r = total.sub(&lm);
            if cfg.valid(&lm) && cfg.valid(&r) {
                let gain = cfg.score(&lm, l2) + cfg.score(&r, l2) - parent;
                if best.as_ref().is_none_or(|b| gain > b.0) {
                    best = Some((
                        gain,
                        Rule::Numeric {
                            bin: t as u8,
                            default_left: true,
                        },
                    ));
                }
            }
        }
    }
    best
}

/// Best category set: one-vs-rest for few categories, else LightGBM-style prefix scan of the
/// categories sorted by gradient / (hessian + cat_smooth), from both ends. `parent` is the
/// node's score with `lambda_l2`.
///
/// Also tells whether a child of this node could have a valid split on the feature. Whatever
/// set a split sends left, one side lacks the most frequent category `d`, so it holds at most
/// `n - n_d` rows; in a child (a subset of the rows) at most that many too. When that is below
/// `min_samples_leaf` (or one category is present), no split on the feature is valid here or
/// below, and the children need not sum or search it. Counts only: they are exact.
fn best_categorical(
    cfg: &GrowConfig,
    hist: &[HBin],
    total: &HBin,
    parent: f64,
    cats: &mut Vec<(f64, u8, HBin)>,
) -> (Option<(f64, Rule)>, bool) {
    cats.clear();
    let mut most = 0.0f64;
    for (b, e) in hist.iter().enumerate() {
        if e.n > 0.0 {
            cats.push((0.0, b as u8, *e));
            most = most.max(e.n);
        }
    }
    if cats.len() < 2 {
        return (None, false);
    }
    let children_may_split = total.n - most >= cfg.min_samples_leaf as f64;
    // the best set so far: (gain, direction, last index of the prefix) or one category
    let mut best: Option<(f64, usize, usize)> = None;
    let consider = |l: &HBin,
                    l2: f64,
                    parent: f64,
                    at: (usize, usize),
                    best: &mut Option<(f64, usize, usize)>| {
        let r = total.sub(l);
        if !(cfg.valid(l) && cfg.valid(&r)) {
            return;
        }
        let gain = cfg.score(l, l2) + cfg.score(&r, l2) - parent;
        if best.as_ref().is_none_or(|b| gain > b.0) {
            *best = Some((gain, at.0, at.1));
        }
    };
    let k = cats.len();
    let onehot = k <= cfg.max_cat_onehot;
    if onehot {
        for (i, (_, _, e)) in cats.iter().enumerate() {
            consider(e, cfg.lambda_l2, parent, (2, i), &mut best);
        }
    } else {
        let smooth = cfg.cat_smooth;
        for c in cats.iter_mut() {
            c.0 = c.2.g / (c.2.h + smooth);
        }
        cats.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        let l2 = cfg.lambda_l2 + cfg.cat_l2;
        let parent = if cfg.cat_l2 == 0.0 {
            parent
        } else {
            cfg.score(total, l2)
        };
        let lim = (k - 1).min(cfg.max_cat_threshold);
        for dir in 0..2 {
            let mut acc = HBin::default();
            for i in 0..lim {
                let idx = if dir == 0 { i } else { k - 1 - i };
                acc.add(&cats[idx].2);
                consider(&acc, l2, parent, (dir, i), &mut best);
            }
        }
    }
    let found = best.map(|(gain, dir, i)| {
        let mut bits = [0u64; 4];
        let members: &mut dyn Iterator<Item = u8> = match dir {
            2 => &mut std::iter::once(cats[i].1),
            0 => &mut cats[..=i].iter().map(|c| c.1),
            _ => &mut cats[k - 1 - i..].iter().map(|c| c.1),
        };
        for b in members {
            bits[(b >> 6) as usize] |= 1 << (b & 63);
        }
        (gain, Rule::Cat { bits })
    });
    (found, children_may_split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GrowConfig {
        GrowConfig {
            max_leaves: 31,
            max_depth: None,
            min_samples_leaf: 1,
            min_child_weight: 0.0,
            lambda_l2: 0.0,
            lambda_l1: 0.0,
            min_split_gain: 0.0,
            cat_smooth: 10.0,
            cat_l2: 0.0,
            max_cat_threshold: 32,
            max_cat_onehot: 4,
        }
    }

    #[test]
    fn subtraction_matches_exact_empty_bin_by_bin() {
        // 5 features of 3 bins; 0, 1, 2 and 4 subtracted (a run of three, then one alone)
        let offsets = [0, 3, 6, 9, 12, 15];
        let features = [0, 1, 2, 4];
        let bin = |i: usize, k: f64| HBin {
            g: (i as f64 * 1.7 - 9.0) * k,
            h: (i % 4) as f64 * 0.5 * k,
            n: (i % 3) as f64 * k,
        };
        let parent: Vec<HBin> = (0..15).map(|i| bin(i, 2.0)).collect();
        // the small side: some bins equal to the parent's (empty after), some with a larger
        // hessian than the parent's (rounding), the rest half
        let small: Vec<HBin> = (0..15)
            .map(|i| match i % 5 {
                0 => parent[i],
                1 => HBin {
                    h: parent[i].h + 1e-12,
                    ..bin(i, 1.0)
                },
                _ => bin(i, 1.0),
            })
            .collect();
        let mut got = parent.clone();
        subtract_features(&mut got, &small, &offsets, &features);
        for i in 0..15 {
            let want = if i / 3 == 3 {
                parent[i]
            } else {
                exact_empty(parent[i].sub(&small[i]))
            };
            assert_eq!(got[i].g.to_bits(), want.g.to_bits(), "bin {i}");
            assert_eq!(got[i].h.to_bits(), want.h.to_bits(), "bin {i}");
            assert_eq!(got[i].n.to_bits(), want.n.to_bits(), "bin {i}");
        }
    }

    #[test]
    fn numeric_split_and_gain_by_hand() {
        // bins: missing empty; bin1: g=-2 (2 rows), bin2: g=-1 (1 row), bin3: g=+3 (3 rows), h=1 per row.
        let hist = vec![
            HBin::default(),
            HBin {
                g: -2.0,
                h: 2.0,
                n: 2.0,
            },
            HBin {
                g: -1.0,
                h: 1.0,
                n: 1.0,
            },
            HBin {
                g: 3.0,
                h: 3.0,
                n: 3.0,
            },
        ];
        let total = HBin {
            g: 0.0,
            h: 6.0,
            n: 6.0,
        };
        let c = cfg();
        let (gain, rule) = best_numeric(&c, &hist, &total, c.score(&total, 0.0)).unwrap();
        // best: {1,2} | {3}: 9/3 + 9/3 - 0 = 6
        assert!((gain - 6.0).abs() < 1e-12, "gain {gain}");
        assert_eq!(
            rule,
            Rule::Numeric {
                bin: 2,
                default_left: true
            }
        );
    }

    #[test]
    fn missing_direction_is_learned() {
        // missing rows have strongly positive gradient, like bin 3 -> they must go right.
        let hist = vec![
            HBin {
                g: 4.0,
                h: 2.0,
                n: 2.0,
            },
            HBin {
                g: -3.0,
                h: 3.0,
                n: 3.0,
            },
            HBin {
                g: -3.0,
                h: 3.0,
                n: 3.0,
            },
            HBin {
                g: 2.0,
                h: 2.0,
                n: 2.0,
            },
        ];
        let total = HBin {
            g: 0.0,
            h: 10.0,
            n: 10.0,
        };
        let c = cfg();
        let (gain, rule) = best_numeric(&c, &hist, &total, 0.0).unwrap();
        assert_eq!(
            rule,
            Rule::Numeric {
                bin: 2,
                default_left: false
            }
        );
        // L = {1,2}: g=-6,h=6 -> 6; R = {3, missing}: g=6,h=4 -> 9
        assert!((gain - 15.0).abs() < 1e-12);
        // and with the missing gradient negative they go left
        let mut hist2 = hist.clone();
        hist2[0].g = -4.0;
        hist2[3].g = 10.0;
        let total2 = HBin {
            g: 0.0,
            h: 10.0,
            n: 10.0,
        };
        let (_, rule2) = best_numeric(&c, &hist2, &total2, 0.0).unwrap();
        assert_eq!(
            rule2,
            Rule::Numeric {
                bin: 2,
                default_left: true
            }
        );
    }

    #[test]
    fn categorical_split_groups_by_gradient_ratio() {
        // 6 categories (bins 1..=6): odd bins have negative gradients, even bins positive.
        let mut hist = vec![HBin::default(); 7];
        for (b, e) in hist.iter_mut().enumerate().skip(1) {
            let g = if b % 2 == 1 { -5.0 } else { 5.0 };
            *e = HBin { g, h: 5.0, n: 5.0 };
        }
        let total = HBin {
            g: 0.0,
            h: 30.0,
            n: 30.0,
        };
        let mut cats = Vec::new();
        let (found, children_may_split) = best_categorical(&cfg(), &hist, &total, 0.0, &mut cats);
        assert!(children_may_split);
        let (gain, rule) = found.unwrap();
        let Rule::Cat { bits } = rule else {
            panic!("expected a categorical rule")
        };
        let left: Vec<usize> = (0..7).filter(|b| bits[0] >> b & 1 == 1).collect();
        assert!(
            left == vec![1, 3, 5] || left == vec![2, 4, 6],
            "left set {left:?}"
        );
        // 15^2/15 * 2 = 30
        assert!((gain - 30.0).abs() < 1e-9);
    }

    #[test]
    fn numeric_split_search_over_empty_bins_matches_trying_every_threshold() {
        // Reference: every threshold and both sides for missing rows, first best on ties.
        fn reference(c: &GrowConfig, hist: &[HBin], total: &HBin) -> Option<(f64, u8, bool)> {
            let parent = c.score(total, c.lambda_l2);
            let nb = hist.len();
            let mut best: Option<(f64, u8, bool)> = None;
            for t in 1..nb {
                let mut acc = HBin::default();
                for e in &hist[1..=t] {
                    acc.add(e);
                }
                let has_miss = hist[0].n > 0.0;
                let mut try_side = |l: HBin, default_left: bool| {
                    let r = total.sub(&l);
                    if c.valid(&l) && c.valid(&r) {
                        let gain = c.score(&l, c.lambda_l2) + c.score(&r, c.lambda_l2) - parent;
                        if best.is_none_or(|b| gain > b.0) {
                            best = Some((gain, t as u8, default_left));
                        }
                    }
                };
                if t < nb - 1 || has_miss {
                    try_side(acc, !has_miss && acc.n >= total.n - acc.n);
                }
                if has_miss && t < nb - 1 {
                    let mut lm = acc;
                    lm.add(&hist[0]);
                    try_side(lm, true);
                }
            }
            best
        }
        let c = GrowConfig {
            min_samples_leaf: 2,
            ..cfg()
        };
        let mut rng = automl_core::Rng::new(12345);
        let mut next = || rng.f64();
        for case in 0..200 {
            let nb = 3 + case % 40;
            let mut hist = vec![HBin::default(); nb];
            let mut total = HBin::default();
            for (b, e) in hist.iter_mut().enumerate() {
                // about half the bins empty, the missing bin in every other case
                if next() < 0.5 || (b == 0 && case % 2 == 0) {
                    continue;
                }
                let n = 1.0 + (next() * 6.0).floor();
                *e = HBin {
                    g: (next() - 0.5) * 4.0 * n,
                    h: n * (0.2 + next()),
                    n,
                };
                total.add(e);
            }
            let got = best_numeric(&c, &hist, &total, c.score(&total, c.lambda_l2)).map(
                |(g, r)| match r {
                    Rule::Numeric { bin, default_left } => (g, bin, default_left),
                    Rule::Cat { .. } => unreachable!(),
                },
            );
            assert_eq!(got, reference(&c, &hist, &total), "case {case}: {hist:?}");
        }
    }

    #[test]
    fn dominant_bins_give_the_histograms_and_trees_of_adding_every_row() {
        // column 0: 90 % zeros (dominant); column 1: spread (no dominant bin); column 2: all
        // one value but a few missing
        let n = 600;
        let mut x = ndarray::Array2::<f64>::zeros((n, 3));
        let mut gh = Vec::with_capacity(n);
        for i in 0..n {
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            x[[i, 0]] = if i % 10 == 3 { 1.0 + u * 5.0 } else { 0.0 };
            x[[i, 1]] = u;
            x[[i, 2]] = if i % 50 == 0 { f64::NAN } else { 2.0 };
            let y = x[[i, 0]] * 0.7 - u + if i % 50 == 0 { 3.0 } else { 0.0 };
            gh.push([-y, 0.5 + u]);
        }
        let data = BinnedData::new(x.view(), &[false, false, false], 255).unwrap();
        assert!(data.dominant(0).is_some() && data.dominant(2).is_some());
        assert_eq!(data.dominant(1), None);
        let plain = data.without_dominant();
        let features = [0usize, 1, 2];
        let bag: Vec<u32> = (0..n as u32).filter(|r| r % 7 != 0).collect();
        let (mut a, mut b) = (Grower::new(&data), Grower::new(&plain));
        let c = GrowConfig {
            min_samples_leaf: 5,
            ..cfg()
        };
        let (ta, tb) = (
            a.grow(&c, &gh, &bag, &features),
            b.grow(&c, &gh, &bag, &features),
        );
        assert_eq!(a.splits.len(), b.splits.len());
        assert!(a.splits.len() > 5, "{} splits", a.splits.len());
        for (sa, sb) in a.splits.iter().zip(&b.splits) {
            assert_eq!(sa.0, sb.0);
            assert!(
                (sa.1 - sb.1).abs() <= 1e-9 * sb.1.abs().max(1.0),
                "{sa:?} {sb:?}"
            );
        }
        for r in 0..n {
            assert_eq!(ta.leaf_binned(&data, r), tb.leaf_binned(&plain, r));
        }
        // one histogram, bin by bin: counts exact, sums within rounding, the empty bins zero
        let (sa, sb) = (a.alloc(), b.alloc());
        a.rows = bag.clone();
        b.rows = bag.clone();
        let mut total = HBin::default();
        for &r in &bag {
            total.g += gh[r as usize][0];
            total.h += gh[r as usize][1];
        }
        total.n = bag.len() as f64;
        a.build(sa, 0, bag.len(), &gh, &features, &total);
        b.build(sb, 0, bag.len(), &gh, &features, &total);
        for (ea, eb) in a.pool[sa].iter().zip(&b.pool[sb]) {
            assert_eq!(ea.n, eb.n);
            assert!((ea.g - eb.g).abs() <= 1e-9 && (ea.h - eb.h).abs() <= 1e-9);
            if eb.n == 0.0 {
                assert_eq!(ea, &HBin::default());
            }
        }
    }

    #[test]
    fn a_categorical_feature_is_dropped_for_the_children_only_when_no_set_can_be_valid() {
        // bin 1: 50 rows, bin 2: `small` rows; with min_samples_leaf 5 a set needs 5 rows on
        // each side, so the feature splits (and stays for the children) only when bin 2 has 5
        let c = GrowConfig {
            min_samples_leaf: 5,
            ..cfg()
        };
        for (small, splits) in [(5.0, true), (4.0, false)] {
            let mut hist = vec![HBin::default(); 4];
            hist[1] = HBin {
                g: -50.0,
                h: 50.0,
                n: 50.0,
            };
            hist[2] = HBin {
                g: small * 3.0,
                h: small,
                n: small,
            };
            let total = HBin {
                g: -50.0 + small * 3.0,
                h: 50.0 + small,
                n: 50.0 + small,
            };
            let parent = c.score(&total, 0.0);
            let (found, children_may_split) =
                best_categorical(&c, &hist, &total, parent, &mut Vec::new());
            assert_eq!(
                found.is_some(),
                splits,
                "{small} rows in the small category"
            );
            assert_eq!(
                children_may_split, splits,
                "{small} rows in the small category"
            );
        }
        // one category present: no split, and none below
        let mut hist = vec![HBin::default(); 3];
        hist[2] = HBin {
            g: 1.0,
            h: 9.0,
            n: 9.0,
        };
        let (found, children_may_split) =
            best_categorical(&cfg(), &hist, &hist[2], 0.0, &mut Vec::new());
        assert!(found.is_none() && !children_may_split);
    }

    #[test]
    fn children_skip_only_features_without_a_valid_threshold() {
        // column 0: constant; 1: a few distinct values; 2: spread, some missing; 3: mostly
        // one value; 4: categorical. With large leaves many features lose every valid
        // threshold deep in the tree: the pruned grower must grow the very same trees.
        let n = 900;
        let mut x = ndarray::Array2::<f64>::zeros((n, 6));
        let mut rng = automl_core::Rng::new(7);
        let mut gh = Vec::with_capacity(n);
        for i in 0..n {
            let u = rng.f64();
            x[[i, 0]] = 1.0;
            x[[i, 1]] = (rng.f64() * 4.0).floor();
            x[[i, 2]] = if i % 13 == 0 { f64::NAN } else { u };
            x[[i, 3]] = if rng.f64() < 0.9 { 0.0 } else { rng.f64() };
            x[[i, 4]] = (rng.f64() * 6.0).floor();
            // categorical, mostly one category: deep leaves lose every valid set on it
            x[[i, 5]] = if rng.f64() < 0.85 {
                0.0
            } else {
                (rng.f64() * 7.0).floor()
            };
            let y = (u * 6.0).sin() + x[[i, 1]] * 0.3 - x[[i, 3]]
                + (x[[i, 4]] == 2.0) as u8 as f64
                + 0.8 * (x[[i, 5]] >= 4.0) as u8 as f64;
            gh.push([-y + 0.1 * rng.f64(), 0.2 + rng.f64()]);
        }
        let data =
            BinnedData::new(x.view(), &[false, false, false, false, true, true], 255).unwrap();
        let features = [0usize, 1, 2, 3, 4, 5];
        let bag: Vec<u32> = (0..n as u32).filter(|r| r % 5 != 0).collect();
        for (leaf, cw) in [(1usize, 0.0), (20, 1e-3), (60, 5.0)] {
            let c = GrowConfig {
                min_samples_leaf: leaf,
                min_child_weight: cw,
                ..cfg()
            };
            let (mut a, mut b) = (Grower::new(&data), Grower::new(&data));
            b.prune_features = false;
            let (ta, tb) = (
                a.grow(&c, &gh, &bag, &features),
                b.grow(&c, &gh, &bag, &features),
            );
            assert_eq!(ta, tb, "min_samples_leaf {leaf}");
            assert_eq!(a.splits, b.splits);
            assert!(a.splits.len() > 5, "{} splits", a.splits.len());
            assert!(
                a.feature_passes < b.feature_passes,
                "min_samples_leaf {leaf}: {} passes pruned, {} not",
                a.feature_passes,
                b.feature_passes
            );
        }
    }

    #[test]
    fn partition_is_stable() {
        let mut rows = vec![0u32, 1, 2, 3, 4, 5];
        let col = [1u8, 2, 1, 2, 0, 1];
        let mut t = [false; 256];
        t[1] = true;
        let mut s = Vec::new();
        let l = partition(&mut rows, &mut s, &col, &t);
        assert_eq!(l, 3);
        assert_eq!(rows, vec![0, 2, 5, 1, 3, 4]);
    }
}
