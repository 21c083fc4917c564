//! The study side of the scheduler ([`super::scheduler::Driver`]): asking the strategy and
//! starting trials, recording finished trials (store, best trial, out-of-fold predictions,
//! fold-model retention, progress) and telling the strategy when the scheduler says a trial
//! is due.

use super::executor::Job;
use super::reserve::Reserve;
use super::scheduler::Driver;
use super::{OOF_KEEP, Phase, Progress, Study, now_ms};
use crate::error::EngineError;
use automl_core::{Artifact, Candidate, Predictions, Rng, TrialRecord, TrialState};
use automl_search::AskContext;
use automl_trainer::{Evaluation, TrainingData};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// What the search leaves for the rest of the study.
pub(crate) struct SearchResult {
    /// The best scored trial of the study (ties: the lower trial id).
    pub best: Option<TrialRecord>,
    /// Out-of-fold predictions of the best [`OOF_KEEP`] trials of this session: (trial id,
    /// loss, predictions over the validation rows of every fold, in fold order).
    pub oof: Vec<(u64, f64, Predictions)>,
    /// Trials of this session that failed, timed out or were interrupted.
    pub failed: usize,
    /// What the end of the study is estimated to cost.
    pub reserve: Reserve,
}

/// Asks, records and tells for one search session of a study.
pub(crate) struct SearchDriver<'s, 'a, 'p> {
    study: &'s mut Study<'a>,
    data: &'s TrainingData,
    budget_end: Option<Instant>,
    progress: &'p mut dyn FnMut(&Progress),
    /// Started, not yet finished.
    running: HashMap<u64, TrialRecord>,
    /// Finished, not yet told (held back until due).
    held: BTreeMap<u64, TrialRecord>,
    best: Option<TrialRecord>,
    oof: Vec<(u64, f64, Predictions)>,
    /// Trials whose fold models are kept, as (loss, trial id), best first (with a
    /// `keep_models` limit only).
    kept: Vec<(f64, u64)>,
    /// How many fold-model sets the search keeps (None = all).
    keep: Option<usize>,
    /// Failed, timed-out or interrupted trials of the study before this session.
    failed_before: usize,
    failed: usize,
    reserve: Reserve,
    /// `--max-memory`: bytes a trial may use, the bound less this process's resident memory
    /// when the search started (None: no whole-process bound).
    fit_within: Option<u64>,
    /// Trials of an earlier session not yet told (resume), in ask order: `Some` still being
    /// evaluated (taken over from remote workers), `None` finished (held).
    carried: Vec<(u64, Option<Job>)>,
    /// Configurations (family, params) pushed onto more rows ([`SearchDriver::push_candidate`]).
    pushed: Vec<(String, automl_core::Params)>,
}

/// Big data under a time budget: once this share of the budget has passed, each lane that
/// frees up fits one of the best configurations so far on as many rows as the search's time
/// left allows, operator `push` (at most 2 × `--jobs` pushes; a push that ends early can be
/// pushed again on more rows, with its cost measured at its own scale). Successive halving ranks
/// configurations on a few thousand rows, and on a million rows it never reaches the rows that
/// matter: in §29 of docs/BENCHMARKS.md every 60 s run ended with an ensemble of trials on
/// 1/27 of the rows (test RMSE 0.67-0.68), while one default gbdt on all rows scored 0.6475.
const PUSH_AT: f64 = 0.45;
/// Share of a push's time for the fit itself; the rest covers copying and binning its rows,
/// predicting the holdout, storing, and the estimate's error.
const PUSH_FIT_SHARE: f64 = 0.7;

