//! Fitted pipelines (fitted preprocessing + model) and predictors built from them: a single
//! pipeline (the final refit), a bag (the CV fold models of a trial) or a weighted ensemble.
//! This is the artifact format the store keeps as an opaque blob.

use crate::calibrate::PostProcess;
use crate::error::TrainError;
use crate::stack::MetaLearner;
use automl_core::{Predictions, Task};
use automl_data::{Frame, Preprocessor};
use automl_models::{Model, registry};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// Version of the artifact envelope.
/// Format 3 adds [`Predictor::PostProcessed`], format 4 [`Predictor::Stacked`]; an artifact is
/// written with the lowest format that holds it (2 without either), so older builds still read
/// everything they can.
pub const ARTIFACT_FORMAT: u32 = 4;

/// Shrinkage of class probabilities toward the training class prior:
/// `p' = (1 - weight) * p + weight * prior`, with `weight = 1 / (training rows + 1)`.
///
/// No model fitted on n rows has evidence for a probability below about 1/n; a model that says
/// 1e-15 (weakly regularised, or an input unlike any training row, e.g. every feature missing)
/// turns one surprise into a catastrophic log loss. The shrinkage is negligible on large data
/// and is applied identically during cross-validation and at predict time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shrinkage {
    /// Share given to the prior.
    pub weight: f64,
    /// Training class shares, one per class.
    pub prior: Vec<f64>,
}

impl Shrinkage {
    /// The shrinkage for a classification training set (`y` holds class indices).
    pub fn for_training(y: &[f64], n_classes: usize) -> Option<Shrinkage> {
        if n_classes < 2 || y.is_empty() {
            return None;
        }
        let mut prior = vec![0.0; n_classes];
        for v in y {
            if let Some(p) = prior.get_mut(*v as usize) {
                *p += 1.0;
            }
        }
        let n = y.len() as f64;
        prior.iter_mut().for_each(|p| *p /= n);
        Some(Shrinkage {
            weight: 1.0 / (n + 1.0),
            prior,
        })
    }

    /// Apply to predictions in place (probabilities and their argmax).
    pub fn apply(&self, pred: Predictions) -> Predictions {
        match pred.proba {
            Some(mut p) if p.ncols() == self.prior.len() => {
                for mut row in p.rows_mut() {
                    for (v, q) in row.iter_mut().zip(&self.prior) {
                        *v = (1.0 - self.weight) * *v + self.weight * q;
                    }
                }
                Predictions::from_proba(p)
            }
            proba => Predictions {
                values: pred.values,
                proba,
            },
        }
    }
}

/// Preprocessing fitted on the training rows + the model fitted on its output.
pub struct FittedPipeline {
    /// Fitted preprocessing (matches input columns by name).
    pub prep: Preprocessor,
    /// Model family name.
    pub family: String,
    /// The fitted model.
    pub model: Box<dyn Model>,
    /// Probability shrinkage toward the prior (classification).
    pub shrinkage: Option<Shrinkage>,
}

