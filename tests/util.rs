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
    let mut c = Command::new(env!("CARGO_BIN_EXE_automl"));
    // A developer's own store (or password) must not leak into the tests: every test names
    // its store.
    for var in ["AUTOML_STORE", "PGPASSWORD", "PGPASSFILE", "PGUSER"] {
        c.env_remove(var);
    }
    c
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

/// `automl fit train.csv --store s --space space.toml --strategy random --max-trials TRIALS
/// --seed SEED` in `dir`, plus `extra` arguments; it must succeed.
pub fn fit_random(dir: &Path, trials: &str, seed: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "fit",
        "train.csv",
        "--store",
        "s",
        "--space",
        "space.toml",
        "--strategy",
        "random",
        "--max-trials",
        trials,
        "--seed",
        seed,
    ];
    args.extend_from_slice(extra);
    run_in(dir, &args).ok()
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

/// A process started in the background, its stdout and stderr written to files (never a pipe
/// that could fill up), so a test can wait for a line and read both streams at any time.
/// Dropping it kills the process if it still runs.
pub struct Background {
    child: std::process::Child,
    what: String,
    out: PathBuf,
    err: PathBuf,
    done: bool,
}

/// Start `automl args` in `dir` with `envs` set; its output goes to `dir/NAME.out` and
/// `dir/NAME.err`.
pub fn spawn_in(dir: &Path, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Background {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    let child = automl()
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).expect("create stdout file"))
        .stderr(std::fs::File::create(&err).expect("create stderr file"))
        .spawn()
        .expect("cannot run the automl binary");
    Background {
        child,
        what: format!("{name} (automl {})", args.join(" ")),
        out,
        err,
        done: false,
    }
}

impl Background {
    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Wait until its stderr contains `needle`, and return the stderr. Panics (with both
    /// streams) if the process ends first or `timeout` passes.
    pub fn wait_stderr(&mut self, needle: &str, timeout: std::time::Duration) -> String {
        let end = std::time::Instant::now() + timeout;
        loop {
            let err = self.stderr();
            if err.contains(needle) {
                return err;
            }
            let exited = self.child.try_wait().expect("try_wait").is_some();
            // Read once more: the line may have been written just before the exit.
            if exited && !self.stderr().contains(needle) {
                panic!(
                    "{} ended before its stderr said `{needle}`\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.stdout(),
                    self.stderr()
                );
            }
            if std::time::Instant::now() >= end {
                panic!(
                    "{} did not say `{needle}` within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
    }

    /// Wait for the process to end (killing it and panicking after `timeout`).
    pub fn wait(&mut self, timeout: std::time::Duration) -> Run {
        let end = std::time::Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if std::time::Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.done = true;
                panic!(
                    "{} did not end within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        self.done = true;
        Run {
            out: Output {
                status,
                stdout: self.stdout().into_bytes(),
                stderr: self.stderr().into_bytes(),
            },
        }
    }

    /// Its process id (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// `kill -9` it (SIGKILL: no handler runs, nothing is cleaned up) and reap it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run `automl` with `args` in `dir`, expect success, and parse the whole of its stdout as one
/// JSON document (which fails if anything else was printed there).
pub fn run_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let run = run_in(dir, args).ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| {
        panic!(
            "`automl {}` did not print one JSON document: {e}\nstdout:\n{}",
            args.join(" "),
            run.stdout()
        )
    })
}

/// A leaderboard JSON row of a meta-trial (the ensemble or the stacking), not a searched trial.
pub fn is_meta_row(r: &serde_json::Value) -> bool {
    r["family"]
        .as_str()
        .is_some_and(automl_core::is_meta_family)
}
