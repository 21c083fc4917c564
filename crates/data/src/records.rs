//! Prediction input that does not come from a CSV file: JSON records (`[{"col": value, ...}]`,
//! as `automl serve` receives them) turned into a [`Frame`] with a model's schema, with the
//! semantics of [`crate::load_for_prediction`]. CSV bytes already in memory go through
//! [`crate::load_for_prediction_bytes`].

use std::path::PathBuf;

use automl_core::trial::SchemaColumn;
use serde_json::{Map, Value};

use crate::error::DataError;
use crate::frame::{Column, ColumnKind, Frame, format_number};
use crate::load::parse_bool;
use crate::reader::{MissingSet, parse_num};

/// The file name that error messages about JSON records use.
pub const RECORDS_LABEL: &str = "the request";

/// Build a frame with exactly `schema`'s columns (in schema order) from JSON records.
///
/// - Keys that are not schema columns (the target, an id, ...) are ignored; key order is free.
/// - A schema column that no record names is a [`DataError::MissingColumns`]; a record
///   without a key that other records have, `null`, and any of `missing_tokens` (as a string)
///   are missing values, imputed like empty CSV cells.
/// - Numeric columns take numbers or numeric strings; boolean columns `true`/`false`, `0`/`1`
///   or those as strings; categorical columns strings (unseen categories are fine), with
///   numbers and booleans read as their text. Anything else is a [`DataError::BadRecordValue`]
///   naming the record (1-based) and the column.
pub fn frame_from_records(
    records: &[Map<String, Value>],
    schema: &[SchemaColumn],
    missing_tokens: &[String],
) -> Result<Frame, DataError> {
    let missing = MissingSet::new(missing_tokens);
    let absent: Vec<String> = schema
        .iter()
        .filter(|s| !records.iter().any(|r| r.contains_key(&s.name)))
        .map(|s| s.name.clone())
        .collect();
    if !absent.is_empty() && !records.is_empty() {
        return Err(DataError::MissingColumns {
            path: PathBuf::from(RECORDS_LABEL),
            columns: absent,
        });
    }
    let mut columns = Vec::with_capacity(schema.len());
    for s in schema {
        let kind = ColumnKind::parse(&s.kind).ok_or_else(|| DataError::UnknownKind {
            column: s.name.clone(),
            kind: s.kind.clone(),
        })?;
        let bad = |i: usize, v: &Value, expected: &str| DataError::BadRecordValue {
            row: i + 1,
            column: s.name.clone(),
            value: v.to_string(),
            expected: expected.to_string(),
        };
        let cells = records
            .iter()
            .map(|r| r.get(&s.name).unwrap_or(&Value::Null));
        let col = match kind {
            ColumnKind::Numeric => {
                let mut v = Vec::with_capacity(records.len());
                for (i, cell) in cells.enumerate() {
                    v.push(match cell {
                        Value::Null => f64::NAN,
                        Value::Number(n) => {
                            let x = n.as_f64().unwrap_or(f64::NAN);
                            if missing.is_missing(format_number(x).as_bytes()) {
                                f64::NAN
                            } else {
                                x
                            }
                        }
                        Value::String(t) => missing
                            .number_or_missing(t.as_bytes())
                            .ok_or_else(|| bad(i, cell, "a number"))?,
                        _ => return Err(bad(i, cell, "a number")),
                    });
                }
                let v = v
                    .into_iter()
                    .map(|x| if x.is_finite() { x } else { f64::NAN })
                    .collect();
                Column::numeric(s.name.clone(), v)
            }
            ColumnKind::Boolean => {
                let mut v = Vec::with_capacity(records.len());
                for (i, cell) in cells.enumerate() {
                    v.push(match cell {
                        Value::Null => f64::NAN,
                        Value::Bool(b) => f64::from(u8::from(*b)),
                        Value::Number(n) => match n.as_f64() {
                            Some(x) if x == 0.0 || x == 1.0 => x,
                            _ => return Err(bad(i, cell, "true/false")),
                        },
                        Value::String(t) if missing.is_missing(t.as_bytes()) => f64::NAN,
                        Value::String(t) => parse_bool(t.as_bytes())
                            .or_else(|| parse_num(t.as_bytes()).filter(|x| *x == 0.0 || *x == 1.0))
                            .ok_or_else(|| bad(i, cell, "true/false"))?,
                        _ => return Err(bad(i, cell, "true/false")),
                    });
                }
                Column::boolean(s.name.clone(), v)
            }
            ColumnKind::Categorical => {
                let mut v: Vec<Option<String>> = Vec::with_capacity(records.len());
                for (i, cell) in cells.enumerate() {
                    let text = match cell {
                        Value::Null => None,
                        Value::String(t) => Some(t.clone()),
                        Value::Number(n) => Some(
                            n.as_f64()
                                .map(format_number)
                                .unwrap_or_else(|| n.to_string()),
                        ),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => return Err(bad(i, cell, "a string or a number")),
                    };
                    v.push(text.filter(|t| !missing.is_missing(t.as_bytes())));
                }
                Column::categorical(s.name.clone(), &v)
            }
        };
        columns.push(col);
    }
    Ok(Frame {
        columns,
        n_rows: records.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ColumnData;
    use crate::load::default_missing_tokens;
    use serde_json::json;

    fn schema() -> Vec<SchemaColumn> {
        [
            ("x", "numeric"),
            ("flag", "boolean"),
            ("color", "categorical"),
        ]
        .iter()
        .map(|(n, k)| SchemaColumn {
            name: n.to_string(),
            kind: k.to_string(),
        })
        .collect()
    }

    fn records(v: Value) -> Vec<Map<String, Value>> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reordered_extra_and_missing_values() {
        let recs = records(json!([
            {"color": "red", "target": 1, "x": 1.5, "flag": true},
            {"x": "2", "flag": "false", "color": null},
            {"x": null, "flag": 1, "color": "never-seen"},
            {"x": "NA", "color": 7}
        ]));
        let f = frame_from_records(&recs, &schema(), &default_missing_tokens()).unwrap();
        assert_eq!(f.n_rows, 4);
        assert_eq!(f.names(), vec!["x", "flag", "color"]);
        let ColumnData::Numeric(x) = &f.columns[0].data else {
            panic!()
        };
        assert_eq!(x[0], 1.5);
        assert_eq!(x[1], 2.0);
        assert!(x[2].is_nan() && x[3].is_nan());
        let ColumnData::Numeric(b) = &f.columns[1].data else {
            panic!()
        };
        assert_eq!(&b[..3], &[1.0, 0.0, 1.0]);
        assert!(b[3].is_nan());
        let c = &f.columns[2];
        assert_eq!(c.cell_string(0).as_deref(), Some("red"));
        assert_eq!(c.cell_string(1), None);
        assert_eq!(c.cell_string(2).as_deref(), Some("never-seen"));
        assert_eq!(c.cell_string(3).as_deref(), Some("7"));
    }

    #[test]
    fn absent_column_and_bad_values_are_named() {
        let recs = records(json!([{"x": 1, "flag": true}]));
        let e = frame_from_records(&recs, &schema(), &[]).unwrap_err();
        assert!(matches!(&e, DataError::MissingColumns { columns, .. } if columns == &["color"]));
        let recs = records(json!([{"x": 1, "flag": true, "color": "a"}, {"x": "abc"}]));
        let e = frame_from_records(&recs, &schema(), &[]).unwrap_err();
        assert!(e.to_string().contains("record 2, column 'x'"), "{e}");
        let recs = records(json!([{"x": 1, "flag": 3, "color": "a"}]));
        let e = frame_from_records(&recs, &schema(), &[]).unwrap_err();
        assert!(matches!(e, DataError::BadRecordValue { row: 1, .. }));
        let recs = records(json!([{"x": 1, "flag": true, "color": [1]}]));
        assert!(frame_from_records(&recs, &schema(), &[]).is_err());
    }
}
