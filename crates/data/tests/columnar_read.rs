//! Parquet and Arrow IPC input: every supported column type (with nulls) loads to the same
//! Dataset, report and prediction frame as the equivalent CSV; clear errors otherwise.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int64Array,
    ListArray, NullArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt8Array,
};
use automl_core::trial::SchemaColumn;
use automl_data::{
    DataError, ReadOptions, load_for_prediction, load_for_prediction_bytes, load_training,
    load_training_bytes, read_frame,
};

const N: usize = 60;

/// One batch with every supported type, and the same table as CSV text.
fn table() -> (RecordBatch, String) {
    let mut csv = String::from("n_int,x_float,price,flag,city,grade,day,at,nothing,f32,u8,label\n");
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    let mut decs = Vec::new();
    let mut flags = Vec::new();
    let mut cities = Vec::new();
    let mut grades = StringDictionaryBuilder::<Int32Type>::new();
    let mut days = Vec::new();
    let mut ats = Vec::new();
    let mut f32s = Vec::new();
    let mut u8s = Vec::new();
    let mut labels = Vec::new();
    for i in 0..N {
        let int = (i % 7 != 3).then_some((i as i64 * 37) % 11 - 5);
        let float = match i % 9 {
            4 => None,
            5 => Some(f64::NAN),
            _ => Some(i as f64 * 0.1 + 0.25),
        };
        let dec = (i % 8 != 1).then_some(i as i128 * 1234 - 20_000); // scale 2
        let flag = (i % 6 != 2).then_some(i % 3 == 0);
        let city = match i % 10 {
            0 => None,
            1 => Some("NA"),
            k => Some(["Lyon", "Oslo", "Kyoto", "Lima"][k % 4]),
        };
        let grade = (i % 11 != 4).then_some(["low", "mid", "high"][i % 3]);
        let day = 19_700 + (i as i32 * 3) % 50;
        let at = 1_704_103_200_000i64 + i as i64 * 3_600_500;
        let f = (i as f32) * 0.5;
        let u = (i % 5) as u8;
        let label = if (i * 7) % 10 < 5 { "yes" } else { "no" };
        ints.push(int);
        floats.push(float);
        decs.push(dec);
        flags.push(flag);
        cities.push(city);
        match grade {
            Some(g) => grades.append_value(g),
            None => grades.append_null(),
        }
        days.push(Some(day));
        ats.push(Some(at));
        f32s.push(Some(f));
        u8s.push(Some(u));
        labels.push(Some(label));
        let cell = |v: Option<String>| v.unwrap_or_default();
        let dec_text = dec.map(|d| {
            let sign = if d < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", d.abs() / 100, d.abs() % 100)
        });
        let secs = at / 1000;
        let ms = at % 1000;
        let at_text = format!(
            "{}T{:02}:{:02}:{:02}{}Z",
            iso_day(secs.div_euclid(86_400)),
            secs % 86_400 / 3600,
            secs % 3600 / 60,
            secs % 60,
            if ms == 0 {
                String::new()
            } else {
                format!(".{}", format!("{ms:03}").trim_end_matches('0'))
            }
        );
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},,{},{},{}\n",
            cell(int.map(|v| v.to_string())),
            cell(float.map(|v| if v.is_nan() {
                "NaN".into()
            } else {
                v.to_string()
            })),
            cell(dec_text),
            cell(flag.map(|b| b.to_string())),
            cell(city.map(str::to_string)),
            cell(grade.map(str::to_string)),
            iso_day(i64::from(day)),
            at_text,
            f,
            u,
            label
        ));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ints)),
        Arc::new(Float64Array::from(floats)),
        Arc::new(
            Decimal128Array::from(decs)
                .with_precision_and_scale(12, 2)
                .unwrap(),
        ),
        Arc::new(BooleanArray::from(flags)),
        Arc::new(StringArray::from(cities)),
        Arc::new(grades.finish()),
        Arc::new(Date32Array::from(days)),
        Arc::new(TimestampMillisecondArray::from(ats).with_timezone("UTC")),
        Arc::new(NullArray::new(N)),
        Arc::new(Float32Array::from(f32s)),
        Arc::new(UInt8Array::from(u8s)),
        Arc::new(StringArray::from(labels)),
    ];
    let names = csv.lines().next().unwrap().split(',').collect::<Vec<_>>();
    let batch = RecordBatch::try_from_iter(names.iter().zip(cols).map(|(n, c)| (n.to_string(), c)))
        .unwrap();
    (batch, csv)
}

