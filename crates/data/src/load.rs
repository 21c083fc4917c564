//! Loading: CSV -> typed [`Frame`] (kind inference, missing values), target and task
//! inference, the training [`Dataset`] and the prediction frame.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use automl_core::Task;
use automl_core::trial::SchemaColumn;

use crate::columnar::{Format, read_parquet_file};
use crate::error::DataError;
use crate::frame::{Column, ColumnData, ColumnKind, Frame, MISSING_CODE, format_number};
use crate::hash::FxMap;
use crate::reader::{
    MissingSet, RawColumn, RawTable, parse_num, parse_raw, parse_raw_only, read_raw,
};
use crate::report::{DataReport, ReportInput, build_report};
use crate::split::RowBlocks;
use crate::time::parse_iso8601;

/// The default missing-value tokens: empty cell, `NA`, `N/A`, `NaN`, `nan`, `null`, `None`, `?`
/// (matched after trimming, case-insensitively).
pub fn default_missing_tokens() -> Vec<String> {
    ["", "NA", "N/A", "NaN", "nan", "null", "None", "?"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// How to read a training file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// Target column name; `None` = the last column.
    pub target: Option<String>,
    /// Task override; `None` = inferred from the target.
    pub task: Option<Task>,
    /// Cell values meaning "missing" (trimmed, case-insensitive). An empty cell is always
    /// missing; pass just `""` (or nothing) to treat only empty cells as missing.
    pub missing_tokens: Vec<String>,
    /// Column whose rows form groups kept together by the validation splits (`--group-col`);
    /// read for the splits, never a feature.
    pub group_col: Option<String>,
    /// Column ordering the rows in time (`--time-col`: numbers or ISO-8601 dates); read for
    /// forward-chaining splits, never a feature.
    pub time_col: Option<String>,
    /// Rows (in time order) left out between a fold's training rows and its validation block.
    pub gap: usize,
    /// Columns never excluded by the ID and leakage checks (`--keep-col`; a constant column
    /// is still dropped). Each must be a column of the file.
    pub keep_cols: Vec<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            target: None,
            task: None,
            missing_tokens: default_missing_tokens(),
            group_col: None,
            time_col: None,
            gap: 0,
            keep_cols: Vec::new(),
        }
    }
}

/// A training dataset: modelling features, encoded target, report.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Modelling columns only (constant, ID-like and leaking columns dropped, target removed).
    /// Shared: the study's training data and every reshuffled fold set read these columns
    /// without copying them.
    pub features: Arc<Frame>,
    /// Class index 0..k-1 (classification) or value (regression), one per kept row.
    pub y: Vec<f64>,
    /// The task (inferred or as overridden).
    pub task: Task,
    /// Target column name.
    pub target: String,
    /// True when the target was not given and the last column was used.
    pub target_defaulted: bool,
    /// Class labels in index order (empty for regression). Numeric-looking labels are sorted
    /// numerically ("2" < "10"), others lexicographically.
    pub classes: Vec<String>,
    /// What was found in the data.
    pub report: DataReport,
    /// Hex hash of the file bytes.
    pub fingerprint: String,
    /// The file read.
    pub path: PathBuf,
    /// How rows are tied together for validation (groups, time order, or independent).
    pub blocks: RowBlocks,
}

impl Dataset {
    /// Number of rows (rows with a missing target excluded).
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }
    /// Number of classes (0 for regression).
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }
}

#[inline]
pub(crate) fn parse_bool(cell: &[u8]) -> Option<f64> {
    let t = cell.trim_ascii();
    if t.eq_ignore_ascii_case(b"true") {
        Some(1.0)
    } else if t.eq_ignore_ascii_case(b"false") {
        Some(0.0)
    } else {
        None
    }
}

/// A column inferred from raw cells, with the number of infinite values turned into missing.
struct Inferred {
    column: Column,
    n_infinite: usize,
}

