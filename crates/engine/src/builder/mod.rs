//! [`StudyBuilder`]: the search policy of `automl fit`, for every embedder. It validates the
//! settings, applies the defaults (60 s budget, all cores, the shipped `default` space, the
//! fold models of the best [`DEFAULT_KEEP_MODELS`] trials kept), builds the strategy by name
//! (the shipped portfolio for `auto`, successive halving on data with at least
//! [`MULTI_FIDELITY_MIN_TRAIN_ROWS`] training rows per fold, warm-start candidates first) and
//! creates or resumes a [`Study`]. Also here: opening a sled store for writing, warm-start
//! candidates from an earlier study, and the default study name.

use crate::error::{EngineError, Setting};
use crate::policy::invalid;
pub use crate::policy::*;
use crate::study::{DEFAULT_PARALLELISM, RemoteConfig, Study, StudyConfig};
use automl_core::{Budget, Candidate, Metric, Task};
use automl_data::{Dataset, ReadOptions, load_training};
use automl_search::{
    PortfolioConfig, Strategy, StrategyOptions, SuccessiveHalving, WarmStart, by_name_with,
    min_fidelity_for_rows, portfolio_for,
};
use automl_space::SearchSpace;
use automl_store::Store;
use automl_trainer::CvConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Trials whose fold models are kept by default (every trial's record is always kept; the
/// ensemble's members and the final model's trial keep theirs too).
pub const DEFAULT_KEEP_MODELS: u64 = 20;
/// Time budget in seconds when neither a time budget nor a trial budget is given.
pub const DEFAULT_TIME_BUDGET_S: f64 = 60.0;
/// Strategy used when none is named.
pub const DEFAULT_STRATEGY: &str = "auto";
/// Shipped search space used when none is given.
pub const DEFAULT_SPACE: &str = "default";
/// `MultiFidelity::Auto` turns successive halving on when each fold has at least this many
/// training rows.
pub const MULTI_FIDELITY_MIN_TRAIN_ROWS: usize = 3000;
/// Fold fidelity ([`automl_search::SuccessiveHalving::over_folds`]): with
/// `MultiFidelity::Auto`, a k-fold study (at least 3 folds, no holdout) whose folds are too
/// small for row halving cross-validates new candidates on one fold first when it has at least
/// this many rows, so that one fold's validation rows (200 of 1000 at 5 folds) still rank
/// candidates. Below it a full trial is cheap anyway.
pub const FOLD_FIDELITY_MIN_ROWS: usize = 1000;
/// Training rows of the lowest multi-fidelity rung (never below 1/9 of a fold).
pub const MIN_RUNG_ROWS: usize = 1000;
/// Big data: from this many training rows per fold, successive halving goes lower (its lowest
/// rung has [`BIG_DATA_RUNG_ROWS`] to 3 × as many rows) and every first trial starts there, the
/// defaults and the portfolio too ([`automl_search::StrategyOptions::cheap_start`]).
pub const BIG_DATA_TRAIN_ROWS: usize = 100_000;
/// Big data: the lowest rung has at least this many training rows (and less than 3 × as many).
pub const BIG_DATA_RUNG_ROWS: usize = 10_000;
/// Successive-halving rate: the best third of a rung is promoted.
pub const HALVING_ETA: f64 = 3.0;
/// The family whose default `auto` asks first under a time budget, before the portfolio
/// ([`automl_search::StrategyOptions::lead`]).
pub const LEAD_FAMILY: &str = "gbdt";
/// Configurations taken from an earlier study by [`warm_start_candidates`].
pub const WARM_START_TOP: usize = 10;
/// How long [`open_store`] retries a store held by a reader.
pub const LOCKED_RETRY: Duration = Duration::from_secs(3);

/// The zero-shot portfolio shipped in `search-spaces/portfolio.toml` (tried first by `auto`).
pub(crate) const PORTFOLIO_TOML: &str = include_str!("../../../../search-spaces/portfolio.toml");

/// Successive halving over the data size (multi-fidelity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiFidelity {
    /// On when each fold has at least [`MULTI_FIDELITY_MIN_TRAIN_ROWS`] training rows (named
    /// strategies only; a custom strategy is taken as given).
    #[default]
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

impl MultiFidelity {
    /// Whether halving is used on folds of `train_rows` training rows.
    pub fn enabled(self, train_rows: usize) -> bool {
        match self {
            MultiFidelity::Auto => train_rows >= MULTI_FIDELITY_MIN_TRAIN_ROWS,
            MultiFidelity::On => true,
            MultiFidelity::Off => false,
        }
    }
}

/// Which trials keep their fitted fold models once the study ends. Every trial's record
/// (parameters, scores, timings) is always kept, and so are the models the ensemble and the
/// final model are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepModels {
    /// The best N trials.
    Best(u64),
    /// Every trial.
    All,
}