impl<'s, 'a, 'p> SearchDriver<'s, 'a, 'p> {
    pub fn new(
        study: &'s mut Study<'a>,
        data: &'s TrainingData,
        budget_end: Option<Instant>,
        progress: &'p mut dyn FnMut(&Progress),
    ) -> Self {
        let metric = study.metric;
        let mut running = HashMap::new();
        let mut held = BTreeMap::new();
        let mut carried = Vec::new();
        for rec in std::mem::take(&mut study.carried) {
            if rec.state == TrialState::Running {
                carried.push((
                    rec.trial_id,
                    Some(Job {
                        trial_id: rec.trial_id,
                        candidate: rec.candidate.clone(),
                        seed: rec.seed,
                        deadline: None,
                    }),
                ));
                running.insert(rec.trial_id, rec);
            } else {
                carried.push((rec.trial_id, None));
                held.insert(rec.trial_id, rec);
            }
        }
        let best = study
            .history
            .iter()
            .chain(held.values())
            .filter(|t| t.is_ranked())
            .fold(None, |acc: Option<&TrialRecord>, t| match acc {
                Some(b) if !metric.better(t.mean, b.mean) => Some(b),
                _ => Some(t),
            })
            .cloned();
        // While searching, keep at least the ensemble's candidates' fold models: the ensemble
        // is built from them. Retention trims to `keep_models` at the end.
        let keep = study.config.keep_models.map(|k| {
            let k = usize::try_from(k).unwrap_or(usize::MAX);
            if study.config.ensemble {
                k.max(OOF_KEEP)
            } else {
                k.max(1)
            }
        });
        let mut reserve = Reserve::new(
            data,
            study.config.ensemble,
            study.config.budget.time_s.unwrap_or(0.0),
            study.config.cv.holdout_fraction_for(data.n_rows()),
        );
        reserve.set_stacking(study.config.stacking);
        let sv = study.config.seed_variance;
        let lanes = study.config.jobs.max(1);
        reserve.set_seed_variance(
            sv.budget_share,
            (sv.top * sv.evals_per_trial()).div_ceil(lanes) as f64,
            sv.evals_per_trial().div_ceil(lanes) as f64,
        );
        let failed_before = study
            .history
            .iter()
            .chain(held.values())
            .filter(|t| t.state != TrialState::Complete)
            .count();
        let fit_within = study
            .config
            .max_memory
            .map(|m| m.saturating_sub(automl_trainer::process_rss().unwrap_or(0)));
        SearchDriver {
            reserve,
            fit_within,
            study,
            data,
            budget_end,
            progress,
            running,
            carried,
            held,
            best,
            oof: Vec::new(),
            // This session's trials only: earlier sessions' models are trimmed by the retention
            // at the end of the study.
            kept: Vec::new(),
            keep,
            failed_before,
            failed: 0,
            pushed: Vec::new(),
        }
    }

    /// The next push, if one is due (see [`PUSH_AT`]), as [`plan_push`] chooses it with
    /// [`PUSH_FIT_SHARE`] of the time left for its fit (the search's or the trial limit,
    /// whichever ends first).
    fn push_candidate(&mut self) -> Option<Candidate> {
        let cfg = &self.study.config;
        let budget = cfg.budget.time_s.filter(|t| *t > 0.0)?;
        if self.data.fold_train_rows() < crate::builder::BIG_DATA_TRAIN_ROWS
            || self.pushed.len() >= 2 * cfg.jobs.max(1)
            || cfg.started.elapsed().as_secs_f64() < PUSH_AT * budget
        {
            return None;
        }
        let left = self
            .search_end()?
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        let limit = cfg.trial_time_limit.unwrap_or(budget / 2.0);
        let fit_s = left.min(limit) * PUSH_FIT_SHARE - 1.0;
        if fit_s <= 0.0 {
            return None;
        }
        let trials: Vec<&TrialRecord> = self
            .study
            .history
            .iter()
            .chain(self.held.values())
            .collect();
        let (c, config) = plan_push(
            &trials,
            &self.pushed,
            self.study.metric,
            self.data.folds.len().max(1),
            fit_s,
        )?;
        self.pushed.push(config);
        Some(c)
    }

    pub fn into_result(self) -> SearchResult {
        SearchResult {
            best: self.best,
            oof: self.oof,
            failed: self.failed,
            reserve: self.reserve,
        }
    }

    /// Project the stacking's nested selection on the kept out-of-fold candidates (as
    /// `Study::score_stacking` would choose its members) for the reserve; `rec` is the trial
    /// just finished, not yet held or told.
    fn time_stacking(&mut self, rec: &TrialRecord) {
        let family = |id: u64| {
            if id == rec.trial_id {
                Some(rec.candidate.family.as_str())
            } else {
                self.held
                    .get(&id)
                    .or_else(|| self.study.history.iter().find(|t| t.trial_id == id))
                    .map(|t| t.candidate.family.as_str())
            }
        };
        let cands: Vec<crate::stacking::StackCandidate<'_>> = self
            .oof
            .iter()
            .filter_map(|(id, _, p)| Some((*id, family(*id)?, p)))
            .collect();
        let secs = crate::stacking::projected_secs(
            &cands,
            &self.data.oof_y(),
            &self.data.oof_fold_lens(),
            self.data.task,
            self.data.n_classes,
            &crate::stacking::StackConfig::default(),
        );
        self.reserve.timed_stacking(self.oof.len(), secs);
    }

