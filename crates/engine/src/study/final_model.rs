//! The study's final model: the best trial refit on all rows, or the used ensemble (or
//! stacking) with its members refit in parallel lanes as far as the time left allows (these
//! lanes are threads the engine starts after the search, one per `jobs`); whatever cannot be
//! refit keeps its fold models. Stored as the study's [`super::FINAL_MODEL_BLOB`] with a typed [`FinalModel`].

use super::ensemble_trial::EnsembleTrial;
use super::reserve::Reserve;
use super::stacking_trial::StackingTrial;
use super::{FINAL_MODEL_BLOB, Phase, Progress, Study};
use crate::error::EngineError;
use automl_core::{Artifact, FinalModel, FinalModelKind, Rng, TrialRecord};
use automl_trainer::{
    PackedPipeline, Predictor, PredictorInfo, ToWrite, TrainError, fit_full_packed,
};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Key of the study record's `extra` holding what the reserve planned for the end of the study
/// ([`Reserve::plan_text`]: refit or fold models, and the seconds reserved).
pub(crate) const END_PLAN_KEY: &str = "end_of_study_plan";
/// Key of the study record's `extra` holding this process's peak resident memory in bytes when
/// the final model was made (`VmHWM`; Linux only).
pub(crate) const PEAK_RSS_KEY: &str = "peak_rss_bytes";