impl Default for KeepModels {
    fn default() -> Self {
        KeepModels::Best(DEFAULT_KEEP_MODELS)
    }
}

impl KeepModels {
    /// As [`StudyConfig::keep_models`]: the number of trials, or None for all.
    pub fn limit(self) -> Option<u64> {
        match self {
            KeepModels::Best(n) => Some(n),
            KeepModels::All => None,
        }
    }
}

impl std::fmt::Display for KeepModels {
    /// `N` or `all`, the form [`FromStr`](std::str::FromStr) reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepModels::Best(n) => write!(f, "{n}"),
            KeepModels::All => f.write_str("all"),
        }
    }
}

impl std::str::FromStr for KeepModels {
    type Err = EngineError;
    /// A number of trials, or `all`.
    fn from_str(s: &str) -> Result<Self, EngineError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(KeepModels::All);
        }
        t.parse()
            .map(KeepModels::Best)
            .map_err(|_| invalid(Setting::KeepModels, s, "a number of trials or `all`"))
    }
}

/// The strategy to search with.
enum StrategyChoice {
    Named(String),
    Custom(Box<dyn Strategy>),
}

/// Where the data comes from: given, or a CSV read when first needed.
enum Source {
    Loaded(Box<Dataset>),
    Csv { path: PathBuf, options: ReadOptions },
}

/// Builds a [`Study`] the way `automl fit` does. Every setting has a default; [`check`]
/// (called by [`create`] and [`resume`]) validates them.
///
/// [`check`]: StudyBuilder::check
/// [`create`]: StudyBuilder::create
/// [`resume`]: StudyBuilder::resume
pub struct StudyBuilder {
    source: Source,
    strategy: StrategyChoice,
    time_budget: Option<f64>,
    max_trials: Option<u64>,
    jobs: Option<usize>,
    parallelism: Option<usize>,
    remote_workers: bool,
    seed: u64,
    metric: Option<Metric>,
    space: Option<SearchSpace>,
    folds: usize,
    cv_repeats: usize,
    multi_fidelity: MultiFidelity,
    warm_start: Vec<Candidate>,
    portfolio: Option<Vec<PortfolioConfig>>,
    keep_models: KeepModels,
    ensemble: bool,
    stacking: bool,
    profile_sample: bool,
    seed_variance: crate::study::SeedVarianceConfig,
    post: automl_trainer::calibrate::PostConfig,
    memory_limit: Option<u64>,
    max_memory: Option<u64>,
    trial_time_limit: Option<f64>,
    name: Option<String>,
    cancel: Option<Arc<AtomicBool>>,
    abort: Option<Arc<AtomicBool>>,
    started: Instant,
}

impl StudyBuilder {
    /// A builder for a study of `data`, with every setting at its default. The budget clock
    /// starts now (see [`started`](StudyBuilder::started)).
    pub fn new(data: Dataset) -> Self {
        Self::with_source(Source::Loaded(Box::new(data)))
    }

    /// A builder for a study of the CSV file at `path` (target: the last column, task
    /// inferred). The file is read by [`load`](StudyBuilder::load), or at `create`/`resume`.
    pub fn from_csv(path: impl Into<PathBuf>) -> Self {
        Self::from_csv_with(path, ReadOptions::default())
    }

    /// As [`from_csv`](StudyBuilder::from_csv), with read options (target, task, missing
    /// tokens).
    pub fn from_csv_with(path: impl Into<PathBuf>, options: ReadOptions) -> Self {
        Self::with_source(Source::Csv {
            path: path.into(),
            options,
        })
    }