impl FittedPipeline {
    /// Predict the rows of a frame.
    pub fn predict(&self, frame: &Frame) -> Result<Predictions, TrainError> {
        let x = self.prep.transform(frame)?;
        let pred = self.model.predict(x.view())?;
        Ok(match &self.shrinkage {
            Some(s) => s.apply(pred),
            None => pred,
        })
    }
    fn to_stored(&self) -> Result<StoredPipeline, TrainError> {
        Ok(StoredPipeline {
            family: self.family.clone(),
            prep: self.prep.clone(),
            model: self.model.to_bytes()?,
            shrinkage: self.shrinkage.clone(),
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
    /// A predictor whose probabilities are calibrated and/or labelled by a decision threshold
    /// (the final model's post-processing, fitted on out-of-fold predictions).
    PostProcessed(Box<Predictor>, PostProcess),
    /// A stacking: the members' predictions (in order) are the inputs of a second-layer model.
    Stacked(Vec<Predictor>, MetaLearner),
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
    shrinkage: Option<Shrinkage>,
}

#[derive(Serialize, Deserialize)]
enum StoredPredictor {
    Single(StoredPipeline),
    Bag(Vec<StoredPipeline>),
    Ensemble(Vec<(f64, StoredPredictor)>),
    /// Appended in artifact format 3 (postcard numbers variants by position).
    PostProcessed(Box<StoredPredictor>, PostProcess),
    /// Appended in artifact format 4.
    Stacked(Vec<StoredPredictor>, MetaLearner),
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
            Predictor::PostProcessed(p, post) => {
                StoredPredictor::PostProcessed(Box::new(p.to_stored()?), post.clone())
            }
            Predictor::Stacked(m, meta) => StoredPredictor::Stacked(
                m.iter().map(|p| p.to_stored()).collect::<Result<_, _>>()?,
                meta.clone(),
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
                shrinkage: p.shrinkage,
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
            StoredPredictor::PostProcessed(p, post) => {
                Predictor::PostProcessed(Box::new(Predictor::from_stored(*p)?), post)
            }
            StoredPredictor::Stacked(m, meta) => Predictor::Stacked(
                m.into_iter()
                    .map(Predictor::from_stored)
                    .collect::<Result<_, _>>()?,
                meta,
            ),
        })
    }

    /// The post-processing applied on top (None for a plain predictor).
    pub fn post_process(&self) -> Option<&PostProcess> {
        match self {
            Predictor::PostProcessed(_, post) => Some(post),
            _ => None,
        }
    }

    /// The lowest artifact format that holds this predictor: 4 with a stacking inside, 3
    /// post-processed, else 2.
    pub fn format_needed(&self) -> u32 {
        match self {
            Predictor::Single(_) | Predictor::Bag(_) => 2,
            Predictor::Ensemble(m) => m.iter().map(|(_, p)| p.format_needed()).max().unwrap_or(2),
            Predictor::PostProcessed(p, _) => p.format_needed().max(3),
            Predictor::Stacked(..) => 4,
        }
    }

    /// Serialize with its task info (the store compresses the bytes).
    pub fn to_bytes(&self, info: PredictorInfo) -> Result<Vec<u8>, TrainError> {
        // The lowest format that holds it, so that older builds still read plain artifacts.
        let format = self.format_needed();
        let env = Envelope {
            format,
            info,
            predictor: self.to_stored()?,
        };
        to_vec_exact(&env)
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
            Predictor::PostProcessed(p, _) => p.families(),
            Predictor::Stacked(m, _) => {
                let mut v: Vec<String> = m.iter().flat_map(Predictor::families).collect();
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
            Predictor::PostProcessed(p, post) => Ok(post.apply(p.predict(frame, info)?)),
            Predictor::Stacked(m, meta) => {
                let mut parts = Vec::with_capacity(m.len());
                for p in m {
                    parts.push(p.predict(frame, info)?);
                }
                Ok(meta.predict(&parts, info.task, info.n_classes))
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

/// postcard bytes of `value` in one allocation of the exact size.
fn to_vec_exact<T: Serialize>(value: &T) -> Result<Vec<u8>, TrainError> {
    automl_models::postcard_exact(&[], value).map_err(|e| TrainError::Encode(e.to_string()))
}

/// A bag of fold pipelines encoded one by one as cross-validation fits them, so a trial holds
/// one live fold model at a time beside the encoded ones, not every fold's model at once (a
/// 100-tree forest with one row per leaf on 30k rows is about 64 MB encoded, and larger live).
/// A fold's model is encoded piece by piece ([`Model::encode_into`]: a forest tree by tree,
/// each tree freed once written), and the pieces are lz4-compressed in blocks as they come (a
/// forest's encoding shrinks to about 60 %): the live model is never held beside its whole
/// encoding. [`BagWriter::finish`] decompresses the folds into the artifact one by one,
/// freeing each as it goes, so the bag is not held twice. It gives the same bytes as
/// [`Predictor::to_bytes`] of the bag.
pub struct BagWriter {
    folds: Vec<PackedFold>,
    /// Raw bytes per lz4 block.
    block: usize,
}

/// A fold's [`StoredPipeline`] bytes: postcard writes a struct as its fields in order, and the
/// model's bytes as their length then the bytes.
struct PackedFold {
    /// The encoded family and preprocessing.
    head: Vec<u8>,
    model: Packed,
    /// The encoded shrinkage.
    tail: Vec<u8>,
}

/// Bytes lz4-compressed in blocks as they are written.
#[derive(Default)]
struct Packed {
    /// Raw bytes written.
    len: usize,
    /// Raw length and lz4 block of each full block.
    blocks: Vec<(usize, Vec<u8>)>,
    /// Raw bytes not yet compressed.
    pending: Vec<u8>,
}

impl Packed {
    fn write(&mut self, bytes: &[u8], block: usize) {
        self.len += bytes.len();
        if self.pending.is_empty() && bytes.len() >= block {
            // A whole block (a model encoded in one piece): not copied first.
            self.push_block(bytes);
            return;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= block {
            self.seal();
        }
    }

    fn push_block(&mut self, raw: &[u8]) {
        let mut packed = lz4_flex::block::compress(raw);
        packed.shrink_to_fit();
        self.blocks.push((raw.len(), packed));
    }

    /// Compress the pending bytes into a block.
    fn seal(&mut self) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.push_block(&pending);
            self.pending = pending;
            self.pending.clear();
        }
    }

    /// Decompress the blocks onto the end of `out`, freeing each as it goes.
    fn unpack_into(mut self, out: &mut Vec<u8>) -> Result<(), TrainError> {
        self.seal();
        for (len, packed) in self.blocks {
            let at = out.len();
            out.resize(at + len, 0);
            let n = lz4_flex::block::decompress_into(&packed, &mut out[at..])
                .map_err(|e| TrainError::Encode(format!("a fold's bytes: {e}")))?;
            if n != len {
                return Err(TrainError::Encode(format!(
                    "a fold's bytes decompressed to {n} bytes, not {len}"
                )));
            }
        }
        Ok(())
    }
}

/// Raw bytes per lz4 block of a [`BagWriter`]: a few trees of a deep forest.
const BAG_BLOCK: usize = 1 << 20;

impl Default for BagWriter {
    fn default() -> Self {
        Self::with_block(BAG_BLOCK)
    }
}

impl BagWriter {
    /// An empty bag.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_block(block: usize) -> Self {
        BagWriter {
            folds: Vec::new(),
            block,
        }
    }

    /// Encode `pipeline`, consuming its live model as it is encoded.
    pub fn push(&mut self, pipeline: FittedPipeline) -> Result<(), TrainError> {
        let FittedPipeline {
            prep,
            family,
            model,
            shrinkage,
        } = pipeline;
        let head = to_vec_exact(&(family, prep))?;
        let tail = to_vec_exact(&shrinkage)?;
        let mut packed = Packed::default();
        let block = self.block;
        model.encode_into(&mut |bytes| packed.write(bytes, block))?;
        packed.seal();
        packed.pending = Vec::new();
        self.folds.push(PackedFold {
            head,
            model: packed,
            tail,
        });
        Ok(())
    }

    /// Pipelines pushed so far.
    pub fn len(&self) -> usize {
        self.folds.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.folds.is_empty()
    }

    /// The artifact bytes of the bag.
    pub fn finish(self, info: PredictorInfo) -> Result<Vec<u8>, TrainError> {
        // postcard writes a struct as its fields in order, an enum as its variant's index then
        // its fields, and a Vec as its length then its elements: the envelope of an empty bag
        // ends with the length 0, which becomes the bag's length.
        let mut out = to_vec_exact(&Envelope {
            format: Predictor::Bag(Vec::new()).format_needed(),
            info,
            predictor: StoredPredictor::Bag(Vec::new()),
        })?;
        if out.pop() != Some(0) {
            return Err(TrainError::Encode(
                "an empty bag's envelope does not end with its length".to_string(),
            ));
        }
        // A varint holds 7 bits per byte.
        let varint = |n: usize| (usize::BITS - n.leading_zeros()).div_ceil(7).max(1) as usize;
        let body: usize = (self.folds.iter())
            .map(|f| f.head.len() + varint(f.model.len) + f.model.len + f.tail.len())
            .sum();
        out.reserve_exact(10 + body);
        let mut out = postcard::to_extend(&(self.folds.len() as u64), out)
            .map_err(|e| TrainError::Encode(e.to_string()))?;
        for fold in self.folds {
            out.extend_from_slice(&fold.head);
            out = postcard::to_extend(&(fold.model.len as u64), out)
                .map_err(|e| TrainError::Encode(e.to_string()))?;
            fold.model.unpack_into(&mut out)?;
            out.extend_from_slice(&fold.tail);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stacking_round_trips_as_format_4_and_only_it() {
        let info = PredictorInfo {
            task: Task::Regression,
            n_classes: 0,
        };
        let meta = MetaLearner {
            weights: vec![1.5, -0.5],
            intercepts: vec![2.0],
            l2: 0.01,
        };
        let p = Predictor::Stacked(
            vec![Predictor::Ensemble(Vec::new()), Predictor::Bag(Vec::new())],
            meta.clone(),
        );
        let bytes = p.to_bytes(info).unwrap();
        assert_eq!(bytes[0], 4);
        match Predictor::from_bytes(&bytes).unwrap().0 {
            Predictor::Stacked(m, back) => {
                assert_eq!(m.len(), 2);
                assert_eq!(back, meta);
            }
            _ => panic!("not a stacking"),
        }
        // Anything without a stacking keeps its older format.
        assert_eq!(Predictor::Ensemble(Vec::new()).format_needed(), 2);
        let nested = Predictor::Ensemble(vec![(1.0, p)]);
        assert_eq!(nested.format_needed(), 4);
    }

    #[test]
    fn a_bag_written_fold_by_fold_is_the_bag_encoded_at_once() {
        use automl_core::{Candidate, Params};
        use automl_data::Column;
        let x = Frame::new(vec![
            Column::numeric("a", (0..120).map(|i| f64::from(i % 11)).collect()),
            Column::numeric("b", (0..120).map(|i| f64::from((i * 7) % 5)).collect()),
        ]);
        let y: Vec<f64> = (0..120)
            .map(|i| f64::from(i % 11) + 0.5 * f64::from((i * 7) % 5))
            .collect();
        let fit = |family: &str, seed| {
            let cand = Candidate::new(family, Params::new(), "test");
            crate::cv::fit_full(&x, &y, Task::Regression, 0, &cand, seed, None).unwrap()
        };
        let info = PredictorInfo {
            task: Task::Regression,
            n_classes: 0,
        };
        let at_once = Predictor::Bag(vec![fit("random_forest", 1), fit("ridge", 2)])
            .to_bytes(info)
            .unwrap();
        let mut w = BagWriter::new();
        w.push(fit("random_forest", 1)).unwrap();
        w.push(fit("ridge", 2)).unwrap();
        assert_eq!(w.len(), 2);
        let bytes = w.finish(info).unwrap();
        assert_eq!(bytes, at_once);
        // The same in blocks of a few bytes: the forest's trees span many blocks, and a
        // block many trees.
        for block in [1, 64, 5000] {
            let mut w = BagWriter::with_block(block);
            w.push(fit("random_forest", 1)).unwrap();
            w.push(fit("ridge", 2)).unwrap();
            assert!(w.folds[0].model.blocks.len() > 1, "block {block}");
            assert_eq!(w.finish(info).unwrap(), at_once, "block {block}");
        }
        let (back, _) = Predictor::from_bytes(&bytes).unwrap();
        assert!(matches!(back, Predictor::Bag(ref b) if b.len() == 2));
        // A bag's length takes two bytes from 128 pipelines on.
        let many = || (0..130).map(|i| fit("ridge", i));
        let at_once = Predictor::Bag(many().collect()).to_bytes(info).unwrap();
        let mut w = BagWriter::new();
        for p in many() {
            w.push(p).unwrap();
        }
        assert_eq!(w.finish(info).unwrap(), at_once);
    }
}
