//! Parquet and Arrow IPC (file and stream) input: the same [`RawTable`] the CSV reader builds,
//! so type inference, missing values, the target and the data report work unchanged.
//!
//! Mapping: integers, floats and decimals -> numbers (null and NaN = missing); booleans -> the
//! text `true`/`false`; strings and dictionary-encoded strings (pandas categoricals) -> text,
//! where the missing tokens apply as to CSV cells and an all-number column becomes numeric as
//! in a CSV; dates and timestamps -> ISO-8601 text (so `--time-col` works); the null type ->
//! missing. Other types (lists, structs, binary, ...) are a [`DataError::UnsupportedType`].

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

use crate::error::{DataError, RowUnit};
use crate::hash::FxMap;
use crate::reader::{MissingSet, RawColumn, RawTable};

/// The format of an input, told by its first bytes (never by the file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Anything else: read as CSV.
    Csv,
    /// Parquet (`PAR1`).
    Parquet,
    /// Arrow IPC file / Feather v2 (`ARROW1`).
    ArrowFile,
    /// Arrow IPC stream (a message starting with the continuation marker `0xFFFFFFFF`).
    ArrowStream,
}

impl Format {
    /// Tell the format from the first bytes. A CSV file never starts with `0xFF` (not UTF-8);
    /// a CSV header such as `PAR1,x` is told from Parquet by the binary byte after the magic.
    pub(crate) fn sniff(bytes: &[u8]) -> Format {
        let binary_after = |n: usize| {
            bytes
                .get(n)
                .is_none_or(|b| !(b.is_ascii_graphic() || b.is_ascii_whitespace()))
        };
        if bytes.starts_with(b"PAR1") && binary_after(4) {
            Format::Parquet
        } else if bytes.starts_with(b"ARROW1") && binary_after(6) {
            Format::ArrowFile
        } else if bytes.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) {
            Format::ArrowStream
        } else {
            Format::Csv
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Parquet => "Parquet",
            Format::ArrowFile => "Arrow IPC file",
            Format::ArrowStream => "Arrow IPC stream",
        }
    }
}

/// The schema and record batches of an Arrow IPC reader (file or stream), projected on
/// `only`'s columns when given. `open(projection)` opens the reader; a projected reader keeps
/// the full schema while its batches are projected, so the schema is projected here.
#[allow(clippy::type_complexity)]
fn ipc_batches<'a, R>(
    open: impl Fn(Option<Vec<usize>>) -> Result<R, arrow_schema::ArrowError>,
    only: Option<&[String]>,
    bad: &dyn Fn(&dyn std::fmt::Display) -> DataError,
) -> Result<
    (
        SchemaRef,
        Box<dyn Iterator<Item = Result<RecordBatch, String>> + 'a>,
    ),
    DataError,
>
where
    R: arrow_array::RecordBatchReader + 'a,
{
    let r = open(None).map_err(|e| bad(&e))?;
    let full = r.schema();
    let (schema, r) = match projection(&full, only) {
        Some(proj) => (
            Arc::new(full.project(&proj).map_err(|e| bad(&e))?),
            open(Some(proj)).map_err(|e| bad(&e))?,
        ),
        None => (full, r),
    };
    Ok((schema, Box::new(r.map(|b| b.map_err(|e| e.to_string())))))
}

/// Read a Parquet or Arrow IPC input into a [`RawTable`]. `only`: read just these columns
/// (prediction: the schema's; absent names are left for the caller to report). Columns named
/// in `force_text` are kept as text even when their values are numbers.
pub(crate) fn parse_columnar(
    path: &Path,
    bytes: &[u8],
    format: Format,
    missing: &MissingSet,
    force_text: &[String],
    only: Option<&[String]>,
) -> Result<RawTable, DataError> {
    let fingerprint = crate::hash::fingerprint(bytes);
    let bad = |e: &dyn std::fmt::Display| DataError::Malformed {
        path: path.to_path_buf(),
        format: format.name(),
        message: e.to_string(),
    };
    let (schema, batches): (
        SchemaRef,
        Box<dyn Iterator<Item = Result<RecordBatch, String>>>,
    ) = match format {
        Format::Parquet => {
            let data = bytes::Bytes::copy_from_slice(bytes);
            return parquet_table(path, data, missing, force_text, only, fingerprint);
        }
        Format::ArrowFile => ipc_batches(
            |proj| arrow_ipc::reader::FileReader::try_new(Cursor::new(bytes), proj),
            only,
            &bad,
        )?,
        Format::ArrowStream => ipc_batches(
            |proj| arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes), proj),
            only,
            &bad,
        )?,
        Format::Csv => unreachable!("CSV goes to reader::parse_raw"),
    };
    build_table(
        path,
        format,
        &schema,
        batches,
        missing,
        force_text,
        fingerprint,
    )
}

