//! A study: the search session (scheduler + executor + strategy), the meta-trials built from
//! its results (the ensemble), the final model, retention and the summary.
//!
//! `Study::run` is the page of orchestration; the parts live beside it:
//! [`scheduler`] (asking window, in-flight trials, deadlines, in-order telling),
//! [`executor`] (where evaluations run), `search` (the study side of the scheduler: asking the
//! strategy, recording results), `ensemble_trial` (ensemble selection stored as a trial),
//! `stacking_trial` (the second-layer model stored as a trial) and `final_model` (the refit on
//! all rows).

mod ensemble_trial;
pub mod executor;
mod final_model;
pub mod postprocess;
mod reference;
pub mod remote;
mod reserve;
pub mod scheduler;
mod search;
pub mod seeds;
mod stacking_trial;

pub use executor::{Executor, Job, MakeExecutor, ThreadExecutor, thread_executor};
pub use remote::{DEFAULT_MAX_ATTEMPTS, RemoteConfig, RemoteExecutor};
pub use scheduler::{ASK_WINDOW, CANCEL_GRACE, DEFAULT_PARALLELISM, TRIAL_GRACE};
pub use seeds::{SeedVarianceConfig, Select, seed_variance_of};

use crate::builder::{resolve_metric, validate_budget};
use crate::error::{EngineError, Setting};
use crate::wire::{TrainingDataSpec, training_data_key};
use crate::worker::{WorkerConfig, run_worker_with};
use automl_core::trial::SchemaColumn;
use automl_core::{
    Budget, Metric, Rng, SCHEMA_VERSION, StudyRecord, Task, TrialRecord, TrialState, is_meta_family,
};
use automl_data::Dataset;
use automl_models::registry;
use automl_search::{AskContext, FamilyInfo, Strategy};
use automl_space::SearchSpace;
use automl_store::{INTERRUPTED_ERROR, Store};
use automl_trainer::{CvConfig, PredictorInfo, TrainingData};
use scheduler::{Scheduler, SchedulerConfig};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Name of the blob that holds a study's final model.
pub const FINAL_MODEL_BLOB: &str = "final_model";

/// Name of the blob that holds the final model's reference profile of its training data
/// (JSON, [`automl_monitor::profile::ReferenceProfile`]), written with the final model.
pub const REFERENCE_PROFILE_BLOB: &str = "reference-profile";

/// How many of the best trials keep their out-of-fold predictions for ensemble selection.
pub const OOF_KEEP: usize = 20;

/// Settings of a study (everything but the data, space, strategy and store).
#[derive(Clone)]
pub struct StudyConfig {
    /// Study name (shown in `automl studies`).
    pub name: String,
    /// Metric to optimise (None: the task's default).
    pub metric: Option<Metric>,
    /// Time and trial limits.
    pub budget: Budget,
    /// Study seed (splits, strategy, trial seeds).
    pub seed: u64,
    /// Trials evaluated at once on this machine (and the final refit's lanes).
    pub jobs: usize,
    /// The study's parallelism W: trials in flight at once, the asking window (at least 1;
    /// default [`DEFAULT_PARALLELISM`]). Stored on the study; a resumed study keeps its own. The
    /// same W gives the same leaderboard with any `jobs` and any number of remote workers.
    pub parallelism: usize,
    /// Evaluate trials by remote workers through the store's trial queue (None: on threads of
    /// this process). Needs a store with a queue ([`EngineError::NoQueue`]).
    pub remote: Option<RemoteConfig>,
    /// Validation scheme.
    pub cv: CvConfig,
    /// Keep fitted fold models only for the best N trials (None = all). Every trial's record
    /// is always kept, and so are the models the ensemble and the final model use.
    pub keep_models: Option<u64>,
    /// When the budget clock started (e.g. process start, so loading counts).
    pub started: Instant,
    /// Set to stop asking for new trials (Ctrl-C); the best so far is refitted and saved.
    pub cancel: Arc<AtomicBool>,
    /// Set to abandon running trials at once (second Ctrl-C).
    pub abort: Arc<AtomicBool>,
    /// Select a Caruana ensemble of the best trials at the end (used when its cross-validated
    /// selection beats picking one trial the same way).
    pub ensemble: bool,
    /// Fit a stacking (a second-layer model on the best diverse trials' out-of-fold
    /// predictions) beside the ensemble; it is the final model when its nested cross-validated
    /// score beats the ensemble's and picking one trial's. Needs `ensemble`.
    pub stacking: bool,
    /// Per-trial memory limit in bytes: a candidate whose estimated need exceeds it fails
    /// before it is fitted. None = the study's stored limit, or for a new study
    /// [`automl_trainer::default_memory_limit`] (half the RAM, whatever `jobs` is). Stored on
    /// the study.
    pub memory_limit: Option<u64>,
    /// Whole-process memory bound in bytes (`--max-memory`; None: no bound beyond the per-trial
    /// limit). The search admits trials only while this process's resident memory when the
    /// search starts plus the running trials' estimates stay under it, and lowers the row
    /// fidelity of a candidate that would not fit.
    pub max_memory: Option<u64>,
    /// Per-trial time limit in seconds (None: half the time budget, or no limit without one).
    /// A trial gets the earlier of this and the search deadline as its own deadline; one that
    /// is still running [`TRIAL_GRACE`] after it is recorded timed out and abandoned, so a
    /// candidate that never returns cannot hold up the search.
    pub trial_time_limit: Option<f64>,
    /// Keep a seeded sample of up to 10 000 training rows in the final model's reference
    /// profile (for the drift tests and the domain classifier; default on). Off: the drift
    /// check uses the quantile sketches and level counts only.
    pub profile_sample: bool,
    /// The seed-variance step after the search (the best `top` trials with other model seeds
    /// and reshuffled folds; `top` 0 turns it off) and how the final model's trial is chosen.
    pub seed_variance: SeedVarianceConfig,
    /// The final model's post-processing (calibration, decision threshold), chosen by
    /// nested cross-validation on its out-of-fold predictions (see [`postprocess`]).
    pub post: automl_trainer::calibrate::PostConfig,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            name: "study".into(),
            metric: None,
            budget: Budget {
                time_s: Some(60.0),
                max_trials: None,
            },
            seed: 0,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            parallelism: DEFAULT_PARALLELISM,
            remote: None,
            cv: CvConfig::default(),
            keep_models: None,
            started: Instant::now(),
            cancel: Arc::new(AtomicBool::new(false)),
            abort: Arc::new(AtomicBool::new(false)),
            ensemble: true,
            stacking: true,
            memory_limit: None,
            max_memory: None,
            trial_time_limit: None,
            profile_sample: true,
            seed_variance: SeedVarianceConfig::default(),
            post: automl_trainer::calibrate::PostConfig::default(),
        }
    }
}

