//! Fitted preprocessing ([`Preprocessor`]): imputation, missing indicators, one-hot / frequency
//! / target encoding, category codes for the tree engine and standardization. Fitted on
//! training rows only, serialized with the model, applied by column name.

use automl_core::PrepKind;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::frame::{Column, ColumnData, ColumnKind, Frame, MISSING_CODE, format_number};
use crate::hash::FxMap;
use crate::target_encode::{self, Target};

/// Layout version of a serialized [`Preprocessor`].
pub const PREP_VERSION: u32 = 1;
/// Categoricals with at most this many training levels are one-hot encoded (Scaled / Dense).
pub const ONE_HOT_MAX_LEVELS: usize = 10;
/// Categoricals with more training levels than this are frequency encoded for the tree engine.
pub const TREE_MAX_CODES: usize = 254;
/// Numbers are clipped to +-this before imputation/standardization (Scaled / Dense), so no
/// arithmetic can overflow.
pub const CLIP: f64 = 1e100;
/// Fewest missing training rows for which a column gets a missing indicator. An indicator seen
/// missing on one to four rows is learned from those rows alone: on penguins, one training row
/// with every measurement missing (an Adelie) taught the linear models "missing means Adelie",
/// and the one such test row (a Gentoo) got probability 0.0014 for its class; without the
/// indicators it gets 0.81. Such columns are still imputed, only without the indicator.
pub const MIN_MISSING_FOR_INDICATOR: usize = 5;
/// Standard deviations below this are treated as 1 (constant output in the training rows).
const MIN_STD: f64 = 1e-12;

/// How one input column is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Encoding {
    /// Numbers clipped to +-CLIP, missing -> `fill`, plus an optional missing indicator.
    Numeric { fill: f64, indicator: bool },
    /// Numbers as they are, NaN for missing (tree engine).
    Raw,
    /// One output per training level (missing -> most frequent level, unseen -> all zero),
    /// plus an optional missing indicator.
    OneHot {
        levels: Vec<String>,
        fill: Option<usize>,
        indicator: bool,
    },
    /// Share of the training rows holding the level (unseen -> 0); missing -> `fill`
    /// (None = NaN, for the tree engine), plus an optional missing indicator.
    Frequency {
        levels: Vec<(String, f64)>,
        fill: Option<f64>,
        indicator: bool,
    },
    /// Index of the level among the training levels as f64 (NaN for missing / unseen).
    Codes { levels: Vec<String> },
    /// Target encoding (`ScaledTarget` / `DenseTarget` kinds, more than
    /// [`ONE_HOT_MAX_LEVELS`] training levels): `width` outputs per row, level `l` encoded as
    /// `values[l * width..]`, missing / unseen -> `prior`, plus an optional missing
    /// indicator. (New variant at the end: stored models are positional.)
    Target {
        levels: Vec<String>,
        values: Vec<f64>,
        prior: Vec<f64>,
        indicator: bool,
    },
}

