//! Benchmark of the tree engine on the shared bench datasets: fits GBDT, random forest and extra
//! trees single-threaded with fixed hyperparameters and prints one JSON line per (dataset, model)
//! with fit_s, predict_s, the test metric and the serialized size. See bench/trees/README.md.
//!
//! Usage: bench [--data DIR] [--reps N] [--seed N] [--models gbdt,rf,et] DATASET...

use automl_core::{Metric, Predictions, Task};
use automl_trees::{
    BinnedData, Criterion, Dataset, Forest, ForestKind, ForestParams, Gbdt, GbdtParams, Objective,
};
use ndarray::Array2;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// One loaded train/test pair.
struct Loaded {
    task: Task,
    n_classes: usize,
    categorical: Vec<bool>,
    x_train: Array2<f64>,
    y_train: Vec<f64>,
    x_test: Array2<f64>,
    y_test: Vec<f64>,
}

fn read_csv(path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let header = rd
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = rd
        .records()
        .map(|r| r.expect("record").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn load(dir: &str) -> Loaded {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let task: Task = manifest["task"]
        .as_str()
        .expect("task")
        .parse()
        .expect("task name");
    let (_, train) = read_csv(&format!("{dir}/train.csv"));
    let (_, test) = read_csv(&format!("{dir}/test.csv"));
    let nc = train[0].len() - 1;
    // a column is numeric when every non-empty train cell parses as f64
    let mut categorical = vec![false; nc];
    let mut levels: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); nc];
    for (j, cat) in categorical.iter_mut().enumerate() {
        *cat = train
            .iter()
            .any(|r| !r[j].is_empty() && r[j].parse::<f64>().is_err());
        if *cat {
            let set: BTreeSet<&String> = train
                .iter()
                .map(|r| &r[j])
                .filter(|s| !s.is_empty())
                .collect();
            levels[j] = set
                .into_iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), i as f64))
                .collect();
        }
    }
    let encode = |rows: &[Vec<String>]| {
        Array2::from_shape_fn((rows.len(), nc), |(i, j)| {
            let s = &rows[i][j];
            if s.is_empty() {
                f64::NAN
            } else if categorical[j] {
                levels[j].get(s).copied().unwrap_or(f64::NAN)
            } else {
                s.parse().unwrap_or(f64::NAN)
            }
        })
    };
    let (class_map, n_classes): (BTreeMap<String, f64>, usize) = match task {
        Task::Regression => (BTreeMap::new(), 0),
        Task::Binary => {
            let pos = manifest["positive_class"]
                .as_str()
                .expect("positive_class")
                .to_string();
            let mut m = BTreeMap::new();
            for r in &train {
                let l = &r[nc];
                m.insert(l.clone(), if *l == pos { 1.0 } else { 0.0 });
            }
            (m, 2)
        }
        Task::Multiclass => {
            let set: BTreeSet<&String> = train.iter().map(|r| &r[nc]).collect();
            let n = set.len();
            (
                set.into_iter()
                    .enumerate()
                    .map(|(i, s)| (s.clone(), i as f64))
                    .collect(),
                n,
            )
        }
    };
    let target = |rows: &[Vec<String>]| -> Vec<f64> {
        rows.iter()
            .map(|r| {
                if task == Task::Regression {
                    r[nc].parse().expect("numeric target")
                } else {
                    class_map[&r[nc]]
                }
            })
            .collect()
    };
    Loaded {
        task,
        n_classes,
        x_train: encode(&train),
        y_train: target(&train),
        x_test: encode(&test),
        y_test: target(&test),
        categorical,
    }
}

fn metric_of(task: Task) -> Metric {
    match task {
        Task::Binary => Metric::RocAuc,
        Task::Multiclass => Metric::LogLoss,
        Task::Regression => Metric::Rmse,
    }
}

