//! Property tests (fuzzing) of the CSV reader: arbitrary bytes and arbitrary well-formed CSV
//! files never make `read_frame`, `load_training` or `load_for_prediction` panic, and a random
//! typed table written as CSV reads back with the same column kinds and values.
//!
//! CI runs the default number of cases; for a long run outside CI set `PROPTEST_CASES`, e.g.
//! `PROPTEST_CASES=60000 cargo test -p automl-data --test prop_csv`.

use automl_core::Task;
use automl_core::trial::SchemaColumn;
use automl_data::{
    ColumnData, ColumnKind, ReadOptions, default_missing_tokens, load_for_prediction,
    load_training, read_frame,
};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// One temp dir per test thread, one file rewritten per case (fast enough for long runs).
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

/// Every entry point on one file: errors are fine, panics are not.
fn read_all_ways(path: &Path) {
    let tokens = default_missing_tokens();
    let frame = read_frame(path, &tokens);
    for task in [
        None,
        Some(Task::Binary),
        Some(Task::Multiclass),
        Some(Task::Regression),
    ] {
        let opts = ReadOptions {
            task,
            ..ReadOptions::default()
        };
        if let Ok(ds) = load_training(path, &opts) {
            assert_eq!(ds.y.len(), ds.features.n_rows, "one target per kept row");
            for c in &ds.features.columns {
                assert_eq!(c.len(), ds.features.n_rows, "column {} length", c.name);
            }
            if ds.task.is_classification() {
                let k = ds.classes.len() as f64;
                assert!(ds.y.iter().all(|v| v.fract() == 0.0 && *v >= 0.0 && *v < k));
            }
        }
    }
    if let Ok(frame) = frame {
        // Predicting with the file's own schema (as read) must work or fail cleanly.
        let schema: Vec<SchemaColumn> = frame.schema();
        let _ = load_for_prediction(path, &schema, &tokens);
        let _ = load_for_prediction(path, &schema, &[]);
    }
}

/// A cell of a generated column and how it should read back.
#[derive(Debug, Clone)]
enum Cell {
    Missing(String),
    Num(f64),
    Bool(bool, String),
    Text(String),
}

fn missing_token() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "NA", "n/a", "NaN", "null", "None", "?", "  "])
        .prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6f64..1e6,
        (-1000i64..1000).prop_map(|i| i as f64),
        prop::num::f64::NORMAL,
        Just(0.0),
    ]
}

fn is_plain_text(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty()
        && t.parse::<f64>().is_err()
        && !t.eq_ignore_ascii_case("true")
        && !t.eq_ignore_ascii_case("false")
        && !default_missing_tokens()
            .iter()
            .any(|m| m.eq_ignore_ascii_case(t))
}

fn text() -> impl Strategy<Value = String> {
    // No filter (rejections would cap long runs): a string that could read as a number,
    // boolean or missing token gets an `x` in front.
    "[a-zA-Z][a-zA-Z0-9 ,\"\n;]{0,6}[a-zA-Z]|[a-zA-Z]{1,3}".prop_map(|s| {
        if is_plain_text(&s) {
            s
        } else {
            format!("x{s}")
        }
    })
}

/// A column of one kind: `kind` 0 numeric, 1 boolean, 2 categorical; about a fifth missing.
fn column(kind: u8, rows: usize) -> impl Strategy<Value = Vec<Cell>> {
    let cell = match kind {
        0 => prop_oneof![4 => number().prop_map(Cell::Num), 1 => missing_token().prop_map(Cell::Missing)].boxed(),
        1 => prop_oneof![
            4 => (any::<bool>(), prop::sample::select(vec![0u8, 1, 2])).prop_map(|(b, case)| {
                let s = if b { "true" } else { "false" };
                let s = match case {
                    0 => s.to_string(),
                    1 => s.to_uppercase(),
                    _ => format!(" {s} "),
                };
                Cell::Bool(b, s)
            }),
            1 => missing_token().prop_map(Cell::Missing)
        ]
        .boxed(),
        _ => prop_oneof![4 => text().prop_map(Cell::Text), 1 => missing_token().prop_map(Cell::Missing)].boxed(),
    };
    prop::collection::vec(cell, rows)
}

