//! Fitted pipelines (fitted preprocessing + model) and predictors built from them: a single
//! pipeline (the final refit), a bag (the CV fold models of a trial) or a weighted ensemble.
//! This is the artifact format the store keeps as an opaque blob.

use crate::error::TrainError;
use automl_core::{Predictions, Task};
use automl_data::{Frame, Preprocessor};
use automl_models::{Model, registry};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Version of the artifact envelope.
pub const ARTIFACT_FORMAT: u32 = 1;

/// Preprocessing fitted on the training rows + the model fitted on its output.
pub struct FittedPipeline {
    /// Fitted preprocessing (matches input columns by name).
    pub prep: Preprocessor,
    /// Model family name.
    pub family: String,
    /// The fitted model.
    pub model: Box<dyn Model>,
}

impl FittedPipeline {
    /// Predict the rows of a frame.
    pub fn predict(&self, frame: &Frame) -> Result<Predictions, TrainError> {
        let x = self.prep.transform(frame)?;
        Ok(self.model.predict(x.view())?)
    }
    fn to_stored(&self) -> Result<StoredPipeline, TrainError> {
        Ok(StoredPipeline {
            family: self.family.clone(),
            prep: self.prep.clone(),
            model: self.model.to_bytes()?,
        })
    }
}

/// Something that predicts: one pipeline, a bag of fold pipelines (averaged), or a weighted
/// ensemble of predictors.
pub enum Predictor {
    /// One pipeline fitted on all training rows.
    Single(FittedPipeline),
    /// The fold models of a cross-validated trial; predictions are averaged.
    Bag(Vec<FittedPipeline>),
    /// Weighted average of predictors (weights sum to 1).
    Ensemble(Vec<(f64, Predictor)>),
}

/// What a stored predictor is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictorInfo {
    /// The task.
    pub task: Task,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
}

#[derive(Serialize, Deserialize)]
struct StoredPipeline {
    family: String,
    prep: Preprocessor,
    model: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
enum StoredPredictor {
    Single(StoredPipeline),
    Bag(Vec<StoredPipeline>),
    Ensemble(Vec<(f64, StoredPredictor)>),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: u32,
    info: PredictorInfo,
    predictor: StoredPredictor,
}

impl Predictor {
    fn to_stored(&self) -> Result<StoredPredictor, TrainError> {
        Ok(match self {
            Predictor::Single(p) => StoredPredictor::Single(p.to_stored()?),
            Predictor::Bag(ps) => {
                StoredPredictor::Bag(ps.iter().map(|p| p.to_stored()).collect::<Result<_, _>>()?)
            }
            Predictor::Ensemble(m) => StoredPredictor::Ensemble(
                m.iter()
                    .map(|(w, p)| Ok((*w, p.to_stored()?)))
                    .collect::<Result<_, TrainError>>()?,
            ),
        })
    }

    fn from_stored(s: StoredPredictor) -> Result<Predictor, TrainError> {
        let load = |p: StoredPipeline| -> Result<FittedPipeline, TrainError> {
            let model = registry().decode(&p.family, &p.model)?;
            Ok(FittedPipeline {
                prep: p.prep,
                family: p.family,
                model,
            })
        };
        Ok(match s {
            StoredPredictor::Single(p) => Predictor::Single(load(p)?),
            StoredPredictor::Bag(ps) => {
                Predictor::Bag(ps.into_iter().map(load).collect::<Result<_, _>>()?)
            }
            StoredPredictor::Ensemble(m) => Predictor::Ensemble(
                m.into_iter()
                    .map(|(w, p)| Ok((w, Predictor::from_stored(p)?)))
                    .collect::<Result<_, TrainError>>()?,
            ),
        })
    }

    /// Serialize with its task info (the store compresses the bytes).
    pub fn to_bytes(&self, info: PredictorInfo) -> Result<Vec<u8>, TrainError> {
        let env = Envelope {
            format: ARTIFACT_FORMAT,
            info,
            predictor: self.to_stored()?,
        };
        postcard::to_stdvec(&env).map_err(|e| TrainError::Encode(e.to_string()))
    }

    /// Decode bytes written by [`Predictor::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<(Predictor, PredictorInfo), TrainError> {
        let env: Envelope =
            postcard::from_bytes(bytes).map_err(|e| TrainError::Decode(e.to_string()))?;
        if env.format > ARTIFACT_FORMAT {
            return Err(TrainError::Decode(format!(
                "artifact format {} is newer than this build supports ({ARTIFACT_FORMAT}); upgrade automl",
                env.format
            )));
        }
        Ok((Predictor::from_stored(env.predictor)?, env.info))
    }

    /// Families of the pipelines inside (for display).
    pub fn families(&self) -> Vec<String> {
        match self {
            Predictor::Single(p) => vec![p.family.clone()],
            Predictor::Bag(ps) => ps
                .first()
                .map(|p| vec![p.family.clone()])
                .unwrap_or_default(),
            Predictor::Ensemble(m) => {
                let mut v: Vec<String> = m.iter().flat_map(|(_, p)| p.families()).collect();
                v.dedup();
                v
            }
        }
    }

    /// Predict the rows of a frame. Averages probabilities (classification, then argmax)
    /// or values (regression) over the members of bags and ensembles.
    pub fn predict(&self, frame: &Frame, info: PredictorInfo) -> Result<Predictions, TrainError> {
        match self {
            Predictor::Single(p) => p.predict(frame),
            Predictor::Bag(ps) => {
                let w = 1.0 / ps.len().max(1) as f64;
                let mut parts = Vec::with_capacity(ps.len());
                for p in ps {
                    parts.push((w, p.predict(frame)?));
                }
                Ok(average(&parts, info, frame.n_rows))
            }
            Predictor::Ensemble(m) => {
                let mut parts = Vec::with_capacity(m.len());
                for (w, p) in m {
                    parts.push((*w, p.predict(frame, info)?));
                }
                Ok(average(&parts, info, frame.n_rows))
            }
        }
    }
}

/// Weighted average of predictions (probabilities for classification, values for regression).
pub fn average(parts: &[(f64, Predictions)], info: PredictorInfo, n_rows: usize) -> Predictions {
    let total: f64 = parts
        .iter()
        .map(|(w, _)| *w)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    if info.task.is_classification() {
        let k = info.n_classes.max(2);
        let mut acc = Array2::<f64>::zeros((n_rows, k));
        for (w, p) in parts {
            if let Some(pr) = &p.proba {
                acc.scaled_add(*w / total, pr);
            }
        }
        for mut row in acc.rows_mut() {
            let s: f64 = row.sum();
            if s > 0.0 {
                row /= s;
            } else {
                row.fill(1.0 / k as f64);
            }
        }
        Predictions::from_proba(acc)
    } else {
        let mut acc = vec![0.0; n_rows];
        for (w, p) in parts {
            for (a, v) in acc.iter_mut().zip(&p.values) {
                *a += w / total * v;
            }
        }
        Predictions::regression(acc)
    }
}