    fn with_source(source: Source) -> Self {
        StudyBuilder {
            source,
            strategy: StrategyChoice::Named(DEFAULT_STRATEGY.into()),
            time_budget: None,
            max_trials: None,
            jobs: None,
            parallelism: None,
            remote_workers: false,
            seed: 0,
            metric: None,
            space: None,
            folds: CvConfig::default().folds,
            cv_repeats: CvConfig::default().repeats,
            multi_fidelity: MultiFidelity::Auto,
            warm_start: Vec::new(),
            portfolio: None,
            keep_models: KeepModels::default(),
            ensemble: true,
            stacking: true,
            profile_sample: true,
            seed_variance: crate::study::SeedVarianceConfig::default(),
            post: automl_trainer::calibrate::PostConfig::default(),
            memory_limit: None,
            max_memory: None,
            trial_time_limit: None,
            name: None,
            cancel: None,
            abort: None,
            started: Instant::now(),
        }
    }

    /// Search with a shipped strategy: `auto` (default), `bayes`, `evolution` or `random`.
    pub fn strategy(mut self, name: impl Into<String>) -> Self {
        self.strategy = StrategyChoice::Named(name.into());
        self
    }

    /// Search with your own strategy. It is used as given: no portfolio, and successive
    /// halving only with [`MultiFidelity::On`]; warm-start candidates are still proposed first.
    pub fn custom_strategy(mut self, strategy: Box<dyn Strategy>) -> Self {
        self.strategy = StrategyChoice::Custom(strategy);
        self
    }

    /// Wall-clock budget in seconds for the whole study, final refit included. Without it (and
    /// without [`max_trials`](StudyBuilder::max_trials)) the budget is
    /// [`DEFAULT_TIME_BUDGET_S`].
    pub fn time_budget(mut self, seconds: f64) -> Self {
        self.time_budget = Some(seconds);
        self
    }

    /// Stop after this many trials. Given alone, the study has no time limit.
    pub fn max_trials(mut self, n: u64) -> Self {
        self.max_trials = Some(n);
        self
    }

