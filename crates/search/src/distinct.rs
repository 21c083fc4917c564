//! No near-copies: a wrapper that replaces a proposal within noise of a configuration already
//! asked or told by one that explores.
//!
//! Measured on penguins at 10 s before this existed: the top 30 trials were all `logistic` with
//! alpha 1.000e-5…1.012e-5 and max_iterations 66–84, with identical scores — TPE kept refining a
//! point at the edge of the space whose neighbourhood cannot score differently.

use crate::common::{allowed, candidate_key};
use crate::{AskContext, FULL_FIDELITY_OPERATORS, Strategy};
use automl_core::{Candidate, Params, Rng, Task, TrialRecord};
use automl_space::{Distribution, FamilySpace, value_key};
use std::collections::{BTreeMap, BTreeSet};

/// Largest per-parameter distance, in the `[0,1]` encoding of the space, at which two numeric
/// values count as the same (about a fiftieth of a parameter's range).
pub const NEAR_COPY_DISTANCE: f64 = 0.02;

/// Told configurations with identical fold scores are merged into one region (a box) only
/// while the box spans at most this much of every parameter's encoded range: two distant
/// configurations that happen to score the same say nothing about what lies between them.
pub const TWIN_SPAN: f64 = 0.25;

/// Replacement attempts before a near-copy is given up on and proposed anyway.
pub const NEAR_COPY_RETRIES: usize = 12;

/// Proposals taken from the inner strategy in one ask when each is an exact repeat of an
/// earlier one that could not be replaced (the space is nearly exhausted); then `None`.
const INNER_ASKS: usize = 4;

/// Operators the wrapper never replaces: given configurations and promotions of an earlier
/// trial (the same configuration again on purpose, at a higher fidelity).
fn exempt(operator: &str) -> bool {
    FULL_FIDELITY_OPERATORS.contains(&operator) || operator == "promote"
}

/// The configurations of one family and one set of categorical choices that are known alike:
/// either one configuration (asked or told) or several told ones whose fold scores were
/// bit-for-bit identical (the parameters they differ in did not change the score there).
#[derive(Debug, Clone)]
struct Region {
    /// Per encoded dimension, the smallest and largest value of the members.
    low: Vec<f64>,
    high: Vec<f64>,
}

impl Region {
    fn point(u: &[f64]) -> Self {
        Region {
            low: u.to_vec(),
            high: u.to_vec(),
        }
    }

    fn extend(&mut self, u: &[f64]) {
        for (d, x) in u.iter().enumerate() {
            self.low[d] = self.low[d].min(*x);
            self.high[d] = self.high[d].max(*x);
        }
    }

    fn spans_within(&self, u: &[f64], span: f64) -> bool {
        u.iter()
            .enumerate()
            .all(|(d, x)| self.high[d].max(*x) - self.low[d].min(*x) <= span)
    }

    fn contains(&self, u: &[f64]) -> bool {
        u.iter().enumerate().all(|(d, x)| {
            *x >= self.low[d] - NEAR_COPY_DISTANCE && *x <= self.high[d] + NEAR_COPY_DISTANCE
        })
    }
}

/// Wraps a strategy so that it never proposes a near-copy of a configuration already asked or
/// told (see [`Distinct::is_near_copy`]). A near-copy is replaced by a hard mutation of it
/// (every parameter moved), then by fresh samples of its family, at most
/// [`NEAR_COPY_RETRIES`] attempts, all drawn from the wrapper's own seeded [`Rng`], so the
/// search stays deterministic given the ask/tell sequence; the replacement keeps the parents
/// and gets operator `explore`. When every attempt is a near-copy too (a family with a tiny
/// space), the original proposal goes ahead. Defaults, portfolio, warm-start and promoted
/// candidates are never replaced.
pub struct Distinct {
    inner: Box<dyn Strategy>,
    rng: Rng,
    /// Key (family, categorical choices) → the regions known there.
    regions: BTreeMap<String, Vec<Region>>,
    /// Key (family, categorical choices, fidelity, fold scores) → indices in `regions[key]` of
    /// the regions of the told trials that scored exactly so.
    twins: BTreeMap<(String, Vec<u64>), Vec<usize>>,
    /// Exact keys of every configuration proposed.
    asked: BTreeSet<String>,
    /// Proposals replaced so far.
    pub replaced: usize,
}

impl std::fmt::Debug for Distinct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distinct")
            .field("inner", &self.inner.name())
            .field("replaced", &self.replaced)
            .finish_non_exhaustive()
    }
}

