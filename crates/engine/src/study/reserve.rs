//! The time the search leaves for the end of the study (invariant 9, the budget promise): the
//! final refit, ensemble scoring, the stacking's nested selection when it is cheap enough, and
//! the artifact work that no deadline bounds (building the ensemble trial, re-reading fold
//! models, encoding and writing the final model). The artifact work grows with model size: on
//! diamonds at `--time-budget 10`, three 40-tree forests (16 MB each) took 1.43 s to store as
//! the ensemble trial and 3.39 s after the refits to re-read and write as the final model, so
//! the fit took 12.87 s against a promise of 11.5 s.

use crate::ensemble::{EnsembleConfig, selection_secs, time_one_evaluation};
use automl_core::{Metric, Predictions, TrialRecord};
use automl_trainer::TrainingData;
use std::collections::BTreeMap;
use std::time::Duration;

/// How fast this study moves model artifacts through its store, learned from the trials it
/// stored (the time of `Store::finish_trial` per artifact byte: compression, chunked write and
/// flush), never assumed faster than [`ArtifactRate::FLOOR_S_PER_BYTE`]. The end of a study
/// does the same work, and more (decoding, encoding), on the ensemble trial's bag and on the
/// final model, and no deadline bounds it: the search must stop early enough to leave time
/// for it ([`wrapup_secs`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ArtifactRate {
    bytes: f64,
    secs: f64,
}

impl ArtifactRate {
    /// Seconds per byte assumed at least (10 ms per MB): stored trials on diamonds took 12 ms
    /// per MB at a load average of 4 on 2 cores, 10-22 ms per MB at 7-9.
    pub const FLOOR_S_PER_BYTE: f64 = 10e-9;

    /// Record that storing an artifact of `bytes` bytes took `secs` seconds.
    pub fn observe(&mut self, bytes: usize, secs: f64) {
        if bytes > 0 && secs.is_finite() && secs >= 0.0 {
            self.bytes += bytes as f64;
            self.secs += secs;
        }
    }

    /// Seconds per artifact byte: the observed average, or the floor if that is faster.
    pub fn secs_per_byte(&self) -> f64 {
        if self.bytes > 0.0 {
            (self.secs / self.bytes).max(Self::FLOOR_S_PER_BYTE)
        } else {
            Self::FLOOR_S_PER_BYTE
        }
    }
}

/// The artifact work left when the search stops, for [`wrapup_secs`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wrapup {
    /// An ensemble trial is still to be built: its members' artifacts are read and decoded,
    /// and their bag is encoded and stored as the ensemble trial's artifact.
    pub ensemble_trial: bool,
    /// The final model re-reads and decodes stored fold models (ensemble members not refit
    /// keep theirs; a single trial that is not refit is stored from its fold models).
    pub reread_bag: bool,
    /// Size of a part refit on all rows against its stored fold models (about the share of
    /// rows a fold model saw, inverted: 1.25 for a 20 % holdout; a bag of k fold models is k
    /// times bigger than one refit model, so use the bag's 1/(k-1) there).
    pub refit_growth: f64,
}

/// Cost of each step against storing the same bytes as a trial artifact, measured on diamonds
/// (forest ensembles of 33-57 MB, load average 7-9 on 2 cores): building the ensemble trial 1.5-
/// 2.7x, re-reading and decoding its bag about 1.1x, encoding and storing the final model
/// 0.7-2.0x.
const ENSEMBLE_TRIAL_COST: f64 = 2.5;
const REREAD_COST: f64 = 1.5;
const FINAL_WRITE_COST: f64 = 2.0;

/// Estimated seconds of the artifact work at the end of a study that no deadline bounds, for
/// final-model parts whose stored artifacts hold `bytes` bytes (the ensemble's members, or the
/// single best trial). Measured on diamonds at `--time-budget 10` with three 40-tree forests
/// (16 MB each): 1.43 s to build the ensemble trial, then 3.39 s after the refits to re-read
/// the bag and write the 57 MB final model, so the fit took 12.87 s against a promise of 11.5.
pub(crate) fn wrapup_secs(bytes: &[u64], work: Wrapup, rate: &ArtifactRate) -> f64 {
    let stored: f64 = bytes.iter().map(|b| *b as f64).sum();
    let mut units = FINAL_WRITE_COST * stored * work.refit_growth.max(1.0);
    if work.ensemble_trial {
        units += ENSEMBLE_TRIAL_COST * stored;
    }
    if work.reread_bag {
        units += REREAD_COST * stored;
    }
    units * rate.secs_per_byte()
}

/// A refit of the final model on all rows is planned only when it is estimated to take at most
/// this share of the time budget; otherwise the search uses that time and the final model is
/// the best trial's fold models (or the ensemble's, unrefit). Measured before this rule: on
/// 800k rows at `--time-budget 60` half the budget was held back for a refit that was then not
/// done ("no time left to refit"), and the search stopped at 31 s with one trial.
pub(crate) const REFIT_MAX_SHARE: f64 = 0.25;

/// The share of the time left after the search that the stacking's nested selection may take
/// under a time budget when the search reserved nothing for it (past it, no stacking this
/// study; the reason says so).
pub(crate) const STACKING_SHARE: f64 = 0.25;

