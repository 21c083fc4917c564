//! The default strategy: cheap-first defaults, then a portfolio of known-good configurations,
//! then TPE.

use crate::bayes::Bayes;
use crate::common::allowed;
use crate::{AskContext, Strategy};
use automl_core::{Candidate, Rng, TrialRecord};
use std::collections::VecDeque;

/// `auto`: the defaults of every allowed family (cheap first), then the portfolio candidates
/// given to [`Auto::with_portfolio`] (operator `portfolio`; those of families not allowed or not in
/// the space are skipped, invalid parameters repaired), then [`Bayes`] (TPE after 5 trials per
/// family).
#[derive(Debug, Clone)]
pub struct Auto {
    bayes: Bayes,
    portfolio: VecDeque<Candidate>,
    rng: Rng,
}

impl Auto {
    /// Auto without a portfolio.
    pub fn new(seed: u64) -> Self {
        Auto {
            // TPE after 5 trials of a family, not the 3 of `bayes`: at 60 s, auto with 3 modelled
            // the expensive forests early and ran about half as many trials on bikeshare,
            // diamonds and rodents (39 / 68 / 45 against 84 / 156 / 77).
            bayes: {
                let mut b = Bayes::new(seed);
                b.n_startup = 5;
                b
            },
            portfolio: VecDeque::new(),
            rng: Rng::derive(seed, 0x6175_746f),
        }
    }

    /// Add portfolio candidates, tried in the given order after the defaults.
    pub fn with_portfolio(mut self, portfolio: Vec<Candidate>) -> Self {
        self.portfolio.extend(portfolio);
        self
    }

    fn next_portfolio(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        let fams = allowed(ctx);
        while let Some(c) = self.portfolio.pop_front() {
            let Some((_, fam)) = fams.iter().find(|(_, f)| f.name == c.family) else {
                continue;
            };
            let params = if fam.is_valid(ctx.task, &c.params) {
                c.params.clone()
            } else {
                fam.repair(ctx.task, &c.params, &mut self.rng)
            };
            if self.bayes.tracker.claim(&fam.name, &params) {
                return Some(Candidate::new(fam.name.clone(), params, "portfolio"));
            }
        }
        None
    }
}

impl Strategy for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        if let Some(c) = self.bayes.tracker.next_default(ctx) {
            return Some(c);
        }
        if let Some(c) = self.next_portfolio(ctx) {
            return Some(c);
        }
        self.bayes.ask(ctx)
    }

    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        self.bayes.tell(ctx, trial);
    }
}
