//! Unit tests of the builder and the policy functions.
use super::*;
use automl_store::{MemoryStore, StoreRead};
use std::path::Path;

fn flowers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/flowers.csv")
}

fn setting_of(r: Result<(), EngineError>) -> Setting {
    match r {
        Err(EngineError::InvalidSetting { setting, .. }) => setting,
        other => panic!("expected an invalid setting, got {other:?}"),
    }
}

#[test]
fn the_default_budget_is_60_s_unless_a_trial_budget_is_given() {
    let b = StudyBuilder::from_csv("x.csv");
    assert_eq!(
        b.effective_budget(),
        Budget {
            time_s: Some(DEFAULT_TIME_BUDGET_S),
            max_trials: None
        }
    );
    let b = StudyBuilder::from_csv("x.csv").max_trials(8);
    assert_eq!(b.effective_budget().time_s, None);
    assert_eq!(b.effective_budget().max_trials, Some(8));
    let b = StudyBuilder::from_csv("x.csv")
        .max_trials(8)
        .time_budget(5.0);
    assert_eq!(b.effective_budget().time_s, Some(5.0));
    let b = StudyBuilder::from_csv("x.csv").budget(Budget::default());
    assert_eq!(b.effective_budget().time_s, Some(DEFAULT_TIME_BUDGET_S));
    assert_eq!(StudyBuilder::from_csv("x.csv").jobs(3).effective_jobs(), 3);
    assert!(StudyBuilder::from_csv("x.csv").effective_jobs() >= 1);
}

#[test]
fn invalid_settings_are_typed_errors_that_name_no_flag() {
    let b = || StudyBuilder::from_csv("never-read.csv");
    assert_eq!(
        setting_of(b().time_budget(-3.0).check()),
        Setting::TimeBudget
    );
    assert_eq!(
        setting_of(b().time_budget(f64::NAN).check()),
        Setting::TimeBudget
    );
    assert_eq!(setting_of(b().max_trials(0).check()), Setting::MaxTrials);
    assert_eq!(setting_of(b().jobs(0).check()), Setting::Jobs);
    assert_eq!(setting_of(b().parallelism(0).check()), Setting::Parallelism);
    assert!(b().parallelism(1).check().is_ok());
    assert_eq!(setting_of(b().folds(1).check()), Setting::Folds);
    assert_eq!(
        setting_of(b().trial_time_limit(0.0).check()),
        Setting::TrialTimeLimit
    );
    assert_eq!(
        setting_of(b().memory_limit(0).check()),
        Setting::MemoryLimit
    );
    let e = parse_memory_limit("3Q").unwrap_err();
    assert!(matches!(
        e,
        EngineError::InvalidSetting {
            setting: Setting::MemoryLimit,
            ..
        }
    ));
    assert_eq!(parse_memory_limit("1K").unwrap(), 1024);
    let e = b().strategy("magic").check().unwrap_err();
    assert!(matches!(&e, EngineError::UnknownStrategy { name } if name == "magic"));
    let e = b().metric_name("wellness").err().unwrap();
    assert!(matches!(&e, EngineError::UnknownMetric { name } if name == "wellness"));
    let e = load_space("nowhere.toml").unwrap_err();
    assert!(matches!(&e, EngineError::UnknownSpace { spec } if spec == "nowhere.toml"));
    let e = validate_budget(&Budget {
        time_s: Some(0.0),
        max_trials: None,
    })
    .unwrap_err();
    for msg in [e.to_string(), b().jobs(0).check().unwrap_err().to_string()] {
        assert!(!msg.contains("--"), "a library message names a flag: {msg}");
    }
    // Valid settings pass without reading the (missing) file.
    assert!(b().max_trials(1).jobs(1).folds(2).check().is_ok());
}

#[test]
fn the_metric_must_apply_to_the_task_of_the_data() {
    let mut b = StudyBuilder::from_csv(flowers()).metric(Metric::Rmse);
    match b.load() {
        Err(EngineError::MetricNotForTask {
            metric,
            task,
            allowed,
        }) => {
            assert_eq!(metric, Metric::Rmse);
            assert_eq!(task, Task::Multiclass);
            assert_eq!(allowed, Metric::for_task(Task::Multiclass));
        }
        other => panic!("expected MetricNotForTask, got {:?}", other.map(|d| d.task)),
    }
    assert_eq!(
        resolve_metric(None, Task::Regression).unwrap(),
        Metric::default_for(Task::Regression)
    );
    assert_eq!(
        resolve_metric(Some(Metric::Mae), Task::Regression).unwrap(),
        Metric::Mae
    );
}

/// The strategy options for data with `train_rows` training rows per fold under 5-fold CV.
fn options_for_train_rows(b: &StudyBuilder, train_rows: usize) -> StrategyOptions {
    let cv = CvConfig::default();
    // 5 folds train on n - n/5 rows: the smallest n with train_rows of them.
    let n = (train_rows..)
        .find(|&n| cv.train_rows(n) == train_rows)
        .unwrap();
    b.strategy_options(Task::Binary, n, &cv).unwrap()
}