/// Read a Parquet file from disk without loading it whole (prediction: no fingerprint).
pub(crate) fn read_parquet_file(
    path: &Path,
    missing: &MissingSet,
    force_text: &[String],
    only: Option<&[String]>,
) -> Result<RawTable, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parquet_table(path, file, missing, force_text, only, String::new())
}

fn parquet_table<T: parquet::file::reader::ChunkReader + 'static>(
    path: &Path,
    data: T,
    missing: &MissingSet,
    force_text: &[String],
    only: Option<&[String]>,
    fingerprint: String,
) -> Result<RawTable, DataError> {
    let format = Format::Parquet;
    let bad = |e: &dyn std::fmt::Display| DataError::Malformed {
        path: path.to_path_buf(),
        format: format.name(),
        message: e.to_string(),
    };
    let mut builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(|e| bad(&e))?;
    if let Some(proj) = projection(builder.schema(), only) {
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), proj);
        builder = builder.with_projection(mask);
    }
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| bad(&e))?;
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let batches = Box::new(reader.map(|b| b.map_err(|e| e.to_string())));
    build_table(
        path,
        format,
        &schema,
        batches,
        missing,
        force_text,
        fingerprint,
    )
}

/// Indices of the top-level fields named in `only` (None = all columns).
fn projection(schema: &SchemaRef, only: Option<&[String]>) -> Option<Vec<usize>> {
    let only = only?;
    Some(
        schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| only.iter().any(|n| n == f.name()))
            .map(|(i, _)| i)
            .collect(),
    )
}

/// One column while batches are appended: numbers, or interned text cells.
struct Acc {
    col: RawColumn,
    /// Appended as text (strings, booleans, dates, or forced text).
    text: bool,
}

fn build_table(
    path: &Path,
    format: Format,
    schema: &SchemaRef,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, String>> + '_>,
    missing: &MissingSet,
    force_text: &[String],
    fingerprint: String,
) -> Result<RawTable, DataError> {
    let mut header: Vec<String> = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        if header.iter().any(|h| h == f.name()) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                name: f.name().clone(),
            });
        }
        check_type(path, f.name(), f.data_type())?;
        header.push(f.name().clone());
    }
    if header.is_empty() {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut accs: Vec<Acc> = header
        .iter()
        .zip(schema.fields())
        .map(|(h, f)| {
            let text = force_text.contains(h) || !is_numeric(f.data_type());
            let mut col = RawColumn::default();
            col.numbers = (!text).then(Vec::new);
            Acc { col, text }
        })
        .collect();
    let mut n_rows = 0usize;
    for batch in batches {
        let batch = batch.map_err(|message| DataError::Malformed {
            path: path.to_path_buf(),
            format: format.name(),
            message,
        })?;
        for ((acc, array), name) in accs.iter_mut().zip(batch.columns()).zip(&header) {
            append(path, name, acc, array, missing)?;
        }
        n_rows += batch.num_rows();
    }
    if n_rows == 0 {
        return Err(DataError::HeaderOnly {
            path: path.to_path_buf(),
        });
    }
    let columns = accs
        .into_iter()
        .zip(&header)
        .map(|(acc, name)| finish(acc, force_text.contains(name), missing))
        .collect();
    Ok(RawTable {
        path: path.to_path_buf(),
        header,
        columns,
        lines: (1..=n_rows as u64).collect(),
        unit: RowUnit::Row,
        fingerprint,
    })
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

/// Types this reader maps (the checks run on the schema, before any data is read).
fn check_type(path: &Path, name: &str, t: &DataType) -> Result<(), DataError> {
    let ok = match t {
        DataType::Dictionary(_, v) => {
            matches!(
                v.as_ref(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) || is_numeric(v)
        }
        DataType::Null
        | DataType::Boolean
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _) => true,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(DataError::UnsupportedType {
            path: path.to_path_buf(),
            column: name.to_string(),
            data_type: t.to_string(),
        })
    }
}

/// The values of a numeric array as f64 (null = NaN), or None for a non-numeric array.
fn numbers(array: &dyn Array) -> Option<Vec<f64>> {
    macro_rules! prim {
        ($t:ty) => {
            array
                .as_primitive::<$t>()
                .iter()
                .map(|v| v.map_or(f64::NAN, |x| x as f64))
                .collect()
        };
    }
    let v: Vec<f64> = match array.data_type() {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => prim!(Float64Type),
        DataType::Float16 => array
            .as_primitive::<Float16Type>()
            .iter()
            .map(|v| v.map_or(f64::NAN, |x| x.to_f64()))
            .collect(),
        DataType::Null => vec![f64::NAN; array.len()],
        DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            // Through the exact decimal text: correctly rounded, as a CSV cell would be.
            let mut out = Vec::with_capacity(array.len());
            let mut s = String::new();
            for i in 0..array.len() {
                if array.is_null(i) {
                    out.push(f64::NAN);
                } else {
                    s.clear();
                    decimal_text(array, i, &mut s);
                    out.push(s.parse().unwrap_or(f64::NAN));
                }
            }
            out
        }
        _ => return None,
    };
    Some(v)
}

