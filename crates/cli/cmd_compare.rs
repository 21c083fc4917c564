//! `automl compare A B`: two trials side by side (parameters, per-fold scores, metrics, costs).

use crate::args::CompareArgs;
use crate::output::{Doc, fmt_parents, fmt_score, fmt_secs, print_json, table};
use crate::store_arg::{open_existing, pick_study};
use anyhow::{Context, Result};
use serde_json::json;
use std::collections::BTreeSet;

pub fn run(a: CompareArgs) -> Result<()> {
    let store = open_existing(&a.store.store)?;
    let study = pick_study(store.as_ref(), a.study, &a.store.store)?;
    let get = |id: u64| {
        store
            .trial(study.study_id, id)
            .map_err(anyhow::Error::from)
            .and_then(|t| {
                t.with_context(|| {
                    format!(
                        "no trial {id} in study {}; `automl leaderboard` lists them",
                        study.study_id
                    )
                })
            })
    };
    let (x, y) = (get(a.a)?, get(a.b)?);
    let params: BTreeSet<&String> = x
        .candidate
        .params
        .keys()
        .chain(y.candidate.params.keys())
        .collect();
    let differs = |p: &String| x.candidate.params.get(p) != y.candidate.params.get(p);
    if a.format.json() {
        let trial = |t| crate::cmd_leaderboard::trial_json(t, &study.metric);
        return print_json(
            Doc::Compare,
            json!({
                "study_id": study.study_id,
                "metric": study.metric,
                "trials": [trial(&x), trial(&y)],
                "differing_params": params.iter().filter(|p| differs(p)).collect::<Vec<_>>(),
            }),
        );
    }
    let mut rows = vec![vec![
        "".to_string(),
        format!("trial {}", x.trial_id),
        format!("trial {}", y.trial_id),
    ]];
    rows.push(vec![
        "family".into(),
        x.candidate.family.clone(),
        y.candidate.family.clone(),
    ]);
    rows.push(vec![
        "state".into(),
        x.state.as_str().into(),
        y.state.as_str().into(),
    ]);
    rows.push(vec![
        format!("{} mean ± std", study.metric),
        format!("{} ± {}", fmt_score(x.mean), fmt_score(x.std)),
        format!("{} ± {}", fmt_score(y.mean), fmt_score(y.std)),
    ]);
    let folds = x.fold_scores.len().max(y.fold_scores.len());
    for i in 0..folds {
        let f = |v: &[f64]| {
            v.get(i)
                .map(|s| fmt_score(*s))
                .unwrap_or_else(|| "-".into())
        };
        rows.push(vec![
            format!("fold {}", i + 1),
            f(&x.fold_scores),
            f(&y.fold_scores),
        ]);
    }
    let metrics: BTreeSet<&String> = x.metrics.keys().chain(y.metrics.keys()).collect();
    for m in metrics {
        let f = |t: &automl_core::TrialRecord| {
            t.metrics
                .get(m)
                .map(|v| fmt_score(*v))
                .unwrap_or_else(|| "-".into())
        };
        rows.push(vec![m.clone(), f(&x), f(&y)]);
    }
    rows.push(vec![
        "fit time".into(),
        fmt_secs(x.fit_time_s),
        fmt_secs(y.fit_time_s),
    ]);
    for p in params {
        let f = |t: &automl_core::TrialRecord| {
            t.candidate
                .params
                .get(p)
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into())
        };
        let (vx, vy) = (f(&x), f(&y));
        let mark = if differs(p) { " *" } else { "" };
        rows.push(vec![format!("{p}{mark}"), vx, vy]);
    }
    rows.push(vec![
        "operator".into(),
        x.candidate.operator.clone(),
        y.candidate.operator.clone(),
    ]);
    rows.push(vec![
        "parents".into(),
        fmt_parents(&x, "-"),
        fmt_parents(&y, "-"),
    ]);
    print!("{}", table(&rows));
    println!("(* = parameter differs)");
    Ok(())
}