impl Encoding {
    fn width(&self) -> usize {
        match self {
            Encoding::Numeric { indicator, .. } | Encoding::Frequency { indicator, .. } => {
                1 + usize::from(*indicator)
            }
            Encoding::Raw | Encoding::Codes { .. } => 1,
            Encoding::OneHot {
                levels, indicator, ..
            } => levels.len() + usize::from(*indicator),
            Encoding::Target {
                prior, indicator, ..
            } => prior.len() + usize::from(*indicator),
        }
    }
    fn level_names(&self) -> Vec<&str> {
        match self {
            Encoding::OneHot { levels, .. }
            | Encoding::Codes { levels }
            | Encoding::Target { levels, .. } => levels.iter().map(String::as_str).collect(),
            Encoding::Frequency { levels, .. } => levels.iter().map(|(l, _)| l.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// One input column of a fitted preprocessor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Input {
    name: String,
    kind: ColumnKind,
    enc: Encoding,
}

/// Fitted preprocessing for one [`PrepKind`]. Fit on the training rows of a fold with
/// [`Preprocessor::fit`], then transform any frame holding the same column names (any order,
/// extra columns ignored).
///
/// - `Scaled` / `Dense`: numbers clipped to +-1e100, missing (NaN, infinity) imputed with the
///   training median (boolean: most frequent), categoricals one-hot (<= 10 training levels;
///   missing -> most frequent level, unseen -> all zeros) or frequency encoded, a missing
///   indicator for every column missing on at least [`MIN_MISSING_FOR_INDICATOR`] training
///   rows; `Scaled` then
///   standardizes every output. Never produces NaN or infinity.
/// - `Tree`: numbers raw (NaN for missing or infinite), categoricals as the index of the level
///   among the training levels (NaN for missing / unseen), flagged in
///   [`Preprocessor::categorical_mask`]; more than 254 training levels -> frequency encoding.
/// - `ScaledTarget` / `DenseTarget` (fitted with [`Preprocessor::fit_target`]): as `Scaled` /
///   `Dense`, except that categoricals with more than 10 training levels are target encoded
///   ([`crate::target_encode`]) instead of frequency encoded; one-hot stays for the others
///   (exact, and no worse than a smoothed mean for a linear model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    version: u32,
    kind: PrepKind,
    inputs: Vec<Input>,
    /// (mean, std) per output, `Scaled` only.
    scale: Vec<(f64, f64)>,
    n_outputs: usize,
}

/// A column's value at one row, as a category of the fitted levels.
#[derive(Clone, Copy, PartialEq)]
enum Cat {
    Missing,
    Unseen,
    Level(usize),
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let hi = *m;
    if v.len() % 2 == 1 {
        Some(hi)
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(lo / 2.0 + hi / 2.0)
    }
}

impl Preprocessor {
    /// Fit on `rows` of `frame` (every column of the frame is an input). A target-encoded
    /// kind needs the targets: it is fitted as its [`PrepKind::base`] here (use
    /// [`Preprocessor::fit_target`]).
    pub fn fit(frame: &Frame, rows: &[usize], kind: PrepKind) -> Preprocessor {
        let kind = kind.base();
        let inputs: Vec<Input> = frame
            .columns
            .iter()
            .map(|c| Input {
                name: c.name.clone(),
                kind: c.kind,
                enc: fit_column(c, rows, kind),
            })
            .collect();
        let n_outputs = inputs.iter().map(|i| i.enc.width()).sum();
        let mut prep = Preprocessor {
            version: PREP_VERSION,
            kind,
            inputs,
            scale: Vec::new(),
            n_outputs,
        };
        if kind == PrepKind::Scaled {
            let refs: Vec<&Column> = frame.columns.iter().collect();
            let x = prep
                .encode(&refs, rows)
                .expect("the training frame matches itself");
            prep.scale = standardization(&x);
        }
        prep
    }

    /// Fit a target-encoded kind (`ScaledTarget` / `DenseTarget`; any other kind is fitted
    /// as [`Preprocessor::fit`] does) on `rows` of `frame` whose targets are `target.y`
    /// (aligned with `rows`). Returns the preprocessor, which encodes new rows with the
    /// statistics of all of `rows`, and the transformed training rows, whose target-encoded
    /// columns are **out-of-fold** (no row's encoding uses its own label) and on which the
    /// `ScaledTarget` standardization is computed.
    pub fn fit_target(
        frame: &Frame,
        rows: &[usize],
        kind: PrepKind,
        target: &Target,
    ) -> Result<(Preprocessor, Array2<f64>), DataError> {
        if !kind.is_target_encoded() {
            let prep = Preprocessor::fit(frame, rows, kind);
            let x = prep.transform_rows(frame, rows)?;
            return Ok((prep, x));
        }
        let mut oof_parts = Vec::new();
        let inputs: Vec<Input> = frame
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let enc = match fit_column(c, rows, kind.base()) {
                    Encoding::Frequency {
                        levels, indicator, ..
                    } => {
                        let names: Vec<&str> = levels.iter().map(|(l, _)| l.as_str()).collect();
                        let cats: Vec<Option<usize>> = categories(c, &names, rows)
                            .into_iter()
                            .map(|c| match c {
                                Cat::Level(l) => Some(l),
                                _ => None,
                            })
                            .collect();
                        let (table, oof) = target_encode::fit(&cats, names.len(), target);
                        oof_parts.push((j, oof));
                        Encoding::Target {
                            levels: levels.into_iter().map(|(l, _)| l).collect(),
                            values: table.values,
                            prior: table.prior,
                            indicator,
                        }
                    }
                    e => e,
                };
                Input {
                    name: c.name.clone(),
                    kind: c.kind,
                    enc,
                }
            })
            .collect();
        let n_outputs = inputs.iter().map(|i| i.enc.width()).sum();
        let mut prep = Preprocessor {
            version: PREP_VERSION,
            kind,
            inputs,
            scale: Vec::new(),
            n_outputs,
        };
        let refs: Vec<&Column> = frame.columns.iter().collect();
        let mut x = prep.encode(&refs, rows)?;
        // The training rows' target columns: out-of-fold encodings instead of the full table.
        let mut offsets = Vec::with_capacity(prep.inputs.len());
        let mut off = 0;
        for i in &prep.inputs {
            offsets.push(off);
            off += i.enc.width();
        }
        for (j, oof) in oof_parts {
            let w = target.width();
            for r in 0..rows.len() {
                for k in 0..w {
                    x[[r, offsets[j] + k]] = oof[r * w + k];
                }
            }
        }
        if kind == PrepKind::ScaledTarget {
            prep.scale = standardization(&x);
            for (mut c, &(mean, sd)) in x.columns_mut().into_iter().zip(&prep.scale) {
                c.mapv_inplace(|v| (v - mean) / sd);
            }
        }
        x.mapv_inplace(|v| if v.is_finite() { v } else { 0.0 });
        Ok((prep, x))
    }

