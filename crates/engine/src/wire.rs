//! What travels through a shared store between the coordinator and remote workers: a queued
//! trial (candidate, seed, deadline), a worker's result (a whole [`Evaluation`], out-of-fold
//! predictions and fold models included) and the study's training data.
//!
//! Every payload is a version byte ([`WIRE_VERSION`]) followed by postcard of a private mirror
//! struct, so floats travel bit for bit (NaN and infinities included) and a field added to a
//! core type does not silently change the format. Bytes from the store are input like any
//! other: a damaged or unknown payload is an [`EngineError::Corrupt`], never a panic, and the
//! training data is validated before folds are built from it.

use crate::error::EngineError;
use automl_core::{Artifact, Candidate, Metric, ParamValue, Params, Predictions, Task, TrialState};
use automl_data::{ColumnData, Frame, MISSING_CODE, RowBlocks};
use automl_trainer::{CvConfig, Evaluation, TrainingData};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The format version written first in every payload. A payload of another version is refused.
/// Version 2 added the candidate's fold fidelity ([`Candidate::folds`]), version 3 the fold
/// sets of a repeated k-fold ([`CvConfig::repeats`]), version 4 a result's fold models as their
/// lz4 blocks.
pub const WIRE_VERSION: u8 = 4;

/// The blob key under which a study's training data is stored: `training-data/<fingerprint>`.
pub fn training_data_key(fingerprint: &str) -> String {
    format!("training-data/{fingerprint}")
}

fn corrupt(what: &str, reason: impl std::fmt::Display) -> EngineError {
    EngineError::Corrupt {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![WIRE_VERSION];
    // Serialising plain structs of numbers, strings and vectors into a Vec cannot fail.
    out.extend(postcard::to_allocvec(value).expect("postcard encodes plain data"));
    out
}

fn decode<'de, T: Deserialize<'de>>(bytes: &'de [u8], what: &str) -> Result<T, EngineError> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err(corrupt(what, "empty payload"));
    };
    if version != WIRE_VERSION {
        return Err(corrupt(
            what,
            format!("format version {version}, this build reads {WIRE_VERSION}"),
        ));
    }
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| corrupt(what, e))?;
    if !rest.is_empty() {
        return Err(corrupt(what, format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}

/// Milliseconds since the Unix epoch of an [`Instant`] of this process (the clock of the
/// machine that computes it).
pub fn instant_to_unix_ms(at: Instant) -> u64 {
    let now = Instant::now();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    if at >= now {
        now_ms.saturating_add(at.duration_since(now).as_millis() as u64)
    } else {
        now_ms.saturating_sub(now.duration_since(at).as_millis() as u64)
    }
}

/// The [`Instant`] of this process at `ms` since the Unix epoch (now, if that is in the past).
pub fn unix_ms_to_instant(ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(ms.saturating_sub(now_ms))
}

#[derive(Serialize, Deserialize)]
enum WireParam {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Serialize, Deserialize)]
struct WireCandidate {
    family: String,
    params: Vec<(String, WireParam)>,
    parents: Vec<u64>,
    operator: String,
    fidelity: f64,
    folds: Option<u32>,
}

impl From<&Candidate> for WireCandidate {
    fn from(c: &Candidate) -> Self {
        WireCandidate {
            family: c.family.clone(),
            params: c
                .params
                .iter()
                .map(|(k, v)| {
                    let w = match v {
                        ParamValue::Bool(b) => WireParam::Bool(*b),
                        ParamValue::Int(i) => WireParam::Int(*i),
                        ParamValue::Float(x) => WireParam::Float(*x),
                        ParamValue::Str(s) => WireParam::Str(s.clone()),
                    };
                    (k.clone(), w)
                })
                .collect(),
            parents: c.parents.clone(),
            operator: c.operator.clone(),
            fidelity: c.fidelity,
            folds: c.folds,
        }
    }
}

impl From<WireCandidate> for Candidate {
    fn from(w: WireCandidate) -> Self {
        let params: Params = w
            .params
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    WireParam::Bool(b) => ParamValue::Bool(b),
                    WireParam::Int(i) => ParamValue::Int(i),
                    WireParam::Float(x) => ParamValue::Float(x),
                    WireParam::Str(s) => ParamValue::Str(s),
                };
                (k, v)
            })
            .collect();
        Candidate {
            family: w.family,
            params,
            parents: w.parents,
            operator: w.operator,
            fidelity: w.fidelity,
            folds: w.folds,
        }
    }
}

