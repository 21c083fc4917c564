//! automl-search: search strategies behind one ask/tell interface. A strategy proposes
//! [`Candidate`]s and observes finished [`TrialRecord`]s; it never sees the store, the trainer or
//! the models. Strategies: [`RandomSearch`] (`random`), [`Evolution`] (`evolution`),
//! [`Bayes`] (`bayes`, TPE) and [`Auto`] (`auto`). Wrappers: [`SuccessiveHalving`] (multi-fidelity,
//! ASHA over the training-row fraction), [`WarmStart`] (given configurations first) and
//! [`Distinct`] (no near-copies of configurations already tried); build
//! them with [`by_name_with`]. The zero-shot portfolio file is read by [`load_portfolio`].
//!
//! Every strategy starts cheap-first: the default configuration of each allowed family, in the
//! order given by [`AskContext::families`]. Losses are `metric.as_loss(mean)`; failed and
//! timed-out trials count as the worst loss and families that keep failing are proposed less.

mod auto;
mod bayes;
mod common;
mod distinct;
mod evolution;
mod halving;
mod parzen;
mod portfolio;
pub mod portfolio_select;
mod random;
mod warm;

pub use auto::Auto;
pub use bayes::{Bayes, FAR_BEHIND_WEIGHT};
pub use common::{
    FAR_BEHIND, FAR_BEHIND_MIN_SHARE_OF_TIME_LEFT, FAR_BEHIND_MIN_TOLD, candidate_key, trial_loss,
};
pub use distinct::{Distinct, NEAR_COPY_DISTANCE, NEAR_COPY_RETRIES, TWIN_SPAN};
pub use evolution::Evolution;
pub use halving::{
    FULL_FIDELITY_OPERATORS, InnerFeed, PROMOTION_MAX_SHARE_OF_TIME_LEFT, SuccessiveHalving,
    fold_rungs, min_fidelity_for_rows, rung_fidelities,
};
pub use portfolio::{
    PORTFOLIO_VERSION, PortfolioConfig, PortfolioError, load_portfolio, portfolio_for,
    portfolio_origins, portfolio_to_toml, portfolio_to_toml_with_origins,
};
pub use random::RandomSearch;
pub use warm::{GIVEN_MAX_SHARE_OF_TIME_LEFT, WarmStart};

use automl_core::{Candidate, Metric, Task, TrialRecord};
use automl_space::SearchSpace;

/// A model family the strategy may propose for this dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyInfo {
    /// Family name (as in the search space).
    pub name: String,
    /// Expected cost relative to the cheapest family (1 = cheapest).
    pub relative_cost: f64,
}

impl FamilyInfo {
    /// A family with its relative cost.
    pub fn new(name: impl Into<String>, relative_cost: f64) -> Self {
        FamilyInfo {
            name: name.into(),
            relative_cost,
        }
    }
}

/// What a strategy may look at when asked or told.
#[derive(Debug, Clone, Copy)]
pub struct AskContext<'a> {
    /// The search space.
    pub space: &'a SearchSpace,
    /// The task of the dataset.
    pub task: Task,
    /// The metric being optimised.
    pub metric: Metric,
    /// Families allowed for this dataset (registered, task-compatible, row limits ok), cheap first.
    pub families: &'a [FamilyInfo],
    /// All trials told so far, in trial-id order (any state).
    pub history: &'a [TrialRecord],
    /// Share of the budget used, 0..1: of the time budget, else of `--max-trials` (trials
    /// searched so far), else 0.
    pub elapsed_fraction: f64,
    /// Seconds left for the search under a time budget (None without one).
    pub time_left_s: Option<f64>,
}

/// A search strategy: proposes candidates (ask) and learns from finished trials (tell).
pub trait Strategy: Send {
    /// Stable name (`random`, `evolution`, `bayes`, `auto`).
    fn name(&self) -> &'static str;
    /// Propose the next candidate (None = nothing more to propose). Deterministic given the seed
    /// and the sequence of ask/tell calls.
    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate>;
    /// Observe a finished trial (any state). Called in trial-id order.
    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord);
}

/// Names accepted by [`by_name`].
pub const STRATEGY_NAMES: [&str; 4] = ["random", "evolution", "bayes", "auto"];

