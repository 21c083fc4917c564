//! `automl drift`: check new rows against the final model's reference profile of its training
//! data, print a table or JSON, and exit 0 (no drift), 3 (drift) or 2 (an error).

use crate::args::StoreArgs;
use crate::output::{Doc, FormatArg, print_json};
use anyhow::{Context, Result, bail};
use automl_engine::{LoadedModel, ModelChoice, load_model};
use automl_monitor::drift::{DriftOptions, DriftReport, TestResult, check};
use automl_monitor::predlog::{self, DriftEntry, LogRecord};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// Exit code when drift is found.
pub const EXIT_DRIFT: i32 = 3;

#[derive(Args, Debug)]
#[command(after_help = "\
What is tested, against the final model's training data (its reference profile, kept at fit time):
  numeric columns      Kolmogorov-Smirnov test; effect: Wasserstein distance in training std devs
  categorical/boolean  chi-square test (rare levels pooled; unseen levels and missing are bins);
                       effect: Jensen-Shannon distance
  predictions          the model's predictions of the new rows vs its out-of-fold predictions
                       (the score, and for classification the predicted classes)
  domain classifier    a GBDT cross-validated on training rows vs new rows: AUC, and the
                       columns it used most (needs the training-row sample; see fit
                       --no-profile-sample)
  PSI is reported for every column. All p-values are Holm-corrected together; a test is flagged
  when its corrected p-value is below --alpha and its effect reaches a minimum (Wasserstein
  0.15 std, Jensen-Shannon 0.15, AUC 0.6), so huge samples do not flag trivia.

Exit codes (for CI gates): 0 no drift, 3 drift found, 2 an error (unreadable file, no model,
a model without a reference profile).

Examples:
  automl drift new.csv                              # the latest study in ./automl.db
  automl drift --store models/ --study 3 new.csv --format json
  automl drift --model churn.automl new.csv         # a file written by `automl export`")]
pub struct DriftArgs {
    /// New rows: a CSV, Parquet or Arrow IPC file with the training columns (any order;
    /// extra columns, such as the target, are ignored).
    #[arg(value_name = "NEW")]
    pub input: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Use a model file written by `automl export` instead of the store.
    #[arg(long, value_name = "FILE", conflicts_with = "study")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatArg,
    /// Family-wise significance level of the whole check (Holm-corrected over every test).
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    pub alpha: f64,
    #[command(flatten)]
    pub log: crate::log_arg::LogDirArgs,
    /// Do not record the result in the prediction log (where `automl serve-report` and the
    /// dashboard's drift view read it).
    #[arg(long)]
    pub no_log: bool,
}

pub fn run(a: DriftArgs) -> Result<()> {
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        bail!("--alpha {}: must be between 0 and 1 (e.g. 0.05)", a.alpha);
    }
    let model: LoadedModel = match &a.model {
        Some(file) => automl_engine::export::read_model_file(file)?,
        None => {
            let store = crate::store_arg::open_models(&a.store.store)?;
            load_model(store.as_ref(), a.study, ModelChoice::Final)?
        }
    };
    let Some(profile) = &model.profile else {
        bail!(
            "the {} has no reference profile of its training data (it was fitted, or exported, \
             before `automl drift` existed); fit the study again, or export its final model \
             again from a store fitted with this version",
            model.description
        );
    };
    let tokens = automl_data::ReadOptions::default().missing_tokens;
    let frame = model
        .read_input(&a.input, &tokens)
        .with_context(|| format!("reading `{}`", a.input.display()))?;
    let pred = model.predict_frame(&frame)?;
    let opts = DriftOptions {
        alpha: a.alpha,
        ..DriftOptions::default()
    };
    let report = check(profile, &frame, Some((&pred, model.study.task)), &opts)?;
    if !a.no_log {
        let store = a.model.is_none().then_some(&a.store.store);
        let entry = DriftEntry {
            ts_ms: predlog::now_ms(),
            source: "drift".to_string(),
            model: crate::log_arg::model_log_name(a.model.as_deref(), None, model.study.study_id),
            report: serde_json::to_value(&report)?,
        };
        let _ = crate::log_arg::append_or_warn(
            &a.log.resolve(store),
            &LogRecord::Drift(entry),
            "the drift check",
        );
    }
    if a.format.json() {
        print_json(Doc::Drift, serde_json::to_value(&report)?)?;
    } else {
        let head = format!(
            "drift check of {} ({} rows) against the {} ({} training rows)",
            a.input.display(),
            report.n_new,
            model.description,
            report.n_reference
        );
        let mut out = std::io::stdout().lock();
        write!(out, "{}", render(&head, &report))?;
        out.flush()?;
    }
    if report.drift {
        std::process::exit(EXIT_DRIFT);
    }
    Ok(())
}