/// What the engine is doing (sent with every [`Progress`] event).
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Asking, evaluating and recording trials.
    Searching,
    /// Ensemble selection finished: an ensemble of `members` trials was stored (`used`: it
    /// becomes the final model).
    Ensemble {
        /// Members of the selected ensemble.
        members: usize,
        /// Whether it beat picking one trial and becomes the final model.
        used: bool,
    },
    /// Stacking finished: a stacking of `members` trials was stored (`used`: it becomes the
    /// final model).
    Stacking {
        /// Members of the stacking.
        members: usize,
        /// Whether it beat the ensemble and picking one trial and becomes the final model.
        used: bool,
    },
    /// Refitting the final model on all rows.
    Refitting {
        /// The trial being refit (an ensemble trial: its members).
        trial_id: u64,
        /// Its family.
        family: String,
    },
    /// The study is finished and saved.
    Done,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Searching => write!(f, "searching"),
            Phase::Ensemble {
                members,
                used: true,
            } => write!(f, "ensemble of {members} trials"),
            Phase::Ensemble {
                members,
                used: false,
            } => write!(f, "ensemble of {members} trials (not used)"),
            Phase::Stacking {
                members,
                used: true,
            } => write!(f, "stacking of {members} trials"),
            Phase::Stacking {
                members,
                used: false,
            } => write!(f, "stacking of {members} trials (not used)"),
            Phase::Refitting { trial_id, family } => {
                write!(f, "refitting trial {trial_id} ({family}) on all rows")
            }
            Phase::Done => write!(f, "done"),
        }
    }
}

/// A progress event, sent after every finished trial and at phase changes.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Trials finished (any state) in this study, meta-trials included.
    pub done: usize,
    /// Of which failed, timed out or interrupted.
    pub failed: usize,
    /// Trials currently running.
    pub running: usize,
    /// Best score so far and its family.
    pub best: Option<(f64, String)>,
    /// Seconds left of the time budget (None without a time budget).
    pub time_left_s: Option<f64>,
    /// What the engine is doing.
    pub phase: Phase,
    /// The trial that just finished, if any.
    pub last: Option<TrialRecord>,
}

/// What a finished study reports.
#[derive(Debug, Clone)]
pub struct StudySummary {
    /// The study record as stored.
    pub study: StudyRecord,
    /// The trial behind the final model (an ensemble or stacking trial when one is used).
    pub best: Option<TrialRecord>,
    /// Trials run in this session (all states).
    pub trials: usize,
    /// Complete searched trials of the study (meta-trials excluded).
    pub complete: usize,
    /// Of this session's trials, failed / timed out / interrupted.
    pub failed: usize,
    /// Wall seconds since `config.started`.
    pub wall_s: f64,
    /// How the final model was made, in a line.
    pub final_model: String,
    /// Whether the search was stopped by the user.
    pub cancelled: bool,
    /// Why the final model's trial is not the best one (`Select::Stable`), if so.
    pub selection: Option<String>,
    /// Wall seconds the seed-variance step took (None when it did not run).
    pub seed_variance_s: Option<f64>,
    /// The final model's post-processing and its nested scores (classification).
    pub post_processing: Option<automl_trainer::calibrate::PostDecision>,
}

/// A study over one dataset.
pub struct Study<'a> {
    store: &'a dyn Store,
    data: Dataset,
    space: SearchSpace,
    strategy: Box<dyn Strategy>,
    config: StudyConfig,
    metric: Metric,
    record: StudyRecord,
    /// Trials told to the strategy (earlier sessions' and this one's), in trial-id order;
    /// meta-trials of this session are appended after the search.
    history: Vec<TrialRecord>,
    families: Vec<FamilyInfo>,
    /// Validation folds of the run (set when it starts; a holdout is one fold).
    n_folds: usize,
    /// Trials of an earlier session not yet told to the strategy (resume), in trial-id order:
    /// finished ones, and running ones that remote workers still hold (adopted). This session
    /// opens with them, as if it had asked them first.
    carried: Vec<TrialRecord>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The families of `space` usable for this data: registered, supporting the task, within their
