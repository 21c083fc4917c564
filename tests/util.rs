//! Helpers for the end-to-end tests: run the real `automl` binary on real files with a real
//! store in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of a file under examples/data.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(name)
}

/// A command for the built binary.
pub fn automl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_automl"))
}

/// Output of a run, with helpers.
pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Panic with both streams unless the exit code is 0.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            0,
            "command failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Run `automl` with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = automl()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cannot run the automl binary");
    Run { out }
}

/// `automl predict DATA --store STORE --output OUTPUT` in `dir`, plus `extra` arguments; it
/// must succeed. Returns the path of the predictions file.
pub fn predict_in(dir: &Path, store: &str, data: &str, output: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(output);
    let mut args = vec![
        "predict",
        data,
        "--store",
        store,
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args).ok();
    out
}

/// Parse a CSV written by `automl predict` (no quoting needed for our outputs).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Number of data rows of a CSV file (header excluded).
pub fn csv_rows(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count() - 1
}