    /// Both limits at once (a `Budget` with neither gets the default time budget).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.time_budget = budget.time_s;
        self.max_trials = budget.max_trials;
        self
    }

    /// Trials fitted in parallel on this machine (default: the available parallelism; with
    /// [`remote_workers`](StudyBuilder::remote_workers), none unless given: this process then
    /// also evaluates in `jobs` lanes). Also the final refit's lanes.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// The study's parallelism W: trials in flight at once, the asking window (default
    /// [`DEFAULT_PARALLELISM`], at least 1). Set it to the number of workers planned: the same
    /// W gives the same leaderboard with any number of jobs or workers. Stored on the study; a
    /// resumed study keeps its own.
    pub fn parallelism(mut self, w: usize) -> Self {
        self.parallelism = Some(w);
        self
    }

    /// Have trials evaluated by workers through the store's trial queue (`automl worker`
    /// processes, and this process's own lanes when [`jobs`](StudyBuilder::jobs) is given).
    /// The store must have a queue ([`EngineError::NoQueue`] otherwise, e.g. sled).
    pub fn remote_workers(mut self, on: bool) -> Self {
        self.remote_workers = on;
        self
    }

    /// Study seed (default 0): the same data, seed and trial budget give the same leaderboard.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Metric to optimise (default: the task's, see `Metric::default_for`).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = Some(metric);
        self
    }

    /// Metric by name (`roc_auc`, `rmse`, ...): [`EngineError::UnknownMetric`] for an unknown
    /// name. Whether it fits the task is checked once the data is known.
    pub fn metric_name(self, name: &str) -> Result<Self, EngineError> {
        let m = Metric::from_name(name).ok_or_else(|| EngineError::UnknownMetric {
            name: name.to_string(),
        })?;
        Ok(self.metric(m))
    }

    /// The search space (default: the shipped `default` space).
    pub fn space(mut self, space: SearchSpace) -> Self {
        self.space = Some(space);
        self
    }

    /// The search space from a TOML file, or a shipped one by name (see [`load_space`]).
    pub fn space_named(self, spec: &str) -> Result<Self, EngineError> {
        Ok(self.space(load_space(spec)?))
    }

    /// Cross-validation folds (default 5, at least 2). Large data uses one holdout split.
    pub fn folds(mut self, folds: usize) -> Self {
        self.folds = folds;
        self
    }

    /// Fold sets of a k-fold on independent rows (repeated CV; default 1, at least 1, at most
    /// [`automl_trainer::cv::MAX_REPEATS`]). Every candidate is fitted on every fold of every
    /// set. A resumed study keeps its stored fold sets.
    pub fn cv_repeats(mut self, repeats: usize) -> Self {
        self.cv_repeats = repeats;
        self
    }

    /// Successive halving over the data size (default [`MultiFidelity::Auto`]).
    pub fn multi_fidelity(mut self, mode: MultiFidelity) -> Self {
        self.multi_fidelity = mode;
        self
    }

    /// Configurations proposed before anything else, e.g. from [`warm_start_from`].
    pub fn warm_start(mut self, candidates: Vec<Candidate>) -> Self {
        self.warm_start = candidates;
        self
    }

    /// The zero-shot portfolio `auto` tries first, instead of the shipped one
    /// (`search-spaces/portfolio.toml`); an empty list means none. Entries for other tasks
    /// are skipped. Other strategies use no portfolio.
    pub fn portfolio(mut self, configs: Vec<PortfolioConfig>) -> Self {
        self.portfolio = Some(configs);
        self
    }

    /// Which trials keep their fold models (default: the best [`DEFAULT_KEEP_MODELS`]).
    pub fn keep_models(mut self, keep: KeepModels) -> Self {
        self.keep_models = keep;
        self
    }

    /// Build an ensemble of the best trials at the end (default on; used when it beats picking
    /// the single best trial).
    pub fn ensemble(mut self, on: bool) -> Self {
        self.ensemble = on;
        self
    }

    /// Fit a stacking beside the ensemble (default on, whenever an ensemble is built; used
    /// when its nested cross-validated score beats the ensemble's and picking one trial's).
    pub fn stacking(mut self, on: bool) -> Self {
        self.stacking = on;
        self
    }

    /// Keep a seeded sample of training rows in the final model's reference profile (default
    /// on; see [`StudyConfig::profile_sample`]).
    pub fn profile_sample(mut self, on: bool) -> Self {
        self.profile_sample = on;
        self
    }

    /// Measure the seed variance of the best `top` trials after the search (default 5; 0 turns
    /// it off; see [`crate::study::seeds`]).
    pub fn seed_variance(mut self, top: usize) -> Self {
        self.seed_variance.top = top;
        self
    }

    /// Other model seeds per measured trial (default 3).
    pub fn seed_variance_seeds(mut self, seeds: usize) -> Self {
        self.seed_variance.seeds = seeds;
        self
    }

    /// The final model's calibration: None = chosen by nested cross-validation among none,
    /// Platt and isotonic (the default); `Some(m)` = always `m` (see
    /// [`crate::study::postprocess`]).
    pub fn calibration(
        mut self,
        method: Option<automl_trainer::calibrate::CalibrationMethod>,
    ) -> Self {
        self.post.calibration = method;
        self
    }

    /// The final model's decision threshold (binary): None = tuned by nested cross-validation
    /// when the metric scores hard labels (accuracy, balanced accuracy, F1), else the argmax
    /// (the default); `Some(c)` = as given.
    pub fn threshold(mut self, choice: Option<automl_trainer::calibrate::ThresholdChoice>) -> Self {
        self.post.threshold = choice;
        self
    }

    /// How the final model's trial is chosen: the best score, or the most stable trial tied
    /// with it ([`crate::Select`]; default best).
    pub fn select(mut self, select: crate::study::Select) -> Self {
        self.seed_variance.select = select;
        self
    }

    /// Per-trial memory limit in bytes: a candidate whose estimated need is larger fails
    /// before it is fitted (default: the engine's, from the machine's memory).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Whole-process memory bound in bytes (default: none): see
    /// [`crate::StudyConfig::max_memory`] and [`StudyBuilder::check_max_memory`].
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Refuse, before any trial, loaded data that cannot be searched within the whole-process
    /// bound: this process's resident memory now (the loaded data) plus
    /// [`automl_trainer::study_floor_bytes`] for the folds, bins and out-of-fold predictions.
    /// Returns the estimated need when it is refused.
    pub fn check_max_memory(&self) -> Result<(), u64> {
        let (Some(max), Source::Loaded(data)) = (self.max_memory, &self.source) else {
            return Ok(());
        };
        let cv = CvConfig {
            folds: self.folds,
            repeats: self.cv_repeats,
            ..CvConfig::default()
        };
        let rows = data.y.len();
        let folds = if rows > cv.holdout_above_rows {
            1
        } else {
            cv.folds * cv.repeats_for(rows)
        };
        let need = automl_trainer::process_rss().unwrap_or(0).saturating_add(
            automl_trainer::study_floor_bytes(
                cv.train_rows(rows),
                data.features.n_columns(),
                folds,
            ),
        );
        if need > max { Err(need) } else { Ok(()) }
    }

    /// Per-trial time limit in seconds (default: half the time budget; none without one).
    pub fn trial_time_limit(mut self, seconds: f64) -> Self {
        self.trial_time_limit = Some(seconds);
        self
    }

    /// Study name (default: from the data file's name, see [`default_study_name`]).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A flag that, once set, stops asking for new trials; the best so far is refit and saved.
    pub fn cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// A flag that, once set, abandons running trials at once.
    pub fn abort_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.abort = Some(flag);
        self
    }

    /// When the budget clock started (default: when the builder was made), e.g. the process
    /// start so that reading the data counts.
    pub fn started(mut self, at: Instant) -> Self {
        self.started = at;
        self
    }

    /// The budget the study gets: as given, or [`DEFAULT_TIME_BUDGET_S`] when neither limit is.
    pub fn effective_budget(&self) -> Budget {
        Budget {
            time_s: self.time_budget.or(if self.max_trials.is_some() {
                None
            } else {
                Some(DEFAULT_TIME_BUDGET_S)
            }),
            max_trials: self.max_trials,
        }
    }

    /// Trials fitted in parallel: as given, or the available parallelism.
    pub fn effective_jobs(&self) -> usize {
        self.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// Which trials keep their fold models.
    pub fn kept_models(&self) -> KeepModels {
        self.keep_models
    }

    /// Validate every setting that does not need the data: budget, jobs, folds, limits, the
    /// strategy name. Reads no file.
    pub fn check(&self) -> Result<(), EngineError> {
        validate_budget(&self.effective_budget())?;
        if self.jobs == Some(0) {
            return Err(invalid(Setting::Jobs, 0, "at least 1"));
        }
        if let Some(w) = self.parallelism {
            if w == 0 || u32::try_from(w).is_err() {
                return Err(invalid(Setting::Parallelism, w, "at least 1"));
            }
        }
        if self.folds < 2 {
            return Err(invalid(Setting::Folds, self.folds, "at least 2"));
        }
        if !(1..=automl_trainer::cv::MAX_REPEATS).contains(&self.cv_repeats) {
            return Err(invalid(
                Setting::CvRepeats,
                self.cv_repeats,
                &format!("between 1 and {}", automl_trainer::cv::MAX_REPEATS),
            ));
        }
        if let Some(t) = self.trial_time_limit {
            if !(t.is_finite() && t > 0.0) {
                return Err(invalid(
                    Setting::TrialTimeLimit,
                    t,
                    "a positive number of seconds",
                ));
            }
        }
        if self.max_memory == Some(0) {
            return Err(invalid(Setting::MemoryLimit, 0, "more than 0 bytes"));
        }
        if self.memory_limit == Some(0) {
            return Err(invalid(Setting::MemoryLimit, 0, "more than 0 bytes"));
        }
        if let StrategyChoice::Named(name) = &self.strategy {
            if !automl_search::STRATEGY_NAMES.contains(&name.as_str()) {
                return Err(EngineError::UnknownStrategy { name: name.clone() });
            }
        }
        Ok(())
    }

    /// The data (read now if the builder was made from a file), after checking that the
    /// metric applies to its task.
    pub fn load(&mut self) -> Result<&Dataset, EngineError> {
        if let Source::Csv { path, options } = &self.source {
            let data = load_training(path, options)?;
            self.source = Source::Loaded(Box::new(data));
        }
        let Source::Loaded(data) = &self.source else {
            unreachable!("loaded just above")
        };
        resolve_metric(self.metric, data.task)?;
        Ok(data)
    }

    /// Validate everything, then create a new study in `store`.
    pub fn create<'a>(mut self, store: &'a dyn Store) -> Result<Study<'a>, EngineError> {
        self.check()?;
        self.check_store(store)?;
        self.load()?;
        let seed = self.seed;
        let (data, space, strategy, config) = self.into_parts(seed)?;
        Study::create(store, data, space, strategy, config)
    }

    /// Validate everything, then continue study `study_id` of `store` (None: its latest
    /// study). The data must be the file the study was started with; the study keeps its seed
    /// and metric.
    pub fn resume<'a>(
        mut self,
        store: &'a dyn Store,
        study_id: Option<u64>,
    ) -> Result<Study<'a>, EngineError> {
        self.check()?;
        self.check_store(store)?;
        self.load()?;
        let record = match study_id {
            Some(id) => store
                .study(id)?
                .ok_or(EngineError::StudyNotFound { study_id: id })?,
            None => store.latest_study()?.ok_or(EngineError::NoStudy)?,
        };
        let (data, space, strategy, config) = self.into_parts(record.seed)?;
        Study::resume(store, record.study_id, data, space, strategy, config)
    }

    /// Remote workers need a store with a trial queue.
    fn check_store(&self, store: &dyn Store) -> Result<(), EngineError> {
        if self.remote_workers && store.queue().is_none() {
            return Err(EngineError::NoQueue);
        }
        Ok(())
    }

    /// The strategy options for `n_rows` rows validated by `cv` on `task`: multi-fidelity by
    /// the threshold (over rows, or over folds, see [`FOLD_FIDELITY_MIN_ROWS`]), the portfolio
    /// for `auto` only, the warm-start candidates.
    fn strategy_options(
        &self,
        task: Task,
        n_rows: usize,
        cv: &CvConfig,
    ) -> Result<StrategyOptions, EngineError> {
        let auto = matches!(&self.strategy, StrategyChoice::Named(n) if n == "auto");
        let train_rows = cv.train_rows(n_rows);
        let big = train_rows >= BIG_DATA_TRAIN_ROWS;
        let rows_halving = self.multi_fidelity.enabled(train_rows);
        let fold_fidelity = (self.multi_fidelity == MultiFidelity::Auto
            && !rows_halving
            && cv.folds >= 3
            && n_rows >= FOLD_FIDELITY_MIN_ROWS
            && n_rows <= cv.holdout_above_rows)
            .then(|| u32::try_from(cv.folds).unwrap_or(u32::MAX));
        Ok(StrategyOptions {
            multi_fidelity: rows_halving,
            fold_fidelity,
            min_fidelity: if big {
                min_fidelity_for_rows(train_rows, BIG_DATA_RUNG_ROWS)
            } else {
                min_fidelity_for_rows(train_rows, MIN_RUNG_ROWS).max(1.0 / 9.0)
            },
            eta: HALVING_ETA,
            cheap_start: big,
            portfolio: if auto {
                match &self.portfolio {
                    Some(configs) => portfolio_for(configs, task),
                    None => portfolio_for(&shipped_portfolio()?, task),
                }
            } else {
                Vec::new()
            },
            warm_start: self.warm_start.clone(),
            // The GBDT default before the portfolio: robust on any table, while the portfolio's
            // first members may suit the datasets it was chosen on only (BENCHMARKS §53).
            lead: auto.then(|| LEAD_FAMILY.to_string()),
        })
    }

    /// Split a checked, loaded builder into what `Study::create` / `resume` take; the strategy
    /// is seeded with `seed`.
    fn into_parts(
        self,
        seed: u64,
    ) -> Result<(Dataset, SearchSpace, Box<dyn Strategy>, StudyConfig), EngineError> {
        let Source::Loaded(data) = &self.source else {
            unreachable!("create and resume load the data first")
        };
        let cv = CvConfig {
            folds: self.folds,
            repeats: self.cv_repeats,
            ..CvConfig::default()
        };
        let opts = self.strategy_options(data.task, data.y.len(), &cv)?;
        let config = StudyConfig {
            name: self
                .name
                .clone()
                .unwrap_or_else(|| default_study_name(&data.path)),
            metric: self.metric,
            budget: self.effective_budget(),
            seed,
            jobs: self.effective_jobs(),
            parallelism: self.parallelism.unwrap_or(DEFAULT_PARALLELISM),
            remote: self.remote_workers.then(|| RemoteConfig {
                local_lanes: self.jobs.unwrap_or(0),
                ..RemoteConfig::default()
            }),
            cv,
            keep_models: self.keep_models.limit(),
            started: self.started,
            cancel: self.cancel.clone().unwrap_or_default(),
            abort: self.abort.clone().unwrap_or_default(),
            ensemble: self.ensemble,
            stacking: self.stacking,
            memory_limit: self.memory_limit,
            max_memory: self.max_memory,
            trial_time_limit: self.trial_time_limit,
            profile_sample: self.profile_sample,
            seed_variance: self.seed_variance,
            post: self.post,
        };
        let space = match self.space {
            Some(s) => s,
            None => load_space(DEFAULT_SPACE)?,
        };
        let space = class_weight_policy(space, data);
        let space = cat_encoding_policy(space, data);
        let space = objective_policy(space, data);
        let strategy = match self.strategy {
            StrategyChoice::Named(name) => {
                by_name_with(&name, seed, &opts).ok_or(EngineError::UnknownStrategy { name })?
            }
            StrategyChoice::Custom(mut s) => {
                if self.multi_fidelity == MultiFidelity::On {
                    s = Box::new(SuccessiveHalving::new(s, opts.min_fidelity, opts.eta));
                }
                if !opts.warm_start.is_empty() {
                    s = Box::new(WarmStart::new(s, opts.warm_start, Vec::new(), seed));
                }
                s
            }
        };
        let Source::Loaded(data) = self.source else {
            unreachable!("checked above")
        };
        Ok((*data, space, strategy, config))
    }
}

