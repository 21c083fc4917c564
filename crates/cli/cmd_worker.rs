//! `automl worker`: claim trials that `automl fit --remote-workers` queued in a shared store,
//! evaluate them and hand the results back, until the study ends, the queue stays empty for
//! `--idle-timeout`, or the worker is stopped (Ctrl-C / SIGTERM: trials in progress are
//! dropped; their leases expire and other workers take them).
//!
//! Test only: the environment variable `AUTOML_TEST_EVAL_DELAY_MS` (milliseconds) makes the
//! worker hold every result that long before handing it back, its lease renewed meanwhile
//! (`WorkerConfig::finish_delay`), so that end-to-end tests can kill a worker mid-trial or
//! stop the database while trials run. Not a user setting: it only slows a worker down.

use crate::args::WorkerArgs;
use crate::output::{fmt_score, fmt_secs};
use anyhow::{Result, bail};
use automl_engine::{EngineError, WorkerConfig, WorkerEvent, run_worker};
use automl_store::StoreLocation;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// See the module doc.
const TEST_EVAL_DELAY_ENV: &str = "AUTOML_TEST_EVAL_DELAY_MS";

fn seconds(flag: &str, v: f64) -> Result<Duration> {
    if !v.is_finite() || v <= 0.0 {
        bail!("{flag} must be a positive number of seconds (got {v})");
    }
    Ok(Duration::from_secs_f64(v))
}

/// The test-only delay of `AUTOML_TEST_EVAL_DELAY_MS` (see the module doc).
fn test_eval_delay() -> Result<Option<Duration>> {
    match std::env::var(TEST_EVAL_DELAY_ENV) {
        Err(_) => Ok(None),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(ms) => Ok(Some(Duration::from_millis(ms))),
            Err(_) => {
                bail!("{TEST_EVAL_DELAY_ENV} must be a whole number of milliseconds (got `{v}`)")
            }
        },
    }
}

pub fn run(a: WorkerArgs) -> Result<()> {
    let started = Instant::now();
    if let StoreLocation::Dir(dir) = &a.store.store {
        bail!(
            "`automl worker` needs a store that several processes share: `{}` is an embedded (sled) store, which one process at a time can open; pass --store postgres://USER@HOST/DB, the store of `automl fit --remote-workers` (see docs/distributed.md)",
            dir.display()
        );
    }
    if a.jobs == 0 {
        bail!("--jobs must be at least 1 (got 0)");
    }
    let lease = seconds("--lease", a.lease)?;
    let idle_timeout = seconds("--idle-timeout", a.idle_timeout)?;
    let store = crate::store_arg::open_writable(&a.store.store)?;
    let mut cfg = WorkerConfig {
        study: a.study,
        jobs: a.jobs,
        idle_timeout,
        lease,
        heartbeat: lease / 3,
        ..WorkerConfig::default()
    };
    if let Some(n) = &a.name {
        cfg.name = n.clone();
    }
    if let Some(ms) = test_eval_delay()? {
        cfg.finish_delay = Some(Arc::new(move |_, _| ms));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let _ = ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\nstopping: trials in progress are dropped and go back to the queue when their lease expires"
            );
        });
    }
    if !a.quiet {
        eprintln!(
            "worker {} on {} | {} | {} lane{} | lease {}",
            cfg.name,
            a.store.store,
            match a.study {
                Some(id) => format!("study {id}"),
                None => format!(
                    "any study (exits after {} with nothing queued)",
                    fmt_secs(idle_timeout.as_secs_f64())
                ),
            },
            cfg.jobs,
            if cfg.jobs == 1 { "" } else { "s" },
            fmt_secs(lease.as_secs_f64())
        );
    }
    let quiet = a.quiet;
    let on_event = move |e: &WorkerEvent| {
        if quiet {
            return;
        }
        let t = started.elapsed().as_secs_f64();
        match e {
            WorkerEvent::Claimed {
                study_id,
                trial_id,
                attempt,
                family,
            } => eprintln!(
                "[{t:>6.1}s] claimed study {study_id} trial {trial_id} {family}{}",
                if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                }
            ),
            WorkerEvent::Finished {
                study_id,
                trial_id,
                state,
                mean,
                seconds,
            } => eprintln!(
                "[{t:>6.1}s] finished study {study_id} trial {trial_id} {} {} in {}",
                state.as_str(),
                if mean.is_finite() {
                    fmt_score(*mean)
                } else {
                    String::new()
                },
                fmt_secs(*seconds)
            ),
            WorkerEvent::Dropped { study_id, trial_id } => eprintln!(
                "[{t:>6.1}s] dropped study {study_id} trial {trial_id} (its lease was lost or the coordinator gave up on it)"
            ),
        }
    };
    let summary = run_worker(store.as_ref(), &cfg, &cancel, &on_event).map_err(|e| match e {
        EngineError::NoQueue => anyhow::anyhow!(
            "the store `{}` has no trial queue; workers need a PostgreSQL store",
            a.store.store
        ),
        e => e.into(),
    })?;
    println!(
        "worker {}: {} trials evaluated, {} dropped, in {}",
        cfg.name,
        summary.finished,
        summary.dropped,
        fmt_secs(started.elapsed().as_secs_f64())
    );
    Ok(())
}
