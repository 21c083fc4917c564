//! Bookkeeping shared by the strategies: losses, duplicate detection, the cheap-first defaults,
//! per-family statistics from told trials, and family selection helpers.

use crate::{AskContext, FamilyInfo};
use automl_core::{Candidate, Metric, Params, Rng, TrialRecord, TrialState};
use automl_space::{FamilySpace, value_key};
use std::collections::{BTreeMap, BTreeSet};

/// Loss of a trial (smaller is better): `metric.as_loss(mean)` for scored trials, +inf otherwise.
pub fn trial_loss(metric: Metric, trial: &TrialRecord) -> f64 {
    if trial.is_scored() {
        metric.as_loss(trial.mean)
    } else {
        f64::INFINITY
    }
}

/// A stable identity of a (family, params) configuration, for duplicate detection.
pub fn candidate_key(family: &str, params: &Params) -> String {
    let mut key = family.to_string();
    for (k, v) in params {
        key.push('|');
        key.push_str(k);
        key.push('=');
        key.push_str(&value_key(v));
    }
    key
}

/// Whether a trial ran at full fidelity, on every row of every fold (its score is comparable
/// with the others).
pub(crate) fn full_fidelity(trial: &TrialRecord) -> bool {
    trial.candidate.is_full_cv()
}

/// What the told trials say about one family.
#[derive(Debug, Clone, Default)]
pub(crate) struct FamilyStats {
    /// Trials told (any state).
    pub told: usize,
    /// Complete trials with a finite score.
    pub scored: usize,
    /// Failed or timed-out trials.
    pub failed: usize,
    /// Failures since the last scored trial.
    pub failure_streak: usize,
    /// Best loss so far (+inf when none).
    pub best_loss: f64,
    /// Sum and count of positive fit times of complete trials.
    pub fit_time_sum: f64,
    pub fit_time_n: usize,
}

impl FamilyStats {
    /// Mean observed fit time, if any.
    pub fn mean_fit_time(&self) -> Option<f64> {
        (self.fit_time_n > 0).then(|| self.fit_time_sum / self.fit_time_n as f64)
    }

    /// Multiplier in (0, 1] that deprioritises families that keep failing.
    pub fn health(&self) -> f64 {
        if self.failed == 0 {
            return 1.0;
        }
        let ok_share = (self.scored as f64 + 1.0) / (self.told as f64 + 1.0);
        let streak = 0.5f64.powi(self.failure_streak.saturating_sub(1).min(8) as i32);
        (ok_share * ok_share * streak).max(0.01)
    }
}

/// Proposed and observed configurations plus per-family statistics.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    seen: BTreeSet<String>,
    pub stats: BTreeMap<String, FamilyStats>,
    /// Number of trials told.
    pub told: usize,
    /// Number of candidates proposed.
    pub proposed: usize,
}

impl Tracker {
    /// Record a finished trial.
    pub fn observe(&mut self, metric: Metric, trial: &TrialRecord) {
        self.told += 1;
        if full_fidelity(trial) {
            self.seen.insert(candidate_key(
                &trial.candidate.family,
                &trial.candidate.params,
            ));
        }
        let s = self
            .stats
            .entry(trial.candidate.family.clone())
            .or_insert_with(|| FamilyStats {
                best_loss: f64::INFINITY,
                ..FamilyStats::default()
            });
        s.told += 1;
        match trial.state {
            TrialState::Complete if trial.is_scored() => {
                s.scored += 1;
                s.failure_streak = 0;
                if full_fidelity(trial) {
                    s.best_loss = s.best_loss.min(trial_loss(metric, trial));
                }
                if trial.fit_time_s.is_finite() && trial.fit_time_s > 0.0 {
                    s.fit_time_sum += trial.fit_time_s;
                    s.fit_time_n += 1;
                }
            }
            TrialState::Complete | TrialState::Failed | TrialState::TimedOut => {
                s.failed += 1;
                s.failure_streak += 1;
            }
            TrialState::Running | TrialState::Interrupted => {}
        }
    }

    /// Whether a configuration was already proposed or told.
    pub fn is_seen(&self, family: &str, params: &Params) -> bool {
        self.seen.contains(&candidate_key(family, params))
    }

    /// Register a proposal; false (and nothing registered) when it is a duplicate.
    pub fn claim(&mut self, family: &str, params: &Params) -> bool {
        let fresh = self.seen.insert(candidate_key(family, params));
        if fresh {
            self.proposed += 1;
        }
        fresh
    }

    /// Stats of a family (empty when nothing was told about it).
    pub fn family(&self, name: &str) -> FamilyStats {
        self.stats.get(name).cloned().unwrap_or(FamilyStats {
            best_loss: f64::INFINITY,
            ..FamilyStats::default()
        })
    }