/// Infer the kind of a raw column and convert it. Text columns are inspected once per
/// distinct value.
fn infer_column(name: &str, raw: &mut RawColumn, missing: &MissingSet) -> Inferred {
    if let Some(mut values) = raw.numbers.take() {
        let mut n_infinite = 0;
        for x in values.iter_mut().filter(|x| x.is_infinite()) {
            *x = f64::NAN;
            n_infinite += 1;
        }
        return Inferred {
            column: Column::numeric(name, values),
            n_infinite,
        };
    }
    // Boolean?
    let parsed: Option<Vec<f64>> = raw
        .distinct
        .iter()
        .map(|d| {
            if missing.is_missing(d) {
                Some(f64::NAN)
            } else {
                parse_bool(d)
            }
        })
        .collect();
    if let Some(table) = parsed {
        let values = raw.codes.iter().map(|&c| table[c as usize]).collect();
        return Inferred {
            column: Column::boolean(name, values),
            n_infinite: 0,
        };
    }
    Inferred {
        column: categorical_from_raw(name, raw, missing),
        n_infinite: 0,
    }
}

/// Build a categorical column (sorted levels) from raw cells, keeping strings as-is.
fn categorical_from_raw(name: &str, raw: &RawColumn, missing: &MissingSet) -> Column {
    let mut present: Vec<u32> = (0..raw.distinct.len() as u32)
        .filter(|&d| !missing.is_missing(&raw.distinct[d as usize]))
        .collect();
    present.sort_by(|&a, &b| raw.distinct[a as usize].cmp(&raw.distinct[b as usize]));
    let mut remap = vec![MISSING_CODE; raw.distinct.len()];
    for (new, &old) in present.iter().enumerate() {
        remap[old as usize] = new as u32;
    }
    let codes = raw.codes.iter().map(|&c| remap[c as usize]).collect();
    let levels = present
        .iter()
        .map(|&d| String::from_utf8_lossy(&raw.distinct[d as usize]).into_owned())
        .collect();
    Column {
        name: name.to_string(),
        kind: ColumnKind::Categorical,
        data: ColumnData::Categorical { codes, levels },
    }
}

/// Read any CSV, Parquet or Arrow IPC file into a [`Frame`] with inferred column kinds (no target handling).
pub fn read_frame(path: &Path, missing_tokens: &[String]) -> Result<Frame, DataError> {
    let missing = MissingSet::new(missing_tokens);
    let mut raw = read_raw(path, &missing, &[])?;
    let columns = raw
        .header
        .iter()
        .zip(&mut raw.columns)
        .map(|(name, col)| infer_column(name, col, &missing).column)
        .collect();
    Ok(Frame {
        columns,
        n_rows: raw.n_rows(),
    })
}

/// One column of a CSV, Parquet or Arrow file as text (only that column is read from Parquet
/// or Arrow): per row, where it is (`line 7` in a CSV, `row 6` otherwise) and its trimmed
/// text, `None` when missing. `Ok(None)` when the file has no such column.
#[allow(clippy::type_complexity)]
pub fn read_text_column(
    path: &Path,
    name: &str,
    missing_tokens: &[String],
) -> Result<Option<Vec<(String, Option<String>)>>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let missing = MissingSet::new(missing_tokens);
    let names = [name.to_string()];
    let raw = parse_raw_only(path, &bytes, &missing, &names, Some(&names))?;
    let Some(idx) = raw.header.iter().position(|h| h == name) else {
        return Ok(None);
    };
    let col = &raw.columns[idx];
    Ok(Some(
        (0..raw.n_rows())
            .map(|i| {
                let cell = col.get(i);
                let text = (!missing.is_missing(cell)).then(|| col.get_str(i).trim().to_string());
                (format!("{} {}", raw.unit, raw.lines[i]), text)
            })
            .collect(),
    ))
}

/// The encoded target.
struct Target {
    y: Vec<f64>, // NaN = missing
    task: Task,
    classes: Vec<String>,
    n_infinite: usize,
}