fn decimal_text(array: &dyn Array, i: usize, out: &mut String) {
    use arrow_array::types::{Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type};
    let s = match array.data_type() {
        DataType::Decimal32(_, _) => array.as_primitive::<Decimal32Type>().value_as_string(i),
        DataType::Decimal64(_, _) => array.as_primitive::<Decimal64Type>().value_as_string(i),
        DataType::Decimal128(_, _) => array.as_primitive::<Decimal128Type>().value_as_string(i),
        DataType::Decimal256(_, _) => array.as_primitive::<Decimal256Type>().value_as_string(i),
        _ => String::new(),
    };
    out.push_str(&s);
}

/// Shortest text of a number, as it would read in a CSV (`3`, not `3.0`).
fn number_text(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x}")
    }
}

/// Call `f` with each text cell of a non-numeric array, in row order (`None` = null); the
/// array's type when it has no text form.
fn for_each_text(array: &dyn Array, f: &mut dyn FnMut(Option<&[u8]>)) -> Result<(), DataType> {
    match array.data_type() {
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .for_each(|v| f(v.map(str::as_bytes))),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .iter()
            .for_each(|v| f(v.map(str::as_bytes))),
        DataType::Utf8View => array
            .as_string_view()
            .iter()
            .for_each(|v| f(v.map(str::as_bytes))),
        DataType::Boolean => array.as_boolean().iter().for_each(|v| {
            f(v.map(|b| if b { &b"true"[..] } else { &b"false"[..] }));
        }),
        DataType::Null => (0..array.len()).for_each(|_| f(None)),
        DataType::Date32 => {
            let a = array.as_primitive::<Date32Type>();
            for v in a.iter() {
                f(v.map(|d| date_text(i64::from(d)))
                    .as_deref()
                    .map(str::as_bytes));
            }
        }
        DataType::Date64 => {
            let a = array.as_primitive::<Date64Type>();
            for v in a.iter() {
                let s = v.map(|ms| {
                    datetime_text(ms.div_euclid(1000), ms.rem_euclid(1000) * 1_000_000, true)
                });
                f(s.as_deref().map(str::as_bytes));
            }
        }
        DataType::Timestamp(unit, tz) => {
            let (per_sec, vals): (i64, Vec<Option<i64>>) = match unit {
                TimeUnit::Second => (
                    1,
                    array.as_primitive::<TimestampSecondType>().iter().collect(),
                ),
                TimeUnit::Millisecond => (
                    1_000,
                    array
                        .as_primitive::<TimestampMillisecondType>()
                        .iter()
                        .collect(),
                ),
                TimeUnit::Microsecond => (
                    1_000_000,
                    array
                        .as_primitive::<TimestampMicrosecondType>()
                        .iter()
                        .collect(),
                ),
                TimeUnit::Nanosecond => (
                    1_000_000_000,
                    array
                        .as_primitive::<TimestampNanosecondType>()
                        .iter()
                        .collect(),
                ),
            };
            for v in vals {
                let s = v.map(|t| {
                    let nanos = t.rem_euclid(per_sec) * (1_000_000_000 / per_sec);
                    datetime_text(t.div_euclid(per_sec), nanos, tz.is_some())
                });
                f(s.as_deref().map(str::as_bytes));
            }
        }
        DataType::Dictionary(_, _) => {
            let d = array.as_any_dictionary();
            // The dictionary values as cells once, then one lookup per row.
            let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(d.values().len());
            match numbers(d.values().as_ref()) {
                Some(nums) => values.extend(
                    nums.iter()
                        .map(|&x| (!x.is_nan()).then(|| number_text(x).into_bytes())),
                ),
                None => for_each_text(d.values().as_ref(), &mut |c| {
                    values.push(c.map(<[u8]>::to_vec));
                })?,
            }
            let keys = d.normalized_keys();
            let nulls = array.logical_nulls();
            for (i, k) in keys.into_iter().enumerate() {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    f(None);
                } else {
                    f(values.get(k).and_then(|v| v.as_deref()));
                }
            }
        }
        other => return Err(other.clone()),
    }
    Ok(())
}

