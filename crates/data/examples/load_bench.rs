//! Load-time benchmark for docs/BENCHMARKS.md: `load_training` (read, type inference,
//! target, data report) and `read_frame` (read and inference only) on one file, best and
//! median of N runs. `cargo run --release -p automl-data --example load_bench -- FILE [N]`.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: load_bench FILE [N]"));
    let n: usize = args.next().map_or(20, |s| s.parse().expect("N"));
    let opts = automl_data::ReadOptions::default();
    let tokens = automl_data::default_missing_tokens();
    let time = |f: &dyn Fn()| {
        let mut t: Vec<f64> = (0..n)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        (t[0], t[n / 2])
    };
    let (best_f, med_f) = time(&|| {
        automl_data::read_frame(&path, &tokens).unwrap();
    });
    let (best_t, med_t) = time(&|| {
        automl_data::load_training(&path, &opts).unwrap();
    });
    println!(
        "{}: read_frame best {best_f:.1} ms, median {med_f:.1} ms; load_training best {best_t:.1} ms, median {med_t:.1} ms ({n} runs)",
        path.display()
    );
}
