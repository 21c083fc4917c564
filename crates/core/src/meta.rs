//! Typed study metadata: how a study validates (`Validation`), what its ensemble selection
//! decided (`EnsembleDecision`) and how its final model was made (`FinalModel`).
//!
//! Older stores carried these as text in `StudyRecord::extra` (`validation`, `rows`, `report`,
//! `final_model`, `ensemble`) and on ensemble trials (`single_selection_cv`, `best_single_cv`);
//! the `*_text` accessors of [`StudyRecord`] read either form, so readers never look at `extra`
//! for them.

use crate::trial::StudyRecord;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Family name of the trials made by ensemble selection (not proposed by a strategy; never told
/// to one). Every meta-trial family is listed in [`META_FAMILIES`].
pub const ENSEMBLE_FAMILY: &str = "ensemble";

/// Family name of the trials made by stacking: a second-layer model fitted on the out-of-fold
/// predictions of the best diverse trials.
pub const STACKING_FAMILY: &str = "stacking";

/// Key of [`crate::TrialRecord::extra`] holding a stacking trial's [`StackingDecision`] as JSON
/// (kept there so the binary trial record format is unchanged; the engine's `stacking_of` reads
/// it).
pub const STACKING_KEY: &str = "stacking";

/// Families of meta-trials: built from other trials after the search (always stored, never told
/// to a strategy, never warm-started from).
pub const META_FAMILIES: &[&str] = &[ENSEMBLE_FAMILY, STACKING_FAMILY];

/// True for a family made from other trials ([`META_FAMILIES`]), not proposed by a strategy.
pub fn is_meta_family(family: &str) -> bool {
    META_FAMILIES.contains(&family)
}

fn one() -> usize {
    1
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

/// How the candidates of a study are validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validation {
    /// k-fold cross-validation (stratified for classification).
    KFold {
        /// Number of folds.
        folds: usize,
        /// Whether folds keep the class proportions.
        stratified: bool,
        /// Fold sets (repeated k-fold: each a reshuffle of the rows; 1 when not repeated,
        /// and for studies stored before repeats existed).
        #[serde(default = "one", skip_serializing_if = "is_one")]
        repeats: usize,
    },
    /// One holdout split.
    Holdout {
        /// Share of the rows held out for validation (0..1).
        fraction: f64,
    },
    /// Folds (or one holdout) that keep the rows sharing a value of `column` together
    /// (`--group-col`); stratified-grouped for classification.
    Grouped {
        /// The group column (not a feature).
        column: String,
        /// Number of folds (k-fold), when not a holdout.
        folds: usize,
        /// Whether groups are dealt so folds keep the class proportions.
        stratified: bool,
        /// The validation share of a grouped holdout (big data), instead of folds.
        #[serde(default)]
        holdout_fraction: Option<f64>,
    },
    /// Forward-chaining folds in time order (`--time-col`): each fold validates on a later
    /// block and trains on strictly earlier rows only, the most recent block last.
    ForwardChaining {
        /// The time column (not a feature).
        column: String,
        /// Number of folds, when not a holdout.
        folds: usize,
        /// Rows left out between the training rows and each validation block.
        gap: usize,
        /// The share of the most recent rows validated on by one holdout (big data).
        #[serde(default)]
        holdout_fraction: Option<f64>,
    },
}

impl Validation {
    /// Fold sets of a repeated k-fold (1 for every other scheme).
    pub fn repeats(&self) -> usize {
        match self {
            Validation::KFold { repeats, .. } => (*repeats).max(1),
            _ => 1,
        }
    }
}

impl fmt::Display for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validation::KFold {
                folds,
                stratified,
                repeats,
            } => {
                let kind = if *stratified { " stratified" } else { "" };
                write!(f, "{folds}-fold{kind} CV")?;
                if *repeats > 1 {
                    write!(f, " repeated {repeats} times")?;
                }
                Ok(())
            }
            Validation::Holdout { fraction } => {
                write!(f, "holdout ({:.0} % validation)", fraction * 100.0)
            }
            Validation::Grouped {
                column,
                folds,
                stratified,
                holdout_fraction,
            } => match holdout_fraction {
                Some(fr) => write!(
                    f,
                    "holdout ({:.0} % validation) grouped by {column}",
                    fr * 100.0
                ),
                None => write!(
                    f,
                    "{folds}-fold {}grouped by {column} CV",
                    if *stratified { "stratified " } else { "" }
                ),
            },
            Validation::ForwardChaining {
                column,
                folds,
                gap,
                holdout_fraction,
            } => {
                match holdout_fraction {
                    Some(fr) => write!(f, "holdout (last {:.0} % by {column}", fr * 100.0)?,
                    None => write!(f, "{folds}-fold forward-chaining CV (by {column}")?,
                }
                if *gap > 0 {
                    write!(f, ", gap {gap} rows")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// What ensemble selection decided at the end of a session. The ensemble is stored as its own
/// trial (family [`ENSEMBLE_FAMILY`]) whether it was used or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleDecision {
    /// Whether the ensemble became the final model.
    pub used: bool,
    /// Its trial id (None when no ensemble could be selected at all).
    #[serde(default)]
    pub trial_id: Option<u64>,
    /// Members (trial id, weight), heaviest first as selected.
    #[serde(default)]
    pub members: Vec<(u64, f64)>,
    /// Cross-validated score of the selection procedure (each fold's weights chosen on the
    /// other folds); None when no ensemble could be selected.
    #[serde(default)]
    pub cv_score: Option<f64>,
    /// The same cross-validation of picking one trial: the ensemble's rival.
    #[serde(default)]
    pub single_selection_cv: Option<f64>,
    /// The best single trial's own CV score (the best of every trial, so flattered).
    #[serde(default)]
    pub best_single_cv: Option<f64>,
    /// Why it was or was not used, in a sentence.
    pub reason: String,
}

/// What stacking decided at the end of a session. The stacking is stored as its own trial
/// (family [`STACKING_FAMILY`]) whether it was used or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackingDecision {
    /// Whether the stacking became the final model.
    pub used: bool,
    /// Its trial id (None when no stacking could be fitted).
    #[serde(default)]
    pub trial_id: Option<u64>,
    /// Member trial ids, in the order their predictions enter the second layer.
    #[serde(default)]
    pub members: Vec<u64>,
    /// The second layer fitted on every out-of-fold row, in a line (weights, intercepts, L2).
    #[serde(default)]
    pub meta_learner: String,
    /// Cross-validated score of the stacking (each fold's second layer, its L2 included,
    /// chosen and fitted on the other folds only).
    #[serde(default)]
    pub cv_score: Option<f64>,
    /// The ensemble's cross-validated score: the rival it must beat.
    #[serde(default)]
    pub ensemble_cv: Option<f64>,
    /// Picking one trial, cross-validated the same way: the other rival.
    #[serde(default)]
    pub single_selection_cv: Option<f64>,
    /// Why it was or was not used, in a sentence.
    pub reason: String,
}

/// How a study's final model was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalModelKind {
    /// The best trial refit on all rows.
    Refit,
    /// The best trial's cross-validation fold models: its family's fits vary too much with
    /// the seed for one refit (`mlp`, k-fold CV only), or there was no time to refit, or the
    /// refit failed.
    FoldModels,
    /// An ensemble trial: its members refit on all rows where time allowed, the rest with
    /// their fold models.
    Ensemble,
    /// A stacking trial: its members refit on all rows where time allowed (the rest with their
    /// fold models) under its second-layer model.
    Stacking,
}

