//! Seed variance (underspecification): after the search, the best few trials are evaluated
//! again with other model seeds on the study's own folds (`seed_std`, `churn`) and with their
//! own seed on reshuffled folds (`split_std`), and the trials within the leader's noise are
//! marked `tied`; `Select::Stable` then makes the most stable tied trial the final model.
//!
//! Definitions (also in `automl fit --help`):
//! - `seed_std`: sample standard deviation of the mean CV score over the trial's own seed and
//!   `seeds` other seeds (`Rng::derive_seed(trial seed, k)`, k = 1..=seeds), same folds.
//! - `churn`: the share of out-of-fold predictions that differ from the trial's own seed's,
//!   averaged over the other seeds: the predicted class, or for regression a value that moves
//!   by more than 1 % of the target's standard deviation.
//! - `split_std`: sample standard deviation of the mean CV score over the study's folds and
//!   `splits` reshuffles of them (other split seeds, the same groups), the trial's own seed.
//!   Not measured for time-ordered folds (reshuffling them is meaningless).
//! - `tied`: |mean − leader's mean| ≤ noise, noise = max(√(seed_std_leader² + seed_std²),
//!   the leader's fold standard error std/√folds, the folds of one fold set under a repeated
//!   k-fold); the leader (the best measured trial) is tied.
//! - `Select::Stable`: among tied trials, the lowest seed_std + churn (ties: the better score,
//!   then the lower trial id). An ensemble that is used stays the final model.
//!
//! Time: without a time budget every evaluation runs and nothing reads the clock (the results
//! are reproducible). Under a time budget the step ends before `step_end` (the time the final
//! model needs is left): a trial whose evaluations are predicted not to fit is skipped, and an
//! evaluation still running at `step_end` is dropped; what was skipped is noted.

use super::Study;
use crate::error::EngineError;
use automl_core::{
    Candidate, Predictions, Rng, SEED_VARIANCE_KEY, SeedVariance, Task, TrialRecord, is_meta_family,
};
use automl_data::RowBlocks;
use automl_trainer::{Evaluation, TrainingData, evaluate_scores};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which trial becomes the final model when no ensemble is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Select {
    /// The best score (ties: the lower trial id).
    #[default]
    Best,
    /// Among the trials tied with the leader, the lowest seed_std + churn.
    Stable,
}

/// Settings of the seed-variance step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedVarianceConfig {
    /// How many of the best searched trials are measured (0: the step is off).
    pub top: usize,
    /// Other model seeds per trial on the study's folds.
    pub seeds: usize,
    /// Reshuffled fold sets per trial (with the trial's own seed).
    pub splits: usize,
    /// How the final model's trial is chosen.
    pub select: Select,
    /// Share of the time budget the search leaves for this step at most.
    pub budget_share: f64,
}

impl Default for SeedVarianceConfig {
    fn default() -> Self {
        SeedVarianceConfig {
            top: 5,
            seeds: 3,
            splits: 2,
            select: Select::Best,
            budget_share: 0.1,
        }
    }
}

impl SeedVarianceConfig {
    /// Evaluations per measured trial.
    pub fn evals_per_trial(&self) -> usize {
        if self.top == 0 {
            0
        } else {
            self.seeds + self.splits
        }
    }
}

/// The seed-variance measurement stored on a trial record, if any.
pub fn seed_variance_of(t: &TrialRecord) -> Option<SeedVariance> {
    serde_json::from_str(t.extra.get(SEED_VARIANCE_KEY)?).ok()
}

fn set_seed_variance(t: &mut TrialRecord, sv: &SeedVariance) {
    if let Ok(text) = serde_json::to_string(sv) {
        t.extra.insert(SEED_VARIANCE_KEY.to_string(), text);
    }
}

/// Seconds one evaluation of `t` is expected to take: its recorded wall time (fits, predictions
/// and the artifact, under the search's load), at least its fit time. Read under a time
/// budget only.
fn eval_secs(t: &TrialRecord) -> f64 {
    let wall = t.ended_at_ms.saturating_sub(t.started_at_ms) as f64 / 1000.0;
    wall.max(t.fit_time_s).max(0.0)
}

/// Seconds `rounds` rounds of evaluations of `t` (its evaluations over the lanes) are expected
/// to take, with a 20 % margin: what the step checks before measuring a trial, and what the
/// search reserves for it.
pub(crate) fn rounds_secs(t: &TrialRecord, rounds: f64) -> f64 {
    eval_secs(t) * rounds * 1.2
}

