//! `GET /api/importance`: a trial's permutation importance from a real study on a copy of
//! examples/data/flowers.csv, the answer kept, bad queries and a vanished data file.

use automl_core::Budget;
use automl_engine::{Study, StudyConfig};
use automl_store::SledStore;
use automl_ui::api::Api;
use serde_json::Value;
use std::path::Path;

const FLOWERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/data/flowers.csv"
);

fn fit(store_dir: &Path, csv: &Path) -> u64 {
    let store = SledStore::open(store_dir).unwrap();
    let data = automl_data::load_training(csv, &automl_data::ReadOptions::default()).unwrap();
    let space = automl_space::SearchSpace::builtin("fast").unwrap();
    let strategy = automl_search::by_name("random", 0).unwrap();
    let config = StudyConfig {
        name: "flowers".into(),
        budget: Budget {
            time_s: None,
            max_trials: Some(3),
        },
        jobs: 2,
        ..StudyConfig::default()
    };
    let study = Study::create(&store, data, space, strategy, config).unwrap();
    let id = study.id();
    study.run(&mut |_| {}).unwrap();
    id
}

fn get(api: &Api, path: &str) -> (u16, Value) {
    let r = api.handle("GET", path, b"");
    let v = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)));
    (r.status, v)
}

#[test]
fn importance_of_the_final_trial_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("flowers.csv");
    std::fs::copy(FLOWERS, &csv).unwrap();
    let store = dir.path().join("store");
    let id = fit(&store, &csv);
    let api = Api::new(store.clone());
    let (status, v) = get(&api, &format!("/api/importance?study={id}"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["study_id"], id);
    assert_eq!(v["repeats"], 3);
    let cols = v["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 4, "{v}");
    for c in cols {
        assert!(c["column"].is_string() && c["std"].is_number(), "{c}");
    }
    // the petal columns carry the signal in flowers
    let top = cols[0]["column"].as_str().unwrap();
    assert!(top.starts_with("petal"), "{v}");
    // kept: the same answer even once the data file is gone
    std::fs::remove_file(&csv).unwrap();
    assert_eq!(get(&api, &format!("/api/importance?study={id}")).1, v);
    // another trial needs the data: 400 naming the way out
    let t = v["trial_id"].as_u64().unwrap();
    let other = if t == 0 { 1 } else { 0 };
    let (status, e) = get(&api, &format!("/api/importance?study={id}&trial={other}"));
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("--data"), "{e}");
    let (status, _) = get(&api, "/api/importance?trial=x");
    assert_eq!(status, 400);
    let (status, _) = get(&api, "/api/importance?what=1");
    assert_eq!(status, 400);
    assert_eq!(api.handle("POST", "/api/importance", b"").status, 405);
}
