//! Raw RFC-4180 CSV reading: bytes -> header + per-column cell buffers, with line numbers,
//! ragged-row and UTF-8 checks. Type inference happens in `load`.

use std::path::{Path, PathBuf};

use crate::columnar::{Format, parse_columnar};
use crate::error::{DataError, RowUnit};
use crate::hash::FxMap;

/// The cells of one column. While every non-missing cell parses as a number the column is
/// kept as numbers only (`numbers`); otherwise its cells are interned: each distinct byte
/// string is stored once and every row holds the index of its string (`distinct`, `codes`).
#[derive(Debug, Default)]
pub(crate) struct RawColumn {
    /// `Some` when every non-missing cell parsed as a number (NaN = missing; infinities kept).
    pub(crate) numbers: Option<Vec<f64>>,
    /// Distinct cell values (text columns).
    pub(crate) distinct: Vec<Vec<u8>>,
    /// Per row: index into `distinct` (text columns).
    pub(crate) codes: Vec<u32>,
    /// Row where text mode began (None while numeric).
    text_from: Option<usize>,
    pub(crate) map: FxMap<Vec<u8>, u32>,
}

impl RawColumn {
    #[inline]
    pub(crate) fn intern(&mut self, cell: &[u8]) -> u32 {
        // Few distinct values (the common categorical case): a linear scan beats hashing.
        if self.distinct.len() <= 16 {
            if let Some(c) = self.distinct.iter().position(|d| d.as_slice() == cell) {
                return c as u32;
            }
            let c = self.distinct.len() as u32;
            self.distinct.push(cell.to_vec());
            self.map.insert(cell.to_vec(), c);
            return c;
        }
        match self.map.get(cell) {
            Some(&c) => c,
            None => {
                let c = self.distinct.len() as u32;
                self.distinct.push(cell.to_vec());
                self.map.insert(cell.to_vec(), c);
                c
            }
        }
    }
    #[inline]
    fn push(&mut self, cell: &[u8], row: usize, missing: &MissingSet) {
        if let Some(nums) = &mut self.numbers {
            if let Some(x) = missing.number_or_missing(cell) {
                nums.push(x);
                return;
            }
            // First non-number: switch to text; earlier rows are filled in by a second pass.
            let cap = nums.capacity();
            self.numbers = None;
            self.codes.reserve(cap.saturating_sub(row));
            self.text_from = Some(row);
        }
        let c = self.intern(cell);
        self.codes.push(c);
    }
    /// The bytes of row `i` of a text column.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        &self.distinct[self.codes[i] as usize]
    }
    /// The text of row `i` of a text column (validated UTF-8; lossy as a last resort).
    pub(crate) fn get_str(&self, i: usize) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.get(i))
    }
}

