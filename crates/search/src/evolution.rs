//! Regularized (aging) evolution (Real et al. 2019) over model families and their parameters.

use crate::common::{Tracker, allowed, full_fidelity, trial_loss, weighted_index};
use crate::{AskContext, Strategy};
use automl_core::{Candidate, Params, Rng, TrialRecord};
use std::collections::VecDeque;

/// One member of the population: a complete trial.
#[derive(Debug, Clone)]
struct Member {
    id: u64,
    family: String,
    params: Params,
    loss: f64,
}

/// Regularized evolution (`evolution`). The cheap-first defaults are the first generation (random
/// samples while fewer than `tournament_size` of them scored); then each ask runs a tournament
/// over the population (the most recent `population_size` complete trials: the oldest die
/// first) and
/// - with probability `p_switch` samples a different family afresh (operator `family_switch`),
/// - with probability `p_crossover` crosses the winner with the winner of a second tournament
///   among its family (operator `crossover`, parents `[a, b]`),
/// - otherwise mutates 1-2 parameters of the winner (operator `mutate`, parents `[winner]`).
#[derive(Debug, Clone)]
pub struct Evolution {
    rng: Rng,
    tracker: Tracker,
    population: VecDeque<Member>,
    /// Population size (most recent complete trials kept).
    pub population_size: usize,
    /// Tournament size.
    pub tournament_size: usize,
    /// Probability of a family switch.
    pub p_switch: f64,
    /// Probability of a crossover.
    pub p_crossover: f64,
}

impl Evolution {
    /// Regularized evolution with population 20, tournaments of 5, 10% family switches and 20%
    /// crossovers.
    pub fn new(seed: u64) -> Self {
        Evolution {
            rng: Rng::derive(seed, 0x6576_6f6c),
            tracker: Tracker::default(),
            population: VecDeque::new(),
            population_size: 20,
            tournament_size: 5,
            p_switch: 0.1,
            p_crossover: 0.2,
        }
    }

    /// Tournament among population members whose family passes `keep`; returns the index of the
    /// best (lowest loss) of up to `tournament_size` sampled members.
    fn tournament(&mut self, keep: impl Fn(&Member) -> bool) -> Option<usize> {
        let pool: Vec<usize> = (0..self.population.len())
            .filter(|&i| keep(&self.population[i]))
            .collect();
        if pool.is_empty() {
            return None;
        }
        let picks = self.rng.sample_indices(pool.len(), self.tournament_size);
        picks.into_iter().map(|j| pool[j]).min_by(|&a, &b| {
            let (la, lb) = (self.population[a].loss, self.population[b].loss);
            la.total_cmp(&lb)
                .then(self.population[a].id.cmp(&self.population[b].id))
        })
    }

    fn evolve(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        let fams = allowed(ctx);
        let is_allowed = |name: &str| fams.iter().any(|(_, f)| f.name == name);
        let w = self.tournament(|m| is_allowed(&m.family))?;
        let winner = self.population[w].clone();
        let fam = fams
            .iter()
            .map(|(_, f)| *f)
            .find(|f| f.name == winner.family)?;
        let r = self.rng.f64();

        if r < self.p_switch {
            let others: Vec<_> = fams
                .iter()
                .map(|(_, f)| *f)
                .filter(|f| f.name != winner.family && !self.tracker.exhausted(f, ctx))
                .collect();
            if !others.is_empty() {
                let weights: Vec<f64> = others
                    .iter()
                    .map(|f| self.tracker.family(&f.name).health())
                    .collect();
                let other = others[weighted_index(&weights, &mut self.rng)];
                if let Some(p) = self.tracker.fresh_sample(other, ctx, &mut self.rng) {
                    return Some(Candidate::new(other.name.clone(), p, "family_switch"));
                }
            }
        } else if r < self.p_switch + self.p_crossover {
            let b = self.tournament(|m| m.family == winner.family && m.id != winner.id);
            if let Some(b) = b {
                let mate = self.population[b].clone();
                let mut child =
                    fam.crossover(ctx.task, &winner.params, &mate.params, &mut self.rng);
                for _ in 0..8 {
                    if self.tracker.claim(&fam.name, &child) {
                        let mut c = Candidate::new(fam.name.clone(), child, "crossover");
                        c.parents = vec![winner.id, mate.id];
                        return Some(c);
                    }
                    child = fam.mutate(ctx.task, &child, &mut self.rng, 1);
                }
            }
        }
        // Mutation (also the fallback of the other operators).
        // 1-2 changes; each retry after a duplicate changes one more parameter.
        let first = 1 + self.rng.below(2);
        for n in first..first + 12 {
            let child = fam.mutate(ctx.task, &winner.params, &mut self.rng, n);
            if self.tracker.claim(&fam.name, &child) {
                let mut c = Candidate::new(fam.name.clone(), child, "mutate");
                c.parents = vec![winner.id];
                return Some(c);
            }
        }
        None
    }
}

impl Strategy for Evolution {
    fn name(&self) -> &'static str {
        "evolution"
    }

    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        if let Some(c) = self.tracker.next_default(ctx) {
            return Some(c);
        }
        // The cheap-first defaults are the first generation: evolution starts as soon as a
        // tournament can be held. (Waiting for `population_size` trials, as before, made the 8
        // trials after the 12 defaults of a 20-trial search all random.)
        if self.population.len() >= self.tournament_size.min(self.population_size) {
            if let Some(c) = self.evolve(ctx) {
                return Some(c);
            }
        }
        self.tracker.random_candidate(ctx, &mut self.rng, "random")
    }

    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        self.tracker.observe(ctx.metric, trial);
        if trial.is_scored() && full_fidelity(trial) {
            self.population.push_back(Member {
                id: trial.trial_id,
                family: trial.candidate.family.clone(),
                params: trial.candidate.params.clone(),
                loss: trial_loss(ctx.metric, trial),
            });
            while self.population.len() > self.population_size {
                self.population.pop_front();
            }
        }
    }
}