/// The key of a configuration's categorical choices within its family, and its numeric
/// coordinates in the `[0,1]` encoding (categorical dimensions left out).
fn split(fam: &FamilySpace, task: Task, params: &Params) -> (String, Vec<f64>) {
    let mut key = fam.name.clone();
    let mut u = Vec::new();
    for (spec, x) in fam.dim_specs(task).iter().zip(fam.encode(task, params)) {
        match spec.dist {
            Distribution::Categorical { .. } => {
                key.push('|');
                key.push_str(&spec.name);
                key.push('=');
                key.push_str(&params.get(&spec.name).map(value_key).unwrap_or_default());
            }
            _ => u.push(x),
        }
    }
    (key, u)
}

impl Distinct {
    /// Wrap `inner`; replacements are drawn from a stream derived from `seed`.
    pub fn new(inner: Box<dyn Strategy>, seed: u64) -> Self {
        Distinct {
            inner,
            rng: Rng::derive(seed, 0x6469_7374),
            regions: BTreeMap::new(),
            twins: BTreeMap::new(),
            asked: BTreeSet::new(),
            replaced: 0,
        }
    }

    /// Whether `params` of `fam` is a near-copy of a configuration asked or told before: the
    /// same family and categorical choices, and every numeric parameter within
    /// [`NEAR_COPY_DISTANCE`] of it in the `[0,1]` encoding — or inside (by that distance) the
    /// box spanned by told configurations whose fold scores were identical (a box at most
    /// [`TWIN_SPAN`] wide).
    pub fn is_near_copy(&self, fam: &FamilySpace, task: Task, params: &Params) -> bool {
        let (key, u) = split(fam, task, params);
        self.regions
            .get(&key)
            .is_some_and(|rs| rs.iter().any(|r| r.contains(&u)))
    }

    fn remember(&mut self, fam: &FamilySpace, task: Task, params: &Params) {
        let (key, u) = split(fam, task, params);
        self.regions.entry(key).or_default().push(Region::point(&u));
    }

    fn replacement(&mut self, fam: &FamilySpace, task: Task, params: &Params) -> Option<Params> {
        let all = fam.dims(task).max(1);
        for attempt in 0..NEAR_COPY_RETRIES {
            let p = if attempt < NEAR_COPY_RETRIES / 2 {
                fam.mutate(task, params, &mut self.rng, all)
            } else {
                fam.sample(task, &mut self.rng)
            };
            if candidate_key(&fam.name, &p) != candidate_key(&fam.name, params)
                && !self.is_near_copy(fam, task, &p)
            {
                return Some(p);
            }
        }
        None
    }
}

impl Strategy for Distinct {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        let fams = allowed(ctx);
        for _ in 0..INNER_ASKS {
            let mut c = self.inner.ask(ctx)?;
            let Some((_, fam)) = fams.iter().find(|(_, f)| f.name == c.family) else {
                return Some(c);
            };
            if !exempt(&c.operator) && self.is_near_copy(fam, ctx.task, &c.params) {
                if let Some(p) = self.replacement(fam, ctx.task, &c.params) {
                    c.params = p;
                    c.operator = "explore".into();
                    self.replaced += 1;
                } else if self.asked.contains(&candidate_key(&c.family, &c.params)) {
                    // An exact repeat of a replacement the inner strategy did not know about.
                    continue;
                }
            }
            self.asked.insert(candidate_key(&c.family, &c.params));
            self.remember(fam, ctx.task, &c.params);
            return Some(c);
        }
        None
    }

    fn tell(&mut self, ctx: &AskContext<'_>, trial: &TrialRecord) {
        if let Some(fam) = ctx.space.family(&trial.candidate.family) {
            let (key, u) = split(fam, ctx.task, &trial.candidate.params);
            if trial.is_scored() && !trial.fold_scores.is_empty() {
                // Told trials with identical fold scores (same family, choices, fidelity, folds)
                // span a region where the differing parameters did not matter.
                let mut bits: Vec<u64> = vec![
                    trial.candidate.fidelity.to_bits(),
                    trial.candidate.folds.map_or(0, u64::from),
                ];
                bits.extend(trial.fold_scores.iter().map(|s| s.to_bits()));
                let regions = self.regions.entry(key.clone()).or_default();
                let twins = self.twins.entry((key, bits)).or_default();
                match twins
                    .iter()
                    .find(|&&i| regions[i].spans_within(&u, TWIN_SPAN))
                {
                    Some(&i) => regions[i].extend(&u),
                    None => {
                        regions.push(Region::point(&u));
                        twins.push(regions.len() - 1);
                    }
                }
            } else {
                self.regions.entry(key).or_default().push(Region::point(&u));
            }
        }
        self.inner.tell(ctx, trial);
    }
}