impl Study<'_> {
    /// Make, store and describe the final model. Returns its one-line description.
    pub(crate) fn make_final_model(
        &mut self,
        best: &Option<TrialRecord>,
        (ensemble, stacking): (Option<&EnsembleTrial>, Option<&StackingTrial>),
        info: PredictorInfo,
        budget_end: Option<Instant>,
        reserve: &Reserve,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<String, EngineError> {
        let rows = self.data.y.len() as u64;
        // The post-processing chosen on the out-of-fold predictions (recorded in the study
        // record just before), wrapped around whatever the final model is.
        let post = super::postprocess::post_decision(&self.record)
            .filter(super::postprocess::is_active)
            .map(|d| d.chosen);
        let post = post.as_ref();
        // Writing the final model (and re-reading fold models) comes after the refits and has
        // no deadline: the refits stop early enough for it.
        let parts: Vec<u64> = match (stacking, ensemble, best) {
            (Some(s), _, _) => s.members.iter().map(|m| m.0).collect(),
            (None, Some(e), _) => e.members.iter().map(|m| m.0).collect(),
            (None, None, Some(b)) => vec![b.trial_id],
            (None, None, None) => Vec::new(),
        };
        let write_s = Duration::from_secs_f64(reserve.final_write_secs(&parts));
        // What the reserve planned for the end of the study, recorded with the study.
        self.record
            .extra
            .insert(END_PLAN_KEY.to_string(), reserve.plan_text(best.as_ref()));
        if let Some(peak) = automl_trainer::process_peak_rss() {
            self.record
                .extra
                .insert(PEAK_RSS_KEY.to_string(), peak.to_string());
        }
        let budget_end = budget_end.map(|e| e.checked_sub(write_s).unwrap_or(e));
        let model = match (stacking, ensemble, best) {
            (Some(s), _, _) => {
                self.progress(
                    progress,
                    Phase::Refitting {
                        trial_id: s.record.trial_id,
                        family: s.record.candidate.family.clone(),
                    },
                    None,
                    budget_end,
                    Some(&s.record),
                );
                let (members, refit, more_seeds) =
                    self.refit_members(&s.members, s.record.trial_id, budget_end)?;
                let predictor = ToWrite::Stacked(members, s.meta.clone());
                let model = predictor.with_post(post).into_artifact(info)?;
                let note = match best {
                    Some(b) if !self.metric.better(s.record.mean, b.mean) => Some(format!(
                        "used although trial {} ranks above it: its score is the best of {} \
                         trials, which flatters it; the stacking's is nested cross-validated",
                        b.trial_id,
                        self.history
                            .iter()
                            .filter(|t| t.is_ranked()
                                && !automl_core::is_meta_family(&t.candidate.family))
                            .count(),
                    )),
                    _ => None,
                };
                self.store
                    .put_blob_owned(self.record.study_id, FINAL_MODEL_BLOB, model)?;
                FinalModel {
                    trial_id: s.record.trial_id,
                    kind: FinalModelKind::Stacking,
                    rows,
                    members: s.members.len(),
                    members_refit: refit,
                    more_seeds,
                    note,
                }
            }
            (None, Some(e), _) => {
                self.progress(
                    progress,
                    Phase::Refitting {
                        trial_id: e.record.trial_id,
                        family: e.record.candidate.family.clone(),
                    },
                    None,
                    budget_end,
                    Some(&e.record),
                );
                let (predictor, refit, more_seeds) = self.refit_ensemble(e, budget_end)?;
                let model = predictor.with_post(post).into_artifact(info)?;
                // Say why the ensemble is used when it ranks below the best single trial.
                let note = match (best, &e.record.ensemble) {
                    (Some(b), Some(d)) if !self.metric.better(e.record.mean, b.mean) => {
                        Some(format!(
                            "used although trial {} ranks above it: picking one trial, \
                             cross-validated the same way, scores {:.4}, and trial {}'s own \
                             score is the best of {} trials, which flatters it",
                            b.trial_id,
                            d.single_selection_cv.unwrap_or(f64::NAN),
                            b.trial_id,
                            self.history.iter().filter(|t| t.is_ranked()).count() - 1,
                        ))
                    }
                    _ => None,
                };
                self.store
                    .put_blob_owned(self.record.study_id, FINAL_MODEL_BLOB, model)?;
                FinalModel {
                    trial_id: e.record.trial_id,
                    kind: FinalModelKind::Ensemble,
                    rows,
                    members: e.members.len(),
                    members_refit: refit,
                    more_seeds,
                    note,
                }
            }
            (None, None, Some(b)) => {
                self.progress(
                    progress,
                    Phase::Refitting {
                        trial_id: b.trial_id,
                        family: b.candidate.family.clone(),
                    },
                    None,
                    budget_end,
                    Some(b),
                );
                let wall_left = budget_end.map(|e| e.saturating_duration_since(Instant::now()));
                let est = Duration::from_secs_f64(self.refit_estimate_s(b));
                // A refit the reserve did not plan for is not tried: the search used its time.
                let planned = reserve.refit_planned(b);
                let keeps_folds = self.keeps_fold_models(b);
                let can_refit = planned
                    && !keeps_folds
                    && !self.config.abort.load(Ordering::SeqCst)
                    && wall_left.is_none_or(|w| w > est);
                let seed = Rng::derive_seed(self.config.seed, u64::MAX);
                let mut more_seeds = 0;
                let refit = if can_refit {
                    self.refit(b, seed, budget_end).and_then(|p| {
                        let more = self
                            .further_seed_refits(&[(b, 1.0, seed)], budget_end)
                            .pop()
                            .unwrap_or_default();
                        more_seeds = more.len();
                        seed_average(p, more).with_post(post).into_artifact(info)
                    })
                } else {
                    Err(TrainError::Deadline)
                };
                let (model, kind, note) = match refit {
                    Ok(model) => (model, FinalModelKind::Refit, None),
                    Err(e) => {
                        let why = if keeps_folds {
                            format!(
                                "kept: one {} fit varies with its seed, so its {} fold models, \
                                 averaged, predict better than one refit",
                                b.candidate.family, self.n_folds
                            )
                        } else if !planned {
                            "no refit planned: it would not fit the time budget".to_string()
                        } else if matches!(e, TrainError::Deadline) {
                            "no time left to refit".to_string()
                        } else {
                            format!("refit failed: {e}")
                        };
                        let bytes = self.stored_models(b.trial_id)?;
                        let model = if post.is_some() {
                            let (p, _) = Predictor::from_bytes(&bytes)?;
                            drop(bytes);
                            ToWrite::Predictor(p).with_post(post).into_artifact(info)?
                        } else {
                            Artifact::Raw(bytes)
                        };
                        (model, FinalModelKind::FoldModels, Some(why))
                    }
                };
                self.store
                    .put_blob_owned(self.record.study_id, FINAL_MODEL_BLOB, model)?;
                FinalModel {
                    trial_id: b.trial_id,
                    kind,
                    rows,
                    members: 0,
                    members_refit: 0,
                    more_seeds: if kind == FinalModelKind::Refit {
                        more_seeds
                    } else {
                        0
                    },
                    note,
                }
            }
            (None, None, None) => return Ok("none: no trial completed".to_string()),
        };
        let text = model.to_string();
        self.record.final_trial = Some(model.trial_id);
        self.record.final_model = Some(model);
        Ok(text)
    }

    /// Whether the final model of the single trial `t` keeps its fold models rather than a
    /// refit: under k-fold CV (not a holdout, whose one fold model saw fewer rows than a refit
    /// would), for a family whose fits vary much with the seed
    /// ([`automl_models::Family::final_keeps_fold_models`]: `mlp`).
    fn keeps_fold_models(&self, t: &TrialRecord) -> bool {
        self.n_folds > 1
            && automl_models::registry()
                .get(&t.candidate.family)
                .is_some_and(|f| f.final_keeps_fold_models())
    }

    /// Estimated seconds to refit a trial on all rows ([`super::reserve::refit_estimate_s`]).
    fn refit_estimate_s(&self, t: &TrialRecord) -> f64 {
        super::reserve::refit_estimate_s(t, self.n_folds, self.data.y.len())
    }

    /// Fit a trial's candidate on all rows, giving up a little before `budget_end`, straight
    /// into its encoding.
    fn refit(
        &self,
        t: &TrialRecord,
        seed: u64,
        budget_end: Option<Instant>,
    ) -> Result<PackedPipeline, TrainError> {
        refit_on(&self.data, t, seed, refit_deadline(budget_end))
    }

    /// Refit the ensemble's members on all rows, heaviest weight first, in `jobs` parallel
    /// lanes, as far as the time left allows; a member not refit (no time, or its refit
    /// failed) predicts with its fold models, taken from the ensemble trial's own artifact.
    /// Returns the model and how many members were refit. (On rodents, a 20 % holdout,
    /// one gbdt refit on all rows scored test log loss 0.4110 against 0.4325 for its holdout
    /// model.)
    fn refit_ensemble(
        &self,
        e: &EnsembleTrial,
        budget_end: Option<Instant>,
    ) -> Result<(ToWrite, usize, usize), EngineError> {
        let (parts, n_refit, more_seeds) =
            self.refit_members(&e.members, e.record.trial_id, budget_end)?;
        let parts = e.members.iter().map(|m| m.1).zip(parts).collect();
        Ok((ToWrite::Ensemble(parts), n_refit, more_seeds))
    }

    /// Refit `members` (trial id, weight) on all rows, heaviest weight first, in `jobs` lanes
    /// as far as the time left allows; a member not refit keeps its fold models, taken from
    /// the meta-trial `trial_id`'s own artifact (an ensemble's or a stacking's, members in the
    /// same order). Then the refit members refit with further seeds as far as the time left
    /// allows ([`Self::further_seed_refits`]). Returns the members' predictors in order, how
    /// many were refit and how many further-seed refits were made.
    fn refit_members(
        &self,
        members: &[(u64, f64)],
        trial_id: u64,
        budget_end: Option<Instant>,
    ) -> Result<(Vec<ToWrite>, usize, usize), EngineError> {
        let trials: Vec<Option<&TrialRecord>> = members
            .iter()
            .map(|(id, _)| self.history.iter().find(|t| t.trial_id == *id))
            .collect();
        let wall_left = budget_end.map(|e| e.saturating_duration_since(Instant::now()));
        let plan = if self.config.abort.load(Ordering::SeqCst) {
            vec![Vec::new()]
        } else {
            refit_plan(
                members
                    .iter()
                    .zip(&trials)
                    .map(|((_, w), t)| (*w, t.map_or(f64::INFINITY, |t| self.refit_estimate_s(t))))
                    .collect(),
                self.config.jobs.max(1),
                wall_left.map(|w| w.as_secs_f64() - 0.3),
            )
        };
        let deadline = refit_deadline(budget_end);
        let seed = self.config.seed;
        let seeds: Vec<u64> = trials
            .iter()
            .map(|t| t.map_or(0, |t| Rng::derive_seed(seed, u64::MAX - t.trial_id)))
            .collect();
        // Each refit is written into its encoding as it is fitted: the members are never
        // live together (a forest's trees not even within one member).
        let data = &self.data;
        let refits = run_lanes(&plan, members.len(), |i| {
            refit_on(data, trials[i]?, seeds[i], deadline).ok()
        });
        let n_refit = refits.iter().filter(|r| r.is_some()).count();
        let done: Vec<(usize, &TrialRecord, f64, u64)> = refits
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_some())
            .filter_map(|(i, _)| Some((i, trials[i]?, members[i].1, seeds[i])))
            .collect();
        let mut more: Vec<Vec<PackedPipeline>> = (0..members.len()).map(|_| Vec::new()).collect();
        let further = self.further_seed_refits(
            &done.iter().map(|d| (d.1, d.2, d.3)).collect::<Vec<_>>(),
            budget_end,
        );
        for (d, f) in done.iter().zip(further) {
            more[d.0] = f;
        }
        let more_seeds = more.iter().map(Vec::len).sum();
        let mut packed: Vec<Option<ToWrite>> = refits
            .into_iter()
            .zip(more)
            .map(|(r, m)| r.map(|r| seed_average(r, m)))
            .collect();
        let parts: Vec<ToWrite> = if n_refit == members.len() {
            packed.into_iter().flatten().collect()
        } else {
            // The others' fold models come from the meta-trial's own artifact (members in
            // the same order), stored when it was built, whatever the retention of the
            // members' artifacts since.
            let bags: Vec<Predictor> =
                match Predictor::from_bytes(&self.stored_models(trial_id)?)?.0 {
                    Predictor::Ensemble(bags) => bags.into_iter().map(|(_, b)| b).collect(),
                    Predictor::Stacked(bags, _) => bags,
                    _ => Vec::new(),
                };
            if bags.len() != members.len() {
                return Err(EngineError::NotFound(format!(
                    "the fold models of trial {trial_id} do not match its members"
                )));
            }
            bags.into_iter()
                .zip(packed.iter_mut())
                .map(|(bag, r)| r.take().unwrap_or(ToWrite::Predictor(bag)))
                .collect()
        };
        Ok((parts, n_refit, more_seeds))
    }

    /// Further refits on all rows of trials already refit, `(trial, weight, first seed)`, each
    /// with its own seed, up to its family's `final_refit_seeds` in all, on regression only:
    /// in `jobs` lanes,
    /// every trial's second seed before any third, heaviest first, each only if its estimated
    /// refit time still fits in the time left before `budget_end` (all of them without one).
    /// The reserve never plans for them, so they cost the search nothing. Returns each trial's
    /// further refits, in order.
    fn further_seed_refits(
        &self,
        done: &[(&TrialRecord, f64, u64)],
        budget_end: Option<Instant>,
    ) -> Vec<Vec<PackedPipeline>> {
        let mut out: Vec<Vec<PackedPipeline>> = (0..done.len()).map(|_| Vec::new()).collect();
        // Regression only: on classification (titanic, telco_churn, digits) the averaged
        // refits scored worse than one in paired runs (docs/BENCHMARKS.md §64).
        if self.data.task.is_classification() || self.config.abort.load(Ordering::SeqCst) {
            return out;
        }
        let registry = automl_models::registry();
        // (index into `done`, seed number from 1)
        let jobs: Vec<(usize, u64)> = done
            .iter()
            .enumerate()
            .flat_map(|(i, (t, _, _))| {
                let n = registry
                    .get(&t.candidate.family)
                    .map_or(1, |f| f.final_refit_seeds(&t.candidate.params));
                (1..n as u64).map(move |k| (i, k))
            })
            .collect();
        if jobs.is_empty() {
            return out;
        }
        let wall_left = budget_end.map(|e| e.saturating_duration_since(Instant::now()));
        // A second seed ranks above every third: the priority is the weight less the number.
        let plan = refit_plan(
            jobs.iter()
                .map(|&(i, k)| (done[i].1 - k as f64, self.refit_estimate_s(done[i].0)))
                .collect(),
            self.config.jobs.max(1),
            wall_left.map(|w| w.as_secs_f64() - 0.3),
        );
        let deadline = refit_deadline(budget_end);
        let data = &self.data;
        let fitted = run_lanes(&plan, jobs.len(), |j| {
            let (i, k) = jobs[j];
            let (t, _, first) = done[i];
            refit_on(data, t, Rng::derive_seed(first, k), deadline).ok()
        });
        for (&(i, _), f) in jobs.iter().zip(fitted) {
            if let Some(f) = f {
                out[i].push(f);
            }
        }
        out
    }
}

