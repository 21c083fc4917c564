//! `automl studies`: the studies (search runs) in a store.

use crate::args::StudiesArgs;
use crate::output::{Doc, num, print_json, table};
use anyhow::Result;
use serde_json::{Value, json};

pub fn run(a: StudiesArgs) -> Result<()> {
    let store = crate::store_arg::open_existing(&a.store.store)?;
    let studies = store.studies()?;
    if studies.is_empty() && !a.format.json() {
        println!(
            "no studies in {}; run `automl fit DATA.csv --store {}`",
            a.store.store, a.store.store
        );
        return Ok(());
    }
    let mut rows = vec![vec![
        "study".to_string(),
        "name".into(),
        "task".into(),
        "metric".into(),
        "trials".into(),
        "best".into(),
        "final trial".into(),
        "strategy".into(),
        "state".into(),
        "data".into(),
    ]];
    let mut docs: Vec<Value> = Vec::new();
    for s in &studies {
        let trials = store.trials(s.study_id)?;
        let metric = automl_core::Metric::from_name(&s.metric);
        let best = metric.and_then(|m| {
            trials
                .iter()
                .filter(|t| t.is_ranked())
                .map(|t| t.mean)
                .reduce(|a, b| if m.better(b, a) { b } else { a })
        });
        let finished = s.ended_at_ms > 0;
        docs.push(json!({
            "study_id": s.study_id,
            "name": s.name,
            "task": s.task.to_string(),
            "metric": s.metric,
            "trials": trials.len(),
            "best": best.map_or(Value::Null, num),
            "final_trial": s.final_trial,
            "strategy": s.strategy,
            "finished": finished,
            "data": s.data_path,
        }));
        rows.push(vec![
            s.study_id.to_string(),
            s.name.clone(),
            s.task.to_string(),
            s.metric.clone(),
            trials.len().to_string(),
            best.map(crate::output::fmt_score)
                .unwrap_or_else(|| "-".into()),
            s.final_trial
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            s.strategy.clone(),
            if finished {
                "finished".into()
            } else {
                "running or stopped".into()
            },
            s.data_path.clone(),
        ]);
    }
    if a.format.json() {
        return print_json(
            Doc::Studies,
            json!({ "store": a.store.store.to_string(), "studies": docs }),
        );
    }
    print!("{}", table(&rows));
    Ok(())
}
