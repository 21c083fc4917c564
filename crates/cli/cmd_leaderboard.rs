//! `automl leaderboard`: every trial of a study, best first, as a table, CSV, JSON or markdown.
//!
//! JSON/CSV field names are stable (documented in the user guide and, for JSON, with their
//! types and the `schema` tag of each row, in docs/json.md): rank, trial_id, family,
//! state, metric, mean, std, <each metric>, fit_time_s, predict_time_per_row_s,
//! model_size_bytes, strategy, operator, parents, fidelity, folds, params, error, and the seed
//! variance of the trials `fit` measured it for (null for the others): seed_std, churn,
//! split_std, tied (JSON also seed_scores, the mean score per model seed, and `final`: true on
//! the trial whose model the study's final model is).

use crate::args::{Format, LeaderboardArgs, SortKey};
use crate::output::{
    Doc, fmt_bytes, fmt_parents, fmt_row_time, fmt_score, key_params, markdown, num, plural,
    print_json, table,
};
use crate::store_arg::{open_existing, pick_study};
use anyhow::{Context, Result};
use automl_core::params::ParamsExt;
use automl_core::{Metric, TrialRecord};
use automl_engine::{LeaderboardRow, SeedVariance, leaderboard_owned, seed_variance_of};
use serde_json::{Value, json};

fn row_json(r: &LeaderboardRow, metric: &str, final_trial: Option<u64>) -> Value {
    let mut o = trial_json(&r.trial, metric);
    o["rank"] = json!(r.rank);
    o["final"] = json!(final_trial == Some(r.trial.trial_id));
    o
}

/// One trial as a leaderboard row without its rank (`automl compare` shows two of them).
pub(crate) fn trial_json(t: &TrialRecord, metric: &str) -> Value {
    let params: serde_json::Map<String, Value> = t
        .candidate
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Value::Null)))
        .collect();
    let mut o = json!({
        "trial_id": t.trial_id,
        "family": t.candidate.family,
        "state": t.state.as_str(),
        "metric": metric,
        "mean": num(t.mean),
        "std": num(t.std),
        "fold_scores": t.fold_scores,
        "fit_time_s": t.fit_time_s,
        "predict_time_per_row_s": t.predict_time_per_row_s,
        "model_size_bytes": t.model_size_bytes,
        "strategy": t.strategy,
        "operator": t.candidate.operator,
        "parents": t.candidate.parents,
        "fidelity": t.candidate.fidelity,
        "folds": t.candidate.folds,
        "params": params,
        "error": t.error,
    });
    let metrics: serde_json::Map<String, Value> = t
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), num(*v)))
        .collect();
    o["metrics"] = Value::Object(metrics);
    let sv = seed_variance_of(t);
    let sv = sv.as_ref();
    o["seed_std"] = sv.map_or(Value::Null, |s| num(s.seed_std));
    o["churn"] = sv.map_or(Value::Null, |s| num(s.churn));
    o["split_std"] = sv.and_then(|s| s.split_std).map_or(Value::Null, num);
    o["tied"] = sv.map_or(Value::Null, |s| json!(s.tied));
    o["seed_scores"] = sv.map_or(Value::Null, |s| json!(s.seed_scores));
    o
}

/// seed_std, churn, split_std and tied as text cells ("" when not measured).
fn seed_cells(sv: Option<&SeedVariance>, fmt: impl Fn(f64) -> String) -> [String; 4] {
    match sv {
        None => Default::default(),
        Some(s) => [
            fmt(s.seed_std),
            fmt(s.churn),
            s.split_std.map(&fmt).unwrap_or_default(),
            if s.tied { "yes" } else { "no" }.to_string(),
        ],
    }
}

