//! Bench datasets load with the task, target, row counts, classes and column kinds of their
//! manifests. The facts of all twelve public manifests are copied into
//! `tests/fixtures/bench-manifests.json`, and five datasets into `tests/fixtures/bench/`, so a
//! bare clone always checks those five. An ignored test (run by `.ci/run` where the shared bench
//! folder is beside the repo, `../shared/bench/data`) checks every dataset there too, and that
//! the fixture and the copied files still match it.
//!
//! Regenerate the facts from the manifests: `AUTOML_UPDATE_FIXTURES=1 cargo test -p
//! automl-data --test bench_manifests -- --ignored`.

use std::path::{Path, PathBuf};

use automl_core::Task;
use automl_data::{ColumnRole, ReadOptions, load_for_prediction, load_training};
use serde_json::{Value, json};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/data");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn facts_path() -> PathBuf {
    Path::new(FIXTURES).join("bench-manifests.json")
}

fn read_json(p: &Path) -> Value {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Names of the subdirectories of `root` that hold a `train.csv`, sorted.
fn dataset_dirs(root: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("train.csv").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The facts the test checks, taken from one manifest.json.
fn facts_of_manifest(m: &Value) -> Value {
    let mut classes: Vec<&String> = m["classes"]
        .as_object()
        .map(|c| c.keys().collect())
        .unwrap_or_default();
    classes.sort();
    let columns: Vec<Value> = m["feature_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"name": c["name"], "kind": c["kind"], "n_missing": c["n_missing"]}))
        .collect();
    json!({
        "task": m["task"],
        "target": m["target"],
        "rows_train": m["rows_train"],
        "rows_test": m["rows_test"],
        "classes": classes,
        "feature_columns": columns,
    })
}

/// Load `dir/train.csv` and `dir/test.csv` and check them against `facts`.
fn check_dataset(name: &str, dir: &Path, facts: &Value) {
    // Default options: the target defaults to the last column, the task is inferred.
    let ds = load_training(&dir.join("train.csv"), &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let task = match facts["task"].as_str().unwrap() {
        "binary" => Task::Binary,
        "multiclass" => Task::Multiclass,
        "regression" => Task::Regression,
        t => panic!("{name}: unknown task {t}"),
    };
    assert_eq!(ds.task, task, "{name}: task");
    assert_eq!(
        ds.target,
        facts["target"].as_str().unwrap(),
        "{name}: target"
    );
    assert!(ds.target_defaulted);
    assert_eq!(
        ds.n_rows(),
        facts["rows_train"].as_u64().unwrap() as usize,
        "{name}: rows"
    );
    let want: Vec<&str> = facts["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    if task != Task::Regression {
        let mut got: Vec<&str> = ds.classes.iter().map(String::as_str).collect();
        got.sort();
        assert_eq!(got, want, "{name}: classes");
    } else {
        assert!(want.is_empty(), "{name}: classes of a regression");
    }
    let columns = facts["feature_columns"].as_array().unwrap();
    assert_eq!(
        ds.report.columns.len(),
        columns.len() + 1,
        "{name}: columns in the report (features + target)"
    );
    for fc in columns {
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
        if total_missing == 0 {
            assert_eq!(rep.n_missing, 0, "{name}: {col} has no missing cell");
        }
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
        ..ReadOptions::default()
    };
    let ds2 = load_training(&dir.join("train.csv"), &opts).unwrap();
    assert_eq!(ds2.y, ds.y, "{name}");
    // The test file reads with the training schema (target column ignored).
    let test = load_for_prediction(&dir.join("test.csv"), &ds.features.schema(), &[])
        .unwrap_or_else(|e| panic!("{name} test.csv: {e}"));
    assert_eq!(test.n_rows, facts["rows_test"].as_u64().unwrap() as usize);
    let report = ds.report.to_string();
    assert!(report.contains(&ds.target), "{name}: {report}");
}

#[test]
fn bundled_bench_datasets_match_their_manifest_facts() {
    let facts = read_json(&facts_path());
    let datasets = &facts["datasets"];
    assert!(
        datasets.as_object().unwrap().len() >= 12,
        "facts of 12 datasets"
    );
    let bundled = Path::new(FIXTURES).join("bench");
    let names = dataset_dirs(&bundled);
    assert!(names.len() >= 3, "bundled datasets: {names:?}");
    let mut tasks = Vec::new();
    for name in &names {
        let f = &datasets[name.as_str()];
        assert!(f.is_object(), "no facts for the bundled dataset {name}");
        check_dataset(name, &bundled.join(name), f);
        tasks.push(f["task"].as_str().unwrap());
    }
    for task in ["binary", "multiclass", "regression"] {
        assert!(tasks.contains(&task), "no bundled {task} dataset");
    }
}

/// Needs the shared bench folder beside the repo, so a bare clone skips it (ignored, not
/// passed); `.ci/run` runs it with `--ignored` when the folder is there.
#[test]
#[ignore = "needs ../shared/bench beside the repo; `.ci/run` runs it when present"]
fn shared_bench_datasets_match_the_fixture() {
    let root = Path::new(SHARED);
    assert!(
        root.is_dir(),
        "{SHARED} not found: this check compares the fixture with the shared datasets"
    );
    let names: Vec<String> = dataset_dirs(root)
        .into_iter()
        .filter(|n| root.join(n).join("manifest.json").is_file())
        .collect();
    assert!(names.len() >= 12, "expected 12 datasets, found {names:?}");
    let mut from_manifests = serde_json::Map::new();
    for name in &names {
        let m = read_json(&root.join(name).join("manifest.json"));
        from_manifests.insert(name.clone(), facts_of_manifest(&m));
    }
    let want = json!({
        "source": "shared/bench/data/*/manifest.json (beside the repo): the facts tests/bench_manifests.rs checks",
        "regenerate": "AUTOML_UPDATE_FIXTURES=1 cargo test -p automl-data --test bench_manifests -- --ignored (needs the shared folder beside the repo)",
        "datasets": from_manifests,
    });
    if std::env::var_os("AUTOML_UPDATE_FIXTURES").is_some() {
        let text = serde_json::to_string_pretty(&want).unwrap() + "\n";
        std::fs::write(facts_path(), text).unwrap();
    }
    let fixture = read_json(&facts_path());
    for name in &names {
        assert_eq!(
            fixture["datasets"][name.as_str()],
            want["datasets"][name.as_str()],
            "tests/fixtures/bench-manifests.json drifted from the manifest of {name}; regenerate it (see the top of this file)"
        );
    }
    assert_eq!(fixture["datasets"], want["datasets"], "datasets listed");
    let bundled = Path::new(FIXTURES).join("bench");
    for name in dataset_dirs(&bundled) {
        for file in ["train.csv", "test.csv"] {
            let ours = std::fs::read(bundled.join(&name).join(file)).unwrap();
            let theirs = std::fs::read(root.join(&name).join(file)).unwrap();
            assert!(
                ours == theirs,
                "tests/fixtures/bench/{name}/{file} differs from the shared copy"
            );
        }
    }
    for name in &names {
        check_dataset(name, &root.join(name), &fixture["datasets"][name.as_str()]);
    }
}
