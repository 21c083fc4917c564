//! Fitted pipelines (fitted preprocessing + model) and predictors built from them: a single
//! pipeline (the final refit), a bag (the CV fold models of a trial) or a weighted ensemble.
//! This is the artifact format the store keeps as an opaque blob.

use crate::calibrate::PostProcess;
use crate::error::TrainError;
use crate::stack::MetaLearner;
use automl_core::{Artifact, Blocks, Predictions, Task};
use automl_data::{Frame, Preprocessor};
use automl_models::{Model, registry};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
    fn to_stored(&self) -> Result<StoredPipeline<'static>, TrainError> {
        Ok(StoredPipeline {
            family: self.family.clone(),
            prep: self.prep.clone(),
            model: Cow::Owned(self.model.to_bytes()?),
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

/// A pipeline as an artifact holds it. Decoding borrows a model's bytes from the artifact
/// (written the same as a `Vec<u8>`: a length, then the bytes), so loading a model never holds
/// a copy of its encoding beside the artifact.
#[derive(Serialize, Deserialize)]
struct StoredPipeline<'a> {
    family: String,
    prep: Preprocessor,
    #[serde(borrow)]
    model: Cow<'a, [u8]>,
    shrinkage: Option<Shrinkage>,
}

#[derive(Serialize, Deserialize)]
enum StoredPredictor<'a> {
    Single(#[serde(borrow)] StoredPipeline<'a>),
    Bag(#[serde(borrow)] Vec<StoredPipeline<'a>>),
    Ensemble(#[serde(borrow)] Vec<(f64, StoredPredictor<'a>)>),
    /// Appended in artifact format 3 (postcard numbers variants by position).
    PostProcessed(#[serde(borrow)] Box<StoredPredictor<'a>>, PostProcess),
    /// Appended in artifact format 4.
    Stacked(#[serde(borrow)] Vec<StoredPredictor<'a>>, MetaLearner),
}

#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    format: u32,
    info: PredictorInfo,
    #[serde(borrow)]
    predictor: StoredPredictor<'a>,
}

impl Predictor {
    fn to_stored(&self) -> Result<StoredPredictor<'static>, TrainError> {
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

    fn from_stored(s: StoredPredictor<'_>) -> Result<Predictor, TrainError> {
        let load = |p: StoredPipeline<'_>| -> Result<FittedPipeline, TrainError> {
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

    /// The bytes of [`Predictor::to_bytes`], consuming the predictor: each live model is
    /// encoded piece by piece (a forest tree by tree, each tree freed once written) into lz4
    /// blocks, which are unpacked into the artifact at the end. A refit forest is never held
    /// beside its encoding, nor its encoding twice (`to_bytes` holds the live model, every
    /// model's bytes and the artifact at once: on diamonds, 237 + 156 + 156 MB for one forest).
    pub fn into_bytes(self, info: PredictorInfo) -> Result<Vec<u8>, TrainError> {
        let mut pieces = Pieces::new(self.format_needed(), info, BAG_BLOCK)?;
        pieces.predictor(self)?;
        pieces.finish()
    }

    /// Decode bytes written by [`Predictor::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<(Predictor, PredictorInfo), TrainError> {
        let env: Envelope =
            postcard::from_bytes(bytes).map_err(|e| TrainError::Decode(e.to_string()))?;
        check_format(env.format)?;
        Ok((Predictor::from_stored(env.predictor)?, env.info))
    }

    /// The lowest format of a composite before its members are known (an ensemble's is its
    /// members' highest, at least 2).
    fn format_of(kind: &Composite) -> u32 {
        match kind {
            Composite::Ensemble(_) => Predictor::Ensemble(Vec::new()).format_needed(),
            Composite::Stacked(..) => 4,
        }
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

/// An artifact's format must be one this build reads.
fn check_format(format: u32) -> Result<(), TrainError> {
    if format > ARTIFACT_FORMAT {
        return Err(TrainError::Decode(format!(
            "artifact format {format} is newer than this build supports ({ARTIFACT_FORMAT}); upgrade automl"
        )));
    }
    Ok(())
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
    /// The full blocks.
    blocks: Blocks,
    /// Raw bytes not yet compressed.
    pending: Vec<u8>,
}

impl Packed {
    fn write(&mut self, bytes: &[u8], block: usize) {
        if self.pending.is_empty() && bytes.len() >= block {
            // A whole block (a model encoded in one piece): not copied first.
            self.blocks.push_raw(bytes);
            return;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= block {
            self.seal();
        }
    }

    /// Compress the pending bytes into a block.
    fn seal(&mut self) {
        if !self.pending.is_empty() {
            self.blocks.push_raw(&self.pending);
            self.pending.clear();
        }
    }

    /// Raw bytes written.
    fn len(&self) -> usize {
        self.blocks.len() + self.pending.len()
    }

    /// The blocks, the pending bytes sealed.
    fn into_blocks(mut self) -> Blocks {
        self.seal();
        self.blocks
    }
}

/// Raw bytes per lz4 block of a [`BagWriter`]: a few trees of a deep forest.
const BAG_BLOCK: usize = 1 << 20;

/// A varint (postcard's encoding of lengths and of u32/u64) of `n` holds 7 bits per byte.
fn varint_len(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).div_ceil(7).max(1) as usize
}

impl PackedFold {
    /// Encode `pipeline`, consuming its live model as it is encoded (a forest tree by tree).
    fn pack(pipeline: FittedPipeline, block: usize) -> Result<PackedFold, TrainError> {
        let FittedPipeline {
            prep,
            family,
            model,
            shrinkage,
        } = pipeline;
        let encoded = PackedFold::pack_with(&prep, &family, &shrinkage, block, |sink| {
            model.encode_into(sink)
        })?;
        let (fold, done) = encoded;
        done?;
        Ok(fold)
    }

    /// A fold whose model's bytes `write` hands to the sink it is given, with what `write`
    /// returned.
    fn pack_with<R>(
        prep: &Preprocessor,
        family: &str,
        shrinkage: &Option<Shrinkage>,
        block: usize,
        write: impl FnOnce(&mut dyn FnMut(&[u8])) -> R,
    ) -> Result<(PackedFold, R), TrainError> {
        let head = to_vec_exact(&(family, prep))?;
        let tail = to_vec_exact(shrinkage)?;
        let mut packed = Packed::default();
        let r = write(&mut |bytes| packed.write(bytes, block));
        packed.seal();
        packed.pending = Vec::new();
        Ok((
            PackedFold {
                head,
                model: packed,
                tail,
            },
            r,
        ))
    }

    /// Length of its [`StoredPipeline`] bytes.
    fn len(&self) -> usize {
        let model = self.model.len();
        self.head.len() + varint_len(model) + model + self.tail.len()
    }

    /// Append its [`StoredPipeline`] bytes to `out`, freeing its blocks as they are written.
    fn write_into(self, out: Vec<u8>) -> Result<Vec<u8>, TrainError> {
        let mut out = out;
        out.extend_from_slice(&self.head);
        out = postcard::to_extend(&(self.model.len() as u64), out)
            .map_err(|e| TrainError::Encode(e.to_string()))?;
        (self.model.into_blocks().unpack_into(&mut out))
            .map_err(|e| TrainError::Encode(format!("a fold's bytes: {e}")))?;
        out.extend_from_slice(&self.tail);
        Ok(out)
    }
}

/// A pipeline fitted on all rows straight into its encoding ([`crate::cv::fit_full_packed`]):
/// its bytes in lz4 blocks. Its model was never held whole (a forest was written tree by tree
/// as it grew), and is not decoded again to be written into a final model ([`ToWrite`]).
pub struct PackedPipeline {
    fold: PackedFold,
}

impl PackedPipeline {
    /// A pipeline of `prep`, a model of `family` and `shrinkage`, the model's bytes written by
    /// `write`; with what `write` returned.
    pub(crate) fn write<R>(
        prep: &Preprocessor,
        family: &str,
        shrinkage: &Option<Shrinkage>,
        write: impl FnOnce(&mut dyn FnMut(&[u8])) -> R,
    ) -> Result<(PackedPipeline, R), TrainError> {
        let (fold, r) = PackedFold::pack_with(prep, family, shrinkage, BAG_BLOCK, write)?;
        Ok((PackedPipeline { fold }, r))
    }
}

/// A predictor to be written whose pipelines may already be encoded: a final model whose
/// members were refit straight into their encodings ([`PackedPipeline`]) beside members that
/// keep their decoded fold models. Its bytes are those of [`Predictor::to_bytes`] of the
/// predictor it stands for, each packed pipeline a [`Predictor::Single`].
pub enum ToWrite {
    /// A pipeline fitted on all rows, encoded as it was fitted ([`Predictor::Single`]).
    Packed(PackedPipeline),
    /// A live predictor.
    Predictor(Predictor),
    /// [`Predictor::Ensemble`].
    Ensemble(Vec<(f64, ToWrite)>),
    /// [`Predictor::PostProcessed`].
    PostProcessed(Box<ToWrite>, PostProcess),
    /// [`Predictor::Stacked`].
    Stacked(Vec<ToWrite>, MetaLearner),
}

impl ToWrite {
    /// [`Predictor::format_needed`] of the predictor it stands for.
    fn format_needed(&self) -> u32 {
        match self {
            ToWrite::Packed(_) => Predictor::Bag(Vec::new()).format_needed(),
            ToWrite::Predictor(p) => p.format_needed(),
            ToWrite::Ensemble(m) => m
                .iter()
                .map(|(_, p)| p.format_needed())
                .max()
                .unwrap_or_else(|| Predictor::Ensemble(Vec::new()).format_needed()),
            ToWrite::PostProcessed(p, post) => p.format_needed().max(
                Predictor::PostProcessed(Box::new(Predictor::Bag(Vec::new())), post.clone())
                    .format_needed(),
            ),
            ToWrite::Stacked(_, meta) => {
                Predictor::Stacked(Vec::new(), meta.clone()).format_needed()
            }
        }
    }

    /// The artifact's bytes, consuming it ([`Predictor::into_bytes`] for the live parts).
    pub fn into_bytes(self, info: PredictorInfo) -> Result<Vec<u8>, TrainError> {
        let mut pieces = Pieces::new(self.format_needed(), info, BAG_BLOCK)?;
        pieces.write_part(self)?;
        pieces.finish()
    }

    /// The artifact as its lz4 blocks ([`Artifact::Blocks`]), never unpacked whole: what a
    /// store keeps. Its bytes are those of [`ToWrite::into_bytes`].
    pub fn into_artifact(self, info: PredictorInfo) -> Result<Artifact, TrainError> {
        let mut pieces = Pieces::new(self.format_needed(), info, BAG_BLOCK)?;
        pieces.write_part(self)?;
        Ok(Artifact::Blocks(pieces.finish_blocks()?))
    }

    /// `self` with `post` around it, if any.
    pub fn with_post(self, post: Option<&PostProcess>) -> ToWrite {
        match post {
            Some(post) => ToWrite::PostProcessed(Box::new(self), post.clone()),
            None => self,
        }
    }
}

/// An artifact being written: small pieces already encoded, and pipelines packed in lz4
/// blocks. Their sum is known before anything is unpacked, so the artifact is one allocation
/// of its exact size.
enum Piece {
    Bytes(Vec<u8>),
    Fold(PackedFold),
}

struct Pieces {
    pieces: Vec<Piece>,
    block: usize,
}

impl Pieces {
    /// The envelope's head: its format and what the predictor is for.
    fn new(format: u32, info: PredictorInfo, block: usize) -> Result<Pieces, TrainError> {
        // postcard writes a struct as its fields in order, so the envelope is its format, its
        // info, then the predictor.
        Ok(Pieces {
            pieces: vec![Piece::Bytes(to_vec_exact(&(format, info))?)],
            block,
        })
    }

    fn bytes<T: Serialize>(&mut self, value: &T) -> Result<(), TrainError> {
        self.pieces.push(Piece::Bytes(to_vec_exact(value)?));
        Ok(())
    }

    /// postcard writes an enum as its variant's index (a varint u32), then its fields.
    fn variant(&mut self, index: u32) -> Result<(), TrainError> {
        self.bytes(&index)
    }

    /// A sequence's length (a varint) before its elements.
    fn length(&mut self, n: usize) -> Result<(), TrainError> {
        self.bytes(&(n as u64))
    }

    fn fold(&mut self, fold: PackedFold) {
        self.pieces.push(Piece::Fold(fold));
    }

    fn pipeline(&mut self, p: FittedPipeline) -> Result<(), TrainError> {
        let fold = PackedFold::pack(p, self.block)?;
        self.fold(fold);
        Ok(())
    }

    /// The pieces of the [`StoredPredictor`] a [`ToWrite`] stands for, in the order of its
    /// postcard encoding (the variants' indices are their positions in [`StoredPredictor`]).
    fn write_part(&mut self, w: ToWrite) -> Result<(), TrainError> {
        match w {
            ToWrite::Packed(p) => {
                self.variant(0)?;
                self.fold(p.fold);
            }
            ToWrite::Predictor(Predictor::Single(f)) => {
                self.variant(0)?;
                self.pipeline(f)?;
            }
            ToWrite::Predictor(Predictor::Bag(fs)) => {
                self.variant(1)?;
                self.length(fs.len())?;
                for f in fs {
                    self.pipeline(f)?;
                }
            }
            ToWrite::Predictor(Predictor::Ensemble(m)) => self.write_part(ToWrite::Ensemble(
                m.into_iter()
                    .map(|(w, p)| (w, ToWrite::Predictor(p)))
                    .collect(),
            ))?,
            ToWrite::Predictor(Predictor::PostProcessed(p, post)) => self.write_part(
                ToWrite::PostProcessed(Box::new(ToWrite::Predictor(*p)), post),
            )?,
            ToWrite::Predictor(Predictor::Stacked(m, meta)) => self.write_part(
                ToWrite::Stacked(m.into_iter().map(ToWrite::Predictor).collect(), meta),
            )?,
            ToWrite::Ensemble(m) => {
                self.variant(2)?;
                self.length(m.len())?;
                for (w, p) in m {
                    self.bytes(&w)?;
                    self.write_part(p)?;
                }
            }
            ToWrite::PostProcessed(p, post) => {
                self.variant(3)?;
                self.write_part(*p)?;
                self.bytes(&post)?;
            }
            ToWrite::Stacked(m, meta) => {
                self.variant(4)?;
                self.length(m.len())?;
                for p in m {
                    self.write_part(p)?;
                }
                self.bytes(&meta)?;
            }
        }
        Ok(())
    }

    /// The pieces of a [`StoredPredictor`], in the order of its postcard encoding.
    fn predictor(&mut self, p: Predictor) -> Result<(), TrainError> {
        self.write_part(ToWrite::Predictor(p))
    }

    /// The artifact, in one allocation of its exact size; each packed pipeline is freed as it
    /// is unpacked into it.
    fn finish(self) -> Result<Vec<u8>, TrainError> {
        let total: usize = (self.pieces.iter())
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Fold(f) => f.len(),
            })
            .sum();
        let mut out = Vec::with_capacity(total);
        for piece in self.pieces {
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(&b),
                Piece::Fold(f) => out = f.write_into(out)?,
            }
        }
        debug_assert_eq!(out.len(), total);
        Ok(out)
    }

    /// The artifact as lz4 blocks, never unpacked: each pipeline's blocks as they are, the
    /// small pieces between them compressed as blocks of their own.
    fn finish_blocks(self) -> Result<Blocks, TrainError> {
        let mut out = Packed::default();
        for piece in self.pieces {
            match piece {
                Piece::Bytes(b) => out.pending.extend_from_slice(&b),
                Piece::Fold(f) => {
                    out.pending.extend_from_slice(&f.head);
                    out.pending = postcard::to_extend(
                        &(f.model.len() as u64),
                        std::mem::take(&mut out.pending),
                    )
                    .map_err(|e| TrainError::Encode(e.to_string()))?;
                    out.seal();
                    for (len, packed) in f.model.into_blocks().into_blocks() {
                        out.blocks.push_packed(len, packed);
                    }
                    out.pending.extend_from_slice(&f.tail);
                }
            }
        }
        Ok(out.into_blocks())
    }
}

/// The artifact of an ensemble or a stacking of stored predictors (the members' artifacts,
/// e.g. trials' fold models read from the store), written from the members' bytes as they are:
/// nothing is decoded, so no member's live models are built (a deep forest's are about twice
/// its bytes). The bytes are those of [`Predictor::to_bytes`] of the decoded members.
pub struct CompositeWriter {
    out: Vec<u8>,
    format: u32,
    kind: Composite,
    pushed: usize,
}

enum Composite {
    /// The members' weights, in order.
    Ensemble(Vec<f64>),
    /// The members, and the encoded meta-learner that follows them.
    Stacked(usize, Vec<u8>),
}

// The envelope's format is one varint byte, set when the members' formats are known.
const _: () = assert!(ARTIFACT_FORMAT < 128);

impl CompositeWriter {
    /// An ensemble of one member per weight; `size_hint`: the members' artifact bytes in all
    /// (with it, the artifact is one allocation: a member's part is at most its artifact).
    pub fn ensemble(
        info: PredictorInfo,
        weights: Vec<f64>,
        size_hint: usize,
    ) -> Result<Self, TrainError> {
        let n = weights.len();
        Self::start(info, 2, n, Composite::Ensemble(weights), size_hint)
    }

    /// A stacking of `n` members under `meta`.
    pub fn stacked(
        info: PredictorInfo,
        n: usize,
        meta: MetaLearner,
        size_hint: usize,
    ) -> Result<Self, TrainError> {
        let meta = to_vec_exact(&meta)?;
        Self::start(info, 4, n, Composite::Stacked(n, meta), size_hint)
    }

    fn start(
        info: PredictorInfo,
        variant: u32,
        n: usize,
        kind: Composite,
        size_hint: usize,
    ) -> Result<Self, TrainError> {
        let format = Predictor::format_of(&kind);
        let tail = match &kind {
            // A weight (8 bytes) before each member.
            Composite::Ensemble(w) => 8 * w.len(),
            Composite::Stacked(_, meta) => meta.len(),
        };
        let mut out = Vec::with_capacity(size_hint + tail + 32);
        out = postcard::to_extend(&(format, info, variant, n as u64), out)
            .map_err(|e| TrainError::Encode(e.to_string()))?;
        Ok(CompositeWriter {
            out,
            format,
            kind,
            pushed: 0,
        })
    }

    /// Members still to push.
    fn expected(&self) -> usize {
        match &self.kind {
            Composite::Ensemble(w) => w.len(),
            Composite::Stacked(n, _) => *n,
        }
    }

    /// Append the next member, from its artifact bytes ([`Predictor::to_bytes`]).
    pub fn push(&mut self, artifact: &[u8]) -> Result<(), TrainError> {
        if self.pushed >= self.expected() {
            return Err(TrainError::Encode(format!(
                "a composite of {} members was given one more",
                self.expected()
            )));
        }
        let ((format, _info), predictor): ((u32, PredictorInfo), &[u8]) =
            postcard::take_from_bytes(artifact).map_err(|e| TrainError::Decode(e.to_string()))?;
        check_format(format)?;
        self.format = self.format.max(format);
        if let Composite::Ensemble(w) = &self.kind {
            self.out = postcard::to_extend(&w[self.pushed], std::mem::take(&mut self.out))
                .map_err(|e| TrainError::Encode(e.to_string()))?;
        }
        self.out.extend_from_slice(predictor);
        self.pushed += 1;
        Ok(())
    }

    /// The artifact, once every member is pushed.
    pub fn finish(self) -> Result<Vec<u8>, TrainError> {
        if self.pushed != self.expected() {
            return Err(TrainError::Encode(format!(
                "a composite of {} members was given {}",
                self.expected(),
                self.pushed
            )));
        }
        let mut out = self.out;
        if let Composite::Stacked(_, meta) = &self.kind {
            out.extend_from_slice(meta);
        }
        out[0] = self.format as u8;
        Ok(out)
    }
}

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
        self.folds.push(PackedFold::pack(pipeline, self.block)?);
        Ok(())
    }

    /// Push the pipeline of `prep`, a model of `family` and `shrinkage`, the model's bytes
    /// written by `write` as it produces them ([`automl_models::Family::fit_streamed`]: a
    /// forest fitted tree by tree). The pipeline is pushed when `write` returns `Ok`; its
    /// result is handed back either way.
    pub fn push_streamed<T, E>(
        &mut self,
        prep: &Preprocessor,
        family: &str,
        shrinkage: &Option<Shrinkage>,
        write: impl FnOnce(&mut dyn FnMut(&[u8])) -> Result<T, E>,
    ) -> Result<Result<T, E>, TrainError> {
        let (fold, r) = PackedFold::pack_with(prep, family, shrinkage, self.block, write)?;
        if r.is_ok() {
            self.folds.push(fold);
        }
        Ok(r)
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
        self.pieces(info)?.finish()
    }

    /// The artifact of the bag as its lz4 blocks, never unpacked whole: what a store keeps
    /// ([`automl_core::Artifact::Blocks`]). Its bytes are those of [`BagWriter::finish`].
    pub fn finish_blocks(self, info: PredictorInfo) -> Result<Blocks, TrainError> {
        self.pieces(info)?.finish_blocks()
    }

    fn pieces(self, info: PredictorInfo) -> Result<Pieces, TrainError> {
        let format = Predictor::Bag(Vec::new()).format_needed();
        let mut pieces = Pieces::new(format, info, self.block)?;
        pieces.variant(1)?;
        pieces.length(self.folds.len())?;
        for fold in self.folds {
            pieces.fold(fold);
        }
        Ok(pieces)
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
        // As blocks, never unpacked: the same bytes once unpacked.
        let mut w = BagWriter::new();
        w.push(fit("random_forest", 1)).unwrap();
        w.push(fit("ridge", 2)).unwrap();
        let blocks = w.finish_blocks(info).unwrap();
        assert_eq!(blocks.len(), at_once.len());
        let blocked = automl_core::Artifact::Blocks(blocks).into_raw().unwrap();
        assert_eq!(blocked, at_once);
        // The same in blocks of a few bytes: the forest's trees span many blocks, and a
        // block many trees.
        for block in [1, 64, 5000] {
            let mut w = BagWriter::with_block(block);
            w.push(fit("random_forest", 1)).unwrap();
            w.push(fit("ridge", 2)).unwrap();
            assert!(w.folds[0].model.blocks.n_blocks() > 1, "block {block}");
            assert_eq!(w.finish(info).unwrap(), at_once, "block {block}");
            let mut w = BagWriter::with_block(block);
            w.push(fit("random_forest", 1)).unwrap();
            w.push(fit("ridge", 2)).unwrap();
            let blocks = automl_core::Artifact::Blocks(w.finish_blocks(info).unwrap());
            assert_eq!(blocks.into_raw().unwrap(), at_once, "block {block}");
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

    #[test]
    fn pipelines_refit_straight_into_their_encoding_write_the_bytes_of_live_ones() {
        use crate::calibrate::{CalibrationMethod, Calibrator, PostProcess};
        use automl_core::{Candidate, Params};
        use automl_data::Column;
        let x = Frame::new(vec![
            Column::numeric("a", (0..120).map(|i| f64::from(i % 11)).collect()),
            Column::numeric("b", (0..120).map(|i| f64::from((i * 7) % 5)).collect()),
        ]);
        for (task, n_classes) in [(Task::Binary, 2), (Task::Regression, 0)] {
            let y: Vec<f64> = (0..120)
                .map(|i| match task {
                    Task::Regression => f64::from(i % 11) * 0.5 + f64::from((i * 7) % 5),
                    _ => f64::from(u8::from(i % 11 > 4)),
                })
                .collect();
            let info = PredictorInfo { task, n_classes };
            let cand = |family: &str| Candidate::new(family, Params::new(), "test");
            let live = |family: &str, seed| {
                crate::cv::fit_full(&x, &y, task, n_classes, &cand(family), seed, None).unwrap()
            };
            let packed = |family: &str, seed| {
                crate::cv::fit_full_packed(&x, &y, task, n_classes, &cand(family), seed, None)
                    .unwrap()
            };
            let linear = if task == Task::Regression {
                "ridge"
            } else {
                "logistic"
            };
            for family in ["random_forest", "extra_trees", "gbdt", linear, "knn"] {
                let want = Predictor::Single(live(family, 3)).to_bytes(info).unwrap();
                let got = ToWrite::Packed(packed(family, 3)).into_bytes(info).unwrap();
                assert_eq!(got, want, "{family} {task}");
            }
            // Packed members beside live ones, in every composite, post-processed or not.
            let meta = MetaLearner {
                weights: vec![1.5, -0.5],
                intercepts: vec![0.0, 0.2],
                l2: 0.01,
            };
            let post = (task == Task::Binary).then(|| PostProcess {
                method: CalibrationMethod::Isotonic,
                calibrators: vec![Calibrator::fit_isotonic(&[0.2, 0.6], &[false, true])],
                threshold: Some(0.3),
            });
            let bag = |seed| Predictor::Bag(vec![live("extra_trees", seed), live(linear, seed)]);
            let want = Predictor::Stacked(
                vec![
                    Predictor::Ensemble(vec![
                        (0.75, Predictor::Single(live("random_forest", 1))),
                        (0.25, bag(2)),
                    ]),
                    Predictor::Single(live("gbdt", 4)),
                ],
                meta.clone(),
            );
            let want = match &post {
                Some(post) => Predictor::PostProcessed(Box::new(want), post.clone()),
                None => want,
            };
            let got = ToWrite::Stacked(
                vec![
                    ToWrite::Ensemble(vec![
                        (0.75, ToWrite::Packed(packed("random_forest", 1))),
                        (0.25, ToWrite::Predictor(bag(2))),
                    ]),
                    ToWrite::Packed(packed("gbdt", 4)),
                ],
                meta.clone(),
            )
            .with_post(post.as_ref());
            let want = want.to_bytes(info).unwrap();
            assert_eq!(got.into_bytes(info).unwrap(), want, "{task}");
            let ensemble =
                |p: ToWrite| ToWrite::Ensemble(vec![(0.4, p), (0.6, ToWrite::Predictor(bag(5)))]);
            let want = Predictor::Ensemble(vec![
                (0.4, Predictor::Single(live("extra_trees", 6))),
                (0.6, bag(5)),
            ])
            .to_bytes(info)
            .unwrap();
            assert_eq!(want[0], 2);
            let got = ensemble(ToWrite::Packed(packed("extra_trees", 6)));
            assert_eq!(got.into_bytes(info).unwrap(), want, "{task}");
            // A fit that fails (an invalid parameter) is an error, not a pipeline.
            let mut bad = cand("random_forest");
            bad.params
                .insert("n_trees".into(), automl_core::ParamValue::Int(0));
            assert!(crate::cv::fit_full_packed(&x, &y, task, n_classes, &bad, 1, None).is_err());
        }
    }

    #[test]
    fn into_bytes_and_a_composite_of_stored_members_give_to_bytes_exact_bytes() {
        use crate::calibrate::{CalibrationMethod, Calibrator, PostProcess};
        use automl_core::{Candidate, Params};
        use automl_data::Column;
        let x = Frame::new(vec![
            Column::numeric("a", (0..90).map(|i| f64::from(i % 7)).collect()),
            Column::numeric("b", (0..90).map(|i| f64::from((i * 5) % 3)).collect()),
        ]);
        let y: Vec<f64> = (0..90).map(|i| f64::from(u8::from(i % 7 > 2))).collect();
        let info = PredictorInfo {
            task: Task::Binary,
            n_classes: 2,
        };
        let fit = |family: &str, seed| {
            let cand = Candidate::new(family, Params::new(), "test");
            crate::cv::fit_full(&x, &y, Task::Binary, 2, &cand, seed, None).unwrap()
        };
        let bag = |seed| Predictor::Bag(vec![fit("random_forest", seed), fit("logistic", seed)]);
        let meta = MetaLearner {
            weights: vec![1.5, -0.5],
            intercepts: vec![0.0, 0.2],
            l2: 0.01,
        };
        let post = PostProcess {
            method: CalibrationMethod::Isotonic,
            calibrators: vec![Calibrator::fit_isotonic(&[0.2, 0.6], &[false, true])],
            threshold: Some(0.3),
        };
        // Every variant, nested: a post-processed stacking of an ensemble (of a bag and a
        // single pipeline) and a bag.
        let every = || {
            Predictor::PostProcessed(
                Box::new(Predictor::Stacked(
                    vec![
                        Predictor::Ensemble(vec![
                            (0.75, bag(1)),
                            (0.25, Predictor::Single(fit("extra_trees", 3))),
                        ]),
                        bag(4),
                    ],
                    meta.clone(),
                )),
                post.clone(),
            )
        };
        let want = every().to_bytes(info).unwrap();
        assert_eq!(want[0], 4);
        assert_eq!(every().into_bytes(info).unwrap(), want);
        // Decoding borrows every model's bytes from the artifact (no copy beside it).
        fn borrowed(p: &StoredPredictor<'_>) -> Vec<bool> {
            let pipe = |q: &StoredPipeline<'_>| matches!(q.model, Cow::Borrowed(_));
            match p {
                StoredPredictor::Single(q) => vec![pipe(q)],
                StoredPredictor::Bag(qs) => qs.iter().map(pipe).collect(),
                StoredPredictor::Ensemble(m) => m.iter().flat_map(|(_, p)| borrowed(p)).collect(),
                StoredPredictor::PostProcessed(p, _) => borrowed(p),
                StoredPredictor::Stacked(m, _) => m.iter().flat_map(borrowed).collect(),
            }
        }
        let env: Envelope<'_> = postcard::from_bytes(&want).unwrap();
        assert_eq!(borrowed(&env.predictor), vec![true; 5]);
        for p in [
            bag(5),
            Predictor::Single(fit("gbdt", 6)),
            Predictor::Ensemble(Vec::new()),
        ] {
            let want = p.to_bytes(info).unwrap();
            let (p, _) = Predictor::from_bytes(&want).unwrap();
            assert_eq!(p.into_bytes(info).unwrap(), want);
        }

        // Composites of stored members, spliced from their artifacts without decoding them.
        let members = || [bag(7), bag(8), Predictor::Single(fit("gbdt", 9))];
        let stored: Vec<Vec<u8>> = members()
            .into_iter()
            .map(|p| p.to_bytes(info).unwrap())
            .collect();
        let weights = vec![0.5, 0.3, 0.2];
        let want = Predictor::Ensemble(weights.iter().copied().zip(members()).collect())
            .to_bytes(info)
            .unwrap();
        let mut w = CompositeWriter::ensemble(info, weights.clone(), 0).unwrap();
        for s in &stored {
            w.push(s).unwrap();
        }
        assert_eq!(w.finish().unwrap(), want);
        let want = Predictor::Stacked(members().into(), meta.clone())
            .to_bytes(info)
            .unwrap();
        let mut w = CompositeWriter::stacked(info, 3, meta.clone(), 1 << 20).unwrap();
        for s in &stored {
            w.push(s).unwrap();
        }
        let got = w.finish().unwrap();
        assert_eq!(got, want);
        // Given the members' sizes, the artifact is written into one allocation.
        let sizes: usize = stored.iter().map(Vec::len).sum();
        let mut w = CompositeWriter::stacked(info, 3, meta.clone(), sizes).unwrap();
        let cap = w.out.capacity();
        for s in &stored {
            w.push(s).unwrap();
        }
        assert_eq!(w.out.capacity(), cap);
        let mut w = CompositeWriter::ensemble(info, weights.clone(), sizes).unwrap();
        let cap = w.out.capacity();
        for s in &stored {
            w.push(s).unwrap();
        }
        assert_eq!(w.out.capacity(), cap);
        assert!(matches!(
            Predictor::from_bytes(&got).unwrap().0,
            Predictor::Stacked(ref m, _) if m.len() == 3
        ));
        // An ensemble takes its members' highest format (a stacking inside: 4).
        let mut w = CompositeWriter::ensemble(info, vec![1.0], 0).unwrap();
        w.push(&got).unwrap();
        let nested = w.finish().unwrap();
        assert_eq!(nested[0], 4);
        let (back, _) = Predictor::from_bytes(&nested).unwrap();
        assert_eq!(back.format_needed(), 4);
        // Too few or too many members, or a member from a newer build, are errors.
        let mut w = CompositeWriter::ensemble(info, weights, 0).unwrap();
        w.push(&stored[0]).unwrap();
        assert!(w.finish().is_err());
        let mut w = CompositeWriter::stacked(info, 1, meta, 0).unwrap();
        w.push(&stored[0]).unwrap();
        assert!(w.push(&stored[1]).is_err());
        let mut newer = stored[0].clone();
        newer[0] = ARTIFACT_FORMAT as u8 + 1;
        let mut w = CompositeWriter::ensemble(info, vec![1.0], 0).unwrap();
        assert!(w.push(&newer).unwrap_err().to_string().contains("newer"));
    }
}
