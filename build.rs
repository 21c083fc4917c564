//! Records the commit the `automl` binary is built from (`automl --version`), so a benchmark
//! or a bug report can name the exact code a binary ran, not the checkout it sits in.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !s.trim().is_empty()).then(|| s.trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=7", "HEAD"]);
    println!(
        "cargo:rustc-env=AUTOML_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown commit")
    );
    println!("cargo:rerun-if-changed=build.rs");
    // Built again when HEAD moves: a checkout changes HEAD, a commit the branch's ref (loose or
    // packed). Only files that exist: cargo reruns a script on every build for a missing one.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for name in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
        if let Some(path) = git(&["rev-parse", "--git-path", name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