    /// Time reserved for the end of the study ([`Reserve::duration`]), re-estimated as the
    /// best trial and the ensemble candidates change.
    fn reserve(&self) -> Duration {
        self.reserve.duration(self.best.as_ref(), &self.oof)
    }

    /// Whether a scored trial's fold models are kept, updating the kept set: returns the
    /// trial whose models must now be dropped, if any. Only the best `keep` (by loss, ties
    /// by lower id) are kept, so the result does not depend on the order trials finish in.
    fn keep_models(&mut self, rec: &TrialRecord) -> (bool, Option<u64>) {
        let Some(keep) = self.keep else {
            return (true, None);
        };
        let entry = (self.study.metric.as_loss(rec.mean), rec.trial_id);
        let pos = self
            .kept
            .partition_point(|e| e.0.total_cmp(&entry.0).then(e.1.cmp(&entry.1)).is_lt());
        self.kept.insert(pos, entry);
        if self.kept.len() <= keep {
            return (true, None);
        }
        let (_, dropped) = self.kept.pop().expect("longer than keep");
        if dropped == rec.trial_id {
            (false, None)
        } else {
            (true, Some(dropped))
        }
    }
}

/// Configurations, best first, that [`plan_push`] tries.
const PUSH_CONFIGS: usize = 3;

/// The push [`SearchDriver::push_candidate`] makes with `fit_s` seconds for its fit, from the
/// study's `trials` so far over `n_folds` folds, and the configuration it pushes (to add to
/// `pushed`; a push's own, cheaper configuration counts as new): of the best [`PUSH_CONFIGS`]
/// scored low-fidelity configurations not in `pushed`, the first whose push at least doubles
/// the rows it was scored on. A family with a cheaper variant
/// ([`automl_models::Family::cheaper`]: fewer gbdt rounds at a larger rate) trades its cost for
/// rows first. When the best cannot (a
/// push that ended early leaves too little time to double its rows again), a diverse second
/// configuration still gets the time; on a million rows such a push (1/81 -> 1/9 of the rows)
/// took a quarter of the ensemble. A configuration's cost on all of a fold's training rows is
/// the lowest per-row cost measured among the trials of that exact configuration (a first
/// trial fitted while the data still loads can take twice as long per row as its promotion).
fn plan_push(
    trials: &[&TrialRecord],
    pushed: &[(String, automl_core::Params)],
    metric: automl_core::Metric,
    n_folds: usize,
    fit_s: f64,
) -> Option<(Candidate, (String, automl_core::Params))> {
    let mut ranked: Vec<&&TrialRecord> = trials
        .iter()
        .filter(|t| {
            t.is_scored()
                && t.fit_time_s > 0.0
                && t.candidate.fidelity < 1.0
                && !automl_core::is_meta_family(&t.candidate.family)
        })
        .collect();
    ranked.sort_by(|a, b| {
        metric
            .as_loss(a.mean)
            .total_cmp(&metric.as_loss(b.mean))
            .then(a.trial_id.cmp(&b.trial_id))
    });
    let mut seen: Vec<(&str, &automl_core::Params)> = Vec::new();
    for best in ranked {
        let config = (best.candidate.family.as_str(), &best.candidate.params);
        if seen.contains(&config) || pushed.iter().any(|(f, p)| f == config.0 && p == config.1) {
            continue;
        }
        seen.push(config);
        if seen.len() > PUSH_CONFIGS {
            return None;
        }
        if let Some(c) = size_push(trials, best, n_folds, fit_s) {
            return Some((
                c,
                (best.candidate.family.clone(), best.candidate.params.clone()),
            ));
        }
    }
    None
}