/// A target is imbalanced when its smallest class holds less than this share of the rows.
pub const IMBALANCED_SHARE: f64 = 0.2;

/// Whether a classification target is imbalanced (see [`IMBALANCED_SHARE`]).
pub fn is_imbalanced(data: &Dataset) -> bool {
    if !data.task.is_classification() || data.y.is_empty() {
        return false;
    }
    let mut counts = vec![0usize; data.classes.len().max(2)];
    for &c in &data.y {
        if let Some(n) = counts.get_mut(c as usize) {
            *n += 1;
        }
    }
    let min = counts.iter().copied().min().unwrap_or(0);
    (min as f64) < IMBALANCED_SHARE * data.y.len() as f64
}

/// The space searched: `class_weight` (`trainer::weights`) is searched only for an
/// imbalanced target; otherwise it is dropped, so a balanced study searches exactly what it
/// did before the parameter existed (a configuration without it means `none`).
fn class_weight_policy(mut space: SearchSpace, data: &Dataset) -> SearchSpace {
    if !is_imbalanced(data) {
        for f in &mut space.families {
            f.params
                .retain(|p| p.name != automl_trainer::weights::CLASS_WEIGHT);
        }
    }
    space
}

/// Whether `cat_encoding` (`trainer::cat_encoding`) is worth searching: some categorical
/// feature has more than [`automl_data::ONE_HOT_MAX_LEVELS`] levels (with at most that many,
/// both choices one-hot encode every column, so `target` would repeat `onehot`).
pub fn has_high_cardinality(data: &Dataset) -> bool {
    automl_data::target_encode::has_high_cardinality(
        &data.features,
        automl_data::ONE_HOT_MAX_LEVELS,
    )
}