/// The stacking's nested selection is planned for (held back from the search) only when it is
/// projected at most this share of the time budget ([`Reserve::stacking_secs`]): it is used
/// only when it beats the ensemble, so a dear one is not worth the search time it would take
/// on every study. On rodents at 60 s its projection was 7.9-14.1 s (16 classes, 8 members).
pub(crate) const STACKING_RESERVE_MAX_SHARE: f64 = 0.1;

/// Estimated seconds to refit `t` on all `n_rows` rows: [`full_fold_time_s`] plus 30 %.
pub(crate) fn refit_estimate_s(t: &TrialRecord, n_folds: usize, n_rows: usize) -> f64 {
    full_fold_time_s(t, n_folds, n_rows) * 1.3
}

/// One fold's fit time of `t` (its folds saw (k-1)/k of the rows, or the holdout's training
/// share), per fold it evaluated, scaled up from its row fidelity and by what a full fit does
/// beyond a first look's ([`final_fit_cost`]).
fn full_fold_time_s(t: &TrialRecord, n_folds: usize, n_rows: usize) -> f64 {
    t.fit_time_s / t.candidate.evaluated_folds(n_folds).max(1) as f64 * final_fit_cost(t, n_rows)
        / t.candidate.fidelity.clamp(1e-3, 1.0)
}

/// A full fit's time on `n_rows` rows against the fold fits `t`'s time measured: its family's
/// `Family::final_fit_cost` for a first look (2.4 for a `gbdt`, whose first looks keep the
/// early-stopped model where a full fit fits every row again), 1 for a full-fidelity trial or a
/// family the registry lacks.
pub(crate) fn final_fit_cost(t: &TrialRecord, n_rows: usize) -> f64 {
    if t.candidate.is_full_cv() {
        return 1.0;
    }
    automl_models::registry()
        .get(&t.candidate.family)
        .map_or(1.0, |f| f.final_fit_cost(n_rows))
}

/// How many of `n_candidates` out-of-fold candidates the stacking's members can be (at most
/// [`StackConfig::max_members`](crate::stacking::StackConfig)): its projection is timed again
/// only when this grows.
fn stacking_reach(n_candidates: usize) -> usize {
    n_candidates.min(crate::stacking::StackConfig::default().max_members)
}

/// Which parts of the end of the study a duration counts (the artifact work always).
#[derive(Debug, Clone, Copy)]
struct Parts {
    /// The final refit, when planned.
    refit: bool,
    /// The ensemble's selection and the stacking's nested selection.
    meta: bool,
    /// The seed-variance step.
    seeds: bool,
}

impl Parts {
    /// What the search leaves room for: everything.
    const SEARCH: Parts = Parts {
        refit: true,
        meta: true,
        seeds: true,
    };
    /// What the final model needs after the seed-variance step.
    const FINAL_MODEL: Parts = Parts {
        refit: true,
        meta: false,
        seeds: false,
    };
    /// The writes alone (the artifact work, 2 % of the budget + 0.3 s).
    const WRITES: Parts = Parts {
        refit: false,
        meta: false,
        seeds: false,
    };
}

/// What the reserve is estimated from, learned as trials are stored.
pub(crate) struct Reserve {
    /// Seconds per artifact byte of this study's store.
    rate: ArtifactRate,
    /// Seconds of one ensemble-selection step on these out-of-fold predictions.
    one_eval: Option<f64>,
    /// Stored artifact bytes per trial.
    bag_bytes: BTreeMap<u64, u64>,
    /// Validation folds (a holdout is one fold).
    n_folds: usize,
    /// Rows a final refit fits on.
    n_rows: usize,
    /// Parts the ensemble's selection is cross-validated over.
    parts: usize,
    /// A refit on all rows against one fold model (see [`Wrapup::refit_growth`]).
    growth: f64,
    /// Whether an ensemble will be selected.
    ensemble: bool,
    /// The time budget, seconds.
    budget_s: f64,
    /// The seed-variance step: (its share of the budget at most, evaluations per lane it
    /// makes in units of the best trial's fit time, those of one trial alone); None when it
    /// is off.
    seeds: Option<(f64, f64, f64)>,
    /// Whether a stacking is built beside the ensemble (`StudyConfig::stacking`).
    stacking: bool,
    /// The stacking's nested selection, projected from one timed second-layer fit on the
    /// members it would choose ([`crate::stacking::projected_secs`]), and the candidate
    /// count it was timed at.
    stacking_projection: Option<(f64, usize)>,
}

impl Reserve {
    /// A reserve for a study over `data` with a time budget of `budget_s` seconds.
    pub fn new(data: &TrainingData, ensemble: bool, budget_s: f64, holdout_fraction: f64) -> Self {
        let n_folds = data.folds.len().max(1);
        // One fold set's folds (a repeated k-fold fits every set, but the nested selections
        // run over the first set's parts and a fold trains on (k-1)/k of the rows).
        let k = data.oof_folds().len().max(1);
        Reserve {
            rate: ArtifactRate::default(),
            one_eval: None,
            bag_bytes: BTreeMap::new(),
            n_folds,
            n_rows: data.n_rows(),
            parts: if k >= 2 { k } else { 5 },
            growth: if k >= 2 {
                1.0 / (k as f64 - 1.0)
            } else {
                1.0 / (1.0 - holdout_fraction)
            },
            ensemble,
            budget_s,
            seeds: None,
            stacking: false,
            stacking_projection: None,
        }
    }