/// Parse a cell as a number (surrounding whitespace allowed). Plain decimals take an exact
/// fast path (Clinger: mantissa < 2^53 and at most 18 fraction digits divide exactly-rounded);
/// everything else (`1e308`, `inf`, `-Infinity`, `nan`, long mantissas) goes to `str::parse`.
#[inline]
pub(crate) fn parse_num(cell: &[u8]) -> Option<f64> {
    let s = cell.trim_ascii();
    if let Some(x) = fast_decimal(s) {
        return Some(x);
    }
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

#[inline]
fn fast_decimal(s: &[u8]) -> Option<f64> {
    const P10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let (mut m, mut n_digits, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(b - b'0');
                n_digits += 1;
                frac += usize::from(dot);
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if n_digits == 0 || m > (1u64 << 53) {
        return None;
    }
    let v = m as f64 / P10[frac];
    Some(if neg { -v } else { v })
}

/// A CSV file read into raw cells.
#[derive(Debug)]
pub(crate) struct RawTable {
    pub(crate) path: PathBuf,
    pub(crate) header: Vec<String>,
    pub(crate) columns: Vec<RawColumn>,
    /// 1-based line where each data row starts (CSV), or the 1-based row number (Parquet,
    /// Arrow); `unit` says which.
    pub(crate) lines: Vec<u64>,
    /// What `lines` counts, for error messages.
    pub(crate) unit: RowUnit,
    /// Fingerprint of the file bytes.
    pub(crate) fingerprint: String,
}

impl RawTable {
    pub(crate) fn n_rows(&self) -> usize {
        self.lines.len()
    }
}

/// Which cells count as missing: trimmed, case-insensitive match against the tokens. An empty
/// (or whitespace-only) cell is always missing.
#[derive(Debug, Clone)]
pub(crate) struct MissingSet {
    tokens: Vec<Vec<u8>>,
    max_len: usize,
    /// Some token reads as a finite number (e.g. "-999"): check tokens before parsing.
    numeric_token: bool,
}

impl MissingSet {
    pub(crate) fn new(tokens: &[String]) -> MissingSet {
        let mut list = Vec::new();
        for t in tokens {
            let t = t.trim();
            if !t.is_empty() {
                list.push(t.as_bytes().to_ascii_lowercase());
            }
        }
        let max_len = list.iter().map(Vec::len).max().unwrap_or(0);
        let numeric_token = list
            .iter()
            .any(|t| parse_num(t).is_some_and(f64::is_finite));
        MissingSet {
            tokens: list,
            max_len,
            numeric_token,
        }
    }
    /// A cell of a numeric column: the number, NaN when missing, None when it is text.
    #[inline]
    pub(crate) fn number_or_missing(&self, cell: &[u8]) -> Option<f64> {
        if self.numeric_token && self.is_missing(cell) {
            return Some(f64::NAN);
        }
        if let Some(x) = parse_num(cell) {
            return Some(x);
        }
        self.is_missing(cell).then_some(f64::NAN)
    }
    /// Some token reads as a number (so numbers from Parquet/Arrow must be checked too).
    pub(crate) fn has_numeric_token(&self) -> bool {
        self.numeric_token
    }
    #[inline]
    pub(crate) fn is_missing(&self, cell: &[u8]) -> bool {
        let t = cell.trim_ascii();
        if t.is_empty() {
            return true;
        }
        if t.len() > self.max_len {
            return false;
        }
        self.tokens.iter().any(|tok| tok.eq_ignore_ascii_case(t))
    }
}

/// Read a CSV, Parquet or Arrow IPC file into raw cells (the format is told by the first
/// bytes). Columns named in `force_text` are kept as text even when their cells look numeric.
pub(crate) fn read_raw(
    path: &Path,
    missing: &MissingSet,
    force_text: &[String],
) -> Result<RawTable, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_raw(path, &bytes, missing, force_text)
}

/// The 1-based line where a record starts. The csv crate reports the position just after the
/// previous record, before the line terminators (`\r\n`, blank lines) it then skips.
fn true_line(body: &[u8], p: &csv::Position) -> u64 {
    let start = (p.byte() as usize).min(body.len());
    let skipped = body[start..]
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    p.line() + skipped as u64
}

/// Visit every data record of `body` (header skipped) with its 0-based row and 1-based line.
fn for_each_row(
    path: &Path,
    body: &[u8],
    n_cols: usize,
    mut f: impl FnMut(usize, u64, &csv::ByteRecord) -> bool,
) -> Result<usize, DataError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let mut row = 0;
    let mut header = true;
    loop {
        let more = rdr.read_byte_record(&mut rec).map_err(|e| DataError::Csv {
            path: path.to_path_buf(),
            row: e.position().map_or(0, |p| p.line()),
            column: "?".into(),
            message: e.to_string(),
        })?;
        if !more {
            return Ok(row);
        }
        if header {
            header = false;
            continue;
        }
        let line = rec.position().map_or(0, |p| true_line(body, p));
        if rec.len() != n_cols {
            // A line holding only whitespace is treated as blank.
            if rec.len() == 1 && rec[0].trim_ascii().is_empty() {
                continue;
            }
            return Err(DataError::RaggedRow {
                path: path.to_path_buf(),
                line,
                expected: n_cols,
                found: rec.len(),
            });
        }
        if !f(row, line, &rec) {
            return Ok(row);
        }
        row += 1;
    }
}

/// Parse CSV, Parquet or Arrow IPC bytes (see [`read_raw`]).
pub(crate) fn parse_raw(
    path: &Path,
    bytes: &[u8],
    missing: &MissingSet,
    force_text: &[String],
) -> Result<RawTable, DataError> {
    parse_raw_only(path, bytes, missing, force_text, None)
}