fn table() -> impl Strategy<Value = Vec<(u8, Vec<Cell>)>> {
    (1usize..25, 2usize..6).prop_flat_map(|(rows, cols)| {
        prop::collection::vec(
            (0u8..3).prop_flat_map(move |k| (Just(k), column(k, rows))),
            cols,
        )
    })
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn render(table: &[(u8, Vec<Cell>)], crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let names: Vec<String> = (0..table.len()).map(|j| format!("c{j}")).collect();
    let mut out = names.join(",") + eol;
    let rows = table[0].1.len();
    for i in 0..rows {
        let cells: Vec<String> = table
            .iter()
            .map(|(_, col)| match &col[i] {
                Cell::Missing(s) => quote(s),
                Cell::Num(x) => format!("{x}"),
                Cell::Bool(_, s) => s.clone(),
                Cell::Text(s) => quote(s),
            })
            .collect();
        out += &cells.join(",");
        out += eol;
    }
    out
}

/// Mutations of a valid file: the reader must survive damage as well as random bytes.
fn mutate(bytes: &mut Vec<u8>, edits: &[(usize, u8, u8)]) {
    for &(pos, op, b) in edits {
        if bytes.is_empty() {
            bytes.push(b);
            continue;
        }
        let p = pos % bytes.len();
        match op % 4 {
            0 => bytes[p] = b,
            1 => {
                bytes.remove(p);
            }
            2 => bytes.insert(p, b),
            _ => bytes.truncate(p),
        }
    }
}

/// Regression (found by `damaged_valid_files_never_panic`): a numeric class target holding
/// `-0` beside `0` panicked in `load_training`; -0 is class 0.
#[test]
fn negative_zero_class_label_is_class_zero() {
    let (_d, path) = scratch("negzero.csv");
    std::fs::write(&path, "x,y\n1,0\n2,1\n3,-0\n4,1\n5,0\n").unwrap();
    let ds = load_training(&path, &ReadOptions::default()).expect("loads");
    assert_eq!(ds.task, Task::Binary);
    assert_eq!(ds.classes, vec!["0".to_string(), "1".to_string()]);
    assert_eq!(ds.y, vec![0.0, 1.0, 0.0, 1.0, 0.0]);
}

// 256 cases by default; the environment variable PROPTEST_CASES overrides it.
proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let (_d, path) = scratch("any.csv");
        std::fs::write(&path, &bytes).unwrap();
        read_all_ways(&path);
    }

    #[test]
    fn csv_like_text_never_panics(
        text in "([a-z0-9.,;\"\\- \t]|\r\n|\n|\r|NA|true|false|inf|1e9|\u{FEFF}|é){0,200}"
    ) {
        let (_d, path) = scratch("text.csv");
        std::fs::write(&path, text.as_bytes()).unwrap();
        read_all_ways(&path);
    }

    #[test]
    fn damaged_valid_files_never_panic(
        t in table(),
        crlf in any::<bool>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let (_d, path) = scratch("damaged.csv");
        let mut bytes = render(&t, crlf).into_bytes();
        mutate(&mut bytes, &edits);
        std::fs::write(&path, &bytes).unwrap();
        read_all_ways(&path);
    }

    #[test]
    fn typed_tables_read_back_with_their_kinds_and_values(t in table(), crlf in any::<bool>()) {
        let (_d, path) = scratch("typed.csv");
        std::fs::write(&path, render(&t, crlf)).unwrap();
        let frame = read_frame(&path, &default_missing_tokens()).expect("a valid CSV reads");
        let rows = t[0].1.len();
        prop_assert_eq!(frame.n_rows, rows);
        prop_assert_eq!(frame.columns.len(), t.len());
        for (j, ((kind, cells), col)) in t.iter().zip(&frame.columns).enumerate() {
            prop_assert_eq!(&col.name, &format!("c{j}"));
            let all_missing = cells.iter().all(|c| matches!(c, Cell::Missing(_)));
            if all_missing {
                // no value to infer a kind from: any kind, but every cell missing
                prop_assert_eq!(col.data.n_missing(), rows);
                continue;
            }
            let want = match kind {
                0 => ColumnKind::Numeric,
                1 => ColumnKind::Boolean,
                _ => ColumnKind::Categorical,
            };
            prop_assert_eq!(col.kind, want, "column c{}", j);
            for (i, cell) in cells.iter().enumerate() {
                match (cell, &col.data) {
                    (Cell::Missing(_), data) => prop_assert!(data.is_missing(i), "c{} row {}", j, i),
                    (Cell::Num(x), ColumnData::Numeric(v)) => prop_assert_eq!(v[i], *x, "c{} row {}", j, i),
                    (Cell::Bool(b, _), ColumnData::Numeric(v)) => {
                        prop_assert_eq!(v[i], if *b { 1.0 } else { 0.0 })
                    }
                    (Cell::Text(s), _) => {
                        let got = col.cell_string(i);
                        prop_assert_eq!(got.as_deref(), Some(s.as_str()), "c{} row {}", j, i)
                    }
                    (c, d) => prop_assert!(false, "cell {:?} read as {:?}", c, d),
                }
            }
        }
    }
}
