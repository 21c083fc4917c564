//! Load-speed benchmark: `read_frame` (CSV parse + column type inference: what
//! `pandas.read_csv` does) and `load_training` (that plus target/task inference, the data
//! report and its bad-data checks). Prints, per function, the best wall time of N runs and the
//! mean CPU time per run (Linux: from /proc/self/stat; robust when other work shares the
//! machine). Compare with `load_speed_pandas.py` on the same file.
//!
//! `cargo run --release -p automl-data --example load_speed -- [FILE] [N]`
//! (default FILE: shared/bench/data/diamonds/train.csv beside the repository, N = 20).

use std::path::{Path, PathBuf};
use std::time::Instant;

use automl_data::{DataError, ReadOptions, load_training, read_frame};

/// CPU time (user + system) of this process in ms, if /proc is available (100 ticks/s).
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

fn bench(what: &str, n: usize, path: &Path, f: impl Fn() -> Result<usize, DataError>) {
    let mut best = f64::INFINITY;
    let mut rows = 0;
    let cpu0 = cpu_ms();
    for _ in 0..n {
        let t = Instant::now();
        rows = f().unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1);
        });
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = match (cpu0, cpu_ms()) {
        (Some(a), Some(b)) => format!("{:.2} ms", (b - a) / n as f64),
        _ => "n/a".into(),
    };
    println!(
        "automl-data {what}: {} ({rows} rows): best of {n}: {best:.2} ms wall; mean CPU {cpu}",
        path.display()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/bench/data/diamonds/train.csv"
        ))
    });
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let opts = ReadOptions::default();
    bench("read_frame", n, &path, || {
        read_frame(&path, &opts.missing_tokens).map(|f| f.n_rows)
    });
    bench("load_training", n, &path, || {
        load_training(&path, &opts).map(|d| d.n_rows())
    });
}