    /// Leave time for the stacking built beside the ensemble (see [`Reserve::stacking_secs`]).
    pub fn set_stacking(&mut self, on: bool) {
        self.stacking = on;
    }

    /// Whether the stacking's projection should be timed (again) now that the search keeps
    /// `n_candidates` out-of-fold candidates: under a time budget, with the stacking on, when
    /// more candidates are in reach of its members than at the last timing (a second-layer
    /// fit grows with its members, at most [`StackConfig::max_members`](crate::stacking::StackConfig)).
    pub fn wants_stacking_timing(&self, n_candidates: usize) -> bool {
        let reach = stacking_reach(n_candidates);
        self.stacking
            && self.ensemble
            && self.budget_s > 0.0
            && reach >= 2
            && self.stacking_projection.is_none_or(|(_, at)| reach > at)
    }

    /// The stacking's nested selection was projected at `secs` seconds (None: no stacking
    /// possible yet) with `n_candidates` out-of-fold candidates.
    pub fn timed_stacking(&mut self, n_candidates: usize, secs: Option<f64>) {
        self.stacking_projection = Some((secs.unwrap_or(0.0), stacking_reach(n_candidates)));
    }

    /// How long the stacking's nested selection may take when `left` is what remains of the
    /// budget after the ensemble's selection: a quarter of it ([`STACKING_SHARE`]), or, when
    /// the search reserved time for it ([`Reserve::stacking_secs`]), all of it but what the
    /// end of the study cannot do without ([`Reserve::after_meta`]), whichever is longer.
    pub fn stacking_time(
        &self,
        left: Duration,
        best: &TrialRecord,
        oof: &[(u64, f64, Predictions)],
    ) -> Duration {
        let share = left.mul_f64(STACKING_SHARE);
        if self.stacking_secs() > 0.0 {
            share.max(left.saturating_sub(self.after_meta(Some(best), oof)))
        } else {
            share
        }
    }

    /// Seconds held back for the stacking's nested selection: its projection × 1.2 when that
    /// is at most [`STACKING_RESERVE_MAX_SHARE`] of the budget, else none (the stacking then
    /// gets only its share of whatever time is left, as a stacking the search did not plan for).
    /// Measured before this term: on digits at 60 s the selection (about 1.2 s) ran only when
    /// the search happened to stop early, and the runs whose final model was the stacking
    /// scored 0.039-0.059 log loss, those without it 0.061-0.068.
    pub fn stacking_secs(&self) -> f64 {
        match self.stacking_projection {
            Some((secs, _)) if self.stacking && self.ensemble => {
                let want = secs * 1.2;
                if want <= STACKING_RESERVE_MAX_SHARE * self.budget_s {
                    want
                } else {
                    0.0
                }
            }
            _ => 0.0,
        }
    }

    /// Leave time for the seed-variance step: at most `share` of the budget, else `rounds` ×
    /// the best trial's evaluation time (its evaluations over the lanes, × 1.2). `one_rounds`
    /// is the same count for one trial: the step measures a trial only when all of its
    /// evaluations fit (`Study::measure_seed_variance`), so when the best
    /// trial's do not fit in `share` of the budget nothing is reserved.
    pub fn set_seed_variance(&mut self, share: f64, rounds: f64, one_rounds: f64) {
        self.seeds = (share > 0.0 && rounds > 0.0).then_some((share, rounds, one_rounds));
    }

    /// Seconds reserved for the seed-variance step.
    fn seeds_secs(&self, best: Option<&TrialRecord>) -> f64 {
        match (self.seeds, best) {
            (Some((share, rounds, one_rounds)), Some(b)) => {
                let cap = share * self.budget_s;
                if super::seeds::rounds_secs(b, one_rounds) > cap {
                    // the step would skip the best trial: the search keeps that time
                    0.0
                } else {
                    super::seeds::rounds_secs(b, rounds).min(cap)
                }
            }
            _ => 0.0,
        }
    }

    /// The time the final model needs after the seed-variance step (what [`Reserve::duration`]
    /// leaves for it, without ensemble selection and the step itself).
    pub fn final_duration(&self, best: Option<&TrialRecord>) -> Duration {
        self.duration_of(best, &[], Parts::FINAL_MODEL)
    }

    /// A trial's artifact of `bytes` bytes was stored in `secs` seconds.
    pub fn stored(&mut self, trial_id: u64, bytes: usize, secs: f64) {
        self.rate.observe(bytes, secs);
        self.bag_bytes.insert(trial_id, bytes as u64);
    }

    /// A trial whose stored artifact was dropped (retention).
    pub fn dropped(&mut self, trial_id: u64) {
        self.bag_bytes.remove(&trial_id);
    }

