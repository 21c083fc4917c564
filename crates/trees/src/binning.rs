//! Quantile binning: raw feature values -> u8 bin codes, computed once per dataset and shared.
//!
//! Bin 0 of every feature is the missing bin (NaN, and for categorical columns also negative or
//! non-integer codes). Numeric features get up to `max_bins` value bins `1..=max_bins` whose
//! upper bounds are midpoints between distinct training values, chosen greedily so that each
//! bin holds about the same number of rows (frequent values get a bin of their own). A value
//! `v` falls in the first bin `b` with `v <= upper[b - 1]`; the last upper bound is `+inf`.
//! Categorical features map code `c` to bin `c + 1` for `c < max_bins - 1`; larger codes share
//! the last bin (`max_bins`).

use crate::error::TreeError;
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// How one feature's raw values map to bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    /// True for a categorical (integer code) feature.
    pub categorical: bool,
    /// Number of bins including the missing bin 0.
    pub n_bins: usize,
    /// Numeric: upper bound of value bin `b` at index `b - 1` (last is `+inf`). Empty for
    /// categorical features.
    pub upper: Vec<f64>,
    /// Categorical: codes `>= cat_cap` share bin `cat_cap + 1`.
    pub cat_cap: u32,
}

impl FeatureBins {
    /// The bin of a raw value.
    #[inline]
    pub fn bin(&self, v: f64) -> u8 {
        if v.is_nan() {
            return 0;
        }
        if self.categorical {
            cat_bin(v, self.cat_cap)
        } else {
            (1 + self.upper.partition_point(|&u| u < v)) as u8
        }
    }

