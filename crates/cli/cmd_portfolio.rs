//! `automl portfolio`: build the zero-shot portfolio file from stored studies.
//!
//! For every study in the given stores, the complete full-fidelity trials (ensembles excluded)
//! are ranked by their cross-validation score — never a test score — and the best few
//! configurations are taken, preferring distinct families. The chosen configurations are then
//! interleaved round-robin over the studies (best of each study first) up to `--size`, and
//! written with the task of the study they came from. `auto` tries them before anything else.

use crate::args::PortfolioArgs;
use crate::output::{Doc, print_json};
use anyhow::{Context, Result, bail};
use automl_core::{Candidate, Metric, Task, is_meta_family};
use automl_engine::leaderboard;
use serde_json::json;
use std::collections::BTreeSet;

pub fn run(a: PortfolioArgs) -> Result<()> {
    if a.stores.is_empty() {
        bail!(
            "pass at least one store directory (stores of `automl fit` runs on the benchmark training sets)"
        );
    }
    let mut per_study: Vec<Vec<(Candidate, Task)>> = Vec::new();
    for at in &a.stores {
        let store = crate::store_arg::open_existing(at)
            .with_context(|| format!("cannot read store `{at}`"))?;
        for study in store.studies()? {
            let metric = Metric::from_name(&study.metric).context("unknown metric in a study")?;
            let trials = store.trials(study.study_id)?;
            let mut picked: Vec<(Candidate, Task)> = Vec::new();
            let mut families = BTreeSet::new();
            let ranked: Vec<_> = leaderboard(&trials, metric)
                .into_iter()
                .filter(|r| {
                    r.rank.is_some()
                        && !is_meta_family(&r.trial.candidate.family)
                        && r.trial.candidate.fidelity >= 1.0
                })
                .collect();
            // First pass: the best trial of each family; second pass: fill with the next best.
            for pass in 0..2 {
                for r in &ranked {
                    if picked.len() >= a.per_study {
                        break;
                    }
                    let c = &r.trial.candidate;
                    let fresh = families.insert(c.family.clone());
                    let dup = picked
                        .iter()
                        .any(|(p, _)| p.family == c.family && p.params == c.params);
                    if !dup && (fresh || pass == 1) {
                        let mut cand =
                            Candidate::new(c.family.clone(), c.params.clone(), "portfolio");
                        cand.fidelity = 1.0;
                        picked.push((cand, study.task));
                    }
                }
                // Keep only the family-best ones from pass 0 among the top of the ranking.
                if pass == 0 {
                    picked.truncate(a.per_study.div_ceil(2).max(1));
                }
            }
            eprintln!(
                "study {} `{}` ({}): {} configurations",
                study.study_id,
                study.name,
                study.task,
                picked.len()
            );
            per_study.push(picked);
        }
    }
    let mut chosen: Vec<(Candidate, Vec<Task>)> = Vec::new();
    let depth = per_study.iter().map(Vec::len).max().unwrap_or(0);
    'outer: for i in 0..depth {
        for list in &per_study {
            if let Some((c, task)) = list.get(i) {
                if chosen.len() >= a.size {
                    break 'outer;
                }
                if let Some(existing) = chosen
                    .iter_mut()
                    .find(|(p, _)| p.family == c.family && p.params == c.params)
                {
                    if !existing.1.contains(task) {
                        existing.1.push(*task);
                    }
                } else {
                    chosen.push((c.clone(), vec![*task]));
                }
            }
        }
    }
    let description = format!(
        "Zero-shot portfolio: {} configurations, the best by cross-validation score of {} stored studies (built by `automl portfolio`; see docs/BENCHMARKS.md)",
        chosen.len(),
        per_study.len()
    );
    let text = automl_search::portfolio_to_toml(&chosen, &description);
    // Check it reads back before writing.
    automl_search::load_portfolio(&text, &a.output.display().to_string())?;
    std::fs::write(&a.output, text)
        .with_context(|| format!("cannot write `{}`", a.output.display()))?;
    if a.format.json() {
        return print_json(
            Doc::Portfolio,
            json!({
                "output": a.output.display().to_string(),
                "configurations": chosen.len(),
                "studies": per_study.len(),
                "families": chosen.iter().map(|(c, _)| c.family.as_str()).collect::<BTreeSet<_>>(),
            }),
        );
    }
    println!(
        "wrote {} configurations to {}",
        chosen.len(),
        a.output.display()
    );
    Ok(())
}
