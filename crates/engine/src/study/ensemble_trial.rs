//! The ensemble meta-trial: Caruana selection on the kept out-of-fold predictions, scored
//! honestly ([`crate::ensemble::select_and_score`]) and stored as its own trial (family
//! [`ENSEMBLE_FAMILY`], members as parents) whether or not it beats picking one trial. Like
//! every meta-trial it is always stored and never told to a strategy. The study records the
//! decision ([`EnsembleDecision`]) in both the trial and the study record.

use super::reserve::Reserve;
use super::stacking_trial::{StackingRivals, StackingTrial};
use super::{Study, now_ms};
use crate::error::EngineError;
use automl_core::{
    Artifact, Candidate, ENSEMBLE_FAMILY, EnsembleDecision, ParamValue, Params, Predictions, Rng,
    TrialRecord, TrialState,
};
use automl_trainer::{CompositeWriter, PredictorInfo, TrainingData};
use std::time::Instant;

/// An ensemble stored as a trial.
pub(crate) struct EnsembleTrial {
    /// Its stored record.
    pub record: TrialRecord,
    /// Members (trial id, weight).
    pub members: Vec<(u64, f64)>,
    /// Whether it beat picking one trial (and so becomes the final model).
    pub used: bool,
    /// Its cross-validated out-of-fold predictions ([`crate::ensemble::ScoredEnsemble::honest`]).
    pub oof: Predictions,
    /// The stacking built beside it (`StudyConfig::stacking`), stored as its own trial.
    pub stacking: Option<StackingTrial>,
}

