//! The reference profile a final model keeps of its training data: per column the missing
//! rate and either a quantile sketch with moments (numbers) or the level counts (categories,
//! booleans); the out-of-fold prediction distribution; and, unless opted out, a seeded sample
//! of up to [`SAMPLE_ROWS`] training rows, which the drift tests and the domain classifier use.
//! Stored as versioned JSON ([`ReferenceProfile::to_bytes`]).

use crate::MonitorError;
use crate::drift::stats::quantile_sorted;
use automl_core::{Predictions, Rng, Task};
use automl_data::{ColumnData, ColumnKind, Frame, MISSING_CODE};
use serde::{Deserialize, Serialize};

/// Version of the profile layout.
pub const PROFILE_VERSION: u32 = 1;
/// Rows kept in the sample by default.
pub const SAMPLE_ROWS: usize = 10_000;
/// Points of the quantile sketch (a 0.5 % grid, minimum and maximum included).
pub const QUANTILE_POINTS: usize = 201;
/// Levels of a categorical column counted one by one; rarer levels are pooled as "other".
pub const MAX_LEVELS: usize = 1000;

/// How a profile is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileOptions {
    /// Rows kept in the sample (0: no sample; the tests then use the sketches).
    pub sample_rows: usize,
    /// Seed of the sample.
    pub seed: u64,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            sample_rows: SAMPLE_ROWS,
            seed: 0,
        }
    }
}

/// What the final model saw in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// [`PROFILE_VERSION`] of the writer.
    pub version: u32,
    /// Training rows.
    pub n_rows: usize,
    /// One per feature column, in the frame's order.
    pub columns: Vec<ColumnProfile>,
    /// The out-of-fold predictions' distribution (None when there were none).
    #[serde(default)]
    pub predictions: Option<PredictionProfile>,
    /// A seeded sample of training rows (None when opted out).
    #[serde(default)]
    pub sample: Option<RowSample>,
}

/// One column's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its kind.
    pub kind: ColumnKind,
    /// Missing cells.
    pub missing: usize,
    /// Quantiles or level counts.
    pub summary: ColumnSummary,
}

impl ColumnProfile {
    /// The share of missing cells.
    pub fn missing_rate(&self, n_rows: usize) -> f64 {
        if n_rows == 0 {
            0.0
        } else {
            self.missing as f64 / n_rows as f64
        }
    }
}

/// The distribution of a column's present values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnSummary {
    /// A numeric column.
    Numeric {
        /// [`QUANTILE_POINTS`] evenly spaced quantiles (empty when every cell is missing).
        quantiles: Vec<f64>,
        /// Mean.
        mean: f64,
        /// Standard deviation (population).
        std: f64,
    },
    /// A categorical or boolean column (booleans as `false` / `true`).
    Categorical {
        /// The counted levels, most frequent first.
        levels: Vec<LevelCount>,
        /// Present cells of levels not counted one by one.
        other: u64,
    },
}

/// One level and how many training rows had it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelCount {
    /// The level.
    pub level: String,
    /// Rows.
    pub count: u64,
}

/// A seeded sample of training rows, column by column (same order as the profile's columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowSample {
    /// Rows in the sample.
    pub n_rows: usize,
    /// One per column.
    pub columns: Vec<SampleColumn>,
}

/// A column of the row sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SampleColumn {
    /// Numbers (booleans as 0/1); None = missing.
    Numeric {
        /// One per sampled row.
        values: Vec<Option<f64>>,
    },
    /// Categories as codes into `levels`; None = missing.
    Categorical {
        /// The levels the codes index.
        levels: Vec<String>,
        /// One per sampled row.
        codes: Vec<Option<u32>>,
    },
}

/// The distribution of the out-of-fold predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionProfile {
    /// The task.
    pub task: Task,
    /// Class labels (classification).
    pub classes: Vec<String>,
    /// Predicted-class counts (classification).
    pub class_counts: Vec<u64>,
    /// What the score is: `value` (regression), `proba_<class>` (binary: the positive class)
    /// or `max_proba` (multiclass).
    pub score: String,
    /// Rows predicted.
    pub n: usize,
    /// [`QUANTILE_POINTS`] quantiles of the score.
    pub quantiles: Vec<f64>,
    /// A seeded sample of up to [`SAMPLE_ROWS`] scores.
    pub sample: Vec<f64>,
}

/// The one number per row the prediction drift test compares: the value (regression), the
/// positive class's probability (binary) or the top probability (multiclass).
pub fn prediction_scores(pred: &Predictions, task: Task) -> Vec<f64> {
    match (&pred.proba, task) {
        (Some(p), Task::Binary) if p.ncols() >= 2 => p.column(1).to_vec(),
        (Some(p), _) => p
            .rows()
            .into_iter()
            .map(|r| r.iter().copied().fold(0.0, f64::max))
            .collect(),
        (None, _) => pred.values.clone(),
    }
}

/// The name of the score [`prediction_scores`] gives.
pub fn score_name(task: Task, classes: &[String]) -> String {
    match task {
        Task::Regression => "value".into(),
        Task::Binary => format!("proba_{}", classes.get(1).map_or("1", |c| c.as_str())),
        Task::Multiclass => "max_proba".into(),
    }
}

/// Evenly spaced quantiles of sorted values ([`QUANTILE_POINTS`] of them).
pub fn sketch(sorted: &[f64]) -> Vec<f64> {
    if sorted.is_empty() {
        return Vec::new();
    }
    (0..QUANTILE_POINTS)
        .map(|i| quantile_sorted(sorted, i as f64 / (QUANTILE_POINTS - 1) as f64))
        .collect()
}