/// The push of `best`'s configuration with `fit_s` seconds for its fit, if it at least doubles
/// the rows `best` was scored on (see [`plan_push`]).
fn size_push(
    trials: &[&TrialRecord],
    best: &TrialRecord,
    n_folds: usize,
    fit_s: f64,
) -> Option<Candidate> {
    let family = automl_models::registry().get(&best.candidate.family)?;
    let same = |t: &&&TrialRecord| {
        t.state == TrialState::Complete
            && t.fit_time_s > 0.0
            && t.candidate.family == best.candidate.family
            && t.candidate.params == best.candidate.params
    };
    // Seconds of one fit on all of a fold's training rows.
    let full_s = trials
        .iter()
        .filter(same)
        .map(|t| {
            t.fit_time_s
                / t.candidate.evaluated_folds(n_folds).max(1) as f64
                / t.candidate.fidelity.clamp(1e-6, 1.0)
        })
        .fold(f64::INFINITY, f64::min);
    if !full_s.is_finite() {
        return None;
    }
    let (params, share) = family
        .cheaper(&best.candidate.params, (fit_s / full_s).min(1.0))
        .unwrap_or_else(|| (best.candidate.params.clone(), 1.0));
    let fidelity = ((fit_s / (full_s * share)).min(1.0) * 1000.0).floor() / 1000.0;
    if fidelity < 2.0 * best.candidate.fidelity {
        return None;
    }
    let mut c = Candidate::new(best.candidate.family.clone(), params, "push");
    c.parents = vec![best.trial_id];
    c.fidelity = fidelity;
    Some(c)
}

/// Under `--max-memory`: lower `c`'s row fidelity until its estimated need fits in `within`
/// bytes (the estimates grow about linearly with the rows), but not below 1000 training rows.
fn lower_fidelity_to_fit(c: &mut automl_core::Candidate, within: u64, data: &TrainingData) {
    let Some(family) = automl_models::registry().get(&c.family) else {
        return;
    };
    let train_rows = data.fold_train_rows().max(1);
    let floor = (1000.0 / train_rows as f64).min(1.0);
    for _ in 0..20 {
        let rows = (train_rows as f64 * c.fidelity.clamp(0.0, 1.0)).ceil() as usize;
        let need = automl_trainer::memory::estimate_for(
            family,
            &c.params,
            rows,
            data.features.n_columns(),
            data.n_classes,
        );
        if need <= within || c.fidelity <= floor {
            return;
        }
        c.fidelity = (c.fidelity * (within as f64 / need as f64) * 0.9).max(floor);
    }
}