/// Append one batch's array to a column.
fn append(
    path: &Path,
    name: &str,
    acc: &mut Acc,
    array: &ArrayRef,
    missing: &MissingSet,
) -> Result<(), DataError> {
    let unsupported = |t: DataType| DataError::UnsupportedType {
        path: path.to_path_buf(),
        column: name.to_string(),
        data_type: t.to_string(),
    };
    if !acc.text {
        let nums = numbers(array.as_ref()).ok_or_else(|| unsupported(array.data_type().clone()))?;
        let out = acc.col.numbers.get_or_insert_with(Vec::new);
        if missing.has_numeric_token() {
            // A numeric missing token (`-999`) applies to numbers as to CSV cells.
            out.extend(nums.into_iter().map(|x| {
                if !x.is_nan() && missing.is_missing(number_text(x).as_bytes()) {
                    f64::NAN
                } else {
                    x
                }
            }));
        } else {
            out.extend(nums);
        }
        return Ok(());
    }
    let col = &mut acc.col;
    if let Some(nums) = numbers(array.as_ref()) {
        // A numeric column kept as text (a categorical of the model's schema).
        for x in nums {
            let c = col.intern(number_text(x).as_bytes());
            col.codes.push(c);
        }
        return Ok(());
    }
    for_each_text(array.as_ref(), &mut |cell| {
        let c = col.intern(cell.unwrap_or(b""));
        col.codes.push(c);
    })
    .map_err(unsupported)
}

/// Done appending: a text column whose every value is a number or missing becomes numeric,
/// exactly as a CSV column would (unless it is forced to text).
fn finish(acc: Acc, forced: bool, missing: &MissingSet) -> RawColumn {
    let mut col = acc.col;
    col.map = FxMap::default();
    if acc.text && !forced {
        let per_value: Option<Vec<f64>> = col
            .distinct
            .iter()
            .map(|d| missing.number_or_missing(d))
            .collect();
        if let Some(per_value) = per_value {
            col.numbers = Some(col.codes.iter().map(|&c| per_value[c as usize]).collect());
            col.codes = Vec::new();
            col.distinct = Vec::new();
        }
    }
    col
}

/// A column to write with [`write_parquet`].
#[derive(Debug, Clone, PartialEq)]
pub enum OutColumn {
    /// UTF-8 strings (class labels).
    Text(Vec<String>),
    /// 64-bit floats (NaN written as NaN, not null).
    Numbers(Vec<f64>),
}

/// Write named columns of equal length to a Parquet file (Snappy-compressed; the file is
/// replaced). Used for `automl predict --output PREDS.parquet`.
pub fn write_parquet(path: &Path, columns: &[(String, OutColumn)]) -> Result<(), DataError> {
    use arrow_array::{Float64Array, StringArray};
    let err = |e: &dyn std::fmt::Display| DataError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let arrays = columns.iter().map(|(name, c)| {
        let a: ArrayRef = match c {
            OutColumn::Text(v) => Arc::new(StringArray::from_iter_values(v)),
            OutColumn::Numbers(v) => Arc::new(Float64Array::from(v.clone())),
        };
        (name.clone(), a)
    });
    let batch = RecordBatch::try_from_iter(arrays).map_err(|e| err(&e))?;
    let file = std::fs::File::create(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props))
        .map_err(|e| err(&e))?;
    w.write(&batch).map_err(|e| err(&e))?;
    w.close().map_err(|e| err(&e))?;
    Ok(())
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2024-03-01`.
fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2024-03-01T12:30:45` (+ `.250` when there are fractional seconds, + `Z` for a UTC
/// instant).
fn datetime_text(secs: i64, nanos: i64, utc: bool) -> String {
    let days = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    let mut out = format!(
        "{}T{:02}:{:02}:{:02}",
        date_text(days),
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if utc {
        out.push('Z');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_the_iso_parser() {
        for days in [-719_468i64, -1, 0, 59, 60, 365, 11_016, 19_782, 2_932_896] {
            let s = date_text(days);
            assert_eq!(
                crate::time::parse_iso8601(&s),
                Some(days as f64 * 86_400.0),
                "{s}"
            );
        }
        assert_eq!(
            datetime_text(1_709_296_245, 250_000_000, true),
            "2024-03-01T12:30:45.25Z"
        );
        assert_eq!(datetime_text(-1, 0, false), "1969-12-31T23:59:59");
    }

    #[test]
    fn sniffs_by_magic_bytes() {
        assert_eq!(Format::sniff(b"PAR1\x15\x04"), Format::Parquet);
        assert_eq!(Format::sniff(b"ARROW1\0\0"), Format::ArrowFile);
        assert_eq!(Format::sniff(b"PAR1,x\n1,2\n"), Format::Csv);
        assert_eq!(Format::sniff(b"ARROW1\n1\n"), Format::Csv);
        assert_eq!(
            Format::sniff(&[0xFF, 0xFF, 0xFF, 0xFF, 1, 0]),
            Format::ArrowStream
        );
        assert_eq!(Format::sniff(b"a,b\n1,2\n"), Format::Csv);
        assert_eq!(Format::sniff(b"PAR"), Format::Csv);
    }
}
