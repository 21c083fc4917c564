//! `automl portfolio`: build the zero-shot portfolio file from stored studies.
//!
//! For every study in the given stores, the complete full-fidelity trials (ensembles excluded)
//! are ranked by their cross-validation score — never a test score — and the best few
//! configurations are taken, preferring distinct families. The chosen configurations are then
//! interleaved round-robin over the studies (best of each study first) up to `--size`, and
//! written with the task of the study they came from, and with their `origin` (the study's name).
//! `auto` tries them before anything else.
//!
//! With `--select POOL`, the stores hold one study per dataset that cross-validated the pool's
//! configurations (`automl fit --portfolio POOL`), and the portfolio is chosen from that score
//! matrix by `automl_search::portfolio_select` (greedy by normalised regret, per task), with an
//! optional leave-one-dataset-out report and per-dataset portfolios (`--leave-one-out DIR`).

use crate::args::PortfolioArgs;
use crate::output::{Doc, print_json};
use anyhow::{Context, Result, bail};
use automl_core::{Candidate, Metric, Task, is_meta_family};
use automl_engine::leaderboard;
use serde_json::json;
use std::collections::BTreeSet;

pub fn run(a: PortfolioArgs) -> Result<()> {
    if let Some(pool) = a.select.clone() {
        return select(a, &pool);
    }
    if a.stores.is_empty() {
        bail!(
            "pass at least one store directory (stores of `automl fit` runs on the benchmark training sets)"
        );
    }
    let mut per_study: Vec<Vec<(Candidate, Task)>> = Vec::new();
    let mut study_names: Vec<String> = Vec::new();
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
            study_names.push(study.name.clone());
        }
    }
    let mut chosen: Vec<(Candidate, Vec<Task>)> = Vec::new();
    let mut origins: Vec<Option<String>> = Vec::new();
    let depth = per_study.iter().map(Vec::len).max().unwrap_or(0);
    'outer: for i in 0..depth {
        for (list, name) in per_study.iter().zip(&study_names) {
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
                    origins.push(Some(name.clone()));
                }
            }
        }
    }
    let description = format!(
        "Zero-shot portfolio: {} configurations, the best by cross-validation score of {} stored studies (built by `automl portfolio`; see docs/BENCHMARKS.md)",
        chosen.len(),
        per_study.len()
    );
    let text = automl_search::portfolio_to_toml_with_origins(&chosen, &origins, &description);
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

/// A held-out portfolio: the dataset, its configurations and their origins.
type HeldOut = (String, Vec<(Candidate, Vec<Task>)>, Vec<Option<String>>);

/// The regrets a leave-one-out report shows: after the first 1, 3 and 5 members, and the whole
/// portfolio.
fn loo_ks(size: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = [1, 3, 5].into_iter().filter(|&k| k < size).collect();
    ks.push(size);
    ks
}