    fn numeric(values: &mut [f64], max_bins: usize, min_data_in_bin: usize) -> FeatureBins {
        values.sort_unstable_by(|a, b| a.partial_cmp(b).expect("NaN filtered out"));
        if values.is_empty() {
            return FeatureBins {
                categorical: false,
                n_bins: 2,
                upper: vec![f64::INFINITY],
                cat_cap: 0,
            };
        }
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for &v in values.iter() {
            match distinct.last_mut() {
                Some((d, c)) if *d == v => *c += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let mut upper = Vec::new();
        let mut cur = 0usize;
        if distinct.len() <= max_bins {
            // one bin per distinct value, except that a bin keeps at least MIN_DATA_IN_BIN rows
            for i in 0..distinct.len() - 1 {
                cur += distinct[i].1;
                if cur >= min_data_in_bin {
                    upper.push(midpoint(distinct[i].0, distinct[i + 1].0));
                    cur = 0;
                }
            }
        } else {
            let mut rest = values.len();
            let mut bins_left = max_bins;
            for i in 0..distinct.len() - 1 {
                cur += distinct[i].1;
                let target = rest.div_ceil(bins_left).max(min_data_in_bin);
                // close the bin when it is full, or when the next value alone would fill one
                let next_big = distinct[i + 1].1 >= target;
                if bins_left > 1 && (cur >= target || (next_big && cur >= min_data_in_bin)) {
                    upper.push(midpoint(distinct[i].0, distinct[i + 1].0));
                    rest -= cur;
                    bins_left -= 1;
                    cur = 0;
                }
            }
        }
        upper.push(f64::INFINITY);
        FeatureBins {
            categorical: false,
            n_bins: upper.len() + 1,
            upper,
            cat_cap: 0,
        }
    }
}

/// Fewest rows a numeric bin holds (as LightGBM's `min_data_in_bin`), except the last bin.
pub const MIN_DATA_IN_BIN: usize = 3;

/// The bin of a categorical code with cap `cap`.
#[inline]
pub(crate) fn cat_bin(v: f64, cap: u32) -> u8 {
    if v.is_nan() || v < 0.0 || v.fract() != 0.0 {
        0
    } else if v < cap as f64 {
        (v as u32 + 1) as u8
    } else {
        (cap + 1) as u8
    }
}

fn midpoint(a: f64, b: f64) -> f64 {
    let m = a + (b - a) / 2.0;
    if m >= b || !m.is_finite() { a } else { m }
}

/// A binned dataset: u8 bin codes stored column-major, plus the bin mappers that produced them.
/// Read-only once built; share it behind an `Arc` between all models fitted on the same rows.
#[derive(Debug, Clone)]
pub struct BinnedData {
    n_rows: usize,
    bins: Vec<u8>,
    mappers: Arc<Vec<FeatureBins>>,
    /// Per feature, the bin holding at least [`DOMINANT_SHARE`] of the rows, if one does.
    dominant: Vec<Option<u8>>,
}

/// Share of a feature's rows one bin must hold to be its dominant bin: the gradient histogram
/// skips that bin's rows and gets its sums from the node's totals (as LightGBM does with a
/// feature's most frequent bin). Runs of rows landing in one bin chain every addition through
/// the same memory; below this share the branch that skips them costs more than it saves.
pub const DOMINANT_SHARE: f64 = 0.7;

impl BinnedData {
    /// Compute bin mappers on `x` (rows x features; NaN = missing) and bin it. `categorical[j]`
    /// flags column `j` as integer category codes. `max_bins` is in `2..=255`. Numeric bins
    /// hold at least [`MIN_DATA_IN_BIN`] rows.
    pub fn new(
        x: ArrayView2<'_, f64>,
        categorical: &[bool],
        max_bins: usize,
    ) -> Result<BinnedData, TreeError> {
        Self::with_min_data_in_bin(x, categorical, max_bins, MIN_DATA_IN_BIN)
    }

    /// As [`BinnedData::new`] with an explicit minimum of rows per numeric bin (1 = every
    /// distinct value may get its own bin).
    pub fn with_min_data_in_bin(
        x: ArrayView2<'_, f64>,
        categorical: &[bool],
        max_bins: usize,
        min_data_in_bin: usize,
    ) -> Result<BinnedData, TreeError> {
        let min_data_in_bin = min_data_in_bin.max(1);
        if !(2..=255).contains(&max_bins) {
            return Err(TreeError::InvalidParam {
                param: "max_bins",
                value: max_bins.to_string(),
                reason: "must be in 2..=255".into(),
            });
        }
        if categorical.len() != x.ncols() {
            return Err(TreeError::Shape(format!(
                "categorical flags have {} entries but x has {} columns; pass one flag per column",
                categorical.len(),
                x.ncols()
            )));
        }
        let mut mappers = Vec::with_capacity(x.ncols());
        let mut buf = Vec::with_capacity(x.nrows());
        for (j, col) in x.columns().into_iter().enumerate() {
            if categorical[j] {
                let cap = (max_bins - 1) as u32;
                let mut top = 0u32;
                for &v in col.iter() {
                    top = top.max(cat_bin(v, cap) as u32);
                }
                mappers.push(FeatureBins {
                    categorical: true,
                    n_bins: top as usize + 1,
                    upper: Vec::new(),
                    cat_cap: cap,
                });
            } else {
                buf.clear();
                buf.extend(col.iter().copied().filter(|v| !v.is_nan()));
                mappers.push(FeatureBins::numeric(&mut buf, max_bins, min_data_in_bin));
            }
        }
        Ok(Self::bin_with(Arc::new(mappers), x))
    }

    /// Bin new rows (e.g. a validation set) with this dataset's mappers.
    pub fn apply(&self, x: ArrayView2<'_, f64>) -> Result<BinnedData, TreeError> {
        if x.ncols() != self.n_features() {
            return Err(TreeError::Shape(format!(
                "x has {} columns but the bins were computed on {}; pass the same columns",
                x.ncols(),
                self.n_features()
            )));
        }
        Ok(Self::bin_with(self.mappers.clone(), x))
    }

    fn bin_with(mappers: Arc<Vec<FeatureBins>>, x: ArrayView2<'_, f64>) -> BinnedData {
        let n = x.nrows();
        let mut bins = vec![0u8; n * mappers.len()];
        let mut dominant = Vec::with_capacity(mappers.len());
        let mut counts = [0usize; 256];
        for (j, col) in x.columns().into_iter().enumerate() {
            let m = &mappers[j];
            let out = &mut bins[j * n..(j + 1) * n];
            counts.fill(0);
            for (o, &v) in out.iter_mut().zip(col.iter()) {
                *o = m.bin(v);
                counts[*o as usize] += 1;
            }
            let (top, &c) = counts
                .iter()
                .enumerate()
                .max_by_key(|&(b, c)| (*c, std::cmp::Reverse(b)))
                .expect("256 bins");
            dominant.push((n > 0 && c as f64 >= DOMINANT_SHARE * n as f64).then_some(top as u8));
        }
        BinnedData {
            n_rows: n,
            bins,
            mappers,
            dominant,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mappers.len()
    }
    /// The bin mappers, one per feature.
    pub fn mappers(&self) -> &[FeatureBins] {
        &self.mappers
    }
    /// The bin of feature `j` holding at least [`DOMINANT_SHARE`] of the rows, if any.
    #[inline]
    pub fn dominant(&self, j: usize) -> Option<u8> {
        self.dominant[j]
    }
    /// The same data with no dominant bins (every histogram adds every row): the reference
    /// the skipping is tested against.
    #[cfg(test)]
    pub(crate) fn without_dominant(&self) -> BinnedData {
        BinnedData {
            dominant: vec![None; self.dominant.len()],
            ..self.clone()
        }
    }
    /// Bin codes of feature `j`, one per row.
    #[inline]
    pub fn column(&self, j: usize) -> &[u8] {
        &self.bins[j * self.n_rows..(j + 1) * self.n_rows]
    }
}

/// Binned views of one feature matrix, built lazily once per `max_bins` and shared read-only by
/// every tree model fitted on it (e.g. all trials on one cross-validation fold).
pub struct BinnedCache {
    x: Arc<Array2<f64>>,
    categorical: Vec<bool>,
    built: Mutex<HashMap<usize, Arc<OnceLock<Arc<BinnedData>>>>>,
}

impl std::fmt::Debug for BinnedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinnedCache")
            .field("rows", &self.x.nrows())
            .field("cols", &self.x.ncols())
            .finish()
    }
}

impl BinnedCache {
    /// A cache over `x` (rows x features, NaN = missing) with categorical flags per column.
    pub fn new(x: Arc<Array2<f64>>, categorical: Vec<bool>) -> BinnedCache {
        BinnedCache {
            x,
            categorical,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The matrix the cache bins.
    pub fn x(&self) -> &Arc<Array2<f64>> {
        &self.x
    }

    /// The categorical flags.
    pub fn categorical(&self) -> &[bool] {
        &self.categorical
    }

    /// The binned data for `max_bins` (built on first use; concurrent callers wait for one
    /// build). Panics only if `max_bins` is outside `2..=255` or the flags do not match the
    /// columns, which [`BinnedCache::try_get`] reports as an error instead.
    pub fn get(&self, max_bins: usize) -> Arc<BinnedData> {
        self.try_get(max_bins).expect("BinnedCache::get")
    }

    /// As [`BinnedCache::get`], reporting invalid input as an error.
    pub fn try_get(&self, max_bins: usize) -> Result<Arc<BinnedData>, TreeError> {
        let cell = {
            let mut map = self.built.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(max_bins).or_default().clone()
        };
        if let Some(d) = cell.get() {
            return Ok(d.clone());
        }
        let data = Arc::new(BinnedData::new(self.x.view(), &self.categorical, max_bins)?);
        Ok(cell.get_or_init(|| data).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn numeric_bins_separate_distinct_values_and_missing() {
        let x = array![[1.0], [2.0], [2.0], [f64::NAN], [5.0]];
        let d = BinnedData::with_min_data_in_bin(x.view(), &[false], 255, 1).unwrap();
        assert_eq!(d.column(0), &[1, 2, 2, 0, 3]);
        let m = &d.mappers()[0];
        assert_eq!(m.n_bins, 4);
        assert_eq!(m.upper, vec![1.5, 3.5, f64::INFINITY]);
        assert_eq!(m.bin(1.5), 1);
        assert_eq!(m.bin(1.6), 2);
        assert_eq!(m.bin(100.0), 3);
    }

    #[test]
    fn rare_values_share_a_bin() {
        let x = array![[1.0], [2.0], [2.0], [3.0], [4.0], [4.0], [4.0], [5.0]];
        let d = BinnedData::new(x.view(), &[false], 255).unwrap();
        // {1, 2, 2} | {3, 4, 4, 4} | {5}
        assert_eq!(d.column(0), &[1, 1, 1, 2, 2, 2, 2, 3]);
    }

    #[test]
    fn quantile_bins_respect_max_bins_and_balance() {
        let x = Array2::from_shape_fn((1000, 1), |(i, _)| i as f64);
        let d = BinnedData::new(x.view(), &[false], 10).unwrap();
        let m = &d.mappers()[0];
        assert_eq!(m.n_bins, 11);
        let mut counts = [0usize; 11];
        for &b in d.column(0) {
            counts[b as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        for &c in &counts[1..] {
            assert_eq!(c, 100);
        }
    }

    #[test]
    fn categorical_codes_map_and_cap() {
        let x = array![[0.0], [3.0], [f64::NAN], [-1.0], [1.5], [300.0]];
        let d = BinnedData::new(x.view(), &[true], 255).unwrap();
        assert_eq!(d.column(0), &[1, 4, 0, 0, 0, 255]);
    }

    #[test]
    fn cache_builds_once_and_matches_direct() {
        let x = Arc::new(Array2::from_shape_fn((50, 2), |(i, j)| {
            (i * (j + 1)) as f64
        }));
        let c = BinnedCache::new(x.clone(), vec![false, true]);
        let a = c.get(16);
        let b = c.get(16);
        assert!(Arc::ptr_eq(&a, &b));
        let direct = BinnedData::new(x.view(), &[false, true], 16).unwrap();
        assert_eq!(a.column(0), direct.column(0));
        assert_eq!(a.column(1), direct.column(1));
        assert_eq!(a.mappers(), direct.mappers());
    }
}
