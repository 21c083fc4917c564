//! The data report: sizes, column kinds, missing shares, class balance, bad-data warnings and
//! the columns dropped from modelling (constant, ID-like, leaking: see `leakage.rs`).

use std::fmt;

use automl_core::Task;
use serde::{Deserialize, Serialize};

use crate::frame::{Column, ColumnData, ColumnKind, Frame, MISSING_CODE};
use crate::hash::FxMap;
use crate::leakage::{self, Probe};
use crate::split::RowBlocks;

/// Rows needed before "unique per row" means "identifier".
const ID_MIN_ROWS: usize = 20;
/// A class is very rare below this many rows ...
const RARE_CLASS_ROWS: usize = 20;
/// ... or below this share of the rows.
const RARE_CLASS_SHARE: f64 = 0.002;
/// Missing share above which a column is flagged.
const HIGH_MISSING: f64 = 0.5;
/// Rows needed before a repeated entity id is worth a warning.
const ENTITY_MIN_ROWS: usize = 50;
/// Name parts that mark a column as an entity id (with repeats: rows of one entity).
const ENTITY_NAME_PARTS: &[&str] = &[
    "id",
    "patient",
    "user",
    "customer",
    "client",
    "subject",
    "account",
    "member",
    "person",
    "device",
    "household",
    "player",
    "entity",
    "participant",
    "session",
    "uid",
    "uuid",
];

/// Whether `col` looks like the id of entities that own several rows each: named like an id
/// (`id`, `…_id`, `patient`, `user`, `customerId`, …), integer or text codes, no missing
/// value, and between 2 % and 50 % as many distinct values as rows (at least 5).
fn looks_like_entity_id(col: &Column, n: usize, n_unique: usize) -> bool {
    if n < ENTITY_MIN_ROWS || col.data.n_missing() > 0 {
        return false;
    }
    if n_unique < 5 || (n_unique as f64) < 0.02 * n as f64 || n_unique * 2 > n {
        return false;
    }
    let codes = match &col.data {
        ColumnData::Categorical { .. } => true,
        ColumnData::Numeric(v) => {
            col.kind == ColumnKind::Numeric && v.iter().all(|x| x.fract() == 0.0)
        }
    };
    // Split `patient_id`, `customer-id`, `userId` into lowercase parts.
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in col.name.chars() {
        if (!ch.is_alphanumeric() || (ch.is_uppercase() && prev_lower)) && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_lowercase();
        if ch.is_alphanumeric() {
            cur.extend(ch.to_lowercase());
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    codes
        && parts
            .iter()
            .any(|p| ENTITY_NAME_PARTS.contains(&p.as_str()))
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A column with a single value (dropped).
    Constant,
    /// A column unique per row, like an identifier (dropped).
    IdLike,
    /// Identical rows.
    DuplicateRows,
    /// A feature identical to, or a perfect predictor of, the target.
    Leakage,
    /// A class with very few rows.
    RareClass,
    /// A column with more than half of its values missing.
    HighMissing,
    /// Infinite values, treated as missing.
    Infinite,
    /// Rows whose target was missing were dropped.
    MissingTarget,
    /// A column that looks like an entity id shared by several rows: random folds may put one
    /// entity's rows on both sides of a split (consider `--group-col`).
    EntityId,
}

impl WarningKind {
    /// Short snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::Constant => "constant",
            WarningKind::IdLike => "id_like",
            WarningKind::DuplicateRows => "duplicate_rows",
            WarningKind::Leakage => "leakage",
            WarningKind::RareClass => "rare_class",
            WarningKind::HighMissing => "high_missing",
            WarningKind::Infinite => "infinite",
            WarningKind::MissingTarget => "missing_target",
            WarningKind::EntityId => "entity_id",
        }
    }
}

/// One finding about the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Category.
    pub kind: WarningKind,
    /// The column concerned, if any.
    pub column: Option<String>,
    /// Human-readable explanation.
    pub message: String,
}