/// How [`by_name_with`] builds a strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyOptions {
    /// Wrap the strategy in [`SuccessiveHalving`] (multi-fidelity). The engine enables it only
    /// when the folds have enough training rows for the lowest rung.
    pub multi_fidelity: bool,
    /// Lowest rung fidelity (default 1/9).
    pub min_fidelity: f64,
    /// Halving rate (default 3: the best third of a rung is promoted).
    pub eta: f64,
    /// Big data: with `multi_fidelity`, the given candidates (warm start, portfolio) and the
    /// family defaults start at the lowest rung too, and are promoted like any other
    /// (see [`SuccessiveHalving::with_cheap_start`]). Off by default.
    pub cheap_start: bool,
    /// Fold fidelity: without `multi_fidelity`, the study's number of folds to halve over
    /// ([`SuccessiveHalving::over_folds`]): new candidates are cross-validated on one fold
    /// first. The engine sets it on data too small for row halving. None (off) by default.
    pub fold_fidelity: Option<u32>,
    /// Zero-shot configurations tried by `auto` before its own proposals (operator
    /// `portfolio`; ignored by the other strategies, so that they stay plain baselines).
    pub portfolio: Vec<Candidate>,
    /// Configurations proposed first of all by every strategy (operator `warm_start`, parents
    /// kept), typically the best ones of an earlier study.
    pub warm_start: Vec<Candidate>,
    /// `auto` under a time budget: the family whose default is asked first of all, after the
    /// warm start and before the portfolio (operator `default`). The engine names `gbdt`: the
    /// portfolio is chosen on other datasets, and held out on one unlike them its first
    /// configurations can fill a short budget with weak or slow models (see [`WarmStart`]).
    pub lead: Option<String>,
}

impl Default for StrategyOptions {
    fn default() -> Self {
        StrategyOptions {
            multi_fidelity: false,
            min_fidelity: 1.0 / 9.0,
            eta: 3.0,
            cheap_start: false,
            fold_fidelity: None,
            portfolio: Vec::new(),
            warm_start: Vec::new(),
            lead: None,
        }
    }
}

/// A strategy by name (`random`, `evolution`, `bayes` or `auto`), seeded, with options: the
/// warm-start candidates first, then (for `auto`) the portfolio, then the strategy (its
/// near-copies replaced by [`Distinct`]), wrapped in
/// [`SuccessiveHalving`] when `multi_fidelity` is set, or over folds when `fold_fidelity` is
/// (low-fidelity scores relabelled as full ones for `evolution`, see [`InnerFeed`]). Given candidates of families not in the
/// context are skipped and invalid parameters repaired ([`WarmStart`]); they run at full
/// fidelity, as do the family defaults.
pub fn by_name_with(name: &str, seed: u64, opts: &StrategyOptions) -> Option<Box<dyn Strategy>> {
    let mut s: Box<dyn Strategy> = match name {
        "random" => Box::new(RandomSearch::new(seed)),
        "evolution" => Box::new(Evolution::new(seed)),
        "bayes" => Box::new(Bayes::new(seed)),
        "auto" => Box::new(Auto::new(seed)),
        _ => return None,
    };
    s = Box::new(Distinct::new(s, seed));
    let feed = if name == "evolution" {
        InnerFeed::Relabeled
    } else {
        InnerFeed::Unchanged
    };
    let cheap_start = opts.multi_fidelity && opts.cheap_start;
    if opts.multi_fidelity && !cheap_start {
        s = Box::new(SuccessiveHalving::new(s, opts.min_fidelity, opts.eta).with_feed(feed));
    } else if let Some(n) = opts
        .fold_fidelity
        .filter(|&n| n > 1 && !opts.multi_fidelity)
    {
        s = Box::new(SuccessiveHalving::over_folds(s, n, opts.eta).with_feed(feed));
    }
    let (portfolio, lead) = if name == "auto" {
        (opts.portfolio.clone(), opts.lead.clone())
    } else {
        (Vec::new(), None)
    };
    if !opts.warm_start.is_empty() || !portfolio.is_empty() || lead.is_some() {
        s = Box::new(WarmStart::new(s, opts.warm_start.clone(), portfolio, seed).with_lead(lead));
    }
    if cheap_start {
        // Halving outside the warm start: its candidates start at the lowest rung too.
        s = Box::new(
            SuccessiveHalving::new(s, opts.min_fidelity, opts.eta)
                .with_feed(feed)
                .with_cheap_start(),
        );
    }
    Some(s)
}

/// A strategy by name (`random`, `evolution`, `bayes` or `auto`), seeded: [`by_name_with`] with
/// the default options (no multi-fidelity, no portfolio, no warm start).
pub fn by_name(name: &str, seed: u64) -> Option<Box<dyn Strategy>> {
    by_name_with(name, seed, &StrategyOptions::default())
}