fn main() {
    let mut data_dir =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/data").to_string();
    let mut reps = 1usize;
    let mut seed = 0u64;
    let mut models = vec!["gbdt".to_string(), "rf".to_string(), "et".to_string()];
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data_dir = args.next().expect("--data DIR"),
            "--seed" => seed = args.next().expect("--seed N").parse().expect("integer"),
            "--reps" => reps = args.next().expect("--reps N").parse().expect("integer"),
            "--models" => {
                models = args
                    .next()
                    .expect("--models list")
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            _ => names.push(a),
        }
    }
    for name in names {
        let d = load(&format!("{data_dir}/{name}"));
        let metric = metric_of(d.task);
        for model in &models {
            let mut fit_s = f64::INFINITY;
            let mut predict_s = f64::INFINITY;
            let mut fit_cpu = f64::INFINITY;
            let mut predict_cpu = f64::INFINITY;
            let mut pred: Option<Predictions> = None;
            let mut size = 0usize;
            let mut extra = String::new();
            for _ in 0..reps {
                let t0 = Instant::now();
                let c0 = cpu_now();
                let binned =
                    BinnedData::new(d.x_train.view(), &d.categorical, 255).expect("binning");
                let train = Dataset::new(&binned, &d.y_train);
                let (p, bytes, t1) = match model.as_str() {
                    "gbdt" => {
                        let objective = match d.task {
                            Task::Binary => Objective::Binary,
                            Task::Multiclass => Objective::Multiclass {
                                n_classes: d.n_classes,
                            },
                            Task::Regression => Objective::L2,
                        };
                        let params = GbdtParams {
                            objective,
                            learning_rate: 0.1,
                            max_rounds: 200,
                            max_leaves: 31,
                            min_samples_leaf: 20,
                            min_child_weight: 1e-3,
                            seed,
                            ..GbdtParams::default()
                        };
                        let m = Gbdt::fit(&params, &train, None, None).expect("fit");
                        let t1 = t0.elapsed().as_secs_f64();
                        let c1 = cpu_now();
                        fit_cpu = fit_cpu.min(c1 - c0);
                        let t2 = Instant::now();
                        let p = m.predict(d.x_test.view()).expect("predict");
                        predict_s = predict_s.min(t2.elapsed().as_secs_f64());
                        predict_cpu = predict_cpu.min(cpu_now() - c1);
                        extra = format!(",\"n_rounds\":{}", m.n_rounds());
                        (p, postcard_size(&m), t1)
                    }
                    "rf" | "et" => {
                        let kind = if model == "rf" {
                            ForestKind::RandomForest
                        } else {
                            ForestKind::ExtraTrees
                        };
                        let params = ForestParams {
                            n_trees: 100,
                            max_features: 0.5,
                            min_samples_leaf: 1,
                            criterion: Criterion::Gini,
                            seed,
                            ..ForestParams::new(kind, d.n_classes)
                        };
                        let m = Forest::fit(&params, &train, None).expect("fit");
                        let t1 = t0.elapsed().as_secs_f64();
                        let c1 = cpu_now();
                        fit_cpu = fit_cpu.min(c1 - c0);
                        let t2 = Instant::now();
                        let p = m.predict(d.x_test.view()).expect("predict");
                        predict_s = predict_s.min(t2.elapsed().as_secs_f64());
                        predict_cpu = predict_cpu.min(cpu_now() - c1);
                        (p, postcard_size(&m), t1)
                    }
                    other => panic!("unknown model {other}: use gbdt, rf, et"),
                };
                fit_s = fit_s.min(t1);
                pred = Some(p);
                size = bytes;
            }
            let pred = pred.expect("at least one rep");
            let value = metric.compute(&d.y_test, &pred, d.n_classes);
            println!(
                "{{\"side\":\"rust\",\"dataset\":\"{name}\",\"model\":\"{model}\",\"fit_s\":{fit_s:.4},\"predict_s\":{predict_s:.4},\"fit_cpu_s\":{fit_cpu:.4},\"predict_cpu_s\":{predict_cpu:.4},\"metric\":\"{}\",\"value\":{value:.6},\"size_bytes\":{size},\"seed\":{seed}{extra}}}",
                metric.name()
            );
        }
    }
}

/// CPU time of this thread in seconds (Linux schedstat, ns resolution); 0 elsewhere.
fn cpu_now() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns * 1e-9)
}

fn postcard_size<T: serde::Serialize>(m: &T) -> usize {
    postcard::to_allocvec(m).expect("serialize").len()
}