fn sorted_finite(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut s: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    s
}

impl PredictionProfile {
    /// The profile of out-of-fold predictions `pred` (rows in any order).
    pub fn build(pred: &Predictions, task: Task, classes: &[String], seed: u64) -> Self {
        let scores = prediction_scores(pred, task);
        let mut class_counts = Vec::new();
        if task.is_classification() {
            class_counts = vec![0u64; classes.len()];
            for &v in &pred.values {
                if let Some(c) = class_counts.get_mut(v as usize) {
                    *c += 1;
                }
            }
        }
        let mut rng = Rng::derive(seed, 0x5052_4544);
        let idx = rng.sample_indices(scores.len(), SAMPLE_ROWS);
        let sample = idx
            .iter()
            .map(|&i| scores[i])
            .filter(|x| x.is_finite())
            .collect();
        PredictionProfile {
            task,
            classes: classes.to_vec(),
            class_counts,
            score: score_name(task, classes),
            n: scores.len(),
            quantiles: sketch(&sorted_finite(scores.into_iter())),
            sample,
        }
    }
}

/// The level counts of a boolean column: `false`, `true`.
fn bool_counts(v: &[f64]) -> [u64; 2] {
    let mut c = [0u64; 2];
    for &x in v {
        if x.is_finite() {
            c[usize::from(x != 0.0)] += 1;
        }
    }
    c
}

impl ReferenceProfile {
    /// Profile `frame` (the training features) and, when given, the out-of-fold predictions
    /// `oof` of the final model (with the task and class labels).
    pub fn build(
        frame: &Frame,
        oof: Option<(&Predictions, Task, &[String])>,
        opts: &ProfileOptions,
    ) -> ReferenceProfile {
        let columns = frame
            .columns
            .iter()
            .map(|c| {
                let missing = c.data.n_missing();
                let summary = match (&c.data, c.kind) {
                    (ColumnData::Numeric(v), ColumnKind::Boolean) => {
                        let [f, t] = bool_counts(v);
                        ColumnSummary::Categorical {
                            levels: vec![
                                LevelCount {
                                    level: "false".into(),
                                    count: f,
                                },
                                LevelCount {
                                    level: "true".into(),
                                    count: t,
                                },
                            ],
                            other: 0,
                        }
                    }
                    (ColumnData::Numeric(v), _) => {
                        let s = sorted_finite(v.iter().copied());
                        let n = s.len().max(1) as f64;
                        let mean = s.iter().sum::<f64>() / n;
                        let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                        ColumnSummary::Numeric {
                            quantiles: sketch(&s),
                            mean: if s.is_empty() { 0.0 } else { mean },
                            std: var.sqrt(),
                        }
                    }
                    (ColumnData::Categorical { codes, levels }, _) => {
                        let mut counts = vec![0u64; levels.len()];
                        for &code in codes {
                            if code != MISSING_CODE {
                                counts[code as usize] += 1;
                            }
                        }
                        let mut order: Vec<usize> =
                            (0..levels.len()).filter(|&i| counts[i] > 0).collect();
                        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
                        let other = order.iter().skip(MAX_LEVELS).map(|&i| counts[i]).sum();
                        ColumnSummary::Categorical {
                            levels: order
                                .iter()
                                .take(MAX_LEVELS)
                                .map(|&i| LevelCount {
                                    level: levels[i].clone(),
                                    count: counts[i],
                                })
                                .collect(),
                            other,
                        }
                    }
                };
                ColumnProfile {
                    name: c.name.clone(),
                    kind: c.kind,
                    missing,
                    summary,
                }
            })
            .collect();
        let sample = (opts.sample_rows > 0 && frame.n_rows > 0).then(|| {
            let mut rng = Rng::derive(opts.seed, 0x524f_5753);
            let mut idx = rng.sample_indices(frame.n_rows, opts.sample_rows);
            idx.sort_unstable();
            RowSample {
                n_rows: idx.len(),
                columns: frame
                    .columns
                    .iter()
                    .map(|c| match &c.data {
                        ColumnData::Numeric(v) => SampleColumn::Numeric {
                            values: idx
                                .iter()
                                .map(|&i| Some(v[i]).filter(|x| x.is_finite()))
                                .collect(),
                        },
                        ColumnData::Categorical { codes, levels } => SampleColumn::Categorical {
                            levels: levels.clone(),
                            codes: idx
                                .iter()
                                .map(|&i| Some(codes[i]).filter(|&c| c != MISSING_CODE))
                                .collect(),
                        },
                    })
                    .collect(),
            }
        });
        ReferenceProfile {
            version: PROFILE_VERSION,
            n_rows: frame.n_rows,
            columns,
            predictions: oof
                .map(|(p, task, classes)| PredictionProfile::build(p, task, classes, opts.seed)),
            sample,
        }
    }

    /// The profile as stored (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a profile always serialises")
    }

    /// Decode a stored profile; a newer layout or undecodable bytes are
    /// [`MonitorError::Corrupt`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ReferenceProfile, MonitorError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(bytes)
            .map_err(|e| MonitorError::Corrupt(format!("reference profile: {e}")))?;
        if v.version > PROFILE_VERSION {
            return Err(MonitorError::Corrupt(format!(
                "reference profile version {} is newer than this build reads ({PROFILE_VERSION}); upgrade automl",
                v.version
            )));
        }
        serde_json::from_slice(bytes)
            .map_err(|e| MonitorError::Corrupt(format!("reference profile: {e}")))
    }

    /// The profile of column `name`, with its index.
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnProfile)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }
}