/// Decide the task and encode the target column.
fn encode_target(
    raw: &RawTable,
    idx: usize,
    name: &str,
    inferred: &Inferred,
    missing: &MissingSet,
    task_override: Option<Task>,
) -> Result<Target, DataError> {
    let col = &inferred.column;
    let n = raw.n_rows();
    match (&col.kind, &col.data) {
        (ColumnKind::Numeric, ColumnData::Numeric(v)) => {
            if inferred.n_infinite > 0 {
                return Err(DataError::InfiniteTarget {
                    path: raw.path.clone(),
                    name: name.to_string(),
                    count: inferred.n_infinite,
                });
            }
            let mut set: FxMap<u64, ()> = FxMap::default();
            let mut n_present = 0;
            for x in v.iter().filter(|x| x.is_finite()) {
                n_present += 1;
                set.insert(if *x == 0.0 { 0 } else { x.to_bits() }, ());
            }
            if n_present == 0 {
                return Err(DataError::TargetAllMissing {
                    name: name.to_string(),
                });
            }
            let mut distinct: Vec<f64> = set.keys().map(|&b| f64::from_bits(b)).collect();
            distinct.sort_unstable_by(f64::total_cmp);
            let integer = distinct.iter().all(|x| x.fract() == 0.0 && x.abs() < 9e15);
            let d = distinct.len();
            let looks_class = integer && (d <= 2 || (d <= 20 && d * 20 <= n_present));
            let task = match task_override {
                Some(t) => t,
                None if looks_class => {
                    if d == 2 {
                        Task::Binary
                    } else if d == 1 {
                        return Err(DataError::OneClass {
                            name: name.to_string(),
                            class: format_number(distinct[0]),
                        });
                    } else {
                        Task::Multiclass
                    }
                }
                None => Task::Regression,
            };
            if task == Task::Regression {
                if d == 1 {
                    return Err(DataError::ConstantTarget {
                        name: name.to_string(),
                    });
                }
                return Ok(Target {
                    y: v.clone(),
                    task,
                    classes: Vec::new(),
                    n_infinite: inferred.n_infinite,
                });
            }
            check_classes(task, name, d, || format_number(distinct[0]))?;
            let classes: Vec<String> = distinct.iter().map(|&x| format_number(x)).collect();
            let y = v
                .iter()
                .map(|x| {
                    if x.is_finite() {
                        // -0.0 was folded into 0.0 in `distinct` (found by fuzzing: a `-0`
                        // class label panicked here); `+ 0.0` folds it the same way.
                        let x = x + 0.0;
                        distinct.binary_search_by(|p| p.total_cmp(&x)).unwrap() as f64
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            Ok(Target {
                y,
                task,
                classes,
                n_infinite: inferred.n_infinite,
            })
        }
        _ => {
            // Boolean or categorical: classes are the raw strings.
            let cat = categorical_from_raw(name, &raw.columns[idx], missing);
            let ColumnData::Categorical { codes, levels } = cat.data else {
                unreachable!()
            };
            if task_override == Some(Task::Regression) {
                let rawc = &raw.columns[idx];
                let bad = (0..n)
                    .find(|&i| !missing.is_missing(rawc.get(i)) && parse_num(rawc.get(i)).is_none())
                    .unwrap_or(0);
                return Err(DataError::NonNumericTarget {
                    path: raw.path.clone(),
                    unit: raw.unit,
                    line: raw.lines[bad],
                    value: rawc.get_str(bad).into_owned(),
                });
            }
            if levels.is_empty() {
                return Err(DataError::TargetAllMissing {
                    name: name.to_string(),
                });
            }
            let d = levels.len();
            let task = task_override.unwrap_or(if d == 2 {
                Task::Binary
            } else {
                Task::Multiclass
            });
            if d == 1 {
                return Err(DataError::OneClass {
                    name: name.to_string(),
                    class: levels[0].clone(),
                });
            }
            check_classes(task, name, d, || levels[0].clone())?;
            // Numeric-looking labels sort numerically; others stay lexicographic.
            let nums: Option<Vec<f64>> = levels
                .iter()
                .map(|l| l.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            let mut order: Vec<usize> = (0..d).collect();
            if let Some(nums) = &nums {
                order.sort_by(|&a, &b| nums[a].total_cmp(&nums[b]).then(levels[a].cmp(&levels[b])));
            }
            let mut rank = vec![0usize; d];
            for (r, &o) in order.iter().enumerate() {
                rank[o] = r;
            }
            let classes = order.iter().map(|&o| levels[o].clone()).collect();
            let y = codes
                .iter()
                .map(|&c| {
                    if c == MISSING_CODE {
                        f64::NAN
                    } else {
                        rank[c as usize] as f64
                    }
                })
                .collect();
            Ok(Target {
                y,
                task,
                classes,
                n_infinite: 0,
            })
        }
    }
}

fn check_classes(
    task: Task,
    name: &str,
    d: usize,
    only: impl Fn() -> String,
) -> Result<(), DataError> {
    if d == 1 {
        return Err(DataError::OneClass {
            name: name.to_string(),
            class: only(),
        });
    }
    match task {
        Task::Binary if d != 2 => Err(DataError::TaskMismatch {
            task,
            name: name.to_string(),
            n_classes: d,
            hint: "use --task multiclass (or let the task be inferred)".into(),
        }),
        Task::Multiclass if d < 3 => Err(DataError::TaskMismatch {
            task,
            name: name.to_string(),
            n_classes: d,
            hint: "two classes is a binary task: use --task binary (or let the task be inferred)"
                .into(),
        }),
        _ => Ok(()),
    }
}

/// Read a training CSV: infer column kinds, pick the target (by name, default the last
/// column), infer or check the task, drop rows with a missing target, build the report and
/// drop constant, ID-like and leaking columns (a column alone predicting the target almost
/// perfectly in cross-validation) from the modelling features.
///
/// The file may be CSV, Parquet or Arrow IPC (file or stream), told by its first bytes.
pub fn load_training(path: &Path, opts: &ReadOptions) -> Result<Dataset, DataError> {
    let missing = MissingSet::new(&opts.missing_tokens);
    let raw = read_raw(path, &missing, &[])?;
    training_from_raw(raw, &missing, opts)
}

/// [`load_training`] on bytes already in memory (CSV, Parquet or Arrow IPC; a pandas
/// DataFrame passed as an Arrow IPC stream, say); `label` stands for the file in error
/// messages and the report.
pub fn load_training_bytes(
    label: &Path,
    bytes: &[u8],
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    let missing = MissingSet::new(&opts.missing_tokens);
    let raw = parse_raw(label, bytes, &missing, &[])?;
    training_from_raw(raw, &missing, opts)
}

fn training_from_raw(
    mut raw: RawTable,
    missing: &MissingSet,
    opts: &ReadOptions,
) -> Result<Dataset, DataError> {
    let missing = missing.clone();
    let path = raw.path.clone();
    let path = path.as_path();
    let (t_idx, target_defaulted) = match &opts.target {
        Some(name) => match raw.header.iter().position(|h| h == name) {
            Some(i) => (i, false),
            None => {
                return Err(DataError::TargetNotFound {
                    name: name.clone(),
                    available: raw.header.clone(),
                });
            }
        },
        None => (raw.header.len() - 1, true),
    };
    let target_name = raw.header[t_idx].clone();
    let mut inferred: Vec<Inferred> = raw
        .header
        .iter()
        .zip(&mut raw.columns)
        .map(|(name, col)| infer_column(name, col, &missing))
        .collect();
    let target = encode_target(
        &raw,
        t_idx,
        &target_name,
        &inferred[t_idx],
        &missing,
        opts.task,
    )?;
    let target_inferred = inferred.remove(t_idx);
    let mut header = raw.header.clone();
    header.remove(t_idx);
    let split_col = split_column(&raw.header, &target_name, opts)?;
    if let Some(k) = opts.keep_cols.iter().find(|k| !raw.header.contains(k)) {
        return Err(DataError::KeepColumn {
            column: k.clone(),
            available: raw.header.clone(),
        });
    }
    let keep: Vec<usize> = (0..raw.n_rows())
        .filter(|&i| target.y[i].is_finite())
        .collect();
    let n_dropped = raw.n_rows() - keep.len();
    let all_kept = n_dropped == 0;
    let mut n_infinite = Vec::with_capacity(inferred.len());
    let mut columns = Vec::with_capacity(inferred.len());
    for inf in inferred {
        n_infinite.push(inf.n_infinite);
        columns.push(if all_kept {
            inf.column
        } else {
            inf.column.select_rows(&keep)
        });
    }
    // The group / time column leaves the features here (read for the splits only).
    let mut blocks = RowBlocks::Independent;
    let mut split_report = None;
    if let Some((role, name)) = &split_col {
        let pos = header.iter().position(|h| h == name).unwrap_or(0);
        let col = columns.remove(pos);
        let inf = n_infinite.remove(pos);
        blocks = row_blocks(&col, *role, opts.gap)?;
        split_report = Some((pos, col, inf, *role));
    }
    let all_features = Frame {
        columns,
        n_rows: keep.len(),
    };
    let y: Vec<f64> = keep.iter().map(|&i| target.y[i]).collect();
    let target_col = if all_kept {
        target_inferred.column
    } else {
        target_inferred.column.select_rows(&keep)
    };
    let report = build_report(ReportInput {
        features: &all_features,
        target_column: &target_col,
        y: &y,
        task: target.task,
        classes: &target.classes,
        target: &target_name,
        target_defaulted,
        n_rows_dropped_missing_target: n_dropped,
        n_infinite: &n_infinite,
        n_infinite_target: target.n_infinite,
        blocks: &blocks,
        keep: &opts.keep_cols,
    });
    let mut report = report;
    if let Some((pos, col, n_inf, role)) = split_report {
        report.add_split_column(pos, &col, n_inf, role.describe());
    }
    let dropped: Vec<&str> = report
        .dropped_columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let features = Frame {
        columns: all_features
            .columns
            .into_iter()
            .filter(|c| !dropped.contains(&c.name.as_str()))
            .collect(),
        n_rows: keep.len(),
    };
    if features.columns.is_empty() {
        return Err(DataError::NoFeatures {
            path: path.to_path_buf(),
            dropped: report
                .dropped_columns
                .iter()
                .map(|(n, r)| format!("{n} ({r})"))
                .collect(),
        });
    }
    Ok(Dataset {
        features: Arc::new(features),
        y,
        task: target.task,
        target: target_name,
        target_defaulted,
        classes: target.classes,
        report,
        fingerprint: raw.fingerprint,
        path: path.to_path_buf(),
        blocks,
    })
}

/// What a column read for the splits is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitRole {
    Group,
    Time,
}

impl SplitRole {
    fn as_str(self) -> &'static str {
        match self {
            SplitRole::Group => "group",
            SplitRole::Time => "time",
        }
    }
    fn describe(self) -> &'static str {
        match self {
            SplitRole::Group => "group column, validation only",
            SplitRole::Time => "time column, validation only",
        }
    }
}

/// The group or time column of `opts`, checked against the header and the target.
fn split_column(
    header: &[String],
    target: &str,
    opts: &ReadOptions,
) -> Result<Option<(SplitRole, String)>, DataError> {
    let err = |role: SplitRole, column: &str, reason: String| DataError::SplitColumn {
        role: role.as_str(),
        column: column.to_string(),
        reason,
    };
    let col = match (&opts.group_col, &opts.time_col) {
        (Some(g), Some(_)) => {
            return Err(err(
                SplitRole::Group,
                g,
                "cannot be combined with a time column: choose grouped or forward-chaining folds"
                    .into(),
            ));
        }
        (Some(g), None) => (SplitRole::Group, g.clone()),
        (None, Some(t)) => (SplitRole::Time, t.clone()),
        (None, None) => return Ok(None),
    };
    if !header.contains(&col.1) {
        return Err(err(
            col.0,
            &col.1,
            format!("is not in the file; its columns are: {}", header.join(", ")),
        ));
    }
    if col.1 == target {
        return Err(err(
            col.0,
            &col.1,
            "is the target; name another column".into(),
        ));
    }
    Ok(Some(col))
}

/// Group ids (dense, in order of first appearance) or times of a split column. A missing value
/// is an error; so is a time that is neither a number nor an ISO-8601 date / date-time.
fn row_blocks(col: &Column, role: SplitRole, gap: usize) -> Result<RowBlocks, DataError> {
    let err = |reason: String| DataError::SplitColumn {
        role: role.as_str(),
        column: col.name.clone(),
        reason,
    };
    let missing = |row: usize| {
        err(format!(
            "has a missing value (data row {}); every row needs one: fill it in or drop the row",
            row + 1
        ))
    };
    match role {
        SplitRole::Group => {
            let mut ids = Vec::with_capacity(col.data.len());
            match &col.data {
                ColumnData::Numeric(v) => {
                    let mut map: FxMap<u64, u32> = FxMap::default();
                    for (i, x) in v.iter().enumerate() {
                        if !x.is_finite() {
                            return Err(missing(i));
                        }
                        let key = if *x == 0.0 { 0 } else { x.to_bits() };
                        let next = map.len() as u32;
                        ids.push(*map.entry(key).or_insert(next));
                    }
                }
                ColumnData::Categorical { codes, levels } => {
                    let mut map = vec![u32::MAX; levels.len()];
                    let mut next = 0;
                    for (i, &c) in codes.iter().enumerate() {
                        if c == MISSING_CODE {
                            return Err(missing(i));
                        }
                        if map[c as usize] == u32::MAX {
                            map[c as usize] = next;
                            next += 1;
                        }
                        ids.push(map[c as usize]);
                    }
                }
            }
            Ok(RowBlocks::Groups {
                column: col.name.clone(),
                ids,
            })
        }
        SplitRole::Time => {
            let t = match &col.data {
                ColumnData::Numeric(v) => {
                    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                        return Err(missing(i));
                    }
                    v.clone()
                }
                ColumnData::Categorical { codes, levels } => {
                    let parsed = levels
                        .iter()
                        .map(|l| {
                            parse_iso8601(l).ok_or_else(|| {
                                err(format!(
                                    "has '{l}', which is neither a number nor an ISO-8601 date or date-time (e.g. 2024-03-01 or 2024-03-01T12:00:00Z)"
                                ))
                            })
                        })
                        .collect::<Result<Vec<f64>, _>>()?;
                    let mut t = Vec::with_capacity(codes.len());
                    for (i, &c) in codes.iter().enumerate() {
                        if c == MISSING_CODE {
                            return Err(missing(i));
                        }
                        t.push(parsed[c as usize]);
                    }
                    t
                }
            };
            Ok(RowBlocks::Time {
                column: col.name.clone(),
                t,
                gap,
            })
        }
    }
}

