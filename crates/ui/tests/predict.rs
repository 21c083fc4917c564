//! The predict endpoint with a real model: a tiny study (random search, `fast` space, 3
//! trials) on examples/data/flowers.csv written to a sled store in a temp dir, then CSV bodies
//! posted over a plain `TcpStream`.

mod common;

use automl_core::Budget;
use automl_engine::{Study, StudyConfig};
use automl_store::SledStore;
use automl_ui::{Server, UiConfig};
use common::http::request;
use serde_json::Value;
use std::path::Path;

const FLOWERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/data/flowers.csv"
);

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// Run a 3-trial study on flowers into a new store at `dir`; returns the study id.
fn fit_flowers(dir: &Path) -> u64 {
    let store = SledStore::open(dir).unwrap();
    let data = automl_data::load_training(Path::new(FLOWERS), &automl_data::ReadOptions::default())
        .expect("load flowers.csv");
    let space = automl_space::SearchSpace::builtin("fast").expect("the fast space ships");
    let strategy = automl_search::by_name("random", 0).expect("random search exists");
    let config = StudyConfig {
        name: "flowers".into(),
        budget: Budget {
            time_s: None,
            max_trials: Some(3),
        },
        jobs: 2,
        ..StudyConfig::default()
    };
    let study = Study::create(&store, data, space, strategy, config).expect("create study");
    let id = study.id();
    study.run(&mut |_| {}).expect("run study");
    id
}

#[test]
fn predict_returns_the_final_models_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = fit_flowers(&store);
    let server = Server::bind(&UiConfig {
        store: store.clone().into(),
        addr: "127.0.0.1:0".into(),
        log_dir: None,
    })
    .unwrap();
    let addr = format!("127.0.0.1:{}", server.port());
    let stop = server.stop_handle();
    let join = std::thread::spawn(move || server.run().unwrap());

    // The whole training file (the target column is ignored).
    let csv_text = std::fs::read_to_string(FLOWERS).unwrap();
    let (status, _, body) = request(
        &addr,
        "POST",
        &format!("/api/studies/{id}/predict"),
        csv_text.as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    let columns: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "prediction",
            "proba_setosa",
            "proba_versicolor",
            "proba_virginica"
        ]
    );
    let rows = v["rows"].as_array().unwrap();
    let truth: Vec<String> = csv_text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.rsplit(',').next().unwrap().trim().to_string())
        .collect();
    assert_eq!(rows.len(), truth.len(), "one row per input row");
    assert_eq!(v["n_rows"], truth.len());
    assert!(
        v["model"].as_str().unwrap().contains("final model"),
        "{}",
        v["model"]
    );
    let mut correct = 0;
    for (row, label) in rows.iter().zip(&truth) {
        let cells: Vec<&str> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let p: f64 = cells[1..].iter().map(|c| c.parse::<f64>().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-6, "probabilities sum to 1: {cells:?}");
        correct += usize::from(cells[0] == label);
    }
    let acc = correct as f64 / truth.len() as f64;
    assert!(
        acc > 0.8,
        "the flowers are easy to tell apart; training accuracy was {acc}"
    );

    // One typed row, as the page's form sends it (columns in any order, no target).
    let row = "sepal_width,sepal_length,petal_width,petal_length\n3.5,5.1,0.2,1.4\n";
    let (status, _, body) = request(&addr, "POST", "/api/studies/latest/predict", row.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["rows"][0][0], "setosa");

    // A trial's own stored model.
    let (_, _, body) = request(&addr, "GET", &format!("/api/studies/{id}/trials"), b"");
    let best = json(&body)["trials"][0]["trial_id"].as_u64().unwrap();
    let (status, _, body) = request(
        &addr,
        "POST",
        &format!("/api/studies/{id}/predict?trial={best}"),
        row.as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        json(&body)["model"]
            .as_str()
            .unwrap()
            .contains(&format!("trial {best}"))
    );

    // A file without the model's columns: a 400 naming them, without the temp file's path.
    let (status, _, body) = request(
        &addr,
        "POST",
        &format!("/api/studies/{id}/predict"),
        b"colour\nred\n",
    );
    assert_eq!(status, 400);
    let msg = json(&body)["error"].as_str().unwrap().to_string();
    assert!(
        msg.contains("petal_length") && msg.contains("the uploaded CSV"),
        "{msg}"
    );
    assert!(
        !msg.contains("upload.csv"),
        "the temp path is hidden: {msg}"
    );

    stop.stop();
    join.join().unwrap();
}