/// The role a column plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// Used for modelling.
    Feature,
    /// The target.
    Target,
    /// Dropped from modelling (see `DataReport::dropped_columns`).
    Dropped,
}

/// Per-column summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// Column name.
    pub name: String,
    /// Inferred kind.
    pub kind: ColumnKind,
    /// Role in modelling.
    pub role: ColumnRole,
    /// Missing cells (rows with a missing target excluded).
    pub n_missing: usize,
    /// Missing share in [0, 1].
    pub missing_share: f64,
    /// Distinct non-missing values.
    pub n_unique: usize,
    /// Infinite values read (treated as missing).
    pub n_infinite: usize,
}

/// What was found in a training file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataReport {
    /// Rows kept (rows with a missing target excluded).
    pub n_rows: usize,
    /// Rows dropped because their target was missing.
    pub n_rows_dropped_missing_target: usize,
    /// Target column name.
    pub target: String,
    /// True when the target defaulted to the last column.
    pub target_defaulted: bool,
    /// The task.
    pub task: Task,
    /// Every column of the file (features, dropped ones and the target), in file order
    /// (target last).
    pub columns: Vec<ColumnReport>,
    /// Classes and their row counts, in class index order (empty for regression).
    pub class_counts: Vec<(String, usize)>,
    /// Bad-data findings.
    pub warnings: Vec<Warning>,
    /// Columns dropped from modelling, with the reason.
    pub dropped_columns: Vec<(String, String)>,
    /// Number of rows identical to an earlier row (modelling features and target).
    pub n_duplicate_rows: usize,
}

impl DataReport {
    /// Feature columns used for modelling, counted by kind: (numeric, categorical, boolean).
    pub fn feature_kind_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for col in self
            .columns
            .iter()
            .filter(|c| c.role == ColumnRole::Feature)
        {
            match col.kind {
                ColumnKind::Numeric => c.0 += 1,
                ColumnKind::Categorical => c.1 += 1,
                ColumnKind::Boolean => c.2 += 1,
            }
        }
        c
    }
    /// Record a column read for the validation splits only (`--group-col` / `--time-col`):
    /// listed at file position `pos` among the non-target columns as dropped from modelling
    /// with `reason`.
    pub fn add_split_column(&mut self, pos: usize, col: &Column, n_infinite: usize, reason: &str) {
        let n_missing = col.data.n_missing();
        let report = ColumnReport {
            name: col.name.clone(),
            kind: col.kind,
            role: ColumnRole::Dropped,
            n_missing,
            missing_share: n_missing as f64 / self.n_rows.max(1) as f64,
            n_unique: n_unique(col),
            n_infinite,
        };
        let pos = pos.min(self.columns.len().saturating_sub(1));
        self.columns.insert(pos, report);
        self.dropped_columns
            .push((col.name.clone(), reason.to_string()));
    }

    /// True if a warning of `kind` exists (for `column`, when given).
    pub fn has_warning(&self, kind: WarningKind, column: Option<&str>) -> bool {
        self.warnings
            .iter()
            .any(|w| w.kind == kind && (column.is_none() || w.column.as_deref() == column))
    }
}