impl Driver for SearchDriver<'_, '_, '_> {
    fn search_end(&self) -> Option<Instant> {
        let started = self.study.config.started;
        self.budget_end
            .map(|e| e.checked_sub(self.reserve()).unwrap_or(started))
    }

    fn ask(&mut self) -> Result<Option<Job>, EngineError> {
        let cfg = &self.study.config;
        // Under a trial budget alone, progress counts told trials: nothing here reads the clock.
        let elapsed_fraction = match (cfg.budget.time_s, cfg.budget.max_trials) {
            (Some(t), _) if t > 0.0 => (cfg.started.elapsed().as_secs_f64() / t).min(1.0),
            // The history holds searched trials only while the search runs (meta-trials are
            // added after it, and filtered out on resume).
            (_, Some(m)) if m > 0 => self.study.history.len() as f64 / m as f64,
            _ => 0.0,
        };
        let time_left_s = self
            .search_end()
            .map(|e| e.saturating_duration_since(Instant::now()).as_secs_f64());
        let push = self.push_candidate();
        let study = &mut *self.study;
        let mut candidate = match push {
            Some(c) => c,
            None => {
                let ctx = AskContext {
                    space: &study.space,
                    task: study.data.task,
                    metric: study.metric,
                    families: &study.families,
                    history: &study.history,
                    elapsed_fraction,
                    time_left_s,
                };
                let Some(c) = study.strategy.ask(&ctx) else {
                    return Ok(None);
                };
                c
            }
        };
        if let Some(within) = self.fit_within {
            lower_fidelity_to_fit(&mut candidate, within, self.data);
        }
        let mut rec =
            study
                .store
                .start_trial(study.record.study_id, &candidate, study.strategy.name(), 0)?;
        rec.seed = Rng::derive_seed(study.config.seed, rec.trial_id);
        let job = Job {
            trial_id: rec.trial_id,
            candidate,
            seed: rec.seed,
            deadline: None,
        };
        self.running.insert(rec.trial_id, rec);
        Ok(Some(job))
    }

    fn memory_need(&self, job: &Job) -> u64 {
        let Some(family) = automl_models::registry().get(&job.candidate.family) else {
            return 0;
        };
        let rows = (self.data.fold_train_rows() as f64 * job.candidate.fidelity.clamp(0.0, 1.0))
            .ceil() as usize;
        automl_trainer::memory::estimate_for(
            family,
            &job.candidate.params,
            rows,
            self.data.features.n_columns(),
            self.data.n_classes,
        )
    }

    fn finished(
        &mut self,
        trial_id: u64,
        eval: Evaluation,
        running: usize,
    ) -> Result<(), EngineError> {
        let Some(mut rec) = self.running.remove(&trial_id) else {
            return Ok(());
        };
        fill_record(&mut rec, &eval);
        let metric = self.study.metric;
        let mut artifact = eval.artifact;
        if rec.is_scored() && !rec.is_ranked() {
            // A first look on fewer folds (fold fidelity): its out-of-fold predictions cover
            // those folds only, so it feeds neither the ensemble nor the stacking, and it can
            // be neither the best trial nor the final model: its fold models are not kept.
            artifact = None;
        }
        if rec.is_ranked() {
            if let Some((_, p)) = eval.oof {
                self.oof.push((rec.trial_id, metric.as_loss(rec.mean), p));
                self.oof
                    .sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                self.oof.truncate(OOF_KEEP);
                if let Some((_, _, p)) = self.oof.first() {
                    self.reserve.time_selection_step(p, self.data, metric);
                }
                if self.reserve.wants_stacking_timing(self.oof.len()) {
                    self.time_stacking(&rec);
                }
            }
            if artifact.is_some() {
                let (keep, dropped) = self.keep_models(&rec);
                if !keep {
                    artifact = None;
                }
                if let Some(d) = dropped {
                    self.study
                        .store
                        .delete_artifact(self.study.record.study_id, d)?;
                    self.reserve.dropped(d);
                }
            }
            let better = match &self.best {
                None => true,
                Some(b) => {
                    metric.better(rec.mean, b.mean)
                        || (rec.mean == b.mean && rec.trial_id < b.trial_id)
                }
            };
            if better {
                self.best = Some(rec.clone());
            }
        }
        let t_store = Instant::now();
        let stored_len = artifact.as_ref().map(Artifact::len);
        self.study.store.finish_trial_owned(&rec, artifact)?;
        if let Some(len) = stored_len {
            self.reserve
                .stored(rec.trial_id, len, t_store.elapsed().as_secs_f64());
        }
        rec.has_artifact = stored_len.is_some();
        self.study.store.publish_snapshot()?;
        if rec.state != TrialState::Complete {
            self.failed += 1;
        }
        (self.progress)(&Progress {
            done: self.study.history.len() + self.held.len() + 1,
            failed: self.failed_before + self.failed,
            running,
            best: self
                .best
                .as_ref()
                .map(|b| (b.mean, b.candidate.family.clone())),
            time_left_s: self
                .budget_end
                .map(|e| e.saturating_duration_since(Instant::now()).as_secs_f64()),
            phase: Phase::Searching,
            last: Some(rec.clone()),
        });
        self.held.insert(trial_id, rec);
        Ok(())
    }

    fn carried(&mut self) -> Vec<(u64, Option<Job>)> {
        std::mem::take(&mut self.carried)
    }

    fn tell(&mut self, trial_id: u64) -> Result<(), EngineError> {
        let Some(rec) = self.held.remove(&trial_id) else {
            return Ok(());
        };
        let study = &mut *self.study;
        let ctx = AskContext {
            space: &study.space,
            task: study.data.task,
            metric: study.metric,
            families: &study.families,
            history: &study.history,
            elapsed_fraction: 0.0,
            time_left_s: None,
        };
        study.strategy.tell(&ctx, &rec);
        study.history.push(rec);
        Ok(())
    }
}

