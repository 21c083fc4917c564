//! `automl show TRIAL_ID`: everything stored about one trial.

use crate::args::ShowArgs;
use crate::output::{Doc, fmt_bytes, fmt_row_time, fmt_score, fmt_secs, print_json};
use crate::store_arg::{open_existing, pick_study};
use anyhow::{Context, Result};
use automl_core::{EnsembleDecision, STACKING_KEY, StackingDecision};

pub(crate) fn fmt_time(ms: u64) -> String {
    if ms == 0 {
        return "-".into();
    }
    // UTC, ISO-8601 without external crates.
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn run(a: ShowArgs) -> Result<()> {
    let store = open_existing(&a.store.store)?;
    let study = pick_study(store.as_ref(), a.study, &a.store.store)?;
    let t = store.trial(study.study_id, a.trial)?.with_context(|| {
        format!(
            "no trial {} in study {}; `automl leaderboard --store {}` lists the trials",
            a.trial, study.study_id, a.store.store
        )
    })?;
    if a.json || a.format.json() {
        return print_json(Doc::Show, serde_json::to_value(&t)?);
    }
    println!(
        "trial {} of study {} `{}`",
        t.trial_id, study.study_id, study.name
    );
    println!("  family      {}", t.candidate.family);
    println!("  state       {}", t.state.as_str());
    if let Some(e) = &t.error {
        println!("  error       {e}");
    }
    println!(
        "  strategy    {} (operator: {})",
        t.strategy,
        if t.candidate.operator.is_empty() {
            "-"
        } else {
            &t.candidate.operator
        }
    );
    if !t.candidate.parents.is_empty() {
        println!(
            "  parents     {}",
            t.candidate
                .parents
                .iter()
                .map(|p| format!("trial {p}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if t.candidate.fidelity < 1.0 {
        println!(
            "  fidelity    {:.0} % of the training rows",
            t.candidate.fidelity * 100.0
        );
    }
    if let Some(k) = t.candidate.folds {
        println!("  folds       the last {k} of the study's folds only (a first look; not ranked)");
    }
    println!("  seed        {}", t.seed);
    println!("  parameters");
    for (k, v) in &t.candidate.params {
        println!("    {k:<20} {v}");
    }
    if t.is_scored() {
        println!(
            "  {} = {} ± {} (mean ± std over folds)",
            study.metric,
            fmt_score(t.mean),
            fmt_score(t.std)
        );
        println!(
            "  per fold    {}",
            t.fold_scores
                .iter()
                .map(|s| fmt_score(*s))
                .collect::<Vec<_>>()
                .join("  ")
        );
        println!("  out-of-fold metrics");
        for (k, v) in &t.metrics {
            println!("    {k:<20} {}", fmt_score(*v));
        }
    }
    println!("  fit time    {} (all folds)", fmt_secs(t.fit_time_s));
    println!(
        "  predict     {} per row",
        fmt_row_time(t.predict_time_per_row_s)
    );
    println!(
        "  model       {}{}",
        if t.model_size_bytes > 0 {
            fmt_bytes(t.model_size_bytes)
        } else {
            "-".into()
        },
        if t.has_artifact {
            " (fold models stored)"
        } else {
            " (no stored model)"
        }
    );
    if study.final_trial == Some(t.trial_id) {
        match study.final_model_text() {
            Some(how) => println!("  final       this trial is the study's final model: {how}"),
            None => println!("  final       this trial is the study's final model"),
        }
    }
    if study.final_trial == Some(t.trial_id) {
        if let Some(d) = automl_engine::post_decision(&study) {
            println!(
                "  post        {}; {}",
                automl_engine::study::postprocess::describe(&d),
                d.reason
            );
        }
    }
    if let Some(d) = &t.ensemble {
        print_decision(d);
    }
    if let Some(d) = automl_engine::stacking::stacking_of(&t) {
        print_stacking(&d);
    }
    // Facts the models reported (e.g. `n_rounds`); on an ensemble trial of an older store, the
    // two rival scores its typed decision now carries (`single_selection_cv`, `best_single_cv`).
    for (k, v) in &t.extra {
        if k != automl_core::SEED_VARIANCE_KEY && k != STACKING_KEY {
            println!("  {k:<11} {v}");
        }
    }
    if let Some(sv) = automl_engine::seed_variance_of(&t) {
        let join = |xs: &[f64]| {
            xs.iter()
                .map(|s| fmt_score(*s))
                .collect::<Vec<_>>()
                .join("  ")
        };
        println!(
            "  seeds       seed_std {}, churn {:.1} %{}, {} with the leader (noise {})",
            fmt_score(sv.seed_std),
            sv.churn * 100.0,
            sv.split_std
                .map(|x| format!(", split_std {}", fmt_score(x)))
                .unwrap_or_default(),
            if sv.tied { "tied" } else { "not tied" },
            fmt_score(sv.noise)
        );
        for (seed, folds) in sv.seeds.iter().zip(&sv.seed_fold_scores) {
            println!("    seed {seed:<20} {}", join(folds));
        }
        if !sv.split_scores.is_empty() {
            println!("    reshuffled folds     {}", join(&sv.split_scores));
        }
        if let Some(n) = &sv.note {
            println!("    {n}");
        }
    }
    println!("  started     {}", fmt_time(t.started_at_ms));
    println!("  ended       {}", fmt_time(t.ended_at_ms));
    Ok(())
}

/// What stacking decided about this stacking trial: used or not and why, its nested
/// cross-validated score against its two rivals, its second layer and members.
fn print_stacking(d: &StackingDecision) {
    println!(
        "  stacking    {}",
        if d.used {
            "used as the final model"
        } else {
            "not used"
        }
    );
    println!("  reason      {}", d.reason);
    println!(
        "  nested cv   {}  the stacking, cross-validated (each fold's second layer and its L2 chosen on the other folds)",
        fmt_score(d.cv_score.unwrap_or(f64::NAN))
    );
    println!(
        "  ensemble    {}  the ensemble's cross-validated selection",
        fmt_score(d.ensemble_cv.unwrap_or(f64::NAN))
    );
    println!(
        "  single pick {}  picking one trial, cross-validated the same way",
        fmt_score(d.single_selection_cv.unwrap_or(f64::NAN))
    );
    println!("  2nd layer   {}", d.meta_learner);
    let members: Vec<String> = d.members.iter().map(|id| format!("trial {id}")).collect();
    println!("  members     {}", members.join(", "));
}

/// What ensemble selection decided about this ensemble trial: used or not and why, its
/// cross-validated score against picking one trial the same way, and its members.
fn print_decision(d: &EnsembleDecision) {
    println!(
        "  ensemble    {}",
        if d.used {
            "used as the final model"
        } else {
            "not used"
        }
    );
    println!("  reason      {}", d.reason);
    println!(
        "  selection   {}  the ensemble selection, cross-validated (each fold's weights chosen on the other folds)",
        fmt_score(d.cv_score.unwrap_or(f64::NAN))
    );
    println!(
        "  single pick {}  picking one trial, cross-validated the same way",
        fmt_score(d.single_selection_cv.unwrap_or(f64::NAN))
    );
    println!(
        "  best single {}  the best trial's own CV score (the best of all trials, so flattered)",
        fmt_score(d.best_single_cv.unwrap_or(f64::NAN))
    );
    if !d.members.is_empty() {
        println!(
            "  members     {}",
            d.members
                .iter()
                .map(|(id, w)| format!("trial {id} × {w:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