/// The study's final model (stored as the study's `final_model` blob).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalModel {
    /// The trial it comes from (an ensemble trial for [`FinalModelKind::Ensemble`]).
    pub trial_id: u64,
    /// How it was made.
    pub kind: FinalModelKind,
    /// Training rows the refit saw.
    pub rows: u64,
    /// Ensemble members (0 for a single model).
    #[serde(default)]
    pub members: usize,
    /// Ensemble members refit on all rows (the others keep their fold models).
    #[serde(default)]
    pub members_refit: usize,
    /// Further refits with other seeds, each averaged with its trial's first refit (a family's
    /// `final_refit_seeds`, as far as the time left allowed).
    #[serde(default)]
    pub more_seeds: usize,
    /// Why fold models were used, or why an ensemble is used although a single trial ranks
    /// above it.
    #[serde(default)]
    pub note: Option<String>,
}

impl fmt::Display for FinalModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.trial_id;
        match self.kind {
            FinalModelKind::Refit => {
                write!(f, "trial {id} refit on all {} rows", self.rows)?;
                if self.more_seeds > 0 {
                    write!(f, " with {} seeds, averaged", self.more_seeds + 1)?;
                }
            }
            FinalModelKind::FoldModels => write!(f, "trial {id} fold models")?,
            FinalModelKind::Ensemble | FinalModelKind::Stacking => {
                let what = if self.kind == FinalModelKind::Stacking {
                    "stacking"
                } else {
                    "ensemble"
                };
                write!(f, "{what} trial {id} (")?;
                if self.members_refit == self.members {
                    write!(
                        f,
                        "{} members refit on all {} rows",
                        self.members, self.rows
                    )?;
                } else if self.members_refit == 0 {
                    write!(f, "{} members, fold models: no time to refit", self.members)?;
                } else {
                    write!(
                        f,
                        "{} members; {} refit on all {} rows, the rest with their fold models: \
                         no time to refit them",
                        self.members, self.members_refit, self.rows
                    )?;
                }
                if self.more_seeds > 0 {
                    write!(
                        f,
                        "; {} more refits with other seeds averaged in",
                        self.more_seeds
                    )?;
                }
                write!(f, ")")?;
            }
        }
        match (&self.note, self.kind) {
            (Some(n), FinalModelKind::FoldModels) => write!(f, " ({n})"),
            (Some(n), _) => write!(f, "; {n}"),
            (None, _) => Ok(()),
        }
    }
}

