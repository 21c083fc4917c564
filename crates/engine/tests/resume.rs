//! A resumed study scores its new trials on the split its stored trials were scored on: the
//! stored holdout share (also one stored before this build capped the holdout) and the stored
//! number of folds, locally and on remote workers, so old and new trials share one leaderboard.

mod common;

use automl_core::Validation;
use automl_data::Split;
use automl_engine::study::{Executor, MakeExecutor, ThreadExecutor};
use automl_engine::wire::{TrainingDataSpec, training_data_key};
use automl_engine::{RemoteConfig, Study, StudyConfig};
use automl_store::{MemoryStore, SledStore, Store, StoreRead};
use automl_trainer::{CvConfig, TrainingData};
use common::{config, create, resume, searched};
use std::sync::{Arc, Mutex};

/// A holdout on churn's 600 rows (holdout above 100 rows) whose validation share is capped at
/// `max_rows` rows.
fn holdout_cv(max_rows: usize) -> CvConfig {
    CvConfig {
        holdout_above_rows: 100,
        holdout_max_rows: max_rows,
        ..CvConfig::default()
    }
}

fn with_cv(max_trials: u64, cv: CvConfig) -> StudyConfig {
    StudyConfig {
        cv,
        ..config(max_trials, 2, None)
    }
}

/// Run `study` on threads of this process; the splits its trials were scored on.
fn run_capturing_splits(study: Study<'_>) -> Vec<Split> {
    let seen: Arc<Mutex<Vec<Split>>> = Arc::default();
    let keep = seen.clone();
    let make: MakeExecutor<'_> = Box::new(move |data: Arc<TrainingData>, jobs| {
        *keep.lock().unwrap() = data.folds.iter().map(|f| f.split.clone()).collect();
        Box::new(ThreadExecutor::new(data, jobs)) as Box<dyn Executor>
    });
    let summary = study.run_with(make, &mut |_| {}).unwrap();
    assert!(summary.best.is_some(), "a final model was made");
    let splits = seen.lock().unwrap().clone();
    assert!(!splits.is_empty(), "the executor was made");
    splits
}

/// The splits remote workers build from study `id`'s training data blob.
fn blob_splits(store: &dyn StoreRead, id: u64) -> Vec<Split> {
    let record = store.study(id).unwrap().unwrap();
    let bytes = store
        .blob(id, &training_data_key(&record.fingerprint))
        .unwrap()
        .unwrap();
    let data = TrainingDataSpec::decode(&bytes).unwrap().build().unwrap();
    data.folds.iter().map(|f| f.split.clone()).collect()
}

/// A study stored before the holdout cap (20 % held out, uncapped) and resumed by a build that
/// caps the holdout (here at 60 of the 600 rows, 10 %) keeps its 20 %: before the fix the new
/// trials were scored on 60 validation rows, the stored ones on 120.
#[test]
fn a_resumed_study_keeps_the_holdout_share_its_trials_were_scored_on() {
    let store = MemoryStore::new();
    let study = create(&store, "random", with_cv(2, holdout_cv(usize::MAX)));
    let id = study.id();
    let first = run_capturing_splits(study);
    assert_eq!(first.len(), 1, "one holdout split");
    assert_eq!(first[0].valid.len(), 120, "20 % of 600 rows");
    let stored = Validation::Holdout { fraction: 0.2 };
    assert_eq!(
        store.study(id).unwrap().unwrap().validation,
        Some(stored.clone())
    );
    // What this build would choose for a new study: the capped 10 %.
    assert_eq!(holdout_cv(60).holdout_fraction_for(600), 0.1);

    let resumed = resume(&store, id, "random", with_cv(4, holdout_cv(60))).unwrap();
    let second = run_capturing_splits(resumed);
    assert_eq!(second[0].valid.len(), 120, "the resumed trials' holdout");
    assert_eq!(second, first, "the resumed trials' split is the stored one");
    // On remote workers too: the training data blob carries the uncapped share.
    let mut cfg = with_cv(6, holdout_cv(60));
    cfg.remote = Some(RemoteConfig {
        local_lanes: 1,
        ..RemoteConfig::default()
    });
    let remote = resume(&store, id, "random", cfg).unwrap();
    remote.run(&mut |_| {}).unwrap();
    assert_eq!(blob_splits(&store, id), first, "the workers' split");
    let record = store.study(id).unwrap().unwrap();
    assert_eq!(record.validation, Some(stored), "the record is unchanged");
    let trials = searched(&store.trials(id).unwrap());
    assert_eq!(trials.len(), 6, "every session ran its trials");
    assert!(trials.iter().all(|t| t.fold_scores.len() == 1));
}

/// A resumed k-fold study keeps its stored number of folds, whatever `--folds` the resume gives.
#[test]
fn a_resumed_study_keeps_its_folds() {
    let store = MemoryStore::new();
    let study = create(&store, "random", with_cv(2, CvConfig::default()));
    let id = study.id();
    let first = run_capturing_splits(study);
    assert_eq!(first.len(), 5);
    let three = CvConfig {
        folds: 3,
        ..CvConfig::default()
    };
    let resumed = resume(&store, id, "random", with_cv(4, three)).unwrap();
    let second = run_capturing_splits(resumed);
    assert_eq!(second.len(), 5, "the resumed trials' folds");
    assert_eq!(second, first);
    let trials = searched(&store.trials(id).unwrap());
    assert_eq!(trials.len(), 4);
    assert!(
        trials.iter().all(|t| t.fold_scores.len() == 5),
        "{:?}",
        trials
            .iter()
            .map(|t| t.fold_scores.len())
            .collect::<Vec<_>>()
    );
}

/// A study made by this build (capped holdout: 70 of 600 rows, a share that is no short
/// decimal) and resumed with the same settings from a real on-disk store scores its new trials
/// on the same split: the stored share read back is taken for what this build computes.
#[test]
fn a_study_resumed_with_its_own_settings_keeps_its_split() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let sled = SledStore::open(dir.path()).unwrap();
        let study = create(&sled, "random", with_cv(2, holdout_cv(70)));
        assert_eq!(study.id(), 1);
        run_capturing_splits(study)
    };
    assert_eq!(first[0].valid.len(), 70);
    let sled = SledStore::open(dir.path()).unwrap();
    let store: &dyn Store = &sled;
    let resumed = resume(store, 1, "random", with_cv(4, holdout_cv(70))).unwrap();
    assert_eq!(run_capturing_splits(resumed), first);
    assert_eq!(searched(&sled.trials(1).unwrap()).len(), 4);
}
