//! The seed-variance step: zero for a deterministic model, positive for a random forest,
//! reproducible, off with `top` 0, and `Select::Stable` following its rule.

mod common;

use automl_core::{Metric, TrialRecord, is_meta_family};
use automl_engine::{
    MemoryStore, SeedVarianceConfig, Select, StoreRead, Study, StudyConfig, seed_variance_of,
};
use automl_space::SearchSpace;
use common::{SEED, churn, config};

/// Logistic regression (a fixed solver: no randomness) and a small random forest.
const SPACE: &str = r#"
version = 1
name = "seeds"
[families.logistic]
tasks = ["binary", "multiclass"]
[families.logistic.params]
alpha = { type = "float", low = 1e-4, high = 1.0, log = true, default = 1e-3 }
max_iterations = { type = "fixed", value = 100 }
[families.random_forest]
[families.random_forest.params]
n_trees = { type = "fixed", value = 10 }
max_features = { type = "fixed", value = 0.3 }
min_samples_leaf = { type = "fixed", value = 2 }
criterion = { type = "fixed", value = "gini", tasks = ["binary", "multiclass"] }
"#;

fn run(
    sv: SeedVarianceConfig,
    ensemble: bool,
    jobs: usize,
) -> (Vec<TrialRecord>, automl_engine::StudySummary) {
    let store = MemoryStore::new();
    let cfg = StudyConfig {
        seed_variance: sv,
        ensemble,
        jobs,
        ..config(4, 2, None)
    };
    let space = SearchSpace::from_toml_str(SPACE, "test").unwrap();
    let strategy = automl_search::by_name("random", SEED).unwrap();
    let study = Study::create(&store, churn(), space, strategy, cfg).unwrap();
    let summary = study.run(&mut |_| {}).unwrap();
    let trials = store
        .trials(summary.study.study_id)
        .unwrap()
        .into_iter()
        .filter(|t| !is_meta_family(&t.candidate.family))
        .collect();
    (trials, summary)
}

#[test]
fn zero_for_a_deterministic_model_positive_for_a_forest_and_reproducible() {
    let (trials, summary) = run(SeedVarianceConfig::default(), true, 2);
    assert!(summary.seed_variance_s.is_some());
    let measured: Vec<_> = trials
        .iter()
        .filter_map(|t| seed_variance_of(t).map(|s| (t, s)))
        .collect();
    assert_eq!(
        measured.len(),
        trials.iter().filter(|t| t.is_scored()).count()
    );
    let logistic = measured
        .iter()
        .find(|(t, _)| t.candidate.family == "logistic")
        .expect("a logistic trial measured");
    assert_eq!(logistic.1.seed_std, 0.0, "{:?}", logistic.1);
    assert_eq!(logistic.1.churn, 0.0);
    assert_eq!(logistic.1.seed_scores.len(), 4, "own seed + 3 others");
    assert!(logistic.1.split_std.is_some(), "reshuffled folds measured");
    let forest = measured
        .iter()
        .find(|(t, _)| t.candidate.family == "random_forest")
        .expect("a forest trial measured");
    assert!(forest.1.seed_std > 0.0, "{:?}", forest.1);
    assert!(forest.1.churn > 0.0, "{:?}", forest.1);
    assert!(measured.iter().any(|(_, s)| s.tied), "the leader is tied");

    // Another run with one lane: the same measurement.
    let (again, _) = run(SeedVarianceConfig::default(), true, 1);
    let a: Vec<_> = trials.iter().map(seed_variance_of).collect();
    let b: Vec<_> = again.iter().map(seed_variance_of).collect();
    assert_eq!(a, b, "the same seed measures the same");
}

#[test]
fn off_with_top_zero() {
    let (trials, summary) = run(
        SeedVarianceConfig {
            top: 0,
            ..SeedVarianceConfig::default()
        },
        true,
        2,
    );
    assert!(summary.seed_variance_s.is_none());
    assert!(trials.iter().all(|t| seed_variance_of(t).is_none()));
}

#[test]
fn select_stable_follows_its_rule() {
    let (trials, summary) = run(
        SeedVarianceConfig {
            select: Select::Stable,
            ..SeedVarianceConfig::default()
        },
        false,
        2,
    );
    let metric = Metric::RocAuc;
    let mut tied: Vec<_> = trials
        .iter()
        .filter_map(|t| seed_variance_of(t).filter(|s| s.tied).map(|s| (t, s)))
        .collect();
    tied.sort_by(|(a, x), (b, y)| {
        (x.seed_std + x.churn)
            .total_cmp(&(y.seed_std + y.churn))
            .then(metric.as_loss(a.mean).total_cmp(&metric.as_loss(b.mean)))
            .then(a.trial_id.cmp(&b.trial_id))
    });
    let want = tied.first().expect("a tied trial").0.trial_id;
    assert_eq!(
        summary.study.final_trial,
        Some(want),
        "{:?}",
        summary.selection
    );
    let best = trials
        .iter()
        .filter(|t| t.is_scored())
        .min_by(|a, b| {
            metric
                .as_loss(a.mean)
                .total_cmp(&metric.as_loss(b.mean))
                .then(a.trial_id.cmp(&b.trial_id))
        })
        .unwrap();
    assert!(
        summary.selection.is_some(),
        "stable says what it chose (best {})",
        best.trial_id
    );
}

/// A measured trial's record gains its measurement and keeps its models as they were stored:
/// the same bytes as in a study without the step (the measurement's own fits are never
/// stored), and as many as the record says.
#[test]
fn measured_trials_keep_their_models_as_stored() {
    let artifacts = |sv: SeedVarianceConfig| {
        let store = MemoryStore::new();
        let cfg = StudyConfig {
            seed_variance: sv,
            ensemble: false,
            jobs: 2,
            ..config(4, 2, None)
        };
        let space = SearchSpace::from_toml_str(SPACE, "test").unwrap();
        let strategy = automl_search::by_name("random", SEED).unwrap();
        let study = Study::create(&store, churn(), space, strategy, cfg).unwrap();
        let id = study.run(&mut |_| {}).unwrap().study.study_id;
        store
            .trials(id)
            .unwrap()
            .into_iter()
            .filter(|t| !is_meta_family(&t.candidate.family))
            .map(|t| {
                let art = store.artifact(id, t.trial_id).unwrap();
                (t, art)
            })
            .collect::<Vec<_>>()
    };
    let with = artifacts(SeedVarianceConfig::default());
    let without = artifacts(SeedVarianceConfig {
        top: 0,
        ..SeedVarianceConfig::default()
    });
    assert_eq!(with.len(), without.len());
    let mut measured_with_models = 0;
    for ((t, art), (t0, art0)) in with.iter().zip(&without) {
        assert_eq!(t.trial_id, t0.trial_id);
        assert!(seed_variance_of(t0).is_none());
        if seed_variance_of(t).is_some() && t.has_artifact {
            measured_with_models += 1;
        }
        assert_eq!(t.has_artifact, art.is_some(), "trial {}", t.trial_id);
        if let Some(a) = art {
            assert_eq!(a.len() as u64, t.model_size_bytes, "trial {}", t.trial_id);
        }
        assert_eq!(art, art0, "trial {}: its models", t.trial_id);
    }
    assert!(
        measured_with_models > 0,
        "no measured trial kept its models"
    );
}