    /// Time one selection step the first time out-of-fold predictions exist.
    pub fn time_selection_step(&mut self, pred: &Predictions, data: &TrainingData, metric: Metric) {
        if self.one_eval.is_some() {
            return;
        }
        let y: Vec<f64> = data.oof_y();
        self.one_eval = Some(time_one_evaluation(
            pred,
            &y,
            metric,
            data.task,
            data.n_classes,
        ));
    }

    fn bags(&self, ids: impl Iterator<Item = u64>) -> Vec<u64> {
        ids.filter_map(|id| self.bag_bytes.get(&id).copied())
            .collect()
    }

    /// The time the search leaves for the end of the study, given the best trial so far and
    /// the ensemble candidates (`oof`, best first): the refit when one is planned
    /// ([`Reserve::refit_planned`]: 2.5 × the best trial's fold time at full fidelity with an
    /// ensemble, 1.5 × without), 2 % of the budget + 0.3 s, ensemble scoring, the stacking's
    /// nested selection ([`Reserve::stacking_secs`]), the artifact work for the likely members
    /// (the best three candidates), and the seed-variance step ([`Reserve::set_seed_variance`]); at most half the budget, but never
    /// less than writing the best trial's fold models + 0.3 s.
    pub fn duration(
        &self,
        best: Option<&TrialRecord>,
        oof: &[(u64, f64, Predictions)],
    ) -> Duration {
        self.duration_of(best, oof, Parts::SEARCH)
    }

    /// The time the end of the study cannot do without after the stacking: writing the final
    /// model (an ensemble's likely members), 2 % of the budget + 0.3 s; not the refit nor the
    /// seed-variance step, which are skipped when no time is left for them. A stacking the
    /// search reserved time for may run until this much before the budget's end: given only
    /// its reserved seconds, it ran out on one of two digits runs at 60 s (the selection took
    /// longer than its projection × 1.2).
    pub fn after_meta(
        &self,
        best: Option<&TrialRecord>,
        oof: &[(u64, f64, Predictions)],
    ) -> Duration {
        self.duration_of(best, oof, Parts::WRITES)
    }

    fn duration_of(
        &self,
        best: Option<&TrialRecord>,
        oof: &[(u64, f64, Predictions)],
        parts: Parts,
    ) -> Duration {
        let refit_factor = if self.ensemble { 2.5 } else { 1.5 };
        // No time is held back for a refit that will not be done (see [`REFIT_MAX_SHARE`]);
        // a low-fidelity best trial's refit sees all rows, so its time scales up.
        let per_fold = best
            .filter(|b| parts.refit && self.refit_planned(b))
            .map_or(0.0, |b| full_fold_time_s(b, self.n_folds, self.n_rows));
        let ens = self.ensemble && oof.len() >= 2;
        let sel = if ens && parts.meta {
            self.selection_secs(oof.len()) + self.stacking_secs()
        } else {
            0.0
        };
        let likely = if ens {
            self.bags(oof.iter().take(3).map(|o| o.0))
        } else {
            self.bags(best.iter().map(|b| b.trial_id))
        };
        let io = wrapup_secs(
            &likely,
            Wrapup {
                ensemble_trial: ens,
                reread_bag: true,
                refit_growth: self.growth,
            },
            &self.rate,
        );
        // Whatever happens, the best trial's fold models are written.
        let must = wrapup_secs(
            &self.bags(best.iter().map(|b| b.trial_id)),
            Wrapup {
                ensemble_trial: false,
                reread_bag: true,
                refit_growth: 1.0,
            },
            &self.rate,
        );
        let total = self.budget_s;
        Duration::from_secs_f64(
            (per_fold * refit_factor
                + 0.02 * total
                + 0.3
                + sel
                + io
                + if parts.seeds {
                    self.seeds_secs(best)
                } else {
                    0.0
                })
            .min(total * 0.5)
            .max(must + 0.3),
        )
    }

    /// Whether the final model's refit on all rows is planned for this best trial: always
    /// without a time budget, else when [`refit_estimate_s`] (× 2 with an ensemble, whose
    /// members are refit too) is at most [`REFIT_MAX_SHARE`] of the budget. When it is not
    /// planned, the reserve holds no time for it and the final model keeps the fold models.
    pub fn refit_planned(&self, best: &TrialRecord) -> bool {
        let factor = if self.ensemble { 2.0 } else { 1.0 };
        self.budget_s <= 0.0
            || refit_estimate_s(best, self.n_folds, self.n_rows) * factor
                <= REFIT_MAX_SHARE * self.budget_s
    }