    /// Transform every row of `frame` (columns matched by name).
    pub fn transform(&self, frame: &Frame) -> Result<Array2<f64>, DataError> {
        let rows: Vec<usize> = (0..frame.n_rows).collect();
        self.transform_rows(frame, &rows)
    }

    /// Transform `rows` of `frame` (columns matched by name, any order, extra columns ignored).
    /// A column the preprocessor was fitted on but absent from `frame` is an error.
    pub fn transform_rows(&self, frame: &Frame, rows: &[usize]) -> Result<Array2<f64>, DataError> {
        let by_name: FxMap<&str, &Column> =
            frame.columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let absent: Vec<String> = self
            .inputs
            .iter()
            .filter(|i| !by_name.contains_key(i.name.as_str()))
            .map(|i| i.name.clone())
            .collect();
        if !absent.is_empty() {
            return Err(DataError::FrameMissingColumns { columns: absent });
        }
        if let Some(&bad) = rows.iter().find(|&&r| r >= frame.n_rows) {
            return Err(DataError::RowOutOfRange {
                row: bad,
                n_rows: frame.n_rows,
            });
        }
        let cols: Vec<&Column> = self
            .inputs
            .iter()
            .map(|i| by_name[i.name.as_str()])
            .collect();
        let mut x = self.encode(&cols, rows)?;
        if matches!(self.kind, PrepKind::Scaled | PrepKind::ScaledTarget) {
            for (mut c, &(mean, sd)) in x.columns_mut().into_iter().zip(&self.scale) {
                c.mapv_inplace(|v| (v - mean) / sd);
            }
        }
        if self.kind != PrepKind::Tree {
            // Belt and braces: the arithmetic above cannot overflow (values are clipped), but the
            // no-NaN / no-infinity contract must hold whatever the input.
            x.mapv_inplace(|v| if v.is_finite() { v } else { 0.0 });
        }
        Ok(x)
    }

    /// Encode (without standardization) `rows` of the given columns (in input order).
    fn encode(&self, cols: &[&Column], rows: &[usize]) -> Result<Array2<f64>, DataError> {
        let mut x = Array2::<f64>::zeros((rows.len(), self.n_outputs));
        let mut off = 0;
        for (input, col) in self.inputs.iter().zip(cols) {
            match &input.enc {
                Encoding::Numeric { fill, indicator } => {
                    let v = numeric_values(col, rows)?;
                    for (r, &val) in v.iter().enumerate() {
                        if val.is_finite() {
                            x[[r, off]] = val.clamp(-CLIP, CLIP);
                        } else {
                            x[[r, off]] = *fill;
                            if *indicator {
                                x[[r, off + 1]] = 1.0;
                            }
                        }
                    }
                }
                Encoding::Raw => {
                    let v = numeric_values(col, rows)?;
                    for (r, &val) in v.iter().enumerate() {
                        x[[r, off]] = if val.is_finite() { val } else { f64::NAN };
                    }
                }
                enc @ (Encoding::OneHot { .. }
                | Encoding::Frequency { .. }
                | Encoding::Codes { .. }
                | Encoding::Target { .. }) => {
                    let cats = categories(col, &enc.level_names(), rows);
                    for (r, &c) in cats.iter().enumerate() {
                        match enc {
                            Encoding::OneHot {
                                levels,
                                fill,
                                indicator,
                            } => match c {
                                Cat::Level(l) => x[[r, off + l]] = 1.0,
                                Cat::Unseen => {}
                                Cat::Missing => {
                                    if let Some(f) = fill {
                                        x[[r, off + f]] = 1.0;
                                    }
                                    if *indicator {
                                        x[[r, off + levels.len()]] = 1.0;
                                    }
                                }
                            },
                            Encoding::Frequency {
                                levels,
                                fill,
                                indicator,
                            } => match c {
                                Cat::Level(l) => x[[r, off]] = levels[l].1,
                                Cat::Unseen => x[[r, off]] = 0.0,
                                Cat::Missing => {
                                    x[[r, off]] = fill.unwrap_or(f64::NAN);
                                    if *indicator {
                                        x[[r, off + 1]] = 1.0;
                                    }
                                }
                            },
                            Encoding::Target {
                                values,
                                prior,
                                indicator,
                                ..
                            } => {
                                let w = prior.len();
                                let src = match c {
                                    Cat::Level(l) => &values[l * w..(l + 1) * w],
                                    _ => &prior[..],
                                };
                                for (k, &v) in src.iter().enumerate() {
                                    x[[r, off + k]] = v;
                                }
                                if *indicator && c == Cat::Missing {
                                    x[[r, off + w]] = 1.0;
                                }
                            }
                            _ => {
                                x[[r, off]] = match c {
                                    Cat::Level(l) => l as f64,
                                    _ => f64::NAN,
                                }
                            }
                        }
                    }
                }
            }
            off += input.enc.width();
        }
        Ok(x)
    }