/// The space searched: `cat_encoding` is dropped unless [`has_high_cardinality`], so a study
/// on data without such a column searches exactly what it did before the parameter existed
/// (a configuration without it means `onehot`).
fn cat_encoding_policy(mut space: SearchSpace, data: &Dataset) -> SearchSpace {
    if !has_high_cardinality(data) {
        for f in &mut space.families {
            f.params
                .retain(|p| p.name != automl_trainer::cat_encoding::CAT_ENCODING);
        }
    }
    space
}

/// The parameters of a regression loss other than squared error (the `gbdt`'s `objective`
/// and its `tweedie_power`).
pub const OBJECTIVE_PARAMS: [&str; 2] = ["objective", "tweedie_power"];

/// Whether a loss for non-negative targets (`objective = tweedie`) may be searched: a
/// regression whose every target value is >= 0.
pub fn has_non_negative_target(data: &Dataset) -> bool {
    data.task == automl_core::Task::Regression
        && !data.y.is_empty()
        && data.y.iter().all(|v| *v >= 0.0)
}

/// The space searched: the `gbdt`'s `objective` and `tweedie_power` are dropped unless
/// [`has_non_negative_target`], so a study on a target with negative values searches exactly
/// what it did before they existed (a configuration without them boosts squared error).
fn objective_policy(mut space: SearchSpace, data: &Dataset) -> SearchSpace {
    if !has_non_negative_target(data) {
        for f in &mut space.families {
            f.params
                .retain(|p| !OBJECTIVE_PARAMS.contains(&p.name.as_str()));
        }
    }
    space
}

#[cfg(test)]
mod tests;
