//! The binary encoding of trial records: [`TAG`], a format byte, then postcard of a private
//! mirror of the record ([`TrialV1`] for format 1, [`TrialV2`] for format 2).
//!
//! Postcard is positional: a field added to (or reordered in) a mirror would misread every
//! record already written. So a mirror is frozen once released; a new layout is a new mirror
//! (`TrialV2`) under the next format byte, and the decoders of the earlier formats stay,
//! filling the new fields with their defaults. The conversions destructure `TrialRecord`,
//! `Candidate` and `EnsembleDecision` completely, so a field added to one of them does not
//! compile here until it has a place in a new format. A format byte above [`FORMAT`] was
//! written by a newer automl and is refused ([`StoreError::NewerFormat`]), never guessed at.
//! Floats are stored bit for bit, so NaN and infinite scores round-trip as they are.

use crate::error::StoreError;
use automl_core::meta::EnsembleDecision;
use automl_core::{Candidate, Params, TrialRecord, TrialState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// First byte of a binary record. Not ASCII, so never the first byte of a JSON record (which
/// starts with `{` or whitespace): the first byte tells the two encodings apart.
pub const TAG: u8 = 0xA7;

/// The newest binary format this build writes and reads (the byte after [`TAG`]). A record
/// whose candidate evaluates all folds (`folds: None`, every record before fold fidelity) is
/// still written as format 1, so a build that knows only format 1 reads it; one evaluated on a
/// subset of the folds is format 2.
pub const FORMAT: u8 = 2;

/// Format 1: every field of a trial record before fold fidelity.
const FORMAT_V1: u8 = 1;

/// Format 2 of a trial record: format 1 followed by the candidate's `folds` (postcard of a
/// nested struct is its fields in order, so this is format 1's bytes plus one field). Frozen.
#[derive(Serialize, Deserialize)]
struct TrialV2 {
    v1: TrialV1,
    folds: Option<u32>,
}

/// Format 1 of a trial record. Frozen: see the module doc.
#[derive(Serialize, Deserialize)]
struct TrialV1 {
    schema_version: u32,
    study_id: u64,
    trial_id: u64,
    family: String,
    #[serde(with = "tagged_params")]
    params: Params,
    parents: Vec<u64>,
    operator: String,
    fidelity: f64,
    strategy: String,
    /// [`TrialState::code`].
    state: u8,
    fold_scores: Vec<f64>,
    mean: f64,
    std: f64,
    metrics: BTreeMap<String, f64>,
    fit_time_s: f64,
    predict_time_per_row_s: f64,
    model_size_bytes: u64,
    has_artifact: bool,
    error: Option<String>,
    seed: u64,
    started_at_ms: u64,
    ended_at_ms: u64,
    extra: BTreeMap<String, String>,
    ensemble: Option<EnsembleV1>,
}

/// Format 1 of an ensemble decision. Frozen.
#[derive(Serialize, Deserialize)]
struct EnsembleV1 {
    used: bool,
    trial_id: Option<u64>,
    members: Vec<(u64, f64)>,
    cv_score: Option<f64>,
    single_selection_cv: Option<f64>,
    best_single_cv: Option<f64>,
    reason: String,
}

/// Parameters as a map of name -> tagged value (postcard cannot store serde's untagged enum).
mod tagged_params {
    use automl_core::{ParamValue, Params};
    use serde::de::{MapAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    /// Variant order is the stored tag: frozen.
    #[derive(Serialize)]
    enum Ref<'a> {
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(&'a str),
    }

    /// The same variants, owned.
    #[derive(Deserialize)]
    enum Owned {
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
    }

    pub fn serialize<S: Serializer>(p: &Params, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(p.iter().map(|(k, v)| {
            let v = match v {
                ParamValue::Bool(b) => Ref::Bool(*b),
                ParamValue::Int(i) => Ref::Int(*i),
                ParamValue::Float(x) => Ref::Float(*x),
                ParamValue::Str(s) => Ref::Str(s),
            };
            (k, v)
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of parameter values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Params, A::Error> {
                let mut out = Params::new();
                while let Some((k, v)) = m.next_entry::<String, Owned>()? {
                    let v = match v {
                        Owned::Bool(b) => ParamValue::Bool(b),
                        Owned::Int(i) => ParamValue::Int(i),
                        Owned::Float(x) => ParamValue::Float(x),
                        Owned::Str(s) => ParamValue::Str(s),
                    };
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Encode a trial record (its `schema_version` as given) in the current binary format.
pub(crate) fn encode(t: &TrialRecord) -> Result<Vec<u8>, postcard::Error> {
    let TrialRecord {
        schema_version,
        study_id,
        trial_id,
        candidate:
            Candidate {
                family,
                params,
                parents,
                operator,
                fidelity,
                folds,
            },
        strategy,
        state,
        fold_scores,
        mean,
        std,
        metrics,
        fit_time_s,
        predict_time_per_row_s,
        model_size_bytes,
        has_artifact,
        error,
        seed,
        started_at_ms,
        ended_at_ms,
        extra,
        ensemble,
    } = t.clone();
    let ensemble = ensemble.map(|e| {
        let EnsembleDecision {
            used,
            trial_id,
            members,
            cv_score,
            single_selection_cv,
            best_single_cv,
            reason,
        } = e;
        EnsembleV1 {
            used,
            trial_id,
            members,
            cv_score,
            single_selection_cv,
            best_single_cv,
            reason,
        }
    });
    let mirror = TrialV1 {
        schema_version,
        study_id,
        trial_id,
        family,
        params,
        parents,
        operator,
        fidelity,
        strategy,
        state: state.code(),
        fold_scores,
        mean,
        std,
        metrics,
        fit_time_s,
        predict_time_per_row_s,
        model_size_bytes,
        has_artifact,
        error,
        seed,
        started_at_ms,
        ended_at_ms,
        extra,
        ensemble,
    };
    let out = match folds {
        None => {
            let mut out = vec![TAG, FORMAT_V1];
            out.extend_from_slice(&postcard::to_stdvec(&mirror)?);
            out
        }
        Some(_) => {
            let mut out = vec![TAG, 2];
            out.extend_from_slice(&postcard::to_stdvec(&TrialV2 { v1: mirror, folds })?);
            out
        }
    };
    Ok(out)
}

/// Decode a binary trial record (`bytes` starts with [`TAG`]). The caller checks the schema
/// version. Damage gives `Corrupt` (never a panic); a newer format gives `NewerFormat`.
pub(crate) fn decode(bytes: &[u8], what: &str, path: &Path) -> Result<TrialRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: what.to_string(),
        reason,
    };
    fn whole<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
        let (m, rest) = postcard::take_from_bytes::<T>(body)
            .map_err(|e| format!("not a binary trial record: {e}"))?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes after the end of the binary record",
                rest.len()
            ));
        }
        Ok(m)
    }
    let unknown_state = || corrupt("unknown trial state code".to_string());
    match bytes {
        [TAG, FORMAT_V1, body @ ..] => {
            let m: TrialV1 = whole(body).map_err(corrupt)?;
            from_v1(m, None).ok_or_else(unknown_state)
        }
        [TAG, 2, body @ ..] => {
            let m: TrialV2 = whole(body).map_err(corrupt)?;
            from_v1(m.v1, m.folds).ok_or_else(unknown_state)
        }
        [TAG, 0, ..] | [TAG] => Err(corrupt("binary record without a format".to_string())),
        [TAG, found, ..] => Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            what: what.to_string(),
            found: *found,
            supported: FORMAT,
        }),
        _ => Err(corrupt("not a binary record".to_string())),
    }
}

/// The record of a format-1 mirror with the fields format 2 added (`folds`).
fn from_v1(m: TrialV1, folds: Option<u32>) -> Option<TrialRecord> {
    Some(TrialRecord {
        schema_version: m.schema_version,
        study_id: m.study_id,
        trial_id: m.trial_id,
        candidate: Candidate {
            family: m.family,
            params: m.params,
            parents: m.parents,
            operator: m.operator,
            fidelity: m.fidelity,
            folds,
        },
        strategy: m.strategy,
        state: TrialState::from_code(m.state)?,
        fold_scores: m.fold_scores,
        mean: m.mean,
        std: m.std,
        metrics: m.metrics,
        fit_time_s: m.fit_time_s,
        predict_time_per_row_s: m.predict_time_per_row_s,
        model_size_bytes: m.model_size_bytes,
        has_artifact: m.has_artifact,
        error: m.error,
        seed: m.seed,
        started_at_ms: m.started_at_ms,
        ended_at_ms: m.ended_at_ms,
        extra: m.extra,
        ensemble: m.ensemble.map(|e| EnsembleDecision {
            used: e.used,
            trial_id: e.trial_id,
            members: e.members,
            cv_score: e.cv_score,
            single_selection_cv: e.single_selection_cv,
            best_single_cv: e.best_single_cv,
            reason: e.reason,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{completed, sample_candidate};

    fn record() -> TrialRecord {
        let mut t = completed(
            crate::new_trial_record(3, 9, &sample_candidate(2), "evolution", 5),
            0.8,
        );
        t.fold_scores = vec![0.5, f64::NAN, f64::INFINITY, -0.0];
        t.std = f64::NEG_INFINITY;
        t.metrics.insert("log_loss".into(), f64::NAN);
        t.error = Some("é \"x\"\n".into());
        t.ensemble = Some(EnsembleDecision {
            used: true,
            trial_id: None,
            members: vec![(1, f64::NAN)],
            cv_score: Some(f64::INFINITY),
            single_selection_cv: None,
            best_single_cv: Some(0.1),
            reason: "r".into(),
        });
        t
    }

    #[test]
    fn fold_subsets_are_format_2_and_full_cv_records_stay_format_1() {
        let full = record();
        let b1 = encode(&full).unwrap();
        assert_eq!(&b1[..2], &[TAG, FORMAT_V1]);
        // Exactly what a build with format 1 only wrote and reads.
        let m: TrialV1 = postcard::from_bytes(&b1[2..]).unwrap();
        assert_eq!(m.trial_id, full.trial_id);
        let mut partial = record();
        partial.candidate.folds = Some(1);
        let b2 = encode(&partial).unwrap();
        assert_eq!(&b2[..2], &[TAG, 2]);
        assert_eq!(b2.len(), b1.len() + 2, "format 1 plus Some(1)");
        let back = decode(&b2, "t", Path::new("p")).unwrap();
        assert_eq!(back.candidate.folds, Some(1));
        assert_eq!(format!("{back:?}"), format!("{partial:?}"));
        assert_eq!(
            decode(&b1, "t", Path::new("p")).unwrap().candidate.folds,
            None
        );
        // Damage in format 2 is an error too.
        for n in 0..b2.len() {
            assert!(decode(&b2[..n], "t", Path::new("p")).is_err(), "{n}");
        }
    }

    #[test]
    fn roundtrip_keeps_every_float_bit_for_bit() {
        let t = record();
        let bytes = encode(&t).unwrap();
        assert_eq!(&bytes[..2], &[TAG, FORMAT_V1]);
        let back = decode(&bytes, "t", Path::new("p")).unwrap();
        assert_eq!(format!("{back:?}"), format!("{t:?}"));
        assert!(back.fold_scores[3].is_sign_negative());
        let json = serde_json::to_vec(&t).unwrap();
        assert!(
            bytes.len() * 3 < json.len() * 2,
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn damage_is_an_error_and_a_newer_format_is_refused() {
        let bytes = encode(&record()).unwrap();
        let corrupt = |b: &[u8]| {
            matches!(
                decode(b, "t", Path::new("p")),
                Err(StoreError::Corrupt { .. })
            )
        };
        for n in 0..bytes.len() {
            assert!(corrupt(&bytes[..n]), "truncated to {n} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(corrupt(&longer));
        let mut zero = bytes.clone();
        zero[1] = 0;
        assert!(corrupt(&zero));
        let mut newer = bytes.clone();
        newer[1] = FORMAT + 1;
        assert!(matches!(
            decode(&newer, "t", Path::new("p")),
            Err(StoreError::NewerFormat { found, supported: FORMAT, .. }) if found == FORMAT + 1
        ));
        // A state code no build wrote.
        let mut t = record();
        t.ensemble = None;
        let b = encode(&t).unwrap();
        let mut m: TrialV1 = postcard::from_bytes(&b[2..]).unwrap();
        m.state = 9;
        let mut bad = vec![TAG, FORMAT_V1];
        bad.extend(postcard::to_stdvec(&m).unwrap());
        assert!(corrupt(&bad));
    }
}