    /// One line for the study record: what the end of the study was planned as for `best`
    /// (refit or fold models, and the seconds reserved).
    pub fn plan_text(&self, best: Option<&TrialRecord>) -> String {
        let Some(b) = best else {
            return "no trial completed".to_string();
        };
        let est = refit_estimate_s(b, self.n_folds, self.n_rows);
        // With an ensemble its members are refit too: the rule counts the estimate twice.
        let counted = if self.ensemble {
            format!(
                "estimated {est:.1} s, {:.1} s with the ensemble's members",
                2.0 * est
            )
        } else {
            format!("estimated {est:.1} s")
        };
        let reserved = self.final_duration(best).as_secs_f64();
        let stacking = match self.stacking_projection {
            Some((secs, _)) if self.stacking && self.ensemble && secs > 0.0 => {
                let held = self.stacking_secs();
                if held > 0.0 {
                    format!(
                        "; the stacking's nested selection projected at {secs:.1} s, {held:.1} s \
                         reserved for it"
                    )
                } else {
                    format!(
                        "; the stacking's nested selection projected at {secs:.1} s, more than \
                         {:.0} % of the budget: not reserved for",
                        STACKING_RESERVE_MAX_SHARE * 100.0
                    )
                }
            }
            _ => String::new(),
        };
        let plan = if self.refit_planned(b) {
            format!(
                "refit planned ({counted}, within {:.0} % of the budget); \
                 {reserved:.1} s reserved for the final model",
                REFIT_MAX_SHARE * 100.0
            )
        } else {
            format!(
                "no refit planned ({counted}, more than {:.0} % of the {:.0} s \
                 budget): the fold models are the final model; {reserved:.1} s reserved for it",
                REFIT_MAX_SHARE * 100.0,
                self.budget_s
            )
        };
        plan + &stacking
    }

    /// Estimated seconds of ensemble selection and its scoring over `n_candidates`.
    pub fn selection_secs(&self, n_candidates: usize) -> f64 {
        selection_secs(
            self.one_eval.unwrap_or(0.0),
            n_candidates,
            self.parts,
            EnsembleConfig::default(),
        )
    }

    /// Whether a trial's models alone can be stored as part of an ensemble and written as
    /// part of the final model within a third of `avail` seconds (None: no time budget). Under a
    /// time budget, ensemble selection is offered only such candidates: on bikeshare at 10 s a
    /// 52 MB extra-trees bag at weight 0.04 made the whole ensemble unaffordable.
    pub fn fits_ensemble(&self, trial_id: u64, avail: Option<f64>) -> bool {
        avail.is_none_or(|a| self.ensemble_trial_secs(&[(trial_id, 1.0)]) <= a / 3.0)
    }

    /// Seconds to build and store an ensemble trial of these members and then write the final
    /// model from their fold models.
    pub fn ensemble_trial_secs(&self, members: &[(u64, f64)]) -> f64 {
        wrapup_secs(
            &self.bags(members.iter().map(|m| m.0)),
            Wrapup {
                ensemble_trial: true,
                reread_bag: true,
                refit_growth: 1.0,
            },
            &self.rate,
        )
    }

