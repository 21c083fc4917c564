//! `automl studies`: the studies (search runs) in a store.

use crate::args::StoreArgs;
use crate::output::table;
use anyhow::Result;

pub fn run(a: StoreArgs) -> Result<()> {
    let store = crate::store_arg::open_existing(&a.store)?;
    let studies = store.studies()?;
    if studies.is_empty() {
        println!(
            "no studies in {}; run `automl fit DATA.csv --store {}`",
            a.store, a.store
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
    for s in &studies {
        let trials = store.trials(s.study_id)?;
        let metric = automl_core::Metric::from_name(&s.metric);
        let best = metric.and_then(|m| {
            trials
                .iter()
                .filter(|t| t.is_scored())
                .map(|t| t.mean)
                .reduce(|a, b| if m.better(b, a) { b } else { a })
        });
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
            if s.ended_at_ms > 0 {
                "finished".into()
            } else {
                "running or stopped".into()
            },
            s.data_path.clone(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(())
}
