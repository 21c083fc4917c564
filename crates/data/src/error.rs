//! The crate's error type: every failure of reading, inferring, transforming or splitting data.

use std::path::PathBuf;

/// Everything that can go wrong in automl-data. Each message says what was wrong, where
/// (file, line, column) and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The group or time column for the validation splits cannot be used.
    #[error("the {role} column '{column}' {reason}")]
    SplitColumn {
        /// `group` or `time`.
        role: &'static str,
        /// The column named.
        column: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A column to keep (`--keep-col`) is not in the file.
    #[error("the column '{column}' to keep is not in the file; its columns are: {}", available.join(", "))]
    KeepColumn {
        /// The column named.
        column: String,
        /// The file's columns.
        available: Vec<String>,
    },
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}; check the path and the file permissions")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV parser rejected the file.
    #[error(
        "{path}: line {row}, column {column}: {message}; fix the CSV (RFC 4180: quote fields containing commas, quotes or newlines, double embedded quotes)"
    )]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line where the problem starts.
        row: u64,
        /// Column name (or 1-based index when unknown).
        column: String,
        /// What went wrong.
        message: String,
    },
    /// A Parquet or Arrow IPC file could not be decoded (truncated, corrupt, ...).
    #[error(
        "{path}: not a readable {format} file: {message}; re-write the file (it may be truncated or corrupt)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// `Parquet`, `Arrow IPC file` or `Arrow IPC stream`.
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// A Parquet or Arrow column has a type automl cannot use.
    #[error(
        "{path}: column '{column}' has the type {data_type}, which automl cannot read; use numbers, strings (or categoricals), booleans, dates or timestamps, or drop the column"
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// Column name.
        column: String,
        /// The Arrow type.
        data_type: String,
    },
    /// The file has no bytes (or only whitespace / a BOM).
    #[error("{path} is empty; expected a CSV file with a header row and at least one data row")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header but no data rows.
    #[error("{path} has a header but no data rows; add data rows below the header")]
    HeaderOnly {
        /// The file.
        path: PathBuf,
    },
    /// Two header cells have the same name.
    #[error(
        "{path}: the header names column '{name}' more than once; rename one of them so every column name is unique"
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// A row has a different number of cells than the header.
    #[error(
        "{path}: line {line} has {found} cells but the header has {expected}; fix that row (a value containing a comma must be quoted)"
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line where the row starts.
        line: u64,
        /// Number of header cells.
        expected: usize,
        /// Number of cells in the row.
        found: usize,
    },
    /// A row is not valid UTF-8.
    #[error("{path}: line {line} is not valid UTF-8; re-save the file as UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line where the row starts.
        line: u64,
    },
    /// The requested target column is not in the header.
    #[error("target column '{name}' is not in the file; available columns: {}; pass one of them as the target", available.join(", "))]
    TargetNotFound {
        /// The requested name.
        name: String,
        /// The header names.
        available: Vec<String>,
    },
    /// Every target cell is missing.
    #[error(
        "every value of the target column '{name}' is missing; choose another target column or fill in the target"
    )]
    TargetAllMissing {
        /// Target column.
        name: String,
    },
    /// A classification target with a single class.
    #[error(
        "the target column '{name}' has only one class ('{class}'); a classifier needs at least two classes: check the target column or the rows"
    )]
    OneClass {
        /// Target column.
        name: String,
        /// The only class.
        class: String,
    },
    /// A regression target with a single value.
    #[error(
        "the regression target '{name}' has the same value in every row; there is nothing to predict: check the target column"
    )]
    ConstantTarget {
        /// Target column.
        name: String,
    },
    /// Regression was requested on a target that is not numeric.
    #[error(
        "{path}: {unit} {line}: target value '{value}' is not a number, so the task cannot be regression; use a classification task or a numeric target"
    )]
    NonNumericTarget {
        /// The file.
        path: PathBuf,
        /// Whether `line` is a CSV line or a row of a Parquet/Arrow file.
        unit: RowUnit,
        /// 1-based line (CSV) or row (Parquet, Arrow).
        line: u64,
        /// The offending value.
        value: String,
    },
    /// The target holds infinite values.
    #[error(
        "{path}: the target column '{name}' holds {count} infinite value(s); a target must be finite: fix those rows, or empty their target cells to drop them"
    )]
    InfiniteTarget {
        /// The file.
        path: PathBuf,
        /// Target column.
        name: String,
        /// Number of infinite cells.
        count: usize,
    },
    /// The requested task does not fit the target's classes.
    #[error("task {task} was requested but target '{name}' has {n_classes} classes; {hint}")]
    TaskMismatch {
        /// Requested task.
        task: automl_core::Task,
        /// Target column.
        name: String,
        /// Number of distinct target values.
        n_classes: usize,
        /// What to do.
        hint: String,
    },
    /// No usable feature column is left.
    #[error("no usable feature column left in {path} (dropped: {}); add informative feature columns", dropped.join(", "))]
    NoFeatures {
        /// The file.
        path: PathBuf,
        /// Dropped columns with reasons.
        dropped: Vec<String>,
    },
    /// Columns the model needs are absent from a file.
    #[error("{path} lacks the column(s) {} that the model was trained with; add them (empty cells are allowed and are imputed) or use a file with the training header", columns.join(", "))]
    MissingColumns {
        /// The file.
        path: PathBuf,
        /// Absent column names.
        columns: Vec<String>,
    },
    /// Columns the preprocessor needs are absent from a frame.
    #[error("the data lacks the column(s) {} that the preprocessing was fitted on; add them (missing values are allowed) or pass the training columns", columns.join(", "))]
    FrameMissingColumns {
        /// Absent column names.
        columns: Vec<String>,
    },
    /// A value of a numeric (or boolean) column cannot be read as such.
    #[error(
        "{path}: {unit} {line}, column '{column}': value '{value}' is not {expected}; the model was trained with this column as {expected}: fix the value or leave the cell empty"
    )]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Whether `line` is a CSV line or a row of a Parquet/Arrow file.
        unit: RowUnit,
        /// 1-based line (CSV) or row (Parquet, Arrow).
        line: u64,
        /// Column name.
        column: String,
        /// The offending value.
        value: String,
        /// What was expected ("a number", "true/false").
        expected: String,
    },
    /// A value of a JSON record cannot be read as its column's kind.
    #[error(
        "record {row}, column '{column}': value {value} is not {expected}; the model was trained with this column as {expected}: fix the value or send null"
    )]
    BadRecordValue {
        /// 1-based record number.
        row: usize,
        /// Column name.
        column: String,
        /// The offending value, as JSON.
        value: String,
        /// What was expected ("a number", "true/false", "a string or a number").
        expected: String,
    },
    /// A categorical frame column was given where the preprocessor expects numbers.
    #[error(
        "column '{column}': value '{value}' is not a number but the preprocessing was fitted with this column as numeric; fix the value or leave it empty"
    )]
    NotNumeric {
        /// Column name.
        column: String,
        /// The offending level.
        value: String,
    },
    /// A row index is out of range.
    #[error(
        "row index {row} is out of range for a frame of {n_rows} rows; pass indices below {n_rows}"
    )]
    RowOutOfRange {
        /// The index.
        row: usize,
        /// Number of rows.
        n_rows: usize,
    },
    /// A schema kind string is not numeric/categorical/boolean.
    #[error(
        "schema column '{column}' has unknown kind '{kind}'; expected numeric, categorical or boolean"
    )]
    UnknownKind {
        /// Column name.
        column: String,
        /// The kind string.
        kind: String,
    },
}

/// What a position in a [`DataError`] counts: a line of a CSV file (a quoted cell may span
/// lines) or a 1-based data row of a Parquet or Arrow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowUnit {
    /// A 1-based CSV line.
    Line,
    /// A 1-based data row (header not counted).
    Row,
}

impl std::fmt::Display for RowUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RowUnit::Line => "line",
            RowUnit::Row => "row",
        })
    }
}