    /// Seconds of writing the final model made of these trials (after their refits): the
    /// refits must stop this much earlier.
    pub fn final_write_secs(&self, trial_ids: &[u64]) -> f64 {
        wrapup_secs(
            &self.bags(trial_ids.iter().copied()),
            Wrapup {
                ensemble_trial: false,
                reread_bag: true,
                refit_growth: self.growth,
            },
            &self.rate,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::{Candidate, Params, Task};
    use automl_data::Frame;
    use std::sync::Arc;

    fn data() -> TrainingData {
        let x = Frame::new(vec![automl_data::Column::numeric(
            "x",
            (0..100).map(f64::from).collect(),
        )]);
        let y: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        TrainingData::new(
            Arc::new(x),
            y,
            Task::Binary,
            2,
            Metric::LogLoss,
            &automl_trainer::CvConfig::default(),
        )
    }

    /// A completed full-fidelity trial (a `random_forest`: its first looks fit as its full
    /// fits do).
    fn trial(fit_time_s: f64) -> TrialRecord {
        trial_of("random_forest", fit_time_s)
    }

    fn trial_of(family: &str, fit_time_s: f64) -> TrialRecord {
        use automl_store::{MemoryStore, Store, conformance};
        let store = MemoryStore::new();
        let study = store.create_study(conformance::sample_study("r")).unwrap();
        let cand = Candidate::new(family, Params::new(), "test");
        let mut t =
            conformance::completed(store.start_trial(study, &cand, "test", 0).unwrap(), 0.5);
        t.fit_time_s = fit_time_s;
        t
    }

    #[test]
    fn large_models_to_write_enlarge_the_reserve_and_stop_the_refits_earlier() {
        let d = data();
        let mut r = Reserve::new(&d, true, 100.0, 0.2);
        let best = trial(5.0);
        let oof: Vec<(u64, f64, Predictions)> = Vec::new();
        let small = r.duration(Some(&best), &oof);
        // 5 folds: 1 s per fold x 2.5 + 2 % of 100 s + 0.3 s
        assert!((small.as_secs_f64() - 4.8).abs() < 1e-9, "{small:?}");
        // A 500 MB model stored at 20 ms per MB: writing it again is no longer negligible.
        r.stored(0, 500 << 20, 10.0);
        let big = r.duration(Some(&best), &oof);
        assert!(big > small + Duration::from_secs(5), "{small:?} -> {big:?}");
        assert!(r.final_write_secs(&[0]) > 5.0);
        assert_eq!(r.final_write_secs(&[7]), 0.0, "nothing stored for trial 7");
        // Never more than half the budget, but never less than writing the best trial's models.
        r.stored(0, 5000 << 20, 100.0);
        let capped = r.duration(Some(&best), &oof);
        assert!(
            capped.as_secs_f64() > 50.0,
            "{capped:?}: the best model must be written"
        );
        r.dropped(0);
        assert_eq!(r.duration(Some(&best), &oof), small);
    }

    #[test]
    fn no_time_is_held_back_for_a_seed_variance_step_that_would_skip_every_trial() {
        // 60 s, the step at most 10 % (6 s), 5 trials x 5 evaluations over 2 lanes: 13 rounds
        // in all, 3 for one trial.
        let d = data();
        let mut r = Reserve::new(&d, false, 60.0, 0.2);
        // the step's time per evaluation is the trial's fit time here (no wall time)
        let trial = |fit: f64| TrialRecord {
            ended_at_ms: 0,
            started_at_ms: 0,
            ..trial(fit)
        };
        let quick = trial(0.5);
        let slow = trial(4.0);
        let base_quick = r.duration(Some(&quick), &[]).as_secs_f64();
        let base_slow = r.duration(Some(&slow), &[]).as_secs_f64();
        r.set_seed_variance(0.1, 13.0, 3.0);
        // One quick trial's evaluations (3 x 0.5 s x 1.2) fit in 6 s: the step gets its 6 s.
        let with_quick = r.duration(Some(&quick), &[]).as_secs_f64();
        assert!((with_quick - base_quick - 6.0).abs() < 1e-9, "{with_quick}");
        // A slow best trial (3 x 4 s x 1.2 = 14.4 s > 6 s) would be skipped: nothing is held
        // back for the step (a quicker trial further down is measured if time is left).
        let with_slow = r.duration(Some(&slow), &[]).as_secs_f64();
        assert!(
            (with_slow - base_slow).abs() < 1e-9,
            "{with_slow} vs {base_slow}"
        );
        // Under the cap the estimate itself is reserved: 13 x 0.3 s x 1.2.
        let small = trial(0.3);
        let base_small = {
            let mut r0 = Reserve::new(&d, false, 60.0, 0.2);
            r0.set_seed_variance(0.0, 0.0, 0.0);
            r0.duration(Some(&small), &[]).as_secs_f64()
        };
        let with_small = r.duration(Some(&small), &[]).as_secs_f64();
        assert!(
            (with_small - base_small - 13.0 * 0.3 * 1.2).abs() < 1e-9,
            "{with_small}"
        );
    }

    #[test]
    fn the_stacking_is_reserved_for_only_when_its_projection_is_cheap_enough() {
        let d = data();
        let mut r = Reserve::new(&d, true, 60.0, 0.2);
        let best = trial(5.0);
        let pred = |v: f64| Predictions::regression(vec![v; d.n_rows()]);
        let oof = vec![(0, 0.1, pred(0.4)), (1, 0.2, pred(0.6))];
        let base = r.duration(Some(&best), &oof).as_secs_f64();
        // Off: nothing to time, nothing reserved.
        assert!(!r.wants_stacking_timing(2));
        r.set_stacking(true);
        assert!(r.wants_stacking_timing(2) && !r.wants_stacking_timing(1));
        assert_eq!(r.stacking_secs(), 0.0, "not timed yet");
        // Projected at 2 s with two candidates: 2.4 s held back (within 10 % of 60 s)...
        r.timed_stacking(2, Some(2.0));
        assert!((r.stacking_secs() - 2.4).abs() < 1e-9);
        let with = r.duration(Some(&best), &oof).as_secs_f64();
        assert!((with - base - 2.4).abs() < 1e-9, "{base} -> {with}");
        // ...and timed again only when more candidates are in reach of its members (8 at most).
        assert!(!r.wants_stacking_timing(2) && r.wants_stacking_timing(3));
        r.timed_stacking(20, Some(4.0));
        assert!(!r.wants_stacking_timing(20));
        assert!((r.stacking_secs() - 4.8).abs() < 1e-9);
        // Projected at 10 s (12 s > 6 s): too dear to plan for, the search keeps the time.
        let mut dear = Reserve::new(&d, true, 60.0, 0.2);
        dear.set_stacking(true);
        dear.timed_stacking(8, Some(10.0));
        assert_eq!(dear.stacking_secs(), 0.0);
        assert!((dear.duration(Some(&best), &oof).as_secs_f64() - base).abs() < 1e-9);
        // Without an ensemble (no stacking beside it) or a time budget, nothing is timed.
        let mut alone = Reserve::new(&d, false, 60.0, 0.2);
        alone.set_stacking(true);
        assert!(!alone.wants_stacking_timing(5));
        let mut unbounded = Reserve::new(&d, true, 0.0, 0.2);
        unbounded.set_stacking(true);
        assert!(!unbounded.wants_stacking_timing(5));
        // The study record's plan says what was projected and reserved.
        let plan = r.plan_text(Some(&best));
        assert!(
            plan.ends_with(
                "the stacking's nested selection projected at 4.0 s, 4.8 s reserved for it"
            ),
            "{plan}"
        );
        let plan = dear.plan_text(Some(&best));
        assert!(
            plan.ends_with("projected at 10.0 s, more than 10 % of the budget: not reserved for"),
            "{plan}"
        );
        assert!(!alone.plan_text(Some(&best)).contains("stacking"));
        // After the stacking only the writes are needed (here 2 % of 60 s + 0.3 s): the
        // stacking may use the refit's time (a refit that no longer fits is skipped).
        // (The search's reserve holds the refit: 1 s per fold × 2.5.)
        assert!((base - 1.5 - 2.5).abs() < 1e-9, "{base}");
        assert!((r.after_meta(Some(&best), &oof).as_secs_f64() - 1.5).abs() < 1e-9);
        // The stacking's deadline: with 10 s left, all but those 1.5 s when it was reserved
        // for, a quarter of them when it was too dear.
        let ten = Duration::from_secs(10);
        assert_eq!(
            r.stacking_time(ten, &best, &oof),
            Duration::from_secs_f64(8.5)
        );
        assert_eq!(
            dear.stacking_time(ten, &best, &oof),
            Duration::from_secs_f64(2.5)
        );
        // With less left than the writes need, still the quarter.
        let one = Duration::from_secs(1);
        assert_eq!(
            r.stacking_time(one, &best, &oof),
            Duration::from_secs_f64(0.25)
        );
        // The final model's share (after the ensemble and the stacking) never holds it.
        assert_eq!(
            r.final_duration(Some(&best)),
            dear.final_duration(Some(&best))
        );
    }

    #[test]
    fn no_time_is_held_back_for_a_refit_that_does_not_fit_the_budget() {
        // A 800k-row holdout at 60 s: one trial took 25 s; a refit would take 32.5 s.
        let d = data();
        let r = Reserve::new(&d, false, 60.0, 0.2);
        let slow = trial(25.0 * d.folds.len() as f64);
        assert!(!r.refit_planned(&slow));
        let reserved = r.duration(Some(&slow), &[]).as_secs_f64();
        // Only 2 % of the budget + 0.3 s is left for the end (no refit, nothing stored yet).
        assert!((reserved - 1.5).abs() < 1e-9, "{reserved}");
        assert!(r.plan_text(Some(&slow)).starts_with("no refit planned"));
        // A quick trial: its refit is planned and reserved (1.5 x its fold time).
        let quick = trial(2.0 * d.folds.len() as f64);
        assert!(r.refit_planned(&quick));
        let reserved = r.duration(Some(&quick), &[]).as_secs_f64();
        assert!((reserved - (3.0 + 1.5)).abs() < 1e-9, "{reserved}");
        assert!(r.plan_text(Some(&quick)).starts_with("refit planned"));
        // The same fit time at a tenth of the rows: the refit on all rows takes ten times
        // longer, so it is not planned either.
        let mut low = quick.clone();
        low.candidate.fidelity = 0.1;
        assert!(!r.refit_planned(&low));
        assert!((r.duration(Some(&low), &[]).as_secs_f64() - 1.5).abs() < 1e-9);
        // Without a time budget a refit is always planned.
        let unbounded = Reserve::new(&d, false, 0.0, 0.2);
        assert!(unbounded.refit_planned(&slow));
        // With an ensemble its members are refit too, so the estimate counts twice, and the
        // plan says so: a fold time of 8 s (10.4 s estimated, 20.8 s counted) is not planned
        // within 25 % of 60 s.
        let with_ensemble = Reserve::new(&d, true, 60.0, 0.2);
        let mid = trial(8.0 * d.folds.len() as f64);
        assert!(!with_ensemble.refit_planned(&mid) && r.refit_planned(&mid));
        let text = with_ensemble.plan_text(Some(&mid));
        assert!(
            text.starts_with(
                "no refit planned (estimated 10.4 s, 20.8 s with the ensemble's members"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_gbdt_first_looks_refit_is_estimated_at_its_full_fit_cost() {
        // A gbdt's first look keeps its early-stopped model; a full fit also fits every row
        // again: 2.4 times the first look's time per fold. A full-fidelity trial's folds
        // already did.
        let d = data();
        let r = Reserve::new(&d, false, 60.0, 0.2);
        let folds = d.folds.len() as f64;
        let est = |t: &TrialRecord| refit_estimate_s(t, d.folds.len(), d.n_rows());
        let first_look = |family: &str, per_fold: f64| {
            let mut t = trial_of(family, per_fold);
            t.candidate.folds = Some(1);
            t
        };
        assert!((est(&trial_of("gbdt", 2.0 * folds)) - 2.6).abs() < 1e-9);
        assert!((est(&first_look("random_forest", 2.0)) - 2.6).abs() < 1e-9);
        let gbdt = first_look("gbdt", 2.0);
        assert!((est(&gbdt) - 2.6 * 2.4).abs() < 1e-9, "{}", est(&gbdt));
        // 5.2 s on its fold: planned for a forest (6.76 s ≤ 15 s), not for a gbdt (16.2 s).
        assert!(r.refit_planned(&first_look("random_forest", 5.2)));
        assert!(!r.refit_planned(&first_look("gbdt", 5.2)));
        assert!(r.refit_planned(&trial_of("gbdt", 5.2 * folds)));
        // The reserve holds the same: 1.5 x the first look's fold time x 2.4, + 2 % of 60 s
        // + 0.3 s.
        let reserved = r.duration(Some(&gbdt), &[]).as_secs_f64();
        assert!(
            (reserved - (2.0 * 2.4 * 1.5 + 1.5)).abs() < 1e-9,
            "{reserved}"
        );
        // Above the gbdt's refit row cap its full fit is one fit, as a first look's.
        assert_eq!(
            final_fit_cost(&gbdt, automl_models::families::trees::REFIT_MAX_ROWS + 1),
            1.0
        );
    }

    #[test]
    fn ensemble_candidates_too_large_to_write_in_time_are_left_out() {
        let d = data();
        let mut r = Reserve::new(&d, true, 10.0, 0.2);
        r.stored(1, 1 << 20, 0.01); // 1 MB at 10 ms per MB
        r.stored(2, 50 << 20, 0.5); // 50 MB
        // 6 units of store work per byte: trial 1 needs 0.06 s, trial 2 3 s.
        assert!(r.fits_ensemble(1, Some(1.0)));
        assert!(!r.fits_ensemble(2, Some(1.0)));
        assert!(r.fits_ensemble(2, Some(9.5)));
        assert!(r.fits_ensemble(2, None), "no time budget: every candidate");
    }

    #[test]
    fn artifact_rate_learns_from_stored_trials_but_never_beats_the_floor() {
        let mut r = ArtifactRate::default();
        assert_eq!(r.secs_per_byte(), ArtifactRate::FLOOR_S_PER_BYTE);
        // Faster than the floor is not believed.
        r.observe(10_000_000, 0.05);
        assert_eq!(r.secs_per_byte(), ArtifactRate::FLOOR_S_PER_BYTE);
        // 40.8 MB stored in 0.69 s (a 100-tree forest on diamonds): the average of both.
        r.observe(40_795_175, 0.691);
        let spb = r.secs_per_byte();
        assert!((spb - 0.741 / 50_795_175.0).abs() < 1e-15, "{spb}");
        // Nonsense observations are ignored.
        r.observe(0, 5.0);
        r.observe(10, f64::NAN);
        assert_eq!(r.secs_per_byte(), spb);
    }

    #[test]
    fn wrapup_covers_the_measured_forest_ensembles_on_diamonds() {
        // Each run's own trials set the rate, as in a study.
        let rate_of = |stored: &[(usize, f64)]| {
            let mut r = ArtifactRate::default();
            for &(b, s) in stored {
                r.observe(b, s);
            }
            r
        };
        let all = Wrapup {
            ensemble_trial: true,
            reread_bag: true,
            refit_growth: 1.25,
        };
        // Three 16 MB forests, two refit: 1.43 s for the ensemble trial, then 3.39 s after
        // the refits (re-read the bag, encode and store the 57 MB final model).
        let three = [16_335_521u64, 16_370_399, 16_357_745];
        let rate = rate_of(&[
            (16_335_521, 0.353),
            (16_370_399, 0.347),
            (16_357_745, 0.274),
        ]);
        assert!(wrapup_secs(&three, all, &rate) >= 1.43 + 3.39);
        // Two 16 MB forests, both refit: 1.21 s, then 0.57 s for the 41 MB final model.
        let two = [16_360_220u64, 16_320_536];
        let rate = rate_of(&[(16_360_220, 0.247), (16_320_536, 0.207)]);
        let refit_all = Wrapup {
            reread_bag: false,
            ..all
        };
        assert!(wrapup_secs(&two, refit_all, &rate) >= 1.21 + 0.57);
        // One 20 MB forest refit alone: 0.41-0.66 s to encode and store it (trials stored at
        // 10-22 ms per MB).
        let rate = rate_of(&[(16_335_521, 0.353)]);
        let single = Wrapup {
            ensemble_trial: false,
            reread_bag: false,
            refit_growth: 1.0,
        };
        assert!(wrapup_secs(&[19_935_774], single, &rate) >= 0.66);
        // Each step adds work; nothing to write, nothing to reserve; a refit never counts
        // below the stored size.
        assert!(wrapup_secs(&two, all, &rate) > wrapup_secs(&two, refit_all, &rate));
        assert!(wrapup_secs(&two, refit_all, &rate) > wrapup_secs(&two, single, &rate));
        assert_eq!(wrapup_secs(&[], all, &rate), 0.0);
        let shrink = Wrapup {
            refit_growth: 0.5,
            ..single
        };
        assert_eq!(
            wrapup_secs(&two, shrink, &rate),
            wrapup_secs(
                &two,
                Wrapup {
                    refit_growth: 1.0,
                    ..single
                },
                &rate
            )
        );
        // A slower store makes it longer in proportion.
        let fast = ArtifactRate::default();
        let mut slow = ArtifactRate::default();
        slow.observe(10_000_000, 0.5);
        let ratio = wrapup_secs(&two, all, &slow) / wrapup_secs(&two, all, &fast);
        assert!((ratio - 5.0).abs() < 1e-9, "{ratio}");
    }
}
