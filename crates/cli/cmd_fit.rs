//! `automl fit`: load the CSV, report on the data, search under the budget, refit, summarise.

use crate::args::{FitArgs, TaskArg};
use crate::output::{fmt_score, fmt_secs};
use anyhow::{Context, Result, bail};
use automl_core::{Budget, Metric, Task};
use automl_data::{ReadOptions, load_training};
use automl_engine::{Progress, Study, StudyConfig};
use automl_space::SearchSpace;
use automl_store::{SledStore, StoreRead};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Open a store for writing. A reader (e.g. the dashboard) holds the database for a few
/// milliseconds per request, so a `Locked` answer is retried for up to 3 seconds.
pub fn open_writable(path: &std::path::Path) -> Result<SledStore> {
    let t0 = Instant::now();
    loop {
        match SledStore::open(path) {
            Err(automl_store::StoreError::Locked { .. })
                if t0.elapsed() < Duration::from_secs(3) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

/// The zero-shot portfolio shipped in search-spaces/portfolio.toml (tried first by `auto`).
fn builtin_portfolio() -> Result<Vec<automl_search::PortfolioConfig>> {
    const TEXT: &str = include_str!("../../search-spaces/portfolio.toml");
    Ok(automl_search::load_portfolio(
        TEXT,
        "search-spaces/portfolio.toml",
    )?)
}

/// The best configurations (at most 10 complete trials, ensembles excluded) of an earlier
/// study: `spec` is a study id in `store`, or the path of another store (its latest study).
fn warm_start_candidates(
    store: &SledStore,
    spec: &str,
    store_path: &std::path::Path,
    task: Task,
) -> Result<Vec<automl_core::Candidate>> {
    let other;
    let (reader, study): (&dyn StoreRead, automl_core::StudyRecord) =
        if let Ok(id) = spec.parse::<u64>() {
            let s = store.study(id)?.with_context(|| {
                format!(
                    "--warm-start {id}: no study {id} in `{}`; `automl studies` lists them",
                    store_path.display()
                )
            })?;
            (store, s)
        } else {
            let path = std::path::Path::new(spec);
            if !path.exists() {
                bail!("--warm-start {spec}: neither a study id nor an existing store directory");
            }
            other = automl_store::open_read_only(path)?;
            let s = other
                .latest_study()?
                .with_context(|| format!("--warm-start {spec}: that store holds no study"))?;
            (other.as_ref(), s)
        };
    if study.task != task {
        bail!(
            "--warm-start {spec}: study {} is a {} task but this data is {}; warm-start from a study of the same task",
            study.study_id,
            study.task,
            task
        );
    }
    let metric =
        Metric::from_name(&study.metric).context("the earlier study's metric is unknown")?;
    let trials = reader.trials(study.study_id)?;
    let rows = automl_engine::leaderboard(&trials, metric);
    Ok(rows
        .into_iter()
        .filter(|r| {
            r.rank.is_some()
                && r.trial.candidate.family != "ensemble"
                && r.trial.candidate.fidelity >= 1.0
        })
        .take(10)
        .map(|r| {
            let mut c = r.trial.candidate;
            c.parents = Vec::new();
            c.operator = "warm_start".into();
            c.fidelity = 1.0;
            c
        })
        .collect())
}

pub fn load_space(spec: &str) -> Result<SearchSpace> {
    let path = std::path::Path::new(spec);
    if path.exists() {
        return Ok(SearchSpace::load(path)?);
    }
    if let Some(s) = SearchSpace::builtin(spec) {
        return Ok(s);
    }
    bail!("--space {spec}: no such file, and not a shipped space (shipped: default, fast)")
}

fn install_ctrl_c(cancel: Arc<AtomicBool>, abort: Arc<AtomicBool>) {
    let presses = AtomicUsize::new(0);
    let _ = ctrlc::set_handler(move || {
        let n = presses.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            cancel.store(true, Ordering::SeqCst);
            eprintln!(
                "\ninterrupted: no new trials; running ones get a few seconds, then the best so far is refit and saved (Ctrl-C again to quit at once)"
            );
        } else {
            abort.store(true, Ordering::SeqCst);
            eprintln!(
                "\nquitting now; the store stays consistent (`automl fit --resume` continues)"
            );
            std::process::exit(130);
        }
    });
}

pub fn run(a: FitArgs) -> Result<()> {
    let started = Instant::now();
    // Validate flags before touching any file or store.
    if let Some(t) = a.time_budget {
        if !t.is_finite() || t <= 0.0 {
            bail!("--time-budget must be a positive number of seconds (got {t})");
        }
    }
    if a.max_trials == Some(0) {
        bail!("--max-trials must be at least 1");
    }
    if a.jobs == Some(0) {
        bail!("--jobs must be at least 1");
    }
    let memory_limit = match &a.memory_limit {
        None => None,
        Some(m) => Some(
            automl_trainer::memory::parse_bytes(m)
                .map_err(|e| anyhow::anyhow!("--memory-limit {m}: {e}"))?,
        ),
    };
    if let Some(t) = a.trial_time_limit {
        if !(t.is_finite() && t > 0.0) {
            bail!("--trial-time-limit must be a positive number of seconds (got {t})");
        }
    }
    if a.folds < 2 {
        bail!("--folds must be at least 2 (got {})", a.folds);
    }
    let metric = match &a.metric {
        None => None,
        Some(m) => Some(Metric::from_name(m).with_context(|| {
            format!(
                "--metric {m}: unknown metric; use one of: {}",
                Metric::ALL
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?),
    };
    let space = load_space(&a.space)?;
    if !automl_search::STRATEGY_NAMES.contains(&a.strategy.as_str()) {
        bail!(
            "--strategy {}: unknown strategy; use one of {}",
            a.strategy,
            automl_search::STRATEGY_NAMES.join(", ")
        );
    }
    let multi_fidelity = match a.multi_fidelity.as_str() {
        "auto" => None,
        "on" => Some(true),
        "off" => Some(false),
        other => bail!("--multi-fidelity {other}: use auto, on or off"),
    };
    let task = a.task.map(|t| match t {
        TaskArg::Binary => Task::Binary,
        TaskArg::Multiclass => Task::Multiclass,
        TaskArg::Regression => Task::Regression,
    });
    let opts = ReadOptions {
        target: a.target.clone(),
        task,
        ..ReadOptions::default()
    };
    let data = load_training(&a.train, &opts)?;
    if let Some(m) = metric {
        automl_engine::study::resolve_metric(Some(m), data.task)?;
    }
    if !a.quiet {
        eprintln!("{}", data.report);
    }
    let store = open_writable(&a.store.store)?;
    let warm_start = match &a.warm_start {
        None => Vec::new(),
        Some(spec) => warm_start_candidates(&store, spec, &a.store.store, data.task)?,
    };
    let train_rows = automl_trainer::CvConfig {
        folds: a.folds,
        ..Default::default()
    }
    .train_rows(data.y.len());
    let opts = automl_search::StrategyOptions {
        multi_fidelity: multi_fidelity.unwrap_or(train_rows >= 3000),
        min_fidelity: automl_search::min_fidelity_for_rows(train_rows, 1000).max(1.0 / 9.0),
        eta: 3.0,
        portfolio: automl_search::portfolio_for(&builtin_portfolio()?, data.task),
        warm_start,
    };
    let strategy = automl_search::by_name_with(&a.strategy, a.seed, &opts)
        .with_context(|| format!("--strategy {}: unknown strategy", a.strategy))?;
    let budget = Budget {
        time_s: a.time_budget.or(if a.max_trials.is_some() {
            None
        } else {
            Some(60.0)
        }),
        max_trials: a.max_trials,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    install_ctrl_c(cancel.clone(), abort.clone());
    let name = a.name.clone().unwrap_or_else(|| {
        // `data/titanic/train.csv` -> `titanic/train`: a bare `train` says little.
        let stem = a
            .train
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "study".into());
        let parent = a.train.canonicalize().ok().and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|d| d.to_string_lossy().into_owned())
        });
        match parent {
            Some(dir)
                if ["train", "training", "data", "dataset", "test"].contains(&stem.as_str()) =>
            {
                format!("{dir}/{stem}")
            }
            _ => stem,
        }
    });
    let config = StudyConfig {
        name,
        metric,
        budget,
        seed: a.seed,
        jobs: a.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        cv: automl_trainer::CvConfig {
            folds: a.folds,
            ..Default::default()
        },
        keep_models: a.keep_models,
        started,
        cancel,
        abort,
        ensemble: !a.no_ensemble,
        memory_limit,
        trial_time_limit: a.trial_time_limit,
    };
    let jobs = config.jobs;
    let study = if a.resume {
        let id = match a.study {
            Some(id) => id,
            None => store.latest_study()?.map(|s| s.study_id).context(
                "--resume: the store holds no study to resume; run `automl fit` without --resume",
            )?,
        };
        Study::resume(&store, id, data, space, strategy, config)?
    } else {
        Study::create(&store, data, space, strategy, config)?
    };
    let metric = study.metric();
    if !a.quiet {
        eprintln!(
            "study {} in {} | metric {} ({}) | families: {} | {} jobs | budget {}",
            study.id(),
            a.store.store.display(),
            metric,
            if metric.higher_is_better() {
                "higher is better"
            } else {
                "lower is better"
            },
            study
                .families()
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            jobs,
            match (budget.time_s, budget.max_trials) {
                (Some(t), Some(m)) => format!("{t} s or {m} trials"),
                (Some(t), None) => format!("{t} s"),
                (None, Some(m)) => format!("{m} trials"),
                (None, None) => "none".into(),
            }
        );
    }
    let tty = std::io::stderr().is_terminal();
    let bar = (!a.quiet && tty).then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").unwrap());
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let quiet = a.quiet;
    let mut on_progress = |p: &Progress| {
        let best = p
            .best
            .as_ref()
            .map(|(s, f)| format!("best {} {}", fmt_score(*s), f))
            .unwrap_or_else(|| "no score yet".into());
        let left = p
            .time_left_s
            .map(|t| format!(" | {} left", fmt_secs(t)))
            .unwrap_or_default();
        let line = format!(
            "{} trials ({} failed) | {}{} | {}",
            p.done, p.failed, best, left, p.phase
        );
        if let Some(b) = &bar {
            b.set_message(line);
        } else if !quiet {
            match &p.last {
                Some(t) => eprintln!(
                    "[{:>6.1}s] trial {:>3} {:<14} {:<10} {} | {}",
                    started.elapsed().as_secs_f64(),
                    t.trial_id,
                    t.candidate.family,
                    t.state.as_str(),
                    if t.is_scored() {
                        fmt_score(t.mean)
                    } else {
                        t.error.clone().unwrap_or_default()
                    },
                    line
                ),
                None => eprintln!("[{:>6.1}s] {line}", started.elapsed().as_secs_f64()),
            }
        }
    };
    let summary = study.run(&mut on_progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let s = &summary;
    println!(
        "study {} `{}` ({}, {} rows, {})",
        s.study.study_id,
        s.study.name,
        s.study.task,
        s.study.extra.get("rows").map(String::as_str).unwrap_or("?"),
        s.study
            .extra
            .get("validation")
            .map(String::as_str)
            .unwrap_or("")
    );
    match &s.best {
        Some(b) => {
            println!(
                "best: trial {} {} {} = {} ± {} ({})",
                b.trial_id,
                b.candidate.family,
                s.study.metric,
                fmt_score(b.mean),
                fmt_score(b.std),
                crate::output::key_params(b, 6)
            );
        }
        None => println!(
            "best: none — no trial completed; see `automl leaderboard --store {}` for the errors",
            a.store.store.display()
        ),
    }
    println!(
        "trials: {} ({} complete, {} failed or stopped){} | wall time {}",
        s.trials,
        s.complete,
        s.failed,
        if s.cancelled {
            " | stopped by Ctrl-C"
        } else {
            ""
        },
        fmt_secs(s.wall_s)
    );
    println!(
        "model: {} | store: {}",
        s.final_model,
        a.store.store.display()
    );
    if s.best.is_some() {
        println!(
            "next: automl leaderboard --store {0} | automl predict --store {0} NEW.csv --output preds.csv",
            a.store.store.display()
        );
    } else {
        bail!(
            "no trial completed within the budget; try a larger --time-budget or the `fast` space"
        );
    }
    Ok(())
}
