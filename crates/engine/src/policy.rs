//! The search policy's free functions, shared by [`crate::StudyBuilder`] and the CLI: metric
//! and budget validation, memory-limit parsing, shipped spaces and portfolio, opening a sled
//! store for writing (retrying a reader's brief lock), warm-start candidates from an earlier
//! study, and the default study name.

use crate::error::{EngineError, Setting};
use crate::leaderboard::leaderboard;
use automl_core::{Budget, Candidate, Metric, StudyRecord, Task, is_meta_family};
use automl_search::{PortfolioConfig, load_portfolio};
use automl_space::SearchSpace;
use automl_store::{SledStore, StoreError, StoreRead};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::builder::{LOCKED_RETRY, PORTFOLIO_TOML, WARM_START_TOP};

pub(crate) fn invalid(setting: Setting, value: impl ToString, expected: &str) -> EngineError {
    EngineError::InvalidSetting {
        setting,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// The metric to use: the given one (which must apply to the task) or the task's default.
pub fn resolve_metric(metric: Option<Metric>, task: Task) -> Result<Metric, EngineError> {
    match metric {
        None => Ok(Metric::default_for(task)),
        Some(m) if m.applies_to(task) => Ok(m),
        Some(m) => Err(EngineError::MetricNotForTask {
            metric: m,
            task,
            allowed: Metric::for_task(task).to_vec(),
        }),
    }
}

/// Check a budget: a time budget must be a positive number of seconds, a trial budget at
/// least 1 (a budget with neither limit is valid: the study runs until cancelled).
pub fn validate_budget(b: &Budget) -> Result<(), EngineError> {
    if let Some(t) = b.time_s {
        if !t.is_finite() || t <= 0.0 {
            return Err(invalid(
                Setting::TimeBudget,
                t,
                "a positive number of seconds",
            ));
        }
    }
    if b.max_trials == Some(0) {
        return Err(invalid(Setting::MaxTrials, 0, "at least 1"));
    }
    Ok(())
}

/// A memory size such as `4GB`, `512M` or `1073741824` (bytes), as a per-trial memory limit.
pub fn parse_memory_limit(text: &str) -> Result<u64, EngineError> {
    automl_trainer::memory::parse_bytes(text).map_err(|_| {
        invalid(
            Setting::MemoryLimit,
            text,
            "a size such as 8G, 512MB or 1073741824",
        )
    })
}

/// A search space: the TOML file at `spec` if it exists, else the shipped space of that name
/// (`default`, `fast`).
pub fn load_space(spec: &str) -> Result<SearchSpace, EngineError> {
    let path = Path::new(spec);
    if path.exists() {
        return Ok(SearchSpace::load(path)?);
    }
    SearchSpace::builtin(spec).ok_or_else(|| EngineError::UnknownSpace {
        spec: spec.to_string(),
    })
}

/// The zero-shot portfolio shipped in `search-spaces/portfolio.toml`, tried first by `auto`.
pub fn shipped_portfolio() -> Result<Vec<PortfolioConfig>, EngineError> {
    Ok(load_portfolio(
        PORTFOLIO_TOML,
        "search-spaces/portfolio.toml",
    )?)
}

/// Open (or create) a sled store for writing. A reader (e.g. the dashboard) holds the database
/// for a few milliseconds per request, so a `Locked` answer is retried for [`LOCKED_RETRY`].
pub fn open_store(path: &Path) -> Result<SledStore, EngineError> {
    let t0 = Instant::now();
    loop {
        match SledStore::open(path) {
            Err(StoreError::Locked { .. }) if t0.elapsed() < LOCKED_RETRY => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return Ok(other?),
        }
    }
}

/// The best configurations of an earlier `study` held by `reader`, to propose first in a new
/// study of `task`: at most [`WARM_START_TOP`] complete, full-fidelity trials, best first
/// (meta-trials such as ensembles excluded), with operator `warm_start` and no parents.
pub fn warm_start_candidates(
    reader: &dyn StoreRead,
    study: &StudyRecord,
    task: Task,
) -> Result<Vec<Candidate>, EngineError> {
    if study.task != task {
        return Err(EngineError::WarmStartTask {
            study_id: study.study_id,
            study_task: study.task,
            task,
        });
    }
    let metric = Metric::from_name(&study.metric).ok_or_else(|| EngineError::UnknownMetric {
        name: study.metric.clone(),
    })?;
    let trials = reader.trials(study.study_id)?;
    Ok(leaderboard(&trials, metric)
        .into_iter()
        .filter(|r| {
            r.rank.is_some()
                && !is_meta_family(&r.trial.candidate.family)
                && r.trial.candidate.fidelity >= 1.0
        })
        .take(WARM_START_TOP)
        .map(|r| {
            let mut c = r.trial.candidate;
            c.parents = Vec::new();
            c.operator = "warm_start".into();
            c.fidelity = 1.0;
            c
        })
        .collect())
}

/// [`warm_start_candidates`] from `spec`: a study id in `store`, or the path of another store
/// (its latest study, opened read-only).
pub fn warm_start_from(
    store: &dyn StoreRead,
    spec: &str,
    task: Task,
) -> Result<Vec<Candidate>, EngineError> {
    if let Ok(id) = spec.parse::<u64>() {
        let study = store
            .study(id)?
            .ok_or(EngineError::StudyNotFound { study_id: id })?;
        return warm_start_candidates(store, &study, task);
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(EngineError::WarmStartSource {
            spec: spec.to_string(),
        });
    }
    let other = automl_store::open_read_only(path)?;
    let study = other.latest_study()?.ok_or(EngineError::NoStudy)?;
    warm_start_candidates(other.as_ref(), &study, task)
}

/// A study name from the data file's path: its stem, with the directory in front when the
/// stem says little (`data/titanic/train.csv` -> `titanic/train`).
pub fn default_study_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "study".into());
    let parent = path.canonicalize().ok().and_then(|p| {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().into_owned())
    });
    match parent {
        Some(dir) if ["train", "training", "data", "dataset", "test"].contains(&stem.as_str()) => {
            format!("{dir}/{stem}")
        }
        _ => stem,
    }
}
