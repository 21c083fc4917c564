//! Embedding the automl engine: the same search as `automl fit`, from one crate.
//!
//! Run: `cargo run --example embed` (the store is in memory; `open_store(dir)` keeps the trials).

use automl_engine::{MemoryStore, StoreRead, StudyBuilder, leaderboard};
use std::path::Path;

fn main() -> Result<(), automl_engine::EngineError> {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/flowers.csv");
    let store = MemoryStore::new();
    let study = StudyBuilder::from_csv(csv)
        .max_trials(8)
        .jobs(2)
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
        let rank = row.rank.map_or("-".to_string(), |r| r.to_string());
        let t = &row.trial;
        println!(
            "{rank:>3}  trial {:>2}  {:<14} {:.4}",
            t.trial_id, t.candidate.family, t.mean
        );
    }
    println!("final model: {}", summary.final_model);
    Ok(())
}