/// `--select POOL`: choose the portfolio from the score matrix that the stores' studies hold.
fn select(a: PortfolioArgs, pool_path: &std::path::Path) -> Result<()> {
    use automl_search::portfolio_select::{ScoreMatrix, Worth, greedy, leave_one_out};
    let text = std::fs::read_to_string(pool_path)
        .with_context(|| format!("--select {}: cannot read the pool", pool_path.display()))?;
    let origin = pool_path.display().to_string();
    let pool = automl_search::load_portfolio(&text, &origin)?;
    let pool_origins = automl_search::portfolio_origins(&text);
    if pool.is_empty() {
        bail!("--select {origin}: the pool has no configurations");
    }
    // Oriented scores (higher is better) per dataset name, per pool entry: studies of the same
    // name (e.g. several seeds) are averaged.
    let mut datasets: Vec<(String, Task)> = Vec::new();
    let mut sums: Vec<Vec<(f64, usize)>> = Vec::new(); // [dataset][pool entry]
    // Fit seconds (summed over a trial's folds) per dataset, per pool entry, averaged like the
    // scores; too slow evaluations included, as a budgeted search pays for them too.
    let mut secs: Vec<Vec<(f64, usize)>> = Vec::new();
    let mut studies = 0usize;
    let mut too_slow = 0usize;
    for at in &a.stores {
        let store = crate::store_arg::open_existing(at)
            .with_context(|| format!("cannot read store `{at}`"))?;
        for study in store.studies()? {
            studies += 1;
            let metric = Metric::from_name(&study.metric).context("unknown metric in a study")?;
            let d = match datasets.iter().position(|(n, _)| *n == study.name) {
                Some(d) if datasets[d].1 == study.task => d,
                Some(_) => bail!(
                    "two studies named `{}` with different tasks; name each dataset's study after it",
                    study.name
                ),
                None => {
                    datasets.push((study.name.clone(), study.task));
                    sums.push(vec![(0.0, 0); pool.len()]);
                    secs.push(vec![(0.0, 0); pool.len()]);
                    datasets.len() - 1
                }
            };
            let trials = store.trials(study.study_id)?;
            for t in trials.iter().filter(|t| {
                t.is_scored() && !is_meta_family(&t.candidate.family) && t.candidate.is_full_cv()
            }) {
                let Some(i) = pool.iter().position(|(c, _)| {
                    c.family == t.candidate.family && c.params == t.candidate.params
                }) else {
                    continue;
                };
                secs[d][i].0 += t.fit_time_s;
                secs[d][i].1 += 1;
                if a.max_fit_seconds.is_some_and(|max| t.fit_time_s > max) {
                    too_slow += 1;
                    continue;
                }
                let s = if metric.higher_is_better() {
                    t.mean
                } else {
                    -t.mean
                };
                sums[d][i].0 += s;
                sums[d][i].1 += 1;
            }
        }
    }
    let mut chosen: Vec<(Candidate, Vec<Task>)> = Vec::new();
    let mut chosen_origins: Vec<Option<String>> = Vec::new();
    let mut loo_json = Vec::new();
    let mut held_files: Vec<HeldOut> = Vec::new();
    let ks = loo_ks(a.size);
    if !(a.anytime_seconds.is_finite() && a.anytime_seconds >= 0.0) {
        bail!(
            "--anytime-seconds {}: give a number of seconds, or 0 to choose by the best regret alone",
            a.anytime_seconds
        );
    }
    let worth = if a.anytime_seconds > 0.0 {
        Worth::Anytime {
            budget_s: a.anytime_seconds,
        }
    } else {
        Worth::Final
    };
    for task in [Task::Binary, Task::Multiclass, Task::Regression] {
        let ds: Vec<usize> = (0..datasets.len())
            .filter(|&d| datasets[d].1 == task)
            .collect();
        let entries: Vec<usize> = (0..pool.len())
            .filter(|&i| pool[i].1.is_empty() || pool[i].1.contains(&task))
            .collect();
        if ds.is_empty() || entries.is_empty() {
            continue;
        }
        let m = ScoreMatrix {
            datasets: ds.iter().map(|&d| datasets[d].0.clone()).collect(),
            scores: entries
                .iter()
                .map(|&i| ds.iter().map(|&d| mean_of(sums[d][i])).collect())
                .collect(),
            origins: entries
                .iter()
                .map(|&i| pool_origins.get(i).cloned().flatten())
                .collect(),
            fit_s: entries
                .iter()
                .map(|&i| {
                    ds.iter()
                        .map(|&d| mean_of(secs[d][i]).unwrap_or(0.0))
                        .collect()
                })
                .collect(),
        };
        let evaluated = m.scores.iter().flatten().filter(|s| s.is_some()).count();
        eprintln!(
            "{task}: {} datasets × {} configurations, {evaluated} scores",
            ds.len(),
            entries.len()
        );
        if evaluated == 0 {
            continue;
        }
        let regret = m.regrets();
        let all_c: Vec<usize> = (0..entries.len()).collect();
        let all_d: Vec<usize> = (0..ds.len()).collect();
        let in_sample = greedy(&regret, &m.fit_s, worth, &all_c, &all_d, a.size);
        for &c in &in_sample {
            chosen.push((pool[entries[c]].0.clone(), vec![task]));
            chosen_origins.push(m.origins[c].clone());
        }
        // The fit seconds of a portfolio's first k members on dataset `d` (a member never
        // evaluated there counts 0).
        let cost = |portfolio: &[usize], d: usize, k: usize| -> f64 {
            portfolio.iter().take(k).map(|&c| m.fit_s[c][d]).sum()
        };
        if a.leave_one_out.is_some() {
            for (d, row) in leave_one_out(&m, a.size, &ks, worth)
                .into_iter()
                .enumerate()
            {
                let configs: Vec<(Candidate, Vec<Task>)> = row
                    .portfolio
                    .iter()
                    .map(|&c| (pool[entries[c]].0.clone(), vec![task]))
                    .collect();
                let origins = row
                    .portfolio
                    .iter()
                    .map(|&c| m.origins[c].clone())
                    .collect();
                held_files.push((row.dataset.clone(), configs, origins));
                loo_json.push(json!({
                    "dataset": row.dataset,
                    "task": task.as_str(),
                    "k": ks,
                    "in_sample": row.in_sample,
                    "held_out": row.held_out,
                    "in_sample_fit_s": ks.iter().map(|&k| cost(&in_sample, d, k)).collect::<Vec<_>>(),
                    "held_out_fit_s": ks.iter().map(|&k| cost(&row.portfolio, d, k)).collect::<Vec<_>>(),
                    "in_sample_anytime": row.anytime.map(|a| a.0),
                    "held_out_anytime": row.anytime.map(|a| a.1),
                }));
            }
        }
    }
    if too_slow > 0 {
        eprintln!(
            "{too_slow} evaluation(s) took longer than --max-fit-seconds {} and count as failed",
            a.max_fit_seconds.unwrap_or_default()
        );
    }
    if chosen.is_empty() && too_slow > 0 {
        bail!(
            "every evaluation of the pool `{origin}` took longer than --max-fit-seconds {}: raise it",
            a.max_fit_seconds.unwrap_or_default()
        );
    }
    if chosen.is_empty() {
        bail!(
            "no study in the stores scored a configuration of the pool `{origin}`; run `automl fit --portfolio {origin} --max-trials N` on each dataset first"
        );
    }
    let description = format!(
        "Zero-shot portfolio: {} configurations chosen by `automl portfolio --select` from {} datasets (greedy by {}, per task; see docs/BENCHMARKS.md)",
        chosen.len(),
        datasets.len(),
        match worth {
            Worth::Final => "normalised regret".to_string(),
            Worth::Anytime { budget_s } =>
                format!("normalised regret, anytime over {budget_s} fit seconds"),
        }
    );
    let text =
        automl_search::portfolio_to_toml_with_origins(&chosen, &chosen_origins, &description);
    automl_search::load_portfolio(&text, &a.output.display().to_string())?;
    std::fs::write(&a.output, text)
        .with_context(|| format!("cannot write `{}`", a.output.display()))?;
    if let Some(dir) = &a.leave_one_out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        for (name, configs, origins) in &held_files {
            let description = format!(
                "Leave-one-out portfolio for `{name}`: chosen without its scores nor the configurations found on it"
            );
            let path = dir.join(format!("{}.toml", file_stem(name)));
            std::fs::write(
                &path,
                automl_search::portfolio_to_toml_with_origins(configs, origins, &description),
            )
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        }
    }
    if a.format.json() {
        let mut doc = json!({
            "output": a.output.display().to_string(),
            "configurations": chosen.len(),
            "studies": studies,
            "families": chosen.iter().map(|(c, _)| c.family.as_str()).collect::<BTreeSet<_>>(),
        });
        if a.leave_one_out.is_some() {
            doc["leave_one_out"] = json!(loo_json);
        }
        return print_json(Doc::Portfolio, doc);
    }
    if a.leave_one_out.is_some() {
        println!(
            "normalised regret on each dataset (0 = the pool's best configuration there, 1 = its median) after the first k configurations:"
        );
        println!(
            "(fit s: the members' cross-validation fit seconds on that dataset, what `auto` spends on them)"
        );
        println!(
            "{:<24} {:<11} {:>4} {:>10} {:>10} {:>12} {:>12}",
            "dataset", "task", "k", "in-sample", "held-out", "in-s. fit s", "held. fit s"
        );
        let mut mean = vec![[0.0; 4]; ks.len()];
        let fields = ["in_sample", "held_out", "in_sample_fit_s", "held_out_fit_s"];
        for row in &loo_json {
            for (j, k) in ks.iter().enumerate() {
                let v = fields.map(|f| row[f][j].as_f64().unwrap_or(f64::NAN));
                for (m, x) in mean[j].iter_mut().zip(v) {
                    *m += x / loo_json.len() as f64;
                }
                println!(
                    "{:<24} {:<11} {:>4} {:>10.3} {:>10.3} {:>12.1} {:>12.1}",
                    row["dataset"].as_str().unwrap_or(""),
                    row["task"].as_str().unwrap_or(""),
                    k,
                    v[0],
                    v[1],
                    v[2],
                    v[3]
                );
            }
        }
        for (j, k) in ks.iter().enumerate() {
            let v = mean[j];
            println!(
                "{:<24} {:<11} {:>4} {:>10.3} {:>10.3} {:>12.1} {:>12.1}",
                "mean", "", k, v[0], v[1], v[2], v[3]
            );
        }
        if let Worth::Anytime { budget_s } = worth {
            println!(
                "anytime regret (the best regret reached so far, averaged over the first {budget_s} fit seconds of running the members in order; what the choice minimised):"
            );
            println!(
                "{:<24} {:<11} {:>10} {:>10}",
                "dataset", "task", "in-sample", "held-out"
            );
            let mut mean = [0.0; 2];
            for row in &loo_json {
                let v = ["in_sample_anytime", "held_out_anytime"]
                    .map(|f| row[f].as_f64().unwrap_or(f64::NAN));
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += x / loo_json.len() as f64;
                }
                println!(
                    "{:<24} {:<11} {:>10.3} {:>10.3}",
                    row["dataset"].as_str().unwrap_or(""),
                    row["task"].as_str().unwrap_or(""),
                    v[0],
                    v[1]
                );
            }
            println!(
                "{:<24} {:<11} {:>10.3} {:>10.3}",
                "mean", "", mean[0], mean[1]
            );
        }
        if let Some(dir) = &a.leave_one_out {
            println!(
                "wrote {} leave-one-out portfolios to {} (use one with `automl fit --portfolio FILE`)",
                held_files.len(),
                dir.display()
            );
        }
    }
    println!(
        "wrote {} configurations to {}",
        chosen.len(),
        a.output.display()
    );
    Ok(())
}

/// The mean of a (sum, count) cell, if it counted anything.
fn mean_of((sum, n): (f64, usize)) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

/// A dataset name as a file name: path separators and other odd characters become `_`.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