/// [`parse_raw`], reading only the columns named in `only` when the format stores columns
/// apart (Parquet, Arrow); a CSV is read whole.
pub(crate) fn parse_raw_only(
    path: &Path,
    bytes: &[u8],
    missing: &MissingSet,
    force_text: &[String],
    only: Option<&[String]>,
) -> Result<RawTable, DataError> {
    match Format::sniff(bytes) {
        Format::Csv => parse_csv(path, bytes, missing, force_text),
        format => parse_columnar(path, bytes, format, missing, force_text, only),
    }
}

/// How many lines `body` (a CSV file, header included) holds, to reserve the column buffers
/// once: its size over the mean length of the lines in its first MiB, a little over rather than
/// under. A file of one line or less in that sample falls back to the header's length
/// (`header_len`). At most 2^24: beyond, the buffers grow as they fill.
fn estimate_rows(body: &[u8], header_len: usize) -> usize {
    const SAMPLE: usize = 1 << 20;
    let sample = &body[..body.len().min(SAMPLE)];
    let lines = sample.iter().filter(|&&b| b == b'\n').count();
    let est = if lines >= 2 && sample.len() < body.len() {
        let mean_len = sample.len() as f64 / lines as f64;
        (body.len() as f64 / mean_len * 1.02).ceil() as usize
    } else if lines >= 2 {
        lines + 1
    } else {
        body.len() / header_len.max(1)
    };
    est.min(1 << 24)
}

