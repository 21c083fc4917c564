//! The `automl` command: parses arguments, dispatches to one module per subcommand and maps
//! errors to exit codes (0 success, 2 any error: one line naming what was wrong and what to do).
//!
//! A closed pipe on the output (`automl leaderboard | head`) is not an error: like ripgrep, the
//! command stops quietly with exit code 0, whether the write failure came back as an error or
//! as the panic of `println!`.

mod args;
mod cmd_compare;
mod cmd_drift;
mod cmd_evaluate;
mod cmd_explain;
mod cmd_export;
mod cmd_fit;
mod cmd_leaderboard;
mod cmd_portfolio;
mod cmd_predict;
mod cmd_report;
mod cmd_serve;
mod cmd_serve_report;
mod cmd_show;
mod cmd_studies;
mod cmd_ui;
mod cmd_worker;
mod log_arg;
mod output;
mod store_arg;

use clap::Parser as _;
use std::panic::{self, AssertUnwindSafe};

/// jemalloc, configured in .cargo/config.toml to return freed pages to the OS after a second:
/// with glibc's malloc, memory freed by one trial stayed resident in its thread's arena.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    quiet_broken_pipe_panics();
    let cli = args::Cli::try_parse().unwrap_or_else(|e| usage_error(e));
    let result = match panic::catch_unwind(AssertUnwindSafe(|| dispatch(cli))) {
        Ok(result) => result,
        // Unwinding first drops the store, so it is closed properly before the exit.
        Err(payload) if is_broken_pipe_panic(panic_text(payload.as_ref())) => std::process::exit(0),
        Err(payload) => panic::resume_unwind(payload),
    };
    if let Err(e) = result {
        if is_broken_pipe_error(&e) {
            std::process::exit(0);
        }
        // One line: the outermost context and its causes.
        let mut msg = e.to_string();
        for cause in e.chain().skip(1) {
            let c = cause.to_string();
            if !msg.contains(&c) {
                msg.push_str(": ");
                msg.push_str(&c);
            }
        }
        eprintln!("error: {}", msg.replace('\n', " "));
        std::process::exit(2);
    }
}

/// Exit on a command-line error. A value its parser refused (such as a malformed `--store`
/// URL) is told in one line, and a PostgreSQL URL is not echoed: it may hold a password (the
/// parser's own message shows it masked). Anything else, `--help` included, as clap prints it.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ErrorKind};
    if e.kind() == ErrorKind::ValueValidation {
        if let (Some(arg), Some(why)) = (
            e.get(ContextKind::InvalidArg),
            std::error::Error::source(&e),
        ) {
            let why = why.to_string().replace('\n', " ");
            match e.get(ContextKind::InvalidValue).map(|v| v.to_string()) {
                Some(raw) if !automl_store::PgUrl::is_pg_url(&raw) => {
                    eprintln!("error: invalid value '{raw}' for '{arg}': {why}")
                }
                _ => eprintln!("error: invalid value for '{arg}': {why}"),
            }
            std::process::exit(2);
        }
    }
    e.exit()
}

/// Run one subcommand.
fn dispatch(cli: args::Cli) -> anyhow::Result<()> {
    match cli.command {
        args::Command::Fit(a) => cmd_fit::run(*a),
        args::Command::Leaderboard(a) => cmd_leaderboard::run(a),
        args::Command::Show(a) => cmd_show::run(a),
        args::Command::Predict(a) => cmd_predict::run(a),
        args::Command::Studies(a) => cmd_studies::run(a),
        args::Command::Compare(a) => cmd_compare::run(a),
        args::Command::Export(a) => cmd_export::run(a),
        args::Command::Report(a) => cmd_report::run(a),
        args::Command::Ui(a) => cmd_ui::run(a),
        args::Command::Portfolio(a) => cmd_portfolio::run(a),
        args::Command::Worker(a) => cmd_worker::run(a),
        args::Command::Evaluate(a) => cmd_evaluate::run(a),
        args::Command::Explain(a) => cmd_explain::run(a),
        args::Command::ServeReport(a) => cmd_serve_report::run(a),
        args::Command::Drift(a) => cmd_drift::run(a),
        args::Command::Serve(a) => cmd_serve::run(*a),
    }
}

/// The std panic of `print!` / `println!` on a closed pipe ("failed printing to stdout:
/// Broken pipe (os error 32)").
fn is_broken_pipe_panic(text: &str) -> bool {
    text.starts_with("failed printing to stdout") && is_broken_pipe_text(text)
}

/// An OS error message of EPIPE (32 on Linux and macOS).
fn is_broken_pipe_text(text: &str) -> bool {
    text.contains("Broken pipe") || text.contains("os error 32")
}

/// A panic's message, when it is text.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else {
        ""
    }
}

/// Silence the broken-pipe panic of `println!`; other panics keep the default report. On the
/// main thread the panic unwinds to `main`, which exits with 0; on another thread the process
/// exits with 0 at once (the output it was writing for is gone).
fn quiet_broken_pipe_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if is_broken_pipe_panic(panic_text(info.payload())) {
            if std::thread::current().name() != Some("main") {
                std::process::exit(0);
            }
            return;
        }
        default(info);
    }));
}

/// Whether an error comes from writing to a closed pipe: an `io::Error` of kind `BrokenPipe`
/// anywhere in the chain, or (for library errors that keep only the message, such as a
/// predictions file written to `/dev/stdout`) the OS message of EPIPE.
fn is_broken_pipe_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
            || is_broken_pipe_text(&cause.to_string())
    })
}

#[cfg(all(test, not(target_env = "msvc")))]
mod allocator_tests {
    /// The configuration of .cargo/config.toml is built into the allocator: without it, freed
    /// memory stays resident for jemalloc's default 10 s and no thread returns it while the
    /// search is busy.
    #[test]
    fn the_allocator_returns_freed_memory_from_a_background_thread() {
        assert!(tikv_jemalloc_ctl::opt::background_thread::read().unwrap());
        // Allocate and free through the global allocator: it is jemalloc's.
        let before = tikv_jemalloc_ctl::thread::allocatedp::read().unwrap().get();
        let v = vec![1u8; 1 << 20];
        assert_eq!(v.len(), 1 << 20);
        drop(v);
        let after = tikv_jemalloc_ctl::thread::allocatedp::read().unwrap().get();
        assert!(after >= before + (1 << 20), "{before} -> {after}");
        // Pages freed are handed back after 0.1 s: with the 1 s decay, a forest's trees freed
        // while its bag was encoded stayed resident beside the bag.
        let mut opts = Vec::new();
        tikv_jemalloc_ctl::stats_print::stats_print(&mut opts, Default::default()).unwrap();
        let opts = String::from_utf8_lossy(&opts);
        assert!(opts.contains("opt.dirty_decay_ms: 100 "), "{opts}");
    }
}