impl Study<'_> {
    /// Select an ensemble from `oof` (trial id, loss, out-of-fold predictions), store it as a
    /// trial and record the decision. None when no ensemble could be selected (fewer than two
    /// candidates, or selection kept one trial); the study record then says why.
    pub(crate) fn build_ensemble(
        &mut self,
        data: &TrainingData,
        oof: &[(u64, f64, Predictions)],
        best: &TrialRecord,
        info: PredictorInfo,
        reserve: &Reserve,
        budget_end: Option<Instant>,
    ) -> Result<Option<EnsembleTrial>, EngineError> {
        let y: Vec<f64> = data.oof_y();
        let fold_lens = data.oof_fold_lens();
        // Under a time budget, only candidates whose models can be written in time.
        let avail = budget_end.map(|e| {
            e.saturating_duration_since(Instant::now()).as_secs_f64()
                - 0.15
                - reserve.selection_secs(oof.len())
        });
        let cands: Vec<(u64, &Predictions)> = oof
            .iter()
            .filter(|(id, _, _)| reserve.fits_ensemble(*id, avail))
            .map(|(id, _, p)| (*id, p))
            .collect();
        let scored = match crate::ensemble::select_and_score(
            &cands,
            &y,
            &fold_lens,
            self.metric,
            info.task,
            info.n_classes,
        ) {
            Ok(s) => s,
            Err(reason) => {
                self.record.ensemble = Some(EnsembleDecision {
                    used: false,
                    trial_id: None,
                    members: Vec::new(),
                    cv_score: None,
                    single_selection_cv: None,
                    best_single_cv: Some(best.mean),
                    reason,
                });
                return Ok(None);
            }
        };
        // Its models are stored only if they, and then the final model, can still be written
        // within the budget (that work has no deadline); otherwise the record alone is stored.
        let affordable = budget_end.is_none_or(|e| {
            e.saturating_duration_since(Instant::now()).as_secs_f64() - 0.15
                > reserve.ensemble_trial_secs(&scored.members)
        });
        // The stacking on the same candidates, scored before the ensemble's decision: when it
        // beats both the ensemble and picking one trial, it is the final model instead.
        let stacking = self.config.stacking.then(|| {
            // Under a time budget: `Reserve::stacking_time` of the time left.
            let deadline = budget_end.map(|e| {
                let now = Instant::now();
                now + reserve.stacking_time(e.saturating_duration_since(now), best, oof)
            });
            let s = self.score_stacking(&cands, &y, &fold_lens, info, deadline);
            let stack_ids: Vec<(u64, f64)> = s
                .as_ref()
                .map(|s| s.members.iter().map(|id| (*id, 1.0)).collect())
                .unwrap_or_default();
            let rivals = StackingRivals {
                ensemble_cv: scored.mean,
                single_selection_cv: scored.single_selection_cv,
                affordable: budget_end.is_none_or(|e| {
                    e.saturating_duration_since(Instant::now()).as_secs_f64() - 0.15
                        > reserve.ensemble_trial_secs(&scored.members)
                            + reserve.ensemble_trial_secs(&stack_ids)
                }),
            };
            (s, rivals)
        });
        let stack_wins = stacking
            .as_ref()
            .is_some_and(|(s, r)| s.as_ref().is_ok_and(|s| self.stacking_wins(s, r)));
        let used = affordable
            && self.metric.better(scored.mean, scored.single_selection_cv)
            && !stack_wins;
        let reason = if stack_wins {
            format!(
                "not used: the stacking beats it (its cross-validated selection scores {:.6}, \
                 picking one trial the same way {:.6})",
                scored.mean, scored.single_selection_cv
            )
        } else if !affordable {
            format!(
                "not used: no time left to store its models and write the final model (its \
                 cross-validated selection scores {:.6}, picking one trial the same way {:.6})",
                scored.mean, scored.single_selection_cv
            )
        } else if used {
            format!(
                "used: its cross-validated selection scores {:.6}, picking one trial the same \
                 way {:.6}",
                scored.mean, scored.single_selection_cv
            )
        } else {
            format!(
                "not used: its cross-validated selection scores {:.6}, picking one trial the \
                 same way {:.6}",
                scored.mean, scored.single_selection_cv
            )
        };
        // Its artifact: the members' fold models, weighted (so `predict --trial` works for it
        // and the final model can fall back to it whatever the members' retention).
        let mut fit_time = 0.0;
        let mut size = 0;
        for (id, _) in &scored.members {
            if let Some(t) = self.history.iter().find(|t| t.trial_id == *id) {
                fit_time += t.fit_time_s;
                size += t.model_size_bytes;
            }
        }
        // Spliced from the members' stored bytes, never decoded into live models.
        let ids: Vec<u64> = scored.members.iter().map(|(id, _)| *id).collect();
        let mut writer = CompositeWriter::ensemble(
            info,
            scored.members.iter().map(|(_, w)| *w).collect(),
            if affordable {
                self.stored_artifact_bytes(&ids)?
            } else {
                0
            },
        )?;
        for (id, _) in scored.members.iter().filter(|_| affordable) {
            let Some(bytes) = self.store.artifact(self.record.study_id, *id)? else {
                self.record.ensemble = Some(EnsembleDecision {
                    used: false,
                    trial_id: None,
                    members: scored.members.clone(),
                    cv_score: Some(scored.mean),
                    single_selection_cv: Some(scored.single_selection_cv),
                    best_single_cv: Some(best.mean),
                    reason: format!(
                        "no ensemble: the fold models of member trial {id} are not in the store"
                    ),
                });
                return Ok(None);
            };
            writer.push(&bytes)?;
        }
        let artifact = if affordable {
            Some(writer.finish()?)
        } else {
            None
        };
        let members_text = scored
            .members
            .iter()
            .map(|(id, w)| format!("{id}:{w:.3}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut params = Params::new();
        params.insert("members".into(), ParamValue::Str(members_text));
        let cand = Candidate {
            family: ENSEMBLE_FAMILY.into(),
            params,
            parents: scored.members.iter().map(|m| m.0).collect(),
            operator: "ensemble_selection".into(),
            fidelity: 1.0,
            folds: None,
        };
        let mut rec = self
            .store
            .start_trial(self.record.study_id, &cand, ENSEMBLE_FAMILY, 0)?;
        let decision = EnsembleDecision {
            used,
            trial_id: Some(rec.trial_id),
            members: scored.members.clone(),
            cv_score: Some(scored.mean),
            single_selection_cv: Some(scored.single_selection_cv),
            best_single_cv: Some(best.mean),
            reason,
        };
        rec.seed = Rng::derive_seed(self.config.seed, rec.trial_id);
        rec.state = TrialState::Complete;
        rec.fold_scores = scored.fold_scores;
        rec.mean = scored.mean;
        rec.std = scored.std;
        rec.metrics = scored.metrics;
        rec.fit_time_s = fit_time;
        rec.model_size_bytes = size;
        rec.has_artifact = artifact.is_some();
        rec.ensemble = Some(decision.clone());
        rec.ended_at_ms = now_ms();
        self.store
            .finish_trial_owned(&rec, artifact.map(Artifact::Raw))?;
        self.record.ensemble = Some(decision);
        self.history.push(rec.clone());
        let stacking = match stacking {
            Some((s, rivals)) => self.store_stacking(s, &rivals, info)?,
            None => None,
        };
        Ok(Some(EnsembleTrial {
            record: rec,
            members: scored.members,
            used,
            oof: scored.honest,
            stacking,
        }))
    }
}
