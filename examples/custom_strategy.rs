//! Embedding the automl engine with your own search space and your own search strategy.
//!
//! Run: `cargo run --example custom_strategy`
//!
//! The space is given as TOML text (a space is data); the strategy is a tiny hand-written
//! "coordinate sweep" that implements the same ask/tell `Strategy` trait as the shipped ones.

use automl_engine::{
    AskContext, Candidate, MemoryStore, ParamValue, Params, ParamsExt, SearchSpace, StoreRead,
    Strategy, StudyBuilder, TrialRecord, leaderboard,
};
use std::path::Path;

const SPACE: &str = r#"
version = 1
name = "custom-strategy-example"
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
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/flowers.csv");
    let store = MemoryStore::new();
    let study = StudyBuilder::from_csv(csv)
        .space(SearchSpace::from_toml_str(SPACE, "custom_strategy.rs")?)
        .custom_strategy(Box::new(SweepK { next: 0 }))
        .max_trials(8)
        .time_budget(30.0)
        .jobs(2)
        .name("custom strategy")
        .create(&store)?;
    let metric = study.metric();
    let summary = study.run(&mut |p| {
        if let Some(t) = &p.last {
            println!(
                "trial {} {} -> {:.4}",
                t.trial_id, t.candidate.family, t.mean
            );
        }
    })?;
    println!("\nleaderboard ({metric}):");
    for row in leaderboard(&store.trials(summary.study.study_id)?, metric) {
        println!(
            "{:>3}  trial {:>2}  {:<8} {:.4}  {}",
            row.rank.map_or("-".to_string(), |r| r.to_string()),
            row.trial.trial_id,
            row.trial.candidate.family,
            row.trial.mean,
            row.trial.candidate.params.render()
        );
    }
    println!("final model: {}", summary.final_model);
    Ok(())
}