/// For prediction: read a CSV and build a [`Frame`] with exactly the schema's columns (by name,
/// any order; extra columns, such as the target, are ignored). Categorical columns keep their
/// own level strings (the fitted [`crate::Preprocessor`] maps strings). Numeric columns must
/// hold numbers (infinity counts as missing); boolean columns `true`/`false`/`1`/`0`.
/// Schema columns absent from the file are a [`DataError::MissingColumns`]. Empty cells are
/// always missing, plus any of `missing_tokens`.
pub fn load_for_prediction(
    path: &Path,
    schema: &[SchemaColumn],
    missing_tokens: &[String],
) -> Result<Frame, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A Parquet file is read from disk, only the schema's columns; the rest whole.
    let is_parquet = {
        use std::io::Read;
        let mut head = Vec::with_capacity(8);
        let f = std::fs::File::open(path).map_err(io)?;
        f.take(8).read_to_end(&mut head).map_err(io)?;
        Format::sniff(&head) == Format::Parquet
    };
    if is_parquet {
        let missing = MissingSet::new(missing_tokens);
        let (force_text, names) = prediction_columns(schema);
        let raw = read_parquet_file(path, &missing, &force_text, Some(&names))?;
        return frame_for_prediction(path, raw, schema, &missing);
    }
    let bytes = std::fs::read(path).map_err(io)?;
    load_for_prediction_bytes(path, &bytes, schema, missing_tokens)
}