pub fn run(a: LeaderboardArgs) -> Result<()> {
    let store = open_existing(&a.store.store)?;
    let study = pick_study(store.as_ref(), a.study, &a.store.store)?;
    let metric =
        Metric::from_name(&study.metric).context("the study's metric is unknown to this build")?;
    let trials = store.trials(study.study_id)?;
    let n_trials = trials.len();
    // By value: the records move into the rows (cloning 100k records costs more than ranking).
    let mut rows = leaderboard_owned(trials, metric);
    if let Some(f) = &a.family {
        rows.retain(|r| &r.trial.candidate.family == f);
    }
    if let Some(s) = &a.state {
        rows.retain(|r| r.trial.state.as_str() == s.as_str());
    }
    match a.sort {
        SortKey::Score => {}
        SortKey::Trial => rows.sort_by_key(|r| r.trial.trial_id),
        SortKey::Family => {
            rows.sort_by(|x, y| x.trial.candidate.family.cmp(&y.trial.candidate.family))
        }
        SortKey::FitTime => rows.sort_by(|x, y| x.trial.fit_time_s.total_cmp(&y.trial.fit_time_s)),
        SortKey::PredictTime => rows.sort_by(|x, y| {
            x.trial
                .predict_time_per_row_s
                .total_cmp(&y.trial.predict_time_per_row_s)
        }),
        SortKey::Size => rows.sort_by_key(|r| r.trial.model_size_bytes),
    }
    if let Some(n) = a.top {
        rows.truncate(n);
    }
    let other_metrics: Vec<&str> = Metric::for_task(study.task)
        .iter()
        .map(|m| m.name())
        .filter(|m| *m != study.metric)
        .collect();
    match a.format {
        Format::Json => {
            let v: Vec<Value> = rows
                .iter()
                .map(|r| row_json(r, &study.metric, study.final_trial))
                .collect();
            print_json(Doc::Leaderboard, Value::Array(v))?;
        }
        Format::Csv => {
            let mut header = vec![
                "rank", "trial_id", "family", "state", "metric", "mean", "std",
            ];
            header.extend(other_metrics.iter().copied());
            header.extend([
                "fit_time_s",
                "predict_time_per_row_s",
                "model_size_bytes",
                "strategy",
                "operator",
                "parents",
                "fidelity",
                "folds",
                "params",
                "error",
                "seed_std",
                "churn",
                "split_std",
                "tied",
            ]);
            let mut w = csv_writer();
            w.write_record(&header)?;
            for r in &rows {
                let t = &r.trial;
                let mut rec = vec![
                    r.rank.map(|x| x.to_string()).unwrap_or_default(),
                    t.trial_id.to_string(),
                    t.candidate.family.clone(),
                    t.state.as_str().to_string(),
                    study.metric.clone(),
                    finite(t.mean),
                    finite(t.std),
                ];
                for m in &other_metrics {
                    rec.push(t.metrics.get(*m).map(|v| finite(*v)).unwrap_or_default());
                }
                rec.extend([
                    format!("{}", t.fit_time_s),
                    format!("{}", t.predict_time_per_row_s),
                    t.model_size_bytes.to_string(),
                    t.strategy.clone(),
                    t.candidate.operator.clone(),
                    fmt_parents(t, ""),
                    format!("{}", t.candidate.fidelity),
                    t.candidate.folds.map(|k| k.to_string()).unwrap_or_default(),
                    t.candidate.params.render(),
                    t.error.clone().unwrap_or_default(),
                ]);
                rec.extend(seed_cells(seed_variance_of(t).as_ref(), finite));
                w.write_record(&rec)?;
            }
            w.flush()?;
        }
        Format::Table | Format::Markdown => {
            let mut header: Vec<String> = vec![
                "rank".into(),
                "trial".into(),
                "family".into(),
                format!("{} (mean ± std)", study.metric),
            ];
            header.extend(other_metrics.iter().map(|s| s.to_string()));
            header.extend([
                "fit".into(),
                "pred/row".into(),
                "size".into(),
                "strategy".into(),
                "parent".into(),
                "fidelity".into(),
                "state".into(),
            ]);
            let any_seeds = rows.iter().any(|r| seed_variance_of(&r.trial).is_some());
            if any_seeds {
                header.extend([
                    "seed_std".into(),
                    "churn".into(),
                    "split_std".into(),
                    "tied".into(),
                ]);
            }
            header.push("params".into());
            let mut out = vec![header];
            for r in &rows {
                let t = &r.trial;
                let mut rec = vec![
                    r.rank.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                    t.trial_id.to_string(),
                    t.candidate.family.clone(),
                    if t.is_scored() {
                        format!("{} ± {}", fmt_score(t.mean), fmt_score(t.std))
                    } else {
                        "-".into()
                    },
                ];
                for m in &other_metrics {
                    rec.push(
                        t.metrics
                            .get(*m)
                            .map(|v| fmt_score(*v))
                            .unwrap_or_else(|| "-".into()),
                    );
                }
                rec.extend([
                    crate::output::fmt_secs(t.fit_time_s),
                    fmt_row_time(t.predict_time_per_row_s),
                    if t.model_size_bytes > 0 {
                        fmt_bytes(t.model_size_bytes)
                    } else {
                        "-".into()
                    },
                    if t.candidate.operator.is_empty() {
                        t.strategy.clone()
                    } else {
                        format!("{}/{}", t.strategy, t.candidate.operator)
                    },
                    fmt_parents(t, "-"),
                    match t.candidate.folds {
                        Some(k) => format!("{:.2}, {k} fold{}", t.candidate.fidelity, plural(k)),
                        None => format!("{:.2}", t.candidate.fidelity),
                    },
                    t.state.as_str().to_string(),
                ]);
                if any_seeds {
                    let cells = seed_cells(seed_variance_of(t).as_ref(), fmt_score);
                    rec.extend(cells.map(|c| if c.is_empty() { "-".into() } else { c }));
                }
                rec.push(match &t.error {
                    Some(e) if !t.is_scored() => format!("error: {}", truncate(e, 60)),
                    _ => key_params(t, 4),
                });
                out.push(rec);
            }
            if a.format == Format::Markdown {
                print!("{}", markdown(&out));
            } else {
                println!(
                    "study {} `{}`: {} trials, metric {} ({}), {}",
                    study.study_id,
                    study.name,
                    n_trials,
                    study.metric,
                    if metric.higher_is_better() {
                        "higher is better"
                    } else {
                        "lower is better"
                    },
                    study.validation_text().unwrap_or_default()
                );
                print!("{}", table(&out));
            }
        }
    }
    Ok(())
}

fn finite(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        format!("{}…", s.chars().take(n).collect::<String>())
    } else {
        s.to_string()
    }
}

fn csv_writer() -> csv::Writer<std::io::Stdout> {
    csv::Writer::from_writer(std::io::stdout())
}
