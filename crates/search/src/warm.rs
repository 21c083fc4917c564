//! Warm start and zero-shot portfolio: given configurations proposed before the wrapped
//! strategy's own.

use crate::common::{allowed, candidate_key, far_behind, predicted_fit_s};
use crate::{AskContext, Strategy};
use automl_core::{Candidate, Rng, TrialRecord};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Largest share of the search time left that one given candidate's predicted fit time may take.
pub const GIVEN_MAX_SHARE_OF_TIME_LEFT: f64 = 0.25;

/// Proposes given candidates first, then defers to an inner strategy.
///
/// Order: the `warm_start` candidates (operator `warm_start`, parents kept: typically the best
/// configurations of an earlier study), then the `portfolio` ones (operator `portfolio`, no
/// parents), then the inner strategy. Candidates whose family is not allowed by the context are
/// skipped; invalid parameters are repaired (seeded). Every given candidate runs at full fidelity.
/// Configurations already proposed or told (e.g. after a resume) are not proposed again, and the
/// inner strategy's proposals that repeat one of them are skipped (promotions excepted: they
/// repeat a configuration on purpose).
///
/// Under a time budget, a given forest whose predicted fit time (from the trials of its family
/// told so far, see `predicted_fit_s`) is more than [`GIVEN_MAX_SHARE_OF_TIME_LEFT`] of the
/// search time left is skipped: the portfolio was chosen on other datasets, and on ames its
/// 258-tree random forest ran into the per-trial limit (30 s of a 60 s budget) after three of
/// five folds. So is a portfolio candidate (not a warm-start one) whose family is far behind
/// on this dataset and not cheap (`common::far_behind`).
///
/// Under a time budget, the inner strategy's full-fidelity candidates of a family that has a
/// trial in flight and none told yet (a *waiting* family) are held back: the first one (often
/// the family default) until the family's first trial is told, the others dropped. A released
/// candidate whose family turned out far behind is dropped too. Measured on bikeshare (60 s):
/// the `mlp` default (11.3 s) was asked while its portfolio twin (11.5 s) was still running, and
/// both scored 25 % behind the `gbdt`; the far-behind gate only sees told trials. When nothing
/// else can be proposed, a held candidate is proposed anyway, so holding never ends a search.
///
/// Under a time budget, a *lead* family ([`WarmStart::with_lead`]) has its default asked right
/// after the warm-start candidates, before the portfolio. Measured at 10 s on rodents with the
/// portfolio built without rodents (BENCHMARKS §53): the first members, chosen on iris, penguins
/// and digits, filled the budget with `logistic` and `mlp` models and a `gbdt` from digits that
/// timed out (log loss 0.48-0.50); with the GBDT default first, 0.41-0.42.
pub struct WarmStart {
    inner: Box<dyn Strategy>,
    queue: VecDeque<Candidate>,
    seen: BTreeSet<String>,
    rng: Rng,
    /// Family and count of the candidates proposed and not yet told, by configuration key.
    in_flight: BTreeMap<String, (String, usize)>,
    /// Candidates of waiting families held back, at most one per family, in ask order.
    held: VecDeque<Candidate>,
    /// The family whose default leads the given candidates under a time budget (until asked).
    lead: Option<String>,
}