#[test]
fn multi_fidelity_turns_on_at_the_row_threshold_and_only_for_auto_mode() {
    let below = MULTI_FIDELITY_MIN_TRAIN_ROWS - 1;
    assert!(!MultiFidelity::Auto.enabled(below));
    assert!(MultiFidelity::Auto.enabled(MULTI_FIDELITY_MIN_TRAIN_ROWS));
    assert!(MultiFidelity::On.enabled(10));
    assert!(!MultiFidelity::Off.enabled(1_000_000));
    let b = StudyBuilder::from_csv("x.csv");
    let small = options_for_train_rows(&b, below);
    assert!(!small.multi_fidelity);
    let large = options_for_train_rows(&b, 9000);
    assert!(large.multi_fidelity);
    assert_eq!(large.fold_fidelity, None, "rows are halved, not folds");
    // The lowest rung has MIN_RUNG_ROWS rows, never less than 1/9 of a fold.
    assert!((large.min_fidelity - 1.0 / 9.0).abs() < 1e-12);
    let mid = options_for_train_rows(&b, 4000);
    assert!((mid.min_fidelity - 0.25).abs() < 1e-12);
    let off = options_for_train_rows(
        &StudyBuilder::from_csv("x.csv").multi_fidelity(MultiFidelity::Off),
        9000,
    );
    assert!(!off.multi_fidelity);
}

#[test]
fn fold_fidelity_is_on_for_k_fold_data_too_small_to_halve_rows() {
    let cv = CvConfig::default();
    let b = StudyBuilder::from_csv("x.csv");
    let opts = |b: &StudyBuilder, n: usize, cv: &CvConfig| {
        b.strategy_options(Task::Binary, n, cv).unwrap()
    };
    // From FOLD_FIDELITY_MIN_ROWS rows up to where row halving takes over.
    assert_eq!(
        opts(&b, FOLD_FIDELITY_MIN_ROWS - 1, &cv).fold_fidelity,
        None
    );
    let small = opts(&b, FOLD_FIDELITY_MIN_ROWS, &cv);
    assert_eq!(small.fold_fidelity, Some(5));
    assert!(!small.multi_fidelity);
    assert_eq!(opts(&b, 2000, &cv).fold_fidelity, Some(5));
    assert_eq!(opts(&b, 3748, &cv).fold_fidelity, Some(5));
    assert_eq!(opts(&b, 3750, &cv).fold_fidelity, None, "row halving");
    // The study's fold count; none with 2 folds, a holdout, or multi-fidelity off or on.
    let ten = CvConfig {
        folds: 10,
        ..CvConfig::default()
    };
    assert_eq!(opts(&b, 2000, &ten).fold_fidelity, Some(10));
    let two = CvConfig {
        folds: 2,
        ..CvConfig::default()
    };
    assert_eq!(opts(&b, 2000, &two).fold_fidelity, None);
    let holdout = CvConfig {
        holdout_above_rows: 1500,
        ..CvConfig::default()
    };
    assert_eq!(opts(&b, 2000, &holdout).fold_fidelity, None);
    for mode in [MultiFidelity::Off, MultiFidelity::On] {
        let m = StudyBuilder::from_csv("x.csv").multi_fidelity(mode);
        assert_eq!(opts(&m, 2000, &cv).fold_fidelity, None, "{mode:?}");
    }
}

#[test]
fn the_shipped_portfolio_is_given_to_auto_only() {
    let cv = CvConfig::default();
    let auto = StudyBuilder::from_csv("x.csv")
        .strategy_options(Task::Binary, 100, &cv)
        .unwrap();
    assert!(!auto.portfolio.is_empty(), "auto starts from the portfolio");
    assert!(auto.portfolio.iter().all(|c| c.operator == "portfolio"));
    assert_eq!(
        auto.lead.as_deref(),
        Some(LEAD_FAMILY),
        "auto leads with the GBDT default"
    );
    for name in ["bayes", "evolution", "random"] {
        let o = StudyBuilder::from_csv("x.csv")
            .strategy(name)
            .strategy_options(Task::Binary, 100, &cv)
            .unwrap();
        assert!(o.portfolio.is_empty(), "{name} got the portfolio");
        assert_eq!(o.lead, None, "{name} got a lead default");
    }
}

#[test]
fn keep_models_defaults_to_the_best_20_and_reads_all() {
    assert_eq!(KeepModels::default().limit(), Some(DEFAULT_KEEP_MODELS));
    assert_eq!(KeepModels::All.limit(), None);
    assert_eq!("all".parse::<KeepModels>().unwrap(), KeepModels::All);
    assert_eq!("7".parse::<KeepModels>().unwrap(), KeepModels::Best(7));
    assert!("seven".parse::<KeepModels>().is_err());
    for k in [KeepModels::All, KeepModels::Best(3)] {
        assert_eq!(k.to_string().parse::<KeepModels>().unwrap(), k);
    }
}