    /// Number of output columns.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Names of the output columns: `col`, `col__missing`, `col=level`, `col__freq`, `col__te`
    /// (target encoding: regression, binary) or `col__te=<class index>` (multiclass).
    pub fn output_names(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.n_outputs);
        for i in &self.inputs {
            match &i.enc {
                Encoding::Numeric { indicator, .. } => {
                    out.push(i.name.clone());
                    if *indicator {
                        out.push(format!("{}__missing", i.name));
                    }
                }
                Encoding::Raw | Encoding::Codes { .. } => out.push(i.name.clone()),
                Encoding::OneHot {
                    levels, indicator, ..
                } => {
                    out.extend(levels.iter().map(|l| format!("{}={l}", i.name)));
                    if *indicator {
                        out.push(format!("{}__missing", i.name));
                    }
                }
                Encoding::Frequency { indicator, .. } => {
                    out.push(format!("{}__freq", i.name));
                    if *indicator {
                        out.push(format!("{}__missing", i.name));
                    }
                }
                Encoding::Target {
                    prior, indicator, ..
                } => {
                    if prior.len() == 1 {
                        out.push(format!("{}__te", i.name));
                    } else {
                        out.extend((0..prior.len()).map(|c| format!("{}__te={c}", i.name)));
                    }
                    if *indicator {
                        out.push(format!("{}__missing", i.name));
                    }
                }
            }
        }
        out
    }

    /// Per output: true when it holds native category codes (`Tree` kind only).
    pub fn categorical_mask(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.n_outputs);
        for i in &self.inputs {
            let is_code = matches!(i.enc, Encoding::Codes { .. });
            out.extend(std::iter::repeat_n(is_code, i.enc.width()));
        }
        out
    }

    /// Number of levels of each output that holds category codes (0 for other outputs).
    pub fn category_counts(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.n_outputs);
        for i in &self.inputs {
            match &i.enc {
                Encoding::Codes { levels } => out.push(levels.len()),
                e => out.extend(std::iter::repeat_n(0, e.width())),
            }
        }
        out
    }

    /// The kind this preprocessor was fitted for.
    pub fn kind(&self) -> PrepKind {
        self.kind
    }

    /// Names of the input columns it needs.
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }
}

/// Per output column of `x`: (mean, standard deviation), a degenerate deviation as 1.
fn standardization(x: &Array2<f64>) -> Vec<(f64, f64)> {
    let m = x.nrows().max(1) as f64;
    x.columns()
        .into_iter()
        .map(|c| {
            let mean = c.sum() / m;
            let var = c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
            let sd = var.sqrt();
            let sd = if sd.is_finite() && sd > MIN_STD {
                sd
            } else {
                1.0
            };
            (if mean.is_finite() { mean } else { 0.0 }, sd)
        })
        .collect()
}