impl std::fmt::Debug for WarmStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmStart")
            .field("inner", &self.inner.name())
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl WarmStart {
    /// Wrap `inner`; `seed` drives the repair of invalid parameters.
    pub fn new(
        inner: Box<dyn Strategy>,
        warm_start: Vec<Candidate>,
        portfolio: Vec<Candidate>,
        seed: u64,
    ) -> Self {
        let warm = warm_start.into_iter().map(|mut c| {
            c.operator = "warm_start".into();
            c
        });
        let port = portfolio.into_iter().map(|mut c| {
            c.operator = "portfolio".into();
            c.parents.clear();
            c
        });
        WarmStart {
            inner,
            queue: warm.chain(port).collect(),
            seen: BTreeSet::new(),
            rng: Rng::derive(seed, 0x7761_726d),
            in_flight: BTreeMap::new(),
            held: VecDeque::new(),
            lead: None,
        }
    }

    /// Ask `family`'s default before the portfolio (after the warm start) under a time budget;
    /// ignored when the family is not allowed or without a time budget.
    pub fn with_lead(mut self, family: Option<String>) -> Self {
        self.lead = family;
        self
    }

    /// The lead family's default, once: when no warm-start candidate is left to propose.
    fn next_lead(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        if self
            .queue
            .front()
            .is_some_and(|c| c.operator == "warm_start")
        {
            return None;
        }
        let name = self.lead.take()?;
        ctx.time_left_s?;
        let fams = allowed(ctx);
        let (_, fam) = fams.iter().find(|(_, f)| f.name == name)?;
        let params = fam.default_params(ctx.task);
        if !self.seen.insert(candidate_key(&fam.name, &params)) {
            return None;
        }
        let mut c = Candidate::new(fam.name.clone(), params, "default");
        c.fidelity = 1.0;
        Some(c)
    }

    /// Whether `family` has a trial in flight and none told yet (under a time budget only: a
    /// trial budget's proposals must not depend on when trials finish).
    fn waiting(&self, ctx: &AskContext<'_>, family: &str) -> bool {
        ctx.time_left_s.is_some()
            && self.in_flight.values().any(|(f, _)| f == family)
            && !ctx.history.iter().any(|t| t.candidate.family == family)
    }

    /// The first held candidate whose family is no longer waiting; those of families now far
    /// behind are dropped.
    fn release(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        while let Some(i) = self.held.iter().position(|c| !self.waiting(ctx, &c.family)) {
            let c = self.held.remove(i)?;
            if !far_behind(ctx, &c.family) {
                return Some(c);
            }
        }
        None
    }

    /// Record `c` as proposed and in flight.
    fn propose(&mut self, c: Candidate) -> Candidate {
        self.in_flight
            .entry(candidate_key(&c.family, &c.params))
            .or_insert_with(|| (c.family.clone(), 0))
            .1 += 1;
        c
    }

    /// Candidates still queued (not yet proposed nor skipped).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn next_given(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        let fams = allowed(ctx);
        while let Some(mut c) = self.queue.pop_front() {
            let Some((_, fam)) = fams.iter().find(|(_, f)| f.name == c.family) else {
                continue;
            };
            if !fam.is_valid(ctx.task, &c.params) {
                c.params = fam.repair(ctx.task, &c.params, &mut self.rng);
            }
            if let (Some(left), Some(pred)) = (ctx.time_left_s, predicted_fit_s(ctx.history, &c)) {
                if pred > GIVEN_MAX_SHARE_OF_TIME_LEFT * left {
                    continue;
                }
            }
            if c.operator == "portfolio" && far_behind(ctx, &c.family) {
                continue;
            }
            if self.seen.insert(candidate_key(&c.family, &c.params)) {
                c.fidelity = 1.0;
                return Some(c);
            }
        }
        None
    }
}

impl Strategy for WarmStart {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        if let Some(c) = self.next_lead(ctx) {
            return Some(self.propose(c));
        }
        if let Some(c) = self.next_given(ctx) {
            return Some(self.propose(c));
        }
        if let Some(c) = self.release(ctx) {
            return Some(self.propose(c));
        }
        // The inner strategy never repeats itself, so a few retries skip the given ones it hits
        // and the candidates of waiting families.
        for _ in 0..64 {
            let Some(c) = self.inner.ask(ctx) else {
                break;
            };
            if c.operator != "promote" && !self.seen.insert(candidate_key(&c.family, &c.params)) {
                continue;
            }
            if c.operator != "promote" && c.is_full_cv() && self.waiting(ctx, &c.family) {
                if !self.held.iter().any(|h| h.family == c.family) {
                    self.held.push_back(c);
                }
                continue;
            }
            return Some(self.propose(c));
        }
        // Nothing else to propose: a held candidate rather than the end of the search.
        let c = self.held.pop_front()?;
        Some(self.propose(c))
    }

    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        let key = candidate_key(&trial.candidate.family, &trial.candidate.params);
        if let Some((_, n)) = self.in_flight.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&key);
            }
        }
        self.seen.insert(key);
        self.inner.tell(ctx, trial);
    }
}
