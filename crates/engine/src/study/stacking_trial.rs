//! The stacking meta-trial: a second layer fitted on the out-of-fold predictions of the best
//! diverse trials ([`crate::stacking::select_and_score`]), scored by nested cross-validation and
//! stored as its own trial (family [`STACKING_FAMILY`], members as parents) whether or not it
//! is used. It is used (the final model) only when its nested score beats both rivals of the
//! ensemble step: the ensemble's cross-validated selection and picking one trial the same way.
//! Like every meta-trial it is never told to a strategy. The decision
//! ([`StackingDecision`]) is on the trial (`extra["stacking"]`) and on the study record.

use super::{Study, now_ms};
use crate::error::EngineError;
use crate::stacking::{ScoredStacking, StackCandidate, StackConfig};
use automl_core::{
    Artifact, Candidate, ParamValue, Params, Predictions, Rng, STACKING_FAMILY, StackingDecision,
    TrialRecord, TrialState,
};
use automl_trainer::stack::MetaLearner;
use automl_trainer::{CompositeWriter, PredictorInfo};

/// A stacking stored as a trial.
pub(crate) struct StackingTrial {
    /// Its stored record.
    pub record: TrialRecord,
    /// Members (trial id, share of the second layer's absolute weight), in input order.
    pub members: Vec<(u64, f64)>,
    /// The second layer fitted on every out-of-fold row.
    pub meta: MetaLearner,
    /// Whether it beat the ensemble and picking one trial (and so is the final model).
    pub used: bool,
    /// Its nested cross-validated predictions ([`ScoredStacking::honest`]).
    pub oof: Predictions,
}

/// The rivals a stacking must beat and whether its models can be stored in time.
pub(crate) struct StackingRivals {
    /// The ensemble's cross-validated selection.
    pub ensemble_cv: f64,
    /// Picking one trial, cross-validated the same way.
    pub single_selection_cv: f64,
    /// Its models can be stored and written as the final model within the budget.
    pub affordable: bool,
}

