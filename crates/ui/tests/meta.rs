//! The dashboard reads typed study metadata (validation, rows, final model, ensemble decision)
//! and older stores' text in `extra` alike, and shows an ensemble trial's decision.

mod common;

use automl_core::{
    Candidate, ENSEMBLE_FAMILY, EnsembleDecision, FinalModel, FinalModelKind, ParamValue, Params,
    TrialState, Validation,
};
use automl_store::{SledStore, Store, StoreRead};
use automl_ui::api::Api;
use common::fixture::write_fixture;
use serde_json::Value;
use std::path::Path;

const REASON: &str = "not used: its cross-validated selection scores 0.9500, picking one trial \
                      the same way 0.9600";

fn get(api: &Api, path: &str) -> Value {
    let r = api.handle("GET", path, b"");
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

/// The fixture study plus an ensemble trial that was selected but not used, with the study's
/// metadata either typed or (`legacy`) as the text older stores kept in `extra`. Returns the
/// study id and the ensemble trial's id.
fn write_study(dir: &Path, legacy: bool) -> (u64, u64) {
    let id = write_fixture(dir, true);
    let store = SledStore::open(dir).unwrap();
    let mut params = Params::new();
    params.insert("members".into(), ParamValue::Str("4:0.600 2:0.400".into()));
    let mut cand = Candidate::new(ENSEMBLE_FAMILY, params, "ensemble_selection");
    cand.parents = vec![4, 2];
    let mut rec = store.start_trial(id, &cand, ENSEMBLE_FAMILY, 0).unwrap();
    rec.state = TrialState::Complete;
    rec.fold_scores = vec![0.95, 0.95, 0.95];
    rec.mean = 0.95;
    rec.std = 0.0;
    rec.ended_at_ms = rec.started_at_ms + 10;
    let decision = EnsembleDecision {
        used: false,
        trial_id: Some(rec.trial_id),
        members: vec![(4, 0.6), (2, 0.4)],
        cv_score: Some(0.95),
        single_selection_cv: Some(0.96),
        best_single_cv: Some(0.97),
        reason: REASON.into(),
    };
    if legacy {
        rec.extra
            .insert("single_selection_cv".into(), "0.96".into());
        rec.extra.insert("best_single_cv".into(), "0.97".into());
    } else {
        rec.ensemble = Some(decision.clone());
    }
    store.finish_trial(&rec, None).unwrap();
    let mut s = store.study(id).unwrap().unwrap();
    s.final_trial = Some(4);
    if legacy {
        for (k, v) in [
            ("validation", "3-fold stratified CV"),
            ("rows", "150"),
            ("final_model", "trial 4 refit on all 150 rows"),
            ("ensemble", REASON),
            ("report", "150 rows, 4 features"),
        ] {
            s.extra.insert(k.into(), v.into());
        }
    } else {
        s.validation = Some(Validation::KFold {
            folds: 3,
            stratified: true,
            repeats: 1,
        });
        s.n_rows = Some(150);
        s.final_model = Some(FinalModel {
            trial_id: 4,
            kind: FinalModelKind::Refit,
            rows: 150,
            members: 0,
            members_refit: 0,
            more_seeds: 0,
            note: None,
        });
        s.ensemble = Some(decision);
        s.data_report = Some("150 rows, 4 features".into());
    }
    store.update_study(&s).unwrap();
    store.flush().unwrap();
    (id, rec.trial_id)
}

#[test]
fn study_texts_read_typed_and_older_stores_alike() {
    for legacy in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let (id, _) = write_study(&store, legacy);
        let api = Api::new(store);
        let s = get(&api, &format!("/api/studies/{id}"));
        assert_eq!(
            s["validation_text"], "3-fold stratified CV",
            "legacy={legacy}"
        );
        assert_eq!(s["rows"], 150, "legacy={legacy}");
        assert_eq!(
            s["final_model_text"], "trial 4 refit on all 150 rows",
            "legacy={legacy}"
        );
        assert_eq!(s["ensemble_text"], REASON, "legacy={legacy}");
        assert_eq!(s["report_text"], "150 rows, 4 features", "legacy={legacy}");
        assert_eq!(
            s["validation"].is_null(),
            legacy,
            "typed field only when typed"
        );
    }
}

#[test]
fn an_unused_ensemble_trial_carries_its_typed_decision() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (id, eid) = write_study(&store, false);
    let api = Api::new(store);
    let t = get(&api, &format!("/api/studies/{id}/trials/{eid}"));
    assert_eq!(t["candidate"]["family"], ENSEMBLE_FAMILY);
    let d = &t["ensemble"];
    assert_eq!(d["used"], false, "{t}");
    assert_eq!(d["reason"], REASON);
    assert_eq!(d["cv_score"], 0.95);
    assert_eq!(d["single_selection_cv"], 0.96);
    assert_eq!(d["members"], serde_json::json!([[4, 0.6], [2, 0.4]]));
    // The page renders the decision and the study's metadata lines.
    let page = String::from_utf8(api.handle("GET", "/", b"").body).unwrap();
    for needle in [
        "Ensemble decision",
        "t.ensemble",
        "final_model_text",
        "ensemble_text",
        "validation_text",
    ] {
        assert!(page.contains(needle), "the page does not use {needle}");
    }
}