/// The schema's categorical columns (kept as text) and all its column names.
fn prediction_columns(schema: &[SchemaColumn]) -> (Vec<String>, Vec<String>) {
    let force_text = schema
        .iter()
        .filter(|s| s.kind == "categorical")
        .map(|s| s.name.clone())
        .collect();
    (force_text, schema.iter().map(|s| s.name.clone()).collect())
}

/// [`load_for_prediction`] on CSV, Parquet or Arrow IPC bytes already in memory (an HTTP
/// request body, a pandas DataFrame as an Arrow IPC stream, say);
/// `label` stands for the file in error messages (e.g. `request body`).
pub fn load_for_prediction_bytes(
    label: &Path,
    bytes: &[u8],
    schema: &[SchemaColumn],
    missing_tokens: &[String],
) -> Result<Frame, DataError> {
    let missing = MissingSet::new(missing_tokens);
    let (force_text, names) = prediction_columns(schema);
    let raw = parse_raw_only(label, bytes, &missing, &force_text, Some(&names))?;
    frame_for_prediction(label, raw, schema, &missing)
}

fn frame_for_prediction(
    path: &Path,
    raw: RawTable,
    schema: &[SchemaColumn],
    missing: &MissingSet,
) -> Result<Frame, DataError> {
    let absent: Vec<String> = schema
        .iter()
        .filter(|s| !raw.header.contains(&s.name))
        .map(|s| s.name.clone())
        .collect();
    if !absent.is_empty() {
        return Err(DataError::MissingColumns {
            path: path.to_path_buf(),
            columns: absent,
        });
    }
    let n = raw.n_rows();
    let mut columns = Vec::with_capacity(schema.len());
    for s in schema {
        let idx = raw.header.iter().position(|h| h == &s.name).unwrap();
        let rawc = &raw.columns[idx];
        let kind = ColumnKind::parse(&s.kind).ok_or_else(|| DataError::UnknownKind {
            column: s.name.clone(),
            kind: s.kind.clone(),
        })?;
        let bad = |i: usize, expected: &str| DataError::BadValue {
            path: path.to_path_buf(),
            unit: raw.unit,
            line: raw.lines[i],
            column: s.name.clone(),
            value: rawc.get_str(i).into_owned(),
            expected: expected.to_string(),
        };
        let col = match kind {
            ColumnKind::Numeric => match &rawc.numbers {
                Some(nums) => Column::numeric(
                    s.name.clone(),
                    nums.iter()
                        .map(|&x| if x.is_finite() { x } else { f64::NAN })
                        .collect(),
                ),
                None => {
                    let i = (0..n)
                        .find(|&i| missing.number_or_missing(rawc.get(i)).is_none())
                        .unwrap_or(0);
                    return Err(bad(i, "a number"));
                }
            },
            ColumnKind::Boolean => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    let b = match &rawc.numbers {
                        Some(nums) if nums[i].is_nan() || nums[i] == 0.0 || nums[i] == 1.0 => {
                            nums[i]
                        }
                        Some(nums) => {
                            return Err(DataError::BadValue {
                                path: path.to_path_buf(),
                                unit: raw.unit,
                                line: raw.lines[i],
                                column: s.name.clone(),
                                value: format_number(nums[i]),
                                expected: "true/false".to_string(),
                            });
                        }
                        None if missing.is_missing(rawc.get(i)) => f64::NAN,
                        None => parse_bool(rawc.get(i))
                            .or_else(|| parse_num(rawc.get(i)).filter(|x| *x == 0.0 || *x == 1.0))
                            .ok_or_else(|| bad(i, "true/false"))?,
                    };
                    v.push(b);
                }
                Column::boolean(s.name.clone(), v)
            }
            ColumnKind::Categorical => categorical_from_raw(&s.name, rawc, missing),
        };
        columns.push(col);
    }
    Ok(Frame { columns, n_rows: n })
}

