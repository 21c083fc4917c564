//! A closed pipe on stdout (`automl leaderboard | head`) ends every printing command quietly
//! with exit code 0, never with a panic and a backtrace (issue 17).

use crate::util::*;
use std::path::Path;
use std::process::{Child, Stdio};

/// The write end of a pipe whose read end is already closed, so the first write to it fails
/// with EPIPE whatever the timing: the reader is an `automl --version` that has exited without
/// reading its stdin.
fn closed_pipe() -> Stdio {
    let mut reader = automl()
        .arg("--version")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot run the automl binary");
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    Stdio::from(write_end)
}

/// `automl ARGS` in `dir` with stdout on a closed pipe: `None` when it exited with 0 and no
/// panic, else what went wrong.
fn closed_stdout_failure(dir: &Path, args: &[&str]) -> Option<String> {
    let child = automl()
        .args(args)
        .current_dir(dir)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run the automl binary");
    let (code, stderr) = wait_output(child);
    if code == Some(0) && !stderr.contains("panicked") {
        None
    } else {
        Some(format!(
            "`automl {}`: exit code {code:?}, stderr:\n{stderr}",
            args.join(" ")
        ))
    }
}

/// Wait for `child`; a command that would keep running (a server whose greeting was lost)
/// is killed after a minute and reported with no exit code.
fn wait_output(mut child: Child) -> (Option<i32>, String) {
    let mut waited = 0;
    while child.try_wait().unwrap().is_none() && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_printing_command_exits_quietly_on_a_closed_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("flowers.csv");
    let data = data.to_str().unwrap();
    // The search itself prints its summary into the closed pipe; the store must still be whole.
    let fit = [
        "fit",
        data,
        "--store",
        "db",
        "--max-trials",
        "6",
        "--space",
        "fast",
        "--seed",
        "1",
        "--jobs",
        "1",
    ];
    let mut failures: Vec<String> = closed_stdout_failure(dir, &fit).into_iter().collect();
    let studies = run_in(dir, &["studies", "--store", "db"]).ok().stdout();
    assert!(
        studies.contains("flowers") && studies.contains("finished"),
        "the fit whose summary hit a closed pipe did not finish its study:\n{studies}"
    );
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["fit", "--help"],
        vec!["studies", "--store", "db"],
        vec!["leaderboard", "--store", "db"],
        vec!["leaderboard", "--store", "db", "--format", "csv"],
        vec!["leaderboard", "--store", "db", "--format", "json"],
        vec!["leaderboard", "--store", "db", "--format", "markdown"],
        vec!["show", "1", "--store", "db"],
        vec!["show", "1", "--store", "db", "--json"],
        vec!["compare", "1", "2", "--store", "db"],
        vec!["report", "--store", "db", "--output", "report.md"],
        vec!["report", "--store", "db", "--output", "report.html"],
        vec!["export", "--store", "db", "--output", "model.automl"],
        vec!["portfolio", "db", "--output", "portfolio.toml"],
        vec!["ui", "--store", "db", "--port", "0"],
    ];
    if Path::new("/dev/stdout").exists() {
        commands.push(vec![
            "predict",
            data,
            "--store",
            "db",
            "--output",
            "/dev/stdout",
        ]);
    }
    failures.extend(
        commands
            .iter()
            .filter_map(|args| closed_stdout_failure(dir, args)),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn other_errors_keep_their_message_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let child = automl()
        .args(["show", "1", "--store", "no-such-store"])
        .current_dir(tmp.path())
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stderr) = wait_output(child);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}