/// Sample standard deviation, computed around the first value so that equal values give
/// exactly 0.
pub(crate) fn sample_std(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let d: Vec<f64> = xs.iter().map(|x| x - xs[0]).collect();
    let m = d.iter().sum::<f64>() / d.len() as f64;
    (d.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (d.len() - 1) as f64).sqrt()
}

/// Share of rows whose prediction differs between `a` and `b` (`tol`: the regression
/// tolerance; classes compare exactly).
pub(crate) fn churn(a: &Predictions, b: &Predictions, task: Task, tol: f64) -> f64 {
    let n = a.values.len().min(b.values.len());
    if n == 0 {
        return 0.0;
    }
    let changed = a
        .values
        .iter()
        .zip(&b.values)
        .filter(|(x, y)| match task {
            Task::Regression => (*x - *y).abs() > tol,
            _ => x != y,
        })
        .count();
    changed as f64 / n as f64
}

/// Mark the ties of `measured` (best first) with `leader`, the best searched trial: sets
/// `tied` and `noise`. When the leader itself was not measured (no time), its seed_std is
/// taken to be the other trial's.
pub(crate) fn mark_ties(
    leader: &TrialRecord,
    measured: &mut [(TrialRecord, SeedVariance)],
    n_folds: usize,
) {
    let lseed = measured
        .iter()
        .find(|(t, _)| t.trial_id == leader.trial_id)
        .map(|(_, sv)| sv.seed_std);
    let (lmean, lstd) = (leader.mean, leader.std);
    let se = lstd / (n_folds.max(1) as f64).sqrt();
    for (t, sv) in measured.iter_mut() {
        let l = lseed.unwrap_or(sv.seed_std);
        let noise = (l * l + sv.seed_std * sv.seed_std).sqrt().max(se);
        sv.noise = noise;
        sv.tied = (t.mean - lmean).abs() <= noise;
    }
}

/// The trial `Select::Stable` picks among `measured` (best first): the tied one with the
/// lowest seed_std + churn, ties by the better score and then the lower id.
pub(crate) fn pick_stable(
    measured: &[(TrialRecord, SeedVariance)],
    metric: automl_core::Metric,
) -> Option<usize> {
    measured
        .iter()
        .enumerate()
        .filter(|(_, (_, sv))| sv.tied)
        .min_by(|(_, (a, x)), (_, (b, y))| {
            (x.seed_std + x.churn)
                .total_cmp(&(y.seed_std + y.churn))
                .then(metric.as_loss(a.mean).total_cmp(&metric.as_loss(b.mean)))
                .then(a.trial_id.cmp(&b.trial_id))
        })
        .map(|(i, _)| i)
}

/// What the step did.
pub(crate) struct SeedStep {
    /// The final model's trial under `Select::Stable` when it is not the leader, and why.
    pub stable: Option<(TrialRecord, String)>,
    /// Trials measured (with their seed variance), best first.
    pub measured: usize,
}

/// One evaluation of the step.
struct Work {
    data: usize,
    candidate: Candidate,
    seed: u64,
}

