//! Embedding the automl engine as a library, with a custom search space and a custom strategy.
//!
//! Run: `cargo run --release --example embed`
//!
//! The space is given as TOML text (a space is data); the strategy is a tiny hand-written
//! "coordinate sweep" that implements the same ask/tell `Strategy` trait as the shipped ones;
//! the store is an in-memory store (use `SledStore::open(dir)` to keep the trials).

use automl_core::params::ParamsExt;
use automl_core::{Budget, Candidate, ParamValue, Params, TrialRecord};
use automl_data::{ReadOptions, load_training};
use automl_engine::{Study, StudyConfig, leaderboard};
use automl_search::{AskContext, Strategy};
use automl_space::SearchSpace;
use automl_store::{MemoryStore, StoreRead};
use std::path::Path;

const SPACE: &str = r#"
version = 1
name = "embed-example"
description = "kNN and a small GBDT"

[families.knn.params]
k = { type = "int", low = 1, high = 40, log = true, default = 5 }
weights = { type = "categorical", choices = ["uniform", "distance"], default = "distance" }

[families.gbdt.params]
learning_rate = { type = "float", low = 0.03, high = 0.3, log = true, default = 0.1 }
max_leaves = { type = "int", low = 4, high = 32, log = true, default = 8 }
max_rounds = { type = "fixed", value = 100 }
"#;

/// Tries the defaults of every family, then sweeps kNN's `k` over a fixed list.
struct SweepK {
    next: usize,
}

impl Strategy for SweepK {
    fn name(&self) -> &'static str {
        "sweep-k"
    }
    fn ask(&mut self, ctx: &AskContext<'_>) -> Option<Candidate> {
        let i = self.next;
        self.next += 1;
        if let Some(f) = ctx.families.get(i) {
            let fam = ctx.space.family(&f.name)?;
            return Some(Candidate::new(
                &f.name,
                fam.default_params(ctx.task),
                "default",
            ));
        }
        let ks = [1i64, 3, 9, 15, 25, 40];
        let k = *ks.get(i - ctx.families.len())?;
        let mut p = Params::new();
        p.insert("k".into(), ParamValue::Int(k));
        p.insert("weights".into(), ParamValue::Str("distance".into()));
        Some(Candidate::new("knn", p, "sweep"))
    }
    fn tell(&mut self, _ctx: &AskContext<'_>, _trial: &TrialRecord) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/flowers.csv");
    let data = load_training(&path, &ReadOptions::default())?;
    let space = SearchSpace::from_toml_str(SPACE, "embed.rs")?;
    let store = MemoryStore::new();
    let config = StudyConfig {
        name: "embed".into(),
        budget: Budget {
            time_s: Some(30.0),
            max_trials: Some(8),
        },
        jobs: 2,
        ..StudyConfig::default()
    };
    let study = Study::create(&store, data, space, Box::new(SweepK { next: 0 }), config)?;
    let summary = study.run(&mut |p| {
        if let Some(t) = &p.last {
            println!(
                "trial {} {} -> {:.4}",
                t.trial_id, t.candidate.family, t.mean
            );
        }
    })?;
    let trials = store.trials(summary.study.study_id)?;
    let metric = automl_core::Metric::from_name(&summary.study.metric).unwrap();
    println!("\nleaderboard ({}):", metric);
    for row in leaderboard(&trials, metric) {
        println!(
            "{:>3}  trial {:>2}  {:<5} {:.4}  {}",
            row.rank
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            row.trial.trial_id,
            row.trial.candidate.family,
            row.trial.mean,
            row.trial.candidate.params.render()
        );
    }
    println!("final model: {}", summary.final_model);
    Ok(())
}