impl fmt::Display for DataReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (num, cat, boo) = self.feature_kind_counts();
        write!(f, "rows: {}", self.n_rows)?;
        if self.n_rows_dropped_missing_target > 0 {
            write!(
                f,
                " ({} dropped: missing target)",
                self.n_rows_dropped_missing_target
            )?;
        }
        writeln!(
            f,
            "; features: {} ({num} numeric, {cat} categorical, {boo} boolean)",
            num + cat + boo
        )?;
        write!(
            f,
            "target: {} ({}{})",
            self.target,
            self.task,
            if self.target_defaulted {
                ", last column"
            } else {
                ""
            }
        )?;
        if !self.class_counts.is_empty() {
            let total = self.n_rows.max(1) as f64;
            let shown: Vec<String> = self
                .class_counts
                .iter()
                .take(12)
                .map(|(c, n)| format!("{c} {n} ({:.1}%)", 100.0 * *n as f64 / total))
                .collect();
            write!(f, "; classes: {}", shown.join(", "))?;
            if self.class_counts.len() > 12 {
                write!(f, ", ... ({} in all)", self.class_counts.len())?;
            }
        }
        writeln!(f)?;
        let mut miss: Vec<&ColumnReport> =
            self.columns.iter().filter(|c| c.n_missing > 0).collect();
        if !miss.is_empty() {
            miss.sort_by(|a, b| b.missing_share.total_cmp(&a.missing_share));
            let shown: Vec<String> = miss
                .iter()
                .take(8)
                .map(|c| format!("{} {:.1}%", c.name, 100.0 * c.missing_share))
                .collect();
            write!(f, "missing: {}", shown.join(", "))?;
            if miss.len() > 8 {
                write!(f, ", ... ({} columns with missing values)", miss.len())?;
            }
            writeln!(f)?;
        }
        if !self.dropped_columns.is_empty() {
            let shown: Vec<String> = self
                .dropped_columns
                .iter()
                .map(|(n, r)| format!("{n} ({r})"))
                .collect();
            writeln!(f, "dropped from modelling: {}", shown.join(", "))?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {}", w.message)?;
        }
        Ok(())
    }
}

/// Inputs of [`build_report`].
pub(crate) struct ReportInput<'a> {
    pub(crate) features: &'a Frame,
    pub(crate) target_column: &'a Column,
    pub(crate) y: &'a [f64],
    pub(crate) task: Task,
    pub(crate) classes: &'a [String],
    pub(crate) target: &'a str,
    pub(crate) target_defaulted: bool,
    pub(crate) n_rows_dropped_missing_target: usize,
    pub(crate) n_infinite: &'a [usize],
    pub(crate) n_infinite_target: usize,
    /// How rows tie together (the leakage check's folds follow it).
    pub(crate) blocks: &'a RowBlocks,
    /// Columns never excluded by the ID and leakage checks (`--keep-col`).
    pub(crate) keep: &'a [String],
}

/// Distinct non-missing values of a column, and whether missing values exist.
fn n_unique(col: &Column) -> usize {
    match &col.data {
        ColumnData::Numeric(v) => {
            let mut set: FxMap<u64, ()> = FxMap::default();
            set.reserve(v.len().min(1 << 16));
            for x in v.iter().filter(|x| x.is_finite()) {
                set.insert(canon(*x), ());
            }
            set.len()
        }
        ColumnData::Categorical { codes, levels } => {
            let mut seen = vec![false; levels.len()];
            let mut n = 0;
            for &c in codes {
                if c != MISSING_CODE && !seen[c as usize] {
                    seen[c as usize] = true;
                    n += 1;
                }
            }
            n
        }
    }
}

/// Bits of a number with -0.0 folded into 0.0.
#[inline]
fn canon(x: f64) -> u64 {
    if x == 0.0 { 0 } else { x.to_bits() }
}

