//! The data report: sizes, column kinds, missing shares, class balance, bad-data warnings and
//! the columns dropped from modelling (constant, ID-like).

use std::fmt;

use automl_core::Task;
use serde::{Deserialize, Serialize};

use crate::frame::{Column, ColumnData, ColumnKind, Frame, MISSING_CODE};
use crate::hash::FxMap;

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
    /// Number of rows identical to an earlier row.
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

/// Per-row value keys of a column: category code or canonical number bits; missing = one key.
fn keys(col: &Column) -> Vec<u64> {
    match &col.data {
        ColumnData::Numeric(v) => v
            .iter()
            .map(|x| if x.is_finite() { canon(*x) } else { u64::MAX })
            .collect(),
        ColumnData::Categorical { codes, .. } => codes.iter().map(|&c| c as u64).collect(),
    }
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

/// Number of rows identical (all features and target) to an earlier row.
fn count_duplicates(features: &Frame, target: &Column) -> usize {
    let cols: Vec<&Column> = features
        .columns
        .iter()
        .chain(std::iter::once(target))
        .collect();
    let n = features.n_rows;
    let mut hashes = vec![0x9E37_79B9_7F4A_7C15u64; n];
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    for c in &cols {
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
    let mut first: FxMap<u64, usize> = FxMap::default();
    first.reserve(n);
    let mut dups = 0;
    for (i, &h) in hashes.iter().enumerate() {
        match first.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                let j = *e.get();
                // Equal hashes of different rows are counted only when the rows really match.
                if cols.iter().all(|c| key_at(c, i) == key_at(c, j)) {
                    dups += 1;
                }
            }
        }
    }
    dups
}

/// Leakage check: Some(message) if the feature is identical to / perfectly predicts the target.
fn leakage(col: &Column, target: &Column, y: &[f64], task: Task) -> Option<String> {
    let n = y.len();
    let present: Vec<usize> = (0..n).filter(|&i| !col.data.is_missing(i)).collect();
    if present.len() * 2 < n || present.len() < 10 {
        return None;
    }
    let identical_msg = || {
        format!(
            "column '{}' is identical to the target '{}': it leaks the answer; remove it unless it is truly known at prediction time",
            col.name, target.name
        )
    };
    if task.is_classification() {
        let fk = keys(col);
        let mut map: FxMap<u64, f64> = FxMap::default();
        for &i in &present {
            let cls = *map.entry(fk[i]).or_insert(y[i]);
            if cls != y[i] {
                return None;
            }
        }
        // A perfect mapping: identical text, or a perfect predictor when values repeat enough
        // that the mapping is not a coincidence of near-uniqueness.
        if present
            .iter()
            .all(|&i| col.cell_string(i) == target.cell_string(i))
        {
            return Some(identical_msg());
        }
        let mut classes: Vec<u64> = map.values().map(|c| c.to_bits()).collect();
        classes.sort_unstable();
        classes.dedup();
        (classes.len() >= 2 && map.len() * 5 <= present.len()).then(|| {
            format!(
                "column '{}' predicts the target '{}' perfectly (each of its {} values maps to one class): likely leakage; remove it unless it is truly known at prediction time",
                col.name,
                target.name,
                map.len()
            )
        })
    } else {
        let ColumnData::Numeric(v) = &col.data else {
            return None;
        };
        if col.kind != ColumnKind::Numeric {
            return None;
        }
        let m = present.len() as f64;
        let (mx, my) = present
            .iter()
            .fold((0.0, 0.0), |a, &i| (a.0 + v[i] / m, a.1 + y[i] / m));
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for &i in &present {
            let (dx, dy) = (v[i] - mx, y[i] - my);
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        let r = sxy / (sxx.sqrt() * syy.sqrt());
        if !(r.is_finite() && r.abs() > 0.99999) {
            return None;
        }
        if present.iter().all(|&i| v[i] == y[i]) {
            return Some(identical_msg());
        }
        Some(format!(
            "column '{}' is a linear function of the target '{}' (correlation {r:.5}): likely leakage; remove it unless it is truly known at prediction time",
            col.name, target.name
        ))
    }
}

/// Build the report and decide which columns to drop.
pub(crate) fn build_report(inp: ReportInput<'_>) -> DataReport {
    let n = inp.features.n_rows;
    let mut warnings = Vec::new();
    let mut dropped = Vec::new();
    let mut columns = Vec::new();
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
        } else if n >= ID_MIN_ROWS && n_missing == 0 && nu == n && {
            match (&col.kind, &col.data) {
                (ColumnKind::Categorical, _) => true,
                (ColumnKind::Numeric, ColumnData::Numeric(v)) => is_consecutive_integers(v),
                _ => false,
            }
        } {
            warnings.push(Warning {
                kind: WarningKind::IdLike,
                column: Some(col.name.clone()),
                message: format!(
                    "column '{}' has a different value in every row, like an identifier; dropped from modelling",
                    col.name
                ),
            });
            dropped.push((col.name.clone(), "ID-like".to_string()));
            role = ColumnRole::Dropped;
        } else if share > HIGH_MISSING {
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
            if let Some(msg) = leakage(col, inp.target_column, inp.y, inp.task) {
                warnings.push(Warning {
                    kind: WarningKind::Leakage,
                    column: Some(col.name.clone()),
                    message: msg,
                });
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
    let n_dup = count_duplicates(inp.features, inp.target_column);
    if n_dup > 0 {
        warnings.push(Warning {
            kind: WarningKind::DuplicateRows,
            column: None,
            message: format!(
                "{n_dup} row(s) are exact duplicates of earlier rows; duplicates can make cross-validation optimistic"
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
