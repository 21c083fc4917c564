//! Every shared bench dataset loads with the task, target, classes and column kinds of its
//! manifest.json (skipped with a notice when shared/bench/data is absent).

use std::path::Path;

use automl_core::Task;
use automl_data::{ColumnRole, ReadOptions, load_for_prediction, load_training};

const BENCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/data");

#[test]
fn bench_datasets_match_manifests() {
    let root = Path::new(BENCH);
    if !root.is_dir() {
        eprintln!("NOTICE: {BENCH} not found; skipping the bench manifest test");
        return;
    }
    let mut names: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("manifest.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "expected 12 datasets, found {names:?}");
    for name in &names {
        let dir = root.join(name);
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        // Default options: the target defaults to the last column, the task is inferred.
        let ds = load_training(&dir.join("train.csv"), &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let task = match m["task"].as_str().unwrap() {
            "binary" => Task::Binary,
            "multiclass" => Task::Multiclass,
            "regression" => Task::Regression,
            t => panic!("{name}: unknown task {t}"),
        };
        assert_eq!(ds.task, task, "{name}: task");
        assert_eq!(ds.target, m["target"].as_str().unwrap(), "{name}: target");
        assert!(ds.target_defaulted);
        assert_eq!(
            ds.n_rows(),
            m["rows_train"].as_u64().unwrap() as usize,
            "{name}: rows"
        );
        if let Some(classes) = m["classes"].as_object() {
            let mut want: Vec<&String> = classes.keys().collect();
            want.sort();
            let mut got: Vec<&String> = ds.classes.iter().collect();
            got.sort();
            assert_eq!(got, want, "{name}: classes");
        }
        for fc in m["feature_columns"].as_array().unwrap() {
            let col = fc["name"].as_str().unwrap();
            let kind = fc["kind"].as_str().unwrap();
            let rep = ds
                .report
                .columns
                .iter()
                .find(|c| c.name == col)
                .unwrap_or_else(|| panic!("{name}: column {col} not in report"));
            assert_eq!(rep.kind.as_str(), kind, "{name}: kind of {col}");
            // The manifest counts missing cells over train + test.
            let total_missing = fc["n_missing"].as_u64().unwrap() as usize;
            assert!(rep.n_missing <= total_missing, "{name}: {col} missing");
            match rep.role {
                ColumnRole::Feature => {
                    assert_eq!(ds.features.column(col).unwrap().kind.as_str(), kind);
                }
                ColumnRole::Dropped => {
                    // Only constant / ID-like columns are dropped (e.g. blank digit pixels).
                    let (_, why) = ds
                        .report
                        .dropped_columns
                        .iter()
                        .find(|(n, _)| n == col)
                        .unwrap();
                    assert!(why == "constant" || why == "ID-like", "{name}: {col} {why}");
                    assert!(rep.n_unique <= 1 || rep.n_unique == ds.n_rows());
                }
                ColumnRole::Target => panic!("{name}: feature {col} reported as target"),
            }
        }
        // With the explicit target and the task, the same result.
        let opts = ReadOptions {
            target: Some(ds.target.clone()),
            task: Some(task),
            missing_tokens: vec![String::new()],
        };
        let ds2 = load_training(&dir.join("train.csv"), &opts).unwrap();
        assert_eq!(ds2.y, ds.y, "{name}");
        // The test file reads with the training schema (target column ignored).
        let test = load_for_prediction(&dir.join("test.csv"), &ds.features.schema(), &[])
            .unwrap_or_else(|e| panic!("{name} test.csv: {e}"));
        assert_eq!(test.n_rows, m["rows_test"].as_u64().unwrap() as usize);
        let report = ds.report.to_string();
        assert!(report.contains(&ds.target), "{name}: {report}");
    }
}