/// Integer-valued, no missing, all distinct and forming a run of consecutive integers.
fn is_consecutive_integers(v: &[f64]) -> bool {
    if v.iter().any(|x| !x.is_finite() || x.fract() != 0.0) {
        return false;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.windows(2).all(|w| w[1] - w[0] == 1.0)
}

/// Integer-valued (ignoring missing values).
fn integer_valued(v: &[f64]) -> bool {
    v.iter().all(|x| !x.is_finite() || x.fract() == 0.0)
}

/// The values strictly increase, or strictly decrease, with the row order (no missing value).
fn strictly_monotonic(v: &[f64]) -> bool {
    v.len() >= 2
        && v.iter().all(|x| x.is_finite())
        && (v.windows(2).all(|w| w[1] > w[0]) || v.windows(2).all(|w| w[1] < w[0]))
}

/// Why a column is an exact identifier (a different value in every row, no missing value, and
/// text codes or integers that are consecutive or ordered like the rows), if it is one.
/// Floats are measurements, never exact identifiers.
fn exact_id(col: &Column, n: usize, nu: usize) -> Option<&'static str> {
    if n < ID_MIN_ROWS || nu != n || col.data.n_missing() > 0 {
        return None;
    }
    match (&col.kind, &col.data) {
        (ColumnKind::Categorical, _) => Some("a different text value in every row"),
        (ColumnKind::Numeric, ColumnData::Numeric(v)) => {
            if is_consecutive_integers(v) {
                Some("consecutive integers, one per row")
            } else if integer_valued(v) && strictly_monotonic(v) {
                Some("integers ordered like the rows")
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Why a column looks like an identifier without being an exact one: near-unique text or
/// integer codes (at least 99 % distinct among the present values).
fn near_id(col: &Column, n: usize, nu: usize) -> Option<String> {
    let present = n - col.data.n_missing();
    if n < ID_MIN_ROWS || present < ID_MIN_ROWS {
        return None;
    }
    let codes = match (&col.kind, &col.data) {
        (ColumnKind::Categorical, _) => true,
        (ColumnKind::Numeric, ColumnData::Numeric(v)) => integer_valued(v),
        _ => false,
    };
    (codes && nu * 100 >= present * 99).then(|| format!("{nu} distinct values in {present} rows"))
}

/// A score floored to 4 decimals, so a score below 1 never prints as 1.0000.
fn fmt_score(s: f64) -> String {
    format!("{:.4}", (s * 1e4).floor() / 1e4)
}

/// Per-row key of a column at row `i`: category code or canonical number bits; missing = one key.
#[inline]
fn key_at(col: &Column, i: usize) -> u64 {
    match &col.data {
        ColumnData::Numeric(v) => {
            if v[i].is_finite() {
                canon(v[i])
            } else {
                u64::MAX
            }
        }
        ColumnData::Categorical { codes, .. } => codes[i] as u64,
    }
}

/// Rows that repeat earlier rows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Duplicates {
    /// Rows identical (features and target) to an earlier row.
    full: usize,
    /// Groups of two or more rows with identical features.
    groups: usize,
    /// Rows whose features repeat an earlier row's (beyond the first of each group).
    rows: usize,
    /// Groups whose rows disagree on the target.
    conflicting: usize,
}

/// Duplicate rows over the feature columns `cols` (and the target).
fn count_duplicates(cols: &[&Column], target: &Column, n: usize) -> Duplicates {
    let mut hashes = vec![0x9E37_79B9_7F4A_7C15u64; n];
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    for c in cols {
        match &c.data {
            ColumnData::Numeric(v) => {
                for (h, x) in hashes.iter_mut().zip(v) {
                    let key = if x.is_finite() { canon(*x) } else { u64::MAX };
                    *h = (h.rotate_left(5) ^ key).wrapping_mul(K);
                }
            }
            ColumnData::Categorical { codes, .. } => {
                for (h, &code) in hashes.iter_mut().zip(codes) {
                    *h = (h.rotate_left(5) ^ code as u64).wrapping_mul(K);
                }
            }
        }
    }
    // Per feature hash: the first row, its group size and whether the targets differ; full
    // duplicates keyed by the feature hash and the target.
    let mut first: FxMap<u64, (usize, usize, bool)> = FxMap::default();
    let mut full: FxMap<(u64, u64), ()> = FxMap::default();
    first.reserve(n);
    let mut d = Duplicates::default();
    for (i, &h) in hashes.iter().enumerate() {
        match first.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((i, 1, false));
                full.insert((h, key_at(target, i)), ());
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                let (j, size, differ) = e.get_mut();
                // Equal hashes of different rows are counted only when the rows really match.
                if cols.iter().all(|c| key_at(c, i) == key_at(c, *j)) {
                    *size += 1;
                    d.rows += 1;
                    *differ |= key_at(target, i) != key_at(target, *j);
                    if full.insert((h, key_at(target, i)), ()).is_some() {
                        d.full += 1;
                    }
                }
            }
        }
    }
    for &(_, size, differ) in first.values() {
        if size > 1 {
            d.groups += 1;
            d.conflicting += usize::from(differ);
        }
    }
    d
}

/// Build the report and decide which columns to drop.
pub(crate) fn build_report(inp: ReportInput<'_>) -> DataReport {
    let n = inp.features.n_rows;
    let mut warnings = Vec::new();
    let mut dropped = Vec::new();
    let mut columns = Vec::new();
    let keep: Vec<&str> = inp.keep.iter().map(String::as_str).collect();
    let probe = Probe::new(inp.y, inp.task, inp.classes.len(), inp.blocks);
    for (col, &n_inf) in inp.features.columns.iter().zip(inp.n_infinite) {
        let n_missing = col.data.n_missing();
        let nu = n_unique(col);
        let share = if n == 0 {
            0.0
        } else {
            n_missing as f64 / n as f64
        };
        let mut role = ColumnRole::Feature;
        let distinct_with_missing = nu + usize::from(n_missing > 0);
        if distinct_with_missing <= 1 {
            let what = if nu == 0 {
                "every value missing".to_string()
            } else {
                format!("always '{}'", col.cell_string(0).unwrap_or_default())
            };
            warnings.push(Warning {
                kind: WarningKind::Constant,
                column: Some(col.name.clone()),
                message: format!(
                    "column '{}' is constant ({what}); dropped from modelling",
                    col.name
                ),
            });
            dropped.push((col.name.clone(), "constant".to_string()));
            role = ColumnRole::Dropped;
        } else if let Some(why) = exact_id(col, n, nu) {
            let kept = keep.contains(&col.name.as_str());
            warnings.push(Warning {
                kind: WarningKind::IdLike,
                column: Some(col.name.clone()),
                message: format!(
                    "column '{}' is an identifier ({why}, {nu} distinct in {n} rows); {}",
                    col.name,
                    if kept {
                        "kept (--keep-col)".to_string()
                    } else {
                        format!("dropped from modelling; --keep-col {} to keep it", col.name)
                    }
                ),
            });
            if !kept {
                dropped.push((col.name.clone(), "ID-like".to_string()));
                role = ColumnRole::Dropped;
            }
        } else if let Some(why) = near_id(col, n, nu) {
            warnings.push(Warning {
                kind: WarningKind::IdLike,
                column: Some(col.name.clone()),
                message: format!(
                    "column '{}' looks like an identifier ({why}); kept: remove it if it is one",
                    col.name
                ),
            });
        }
        if role == ColumnRole::Feature && share > HIGH_MISSING {
            warnings.push(Warning {
                kind: WarningKind::HighMissing,
                column: Some(col.name.clone()),
                message: format!(
                    "column '{}' is {:.1}% missing; it is kept (imputed, with a missing indicator) but carries little information",
                    col.name,
                    100.0 * share
                ),
            });
        }
        if role == ColumnRole::Feature && looks_like_entity_id(col, n, nu) {
            warnings.push(Warning {
                kind: WarningKind::EntityId,
                column: Some(col.name.clone()),
                message: format!(
                    "rows share `{0}` ({nu} values over {n} rows): random folds may be optimistic; consider --group-col {0}",
                    col.name
                ),
            });
        }
        if n_inf > 0 {
            warnings.push(Warning {
                kind: WarningKind::Infinite,
                column: Some(col.name.clone()),
                message: format!(
                    "column '{}' has {n_inf} infinite value(s); they are treated as missing",
                    col.name
                ),
            });
        }
        if role == ColumnRole::Feature {
            if let Some(score) = probe.as_ref().and_then(|p| p.score(col)) {
                if score >= leakage::WARN_SCORE {
                    let metric = probe.as_ref().map_or("", |p| p.metric());
                    let identical =
                        (0..n).all(|i| col.cell_string(i) == inp.target_column.cell_string(i));
                    let what = if identical {
                        format!("is identical to the target '{}' and ", inp.target)
                    } else {
                        String::new()
                    };
                    let kept = keep.contains(&col.name.as_str());
                    let action = if score < leakage::EXCLUDE_SCORE {
                        format!(
                            "(< {}): kept, but check that it is known at prediction time",
                            leakage::EXCLUDE_SCORE
                        )
                    } else if kept {
                        format!(
                            "(>= {}): likely leakage; kept (--keep-col)",
                            leakage::EXCLUDE_SCORE
                        )
                    } else {
                        dropped.push((col.name.clone(), "leakage".to_string()));
                        role = ColumnRole::Dropped;
                        format!(
                            "(>= {}): likely leakage, dropped from modelling; --keep-col {} to keep it",
                            leakage::EXCLUDE_SCORE,
                            col.name
                        )
                    };
                    warnings.push(Warning {
                        kind: WarningKind::Leakage,
                        column: Some(col.name.clone()),
                        message: format!(
                            "column '{}' {what}alone reaches cross-validated {metric} {} {action}",
                            col.name,
                            fmt_score(score)
                        ),
                    });
                }
            }
        }
        columns.push(ColumnReport {
            name: col.name.clone(),
            kind: col.kind,
            role,
            n_missing,
            missing_share: share,
            n_unique: nu,
            n_infinite: n_inf,
        });
    }
    columns.push(ColumnReport {
        name: inp.target.to_string(),
        kind: inp.target_column.kind,
        role: ColumnRole::Target,
        n_missing: 0,
        missing_share: 0.0,
        n_unique: n_unique(inp.target_column),
        n_infinite: inp.n_infinite_target,
    });
    if inp.n_rows_dropped_missing_target > 0 {
        warnings.push(Warning {
            kind: WarningKind::MissingTarget,
            column: Some(inp.target.to_string()),
            message: format!(
                "{} row(s) with a missing target '{}' were dropped",
                inp.n_rows_dropped_missing_target, inp.target
            ),
        });
    }
    if inp.n_infinite_target > 0 {
        warnings.push(Warning {
            kind: WarningKind::Infinite,
            column: Some(inp.target.to_string()),
            message: format!(
                "target '{}' has {} infinite value(s); those rows were dropped",
                inp.target, inp.n_infinite_target
            ),
        });
    }
    let kept: Vec<&Column> = inp
        .features
        .columns
        .iter()
        .zip(&columns)
        .filter(|(_, r)| r.role == ColumnRole::Feature)
        .map(|(c, _)| c)
        .collect();
    let dups = count_duplicates(&kept, inp.target_column, n);
    let n_dup = dups.full;
    if dups.groups > 0 {
        warnings.push(Warning {
            kind: WarningKind::DuplicateRows,
            column: None,
            message: format!(
                "{} group(s) of rows share identical features ({} row(s) repeat an earlier one, {n_dup} of them with the same target; {} group(s) disagree on the target): random folds put copies on both sides of a split, so cross-validation is optimistic; deduplicate, or keep copies together with --group-col",
                dups.groups, dups.rows, dups.conflicting
            ),
        });
    }
    let mut class_counts = Vec::new();
    if inp.task.is_classification() {
        let mut counts = vec![0usize; inp.classes.len()];
        for &c in inp.y {
            counts[c as usize] += 1;
        }
        for (label, &cnt) in inp.classes.iter().zip(&counts) {
            let share = cnt as f64 / n.max(1) as f64;
            if cnt < RARE_CLASS_ROWS || share < RARE_CLASS_SHARE {
                warnings.push(Warning {
                    kind: WarningKind::RareClass,
                    column: Some(inp.target.to_string()),
                    message: format!(
                        "class '{label}' has only {cnt} row(s) ({:.2}%); its predictions will be unreliable and some validation folds may lack it",
                        100.0 * share
                    ),
                });
            }
            class_counts.push((label.clone(), cnt));
        }
    }
    DataReport {
        n_rows: n,
        n_rows_dropped_missing_target: inp.n_rows_dropped_missing_target,
        target: inp.target.to_string(),
        target_defaulted: inp.target_defaulted,
        task: inp.task,
        columns,
        class_counts,
        warnings,
        dropped_columns: dropped,
        n_duplicate_rows: n_dup,
    }
}
