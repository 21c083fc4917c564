//! `automl fit`: map the flags to an `automl_engine::StudyBuilder` (which validates them and
//! applies the search policy), report on the data, print progress and the summary.

use crate::args::{FitArgs, MultiFidelityArg, TaskArg};
use crate::output::{Doc, OutputFormat, fmt_bytes, fmt_score, fmt_secs, num, plural, print_json};
use anyhow::{Context, Result, anyhow, bail};
use automl_engine::{
    EngineError, KeepModels, Metric, MultiFidelity, Progress, ReadOptions, Setting, StudyBuilder,
    StudySummary, Task,
};
use automl_store::StoreLocation;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// An engine error about a setting, told as the flag it came from.
fn flag_error(e: EngineError) -> anyhow::Error {
    match &e {
        EngineError::InvalidSetting {
            setting,
            value,
            expected,
        } => {
            let flag = match setting {
                Setting::TimeBudget => "--time-budget",
                Setting::MaxTrials => "--max-trials",
                Setting::Jobs => "--jobs",
                Setting::Folds => "--folds",
                Setting::CvRepeats => "--cv-repeats",
                Setting::TrialTimeLimit => "--trial-time-limit",
                Setting::MemoryLimit => "--memory-limit",
                Setting::KeepModels => "--keep-models",
                Setting::Parallelism => "--parallelism",
            };
            anyhow!("{flag} must be {expected} (got {value})")
        }
        EngineError::UnknownMetric { name } => anyhow!("--metric {name}: {e}"),
        EngineError::MetricNotForTask {
            metric,
            task,
            allowed,
        } => anyhow!(
            "--metric {metric} does not apply to a {task} task; use one of: {}",
            allowed
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        EngineError::UnknownStrategy { name } => anyhow!("--strategy {name}: {e}"),
        EngineError::UnknownSpace { spec } => anyhow!("--space {spec}: {e}"),
        EngineError::Split {
            role,
            column,
            source,
        } => anyhow!(
            "--{role}-col {column}: {source}{}",
            match source {
                automl_engine::SplitError::GapTooLarge { .. } => "; use a smaller --gap",
                automl_engine::SplitError::TooFewGroups { .. }
                | automl_engine::SplitError::TooFewTimes { .. } => "; use fewer --folds",
                _ => "",
            }
        ),
        EngineError::Data(automl_engine::DataError::SplitColumn { role, column, .. }) => {
            anyhow!("--{role}-col {column}: {e}")
        }
        EngineError::Data(automl_engine::DataError::KeepColumn { column, .. }) => {
            anyhow!("--keep-col {column}: {e}")
        }
        _ => e.into(),
    }
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
    let cancel = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    let opts = ReadOptions {
        target: a.target.clone(),
        task: a.task.map(|t| match t {
            TaskArg::Binary => Task::Binary,
            TaskArg::Multiclass => Task::Multiclass,
            TaskArg::Regression => Task::Regression,
        }),
        group_col: a.group_col.clone(),
        time_col: a.time_col.clone(),
        gap: a.gap.unwrap_or(0),
        keep_cols: a.keep_col.clone(),
        ..ReadOptions::default()
    };
    if a.gap.is_some() && a.time_col.is_none() {
        bail!("--gap needs --time-col (it is the number of rows left out before each time block)");
    }
    if a.select == crate::args::SelectArg::Stable && a.seed_variance == 0 {
        bail!("--select stable needs the seed variance: drop --seed-variance 0");
    }
    if let (Some(_), Some(_)) = (&a.group_col, &a.time_col) {
        bail!(
            "--group-col and --time-col cannot be combined: choose grouped folds or forward-chaining folds"
        );
    }
    let mut builder = StudyBuilder::from_csv_with(&a.train, opts)
        .started(started)
        .seed(a.seed)
        .folds(a.folds)
        .cv_repeats(a.cv_repeats)
        .strategy(&a.strategy)
        .multi_fidelity(match a.multi_fidelity {
            MultiFidelityArg::Auto => MultiFidelity::Auto,
            MultiFidelityArg::On => MultiFidelity::On,
            MultiFidelityArg::Off => MultiFidelity::Off,
        })
        .keep_models(a.keep_models)
        .ensemble(!a.no_ensemble)
        .stacking(!a.no_stacking)
        .profile_sample(!a.no_profile_sample)
        .seed_variance(a.seed_variance)
        .select(match a.select {
            crate::args::SelectArg::Best => automl_engine::Select::Best,
            crate::args::SelectArg::Stable => automl_engine::Select::Stable,
        })
        .calibration(
            automl_engine::PostConfig::parse_calibration(&a.calibration)
                .map_err(|e| anyhow::anyhow!("--calibration: {e}"))?,
        )
        .threshold(
            automl_engine::PostConfig::parse_threshold(&a.threshold)
                .map_err(|e| anyhow::anyhow!("--threshold: {e}"))?,
        )
        .cancel_flag(cancel.clone())
        .abort_flag(abort.clone());
    if let Some(t) = a.time_budget {
        builder = builder.time_budget(t);
    }
    if let Some(n) = a.max_trials {
        builder = builder.max_trials(n);
    }
    if let Some(j) = a.jobs {
        builder = builder.jobs(j);
    }
    if let Some(t) = a.trial_time_limit {
        builder = builder.trial_time_limit(t);
    }
    if let Some(n) = &a.name {
        builder = builder.name(n);
    }
    if let Some(w) = a.parallelism {
        builder = builder.parallelism(w);
    }
    if a.remote_workers {
        if let StoreLocation::Dir(dir) = &a.store.store {
            bail!(
                "--remote-workers needs a store that several processes share: `{}` is an embedded (sled) store, which one process at a time can open; pass --store postgres://USER@HOST/DB (see docs/distributed.md)",
                dir.display()
            );
        }
        builder = builder.remote_workers(true);
    }
    if let Some(m) = &a.memory_limit {
        builder = builder.memory_limit(automl_engine::parse_memory_limit(m).map_err(flag_error)?);
    }
    if let Some(m) = &a.max_memory {
        let bytes = automl_engine::parse_memory_limit(m)
            .map_err(flag_error)
            .map_err(|e| {
                anyhow!(
                    "{}",
                    e.to_string().replace("--memory-limit", "--max-memory")
                )
            })?;
        builder = builder.max_memory(bytes);
    }
    if let Some(m) = &a.metric {
        builder = builder.metric_name(m).map_err(flag_error)?;
    }
    builder = builder.space_named(&a.space).map_err(flag_error)?;
    if let Some(spec) = &a.portfolio {
        builder = builder.portfolio(read_portfolio(spec, &a.strategy)?);
    }
    // Validate the flags before reading the data, and everything before touching the store.
    builder.check().map_err(flag_error)?;
    let data = builder.load().map_err(flag_error)?;
    let task = data.task;
    let rows = data.y.len();
    if !a.quiet {
        eprintln!("{}", data.report);
    }
    if let (Some(flag), Err(need)) = (&a.max_memory, builder.check_max_memory()) {
        bail!(
            "--max-memory {flag}: these {rows} rows need about {} to search (the loaded data, \
             its folds, bins and out-of-fold predictions); give --max-memory at least that, or \
             fit on a sample of the rows",
            automl_trainer::memory::format_bytes(need)
        );
    }
    let store = crate::store_arg::open_writable(&a.store.store)?;
    let store = store.as_ref();
    if let Some(spec) = &a.warm_start {
        let candidates =
            automl_engine::warm_start_from(store, spec, task).map_err(|e| match e {
                EngineError::StudyNotFound { study_id } => anyhow!(
                    "--warm-start {spec}: no study {study_id} in `{}`; `automl studies` lists them",
                    a.store.store
                ),
                EngineError::NoStudy => anyhow!("--warm-start {spec}: that store holds no study"),
                e => anyhow!("--warm-start {spec}: {e}"),
            })?;
        builder = builder.warm_start(candidates);
    }
    install_ctrl_c(cancel, abort);
    let budget = builder.effective_budget();
    let jobs = builder.effective_jobs();
    let keep = builder.kept_models();
    let study = if a.resume {
        builder.resume(store, a.study).map_err(|e| match e {
            EngineError::NoStudy => anyhow!(
                "--resume: the store holds no study to resume; run `automl fit` without --resume"
            ),
            EngineError::StudyNotFound { study_id } => anyhow!(
                "--study {study_id}: no study {study_id} in `{}`; `automl studies` lists them",
                a.store.store
            ),
            e => flag_error(e),
        })?
    } else {
        builder.create(store).map_err(flag_error)?
    };
    let metric = study.metric();
    if !a.quiet {
        eprintln!(
            "study {} in {} | metric {} ({}) | families: {} | {} | budget {}",
            study.id(),
            a.store.store,
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
            match (a.remote_workers, a.jobs) {
                (false, _) => format!("{jobs} jobs"),
                (true, None) => format!(
                    "coordinator: waiting for `automl worker --store {} --study {}`",
                    a.store.store,
                    study.id()
                ),
                (true, Some(n)) => format!(
                    "coordinator with {n} local lane{}, and `automl worker --store {} --study {}`",
                    if n == 1 { "" } else { "s" },
                    a.store.store,
                    study.id()
                ),
            },
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
        // `phase` only through Display: a String today, a typed phase tomorrow.
        let phase = p.phase.to_string();
        let line = format!(
            "{} trials ({} failed) | {}{} | {}",
            p.done, p.failed, best, left, phase
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
                        match t.candidate.folds {
                            Some(k) => format!("{} (on {k} fold{})", fmt_score(t.mean), plural(k)),
                            None => fmt_score(t.mean),
                        }
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
    let kept = match keep {
        KeepModels::All => "fold models kept for every trial".to_string(),
        KeepModels::Best(1) => "fold models kept for the best trial".to_string(),
        KeepModels::Best(n) => format!("fold models kept for the best {n} trials"),
    };
    // Written through first, so that the size is what stays on disk.
    store.flush()?;
    let disk = store.disk_size();
    if a.format == OutputFormat::Json {
        print_json(Doc::Fit, summary_json(&summary, &a.store.store, disk))?;
    } else {
        print_summary(&summary, &a.store.store, disk, &kept);
    }
    if summary.best.is_none() {
        bail!(
            "no trial completed within the budget; try a larger --time-budget or the `fast` space"
        );
    }
    Ok(())
}

/// The end-of-search summary as the `automl.fit/1` document (docs/json.md).
fn summary_json(s: &StudySummary, store: &StoreLocation, disk: Option<u64>) -> Value {
    let fin = s.best.as_ref().map(|b| {
        json!({
            "trial_id": b.trial_id,
            "family": b.candidate.family,
            "mean": num(b.mean),
            "std": num(b.std),
            "interval": automl_engine::evaluate::cv_interval(
                b,
                s.study.validation.as_ref().map_or(1, |v| v.repeats()),
            )
            .map(num),
            "folds": b.fold_scores.len(),
            "params": serde_json::to_value(&b.candidate.params).unwrap_or(Value::Null),
        })
    });
    json!({
        "study_id": s.study.study_id,
        "name": s.study.name,
        "task": s.study.task.to_string(),
        "rows": s.study.rows(),
        "validation": s.study.validation_text(),
        "metric": s.study.metric,
        "higher_is_better": Metric::from_name(&s.study.metric).map(|m| m.higher_is_better()),
        "trials": s.trials,
        "complete": s.complete,
        "failed": s.failed,
        "cancelled": s.cancelled,
        "final": fin,
        "final_model": s.final_model,
        "selection": s.selection,
        "stacking": s.study.stacking.as_ref().map(|d| json!({
            "used": d.used,
            "trial_id": d.trial_id,
            "members": d.members,
            "meta_learner": d.meta_learner,
            "cv_score": d.cv_score.map(num),
            "ensemble_cv": d.ensemble_cv.map(num),
            "single_selection_cv": d.single_selection_cv.map(num),
            "reason": d.reason,
        })),
        "post_processing": s.post_processing.as_ref().map(|d| json!({
            "method": d.chosen.method.name(),
            "threshold": d.chosen.threshold,
            "metric": d.metric,
            "before": num(d.before),
            "after": num(d.after),
            "reason": d.reason,
        })),
        "seed_variance_s": s.seed_variance_s,
        "end_of_study": s.study.extra.get("end_of_study_plan"),
        "peak_rss_bytes": s.study.extra.get("peak_rss_bytes").and_then(|v| v.parse::<u64>().ok()),
        "store": store.to_string(),
        "store_bytes": disk,
        "wall_s": s.wall_s,
    })
}

/// The end-of-search summary as text.
fn print_summary(s: &StudySummary, store: &StoreLocation, disk: Option<u64>, kept: &str) {
    println!(
        "study {} `{}` ({}, {} rows, {})",
        s.study.study_id,
        s.study.name,
        s.study.task,
        s.study
            .rows()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "?".into()),
        s.study.validation_text().unwrap_or_default()
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
            "best: none — no trial completed; see `automl leaderboard --store {store}` for the errors"
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
    println!("model: {}", s.final_model);
    // The reserve's plan when it is news: no refit, or the stacking's projected selection
    // (reserved for or not).
    if let Some(plan) = s
        .study
        .extra
        .get("end_of_study_plan")
        .filter(|p| p.starts_with("no refit") || p.contains("the stacking's"))
    {
        println!("end of study: {plan}");
    }
    if let Some(d) = &s.study.stacking {
        println!(
            "stacking: {}{}",
            d.trial_id
                .map(|t| format!("trial {t}, "))
                .unwrap_or_default(),
            d.reason
        );
    }
    if let (Some(secs), Some(text)) = (s.seed_variance_s, s.study.extra.get("seed_variance")) {
        println!(
            "seed variance: {text} in {}{}",
            fmt_secs(secs),
            s.study
                .budget
                .time_s
                .filter(|t| *t > 0.0)
                .map(|t| format!(" ({:.1} % of the budget)", 100.0 * secs / t))
                .unwrap_or_default()
        );
    }
    if let Some(why) = &s.selection {
        println!("selected: {why}");
    }
    if let Some(d) = &s.post_processing {
        println!(
            "post-processing: {}",
            automl_engine::study::postprocess::describe(d)
        );
    }
    println!(
        "store: {store} ({}{kept})",
        disk.map(|b| format!("{}, ", fmt_bytes(b)))
            .unwrap_or_default()
    );
    if s.best.is_some() {
        println!(
            "next: automl leaderboard --store {store} | automl predict --store {store} NEW.csv --output preds.csv"
        );
    }
}

/// The configurations of `--portfolio FILE|none` (for `--strategy auto` only).
fn read_portfolio(spec: &str, strategy: &str) -> Result<Vec<automl_engine::PortfolioConfig>> {
    if strategy != "auto" {
        bail!(
            "--portfolio is used by --strategy auto only (this run uses `{strategy}`); drop one of them"
        );
    }
    if spec == "none" {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(spec)
        .with_context(|| format!("--portfolio {spec}: cannot read the file"))?;
    automl_engine::load_portfolio(&text, spec).map_err(|e| anyhow!("--portfolio {spec}: {e}"))
}