/// One queued evaluation, as a worker receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedTrial {
    /// The trial (started by the coordinator).
    pub trial_id: u64,
    /// What to cross-validate.
    pub candidate: Candidate,
    /// The trial's seed.
    pub seed: u64,
    /// When the evaluation must give up, in milliseconds since the Unix epoch (None: no limit).
    pub deadline_ms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct WireJob {
    trial_id: u64,
    candidate: WireCandidate,
    seed: u64,
    deadline_ms: Option<u64>,
}

impl QueuedTrial {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(&WireJob {
            trial_id: self.trial_id,
            candidate: (&self.candidate).into(),
            seed: self.seed,
            deadline_ms: self.deadline_ms,
        })
    }

    /// Read a payload; [`EngineError::Corrupt`] when it is damaged.
    pub fn decode(bytes: &[u8]) -> Result<QueuedTrial, EngineError> {
        let w: WireJob = decode(bytes, "queued trial")?;
        Ok(QueuedTrial {
            trial_id: w.trial_id,
            candidate: w.candidate.into(),
            seed: w.seed,
            deadline_ms: w.deadline_ms,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WirePredictions {
    values: Vec<f64>,
    /// rows, columns, row-major values.
    proba: Option<(u64, u64, Vec<f64>)>,
}

/// A result's fold models as the worker holds them: whole, or as the lz4 blocks the trainer
/// wrote them in (raw length, packed bytes), which travel and are stored as they are.
#[derive(Serialize, Deserialize)]
enum WireArtifact<B> {
    Raw(B),
    Blocks(Vec<(u64, B)>),
}

#[derive(Serialize, Deserialize)]
struct WireEvaluation<B> {
    state: u8,
    fold_scores: Vec<f64>,
    mean: f64,
    std: f64,
    metrics: Vec<(String, f64)>,
    fit_time_s: f64,
    predict_time_per_row_s: f64,
    error: Option<String>,
    oof: Option<(Vec<u64>, WirePredictions)>,
    artifact: Option<WireArtifact<B>>,
    model_size_bytes: u64,
    facts: Vec<(String, String)>,
}

/// A worker's result: the evaluation, bit for bit, its fold models in the blocks they were
/// written in (no whole copy on the worker, none on the coordinator, whose store keeps the
/// blocks).
pub fn encode_evaluation(e: &Evaluation) -> Vec<u8> {
    let artifact = e.artifact.as_ref().map(|a| match a {
        Artifact::Raw(b) => WireArtifact::Raw(b.as_slice()),
        Artifact::Blocks(b) => WireArtifact::Blocks(
            b.blocks()
                .iter()
                .map(|(len, packed)| (*len as u64, packed.as_slice()))
                .collect(),
        ),
    });
    encode(&WireEvaluation::<&[u8]> {
        state: e.state.code(),
        fold_scores: e.fold_scores.clone(),
        mean: e.mean,
        std: e.std,
        metrics: e.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        fit_time_s: e.fit_time_s,
        predict_time_per_row_s: e.predict_time_per_row_s,
        error: e.error.clone(),
        oof: e.oof.as_ref().map(|(rows, p)| {
            (
                rows.iter().map(|&r| r as u64).collect(),
                WirePredictions {
                    values: p.values.clone(),
                    proba: p.proba.as_ref().map(|a| {
                        (
                            a.nrows() as u64,
                            a.ncols() as u64,
                            a.iter().copied().collect(),
                        )
                    }),
                },
            )
        }),
        artifact,
        model_size_bytes: e.model_size_bytes,
        facts: e
            .facts
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// Read a worker's result; [`EngineError::Corrupt`] when it is damaged (including predictions
/// whose shapes disagree, fold-model blocks that do not decompress to their length, or a
/// `running` state).
pub fn decode_evaluation(bytes: &[u8]) -> Result<Evaluation, EngineError> {
    const WHAT: &str = "worker result";
    let w: WireEvaluation<Vec<u8>> = decode(bytes, WHAT)?;
    let state = match TrialState::from_code(w.state) {
        Some(s) if s != TrialState::Running => s,
        _ => return Err(corrupt(WHAT, format!("invalid trial state {}", w.state))),
    };
    let oof = match w.oof {
        None => None,
        Some((rows, p)) => {
            if rows.len() != p.values.len() {
                return Err(corrupt(
                    WHAT,
                    format!(
                        "{} out-of-fold rows but {} predictions",
                        rows.len(),
                        p.values.len()
                    ),
                ));
            }
            let proba = match p.proba {
                None => None,
                Some((r, c, data)) => {
                    let (r, c) = (
                        usize::try_from(r).map_err(|e| corrupt(WHAT, e))?,
                        usize::try_from(c).map_err(|e| corrupt(WHAT, e))?,
                    );
                    if r != p.values.len() {
                        return Err(corrupt(
                            WHAT,
                            format!("{r} probability rows for {} predictions", p.values.len()),
                        ));
                    }
                    Some(
                        Array2::from_shape_vec((r, c), data)
                            .map_err(|e| corrupt(WHAT, format!("probabilities: {e}")))?,
                    )
                }
            };
            let rows = rows
                .into_iter()
                .map(usize::try_from)
                .collect::<Result<Vec<usize>, _>>()
                .map_err(|e| corrupt(WHAT, e))?;
            Some((
                rows,
                Predictions {
                    values: p.values,
                    proba,
                },
            ))
        }
    };
    Ok(Evaluation {
        state,
        fold_scores: w.fold_scores,
        mean: w.mean,
        std: w.std,
        metrics: w.metrics.into_iter().collect::<BTreeMap<_, _>>(),
        fit_time_s: w.fit_time_s,
        predict_time_per_row_s: w.predict_time_per_row_s,
        error: w.error,
        oof,
        artifact: match w.artifact {
            None => None,
            Some(WireArtifact::Raw(b)) => Some(Artifact::Raw(b)),
            Some(WireArtifact::Blocks(blocks)) => {
                let blocks = blocks
                    .into_iter()
                    .map(|(len, b)| Ok((usize::try_from(len).map_err(|e| corrupt(WHAT, e))?, b)))
                    .collect::<Result<Vec<_>, EngineError>>()?;
                Some(Artifact::Blocks(
                    automl_core::Blocks::from_checked(blocks)
                        .map_err(|e| corrupt(WHAT, format!("fold models: {e}")))?,
                ))
            }
        },
        model_size_bytes: w.model_size_bytes,
        facts: w.facts.into_iter().collect(),
    })
}

/// Everything a worker needs to rebuild a study's [`TrainingData`] exactly: the folds come out
/// identical because they are derived from the same rows and the study seed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingDataSpec {
    /// Feature columns (shared with the study's dataset, never copied per spec).
    pub features: Arc<Frame>,
    /// Targets (class index or value).
    pub y: Vec<f64>,
    /// Task.
    pub task: Task,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    /// The optimised metric.
    pub metric: Metric,
    /// The validation scheme, its seed the study seed.
    pub cv: CvConfig,
    /// The per-trial memory limit, bytes.
    pub memory_limit: u64,
    /// Groups or the time order the folds keep (independent rows: random folds).
    pub blocks: RowBlocks,
}

/// The blob's layout: `F` is `&Frame` when encoding (the shared columns are not copied) and
/// `Frame` when decoding.
#[derive(Serialize, Deserialize)]
struct WireData<F> {
    features: F,
    y: Vec<f64>,
    task: String,
    n_classes: u64,
    metric: String,
    folds: u64,
    holdout_above_rows: u64,
    holdout_fraction: f64,
    seed: u64,
    memory_limit: u64,
    blocks: RowBlocks,
    holdout_max_rows: u64,
    /// Fold sets, as the coordinator resolved them ([`CvConfig::repeats_for`]).
    repeats: u64,
}

impl TrainingDataSpec {
    /// The blob bytes (the store compresses blobs).
    pub fn encode(&self) -> Vec<u8> {
        encode(&WireData {
            features: &*self.features,
            y: self.y.clone(),
            task: self.task.as_str().to_string(),
            n_classes: self.n_classes as u64,
            metric: self.metric.name().to_string(),
            folds: self.cv.folds as u64,
            holdout_above_rows: self.cv.holdout_above_rows as u64,
            holdout_fraction: self.cv.holdout_fraction,
            seed: self.cv.seed,
            memory_limit: self.memory_limit,
            blocks: self.blocks.clone(),
            holdout_max_rows: self.cv.holdout_max_rows as u64,
            repeats: self.cv.repeats_for(self.y.len()) as u64,
        })
    }

    /// Read and validate a blob: every column as long as the targets, category codes within
    /// their levels, class targets within the classes, a usable validation scheme.
    pub fn decode(bytes: &[u8]) -> Result<TrainingDataSpec, EngineError> {
        const WHAT: &str = "training data";
        let w: WireData<Frame> = decode(bytes, WHAT)?;
        let bad = |reason: String| corrupt(WHAT, reason);
        let task: Task = w
            .task
            .parse()
            .map_err(|_| bad(format!("unknown task `{}`", w.task)))?;
        let metric = Metric::from_name(&w.metric)
            .ok_or_else(|| bad(format!("unknown metric `{}`", w.metric)))?;
        let n = w.y.len();
        if w.features.n_rows != n {
            return Err(bad(format!(
                "{} feature rows for {n} targets",
                w.features.n_rows
            )));
        }
        for c in &w.features.columns {
            if c.data.len() != n {
                return Err(bad(format!(
                    "column `{}` has {} rows, expected {n}",
                    c.name,
                    c.data.len()
                )));
            }
            if let ColumnData::Categorical { codes, levels } = &c.data {
                if codes
                    .iter()
                    .any(|&k| k != MISSING_CODE && k as usize >= levels.len())
                {
                    return Err(bad(format!(
                        "column `{}` has a code out of its levels",
                        c.name
                    )));
                }
            }
        }
        let n_classes = usize::try_from(w.n_classes).map_err(|e| bad(e.to_string()))?;
        if task.is_classification() {
            if n_classes < 2 {
                return Err(bad(format!("{n_classes} classes")));
            }
            if w.y
                .iter()
                .any(|&v| !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < n_classes))
            {
                return Err(bad("a class target out of range".into()));
            }
        } else if w.y.iter().any(|v| !v.is_finite()) {
            return Err(bad("a target that is not a finite number".into()));
        }
        if n < 2
            || w.folds < 2
            || !(w.holdout_fraction > 0.0 && w.holdout_fraction < 1.0)
            || w.holdout_max_rows == 0
            // A corrupt count is refused rather than fitting every candidate millions of times.
            || !(1..=automl_trainer::cv::MAX_REPEATS as u64).contains(&w.repeats)
        {
            return Err(bad(format!(
                "{n} rows, {} folds repeated {} times, holdout fraction {} of at most {} rows",
                w.folds, w.repeats, w.holdout_fraction, w.holdout_max_rows
            )));
        }
        let blocks_len = match &w.blocks {
            RowBlocks::Independent => n,
            RowBlocks::Groups { ids, .. } => ids.len(),
            RowBlocks::Time { t, .. } => t.len(),
        };
        if blocks_len != n {
            return Err(bad(format!("{blocks_len} group/time values for {n} rows")));
        }
        if let RowBlocks::Time { t, .. } = &w.blocks {
            if t.iter().any(|x| !x.is_finite()) {
                return Err(bad("a time that is not a finite number".into()));
            }
        }
        Ok(TrainingDataSpec {
            features: Arc::new(w.features),
            y: w.y,
            task,
            n_classes,
            metric,
            cv: CvConfig {
                folds: usize::try_from(w.folds).map_err(|e| bad(e.to_string()))?,
                holdout_above_rows: usize::try_from(w.holdout_above_rows)
                    .map_err(|e| bad(e.to_string()))?,
                holdout_fraction: w.holdout_fraction,
                // u64::MAX (no cap) from a 64-bit coordinator is no cap on any worker.
                holdout_max_rows: usize::try_from(w.holdout_max_rows).unwrap_or(usize::MAX),
                seed: w.seed,
                repeats: w.repeats as usize,
            },
            memory_limit: w.memory_limit,
            blocks: w.blocks,
        })
    }

    /// Split into folds: the same [`TrainingData`] the coordinator built. Groups or times
    /// that cannot make the folds are an [`EngineError::Split`].
    pub fn build(self) -> Result<TrainingData, EngineError> {
        Ok(TrainingData::with_blocks(
            self.features,
            self.y,
            self.task,
            self.n_classes,
            self.metric,
            &self.cv,
            &self.blocks,
        )
        .map_err(|e| split_error(&self.blocks, e))?
        .with_memory_limit(self.memory_limit))
    }
}

/// A split failure, told with the column it came from.
pub(crate) fn split_error(blocks: &RowBlocks, source: automl_data::SplitError) -> EngineError {
    EngineError::Split {
        role: match blocks {
            RowBlocks::Time { .. } => "time",
            _ => "group",
        },
        column: blocks.column().unwrap_or_default().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_data::Column;

    fn candidate() -> Candidate {
        let mut params = Params::new();
        params.insert("a".into(), ParamValue::Float(f64::NAN));
        params.insert("b".into(), ParamValue::Int(-3));
        params.insert("c".into(), ParamValue::Str("gini".into()));
        params.insert("d".into(), ParamValue::Bool(true));
        params.insert("e".into(), ParamValue::Float(0.1 + 0.2));
        Candidate {
            family: "gbdt".into(),
            params,
            parents: vec![3, 9],
            operator: "mutate".into(),
            fidelity: 1.0 / 3.0,
            folds: Some(1),
        }
    }

    fn evaluation() -> Evaluation {
        let mut e = Evaluation::failed(TrialState::Complete, String::new(), 1.25);
        e.error = None;
        e.fold_scores = vec![0.1 + 0.2, f64::INFINITY, -0.0, f64::MIN_POSITIVE];
        e.mean = f64::NAN;
        e.std = 1e-300;
        e.metrics.insert("roc_auc".into(), 0.75);
        e.oof = Some((
            vec![4, 0, 2],
            Predictions::from_proba(
                Array2::from_shape_vec((3, 2), vec![0.2, 0.8, 0.9, 0.1, 1.0 / 3.0, 2.0 / 3.0])
                    .unwrap(),
            ),
        ));
        e.artifact = Some(Artifact::Raw((0..=255u8).collect()));
        e.model_size_bytes = 256;
        e.facts.insert("n_rounds".into(), "17".into());
        e
    }

    /// [`evaluation`] with its fold models as three lz4 blocks, as the trainer writes them.
    fn with_blocks() -> Evaluation {
        let raw: Vec<u8> = (0..30_000u32).map(|i| (i / 50 % 13) as u8).collect();
        let mut b = automl_core::Blocks::new();
        for part in raw.chunks(12_000) {
            b.push_raw(part);
        }
        let mut e = evaluation();
        e.artifact = Some(Artifact::Blocks(b));
        e.model_size_bytes = raw.len() as u64;
        e
    }

    fn eval_err(r: Result<Evaluation, EngineError>) -> EngineError {
        match r {
            Err(e) => e,
            Ok(_) => panic!("a damaged result was decoded"),
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn a_queued_trial_round_trips() {
        let q = QueuedTrial {
            trial_id: 41,
            candidate: candidate(),
            seed: u64::MAX - 1,
            deadline_ms: Some(1_790_000_000_123),
        };
        let back = QueuedTrial::decode(&q.encode()).unwrap();
        assert_eq!(back.trial_id, 41);
        assert_eq!(back.seed, u64::MAX - 1);
        assert_eq!(back.deadline_ms, q.deadline_ms);
        assert_eq!(back.candidate.family, "gbdt");
        assert_eq!(back.candidate.parents, vec![3, 9]);
        assert_eq!(back.candidate.fidelity.to_bits(), (1.0f64 / 3.0).to_bits());
        assert_eq!(back.candidate.folds, Some(1));
        assert!(matches!(back.candidate.params["a"], ParamValue::Float(x) if x.is_nan()));
        assert_eq!(back.candidate.params["e"], ParamValue::Float(0.1 + 0.2));
        assert_eq!(back.candidate.params["b"], ParamValue::Int(-3));
        assert_eq!(back.candidate.params["d"], ParamValue::Bool(true));
        let none = QueuedTrial {
            deadline_ms: None,
            ..q
        };
        assert_eq!(
            QueuedTrial::decode(&none.encode()).unwrap().deadline_ms,
            None
        );
    }

    #[test]
    fn an_evaluation_round_trips_bit_for_bit() {
        let e = evaluation();
        let back = decode_evaluation(&encode_evaluation(&e)).unwrap();
        assert_eq!(back.state, TrialState::Complete);
        assert_eq!(bits(&back.fold_scores), bits(&e.fold_scores));
        assert_eq!(back.mean.to_bits(), e.mean.to_bits());
        assert_eq!(back.std.to_bits(), e.std.to_bits());
        assert_eq!(back.metrics, e.metrics);
        assert_eq!(back.fit_time_s, 1.25);
        assert_eq!(back.artifact, e.artifact);
        assert_eq!(back.model_size_bytes, 256);
        assert_eq!(back.facts, e.facts);
        let (rows, p) = back.oof.unwrap();
        let (rows0, p0) = e.oof.unwrap();
        assert_eq!(rows, rows0);
        assert_eq!(bits(&p.values), bits(&p0.values));
        let (a, a0) = (p.proba.unwrap(), p0.proba.unwrap());
        assert_eq!(a.dim(), a0.dim());
        assert_eq!(
            bits(&a.iter().copied().collect::<Vec<_>>()),
            bits(&a0.iter().copied().collect::<Vec<_>>())
        );
        // Fold models in blocks travel as the same blocks (not decompressed and packed again),
        // and the payload is smaller than the bytes whole.
        let e = with_blocks();
        let payload = encode_evaluation(&e);
        assert!(
            payload.len() < e.model_size_bytes as usize / 4,
            "{}",
            payload.len()
        );
        let back = decode_evaluation(&payload).unwrap();
        assert!(matches!(back.artifact, Some(Artifact::Blocks(_))));
        assert_eq!(back.artifact, e.artifact);
        let failed = Evaluation::failed(TrialState::TimedOut, "late".into(), 2.0);
        let back = decode_evaluation(&encode_evaluation(&failed)).unwrap();
        assert_eq!(back.state, TrialState::TimedOut);
        assert_eq!(back.error.as_deref(), Some("late"));
        assert!(back.oof.is_none() && back.artifact.is_none());
    }

    #[test]
    fn training_data_round_trips_and_builds_the_same_folds() {
        let features = Frame::new(vec![
            Column::numeric("x", (0..40).map(|i| i as f64 * 0.5).collect()),
            Column {
                name: "c".into(),
                kind: automl_data::ColumnKind::Categorical,
                data: ColumnData::Categorical {
                    codes: (0..40)
                        .map(|i| if i == 7 { MISSING_CODE } else { i % 3 })
                        .collect(),
                    levels: vec!["a".into(), "b".into(), "c".into()],
                },
            },
        ]);
        let spec = TrainingDataSpec {
            features: Arc::new(features),
            y: (0..40).map(|i| (i % 2) as f64).collect(),
            task: Task::Binary,
            n_classes: 2,
            metric: Metric::RocAuc,
            cv: CvConfig {
                seed: 99,
                ..CvConfig::default()
            },
            memory_limit: 1 << 30,
            blocks: RowBlocks::Independent,
        };
        let back = TrainingDataSpec::decode(&spec.encode()).unwrap();
        assert_eq!(back, spec);
        // An uncapped holdout (a resumed study's stored fraction) reaches the workers.
        let mut uncapped = spec.clone();
        uncapped.cv.holdout_max_rows = usize::MAX;
        assert_eq!(
            TrainingDataSpec::decode(&uncapped.encode()).unwrap(),
            uncapped
        );
        let (a, b) = (spec.build().unwrap(), back.build().unwrap());
        assert_eq!(a.folds.len(), b.folds.len());
        for (fa, fb) in a.folds.iter().zip(&b.folds) {
            assert_eq!(fa.split, fb.split);
            assert_eq!(bits(&fa.y_valid), bits(&fb.y_valid));
        }
        assert_eq!(b.memory_limit, 1 << 30);
    }

    #[test]
    fn corrupt_payloads_are_errors_not_panics() {
        let job = QueuedTrial {
            trial_id: 1,
            candidate: candidate(),
            seed: 2,
            deadline_ms: None,
        }
        .encode();
        let eval = encode_evaluation(&evaluation());
        let blocked = encode_evaluation(&with_blocks());
        for bytes in [&job, &eval, &blocked] {
            // Every truncation, a wrong version byte, trailing garbage, flipped bytes.
            let mut inputs: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
            let mut v = bytes.clone();
            v[0] = 2;
            inputs.push(v);
            let mut v = bytes.clone();
            v.push(0);
            inputs.push(v);
            for i in 1..bytes.len() {
                let mut v = bytes.clone();
                v[i] ^= 0xff;
                inputs.push(v);
            }
            for input in &inputs {
                // Must not panic; truncations and version changes must be refused.
                let _ = QueuedTrial::decode(input);
                let _ = decode_evaluation(input);
                let _ = TrainingDataSpec::decode(input);
            }
        }
        for n in 0..job.len() {
            let e = QueuedTrial::decode(&job[..n]).unwrap_err();
            assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
        }
        for n in 0..eval.len() {
            let e = eval_err(decode_evaluation(&eval[..n]));
            assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
        }
        let e = eval_err(decode_evaluation(&[WIRE_VERSION + 1, 0, 0]));
        let want = format!("format version {}", WIRE_VERSION + 1);
        assert!(e.to_string().contains(&want), "{e}");
        // Versions 1 (before fold fidelity), 2 (before repeated folds) and 3 (fold models sent
        // whole) are refused, not misread.
        for old in [1u8, 2, 3] {
            let e = eval_err(decode_evaluation(&[old, 0, 0]));
            assert!(
                e.to_string().contains(&format!("format version {old}")),
                "{e}"
            );
        }
        // A result whose predictions disagree with their rows.
        let mut bad = evaluation();
        if let Some((rows, _)) = &mut bad.oof {
            rows.push(9);
        }
        let e = eval_err(decode_evaluation(&encode_evaluation(&bad)));
        assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
        // Fold models whose blocks do not decompress to their stated length.
        let mut bad = with_blocks();
        if let Some(Artifact::Blocks(b)) = bad.artifact.take() {
            let mut blocks = b.into_blocks();
            blocks[0].0 += 1;
            let mut lying = automl_core::Blocks::new();
            for (len, packed) in blocks {
                lying.push_packed(len, packed);
            }
            bad.artifact = Some(Artifact::Blocks(lying));
        }
        let e = eval_err(decode_evaluation(&encode_evaluation(&bad)));
        assert!(e.to_string().contains("fold models: block 0"), "{e}");
    }

    /// A worker rebuilds the coordinator's grouped and forward-chaining folds from the blob;
    /// no forward-chaining training row is later than its validation rows.
    #[test]
    fn grouped_and_time_ordered_folds_survive_the_blob() {
        let n = 120;
        // Times shuffled over the rows, with ties.
        let t: Vec<f64> = (0..n).map(|i| ((i * 37) % n / 2) as f64).collect();
        let groups: Vec<u32> = (0..n).map(|i| (i % 17) as u32).collect();
        let mk = |blocks: RowBlocks| TrainingDataSpec {
            features: Frame::new(vec![Column::numeric(
                "x",
                (0..n).map(|i| i as f64).collect(),
            )])
            .into(),
            y: (0..n).map(|i| (i % 2) as f64).collect(),
            task: Task::Binary,
            n_classes: 2,
            metric: Metric::RocAuc,
            cv: CvConfig {
                seed: 4,
                ..CvConfig::default()
            },
            memory_limit: u64::MAX,
            blocks,
        };
        for blocks in [
            RowBlocks::Time {
                column: "t".into(),
                t: t.clone(),
                gap: 5,
            },
            RowBlocks::Groups {
                column: "g".into(),
                ids: groups.clone(),
            },
        ] {
            let spec = mk(blocks.clone());
            let back = TrainingDataSpec::decode(&spec.encode()).unwrap();
            assert_eq!(back, spec);
            let (a, b) = (spec.build().unwrap(), back.build().unwrap());
            assert_eq!(a.folds.len(), 5);
            for (fa, fb) in a.folds.iter().zip(&b.folds) {
                assert_eq!(fa.split, fb.split);
                let s = &fa.split;
                match &blocks {
                    RowBlocks::Time { .. } => {
                        let latest = s.train.iter().map(|&i| t[i]).fold(f64::MIN, f64::max);
                        let earliest = s.valid.iter().map(|&i| t[i]).fold(f64::MAX, f64::min);
                        assert!(latest < earliest, "{latest} >= {earliest}");
                        let skipped = (0..n)
                            .filter(|&i| t[i] < earliest && !s.train.contains(&i))
                            .count();
                        assert_eq!(skipped, 5, "the gap");
                    }
                    _ => assert!(
                        s.train
                            .iter()
                            .all(|&i| s.valid.iter().all(|&j| groups[i] != groups[j]))
                    ),
                }
            }
        }
        // Too few groups: an error naming the column, not a panic.
        let few = mk(RowBlocks::Groups {
            column: "g".into(),
            ids: (0..n).map(|i| (i % 3) as u32).collect(),
        });
        let e = few.build().err().unwrap();
        assert!(e.to_string().contains("group column 'g'"), "{e}");
        // Values of the wrong length are a corrupt blob.
        let short = mk(RowBlocks::Time {
            column: "t".into(),
            t: vec![1.0; 3],
            gap: 0,
        });
        assert!(matches!(
            TrainingDataSpec::decode(&short.encode()),
            Err(EngineError::Corrupt { .. })
        ));
    }

    #[test]
    fn training_data_that_would_break_the_folds_is_refused() {
        let good = TrainingDataSpec {
            features: Frame::new(vec![Column::numeric("x", vec![1.0, 2.0, 3.0, 4.0])]).into(),
            y: vec![0.0, 1.0, 0.0, 1.0],
            task: Task::Binary,
            n_classes: 2,
            metric: Metric::RocAuc,
            cv: CvConfig::default(),
            memory_limit: u64::MAX,
            blocks: RowBlocks::Independent,
        };
        let mut short = good.clone();
        short.y.pop();
        let mut class = good.clone();
        class.y[0] = 2.0;
        let mut folds = good.clone();
        folds.cv.folds = 1;
        for bad in [short, class, folds] {
            let e = TrainingDataSpec::decode(&bad.encode()).unwrap_err();
            assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
        }
        assert!(TrainingDataSpec::decode(&good.encode()).is_ok());
    }
}