    /// The next untried default configuration, in the context's cheap-first family order.
    pub fn next_default(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        for (_, fam) in allowed(ctx) {
            let params = fam.default_params(ctx.task);
            if self.is_seen(&fam.name, &params) || far_behind(ctx, &fam.name) {
                continue;
            }
            if self.claim(&fam.name, &params) {
                return Some(Candidate::new(fam.name.clone(), params, "default"));
            }
        }
        None
    }

    /// Whether every configuration of a family without searchable parameters was tried.
    pub fn exhausted(&self, fam: &FamilySpace, ctx: &AskContext<'_>) -> bool {
        fam.dims(ctx.task) == 0 && self.is_seen(&fam.name, &fam.default_params(ctx.task))
    }

    /// A fresh random sample of `fam` that was not proposed before (a few attempts).
    pub fn fresh_sample(
        &mut self,
        fam: &FamilySpace,
        ctx: &AskContext<'_>,
        rng: &mut Rng,
    ) -> Option<Params> {
        for _ in 0..32 {
            let p = fam.sample(ctx.task, rng);
            if self.claim(&fam.name, &p) {
                return Some(p);
            }
        }
        None
    }

    /// A random candidate: family drawn among the allowed ones (failing families less often),
    /// then its parameters uniformly. `None` when no new configuration could be found.
    pub fn random_candidate(
        &mut self,
        ctx: &AskContext<'_>,
        rng: &mut Rng,
        operator: &str,
    ) -> Option<Candidate> {
        let mut fams: Vec<&FamilySpace> = allowed(ctx)
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| !self.exhausted(f, ctx))
            .collect();
        while !fams.is_empty() {
            let weights: Vec<f64> = fams.iter().map(|f| self.family(&f.name).health()).collect();
            let i = weighted_index(&weights, rng);
            if let Some(p) = self.fresh_sample(fams[i], ctx, rng) {
                return Some(Candidate::new(fams[i].name.clone(), p, operator));
            }
            fams.remove(i);
        }
        None
    }
}

/// The families that may be proposed: allowed by the context (cheap-first order), present in the
/// space and searched for the task.
pub(crate) fn allowed<'a>(ctx: &AskContext<'a>) -> Vec<(&'a FamilyInfo, &'a FamilySpace)> {
    ctx.families
        .iter()
        .filter_map(|info| {
            ctx.space
                .family(&info.name)
                .filter(|f| f.applies_to(ctx.task))
                .map(|f| (info, f))
        })
        .collect()
}