/// `YYYY-MM-DD` of a day count, written independently of the reader (by stepping days).
fn iso_day(days: i64) -> String {
    let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
    for _ in 0..days {
        let len = match m {
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        d += 1;
        if d > len {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
    format!("{y:04}-{m:02}-{d:02}")
}

fn half(b: &RecordBatch) -> usize {
    b.num_rows() / 2
}

/// Equality through `Debug`, where NaN (missing) equals NaN.
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn parquet_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    // Two row groups / batches, so appending across batches is exercised.
    w.write(&batch.slice(0, half(batch))).unwrap();
    w.flush().unwrap();
    w.write(&batch.slice(half(batch), batch.num_rows() - half(batch)))
        .unwrap();
    w.close().unwrap();
    out
}

fn ipc_file_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &batch.schema()).unwrap();
    w.write(&batch.slice(0, half(batch))).unwrap();
    w.write(&batch.slice(half(batch), batch.num_rows() - half(batch)))
        .unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

fn ipc_stream_bytes(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    w.write(&batch.slice(0, half(batch))).unwrap();
    w.write(&batch.slice(half(batch), batch.num_rows() - half(batch)))
        .unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn all_formats(dir: &Path, batch: &RecordBatch) -> Vec<PathBuf> {
    vec![
        write(dir, "t.parquet", &parquet_bytes(batch)),
        // Named .csv on purpose: the format is told by the bytes, not the name.
        write(dir, "t_arrow_file.csv", &ipc_file_bytes(batch)),
        write(dir, "t.arrows", &ipc_stream_bytes(batch)),
    ]
}

#[test]
fn every_type_loads_as_the_equivalent_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (batch, csv) = table();
    let csv_path = write(dir.path(), "t.csv", csv.as_bytes());
    let want = load_training(&csv_path, &ReadOptions::default()).unwrap();
    let want_frame = read_frame(&csv_path, &["".into(), "NA".into()]).unwrap();
    for p in all_formats(dir.path(), &batch) {
        let got = load_training(&p, &ReadOptions::default()).unwrap();
        assert!(same(&got.features, &want.features), "{}", p.display());
        assert!(same(&got.report, &want.report), "{}", p.display());
        assert!(same(
            &(&got.y, got.task, &got.classes),
            &(&want.y, want.task, &want.classes)
        ));
        assert_eq!(
            got.fingerprint,
            automl_data::fingerprint(&std::fs::read(&p).unwrap())
        );
        let frame = read_frame(&p, &["".into(), "NA".into()]).unwrap();
        assert!(same(&frame, &want_frame), "{}", p.display());
        let bytes = std::fs::read(&p).unwrap();
        let from_bytes =
            load_training_bytes(Path::new("dataframe"), &bytes, &ReadOptions::default()).unwrap();
        assert!(same(&from_bytes.features, &want.features));
    }
    // The kinds the CSV gives, so the comparison above means something.
    let kind = |n: &str| want_frame.column(n).unwrap().kind.to_string();
    assert_eq!(kind("n_int"), "numeric");
    assert_eq!(kind("price"), "numeric");
    assert_eq!(kind("flag"), "boolean");
    assert_eq!(kind("grade"), "categorical");
    assert_eq!(
        want_frame.column("city").unwrap().cell_string(1),
        None,
        "NA token"
    );
}

#[test]
fn time_column_from_timestamps_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let (batch, csv) = table();
    let csv_path = write(dir.path(), "t.csv", csv.as_bytes());
    for col in ["at", "day"] {
        let opts = ReadOptions {
            time_col: Some(col.into()),
            ..ReadOptions::default()
        };
        let want = load_training(&csv_path, &opts).unwrap();
        for p in all_formats(dir.path(), &batch) {
            let got = load_training(&p, &opts).unwrap();
            assert_eq!(format!("{:?}", got.blocks), format!("{:?}", want.blocks));
        }
    }
}

