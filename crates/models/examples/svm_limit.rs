//! Times `svm` fits at its row limit on synthetic data (run in release), to check that
//! `Family::max_rows` keeps a default fit within a few seconds. An argument times that many
//! rows instead (`cargo run --release -p automl-models --example svm_limit -- 1000`); above
//! the limit the family refuses to fit, so a local build with `MAX_ROWS` raised is needed.

use automl_core::{Params, Rng, Task};
use automl_models::{FitInput, registry};
use ndarray::Array2;
use std::time::Instant;

fn main() {
    let f = registry().get("svm").expect("svm is registered");
    let limit = f.max_rows().expect("svm declares max_rows");
    let n = match std::env::args().nth(1) {
        Some(a) => a.parse().expect("the argument is a row count"),
        None => limit,
    };
    if n > limit {
        eprintln!(
            "svm refuses more than {limit} training rows; to time {n}, raise \
             `automl_models::families::svm::MAX_ROWS` in a local build"
        );
        std::process::exit(2);
    }
    let d = 30;
    let mut rng = Rng::new(1);
    for (task, k) in [
        (Task::Binary, 2usize),
        (Task::Multiclass, 4),
        (Task::Regression, 0),
    ] {
        let mut x = Array2::zeros((n, d));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            for j in 0..d {
                x[[i, j]] = rng.normal();
            }
            let s = x[[i, 0]] + 0.5 * x[[i, 1]] - x[[i, 2]] * x[[i, 3]] + 0.5 * rng.normal();
            y.push(match task {
                Task::Regression => s,
                _ => ((s.tanh() + 1.0) / 2.0 * k as f64)
                    .floor()
                    .min(k as f64 - 1.0),
            });
        }
        for kernel in ["rbf", "linear"] {
            let mut params = Params::new();
            params.insert("kernel".into(), automl_core::ParamValue::Str(kernel.into()));
            let input = FitInput::new(x.view(), &y, task, k, 0);
            let t = Instant::now();
            let m = f.fit(&params, &input).expect("svm fit");
            println!(
                "svm {task:<10} {kernel:<6} {n} rows x {d} cols: fit {:.2}s, {:?}",
                t.elapsed().as_secs_f64(),
                m.facts()
            );
        }
    }
}