/// Index drawn with probability proportional to `weights` (non-finite or negative weights count
/// as 0; uniform when all are 0). `weights` must not be empty.
pub(crate) fn weighted_index(weights: &[f64], rng: &mut Rng) -> usize {
    let clean: Vec<f64> = weights
        .iter()
        .map(|w| if w.is_finite() && *w > 0.0 { *w } else { 0.0 })
        .collect();
    let total: f64 = clean.iter().sum();
    if total <= 0.0 {
        return rng.below(weights.len());
    }
    let mut r = rng.f64() * total;
    for (i, w) in clean.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    clean.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// Size of a forest configuration, the unit its fit time grows with: `n_trees * max_features`
/// (random forest and extra trees; None for other families or missing parameters).
pub(crate) fn forest_size(family: &str, params: &Params) -> Option<f64> {
    if family != "random_forest" && family != "extra_trees" {
        return None;
    }
    let trees = params.get("n_trees")?.as_f64()?;
    let feats = params.get("max_features")?.as_f64()?;
    Some(trees * feats.clamp(0.01, 1.0))
}

/// Predicted fit time (seconds, all folds) of a forest candidate on this dataset: its size times
/// the median seconds per unit of size of the complete full-fidelity trials of its family so
/// far. None when it is not a forest or no such trial was told yet.
pub(crate) fn predicted_fit_s(history: &[TrialRecord], c: &Candidate) -> Option<f64> {
    let size = forest_size(&c.family, &c.params)?;
    let mut per_unit: Vec<f64> = history
        .iter()
        .filter(|t| {
            t.state == TrialState::Complete
                && t.candidate.family == c.family
                && full_fidelity(t)
                && t.fit_time_s > 0.0
        })
        .filter_map(|t| Some(t.fit_time_s / forest_size(&t.candidate.family, &t.candidate.params)?))
        .collect();
    if per_unit.is_empty() {
        return None;
    }
    per_unit.sort_by(f64::total_cmp);
    Some(per_unit[per_unit.len() / 2] * size)
}

/// The median of ascending, non-empty `v` (the mean of the two middle values for an even length).
pub(crate) fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// A family is far behind on this dataset when its best loss trails the best of the other
/// families by more than this many times the leading family's spread (the gap between that
/// family's best and its median, see [`far_behind`]).
pub const FAR_BEHIND: f64 = 2.0;

/// Told full-fidelity scored trials of the other families needed before a family can be judged
/// far behind, and of the leading family before its own spread is the yardstick.
pub const FAR_BEHIND_MIN_TOLD: usize = 3;

/// A family far behind is only passed over when its trials cost more than this share of the
/// search time left: on cheap data a configuration is worth its fraction of a second.
pub const FAR_BEHIND_MIN_SHARE_OF_TIME_LEFT: f64 = 0.02;

/// Whether a given candidate (portfolio) or a family default of `family` should be passed over:
/// under a time budget, the family's best told full-fidelity loss trails the best of the other
/// families' told full-fidelity trials by more than [`FAR_BEHIND`] times the *leading family's
/// spread*, and its mean fit time is more than [`FAR_BEHIND_MIN_SHARE_OF_TIME_LEFT`] of the
/// search time left. A family nothing was told about is never behind.
///
/// The leading family is the family of that best trial, and its spread is the gap between its
/// best and the median of its told full-fidelity trials (at least [`FAR_BEHIND_MIN_TOLD`] of
/// them); until it has that many, the gap to the median of all the other families' trials
/// (at least [`FAR_BEHIND_MIN_TOLD`]) stands in. A median over every family's trials moves
/// with how many trials each family happened to have told: on bikeshare at 60 s (seed 0) the
/// `mlp` (best RMSE 37.1 against the `gbdt`'s 29.7, 8.9 s a trial) was far behind until the
/// twelfth cheap linear, `knn` and tree trial (RMSE 50-103) was told, when the median jumped
/// from 31 to 41 and the `mlp` default ran for 9 s (BENCHMARKS §37 and §55). The family's own
/// trials are never in the spread: its near-copies would drag it to its own score (on rodents
/// seven `logistic` portfolio configurations all scored 0.929, the best `gbdt` 0.403, at 3.5 s
/// each).
pub(crate) fn far_behind(ctx: &AskContext<'_>, family: &str) -> bool {
    let Some(left) = ctx.time_left_s else {
        return false;
    };
    let mut others: Vec<(f64, &str)> = Vec::new();
    let mut fam_best = f64::INFINITY;
    let (mut fit_sum, mut fit_n) = (0.0, 0usize);
    for t in ctx.history {
        if !(t.is_scored() && full_fidelity(t)) {
            continue;
        }
        let loss = trial_loss(ctx.metric, t);
        if !loss.is_finite() {
            continue;
        }
        if t.candidate.family == family {
            fam_best = fam_best.min(loss);
            if t.fit_time_s.is_finite() && t.fit_time_s > 0.0 {
                fit_sum += t.fit_time_s;
                fit_n += 1;
            }
        } else {
            others.push((loss, t.candidate.family.as_str()));
        }
    }
    if others.len() < FAR_BEHIND_MIN_TOLD || !fam_best.is_finite() || fit_n == 0 {
        return false;
    }
    if fit_sum / fit_n as f64 <= FAR_BEHIND_MIN_SHARE_OF_TIME_LEFT * left.max(0.0) {
        return false;
    }
    others.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (best, leader) = others[0];
    let lead: Vec<f64> = others
        .iter()
        .filter(|(_, f)| *f == leader)
        .map(|(l, _)| *l)
        .collect();
    let spread_of = if lead.len() >= FAR_BEHIND_MIN_TOLD {
        lead
    } else {
        others.iter().map(|(l, _)| *l).collect()
    };
    let gap = median_of_sorted(&spread_of) - best;
    gap > 0.0 && fam_best - best > FAR_BEHIND * gap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_index_follows_weights() {
        let mut rng = Rng::new(1);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[weighted_index(&[1.0, 0.0, 3.0], &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((2200..2800).contains(&counts[0]), "{counts:?}");
        assert!(weighted_index(&[0.0, f64::NAN], &mut rng) < 2);
    }

    #[test]
    fn health_drops_with_failures() {
        let ok = FamilyStats {
            told: 5,
            scored: 5,
            ..FamilyStats::default()
        };
        let bad = FamilyStats {
            told: 5,
            scored: 0,
            failed: 5,
            failure_streak: 5,
            ..FamilyStats::default()
        };
        let mixed = FamilyStats {
            told: 5,
            scored: 4,
            failed: 1,
            failure_streak: 0,
            ..FamilyStats::default()
        };
        assert_eq!(ok.health(), 1.0);
        assert!(bad.health() < 0.05);
        assert!(mixed.health() > bad.health() && mixed.health() < 1.0);
    }
}