/// row limit; ordered cheapest first. Unknown family names are an error.
pub fn usable_families(
    space: &SearchSpace,
    task: Task,
    train_rows: usize,
) -> Result<Vec<FamilyInfo>, EngineError> {
    let mut out = Vec::new();
    for fam in space.families_for(task) {
        let Some(f) = registry().get(&fam.name) else {
            return Err(EngineError::Config(format!(
                "search space `{}`: unknown model family `{}`; known families: {}",
                space.name,
                fam.name,
                registry()
                    .families()
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !f.tasks().contains(&task) {
            continue;
        }
        if f.max_rows().is_some_and(|m| train_rows > m) {
            continue;
        }
        out.push(FamilyInfo {
            name: fam.name.clone(),
            relative_cost: f.relative_cost(),
        });
    }
    out.sort_by(|a, b| a.relative_cost.total_cmp(&b.relative_cost));
    if out.is_empty() {
        return Err(EngineError::Config(format!(
            "search space `{}` has no model family for the {task} task on {train_rows} rows; add one (see search-spaces/default.toml)",
            space.name
        )));
    }
    Ok(out)
}

/// The grouping of a validation scheme that a resumed study must keep: (scheme, column, gap).
/// A resumed study must model the same feature columns as the trials it already holds: the
/// same data file can yield other features when `--keep-col` differs (a column flagged as an
/// ID or a leak is kept or dropped).
fn check_same_features(
    study_id: u64,
    stored: &[SchemaColumn],
    now: &[SchemaColumn],
) -> Result<(), EngineError> {
    if stored.is_empty() || stored == now {
        return Ok(());
    }
    let names = |s: &[SchemaColumn]| s.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (old, new) = (names(stored), names(now));
    let gone: Vec<&String> = old.iter().filter(|c| !new.contains(c)).collect();
    let added: Vec<&String> = new.iter().filter(|c| !old.contains(c)).collect();
    let what = match (gone.is_empty(), added.is_empty()) {
        (false, false) => format!("its trials use {} and not {}", join(&gone), join(&added)),
        (false, true) => format!("its trials also use {}", join(&gone)),
        (true, false) => format!("its trials do not use {}", join(&added)),
        (true, true) => "the columns' kinds or order differ".to_string(),
    };
    Err(EngineError::Config(format!(
        "cannot resume study {study_id}: {what}; resume with the same --keep-col as the study was started with, or start a new study"
    )))
}

fn join(cols: &[&String]) -> String {
    cols.iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn blocking(v: Option<&automl_core::Validation>) -> Option<(&'static str, &str, usize)> {
    match v? {
        automl_core::Validation::Grouped { column, .. } => Some(("group", column, 0)),
        automl_core::Validation::ForwardChaining { column, gap, .. } => {
            Some(("time", column, *gap))
        }
        automl_core::Validation::KFold { .. } | automl_core::Validation::Holdout { .. } => None,
    }
}

/// The validation a resumed study scores its new trials with: the split its stored trials were
/// scored on (`stored`, recorded when the study was created), not the one this run or build
/// would choose now, so old and new trials share one leaderboard. k-fold: the stored number of
/// folds (a resume's `--folds` does not change it). A holdout: the stored validation share,
/// uncapped when it is not what [`CvConfig::holdout_fraction_for`] gives now (a study stored
/// before [`automl_trainer::cv::HOLDOUT_MAX_ROWS`] held out 20 % of a million rows where a new
/// one holds out 50k); shares equal up to float noise keep `cv`'s own, so a study made by this
/// build resumes on bit-identical folds. A repeated k-fold: the stored number of fold sets (a
/// k-fold stored without one had one). A study stored without its scheme keeps `cv`.
fn resumed_cv(
    mut cv: CvConfig,
    stored: Option<&automl_core::Validation>,
    n_rows: usize,
) -> Result<CvConfig, EngineError> {
    use automl_core::Validation;
    let (folds, fraction) = match stored {
        None => return Ok(cv),
        Some(Validation::KFold { folds, repeats, .. }) => {
            if !(1..=automl_trainer::cv::MAX_REPEATS).contains(repeats) {
                return Err(EngineError::Corrupt {
                    what: "the study's stored validation".into(),
                    reason: format!("{repeats} fold sets"),
                });
            }
            if cv.repeats_for(n_rows) != *repeats {
                cv.repeats = *repeats;
            }
            (Some(*folds), None)
        }
        Some(Validation::Holdout { fraction }) => (None, Some(*fraction)),
        Some(
            Validation::Grouped {
                folds,
                holdout_fraction,
                ..
            }
            | Validation::ForwardChaining {
                folds,
                holdout_fraction,
                ..
            },
        ) => (Some(*folds), *holdout_fraction),
    };
    let corrupt = |reason: String| EngineError::Corrupt {
        what: "the study's stored validation".into(),
        reason,
    };
    if let Some(folds) = folds {
        if folds < 2 {
            return Err(corrupt(format!("{folds} folds")));
        }
        cv.folds = folds;
    }
    match fraction {
        None => cv.holdout_above_rows = cv.holdout_above_rows.max(n_rows),
        Some(stored) => {
            if !(stored > 0.0 && stored < 1.0) {
                return Err(corrupt(format!("holdout fraction {stored}")));
            }
            cv.holdout_above_rows = cv.holdout_above_rows.min(n_rows.saturating_sub(1));
            let now = cv.holdout_fraction_for(n_rows);
            if (stored - now).abs() > 1e-9 * stored.max(now) {
                cv.holdout_fraction = stored;
                cv.holdout_max_rows = usize::MAX;
            }
        }
    }
    Ok(cv)
}

/// Whether the data's groups or time order can make the folds (before a study is stored).
fn check_splits(data: &Dataset, cv: &CvConfig) -> Result<(), EngineError> {
    if data.blocks == automl_data::RowBlocks::Independent {
        return Ok(());
    }
    automl_trainer::splits(&data.y, data.task, data.classes.len(), cv, &data.blocks)
        .map(|_| ())
        .map_err(|e| crate::wire::split_error(&data.blocks, e))
}

impl<'a> Study<'a> {
    /// Create a new study in `store`.
    pub fn create(
        store: &'a dyn Store,
        data: Dataset,
        space: SearchSpace,
        strategy: Box<dyn Strategy>,
        config: StudyConfig,
    ) -> Result<Study<'a>, EngineError> {
        let metric = resolve_metric(config.metric, data.task)?;
        validate_budget(&config.budget)?;
        check_parallelism(config.parallelism)?;
        if config.remote.is_some() && store.queue().is_none() {
            return Err(EngineError::NoQueue);
        }
        let train_rows = config.cv.train_rows(data.y.len());
        let families = usable_families(&space, data.task, train_rows)?;
        check_splits(&data, &config.cv)?;
        let mut record = StudyRecord {
            schema_version: SCHEMA_VERSION,
            study_id: 0,
            name: config.name.clone(),
            data_path: data.path.display().to_string(),
            fingerprint: data.fingerprint.clone(),
            schema: data.features.schema(),
            target: data.target.clone(),
            classes: data.classes.clone(),
            task: data.task,
            metric: metric.name().to_string(),
            space: space.source.clone(),
            strategy: strategy.name().to_string(),
            seed: config.seed,
            budget: config.budget,
            started_at_ms: now_ms(),
            ended_at_ms: 0,
            final_trial: None,
            keep_models: config.keep_models,
            extra: BTreeMap::new(),
            validation: Some(
                config
                    .cv
                    .validation_for(data.y.len(), data.task, &data.blocks),
            ),
            n_rows: Some(data.y.len() as u64),
            data_report: Some(data.report.to_string()),
            memory_limit_bytes: Some(
                config
                    .memory_limit
                    .unwrap_or_else(automl_trainer::default_memory_limit),
            ),
            ensemble: None,
            stacking: None,
            final_model: None,
            parallelism: Some(config.parallelism as u32),
        };
        record.study_id = store.create_study(record.clone())?;
        Ok(Study {
            store,
            data,
            space,
            strategy,
            config,
            metric,
            record,
            history: Vec::new(),
            families,
            n_folds: 1,
            carried: Vec::new(),
        })
    }

    /// Continue an earlier study (`automl fit --resume`): trials left running by a dead
    /// process are marked interrupted, and new trials continue the numbering. The data must
    /// have the same fingerprint. The study keeps its seed, metric and parallelism (a study
    /// stored without one has [`DEFAULT_PARALLELISM`]), and new trials are scored on the split
    /// its stored trials were (the stored folds or holdout share; see `resumed_cv`).
    ///
    /// The strategy is brought to where the earlier session left it by replaying that
    /// session's asks and tells as the scheduler made them: the `k`-th searched trial (in
    /// trial-id order; meta-trials such as ensembles are never told) asked after the trials
    /// `0..k-W` were told. Trials past the last of those tells open the new session as if
    /// asked first and are told in their turn, so a resumed search asks what the uninterrupted
    /// one would have (the same leaderboard, when nothing was interrupted).
    ///
    /// With remote workers ([`StudyConfig::remote`]), trials that live workers hold are not
    /// interrupted: entries whose lease expired are requeued first, and every running trial
    /// is adopted: the new session waits for it first, in trial-id order, before asking
    /// anything new. One whose entry is still open (queued, claimed, or finished and not yet
    /// taken) keeps it; one never queued, or whose result the dead session took without
    /// recording it, is queued anew and evaluated again with its seed. Without remote
    /// workers, every running trial is interrupted and its queue entry (if any) cancelled.
    pub fn resume(
        store: &'a dyn Store,
        study_id: u64,
        data: Dataset,
        space: SearchSpace,
        mut strategy: Box<dyn Strategy>,
        mut config: StudyConfig,
    ) -> Result<Study<'a>, EngineError> {
        let mut record = store
            .study(study_id)?
            .ok_or_else(|| EngineError::NotFound(format!("no study {study_id} in the store")))?;
        if record.fingerprint != data.fingerprint {
            return Err(EngineError::Config(format!(
                "cannot resume study {study_id}: the data file differs from the one it was started with ({}); start a new study instead",
                record.data_path
            )));
        }
        let asked = config
            .cv
            .validation_for(data.y.len(), data.task, &data.blocks);
        let stored = record.validation.as_ref();
        if blocking(stored) != blocking(Some(&asked)) {
            return Err(EngineError::Config(format!(
                "cannot resume study {study_id}: it validates with {}, this run asks for {asked}; resume with the same --group-col / --time-col / --gap, or start a new study",
                stored.map_or_else(|| "random folds".to_string(), |v| v.to_string())
            )));
        }
        config.cv = resumed_cv(config.cv, stored, data.y.len())?;
        check_splits(&data, &config.cv)?;
        check_same_features(study_id, &record.schema, &data.features.schema())?;
        let metric = Metric::from_name(&record.metric).ok_or_else(|| {
            EngineError::Config(format!(
                "study {study_id} uses unknown metric `{}`",
                record.metric
            ))
        })?;
        validate_budget(&config.budget)?;
        if config.remote.is_some() && store.queue().is_none() {
            return Err(EngineError::NoQueue);
        }
        config.parallelism = record
            .parallelism
            .map_or(DEFAULT_PARALLELISM, |w| w as usize);
        check_parallelism(config.parallelism)?;
        record.parallelism = Some(config.parallelism as u32);
        let adopted = recover_running(store, study_id, record.seed, config.remote.as_ref())?;
        let mut searched: Vec<TrialRecord> = store
            .trials(study_id)?
            .into_iter()
            .filter(|t| !is_meta_family(&t.candidate.family))
            .filter_map(|t| {
                if t.state != TrialState::Running {
                    return Some(t);
                }
                adopted.iter().find(|a| a.trial_id == t.trial_id).cloned()
            })
            .collect();
        searched.sort_by_key(|t| t.trial_id);
        config.seed = record.seed;
        let train_rows = config.cv.train_rows(data.y.len());
        let families = usable_families(&space, data.task, train_rows)?;
        // The replay (see above), when the asks can be replayed: under a trial budget alone
        // (a time budget's elapsed fraction came from the clock), each ask seeing what
        // `SearchDriver::ask` showed it. An ask that differs from the stored trial (the
        // earlier session ran otherwise) ends the replay; then, as without one, every finished
        // trial is told now, and only running ones open the session.
        let no_clock = |b: &Budget| b.time_s.is_none_or(|t| t.is_nan() || t <= 0.0);
        let mut replaying = no_clock(&record.budget) && no_clock(&config.budget);
        let window = config.parallelism.max(1);
        let mut history: Vec<TrialRecord> = Vec::new();
        let tell =
            |strategy: &mut Box<dyn Strategy>, history: &mut Vec<TrialRecord>, t: TrialRecord| {
                let ctx = AskContext {
                    space: &space,
                    task: data.task,
                    metric,
                    families: &families,
                    history,
                    elapsed_fraction: 0.0,
                    time_left_s: None,
                };
                strategy.tell(&ctx, &t);
                history.push(t);
            };
        for (k, trial) in searched.iter().enumerate() {
            if !replaying {
                break;
            }
            while history.len() + window <= k
                && searched[history.len()].state != TrialState::Running
            {
                let next = searched[history.len()].clone();
                tell(&mut strategy, &mut history, next);
            }
            let elapsed_fraction = match config.budget.max_trials {
                Some(m) if m > 0 => history.len() as f64 / m as f64,
                _ => 0.0,
            };
            let ctx = AskContext {
                space: &space,
                task: data.task,
                metric,
                families: &families,
                history: &history,
                elapsed_fraction,
                time_left_s: None,
            };
            replaying = strategy.ask(&ctx).is_some_and(|c| {
                c.family == trial.candidate.family && c.params == trial.candidate.params
            });
        }
        let mut carried = searched.split_off(history.len());
        if !replaying {
            let (running, finished): (Vec<_>, Vec<_>) = carried
                .into_iter()
                .partition(|t| t.state == TrialState::Running);
            for t in finished {
                tell(&mut strategy, &mut history, t);
            }
            carried = running;
        }
        record.ended_at_ms = 0;
        record.budget = config.budget;
        if let Some(m) = config.memory_limit {
            record.memory_limit_bytes = Some(m);
        }
        if record.memory_limit_bytes.is_none() {
            record.memory_limit_bytes = Some(automl_trainer::default_memory_limit());
        }
        store.update_study(&record)?;
        Ok(Study {
            store,
            data,
            space,
            strategy,
            config,
            metric,
            record,
            history,
            families,
            n_folds: 1,
            carried,
        })
    }

    /// Trials of an earlier session this session takes over (see [`Study::resume`]).
    pub fn adopted_trials(&self) -> Vec<u64> {
        self.carried
            .iter()
            .filter(|t| t.state == TrialState::Running)
            .map(|t| t.trial_id)
            .collect()
    }

    /// The study's id in the store.
    pub fn id(&self) -> u64 {
        self.record.study_id
    }

    /// The optimised metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The families that will be searched (cheapest first).
    pub fn families(&self) -> &[FamilyInfo] {
        &self.families
    }

    /// Run the search, select an ensemble, make the final model and save it. Trials are
    /// evaluated on threads of this process ([`ThreadExecutor`], `jobs` at once), or with
    /// [`StudyConfig::remote`] by workers through the store's trial queue
    /// ([`RemoteExecutor`]; the training data is stored once for them, and the study's own
    /// `local_lanes` run the same worker loop on threads of this process). `progress` is
    /// called after every trial and at every phase change.
    pub fn run(self, progress: &mut dyn FnMut(&Progress)) -> Result<StudySummary, EngineError> {
        if self.config.remote.is_some() {
            return self.run_remote(progress);
        }
        self.run_with(thread_executor(), progress)
    }

    /// [`Study::run`] with trials evaluated by the executor `make_executor` builds from the
    /// study's shared training data and `jobs`.
    pub fn run_with(
        self,
        make_executor: MakeExecutor<'_>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<StudySummary, EngineError> {
        let data = Arc::new(self.training_data_spec().build()?);
        let mut budget = automl_trainer::default_memory_limit();
        if let Some(max) = self.config.max_memory {
            // What the running trials may use together: the bound less what this process
            // holds now (the data, its folds and bins, the store).
            let held = automl_trainer::process_rss().unwrap_or(0);
            budget = budget.min(max.saturating_sub(held).max(1));
        }
        self.run_on(data, make_executor, budget, progress)
    }

    /// What workers need to rebuild this run's training data exactly.
    fn training_data_spec(&self) -> TrainingDataSpec {
        TrainingDataSpec {
            features: self.data.features.clone(),
            y: self.data.y.clone(),
            task: self.data.task,
            n_classes: self.data.classes.len(),
            metric: self.metric,
            cv: CvConfig {
                seed: self.config.seed,
                ..self.config.cv
            },
            memory_limit: self
                .record
                .memory_limit_bytes
                .unwrap_or_else(automl_trainer::default_memory_limit),
            blocks: self.data.blocks.clone(),
        }
    }

    /// The search by remote workers: store the training data once (blob
    /// `training-data/<fingerprint>`), start the study's own worker lanes, and queue every
    /// trial. The coordinator's memory budget does not apply to work done elsewhere.
    fn run_remote(self, progress: &mut dyn FnMut(&Progress)) -> Result<StudySummary, EngineError> {
        let store = self.store;
        let queue = store.queue().ok_or(EngineError::NoQueue)?;
        let remote = self.config.remote.clone().unwrap_or_default();
        let study_id = self.record.study_id;
        let spec = self.training_data_spec();
        let key = training_data_key(&self.record.fingerprint);
        let bytes = spec.encode();
        if store.blob(study_id, &key)?.as_deref() != Some(bytes.as_slice()) {
            store.put_blob(study_id, &key, &bytes)?;
        }
        drop(bytes);
        let data = Arc::new(spec.build()?);
        let capacity = self.config.parallelism;
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            let lanes = (remote.local_lanes > 0).then(|| {
                let (stop, data) = (stop.clone(), data.clone());
                let cfg = WorkerConfig {
                    study: Some(study_id),
                    jobs: remote.local_lanes,
                    ..WorkerConfig::default()
                };
                s.spawn(move || {
                    run_worker_with(store, &cfg, &stop, &|_| {}, Some((study_id, data)))
                })
            });
            let exec_stop = stop.clone();
            let make: MakeExecutor<'_> = Box::new(move |_data, _jobs| {
                Box::new(
                    RemoteExecutor::new(queue, study_id, capacity, remote).stop_on_drop(exec_stop),
                ) as Box<dyn Executor + '_>
            });
            let result = self.run_on(data, make, u64::MAX, progress);
            stop.store(true, Ordering::SeqCst);
            let lanes = match lanes.map(|h| h.join()) {
                None => Ok(()),
                Some(Ok(r)) => r.map(|_| ()),
                Some(Err(_)) => Err(EngineError::Config(
                    "the study's own worker lanes panicked".to_string(),
                )),
            };
            let summary = result?;
            lanes?;
            Ok(summary)
        })
    }

    /// The run on built training data, with the executor `make_executor` makes and the memory
    /// the running trials may need together (`u64::MAX`: no admission control).
    fn run_on(
        mut self,
        data: Arc<TrainingData>,
        make_executor: MakeExecutor<'_>,
        memory_budget: u64,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<StudySummary, EngineError> {
        let cfg = self.config.clone();
        let task = self.data.task;
        let n_classes = self.data.classes.len();
        self.n_folds = data.folds.len().max(1);
        let budget_end = cfg
            .budget
            .time_s
            .map(|t| cfg.started + Duration::from_secs_f64(t.max(0.0)));
        let searched_before = self.history.len();
        let scheduler = Scheduler::new(SchedulerConfig {
            window: cfg.parallelism.max(1),
            wait_for_stragglers: scheduler::waits_for_stragglers(&cfg.budget),
            max_new: cfg.budget.max_trials.map(|m| {
                usize::try_from(m)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(searched_before)
            }),
            trial_limit: cfg
                .trial_time_limit
                .or(cfg.budget.time_s.map(|t| t / 2.0))
                .filter(|t| t.is_finite() && *t > 0.0)
                .map(Duration::from_secs_f64),
            cancel: cfg.cancel.clone(),
            abort: cfg.abort.clone(),
            memory_budget,
        });

        // 1. The search.
        let mut executor = make_executor(data.clone(), cfg.jobs.max(1));
        let mut driver = search::SearchDriver::new(&mut self, &data, budget_end, progress);
        let outcome = scheduler.run(executor.as_mut(), &mut driver)?;
        let found = driver.into_result();
        drop(executor);

        // 2. Meta-trials: the ensemble (always stored when one is selected, used or not).
        let info = PredictorInfo { task, n_classes };
        let aborted = cfg.abort.load(Ordering::SeqCst);
        // The stacking is built beside the ensemble (and used instead of it when it wins).
        self.record.stacking = None;
        let (ensemble, stacking) = match &found.best {
            Some(b) if cfg.ensemble && !aborted => {
                let mut e =
                    self.build_ensemble(&data, &found.oof, b, info, &found.reserve, budget_end)?;
                let stacking = e.as_mut().and_then(|e| e.stacking.take());
                if let Some(e) = &e {
                    self.progress(
                        progress,
                        Phase::Ensemble {
                            members: e.members.len(),
                            used: e.used,
                        },
                        Some(e.record.clone()),
                        budget_end,
                        found.best.as_ref(),
                    );
                }
                if let Some(s) = &stacking {
                    self.progress(
                        progress,
                        Phase::Stacking {
                            members: s.members.len(),
                            used: s.used,
                        },
                        Some(s.record.clone()),
                        budget_end,
                        found.best.as_ref(),
                    );
                }
                if cfg.stacking && self.record.stacking.is_none() {
                    self.record.stacking = Some(automl_core::StackingDecision {
                        used: false,
                        trial_id: None,
                        members: Vec::new(),
                        meta_learner: String::new(),
                        cv_score: None,
                        ensemble_cv: None,
                        single_selection_cv: None,
                        reason: "no stacking: it is fitted beside an ensemble, and none was \
                                 built"
                            .to_string(),
                    });
                }
                (e.filter(|e| e.used), stacking.filter(|s| s.used))
            }
            _ => (None, None),
        };

        // 3. Seed variance of the best trials (after the ensemble, whose time the search
        // reserved, and before the final model, which `Select::Stable` may change), ending in
        // time for the final model.
        let mut chosen = found.best.clone();
        let mut selection = None;
        let mut seed_variance_s = None;
        if found.best.is_some() && !aborted && cfg.seed_variance.top > 0 {
            let t0 = Instant::now();
            let step_end = budget_end.map(|e| {
                e.checked_sub(found.reserve.final_duration(found.best.as_ref()))
                    .unwrap_or(e)
            });
            let step = self.measure_seed_variance(&data, &found.oof, step_end)?;
            seed_variance_s = Some(t0.elapsed().as_secs_f64());
            if let Some(step) = step {
                if let Some((t, why)) = step.stable {
                    if stacking.is_some() {
                        selection = Some(format!(
                            "{why}; the stacking is used, so it stays the final model"
                        ));
                    } else if ensemble.is_none() {
                        chosen = Some(t);
                        selection = Some(why);
                    } else {
                        selection = Some(format!(
                            "{why}; the ensemble is used, so it stays the final model"
                        ));
                    }
                } else if cfg.seed_variance.select == Select::Stable && step.measured > 0 {
                    selection = Some(
                        "--select stable: the leader stays (no tied trial is more stable)"
                            .to_string(),
                    );
                }
            }
            if let Some(b) = &chosen {
                chosen = self
                    .history
                    .iter()
                    .find(|h| h.trial_id == b.trial_id)
                    .cloned()
                    .or(chosen);
            }
        }

        // 4. The final model, with its post-processing chosen on its out-of-fold predictions.
        let post_processing = if aborted {
            None
        } else {
            let meta_oof = match (&stacking, &ensemble) {
                (Some(s), _) => Some(&s.oof),
                (None, Some(e)) => Some(&e.oof),
                (None, None) => None,
            };
            self.choose_post_processing(&data, &found.oof, chosen.as_ref(), meta_oof)
        };
        let final_model = self.make_final_model(
            &chosen,
            (ensemble.as_ref(), stacking.as_ref()),
            info,
            budget_end,
            &found.reserve,
            progress,
        )?;
        if chosen.is_some() {
            self.save_reference_profile(
                &found.oof,
                chosen.as_ref(),
                ensemble.as_ref(),
                stacking.as_ref().map(|s| &s.oof),
            )?;
        }
        let best = match (&stacking, &ensemble) {
            (Some(s), _) => Some(s.record.clone()),
            (None, Some(e)) => Some(e.record.clone()),
            (None, None) => chosen.clone(),
        };

        // 5. Retention, and the study record closed.
        if let Some(keep) = cfg.keep_models {
            let mut protect: Vec<u64> = found.best.iter().map(|b| b.trial_id).collect();
            protect.extend(chosen.iter().map(|b| b.trial_id));
            if let Some(e) = &ensemble {
                protect.push(e.record.trial_id);
                protect.extend(e.members.iter().map(|m| m.0));
            }
            if let Some(s) = &stacking {
                protect.push(s.record.trial_id);
                protect.extend(s.members.iter().map(|m| m.0));
            }
            self.store.apply_retention(
                self.record.study_id,
                keep,
                self.metric.higher_is_better(),
                &protect,
            )?;
        }
        self.record.ended_at_ms = now_ms();
        self.store.update_study(&self.record)?;
        self.store.flush()?;
        self.store.publish_snapshot()?;
        self.progress(progress, Phase::Done, None, budget_end, best.as_ref());
        let complete = self
            .history
            .iter()
            .filter(|t| t.state == TrialState::Complete && !is_meta_family(&t.candidate.family))
            .count();
        Ok(StudySummary {
            study: self.record.clone(),
            best,
            trials: outcome.asked,
            complete,
            failed: found.failed,
            wall_s: cfg.started.elapsed().as_secs_f64(),
            final_model,
            cancelled: outcome.cancelled,
            selection,
            seed_variance_s,
            post_processing,
        })
    }

    /// Send a progress event outside the search (phase changes).
    fn progress(
        &self,
        progress: &mut dyn FnMut(&Progress),
        phase: Phase,
        last: Option<TrialRecord>,
        budget_end: Option<Instant>,
        best: Option<&TrialRecord>,
    ) {
        progress(&Progress {
            done: self.history.len(),
            failed: self
                .history
                .iter()
                .filter(|t| t.state != TrialState::Complete)
                .count(),
            running: 0,
            best: best.map(|b| (b.mean, b.candidate.family.clone())),
            time_left_s: budget_end
                .map(|e| e.saturating_duration_since(Instant::now()).as_secs_f64()),
            phase,
            last,
        });
    }

    /// The bytes of the trials' stored artifacts in all, from their stored records (the
    /// records in `history` give a fold model's size, not the artifact's): a composite of them
    /// is written into one allocation of this size, not a buffer grown by doubling.
    pub(crate) fn stored_artifact_bytes(&self, trial_ids: &[u64]) -> Result<usize, EngineError> {
        let mut total = 0;
        for &id in trial_ids {
            if let Some(t) = self.store.trial(self.record.study_id, id)? {
                total += t.model_size_bytes as usize;
            }
        }
        Ok(total)
    }

    /// The stored fold models of a trial (its artifact); missing ones are an error.
    fn stored_models(&self, trial_id: u64) -> Result<Vec<u8>, EngineError> {
        self.store
            .artifact(self.record.study_id, trial_id)?
            .ok_or_else(|| {
                EngineError::NotFound(format!("the fitted models of trial {trial_id} are missing"))
            })
    }
}