/// The report as a table.
fn render(head: &str, r: &DriftReport) -> String {
    let mut s = format!("{head}\n\n");
    s.push_str(&format!(
        "{:<20} {:<11} {:<5} {:>9} {:>10} {:>10} {:<16} {:>7}  {}\n",
        "column", "kind", "test", "statistic", "p", "p (holm)", "effect", "psi", "flagged"
    ));
    let row = |t: &TestResult| {
        let effect = match t.effect_name.as_str() {
            "wasserstein_std" => format!("W/std {:.3}", t.effect),
            _ => format!("JS {:.3}", t.effect),
        };
        let mut notes = Vec::new();
        if t.missing_reference > 0.0 || t.missing_new > 0.0 {
            notes.push(format!(
                "missing {:.1} % -> {:.1} %",
                100.0 * t.missing_reference,
                100.0 * t.missing_new
            ));
        }
        if !t.unseen.is_empty() {
            notes.push(format!(
                "unseen: {} ({:.1} % of rows)",
                t.unseen.join(", "),
                100.0 * t.unseen_share
            ));
        }
        format!(
            "{:<20} {:<11} {:<5} {:>9.4} {:>10} {:>10} {:<16} {:>7.3}  {}{}\n",
            t.name,
            t.kind,
            t.test,
            t.statistic,
            fmt_p(t.p_value),
            fmt_p(t.p_adjusted),
            effect,
            t.psi,
            if t.flagged { "DRIFT" } else { "-" },
            if notes.is_empty() {
                String::new()
            } else {
                format!("   {}", notes.join("; "))
            }
        )
    };
    for t in &r.columns {
        s.push_str(&row(t));
    }
    if r.predictions.is_empty() {
        s.push_str("(no prediction drift test: the profile keeps no out-of-fold predictions)\n");
    }
    for t in &r.predictions {
        s.push_str(&row(t));
    }
    let d = &r.domain;
    if d.ran {
        let used: Vec<String> = d
            .top_columns
            .iter()
            .map(|c| format!("{} {:.0} %", c.column, 100.0 * c.share))
            .collect();
        s.push_str(&format!(
            "\ndomain classifier: AUC {:.3} (p {}, holm {}; {}-fold, {} training vs {} new rows){}; used most: {}\n",
            d.auc,
            fmt_p(d.p_value),
            fmt_p(d.p_adjusted),
            d.folds,
            d.n_reference,
            d.n_new,
            if d.flagged { " DRIFT" } else { "" },
            if used.is_empty() {
                "nothing".to_string()
            } else {
                used.join(", ")
            }
        ));
    } else {
        s.push_str(&format!(
            "\ndomain classifier: not run ({})\n",
            d.skipped.as_deref().unwrap_or("?")
        ));
    }
    let n_tests = r.columns.len() + r.predictions.len() + usize::from(d.ran);
    if r.drift {
        s.push_str(&format!(
            "\nDRIFT in: {} (alpha {}, Holm-corrected over {n_tests} tests; exit code 3)\n",
            r.flagged.join(", "),
            r.alpha
        ));
    } else {
        s.push_str(&format!(
            "\nno drift (alpha {}, Holm-corrected over {n_tests} tests)\n",
            r.alpha
        ));
    }
    s
}

fn fmt_p(p: f64) -> String {
    if p == 0.0 {
        "<1e-300".to_string()
    } else if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}