impl Study<'_> {
    /// Fit and score a stacking of `cands` (trial id, out-of-fold predictions; best first) on
    /// the out-of-fold rows `y` (`fold_lens` per validation fold). Only complete
    /// full-fidelity trials take part.
    pub(crate) fn score_stacking(
        &self,
        cands: &[(u64, &Predictions)],
        y: &[f64],
        fold_lens: &[usize],
        info: PredictorInfo,
        deadline: Option<std::time::Instant>,
    ) -> Result<ScoredStacking, String> {
        let full: Vec<StackCandidate<'_>> = cands
            .iter()
            .filter_map(|(id, p)| {
                let t = self.history.iter().find(|t| t.trial_id == *id)?;
                (t.is_scored() && t.candidate.is_full_cv()).then_some((
                    *id,
                    t.candidate.family.as_str(),
                    *p,
                ))
            })
            .collect();
        crate::stacking::select_and_score(
            &full,
            y,
            fold_lens,
            self.metric,
            info.task,
            info.n_classes,
            &StackConfig {
                deadline,
                ..StackConfig::default()
            },
        )
    }

    /// Whether a scored stacking beats both rivals, the ensemble by more than 0.1 % of its
    /// score (the simpler model stays unless the stacking clearly wins: an unbiased pair can
    /// leave the stacking 0.02 % ahead by chance).
    pub(crate) fn stacking_wins(&self, s: &ScoredStacking, r: &StackingRivals) -> bool {
        let margin = 1e-3 * r.ensemble_cv.abs();
        let bar = if self.metric.higher_is_better() {
            r.ensemble_cv + margin
        } else {
            r.ensemble_cv - margin
        };
        r.affordable
            && self.metric.better(s.mean, bar)
            && self.metric.better(s.mean, r.single_selection_cv)
    }

    /// Store the stacking as a trial (its artifact: the members' fold models under the second
    /// layer, when affordable) and record the decision; an `Err` from scoring is recorded on the
    /// study only.
    pub(crate) fn store_stacking(
        &mut self,
        scored: Result<ScoredStacking, String>,
        rivals: &StackingRivals,
        info: PredictorInfo,
    ) -> Result<Option<StackingTrial>, EngineError> {
        let mut decision = StackingDecision {
            used: false,
            trial_id: None,
            members: Vec::new(),
            meta_learner: String::new(),
            cv_score: None,
            ensemble_cv: Some(rivals.ensemble_cv),
            single_selection_cv: Some(rivals.single_selection_cv),
            reason: String::new(),
        };
        let s = match scored {
            Ok(s) => s,
            Err(reason) => {
                decision.reason = reason;
                self.record.stacking = Some(decision);
                return Ok(None);
            }
        };
        let used = self.stacking_wins(&s, rivals);
        let scores = format!(
            "its nested cross-validated score {:.6}, the ensemble's {:.6}, picking one trial {:.6}",
            s.mean, rivals.ensemble_cv, rivals.single_selection_cv
        );
        decision.reason = if !rivals.affordable {
            format!(
                "not used: no time left to store its models and write the final model ({scores})"
            )
        } else if used {
            format!("used: {scores}")
        } else {
            format!("not used: {scores}")
        };
        decision.used = used;
        decision.members = s.members.clone();
        decision.meta_learner = s.meta.summary();
        decision.cv_score = Some(s.mean);
        let (mut fit_time, mut size) = (0.0, 0);
        for id in &s.members {
            if let Some(t) = self.history.iter().find(|t| t.trial_id == *id) {
                fit_time += t.fit_time_s;
                size += t.model_size_bytes;
            }
        }
        let mut stored = rivals.affordable;
        // Spliced from the members' stored bytes, never decoded into live models.
        let hint = if stored {
            self.stored_artifact_bytes(&s.members)?
        } else {
            0
        };
        let mut writer = CompositeWriter::stacked(info, s.members.len(), s.meta.clone(), hint)?;
        for id in s.members.iter().filter(|_| rivals.affordable) {
            match self.store.artifact(self.record.study_id, *id)? {
                Some(bytes) => writer.push(&bytes)?,
                None => {
                    decision.used = false;
                    decision.reason = format!(
                        "not used: the fold models of member trial {id} are not in the store ({scores})"
                    );
                    stored = false;
                    break;
                }
            }
        }
        let artifact = if stored { Some(writer.finish()?) } else { None };
        let mut params = Params::new();
        let ids: Vec<String> = s.members.iter().map(u64::to_string).collect();
        params.insert("members".into(), ParamValue::Str(ids.join(" ")));
        params.insert(
            "meta_learner".into(),
            ParamValue::Str(if info.task.is_classification() {
                "logistic on log-probabilities".into()
            } else {
                "linear".into()
            }),
        );
        params.insert("coefficients".into(), ParamValue::Str(s.meta.summary()));
        params.insert("l2".into(), ParamValue::Float(s.meta.l2));
        let fold_l2: Vec<String> = s.fold_l2.iter().map(|l| format!("{l}")).collect();
        params.insert("fold_l2".into(), ParamValue::Str(fold_l2.join(" ")));
        let cand = Candidate {
            family: STACKING_FAMILY.into(),
            params,
            parents: s.members.clone(),
            operator: "stacking".into(),
            fidelity: 1.0,
            folds: None,
        };
        let mut rec = self
            .store
            .start_trial(self.record.study_id, &cand, STACKING_FAMILY, 0)?;
        decision.trial_id = Some(rec.trial_id);
        rec.seed = Rng::derive_seed(self.config.seed, rec.trial_id);
        rec.state = TrialState::Complete;
        rec.fold_scores = s.fold_scores.clone();
        rec.mean = s.mean;
        rec.std = s.std;
        rec.metrics = s.metrics.clone();
        rec.fit_time_s = fit_time;
        rec.model_size_bytes = size;
        rec.has_artifact = artifact.is_some();
        crate::stacking::set_stacking(&mut rec, &decision);
        rec.ended_at_ms = now_ms();
        self.store
            .finish_trial_owned(&rec, artifact.map(Artifact::Raw))?;
        let used = decision.used;
        self.record.stacking = Some(decision);
        self.history.push(rec.clone());
        let total: f64 = s
            .meta
            .weights
            .iter()
            .map(|w| w.abs())
            .sum::<f64>()
            .max(1e-12);
        Ok(Some(StackingTrial {
            record: rec,
            members: s
                .members
                .iter()
                .zip(&s.meta.weights)
                .map(|(id, w)| (*id, w.abs() / total))
                .collect(),
            meta: s.meta,
            used,
            oof: s.honest,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::reserve::Reserve;
    use super::*;
    use crate::builder::{KeepModels, StudyBuilder};
    use automl_store::{MemoryStore, StoreRead};
    use automl_trainer::Predictor;
    use std::path::PathBuf;

    fn houses() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/houses.csv")
    }

    /// A small searched regression study (no meta-trials of its own), resumed so that its
    /// trials are the history the meta-trials are built from.
    fn study(store: &MemoryStore) -> Study<'_> {
        let b = || {
            StudyBuilder::from_csv(houses())
                .max_trials(3)
                .seed(3)
                .jobs(1)
                .keep_models(KeepModels::All)
                .space_named("fast")
                .unwrap()
        };
        b().ensemble(false)
            .create(store)
            .unwrap()
            .run(&mut |_| {})
            .unwrap();
        let mut s = b().resume(store, None).unwrap();
        s.history = store.trials(s.record.study_id).unwrap();
        assert!(s.history.iter().filter(|t| t.is_scored()).count() >= 2);
        s
    }

    /// Out-of-fold predictions made up over the study's validation rows (fold order): member
    /// `a` is `y` + `bias` + noise, member `b` is `y` + other noise of scale `noise_b`.
    fn made_up(y: &[f64], bias: f64, noise_b: f64) -> (Predictions, Predictions) {
        let a = y
            .iter()
            .enumerate()
            .map(|(i, v)| v + bias + ((i * 37 % 11) as f64 - 5.0) * 0.1)
            .collect();
        let b = y
            .iter()
            .enumerate()
            .map(|(i, v)| v + ((i * 53 % 13) as f64 - 6.0) * noise_b)
            .collect();
        (Predictions::regression(a), Predictions::regression(b))
    }

    fn run_meta(
        s: &mut Study<'_>,
        bias: f64,
        noise_b: f64,
    ) -> (
        super::super::ensemble_trial::EnsembleTrial,
        PredictorInfo,
        Reserve,
    ) {
        let data = s.training_data_spec().build().unwrap();
        let y: Vec<f64> = data.oof_y();
        let scored: Vec<&TrialRecord> = s.history.iter().filter(|t| t.is_scored()).collect();
        assert!(scored.len() >= 2, "the study has two complete trials");
        let (ia, ib) = (scored[0].trial_id, scored[1].trial_id);
        let best = scored[0].clone();
        let (a, b) = made_up(&y, bias, noise_b);
        let oof = vec![(ia, 0.0, a), (ib, 1.0, b)];
        let info = PredictorInfo {
            task: data.task,
            n_classes: data.n_classes,
        };
        let reserve = Reserve::new(&data, true, 60.0, 0.2);
        let e = s
            .build_ensemble(&data, &oof, &best, info, &reserve, None)
            .unwrap()
            .expect("an ensemble");
        (e, info, reserve)
    }

    #[test]
    fn a_biased_member_makes_the_stacking_win_and_it_is_the_final_model() {
        let store = MemoryStore::new();
        let mut s = study(&store);
        let (mut e, info, reserve) = run_meta(&mut s, 3.0, 2.0);
        let st = e.stacking.take().expect("a stacking trial");
        // The intercept cancels the bias, which no convex average of the two can.
        assert!(st.used, "{:?}", s.record.stacking);
        assert!(!e.used, "{:?}", s.record.ensemble);
        assert!(st.meta.intercepts[0].abs() > 1.0, "{:?}", st.meta);
        let d = s.record.stacking.clone().unwrap();
        assert!(d.cv_score.unwrap() < d.ensemble_cv.unwrap());
        assert_eq!(d.trial_id, Some(st.record.trial_id));
        assert_eq!(crate::stacking::stacking_of(&st.record), Some(d.clone()));
        assert_eq!(st.record.candidate.family, STACKING_FAMILY);
        assert_eq!(st.record.fold_scores.len(), s.n_folds_of_data());
        assert!(
            s.record
                .ensemble
                .as_ref()
                .unwrap()
                .reason
                .contains("stacking beats it"),
            "{:?}",
            s.record.ensemble
        );
        // Stored as a trial with its artifact (the members' fold models under the layer).
        let stored = store
            .trial(s.record.study_id, st.record.trial_id)
            .unwrap()
            .unwrap();
        assert!(stored.has_artifact);
        // The final model: the members refit on all rows under the same second layer.
        let best = s.history.iter().find(|t| t.is_scored()).cloned();
        let line = s
            .make_final_model(&best, (None, Some(&st)), info, None, &reserve, &mut |_| {})
            .unwrap();
        assert!(line.starts_with("stacking trial"), "{line}");
        let bytes = store
            .blob(s.record.study_id, crate::study::FINAL_MODEL_BLOB)
            .unwrap()
            .unwrap();
        assert_eq!(bytes[0], 4, "a stacking is written as artifact format 4");
        let (p, _) = Predictor::from_bytes(&bytes).unwrap();
        let Predictor::Stacked(members, meta) = &p else {
            panic!("not a stacking")
        };
        assert_eq!(meta, &st.meta);
        // Each member one refit, or (a sampled gbdt on regression) its refits with three
        // seeds, averaged.
        let refit = |m: &Predictor| match m {
            Predictor::Single(_) => true,
            Predictor::Ensemble(v) => {
                v.len() == 3 && v.iter().all(|(_, p)| matches!(p, Predictor::Single(_)))
            }
            _ => false,
        };
        assert!(members.iter().all(refit));
        let parts: Vec<Predictions> = members
            .iter()
            .map(|m| m.predict(&s.data.features, info).unwrap())
            .collect();
        let want = meta.predict(&parts, info.task, info.n_classes);
        let got = p.predict(&s.data.features, info).unwrap();
        assert_eq!(got.values, want.values);
    }

    #[test]
    fn an_unbiased_pair_leaves_the_ensemble_final_and_the_stacking_unused() {
        let store = MemoryStore::new();
        let mut s = study(&store);
        let (mut e, _, _) = run_meta(&mut s, 0.0, 0.1);
        let st = e
            .stacking
            .take()
            .expect("a stacking trial, stored though not used");
        assert!(!st.used, "{:?}", s.record.stacking);
        assert!(e.used, "{:?}", s.record.ensemble);
        let d = s.record.stacking.clone().unwrap();
        assert!(d.reason.starts_with("not used"), "{}", d.reason);
        // Within 0.1 % of the ensemble: not a clear win.
        let (c, e) = (d.cv_score.unwrap(), d.ensemble_cv.unwrap());
        assert!(c > e * (1.0 - 1e-3), "{c} vs {e}");
        assert!(
            store
                .trial(s.record.study_id, st.record.trial_id)
                .unwrap()
                .is_some()
        );
    }

    impl Study<'_> {
        fn n_folds_of_data(&self) -> usize {
            self.training_data_spec().build().unwrap().folds.len()
        }
    }
}