#[cfg(test)]
mod split_column_tests {
    use super::*;
    use crate::report::WarningKind;

    fn csv(dir: &tempfile::TempDir, body: &str) -> PathBuf {
        let p = dir.path().join("d.csv");
        std::fs::write(&p, body).unwrap();
        p
    }

    /// 100 rows: 20 patients of 5 rows, a 3-level `contract`, a date, a target.
    fn data() -> String {
        let mut s = String::from("patient_id,contract,x,day,y\n");
        for i in 0..100 {
            s.push_str(&format!(
                "p{},{},{},2024-01-{:02}T10:00:00Z,{}\n",
                i / 5,
                ["monthly", "yearly", "two-year"][i % 3],
                i % 7,
                1 + i % 28,
                i % 2
            ));
        }
        s
    }

    #[test]
    fn entity_ids_get_a_hint_ordinary_categoricals_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let ds = load_training(&csv(&dir, &data()), &ReadOptions::default()).unwrap();
        assert!(
            ds.report
                .has_warning(WarningKind::EntityId, Some("patient_id"))
        );
        assert!(
            !ds.report
                .has_warning(WarningKind::EntityId, Some("contract"))
        );
        assert!(!ds.report.has_warning(WarningKind::EntityId, Some("x")));
        assert!(
            ds.report
                .to_string()
                .contains("consider --group-col patient_id")
        );
        assert_eq!(ds.blocks, RowBlocks::Independent);
    }

    #[test]
    fn group_and_time_columns_leave_the_features() {
        let dir = tempfile::tempdir().unwrap();
        let p = csv(&dir, &data());
        let opts = ReadOptions {
            group_col: Some("patient_id".into()),
            ..ReadOptions::default()
        };
        let ds = load_training(&p, &opts).unwrap();
        assert!(ds.features.columns.iter().all(|c| c.name != "patient_id"));
        assert!(!ds.report.has_warning(WarningKind::EntityId, None));
        let RowBlocks::Groups { column, ids } = &ds.blocks else {
            panic!("{:?}", ds.blocks)
        };
        assert_eq!(column, "patient_id");
        assert_eq!(ids[..7], [0, 0, 0, 0, 0, 1, 1]);
        assert!(
            ds.report
                .to_string()
                .contains("patient_id (group column, validation only)")
        );
        let opts = ReadOptions {
            time_col: Some("day".into()),
            gap: 3,
            ..ReadOptions::default()
        };
        let ds = load_training(&p, &opts).unwrap();
        assert!(ds.features.columns.iter().all(|c| c.name != "day"));
        let RowBlocks::Time { t, gap, .. } = &ds.blocks else {
            panic!("{:?}", ds.blocks)
        };
        assert_eq!(*gap, 3);
        assert_eq!(t[1] - t[0], 86_400.0);
    }

    #[test]
    fn unusable_split_columns_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = csv(&dir, &data());
        let load = |g: Option<&str>, t: Option<&str>| {
            load_training(
                &p,
                &ReadOptions {
                    group_col: g.map(String::from),
                    time_col: t.map(String::from),
                    ..ReadOptions::default()
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(load(Some("nope"), None).contains("is not in the file"));
        assert!(load(Some("y"), None).contains("is the target"));
        assert!(load(None, Some("contract")).contains("'monthly'"));
        assert!(load(Some("x"), Some("day")).contains("cannot be combined"));
        let p = csv(&dir, "g,x,y\n1,1,1\n,2,0\n2,3,1\n");
        let e = load_training(
            &p,
            &ReadOptions {
                group_col: Some("g".into()),
                ..ReadOptions::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing value (data row 2)"), "{e}");
    }
}