/// [`EngineError::InvalidSetting`] unless `w` is at least 1 (and fits the stored u32).
fn check_parallelism(w: usize) -> Result<(), EngineError> {
    if w == 0 || u32::try_from(w).is_err() {
        return Err(EngineError::InvalidSetting {
            setting: Setting::Parallelism,
            value: w.to_string(),
            expected: "at least 1 (and at most 4294967295)".to_string(),
        });
    }
    Ok(())
}

/// Settle the trials a dead session left running (see [`Study::resume`]); returns those
/// adopted, in trial-id order, each with its seed.
fn recover_running(
    store: &dyn Store,
    study_id: u64,
    seed: u64,
    remote: Option<&RemoteConfig>,
) -> Result<Vec<TrialRecord>, EngineError> {
    let Some(queue) = store.queue() else {
        store.mark_interrupted(study_id)?;
        return Ok(Vec::new());
    };
    if let Some(r) = remote {
        queue.requeue_expired(Some(study_id), r.max_attempts.max(1))?;
    }
    let mut adopted = Vec::new();
    for mut t in store.trials(study_id)? {
        if t.state != TrialState::Running {
            continue;
        }
        if remote.is_some() {
            // Every running trial is adopted. One whose entry is closed had its result taken
            // (or was given up on) by a coordinator that died before recording it, and one
            // without an entry was started but never queued: their entries are made anew
            // when the session submits them, and they are evaluated again with their seed.
            queue.forget_closed(study_id, t.trial_id)?;
            t.seed = Rng::derive_seed(seed, t.trial_id);
            adopted.push(t);
            continue;
        }
        if queue.entry_state(study_id, t.trial_id)?.is_some() {
            queue.cancel(study_id, t.trial_id)?;
        }
        t.state = TrialState::Interrupted;
        t.ended_at_ms = now_ms();
        t.error = Some(INTERRUPTED_ERROR.to_string());
        store.finish_trial(&t, None)?;
    }
    Ok(adopted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::Validation;
    use automl_trainer::cv::HOLDOUT_MAX_ROWS;

    /// A million rows: what the holdout cap was made for.
    const N: usize = 1_000_000;

    #[test]
    fn the_training_data_and_every_reshuffled_fold_set_share_the_loaded_columns() {
        // The search's training data and each of seed variance's reshuffled fold sets are built
        // from `training_data_spec`: the feature columns are the loaded dataset's, not a copy
        // (on a million rows × 20 columns each copy was 128 MB of resident memory).
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/churn.csv");
        let data = automl_data::load_training(&path, &automl_data::ReadOptions::default()).unwrap();
        let store = automl_store::MemoryStore::new();
        let study = Study::create(
            &store,
            data,
            SearchSpace::builtin("fast").unwrap(),
            automl_search::by_name("random", 0).unwrap(),
            StudyConfig::default(),
        )
        .unwrap();
        let loaded = &study.data.features;
        let mut spec = study.training_data_spec();
        assert!(Arc::ptr_eq(&spec.features, loaded));
        spec.cv.seed ^= 1;
        let built = spec.build().unwrap();
        assert!(Arc::ptr_eq(&built.features, loaded));
        // The remote blob still carries the columns: decoded and encoded again, the same bytes.
        let bytes = study.training_data_spec().encode();
        let decoded = TrainingDataSpec::decode(&bytes).unwrap();
        assert_eq!(decoded.features.n_rows, loaded.n_rows);
        assert_eq!(decoded.encode(), bytes);
    }

    #[test]
    fn a_study_stored_before_the_holdout_cap_resumes_on_its_uncapped_share() {
        let now = CvConfig::default();
        assert_eq!(now.holdout_fraction_for(N), 0.05, "this build: 50k rows");
        let stored = Validation::Holdout { fraction: 0.2 };
        let cv = resumed_cv(now, Some(&stored), N).unwrap();
        assert_eq!(cv.holdout_fraction_for(N), 0.2);
        assert_eq!(cv.validation(N, Task::Binary), stored);
        assert_eq!(cv.train_rows(N), 800_000);
        // Grouped and time-ordered holdouts too.
        for stored in [
            Validation::Grouped {
                column: "g".into(),
                folds: 5,
                stratified: true,
                holdout_fraction: Some(0.2),
            },
            Validation::ForwardChaining {
                column: "t".into(),
                folds: 5,
                gap: 3,
                holdout_fraction: Some(0.2),
            },
        ] {
            let cv = resumed_cv(now, Some(&stored), N).unwrap();
            assert_eq!(cv.holdout_fraction_for(N), 0.2, "{stored}");
        }
    }

    #[test]
    fn a_study_made_by_this_build_resumes_on_its_own_settings() {
        let now = CvConfig::default();
        // The stored share as read back, up to a float's last bit: this build's own.
        let share = now.holdout_fraction_for(N);
        let bits = share.to_bits();
        for fraction in [share, f64::from_bits(bits + 1), f64::from_bits(bits - 1)] {
            let stored = Validation::Holdout { fraction };
            let cv = resumed_cv(now, Some(&stored), N).unwrap();
            assert_eq!(cv, now, "{fraction}");
            assert_eq!(cv.holdout_max_rows, HOLDOUT_MAX_ROWS);
        }
        // Below the cap, and k-fold with the folds asked for.
        let small = Validation::Holdout { fraction: 0.2 };
        assert_eq!(resumed_cv(now, Some(&small), 100_000).unwrap(), now);
        let kfold = Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 1,
        };
        assert_eq!(resumed_cv(now, Some(&kfold), 6000).unwrap(), now);
        let repeated = Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 3,
        };
        let three = CvConfig { repeats: 3, ..now };
        assert_eq!(three.validation(600, Task::Binary), repeated);
        assert_eq!(resumed_cv(three, Some(&repeated), 600).unwrap(), three);
        // A study stored without its scheme keeps the asked one.
        assert_eq!(resumed_cv(now, None, N).unwrap(), now);
    }

    #[test]
    fn a_resumed_study_keeps_its_stored_scheme_and_folds() {
        let asked = CvConfig {
            folds: 3,
            ..CvConfig::default()
        };
        let kfold = Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 1,
        };
        // Stored k-fold on rows this build would hold out: still 5 folds.
        let cv = resumed_cv(asked, Some(&kfold), 30_000).unwrap();
        assert_eq!(cv.validation(30_000, Task::Binary), kfold);
        // Stored with one fold set where three are asked for, or with three where one is: the
        // stored fold sets.
        let cv = resumed_cv(
            CvConfig {
                repeats: 3,
                ..asked
            },
            Some(&kfold),
            300,
        )
        .unwrap();
        assert_eq!(cv.validation(300, Task::Binary), kfold);
        let repeated = Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 3,
        };
        let cv = resumed_cv(asked, Some(&repeated), 5_000).unwrap();
        assert_eq!(cv.validation(5_000, Task::Binary), repeated);
        // Stored holdout on rows this build would fold.
        let holdout = Validation::Holdout { fraction: 0.2 };
        let cv = resumed_cv(asked, Some(&holdout), 10_000).unwrap();
        assert_eq!(cv.validation(10_000, Task::Binary), holdout);
        // A damaged record is an error, not a split.
        for bad in [
            Validation::Holdout { fraction: 1.5 },
            Validation::KFold {
                folds: 1,
                stratified: false,
                repeats: 1,
            },
            Validation::KFold {
                folds: 5,
                stratified: false,
                repeats: 0,
            },
            Validation::KFold {
                folds: 5,
                stratified: false,
                repeats: 1_000,
            },
        ] {
            let e = resumed_cv(asked, Some(&bad), N).unwrap_err();
            assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
        }
    }
}