/// Fit the encoding of one column on the training rows.
fn fit_column(col: &Column, rows: &[usize], kind: PrepKind) -> Encoding {
    match &col.data {
        ColumnData::Numeric(v) => {
            if kind == PrepKind::Tree {
                return Encoding::Raw;
            }
            let present: Vec<f64> = rows
                .iter()
                .map(|&r| v[r])
                .filter(|x| x.is_finite())
                .map(|x| x.clamp(-CLIP, CLIP))
                .collect();
            let indicator = rows.len() - present.len() >= MIN_MISSING_FOR_INDICATOR;
            let fill = if col.kind == ColumnKind::Boolean {
                let ones = present.iter().filter(|&&x| x >= 0.5).count();
                if ones * 2 > present.len() { 1.0 } else { 0.0 }
            } else {
                median(present).unwrap_or(0.0)
            };
            Encoding::Numeric { fill, indicator }
        }
        ColumnData::Categorical { codes, levels } => {
            let mut counts = vec![0usize; levels.len()];
            let mut n_missing = 0;
            for &r in rows {
                let c = codes[r];
                if c == MISSING_CODE || c as usize >= levels.len() {
                    n_missing += 1;
                } else {
                    counts[c as usize] += 1;
                }
            }
            let mut seen: Vec<(String, usize)> = levels
                .iter()
                .zip(&counts)
                .filter(|(_, n)| **n > 0)
                .map(|(l, &n)| (l.clone(), n))
                .collect();
            seen.sort_by(|a, b| a.0.cmp(&b.0));
            let indicator = n_missing >= MIN_MISSING_FOR_INDICATOR && kind != PrepKind::Tree;
            // Most frequent level (ties: first in sorted order).
            let mode = seen
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.1.cmp(&b.1.1).then(b.0.cmp(&a.0)))
                .map(|(i, _)| i);
            let total = rows.len().max(1) as f64;
            let freq = |seen: Vec<(String, usize)>, fill: Option<f64>, indicator: bool| {
                Encoding::Frequency {
                    levels: seen
                        .into_iter()
                        .map(|(l, n)| (l, n as f64 / total))
                        .collect(),
                    fill,
                    indicator,
                }
            };
            match kind {
                PrepKind::Tree if seen.len() <= TREE_MAX_CODES => Encoding::Codes {
                    levels: seen.into_iter().map(|(l, _)| l).collect(),
                },
                PrepKind::Tree => freq(seen, None, false),
                _ if seen.len() <= ONE_HOT_MAX_LEVELS => Encoding::OneHot {
                    levels: seen.into_iter().map(|(l, _)| l).collect(),
                    fill: mode,
                    indicator,
                },
                _ => {
                    let fill = mode.map_or(0.0, |m| seen[m].1 as f64 / total);
                    freq(seen, Some(fill), indicator)
                }
            }
        }
    }
}

/// The numbers of `rows` of a column the preprocessor treats as numeric. A categorical column
/// is accepted when its levels parse as numbers.
fn numeric_values(col: &Column, rows: &[usize]) -> Result<Vec<f64>, DataError> {
    match &col.data {
        ColumnData::Numeric(v) => Ok(rows.iter().map(|&r| v[r]).collect()),
        ColumnData::Categorical { codes, levels } => {
            let parsed: Vec<Option<f64>> = levels
                .iter()
                .map(|l| l.trim().parse::<f64>().ok())
                .collect();
            rows.iter()
                .map(|&r| {
                    let c = codes[r];
                    if c == MISSING_CODE || c as usize >= levels.len() {
                        return Ok(f64::NAN);
                    }
                    parsed[c as usize].ok_or_else(|| DataError::NotNumeric {
                        column: col.name.clone(),
                        value: levels[c as usize].clone(),
                    })
                })
                .collect()
        }
    }
}

/// The category (among `fitted` levels) of `rows` of a column, matched by level string.
fn categories(col: &Column, fitted: &[&str], rows: &[usize]) -> Vec<Cat> {
    let index: FxMap<&str, usize> = fitted.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let lookup = |s: &str| index.get(s).map_or(Cat::Unseen, |&i| Cat::Level(i));
    match &col.data {
        ColumnData::Categorical { codes, levels } => {
            let map: Vec<Cat> = levels.iter().map(|l| lookup(l)).collect();
            rows.iter()
                .map(|&r| {
                    let c = codes[r];
                    if c == MISSING_CODE {
                        Cat::Missing
                    } else {
                        map.get(c as usize).copied().unwrap_or(Cat::Missing)
                    }
                })
                .collect()
        }
        ColumnData::Numeric(v) => rows
            .iter()
            .map(|&r| {
                if v[r].is_finite() {
                    lookup(&format_number(v[r]))
                } else {
                    Cat::Missing
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
