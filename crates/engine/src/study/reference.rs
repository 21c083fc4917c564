//! The final model's reference profile of its training data (for `automl drift`): built from
//! the study's features and the final model's out-of-fold predictions (the used ensemble's,
//! blended from its members' with its weights, or the best trial's) and stored as the blob
//! [`REFERENCE_PROFILE_BLOB`] beside the final model.

use super::ensemble_trial::EnsembleTrial;
use super::{REFERENCE_PROFILE_BLOB, Study};
use crate::error::EngineError;
use automl_core::{Predictions, TrialRecord};
use automl_monitor::profile::{ProfileOptions, ReferenceProfile, SAMPLE_ROWS};

impl Study<'_> {
    /// Build and store the reference profile of the final model.
    pub(crate) fn save_reference_profile(
        &self,
        oof: &[(u64, f64, Predictions)],
        best: Option<&TrialRecord>,
        ensemble: Option<&EnsembleTrial>,
        stacking_oof: Option<&Predictions>,
    ) -> Result<(), EngineError> {
        let find = |id: u64| oof.iter().find(|o| o.0 == id).map(|o| &o.2);
        let pred = match ensemble {
            // A used stacking: its nested out-of-fold predictions.
            _ if stacking_oof.is_some() => stacking_oof.cloned(),
            Some(e) => blend(
                e.members
                    .iter()
                    .filter_map(|(id, w)| find(*id).map(|p| (*w, p))),
            ),
            None => best.and_then(|b| find(b.trial_id)).cloned(),
        };
        let opts = ProfileOptions {
            sample_rows: if self.config.profile_sample {
                SAMPLE_ROWS
            } else {
                0
            },
            seed: self.config.seed,
        };
        let profile = ReferenceProfile::build(
            &self.data.features,
            pred.as_ref()
                .map(|p| (p, self.data.task, self.data.classes.as_slice())),
            &opts,
        );
        self.store.put_blob(
            self.record.study_id,
            REFERENCE_PROFILE_BLOB,
            &profile.to_bytes(),
        )?;
        Ok(())
    }
}

/// The weighted mean of predictions of the same rows (probabilities for classification).
fn blend<'a>(parts: impl Iterator<Item = (f64, &'a Predictions)>) -> Option<Predictions> {
    let parts: Vec<(f64, &Predictions)> = parts.collect();
    let total: f64 = parts.iter().map(|p| p.0).sum();
    let first = parts.first()?.1;
    if total <= 0.0 || parts.iter().any(|p| p.1.len() != first.len()) {
        return None;
    }
    Some(match &first.proba {
        Some(p0) => {
            let mut acc = p0.clone() * 0.0;
            for (w, p) in &parts {
                acc = acc + p.proba.as_ref()? * (*w / total);
            }
            Predictions::from_proba(acc)
        }
        None => {
            let mut acc = vec![0.0; first.len()];
            for (w, p) in &parts {
                for (a, v) in acc.iter_mut().zip(&p.values) {
                    *a += v * w / total;
                }
            }
            Predictions::regression(acc)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn blend_weights_values_and_probabilities() {
        let a = Predictions::regression(vec![1.0, 2.0]);
        let b = Predictions::regression(vec![3.0, 6.0]);
        let p = blend([(1.0, &a), (3.0, &b)].into_iter()).unwrap();
        assert_eq!(p.values, vec![2.5, 5.0]);
        let a = Predictions::from_proba(array![[0.8, 0.2], [0.4, 0.6]]);
        let b = Predictions::from_proba(array![[0.2, 0.8], [0.0, 1.0]]);
        let p = blend([(1.0, &a), (1.0, &b)].into_iter()).unwrap();
        let proba = p.proba.unwrap();
        assert!((proba[[0, 0]] - 0.5).abs() < 1e-12 && (proba[[1, 1]] - 0.8).abs() < 1e-12);
        assert_eq!(p.values[1], 1.0);
        assert!(blend(std::iter::empty()).is_none());
    }
}
