//! The leakage and ID checks on the public bench datasets: real features must not be flagged.
//! `bundled_datasets_keep_every_feature` runs on the copies in `fixtures/bench/` (iris's petal
//! width among them) in a bare clone. `public_datasets_flags` reads all 12 from
//! `../shared/bench/data/NAME/train.csv` (target from `manifest.json`), prints what each gets
//! flagged with (the list in docs/BENCHMARKS.md) and fails if a column is dropped for leakage
//! or as an identifier; it is ignored on a bare clone (it needs the shared folder) and run by
//! `.ci/run` where that folder is beside the repo. Run it with
//! `cargo test -p automl-data --release --test leakage_bench -- --ignored --nocapture`.

use std::path::Path;

use automl_data::{ReadOptions, WarningKind, load_training};

/// The leakage / ID / duplicate flags of one training file, and the columns dropped for
/// another reason than being constant.
fn flags_and_drops(path: &Path, target: &str) -> (Vec<String>, Vec<String>) {
    let opts = ReadOptions {
        target: Some(target.to_string()),
        ..ReadOptions::default()
    };
    let ds = load_training(path, &opts).unwrap();
    let flags = ds
        .report
        .warnings
        .iter()
        .filter(|w| {
            matches!(
                w.kind,
                WarningKind::Leakage
                    | WarningKind::IdLike
                    | WarningKind::DuplicateRows
                    | WarningKind::EntityId
            )
        })
        .map(|w| format!("{}: {}", w.kind.as_str(), w.message))
        .collect();
    let drops = ds
        .report
        .dropped_columns
        .iter()
        .filter(|(_, why)| why != "constant")
        .map(|(col, why)| format!("{col} dropped ({why})"))
        .collect();
    (flags, drops)
}

#[test]
fn bundled_datasets_keep_every_feature() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench");
    for (name, target) in [
        ("iris", "species"),
        ("penguins", "species"),
        ("breast_cancer", "diagnosis"),
        ("diabetes", "progression"),
        ("hitters", "Salary"),
    ] {
        let (flags, drops) = flags_and_drops(&root.join(name).join("train.csv"), target);
        assert!(flags.is_empty(), "{name}: {flags:?}");
        assert!(drops.is_empty(), "{name}: {drops:?}");
    }
}

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/data");

#[test]
#[ignore = "needs ../shared/bench beside the repo; `.ci/run` runs it when present"]
fn public_datasets_flags() {
    let root = Path::new(SHARED);
    assert!(root.is_dir(), "{SHARED} not found");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| root.join(n).join("manifest.json").is_file())
        .collect();
    names.sort();
    let mut bad = Vec::new();
    for name in &names {
        let dir = root.join(name);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let (flags, drops) =
            flags_and_drops(&dir.join("train.csv"), manifest["target"].as_str().unwrap());
        println!("## {name}");
        if flags.is_empty() {
            println!("none");
        }
        for f in &flags {
            println!("- {f}");
        }
        bad.extend(drops.into_iter().map(|d| format!("{name}: {d}")));
    }
    assert!(bad.is_empty(), "{bad:?}");
}
