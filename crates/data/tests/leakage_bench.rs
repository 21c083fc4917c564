//! The leakage and ID checks on the public bench datasets (`../shared/bench/data/NAME/train.csv`,
//! target from `manifest.json`): prints what each dataset gets flagged with (the list in
//! docs/BENCHMARKS.md) and fails if a column is dropped for leakage or as an identifier (none
//! of those datasets has one). Ignored: it needs the shared bench folder beside the repo. Run
//! with `cargo test -p automl-data --release --test leakage_bench -- --ignored --nocapture`.

use std::path::Path;

use automl_data::{ReadOptions, WarningKind, load_training};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/data");

#[test]
#[ignore = "needs ../shared/bench beside the repo"]
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
        let opts = ReadOptions {
            target: Some(manifest["target"].as_str().unwrap().to_string()),
            ..ReadOptions::default()
        };
        let ds = load_training(&dir.join("train.csv"), &opts).unwrap();
        let flags: Vec<String> = ds
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
        println!("## {name}");
        if flags.is_empty() {
            println!("none");
        }
        for f in &flags {
            println!("- {f}");
        }
        for (col, why) in &ds.report.dropped_columns {
            if why != "constant" {
                bad.push(format!("{name}: {col} dropped ({why})"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}