/// Run `work` on at most `lanes` scoped threads; results in the order of `work`, without their
/// fold models ([`evaluate_scores`]): only the scores and out-of-fold predictions are read, and
/// every evaluation is held until the last one ends. Kept, each fold bag stayed in memory: on
/// diamonds one `random_forest` (334 trees, one row per leaf) grew the process by 200-300 MB
/// per seed evaluation, to 980 MB (BENCHMARKS §55).
fn run_all(
    work: &[Work],
    datasets: &[Arc<TrainingData>],
    lanes: usize,
    deadline: Option<Instant>,
) -> Vec<Option<Evaluation>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Evaluation>>> = Mutex::new((0..work.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..lanes.clamp(1, work.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(w) = work.get(i) else { break };
                    let e = evaluate_scores(&datasets[w.data], &w.candidate, w.seed, deadline);
                    if let Ok(mut o) = out.lock() {
                        o[i] = Some(e);
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}

impl Study<'_> {
    /// Measure the seed variance of the best searched trials (see the module doc), store it on
    /// their records and on the study (`extra["seed_variance"]`), and pick the stable trial.
    pub(crate) fn measure_seed_variance(
        &mut self,
        data: &Arc<TrainingData>,
        oof: &[(u64, f64, Predictions)],
        step_end: Option<Instant>,
    ) -> Result<Option<SeedStep>, EngineError> {
        let cfg = self.config.seed_variance;
        if cfg.top == 0 {
            return Ok(None);
        }
        let metric = self.metric;
        let mut top: Vec<TrialRecord> = self
            .history
            .iter()
            .filter(|t| t.is_ranked() && !is_meta_family(&t.candidate.family))
            .cloned()
            .collect();
        top.sort_by(|a, b| {
            metric
                .as_loss(a.mean)
                .total_cmp(&metric.as_loss(b.mean))
                .then(a.trial_id.cmp(&b.trial_id))
        });
        top.truncate(cfg.top);
        if top.is_empty() {
            return Ok(None);
        }
        let time_order = matches!(self.data.blocks, RowBlocks::Time { .. });
        let splits = if time_order { 0 } else { cfg.splits };
        // The reshuffled fold sets are built once a trial is to be measured on them: a step
        // that skips every trial for lack of time builds none.
        let mut datasets = vec![data.clone()];
        let base = Rng::derive_seed(self.config.seed, u64::MAX - 1);
        let tol = 0.01 * sample_std(&data.y);
        let lanes = self.config.jobs.max(1);
        let mut measured: Vec<(TrialRecord, SeedVariance)> = Vec::new();
        let mut skipped = Vec::new();
        for t in &top {
            if self.config.abort.load(Ordering::SeqCst) {
                skipped.push(t.trial_id);
                continue;
            }
            let own = oof.iter().find(|o| o.0 == t.trial_id).map(|o| &o.2);
            let mut work = Vec::new();
            if own.is_none() {
                // An earlier session's trial: its predictions are not in memory.
                work.push(Work {
                    data: 0,
                    candidate: t.candidate.clone(),
                    seed: t.seed,
                });
            }
            for k in 1..=cfg.seeds {
                work.push(Work {
                    data: 0,
                    candidate: t.candidate.clone(),
                    seed: Rng::derive_seed(t.seed, k as u64),
                });
            }
            for r in 0..splits {
                work.push(Work {
                    data: r + 1,
                    candidate: t.candidate.clone(),
                    seed: t.seed,
                });
            }
            if let Some(end) = step_end {
                // Predicted: the trial's own evaluation time, the work over the lanes.
                let rounds = work.len().div_ceil(lanes) as f64;
                let need = Duration::from_secs_f64(rounds_secs(t, rounds));
                if Instant::now() + need > end {
                    skipped.push(t.trial_id);
                    continue;
                }
            }
            if datasets.len() == 1 {
                for r in 0..splits {
                    let mut spec = self.training_data_spec();
                    spec.cv.seed = Rng::derive_seed(base, r as u64);
                    datasets.push(Arc::new(spec.build()?));
                }
            }
            let evals = run_all(&work, &datasets, lanes, step_end);
            let mut evals = evals.into_iter();
            let own_eval = if own.is_none() {
                evals.next().flatten()
            } else {
                None
            };
            let own_pred = own
                .cloned()
                .or_else(|| own_eval.and_then(|e| e.oof.map(|o| o.1)));
            let mut sv = SeedVariance {
                seeds: vec![t.seed],
                seed_scores: vec![t.mean],
                seed_fold_scores: vec![t.fold_scores.clone()],
                split_scores: if splits > 0 { vec![t.mean] } else { vec![] },
                ..SeedVariance::default()
            };
            let mut churns = Vec::new();
            let mut lost = 0usize;
            for k in 1..=cfg.seeds {
                match evals.next().flatten() {
                    Some(e) if e.mean.is_finite() => {
                        sv.seeds.push(Rng::derive_seed(t.seed, k as u64));
                        sv.seed_scores.push(e.mean);
                        sv.seed_fold_scores.push(e.fold_scores.clone());
                        if let (Some(a), Some((_, b))) = (&own_pred, &e.oof) {
                            churns.push(churn(a, b, self.data.task, tol));
                        }
                    }
                    _ => lost += 1,
                }
            }
            for _ in 0..splits {
                match evals.next().flatten() {
                    Some(e) if e.mean.is_finite() => sv.split_scores.push(e.mean),
                    _ => lost += 1,
                }
            }
            sv.seed_std = sample_std(&sv.seed_scores);
            sv.churn = if churns.is_empty() {
                0.0
            } else {
                churns.iter().sum::<f64>() / churns.len() as f64
            };
            sv.split_std = (sv.split_scores.len() >= 2).then(|| sample_std(&sv.split_scores));
            if lost > 0 {
                sv.note = Some(format!(
                    "{lost} of {} evaluations did not finish",
                    cfg.seeds + splits
                ));
            }
            measured.push((t.clone(), sv));
        }
        // The folds of one fold set: those of a repeated k-fold reuse the same rows.
        mark_ties(&top[0], &mut measured, data.oof_folds().len());
        // Store: the record as it is in the store now, with the measurement; its models (if
        // retention kept them) stay as they are stored.
        for (t, sv) in &measured {
            let study_id = self.record.study_id;
            let mut rec = self
                .store
                .trial(study_id, t.trial_id)?
                .unwrap_or_else(|| t.clone());
            set_seed_variance(&mut rec, sv);
            self.store.update_finished(&rec)?;
            if let Some(h) = self.history.iter_mut().find(|h| h.trial_id == t.trial_id) {
                set_seed_variance(h, sv);
            }
        }
        let mut text = format!(
            "{} of the best {} trials measured: {} other seeds{}",
            measured.len(),
            top.len(),
            cfg.seeds,
            if time_order {
                ", no reshuffled folds (time order)".to_string()
            } else {
                format!(", {splits} reshuffled fold sets")
            }
        );
        if !skipped.is_empty() {
            text.push_str(&format!("; skipped (no time left): trials {skipped:?}"));
        }
        self.record
            .extra
            .insert(SEED_VARIANCE_KEY.to_string(), text);
        let leader = &top[0];
        let leader_sv = measured
            .iter()
            .find(|(t, _)| t.trial_id == leader.trial_id)
            .map(|(_, sv)| format!("{:.4}", sv.seed_std + sv.churn))
            .unwrap_or_else(|| "not measured".to_string());
        let stable = match cfg.select {
            Select::Best => None,
            Select::Stable => pick_stable(&measured, metric)
                .filter(|&i| measured[i].0.trial_id != leader.trial_id)
                .map(|i| {
                    let (t, sv) = &measured[i];
                    let mut rec = t.clone();
                    set_seed_variance(&mut rec, sv);
                    let why = format!(
                        "--select stable: trial {} ({}, {:.4}) is tied with the leader trial {} \
                         ({:.4}; noise {:.4}) and more stable: seed_std + churn {:.4} against {}",
                        t.trial_id,
                        t.candidate.family,
                        t.mean,
                        leader.trial_id,
                        leader.mean,
                        sv.noise,
                        sv.seed_std + sv.churn,
                        leader_sv
                    );
                    (rec, why)
                }),
        };
        Ok(Some(SeedStep {
            stable,
            measured: measured.len(),
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use automl_core::{Metric, Params, SCHEMA_VERSION, TrialState};

    /// A complete gbdt trial scored `mean` ± `std` on one fold (also used by other modules' tests).
    pub(crate) fn trial(id: u64, mean: f64, std: f64) -> TrialRecord {
        TrialRecord {
            schema_version: SCHEMA_VERSION,
            study_id: 1,
            trial_id: id,
            candidate: Candidate::new("gbdt", Params::new(), "random"),
            strategy: "random".into(),
            state: TrialState::Complete,
            fold_scores: vec![mean],
            mean,
            std,
            metrics: Default::default(),
            fit_time_s: 0.0,
            predict_time_per_row_s: 0.0,
            model_size_bytes: 0,
            has_artifact: false,
            error: None,
            seed: 0,
            started_at_ms: 0,
            ended_at_ms: 0,
            extra: Default::default(),
            ensemble: None,
        }
    }

    fn sv(seed_std: f64, churn: f64) -> SeedVariance {
        SeedVariance {
            seed_std,
            churn,
            ..SeedVariance::default()
        }
    }

    #[test]
    fn seed_evaluations_are_returned_without_their_artifacts() {
        use automl_data::{Column, Frame};
        let n = 120;
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + (v * 0.7).sin()).collect();
        let data = Arc::new(TrainingData::new(
            Arc::new(Frame::new(vec![Column::numeric("x", x)])),
            y,
            automl_core::Task::Regression,
            0,
            Metric::Rmse,
            &automl_trainer::CvConfig::default(),
        ));
        let work: Vec<Work> = (0..3)
            .map(|seed| Work {
                data: 0,
                candidate: Candidate::new("decision_tree", Params::new(), "seed_variance"),
                seed,
            })
            .collect();
        // The same evaluation alone does write an artifact.
        let alone = automl_trainer::evaluate(&data, &work[0].candidate, 0, None);
        assert!(alone.artifact.is_some());
        let out = run_all(&work, &[data], 2, None);
        assert_eq!(out.len(), 3);
        for e in &out {
            let e = e.as_ref().expect("evaluated");
            assert_eq!(e.state, TrialState::Complete, "{:?}", e.error);
            assert!(e.oof.is_some() && e.artifact.is_none());
        }
        // The same scores and out-of-fold predictions as the evaluation that kept its models.
        let first = out[0].as_ref().expect("evaluated");
        assert_eq!(first.fold_scores, alone.fold_scores);
        assert_eq!(first.oof, alone.oof);
    }

    #[test]
    fn equal_values_have_zero_std() {
        let x = 0.1 + 0.2;
        assert_eq!(sample_std(&[x, x, x, x]), 0.0);
        assert!(sample_std(&[0.8, 0.81]) > 0.0);
        assert_eq!(sample_std(&[0.5]), 0.0);
    }

    #[test]
    fn ties_and_the_stable_pick() {
        // Leader 0.90 (seed_std 0.01, fold std 0.02 over 4 folds: se 0.01). Noise against
        // trial 2 (seed_std 0.0): max(0.01, 0.01) = 0.01 -> 0.895 tied; trial 3 (0.85) not;
        // trial 4 (0.88, seed_std 0.03): noise √(0.01²+0.03²) ≈ 0.0316 -> tied.
        let mut m = vec![
            (trial(1, 0.90, 0.02), sv(0.01, 0.05)),
            (trial(2, 0.895, 0.02), sv(0.0, 0.0)),
            (trial(3, 0.85, 0.02), sv(0.0, 0.0)),
            (trial(4, 0.88, 0.02), sv(0.03, 0.01)),
        ];
        mark_ties(&m[0].0.clone(), &mut m, 4);
        let tied: Vec<bool> = m.iter().map(|x| x.1.tied).collect();
        assert_eq!(tied, vec![true, true, false, true]);
        assert_eq!(pick_stable(&m, Metric::RocAuc), Some(1), "trial 2: 0 + 0");
        // Trial 3 is the most stable but not tied: never picked. Make trial 2 unstable:
        // the leader (0.06) beats trial 4 (0.04)? No: trial 4 has 0.04 < 0.06 and wins.
        m[1].1 = sv(0.0, 0.5);
        mark_ties(&m[0].0.clone(), &mut m, 4);
        assert_eq!(pick_stable(&m, Metric::RocAuc), Some(3));
        // Equal stability: the better score wins (the leader).
        let mut m = vec![
            (trial(1, 0.90, 0.0), sv(0.01, 0.0)),
            (trial(2, 0.899, 0.0), sv(0.01, 0.0)),
        ];
        mark_ties(&m[0].0.clone(), &mut m, 5);
        assert!(m[1].1.tied);
        assert_eq!(pick_stable(&m, Metric::RocAuc), Some(0));
        // Lower is better (rmse): a tie is by absolute distance.
        let mut m = vec![
            (trial(1, 1.0, 0.1), sv(0.0, 0.0)),
            (trial(2, 1.5, 0.1), sv(0.0, 0.0)),
        ];
        mark_ties(&m[0].0.clone(), &mut m, 4);
        assert!(m[0].1.tied && !m[1].1.tied);
        assert_eq!(pick_stable(&m, Metric::Rmse), Some(0));
        // The leader was not measured (no time): ties are judged against its score, with the
        // other trial's seed_std standing in for the leader's.
        let leader = trial(0, 0.95, 0.0);
        let mut m = vec![
            (trial(1, 0.94, 0.0), sv(0.008, 0.0)),
            (trial(2, 0.90, 0.0), sv(0.001, 0.0)),
        ];
        mark_ties(&leader, &mut m, 5);
        assert!(m[0].1.tied, "0.01 <= √2 × 0.008");
        assert!(!m[1].1.tied);
    }

    #[test]
    fn churn_counts_changed_rows() {
        let a = Predictions::regression(vec![1.0, 2.0, 3.0, 4.0]);
        let b = Predictions::regression(vec![1.0, 2.05, 3.5, 4.0]);
        assert_eq!(churn(&a, &b, Task::Regression, 0.1), 0.25);
        assert_eq!(churn(&a, &a, Task::Regression, 0.0), 0.0);
        let c = Predictions::regression(vec![0.0, 1.0, 1.0, 0.0]);
        let d = Predictions::regression(vec![0.0, 0.0, 1.0, 1.0]);
        assert_eq!(churn(&c, &d, Task::Binary, 0.0), 0.5);
    }

    #[test]
    fn the_record_round_trips_its_measurement() {
        let mut t = trial(1, 0.9, 0.0);
        assert!(seed_variance_of(&t).is_none());
        let mut s = sv(0.012, 0.03);
        s.seed_scores = vec![0.9, 0.91];
        s.split_std = Some(0.004);
        set_seed_variance(&mut t, &s);
        assert_eq!(seed_variance_of(&t), Some(s));
    }
}