impl StudyRecord {
    /// The validation scheme as one line (typed field, or the text older stores kept in `extra`).
    pub fn validation_text(&self) -> Option<String> {
        match &self.validation {
            Some(v) => Some(v.to_string()),
            None => self.extra.get("validation").cloned(),
        }
    }

    /// Training rows of the study (typed field, or `extra["rows"]` of older stores).
    pub fn rows(&self) -> Option<u64> {
        self.n_rows
            .or_else(|| self.extra.get("rows").and_then(|r| r.parse().ok()))
    }

    /// The data report shown before the search (typed field, or `extra["report"]`).
    pub fn report_text(&self) -> Option<String> {
        self.data_report
            .clone()
            .or_else(|| self.extra.get("report").cloned())
    }

    /// How the final model was made, as one line (typed field, or `extra["final_model"]`).
    pub fn final_model_text(&self) -> Option<String> {
        match &self.final_model {
            Some(m) => Some(m.to_string()),
            None => self.extra.get("final_model").cloned(),
        }
    }

    /// What stacking decided, as one line (None in studies without one, and older stores).
    pub fn stacking_text(&self) -> Option<String> {
        self.stacking.as_ref().map(|d| d.reason.clone())
    }

    /// What ensemble selection decided, as one line (typed field, or `extra["ensemble"]`).
    pub fn ensemble_text(&self) -> Option<String> {
        match &self.ensemble {
            Some(e) => Some(e.reason.clone()),
            None => self.extra.get("ensemble").cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stacking_decision_reads_from_older_and_newer_records() {
        // Only `used` and `reason` are required: later fields have defaults.
        let d: StackingDecision =
            serde_json::from_str(r#"{"used": false, "reason": "r"}"#).unwrap();
        assert!(d.members.is_empty() && d.cv_score.is_none());
        assert!(is_meta_family(STACKING_FAMILY));
        let m = FinalModel {
            trial_id: 9,
            kind: FinalModelKind::Stacking,
            rows: 10,
            members: 3,
            members_refit: 3,
            more_seeds: 0,
            note: None,
        };
        assert_eq!(
            m.to_string(),
            "stacking trial 9 (3 members refit on all 10 rows)"
        );
    }

    #[test]
    fn validation_reads_like_before() {
        let k = Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 1,
        };
        assert_eq!(k.to_string(), "5-fold stratified CV");
        let h = Validation::Holdout { fraction: 0.2 };
        assert_eq!(h.to_string(), "holdout (20 % validation)");
        let json = serde_json::to_string(&k).unwrap();
        // One fold set is stored as before repeats existed, and read back from that.
        assert_eq!(json, r#"{"kind":"k_fold","folds":5,"stratified":true}"#);
        assert_eq!(serde_json::from_str::<Validation>(&json).unwrap(), k);
        let r = Validation::KFold {
            folds: 5,
            stratified: false,
            repeats: 3,
        };
        assert_eq!(r.to_string(), "5-fold CV repeated 3 times");
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""repeats":3"#), "{json}");
        assert_eq!(serde_json::from_str::<Validation>(&json).unwrap(), r);
    }

    #[test]
    fn grouped_and_forward_chaining_lines() {
        let g = Validation::Grouped {
            column: "patient_id".into(),
            folds: 5,
            stratified: false,
            holdout_fraction: None,
        };
        assert_eq!(g.to_string(), "5-fold grouped by patient_id CV");
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Validation>(&json).unwrap(), g);
        let t = Validation::ForwardChaining {
            column: "t".into(),
            folds: 4,
            gap: 5,
            holdout_fraction: None,
        };
        assert_eq!(
            t.to_string(),
            "4-fold forward-chaining CV (by t, gap 5 rows)"
        );
        let t = Validation::ForwardChaining {
            column: "t".into(),
            folds: 4,
            gap: 0,
            holdout_fraction: Some(0.2),
        };
        assert_eq!(t.to_string(), "holdout (last 20 % by t)");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Validation>(&json).unwrap(), t);
    }

    #[test]
    fn final_model_lines() {
        let mut m = FinalModel {
            trial_id: 7,
            kind: FinalModelKind::Refit,
            rows: 600,
            members: 0,
            members_refit: 0,
            more_seeds: 0,
            note: None,
        };
        assert_eq!(m.to_string(), "trial 7 refit on all 600 rows");
        m.more_seeds = 2;
        assert_eq!(
            m.to_string(),
            "trial 7 refit on all 600 rows with 3 seeds, averaged"
        );
        m.more_seeds = 0;
        m.kind = FinalModelKind::FoldModels;
        m.note = Some("no time left to refit".into());
        assert_eq!(m.to_string(), "trial 7 fold models (no time left to refit)");
        m.kind = FinalModelKind::Ensemble;
        m.members = 4;
        m.members_refit = 2;
        m.note = None;
        assert!(
            m.to_string()
                .starts_with("ensemble trial 7 (4 members; 2 refit")
        );
        m.members_refit = 4;
        m.more_seeds = 5;
        assert_eq!(
            m.to_string(),
            "ensemble trial 7 (4 members refit on all 600 rows; 5 more refits with other seeds \
             averaged in)"
        );
        // Records stored before the field existed read as no further seeds.
        let old: FinalModel = serde_json::from_str(
            r#"{"trial_id": 1, "kind": "refit", "rows": 5, "members": 0, "members_refit": 0}"#,
        )
        .unwrap();
        assert_eq!(old.more_seeds, 0);
    }
}
