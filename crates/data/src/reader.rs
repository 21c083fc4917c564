//! Raw RFC-4180 CSV reading: bytes -> header + per-column cell buffers, with line numbers,
//! ragged-row and UTF-8 checks. Type inference happens in `load`.

use std::path::{Path, PathBuf};

use crate::error::DataError;

/// The cells of one column, stored back to back.
#[derive(Debug, Default)]
pub(crate) struct RawColumn {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl RawColumn {
    /// The bytes of row `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
    /// The text of row `i` (validated UTF-8 at read time; lossy as a last resort).
    pub(crate) fn get_str(&self, i: usize) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.get(i))
    }
    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// A CSV file read into raw cells.
#[derive(Debug)]
pub(crate) struct RawTable {
    pub(crate) path: PathBuf,
    pub(crate) header: Vec<String>,
    pub(crate) columns: Vec<RawColumn>,
    /// 1-based line where each data row starts.
    pub(crate) lines: Vec<u64>,
    /// Fingerprint of the file bytes.
    pub(crate) fingerprint: String,
}

impl RawTable {
    pub(crate) fn n_rows(&self) -> usize {
        self.lines.len()
    }
}

/// Which cells count as missing: trimmed, case-insensitive match against the tokens.
#[derive(Debug, Clone)]
pub(crate) struct MissingSet {
    empty: bool,
    tokens: Vec<Vec<u8>>,
    max_len: usize,
}

impl MissingSet {
    pub(crate) fn new(tokens: &[String]) -> MissingSet {
        let mut empty = false;
        let mut list = Vec::new();
        for t in tokens {
            let t = t.trim();
            if t.is_empty() {
                empty = true;
            } else {
                list.push(t.as_bytes().to_ascii_lowercase());
            }
        }
        let max_len = list.iter().map(Vec::len).max().unwrap_or(0);
        MissingSet { empty, tokens: list, max_len }
    }
    #[inline]
    pub(crate) fn is_missing(&self, cell: &[u8]) -> bool {
        if cell.is_empty() {
            return self.empty;
        }
        let t = cell.trim_ascii();
        if t.is_empty() {
            return self.empty;
        }
        if t.len() > self.max_len {
            return false;
        }
        self.tokens.iter().any(|tok| tok.eq_ignore_ascii_case(t))
    }
}

/// Read a CSV file into raw cells.
pub(crate) fn read_raw(path: &Path) -> Result<RawTable, DataError> {
    let bytes = std::fs::read(path)
        .map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    parse_raw(path, &bytes)
}

/// Parse CSV bytes (see [`read_raw`]).
pub(crate) fn parse_raw(path: &Path, bytes: &[u8]) -> Result<RawTable, DataError> {
    let fingerprint = crate::hash::fingerprint(bytes);
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.trim_ascii().is_empty() {
        return Err(DataError::EmptyFile { path: path.to_path_buf() });
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rec = csv::ByteRecord::new();
    let csv_err = |e: csv::Error, line: u64| DataError::Csv {
        path: path.to_path_buf(),
        row: e.position().map_or(line, |p| p.line()),
        column: "?".into(),
        message: e.to_string(),
    };
    if !rdr.read_byte_record(&mut rec).map_err(|e| csv_err(e, 1))? {
        return Err(DataError::EmptyFile { path: path.to_path_buf() });
    }
    let mut header = Vec::with_capacity(rec.len());
    for field in rec.iter() {
        let s = std::str::from_utf8(field)
            .map_err(|_| DataError::InvalidUtf8 { path: path.to_path_buf(), line: 1 })?;
        if header.iter().any(|h: &String| h == s) {
            return Err(DataError::DuplicateColumn { path: path.to_path_buf(), name: s.to_string() });
        }
        header.push(s.to_string());
    }
    let n_cols = header.len();
    // Estimate rows from the byte size to reserve buffers once.
    let est_rows = (body.len() / (rec.as_slice().len() + n_cols).max(1)).min(1 << 24);
    let mut columns: Vec<RawColumn> = (0..n_cols)
        .map(|_| RawColumn {
            buf: Vec::with_capacity(body.len() / n_cols.max(1)),
            ends: Vec::with_capacity(est_rows),
        })
        .collect();
    let mut lines = Vec::with_capacity(est_rows);
    loop {
        let more = rdr.read_byte_record(&mut rec).map_err(|e| csv_err(e, 0))?;
        if !more {
            break;
        }
        let line = rec.position().map_or(0, |p| p.line());
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
        if std::str::from_utf8(rec.as_slice()).is_err() {
            return Err(DataError::InvalidUtf8 { path: path.to_path_buf(), line });
        }
        for (col, field) in columns.iter_mut().zip(rec.iter()) {
            col.buf.extend_from_slice(field);
            col.ends.push(col.buf.len());
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(DataError::HeaderOnly { path: path.to_path_buf() });
    }
    Ok(RawTable { path: path.to_path_buf(), header, columns, lines, fingerprint })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let t = parse_raw(Path::new("x.csv"), b"a,b\r\n1,\"x,\ny\"\r\n2,z\r\n").unwrap();
        assert_eq!(t.header, vec!["a", "b"]);
        assert_eq!(t.columns[1].get(0), b"x,\ny");
        assert_eq!(t.columns[1].get(1), b"z");
        assert_eq!(t.lines, vec![2, 4]);
        assert_eq!(t.columns[0].len(), 2);
    }
}