/// A trial's refit, averaged with its further-seed refits when there are any.
fn seed_average(first: PackedPipeline, more: Vec<PackedPipeline>) -> ToWrite {
    if more.is_empty() {
        return ToWrite::Packed(first);
    }
    let w = 1.0 / (1 + more.len()) as f64;
    ToWrite::Ensemble(
        std::iter::once(first)
            .chain(more)
            .map(|p| (w, ToWrite::Packed(p)))
            .collect(),
    )
}

/// Run the jobs `plan` gives each lane (indices below `n`), the lanes in parallel threads and
/// each lane's jobs in order; what each job returned, by index (None where none ran).
fn run_lanes<T: Send>(
    plan: &[Vec<usize>],
    n: usize,
    job: impl Fn(usize) -> Option<T> + Sync,
) -> Vec<Option<T>> {
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .iter()
            .map(|lane| {
                let job = &job;
                scope.spawn(move || {
                    lane.iter()
                        .filter_map(|&i| Some((i, job(i)?)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (i, v) in done {
                    out[i] = Some(v);
                }
            }
        }
    });
    out
}

/// A refit gives up this long before the end of the time budget.
fn refit_deadline(budget_end: Option<Instant>) -> Option<Instant> {
    budget_end.map(|e| e.checked_sub(Duration::from_millis(150)).unwrap_or(e))
}

fn refit_on(
    data: &automl_data::Dataset,
    t: &TrialRecord,
    seed: u64,
    deadline: Option<Instant>,
) -> Result<PackedPipeline, TrainError> {
    fit_full_packed(
        &data.features,
        &data.y,
        data.task,
        data.classes.len(),
        &t.candidate,
        seed,
        deadline,
    )
}

/// Which refits to make, `(priority, est)` each, in `lanes` parallel lanes of at most `avail`
/// seconds each (None = no limit): in order of priority (highest first; an ensemble member's
/// is its weight), each placed on the least loaded lane if its estimated refit time `est`
/// still fits there, else skipped (a member keeps its fold models). Returns the indices of
/// each lane.
fn refit_plan(members: Vec<(f64, f64)>, lanes: usize, avail: Option<f64>) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| members[b].0.total_cmp(&members[a].0).then(a.cmp(&b)));
    let mut load = vec![0.0f64; lanes];
    let mut plan = vec![Vec::new(); lanes];
    for i in order {
        let est = members[i].1;
        let (l, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("at least one lane");
        if est.is_finite() && avail.is_none_or(|a| load[l] + est <= a) {
            load[l] += est;
            plan[l].push(i);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::refit_plan;

    #[test]
    fn refit_plan_takes_the_heaviest_members_that_fit_in_parallel_lanes() {
        // (weight, estimated refit seconds)
        let members = vec![(0.1, 1.0), (0.4, 3.0), (0.3, 3.0), (0.2, 5.0)];
        // Two lanes of 4 s: 0.4 -> lane 0, 0.3 -> lane 1, 0.2 (5 s) fits nowhere, 0.1 -> lane 0.
        assert_eq!(
            refit_plan(members.clone(), 2, Some(4.0)),
            vec![vec![1, 0], vec![2]]
        );
        // One lane of 4 s: only the heaviest, then the 1 s member.
        assert_eq!(refit_plan(members.clone(), 1, Some(4.0)), vec![vec![1, 0]]);
        // No time limit: everyone, spread over the lanes.
        let all: usize = refit_plan(members.clone(), 2, None)
            .iter()
            .map(Vec::len)
            .sum();
        assert_eq!(all, 4);
        // No time left: nobody; an unknown estimate is never planned.
        assert!(refit_plan(members, 2, Some(-0.3)).iter().all(Vec::is_empty));
        assert!(refit_plan(vec![(1.0, f64::INFINITY)], 1, None)[0].is_empty());
        // Further seeds (priority: the weight less the seed's number): every second seed
        // before any third, heavier first; a lane of 2.5 s takes the two second seeds only.
        let further = vec![(0.6 - 1.0, 1.0), (0.6 - 2.0, 1.0), (0.4 - 1.0, 1.0)];
        assert_eq!(refit_plan(further.clone(), 1, Some(2.5)), vec![vec![0, 2]]);
        assert_eq!(refit_plan(further, 1, None), vec![vec![0, 2, 1]]);
    }
}
