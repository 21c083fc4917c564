//! The final model of a single trial: `mlp`, whose fits vary much with the seed, keeps its fold
//! models under k-fold CV and is refit on all rows under a holdout; every other family is refit
//! (docs/architecture.md, "A single mlp keeps its fold models").

mod common;

use automl_core::{Budget, FinalModelKind};
use automl_engine::{Study, StudyConfig};
use automl_space::SearchSpace;
use automl_store::MemoryStore;
use automl_trainer::CvConfig;
use common::churn;

const SPACE: &str = r#"
version = 1
name = "one-family"
[families.FAMILY]
[families.FAMILY.params]
"#;

fn final_model(family: &str, cv: CvConfig) -> automl_core::FinalModel {
    let store = MemoryStore::new();
    let config = StudyConfig {
        name: family.to_string(),
        budget: Budget {
            time_s: None,
            max_trials: Some(2),
        },
        seed: 7,
        jobs: 1,
        cv,
        ensemble: false,
        stacking: false,
        memory_limit: Some(8 << 30),
        ..StudyConfig::default()
    };
    let space = SearchSpace::from_toml_str(&SPACE.replace("FAMILY", family), "one.toml").unwrap();
    let strat = automl_search::by_name("random", 7).unwrap();
    let study = Study::create(&store, churn(), space, strat, config).unwrap();
    let summary = study.run(&mut |_| {}).unwrap();
    summary.study.final_model.expect("a final model")
}

#[test]
fn a_single_mlp_keeps_its_fold_models_under_k_fold_only() {
    let m = final_model("mlp", CvConfig::default());
    assert_eq!(m.kind, FinalModelKind::FoldModels, "{m:?}");
    let note = m.note.clone().unwrap_or_default();
    assert!(note.contains("one mlp fit varies with its seed"), "{note}");
    assert!(m.to_string().contains("fold models"), "{m}");
    // A holdout's one fold model saw fewer rows than a refit: refit.
    let holdout = CvConfig {
        holdout_above_rows: 100,
        ..CvConfig::default()
    };
    let m = final_model("mlp", holdout);
    assert_eq!(m.kind, FinalModelKind::Refit, "{m:?}");
    // Every other family is refit, gbdt included.
    for family in ["gbdt", "logistic"] {
        let m = final_model(family, CvConfig::default());
        assert_eq!(m.kind, FinalModelKind::Refit, "{family}: {m:?}");
    }
}
