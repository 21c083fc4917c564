//! CSV reading and inference: RFC-4180 edge cases, missing tokens, errors, target and task.

use std::path::PathBuf;

use automl_core::Task;
use automl_data::{
    ColumnData, ColumnKind, DataError, ReadOptions, WarningKind, load_for_prediction,
    load_training, read_frame,
};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn opts() -> ReadOptions {
    ReadOptions::default()
}

#[test]
fn quoted_fields_bom_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "\u{feff}name,\"note, with comma\",x,y\r\n\
               \"Smith, J\",\"said \"\"hi\"\"\nthen left\",1.5,a\r\n\
               plain,simple,2,b\r\n\
               \"\",x,,a\r\n";
    let p = write(&dir, "q.csv", csv.as_bytes());
    let f = read_frame(&p, &["".to_string()]).unwrap();
    assert_eq!(f.names(), vec!["name", "note, with comma", "x", "y"]);
    assert_eq!(f.n_rows, 3);
    let name = f.column("name").unwrap();
    assert_eq!(name.cell_string(0).as_deref(), Some("Smith, J"));
    assert_eq!(
        name.cell_string(2),
        None,
        "quoted empty string is an empty cell = missing"
    );
    let note = f.column("note, with comma").unwrap();
    assert_eq!(
        note.cell_string(0).as_deref(),
        Some("said \"hi\"\nthen left")
    );
    let x = f.column("x").unwrap();
    assert_eq!(x.kind, ColumnKind::Numeric);
    match &x.data {
        ColumnData::Numeric(v) => {
            assert_eq!(v[..2], [1.5, 2.0]);
            assert!(v[2].is_nan());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_tokens_default_and_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "m.csv",
        b"a,b\n1,x\nNA,N/A\nnan,None\nnull,?\n  ,NULL\n5,y\n",
    );
    let f = read_frame(&p, &automl_data::default_missing_tokens()).unwrap();
    let a = f.column("a").unwrap();
    assert_eq!(a.kind, ColumnKind::Numeric);
    assert_eq!(a.data.n_missing(), 4);
    let b = f.column("b").unwrap();
    assert_eq!(b.kind, ColumnKind::Categorical);
    assert_eq!(b.data.n_missing(), 4);
    // Only the empty cell is missing: NA etc. are ordinary strings, so `a` becomes categorical.
    let f = read_frame(&p, &["".to_string()]).unwrap();
    let a = f.column("a").unwrap();
    assert_eq!(a.kind, ColumnKind::Categorical);
    assert_eq!(a.data.n_missing(), 1);
    let ColumnData::Categorical { levels, .. } = &f.column("b").unwrap().data else {
        panic!()
    };
    assert!(levels.contains(&"N/A".to_string()) && levels.contains(&"?".to_string()));
    // A numeric sentinel token.
    let p = write(&dir, "s.csv", b"a,t\n-999,1\n3,2\n4,1\n");
    let f = read_frame(&p, &["".to_string(), "-999".to_string()]).unwrap();
    assert_eq!(f.column("a").unwrap().data.n_missing(), 1);
}

#[test]
fn boolean_and_yes_no_and_late_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "b.csv",
        b"flag,yn,mixed\nTrue,yes,1\nfalse,no,2\nTRUE,yes,3x\n,no,4\n",
    );
    let f = read_frame(&p, &["".to_string()]).unwrap();
    let flag = f.column("flag").unwrap();
    assert_eq!(flag.kind, ColumnKind::Boolean);
    match &flag.data {
        ColumnData::Numeric(v) => {
            assert_eq!(v[..3], [1.0, 0.0, 1.0]);
            assert!(v[3].is_nan());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.column("yn").unwrap().kind, ColumnKind::Categorical);
    let mixed = f.column("mixed").unwrap();
    assert_eq!(mixed.kind, ColumnKind::Categorical);
    let cells: Vec<_> = (0..4).map(|i| mixed.cell_string(i).unwrap()).collect();
    assert_eq!(cells, vec!["1", "2", "3x", "4"]);
}

