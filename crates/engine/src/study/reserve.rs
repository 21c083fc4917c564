//! The time the search leaves for the end of the study (invariant 9, the budget promise): the
//! final refit, ensemble scoring, and the artifact work that no deadline bounds (building the
//! ensemble trial, re-reading fold models, encoding and writing the final model). The artifact
//! work grows with model size: on diamonds at `--time-budget 10`, three 40-tree forests (16 MB
//! each) took 1.43 s to store as the ensemble trial and 3.39 s after the refits to re-read and
//! write as the final model, so the fit took 12.87 s against a promise of 11.5 s.

use crate::ensemble::{
    ArtifactRate, EnsembleConfig, Wrapup, selection_secs, time_one_evaluation, wrapup_secs,
};
use automl_core::{Metric, Predictions, TrialRecord};
use automl_trainer::TrainingData;
use std::collections::BTreeMap;
use std::time::Duration;

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
    /// Parts the ensemble's selection is cross-validated over.
    parts: usize,
    /// A refit on all rows against one fold model (see [`Wrapup::refit_growth`]).
    growth: f64,
    /// Whether an ensemble will be selected.
    ensemble: bool,
    /// The time budget, seconds.
    budget_s: f64,
}

impl Reserve {
    /// A reserve for a study over `data` with a time budget of `budget_s` seconds.
    pub fn new(data: &TrainingData, ensemble: bool, budget_s: f64, holdout_fraction: f64) -> Self {
        let n_folds = data.folds.len().max(1);
        Reserve {
            rate: ArtifactRate::default(),
            one_eval: None,
            bag_bytes: BTreeMap::new(),
            n_folds,
            parts: if n_folds >= 2 { n_folds } else { 5 },
            growth: if n_folds >= 2 {
                1.0 / (n_folds as f64 - 1.0)
            } else {
                1.0 / (1.0 - holdout_fraction)
            },
            ensemble,
            budget_s,
        }
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
        let y: Vec<f64> = data
            .folds
            .iter()
            .flat_map(|f| f.split.valid.iter().map(|&r| data.y[r]))
            .collect();
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
    /// the ensemble candidates (`oof`, best first): the refit (2.5 × the best trial's fold
    /// time with an ensemble, 1.5 × without), 2 % of the budget + 0.3 s, ensemble scoring, and
    /// the artifact work for the likely members (the best three candidates); at most half the
    /// budget, but never less than writing the best trial's fold models + 0.3 s.
    pub fn duration(
        &self,
        best: Option<&TrialRecord>,
        oof: &[(u64, f64, Predictions)],
    ) -> Duration {
        let refit_factor = if self.ensemble { 2.5 } else { 1.5 };
        let per_fold = best.map_or(0.0, |b| b.fit_time_s / self.n_folds as f64);
        let ens = self.ensemble && oof.len() >= 2;
        let sel = if ens {
            selection_secs(
                self.one_eval.unwrap_or(0.0),
                oof.len(),
                self.parts,
                EnsembleConfig::default(),
            )
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
            (per_fold * refit_factor + 0.02 * total + 0.3 + sel + io)
                .min(total * 0.5)
                .max(must + 0.3),
        )
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

    fn trial(fit_time_s: f64) -> TrialRecord {
        use automl_store::{MemoryStore, Store, conformance};
        let store = MemoryStore::new();
        let study = store.create_study(conformance::sample_study("r")).unwrap();
        let cand = Candidate::new("gbdt", Params::new(), "test");
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
}
