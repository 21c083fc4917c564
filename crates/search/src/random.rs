//! Random search: cheap-first defaults, then uniform samples over families and parameters.

use crate::common::Tracker;
use crate::{AskContext, Strategy};
use automl_core::{Candidate, Rng, TrialRecord};

/// Random search (`random`): first the default configuration of each allowed family in
/// cheap-first order (operator `default`), then a family drawn uniformly (families that keep
/// failing less often) and its parameters sampled uniformly (operator `random`). Never proposes
/// a configuration twice.
#[derive(Debug, Clone)]
pub struct RandomSearch {
    rng: Rng,
    tracker: Tracker,
}

impl RandomSearch {
    /// A random search seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        RandomSearch {
            rng: Rng::derive(seed, 0x7261_6e64),
            tracker: Tracker::default(),
        }
    }
}

impl Strategy for RandomSearch {
    fn name(&self) -> &'static str {
        "random"
    }

    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        if let Some(c) = self.tracker.next_default(ctx) {
            return Some(c);
        }
        self.tracker.random_candidate(ctx, &mut self.rng, "random")
    }

    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        self.tracker.observe(ctx.metric, trial);
    }
}
