//! automl-search: search strategies behind one ask/tell interface. A strategy proposes
//! [`Candidate`]s and observes finished [`TrialRecord`]s; it never sees the store, the trainer or
//! the models. Strategies: [`RandomSearch`] (`random`), [`Evolution`] (`evolution`),
//! [`Bayes`] (`bayes`, TPE) and [`Auto`] (`auto`).
//!
//! Every strategy starts cheap-first: the default configuration of each allowed family, in the
//! order given by [`AskContext::families`]. Losses are `metric.as_loss(mean)`; failed and
//! timed-out trials count as the worst loss and families that keep failing are proposed less.

mod auto;
mod bayes;
mod common;
mod evolution;
mod parzen;
mod random;

pub use auto::Auto;
pub use bayes::Bayes;
pub use common::{candidate_key, trial_loss};
pub use evolution::Evolution;
pub use random::RandomSearch;

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
    /// Share of the time budget used, 0..1 (0 when only a trial budget is set).
    pub elapsed_fraction: f64,
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

/// A strategy by name (`random`, `evolution`, `bayes` or `auto`), seeded.
pub fn by_name(name: &str, seed: u64) -> Option<Box<dyn Strategy>> {
    Some(match name {
        "random" => Box::new(RandomSearch::new(seed)),
        "evolution" => Box::new(Evolution::new(seed)),
        "bayes" => Box::new(Bayes::new(seed)),
        "auto" => Box::new(Auto::new(seed)),
        _ => return None,
    })
}