#[test]
fn prediction_reads_the_schema_columns_as_from_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (batch, csv) = table();
    let csv_path = write(dir.path(), "t.csv", csv.as_bytes());
    let schema: Vec<SchemaColumn> = [
        ("u8", "categorical"),
        ("city", "categorical"),
        ("x_float", "numeric"),
        ("flag", "boolean"),
        ("grade", "categorical"),
        ("n_int", "numeric"),
    ]
    .iter()
    .map(|(n, k)| SchemaColumn {
        name: n.to_string(),
        kind: k.to_string(),
    })
    .collect();
    let tokens = ["".to_string(), "NA".to_string()];
    let want = load_for_prediction(&csv_path, &schema, &tokens).unwrap();
    for p in all_formats(dir.path(), &batch) {
        assert!(same(
            &load_for_prediction(&p, &schema, &tokens).unwrap(),
            &want
        ));
        let bytes = std::fs::read(&p).unwrap();
        let got = load_for_prediction_bytes(Path::new("df"), &bytes, &schema, &tokens).unwrap();
        assert!(same(&got, &want));
    }
    // A schema column the file lacks is reported as for a CSV.
    let mut more = schema.clone();
    more.push(SchemaColumn {
        name: "absent".into(),
        kind: "numeric".into(),
    });
    let p = write(dir.path(), "p.parquet", &parquet_bytes(&batch));
    match load_for_prediction(&p, &more, &tokens) {
        Err(DataError::MissingColumns { columns, .. }) => assert_eq!(columns, vec!["absent"]),
        other => panic!("{other:?}"),
    }
    // A text value in a numeric schema column: the error names the row, not a CSV line.
    let wrong = vec![SchemaColumn {
        name: "city".into(),
        kind: "numeric".into(),
    }];
    let err = load_for_prediction(&p, &wrong, &tokens)
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 3, column 'city'"), "{err}");
}

#[test]
fn truncated_parquet_and_unsupported_types_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (batch, _) = table();
    let bytes = parquet_bytes(&batch);
    let p = write(dir.path(), "cut.parquet", &bytes[..bytes.len() / 2]);
    let err = load_training(&p, &ReadOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Malformed {
                format: "Parquet",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("cut.parquet"), "{err}");
    let s = ipc_stream_bytes(&batch);
    let err = load_training_bytes(Path::new("df"), &s[..s.len() - 40], &ReadOptions::default())
        .unwrap_err();
    assert!(matches!(err, DataError::Malformed { .. }), "{err:?}");

    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(
        (0..4).map(|i| Some(vec![Some(i), Some(i + 1)])),
    );
    let b = RecordBatch::try_from_iter([
        ("tags", Arc::new(list) as ArrayRef),
        (
            "y",
            Arc::new(Int64Array::from(vec![0, 1, 0, 1])) as ArrayRef,
        ),
    ])
    .unwrap();
    for p in all_formats(dir.path(), &b) {
        let err = load_training(&p, &ReadOptions::default()).unwrap_err();
        match &err {
            DataError::UnsupportedType {
                column, data_type, ..
            } => {
                assert_eq!(column, "tags");
                assert!(data_type.contains("List"), "{data_type}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn numeric_missing_tokens_and_number_strings_behave_as_in_csv() {
    let dir = tempfile::tempdir().unwrap();
    let b = RecordBatch::try_from_iter([
        (
            "x",
            Arc::new(Int64Array::from(vec![1, -999, 3, 4, 5, 6])) as ArrayRef,
        ),
        (
            "code",
            Arc::new(StringArray::from(vec!["1", "2", "", "4", "2", "1"])) as ArrayRef,
        ),
        (
            "y",
            Arc::new(Float64Array::from(vec![1.5, 2.5, 3.0, 0.5, 7.25, 1.0])) as ArrayRef,
        ),
    ])
    .unwrap();
    let csv = "x,code,y\n1,1,1.5\n-999,2,2.5\n3,,3\n4,4,0.5\n5,2,7.25\n6,1,1\n";
    let csv_path = write(dir.path(), "t.csv", csv.as_bytes());
    let tokens = vec!["".to_string(), "-999".to_string()];
    let want = read_frame(&csv_path, &tokens).unwrap();
    for p in all_formats(dir.path(), &b) {
        let got = read_frame(&p, &tokens).unwrap();
        assert!(same(&got, &want));
        assert!(got.column("x").unwrap().cell_string(1).is_none());
        assert_eq!(got.column("code").unwrap().kind.to_string(), "numeric");
    }
}