#[test]
fn create_applies_the_defaults_and_resume_finds_the_latest_study() {
    let store = MemoryStore::new();
    let empty = StudyBuilder::from_csv(flowers())
        .max_trials(1)
        .space_named("fast")
        .unwrap()
        .resume(&store, None);
    assert!(matches!(empty.err(), Some(EngineError::NoStudy)));
    let study = StudyBuilder::from_csv(flowers())
        .max_trials(2)
        .seed(7)
        .space_named("fast")
        .unwrap()
        .create(&store)
        .unwrap();
    assert_eq!(study.metric(), Metric::default_for(Task::Multiclass));
    let id = study.id();
    drop(study);
    let rec = store.study(id).unwrap().unwrap();
    assert_eq!(rec.name, "flowers");
    assert_eq!(rec.keep_models, Some(DEFAULT_KEEP_MODELS));
    assert_eq!(rec.budget.max_trials, Some(2));
    assert_eq!(rec.budget.time_s, None);
    assert_eq!(rec.seed, 7);
    let resumed = StudyBuilder::from_csv(flowers())
        .max_trials(2)
        .space_named("fast")
        .unwrap()
        .resume(&store, None)
        .unwrap();
    assert_eq!(resumed.id(), id);
    let missing = StudyBuilder::from_csv(flowers())
        .space_named("fast")
        .unwrap()
        .resume(&store, Some(99));
    assert!(matches!(
        missing.err(),
        Some(EngineError::StudyNotFound { study_id: 99 })
    ));
}

#[test]
fn warm_start_sources_are_checked() {
    let store = MemoryStore::new();
    let e = warm_start_from(&store, "3", Task::Binary).unwrap_err();
    assert!(matches!(e, EngineError::StudyNotFound { study_id: 3 }));
    let e = warm_start_from(&store, "no/such/store", Task::Binary).unwrap_err();
    assert!(matches!(e, EngineError::WarmStartSource { .. }));
    let study = StudyBuilder::from_csv(flowers())
        .max_trials(2)
        .space_named("fast")
        .unwrap()
        .create(&store)
        .unwrap();
    let id = study.id();
    let e = warm_start_from(&store, &id.to_string(), Task::Binary).unwrap_err();
    assert!(matches!(
        e,
        EngineError::WarmStartTask {
            study_task: Task::Multiclass,
            task: Task::Binary,
            ..
        }
    ));
    // The study has no trials yet: nothing to warm-start from, and no error.
    let c = warm_start_from(&store, &id.to_string(), Task::Multiclass).unwrap();
    assert!(c.is_empty());
}

#[test]
fn a_study_name_says_more_than_train() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("titanic");
    std::fs::create_dir_all(&sub).unwrap();
    for f in ["train.csv", "iris.csv"] {
        std::fs::write(sub.join(f), "a,y\n1,2\n").unwrap();
    }
    assert_eq!(default_study_name(&sub.join("train.csv")), "titanic/train");
    assert_eq!(default_study_name(&sub.join("iris.csv")), "iris");
}

#[test]
fn a_sled_store_opens_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("db")).unwrap();
    assert!(store.latest_study().unwrap().is_none());
}

#[test]
fn parallelism_is_stored_at_create_and_a_resumed_study_keeps_its_own() {
    let store = MemoryStore::new();
    let study = StudyBuilder::from_csv(flowers())
        .max_trials(2)
        .parallelism(4)
        .create(&store)
        .unwrap();
    let id = study.id();
    drop(study);
    assert_eq!(store.study(id).unwrap().unwrap().parallelism, Some(4));
    let resumed = StudyBuilder::from_csv(flowers())
        .max_trials(2)
        .parallelism(9)
        .resume(&store, Some(id))
        .unwrap();
    drop(resumed);
    assert_eq!(store.study(id).unwrap().unwrap().parallelism, Some(4));
    // A study stored before parallelism was a setting has the old window, 6.
    let mut old = store.study(id).unwrap().unwrap();
    old.parallelism = None;
    store.update_study(&old).unwrap();
    drop(
        StudyBuilder::from_csv(flowers())
            .max_trials(2)
            .resume(&store, Some(id))
            .unwrap(),
    );
    assert_eq!(
        store.study(id).unwrap().unwrap().parallelism,
        Some(crate::study::DEFAULT_PARALLELISM as u32)
    );
    let default = StudyBuilder::from_csv(flowers())
        .max_trials(2)
        .create(&store)
        .unwrap();
    assert_eq!(
        store.study(default.id()).unwrap().unwrap().parallelism,
        Some(6)
    );
}
