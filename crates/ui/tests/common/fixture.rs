//! A fixture store for the dashboard's tests and the `serve_fixture` example: one study of
//! made-up trials (complete, failed, still running; with lineage) written through the real
//! `SledStore`.

use automl_core::trial::SchemaColumn;
use automl_core::{
    Budget, Candidate, ParamValue, Params, SCHEMA_VERSION, StudyRecord, Task, TrialState,
};
use automl_store::{SledStore, Store, StoreRead};
use std::collections::BTreeMap;
use std::path::Path;

/// One made-up trial: (family, params, parents, operator, fold scores; `None` = failed).
pub type FixtureTrial = (
    &'static str,
    Params,
    Vec<u64>,
    &'static str,
    Option<Vec<f64>>,
);

/// Families, parameters and fold scores (accuracy) of the fixture's trials, in trial-id order.
/// A `None` score list marks a failed trial; the last trial is left running.
pub fn fixture_trials() -> Vec<FixtureTrial> {
    let p = |kv: &[(&str, ParamValue)]| -> Params {
        kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    vec![
        (
            "logistic",
            p(&[("c", ParamValue::Float(1.0))]),
            vec![],
            "default",
            Some(vec![0.90, 0.93, 0.92]),
        ),
        (
            "gbdt",
            p(&[
                ("learning_rate", ParamValue::Float(0.1)),
                ("max_depth", ParamValue::Int(4)),
            ]),
            vec![],
            "random",
            Some(vec![0.95, 0.96, 0.94]),
        ),
        (
            "knn",
            p(&[
                ("k", ParamValue::Int(7)),
                ("weights", ParamValue::Str("distance".into())),
            ]),
            vec![],
            "random",
            Some(vec![0.91, 0.89, 0.93]),
        ),
        (
            "gbdt",
            p(&[
                ("learning_rate", ParamValue::Float(0.05)),
                ("max_depth", ParamValue::Int(6)),
            ]),
            vec![1],
            "mutate",
            Some(vec![0.97, 0.96, 0.98]),
        ),
        (
            "svm",
            p(&[("c", ParamValue::Float(10.0))]),
            vec![],
            "random",
            None,
        ),
        (
            "random_forest",
            p(&[("n_trees", ParamValue::Int(100))]),
            vec![1, 2],
            "crossover",
            Some(vec![0.94, 0.95, 0.93]),
        ),
        (
            "gbdt",
            p(&[("learning_rate", ParamValue::Float(0.2))]),
            vec![3],
            "mutate",
            None,
        ),
    ]
}

/// Write the fixture study into a new store at `dir`; returns the study id. The last trial
/// stays `running`; `finished` sets the study's end time.
pub fn write_fixture(dir: &Path, finished: bool) -> u64 {
    let store = SledStore::open(dir).expect("open fixture store");
    let columns = ["petal_length", "petal_width", "sepal_length", "sepal_width"];
    let study = StudyRecord {
        schema_version: SCHEMA_VERSION,
        study_id: 0,
        name: "fixture-flowers".into(),
        data_path: "examples/data/flowers.csv".into(),
        fingerprint: "00".into(),
        schema: columns
            .iter()
            .map(|c| SchemaColumn {
                name: c.to_string(),
                kind: "numeric".into(),
            })
            .collect(),
        target: "species".into(),
        classes: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
        task: Task::Multiclass,
        metric: "accuracy".into(),
        space: String::new(),
        strategy: "random".into(),
        seed: 0,
        budget: Budget {
            time_s: None,
            max_trials: Some(7),
        },
        started_at_ms: 1_700_000_000_000,
        ended_at_ms: 0,
        final_trial: None,
        keep_models: None,
        extra: BTreeMap::new(),
        validation: None,
        n_rows: None,
        data_report: None,
        memory_limit_bytes: None,
        ensemble: None,
        stacking: None,
        final_model: None,
        parallelism: None,
    };
    let id = store.create_study(study.clone()).expect("create study");
    let trials = fixture_trials();
    let n = trials.len();
    for (i, (family, params, parents, operator, scores)) in trials.into_iter().enumerate() {
        let mut cand = Candidate::new(family, params, operator);
        cand.parents = parents;
        let mut rec = store
            .start_trial(id, &cand, "random", i as u64)
            .expect("start trial");
        rec.started_at_ms = study.started_at_ms + 1000 * i as u64;
        if i + 1 == n {
            break; // left running
        }
        rec.ended_at_ms = rec.started_at_ms + 800;
        match scores {
            Some(s) => {
                let mean = s.iter().sum::<f64>() / s.len() as f64;
                let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / s.len() as f64;
                rec.state = TrialState::Complete;
                rec.mean = mean;
                rec.std = var.sqrt();
                rec.metrics.insert("accuracy".into(), mean);
                rec.fold_scores = s;
                rec.fit_time_s = 0.25;
            }
            None => {
                rec.state = TrialState::Failed;
                rec.error = Some(format!("{family}: the fit did not converge"));
            }
        }
        store.finish_trial(&rec, None).expect("finish trial");
    }
    if finished {
        let mut s = store.study(id).expect("read study").expect("study exists");
        s.ended_at_ms = s.started_at_ms + 10_000;
        store.update_study(&s).expect("update study");
    }
    store.flush().expect("flush");
    id
}