/// Copy an evaluation's results into a trial record.
fn fill_record(rec: &mut TrialRecord, eval: &Evaluation) {
    rec.state = eval.state;
    rec.fold_scores = eval.fold_scores.clone();
    rec.mean = eval.mean;
    rec.std = eval.std;
    rec.metrics = eval.metrics.clone();
    rec.fit_time_s = eval.fit_time_s;
    rec.predict_time_per_row_s = eval.predict_time_per_row_s;
    rec.model_size_bytes = eval.model_size_bytes;
    rec.has_artifact = eval.artifact.is_some();
    rec.error = eval.error.clone();
    rec.ended_at_ms = now_ms();
    for (k, v) in &eval.facts {
        rec.extra.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::{Candidate, Metric, Params, Task};
    use automl_data::Frame;
    use std::sync::Arc;

    fn data(rows: usize) -> TrainingData {
        let cols = (0..10)
            .map(|j| {
                automl_data::Column::numeric(
                    format!("x{j}"),
                    (0..rows).map(|i| ((i * (j + 3)) % 97) as f64).collect(),
                )
            })
            .collect();
        let y: Vec<f64> = (0..rows).map(|i| (i % 2) as f64).collect();
        TrainingData::new(
            Arc::new(Frame::new(cols)),
            y,
            Task::Binary,
            2,
            Metric::LogLoss,
            &automl_trainer::CvConfig::default(),
        )
    }

    fn need(c: &Candidate, d: &TrainingData) -> u64 {
        let rows = (d.fold_train_rows() as f64 * c.fidelity).ceil() as usize;
        automl_trainer::memory::estimate_for(
            automl_models::registry().get(&c.family).unwrap(),
            &c.params,
            rows,
            d.features.n_columns(),
            d.n_classes,
        )
    }

    /// A complete trial `id` of `family` with `params` at `fidelity`, RMSE `mean`, fitted in
    /// `fit_s` seconds over its folds.
    fn scored(
        id: u64,
        family: &str,
        params: &Params,
        fidelity: f64,
        mean: f64,
        fit_s: f64,
    ) -> TrialRecord {
        use automl_store::{MemoryStore, Store, conformance};
        let store = MemoryStore::new();
        let study = store.create_study(conformance::sample_study("p")).unwrap();
        let mut c = Candidate::new(family, params.clone(), "portfolio");
        c.fidelity = fidelity;
        let mut t = conformance::completed(store.start_trial(study, &c, "test", 0).unwrap(), mean);
        t.trial_id = id;
        t.fit_time_s = fit_s;
        t
    }

    fn gbdt(rate: f64, rounds: i64) -> Params {
        use automl_core::ParamValue;
        Params::from([
            ("learning_rate".to_string(), ParamValue::Float(rate)),
            ("max_rounds".to_string(), ParamValue::Int(rounds)),
        ])
    }

    #[test]
    fn a_push_takes_the_best_configuration_onto_the_rows_its_cheapest_measured_cost_allows() {
        let slow = gbdt(0.02, 2000);
        let quick = gbdt(0.1, 300);
        // The slow configuration is the best: fitted on 1/81 of the rows in 3.6 s, then
        // promoted to 1/27 and fitted in 24.3 s on a contended machine. The lower cost per row
        // counts: 291.6 s on all rows, not the best trial's own 656.1 s.
        let t0 = scored(0, "gbdt", &slow, 1.0 / 81.0, 0.78, 3.6);
        let t1 = scored(1, "gbdt", &quick, 1.0 / 81.0, 0.90, 1.0);
        let t2 = scored(2, "gbdt", &slow, 1.0 / 27.0, 0.68, 24.3);
        let trials = [&t0, &t1, &t2];
        let (c, config) = plan_push(&trials, &[], Metric::Rmse, 1, 29.2).expect("a push");
        assert_eq!(
            (c.operator.as_str(), c.parents.as_slice()),
            ("push", &[2u64][..])
        );
        assert_eq!(config, ("gbdt".to_string(), slow.clone()));
        // gbdt's cheaper variant: rate 0.02 -> 0.2 keeps 10 % of the rounds, so 29.2 s fit
        // all the rows (29.16 s would do).
        assert_eq!(c.params["max_rounds"].as_i64(), Some(200));
        assert!((c.params["learning_rate"].as_f64().unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(c.fidelity, 1.0);
        // Half the time: half the rows, floored to a thousandth.
        let (c, _) = plan_push(&trials, &[], Metric::Rmse, 1, 14.6).unwrap();
        assert_eq!(c.fidelity, 0.5);
        // Five folds: each fold's fit took a fifth of the trial's fit time.
        let (c, _) = plan_push(&trials, &[], Metric::Rmse, 5, 14.6 / 5.0).unwrap();
        assert_eq!(c.fidelity, 0.5);
        // Pushed already: the next configuration, with its own cost (its 300 rounds at 0.1 keep
        // 200 at 0.15: 54 s on all rows at two thirds of the time).
        let (c, config) = plan_push(&trials, &[config], Metric::Rmse, 1, 27.05).unwrap();
        assert_eq!(config.1, quick);
        assert_eq!(
            (c.parents[0], c.params["max_rounds"].as_i64()),
            (1, Some(200))
        );
        assert_eq!(c.fidelity, 0.5);
        // The best cannot double its rows in 2 s (6.9 % of them against 3.7 % seen), the
        // next configuration can (3.7 % against 1.2 %); in 1 s neither can.
        let (c, config) = plan_push(&trials, &[], Metric::Rmse, 1, 2.0).unwrap();
        assert_eq!(
            (config.1, c.parents[0], c.fidelity),
            (quick.clone(), 1, 0.037)
        );
        assert!(plan_push(&trials, &[], Metric::Rmse, 1, 1.0).is_none());
        // Only the best PUSH_CONFIGS configurations are tried.
        let worse: Vec<TrialRecord> = (0..PUSH_CONFIGS as u64)
            .map(|i| {
                scored(
                    10 + i,
                    "gbdt",
                    &gbdt(0.1, 100 + i as i64),
                    0.1,
                    0.5 + i as f64 * 0.01,
                    100.0,
                )
            })
            .collect();
        let mut with_worse: Vec<&TrialRecord> = worse.iter().collect();
        with_worse.push(&t1);
        assert!(plan_push(&with_worse, &[], Metric::Rmse, 1, 27.05).is_none());
        with_worse.remove(0);
        assert_eq!(
            plan_push(&with_worse, &[], Metric::Rmse, 1, 27.05)
                .unwrap()
                .1
                .1,
            quick
        );
        // A family without a cheaper variant keeps its params; a higher-is-better metric ranks
        // the other way.
        let rf = scored(3, "random_forest", &Params::new(), 0.1, 0.9, 2.0);
        let lr = scored(4, "logistic", &Params::new(), 0.1, 0.7, 0.1);
        let (c, _) = plan_push(&[&rf, &lr], &[], Metric::RocAuc, 1, 10.0).unwrap();
        assert_eq!(
            (c.family.as_str(), c.params.clone(), c.fidelity),
            ("random_forest", Params::new(), 0.5)
        );
        // Trials at full fidelity and unscored ones are never pushed.
        let full = scored(5, "gbdt", &quick, 1.0, 0.1, 1.0);
        let mut failed = scored(6, "gbdt", &quick, 0.1, 0.1, 1.0);
        failed.state = TrialState::Failed;
        assert!(plan_push(&[&full, &failed], &[], Metric::Rmse, 1, 100.0).is_none());
    }

    #[test]
    fn a_candidate_too_big_for_the_bound_runs_on_fewer_rows_but_not_below_1000() {
        let d = data(50_000);
        let mut c = Candidate::new("knn", Params::new(), "test");
        let full = need(&c, &d);
        // Room for about a third of it: the fidelity drops until the estimate fits.
        lower_fidelity_to_fit(&mut c, full / 3, &d);
        assert!(c.fidelity < 0.5, "fidelity {}", c.fidelity);
        assert!(need(&c, &d) <= full / 3);
        // Room for it all: unchanged.
        let mut c2 = Candidate::new("knn", Params::new(), "test");
        lower_fidelity_to_fit(&mut c2, full, &d);
        assert_eq!(c2.fidelity, 1.0);
        // No room at all: the floor of 1000 training rows.
        let mut c3 = Candidate::new("knn", Params::new(), "test");
        lower_fidelity_to_fit(&mut c3, 1, &d);
        let floor = 1000.0 / d.fold_train_rows() as f64;
        assert!((c3.fidelity - floor).abs() < 1e-12, "{}", c3.fidelity);
    }
}