/// Parse CSV bytes.
fn parse_csv(
    path: &Path,
    bytes: &[u8],
    missing: &MissingSet,
    force_text: &[String],
) -> Result<RawTable, DataError> {
    let fingerprint = crate::hash::fingerprint(bytes);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.trim_ascii().is_empty() {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let got = rdr.read_byte_record(&mut rec).map_err(|e| DataError::Csv {
        path: path.to_path_buf(),
        row: 1,
        column: "header".into(),
        message: e.to_string(),
    })?;
    if !got {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut header = Vec::with_capacity(rec.len());
    for field in rec.iter() {
        let s = std::str::from_utf8(field).map_err(|_| DataError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: 1,
        })?;
        if header.iter().any(|h: &String| h == s) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                name: s.to_string(),
            });
        }
        header.push(s.to_string());
    }
    let n_cols = header.len();
    // Estimate rows from the byte size to reserve buffers once.
    let est_rows = estimate_rows(body, rec.as_slice().len() + n_cols);
    let mut columns: Vec<RawColumn> = header
        .iter()
        .map(|h| {
            if force_text.contains(h) {
                RawColumn {
                    text_from: Some(0),
                    codes: Vec::with_capacity(est_rows),
                    ..RawColumn::default()
                }
            } else {
                RawColumn {
                    numbers: Some(Vec::with_capacity(est_rows)),
                    ..RawColumn::default()
                }
            }
        })
        .collect();
    let mut lines = Vec::with_capacity(est_rows);
    for_each_row(path, body, n_cols, |row, line, rec| {
        for (col, field) in columns.iter_mut().zip(rec.iter()) {
            col.push(field, row, missing);
        }
        lines.push(line);
        true
    })?;
    if lines.is_empty() {
        return Err(DataError::HeaderOnly {
            path: path.to_path_buf(),
        });
    }
    // Columns that turned out to be text after some numeric rows: intern those first rows.
    let late: Vec<(usize, usize)> = columns
        .iter()
        .enumerate()
        .filter_map(|(j, c)| c.text_from.filter(|&r| r > 0).map(|r| (j, r)))
        .collect();
    if let Some(max_row) = late.iter().map(|&(_, r)| r).max() {
        let mut prefix: Vec<Vec<u32>> = late.iter().map(|&(_, r)| Vec::with_capacity(r)).collect();
        for_each_row(path, body, n_cols, |row, _, rec| {
            for (k, &(j, r)) in late.iter().enumerate() {
                if row < r {
                    prefix[k].push(columns[j].intern(&rec[j]));
                }
            }
            row + 1 < max_row
        })?;
        for (k, &(j, _)) in late.iter().enumerate() {
            let rest = std::mem::take(&mut columns[j].codes);
            let mut codes = std::mem::take(&mut prefix[k]);
            codes.extend(rest);
            columns[j].codes = codes;
        }
    }
    // UTF-8 is checked once per distinct value; an invalid one is reported at its first row.
    // (Cells read as numbers are ASCII.)
    for col in &mut columns {
        col.map = FxMap::default();
        if let Some(bad) = col
            .distinct
            .iter()
            .position(|d| std::str::from_utf8(d).is_err())
        {
            let row = col
                .codes
                .iter()
                .position(|&c| c as usize == bad)
                .unwrap_or(0);
            return Err(DataError::InvalidUtf8 {
                path: path.to_path_buf(),
                line: lines[row],
            });
        }
    }
    Ok(RawTable {
        path: path.to_path_buf(),
        header,
        columns,
        lines,
        unit: RowUnit::Line,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_estimated_from_the_data_lines_not_the_header() {
        // a short header over long rows, and a long header over short rows: 3 MB of body either
        // way, far more than the 1 MiB sample
        for (header, row) in [
            (
                "a,b\n".to_string(),
                "0.12345678901234567,0.98765432109876543\n",
            ),
            (
                format!("{},y\n", "a_long_descriptive_column_name_".repeat(8)),
                "1,2\n",
            ),
        ] {
            let n = 3_000_000 / row.len();
            let body = format!("{header}{}", row.repeat(n));
            let est = estimate_rows(body.as_bytes(), header.len());
            assert!(
                est >= n && est <= n + n / 10,
                "{n} rows estimated as {est} (header {} bytes)",
                header.len()
            );
        }
        // a small file is counted exactly (its lines, header included)
        assert_eq!(estimate_rows(b"a,b\n1,2\n3,4\n", 4), 4);
        assert_eq!(estimate_rows(b"a,b", 4), 0);
    }

    #[test]
    fn missing_set_matches_trimmed_case_insensitive() {
        let m = MissingSet::new(&["".into(), "NA".into(), "?".into()]);
        assert!(m.is_missing(b""));
        assert!(m.is_missing(b"  "));
        assert!(m.is_missing(b"na"));
        assert!(m.is_missing(b" Na "));
        assert!(m.is_missing(b"?"));
        assert!(!m.is_missing(b"nan"));
        assert!(!m.is_missing(b"NAB"));
        let only_empty = MissingSet::new(&["".into()]);
        assert!(!only_empty.is_missing(b"NA"));
        assert!(only_empty.is_missing(b""));
    }

    #[test]
    fn raw_cells_and_lines() {
        let m = MissingSet::new(&["".into()]);
        let t = parse_raw(
            Path::new("x.csv"),
            b"a,b\r\n1,\"x,\ny\"\r\n2,z\r\n",
            &m,
            &[],
        )
        .unwrap();
        assert_eq!(t.header, vec!["a", "b"]);
        assert_eq!(t.columns[1].get(0), b"x,\ny");
        assert_eq!(t.columns[1].get(1), b"z");
        assert_eq!(t.lines, vec![2, 4]);
        assert_eq!(t.columns[0].numbers, Some(vec![1.0, 2.0]));
    }

    #[test]
    fn late_text_column_keeps_earlier_cells() {
        let m = MissingSet::new(&["".into()]);
        let t = parse_raw(Path::new("x.csv"), b"a,b\n1,01\n2,\n3,x\n", &m, &[]).unwrap();
        assert!(t.columns[1].numbers.is_none());
        let cells: Vec<&[u8]> = (0..3).map(|i| t.columns[1].get(i)).collect();
        assert_eq!(cells, vec![&b"01"[..], b"", b"x"]);
        let forced = parse_raw(Path::new("x.csv"), b"a\n007\n", &m, &["a".into()]).unwrap();
        assert_eq!(forced.columns[0].get(0), b"007");
    }

    #[test]
    fn numbers_parse_exactly() {
        for s in [
            "0.1",
            "-2.5",
            "123456.789",
            "5195",
            "1e308",
            ".5",
            "5.",
            "+3",
            "-0",
            "0.000001",
            "123456789012345678",
            "9007199254740993",
            "1.7976931348623157",
            " 4.25 ",
        ] {
            let want: f64 = s.trim().parse().unwrap();
            assert_eq!(
                parse_num(s.as_bytes()).unwrap().to_bits(),
                want.to_bits(),
                "{s}"
            );
        }
        assert!(parse_num(b"inf").unwrap().is_infinite());
        assert!(parse_num(b"-Infinity").unwrap().is_infinite());
        for bad in ["", "-", ".", "1.2.3", "abc", "1,5", "--1"] {
            assert!(parse_num(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}
