//! The in-memory table: typed columns ([`Column`]) in a [`Frame`].

use std::fmt;

use automl_core::trial::SchemaColumn;
use serde::{Deserialize, Serialize};

/// Category code meaning "missing" in [`ColumnData::Categorical`].
pub const MISSING_CODE: u32 = u32::MAX;

/// The inferred kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Every non-missing cell parses as a number.
    Numeric,
    /// Strings.
    Categorical,
    /// Only `true` / `false` (any case); stored as numeric 0/1.
    Boolean,
}

impl ColumnKind {
    /// The lowercase name used in schemas and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Boolean => "boolean",
        }
    }
    /// Parse `numeric` / `categorical` / `boolean` (as written by [`ColumnKind::as_str`]).
    pub fn parse(s: &str) -> Option<ColumnKind> {
        match s {
            "numeric" => Some(ColumnKind::Numeric),
            "categorical" => Some(ColumnKind::Categorical),
            "boolean" => Some(ColumnKind::Boolean),
            _ => None,
        }
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The values of a column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnData {
    /// Numbers; NaN = missing (never infinite when produced by the loader).
    Numeric(Vec<f64>),
    /// Category codes into `levels`; [`MISSING_CODE`] = missing.
    Categorical {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct strings (sorted when produced by the loader).
        levels: Vec<String>,
    },
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Categorical { codes, .. } => codes.len(),
        }
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// True when row `i` is missing (NaN/infinite number or missing code).
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            ColumnData::Numeric(v) => !v[i].is_finite(),
            ColumnData::Categorical { codes, .. } => codes[i] == MISSING_CODE,
        }
    }
    /// Number of missing rows.
    pub fn n_missing(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.iter().filter(|x| !x.is_finite()).count(),
            ColumnData::Categorical { codes, .. } => {
                codes.iter().filter(|&&c| c == MISSING_CODE).count()
            }
        }
    }
}

/// A named, typed column. Boolean columns are stored as `Numeric` 0/1 (NaN missing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Name as in the CSV header.
    pub name: String,
    /// Inferred kind.
    pub kind: ColumnKind,
    /// Values.
    pub data: ColumnData,
}

impl Column {
    /// A numeric column.
    pub fn numeric(name: impl Into<String>, values: Vec<f64>) -> Column {
        Column {
            name: name.into(),
            kind: ColumnKind::Numeric,
            data: ColumnData::Numeric(values),
        }
    }
    /// A boolean column (values 0/1, NaN missing).
    pub fn boolean(name: impl Into<String>, values: Vec<f64>) -> Column {
        Column {
            name: name.into(),
            kind: ColumnKind::Boolean,
            data: ColumnData::Numeric(values),
        }
    }
    /// A categorical column from optional strings (`None` = missing); levels are sorted.
    pub fn categorical<S: AsRef<str>>(name: impl Into<String>, values: &[Option<S>]) -> Column {
        let mut levels: Vec<String> = values
            .iter()
            .flatten()
            .map(|s| s.as_ref().to_string())
            .collect();
        levels.sort();
        levels.dedup();
        let codes = values
            .iter()
            .map(|v| match v {
                Some(s) => levels
                    .binary_search_by(|l| l.as_str().cmp(s.as_ref()))
                    .unwrap() as u32,
                None => MISSING_CODE,
            })
            .collect();
        Column {
            name: name.into(),
            kind: ColumnKind::Categorical,
            data: ColumnData::Categorical { codes, levels },
        }
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// The cell at row `i` as text (None = missing); numbers use Rust's shortest round-trip form.
    pub fn cell_string(&self, i: usize) -> Option<String> {
        match &self.data {
            ColumnData::Numeric(v) => v[i].is_finite().then(|| format_number(v[i])),
            ColumnData::Categorical { codes, levels } => {
                (codes[i] != MISSING_CODE).then(|| levels[codes[i] as usize].clone())
            }
        }
    }
    /// A copy holding only `rows` (in that order; repeats allowed). Levels are kept unchanged.
    pub fn select_rows(&self, rows: &[usize]) -> Column {
        let data = match &self.data {
            ColumnData::Numeric(v) => ColumnData::Numeric(rows.iter().map(|&r| v[r]).collect()),
            ColumnData::Categorical { codes, levels } => ColumnData::Categorical {
                codes: rows.iter().map(|&r| codes[r]).collect(),
                levels: levels.clone(),
            },
        };
        Column {
            name: self.name.clone(),
            kind: self.kind,
            data,
        }
    }
}

/// Format a finite number the way it would be written in a CSV (integers without ".0").
pub(crate) fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A table of equally long columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Frame {
    /// The columns, in file order.
    pub columns: Vec<Column>,
    /// Number of rows (every column has this length).
    pub n_rows: usize,
}

impl Frame {
    /// A frame from columns; panics if their lengths differ (a programming error).
    pub fn new(columns: Vec<Column>) -> Frame {
        let n_rows = columns.first().map_or(0, Column::len);
        assert!(
            columns.iter().all(|c| c.len() == n_rows),
            "Frame::new: columns differ in length"
        );
        Frame { columns, n_rows }
    }
    /// A copy holding only `rows` (in that order).
    pub fn select_rows(&self, rows: &[usize]) -> Frame {
        Frame {
            columns: self.columns.iter().map(|c| c.select_rows(rows)).collect(),
            n_rows: rows.len(),
        }
    }
    /// Names and kinds of the columns, as stored with a study.
    pub fn schema(&self) -> Vec<SchemaColumn> {
        self.columns
            .iter()
            .map(|c| SchemaColumn {
                name: c.name.clone(),
                kind: c.kind.as_str().to_string(),
            })
            .collect()
    }
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// Number of columns.
    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }
    /// Column names in order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_schema() {
        let f = Frame::new(vec![
            Column::numeric("a", vec![1.0, f64::NAN, 3.0]),
            Column::categorical("b", &[Some("y"), None, Some("x")]),
        ]);
        let s = f.select_rows(&[2, 0]);
        assert_eq!(s.n_rows, 2);
        assert_eq!(
            s.column("a").unwrap().data,
            ColumnData::Numeric(vec![3.0, 1.0])
        );
        assert_eq!(s.column("b").unwrap().cell_string(0).as_deref(), Some("x"));
        assert_eq!(f.column("b").unwrap().cell_string(1), None);
        let schema = f.schema();
        assert_eq!(schema[1].kind, "categorical");
        assert_eq!(f.column("b").unwrap().data.n_missing(), 1);
        assert_eq!(ColumnKind::parse("boolean"), Some(ColumnKind::Boolean));
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(2.5), "2.5");
    }
}