#[test]
fn infinity_is_missing_with_warning_and_huge_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("a,b,y\n");
    for i in 0..30 {
        let a = match i {
            0 => "inf".to_string(),
            1 => "-Infinity".to_string(),
            2 => "1e308".to_string(),
            _ => format!("{}", i % 7),
        };
        s.push_str(&format!("{a},{},{}\n", i % 3, i % 2));
    }
    let p = write(&dir, "inf.csv", s.as_bytes());
    let ds = load_training(&p, &opts()).unwrap();
    let ColumnData::Numeric(v) = &ds.features.column("a").unwrap().data else {
        panic!()
    };
    assert!(v[0].is_nan() && v[1].is_nan());
    assert_eq!(v[2], 1e308);
    assert!(ds.report.has_warning(WarningKind::Infinite, Some("a")));
    let col = ds.report.columns.iter().find(|c| c.name == "a").unwrap();
    assert_eq!(col.n_infinite, 2);
}

#[test]
fn csv_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "ragged.csv", b"a,b,c\n1,2,3\n4,5\n");
    match load_training(&p, &opts()) {
        Err(DataError::RaggedRow {
            line,
            expected,
            found,
            ..
        }) => {
            assert_eq!((line, expected, found), (3, 3, 2));
        }
        other => panic!("{other:?}"),
    }
    let p = write(&dir, "ragged_crlf.csv", b"a,b\r\n1,2\r\n\r\n3,4,5\r\n");
    let err = load_training(&p, &opts()).unwrap_err();
    assert!(
        matches!(err, DataError::RaggedRow { line: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 4"), "{err}");
    let p = write(&dir, "utf8.csv", b"a,b\n1,x\n2,\xff\xfe\n");
    assert!(matches!(
        load_training(&p, &opts()),
        Err(DataError::InvalidUtf8 { line: 3, .. })
    ));
    let p = write(&dir, "empty.csv", b"");
    assert!(matches!(
        load_training(&p, &opts()),
        Err(DataError::EmptyFile { .. })
    ));
    let p = write(&dir, "bom_only.csv", b"\xef\xbb\xbf\n");
    assert!(matches!(
        load_training(&p, &opts()),
        Err(DataError::EmptyFile { .. })
    ));
    let p = write(&dir, "header.csv", b"a,b\n");
    assert!(matches!(
        load_training(&p, &opts()),
        Err(DataError::HeaderOnly { .. })
    ));
    let p = write(&dir, "dup.csv", b"a,b,a\n1,2,3\n");
    match load_training(&p, &opts()) {
        Err(DataError::DuplicateColumn { name, .. }) => assert_eq!(name, "a"),
        other => panic!("{other:?}"),
    }
    let missing = dir.path().join("nope.csv");
    let err = load_training(&missing, &opts()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(err.to_string().contains("nope.csv"));
}

fn class_csv(labels: &[&str]) -> String {
    let mut s = String::from("x,z,label\n");
    for (i, l) in labels.iter().enumerate() {
        s.push_str(&format!("{},{},{l}\n", i % 5, (i * 7) % 3));
    }
    s
}

#[test]
fn target_default_last_and_by_name_and_missing_rows_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<&str> = (0..40)
        .map(|i| if i % 3 == 0 { "b" } else { "a" })
        .collect();
    let mut s = class_csv(&labels);
    s.push_str("1,1,\n2,2,NA\n");
    let p = write(&dir, "t.csv", s.as_bytes());
    let ds = load_training(&p, &opts()).unwrap();
    assert!(ds.target_defaulted);
    assert_eq!(ds.target, "label");
    assert_eq!(ds.task, Task::Binary);
    assert_eq!(ds.classes, vec!["a", "b"]);
    assert_eq!(ds.n_rows(), 40);
    assert_eq!(ds.features.n_rows, 40);
    assert_eq!(ds.report.n_rows_dropped_missing_target, 2);
    assert!(ds.report.has_warning(WarningKind::MissingTarget, None));
    assert_eq!(ds.y[0], 1.0);
    assert_eq!(ds.y[1], 0.0);
    assert_eq!(ds.fingerprint.len(), 16);
    // By name: regression on x.
    let o = ReadOptions {
        target: Some("x".into()),
        task: Some(Task::Regression),
        ..opts()
    };
    let ds = load_training(&p, &o).unwrap();
    assert!(!ds.target_defaulted);
    assert_eq!(ds.task, Task::Regression);
    assert!(ds.features.column("label").is_some() && ds.features.column("x").is_none());
    let o = ReadOptions {
        target: Some("nope".into()),
        ..opts()
    };
    match load_training(&p, &o) {
        Err(DataError::TargetNotFound { available, .. }) => assert_eq!(available.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn numeric_class_labels_sort_numerically() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<String> = (0..300)
        .map(|i| ["2", "10", "1"][i % 3].to_string())
        .collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let p = write(&dir, "n.csv", class_csv(&refs).as_bytes());
    let ds = load_training(&p, &opts()).unwrap();
    assert_eq!(ds.task, Task::Multiclass);
    assert_eq!(ds.classes, vec!["1", "2", "10"]);
    assert_eq!(ds.y[..3], [1.0, 2.0, 0.0]);
    // Non-numeric labels sort lexicographically; 1-based "class 2" is index 1.
    let labels: Vec<&str> = (0..30).map(|i| ["b", "c", "a"][i % 3]).collect();
    let p = write(&dir, "s.csv", class_csv(&labels).as_bytes());
    let ds = load_training(&p, &opts()).unwrap();
    assert_eq!(ds.classes, vec!["a", "b", "c"]);
    assert_eq!(ds.y[..3], [1.0, 2.0, 0.0]);
}

#[test]
fn task_inference_for_numeric_targets() {
    let dir = tempfile::tempdir().unwrap();
    // Many distinct integers: regression.
    let mut s = String::from("x,y\n");
    for i in 0..400 {
        s.push_str(&format!("{},{}\n", i % 13, 25 + (i * 37) % 300));
    }
    let p = write(&dir, "reg.csv", s.as_bytes());
    assert_eq!(load_training(&p, &opts()).unwrap().task, Task::Regression);
    // 0/1 integer target, small file: binary.
    let mut s = String::from("x,y\n");
    for i in 0..12 {
        s.push_str(&format!("{},{}\n", i, i % 2));
    }
    let p = write(&dir, "bin.csv", s.as_bytes());
    let ds = load_training(&p, &opts()).unwrap();
    assert_eq!(ds.task, Task::Binary);
    assert_eq!(ds.classes, vec!["0", "1"]);
    // Float target with few values: regression.
    let mut s = String::from("x,y\n");
    for i in 0..200 {
        // (x = i % 9 would determine y, and be dropped as leakage.)
        s.push_str(&format!("{},{}\n", i % 7, [0.5, 1.5, 2.25][i % 3]));
    }
    let p = write(&dir, "float.csv", s.as_bytes());
    assert_eq!(load_training(&p, &opts()).unwrap().task, Task::Regression);
}

#[test]
fn task_overrides_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<&str> = (0..30).map(|i| ["a", "b", "c"][i % 3]).collect();
    let p = write(&dir, "three.csv", class_csv(&labels).as_bytes());
    let err = load_training(
        &p,
        &ReadOptions {
            task: Some(Task::Regression),
            ..opts()
        },
    )
    .unwrap_err();
    match &err {
        DataError::NonNumericTarget { line, value, .. } => {
            assert_eq!((*line, value.as_str()), (2, "a"));
        }
        other => panic!("{other:?}"),
    }
    let err = load_training(
        &p,
        &ReadOptions {
            task: Some(Task::Binary),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::TaskMismatch { n_classes: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("multiclass"));
    let labels: Vec<&str> = (0..30).map(|i| ["a", "b"][i % 2]).collect();
    let p = write(&dir, "two.csv", class_csv(&labels).as_bytes());
    let err = load_training(
        &p,
        &ReadOptions {
            task: Some(Task::Multiclass),
            ..opts()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::TaskMismatch { n_classes: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("binary"));
    let labels: Vec<&str> = vec!["a"; 30];
    let p = write(&dir, "one.csv", class_csv(&labels).as_bytes());
    assert!(matches!(
        load_training(&p, &opts()),
        Err(DataError::OneClass { .. })
    ));
    let p = write(&dir, "allmissing.csv", b"x,y\n1,\n2,\n");
    assert!(matches!(
        load_training(&p, &opts()),
        Err(DataError::TargetAllMissing { .. })
    ));
    // Integer target forced to regression is fine; a classification override of a numeric one too.
    let mut s = String::from("x,y\n");
    for i in 0..60 {
        s.push_str(&format!("{},{}\n", i % 7, i % 3));
    }
    let p = write(&dir, "int.csv", s.as_bytes());
    assert_eq!(load_training(&p, &opts()).unwrap().task, Task::Multiclass);
    let ds = load_training(
        &p,
        &ReadOptions {
            task: Some(Task::Regression),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(ds.task, Task::Regression);
    assert_eq!(ds.y[..3], [0.0, 1.0, 2.0]);
}

#[test]
fn no_features_left_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("c,y\n");
    for i in 0..30 {
        s.push_str(&format!("k,{}\n", i % 2));
    }
    let p = write(&dir, "nf.csv", s.as_bytes());
    let err = load_training(&p, &opts()).unwrap_err();
    assert!(matches!(err, DataError::NoFeatures { .. }), "{err:?}");
    assert!(err.to_string().contains("c (constant)"), "{err}");
}

#[test]
fn prediction_frame_by_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("num,cat,flag,y\n");
    for i in 0..40 {
        s.push_str(&format!(
            "{},{},{},{}\n",
            i % 6,
            ["u", "v", "007"][i % 3],
            i % 2 == 0,
            // Not a function of any one column (which would be dropped as leakage).
            (i / 6) % 2
        ));
    }
    let p = write(&dir, "train.csv", s.as_bytes());
    let ds = load_training(&p, &opts()).unwrap();
    let schema = ds.features.schema();
    assert_eq!(
        schema.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>(),
        vec!["numeric", "categorical", "boolean"]
    );
    // Reordered, extra column, no target, categorical cells that look numeric.
    let p = write(
        &dir,
        "test.csv",
        b"extra,flag,cat,num\nq,true,007,1.5\nr,,12,\n",
    );
    let f = load_for_prediction(&p, &schema, &automl_data::default_missing_tokens()).unwrap();
    assert_eq!(f.names(), vec!["num", "cat", "flag"]);
    assert_eq!(
        f.column("cat").unwrap().cell_string(0).as_deref(),
        Some("007")
    );
    assert_eq!(f.column("flag").unwrap().kind, ColumnKind::Boolean);
    assert_eq!(f.column("num").unwrap().cell_string(1), None);
    // Missing column: clear error naming file and column.
    let p = write(&dir, "bad.csv", b"num,flag\n1,true\n");
    let err = load_for_prediction(&p, &schema, &[]).unwrap_err();
    match &err {
        DataError::MissingColumns { columns, path } => {
            assert_eq!(columns, &vec!["cat".to_string()]);
            assert!(path.ends_with("bad.csv"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("bad.csv") && err.to_string().contains("cat"));
    // A text value in a numeric column.
    let p = write(&dir, "text.csv", b"num,cat,flag\n1,u,true\nabc,u,false\n");
    let err = load_for_prediction(&p, &schema, &["".to_string()]).unwrap_err();
    assert!(
        matches!(err, DataError::BadValue { line: 3, .. }),
        "{err:?}"
    );
}
