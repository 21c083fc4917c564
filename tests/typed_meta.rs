//! `show` and `report` read the typed study metadata (validation, rows, final model, ensemble
//! decision), and `show` gives an ensemble trial's decision, used or not (issue 17).

use crate::util::*;
use automl_core::{
    Candidate, ENSEMBLE_FAMILY, EnsembleDecision, FinalModel, FinalModelKind, Params, TrialState,
    Validation,
};
use automl_store::{SledStore, Store, StoreRead};

const REASON: &str = "not used: its cross-validated selection scores 0.9500, picking one trial \
                      the same way 0.9600";

#[test]
fn show_and_report_read_the_typed_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = example("flowers.csv");
    run_in(
        dir,
        &[
            "fit",
            data.to_str().unwrap(),
            "--store",
            "db",
            "--max-trials",
            "3",
            "--space",
            "fast",
            "--seed",
            "2",
        ],
    )
    .ok();
    // Add what ensemble selection decides to the study, as the engine records it.
    let eid = {
        let store = SledStore::open(&dir.join("db")).unwrap();
        let mut s = store.latest_study().unwrap().unwrap();
        let mut cand = Candidate::new(ENSEMBLE_FAMILY, Params::new(), "ensemble_selection");
        cand.parents = vec![1, 2];
        let mut rec = store
            .start_trial(s.study_id, &cand, ENSEMBLE_FAMILY, 0)
            .unwrap();
        rec.state = TrialState::Complete;
        rec.fold_scores = vec![0.95; 5];
        rec.mean = 0.95;
        rec.std = 0.0;
        rec.ended_at_ms = rec.started_at_ms + 1;
        let decision = EnsembleDecision {
            used: false,
            trial_id: Some(rec.trial_id),
            members: vec![(1, 0.75), (2, 0.25)],
            cv_score: Some(0.95),
            single_selection_cv: Some(0.96),
            best_single_cv: Some(0.97),
            reason: REASON.into(),
        };
        rec.ensemble = Some(decision.clone());
        store.finish_trial(&rec, None).unwrap();
        s.validation = Some(Validation::KFold {
            folds: 5,
            stratified: true,
            repeats: 1,
        });
        s.n_rows = Some(150);
        s.ensemble = Some(decision);
        s.final_model = Some(FinalModel {
            trial_id: s.final_trial.unwrap(),
            kind: FinalModelKind::FoldModels,
            rows: 150,
            members: 0,
            members_refit: 0,
            more_seeds: 0,
            note: Some("no time left to refit".into()),
        });
        s.extra.clear();
        store.update_study(&s).unwrap();
        store.flush().unwrap();
        rec.trial_id
    };
    let eid = eid.to_string();
    let show = run_in(dir, &["show", &eid, "--store", "db"]).ok().stdout();
    for needle in [
        "ensemble    not used",
        &format!("reason      {REASON}"),
        "selection   0.9500",
        "single pick 0.9600",
        "best single 0.9700",
        "members     trial 1 × 0.750, trial 2 × 0.250",
    ] {
        assert!(show.contains(needle), "show lacks `{needle}`:\n{show}");
    }
    let json = run_in(dir, &["show", &eid, "--store", "db", "--json"])
        .ok()
        .stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ensemble"]["used"], false, "{json}");
    assert_eq!(v["ensemble"]["reason"], REASON);

    run_in(dir, &["report", "--store", "db", "--output", "r.md"]).ok();
    let md = std::fs::read_to_string(dir.join("r.md")).unwrap();
    for needle in [
        "150 rows",
        "validation: 5-fold stratified CV",
        "fold models (no time left to refit)",
        &format!("- ensemble: not used (trial {eid}): {REASON}"),
        "members trial 1 × 0.750, trial 2 × 0.250",
    ] {
        assert!(md.contains(needle), "report lacks `{needle}`:\n{md}");
    }
}
