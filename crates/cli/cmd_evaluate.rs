//! `automl evaluate`: score the model on newly labelled rows and set the result beside its
//! cross-validated estimate, saying whether the gap is beyond what the noise explains.

use crate::args::StoreArgs;
use crate::output::{Doc, FormatArg, fmt_score, print_json};
use anyhow::{Context, Result};
use automl_engine::{LiveEvaluation, ModelChoice, Verdict, evaluate_labeled, load_model};
use clap::Args;
use std::path::PathBuf;

/// The exit code when the live score is worse than the CV estimate beyond noise.
pub const EXIT_WORSE: i32 = 3;

#[derive(Args, Debug)]
#[command(after_help = "\
How it decides: the live score's standard error comes from a seeded bootstrap over the labelled
rows, the CV estimate's from its fold scores (std / sqrt(folds)). The gap is beyond noise when
|live - cv| > 1.96 * sqrt(se_live^2 + se_cv^2), a two-sided test at 5 %.

Exit codes: 0 the live score is within noise of the CV estimate (or better), 3 it is worse
beyond noise (a CI job can gate on it), 2 an error.

Examples:
  automl evaluate --store automl.db labelled-last-week.csv
  automl evaluate --store automl.db --trial 12 labelled.csv --format json
  automl evaluate --model model.automl labelled.csv")]
pub struct EvaluateArgs {
    /// Newly labelled rows: a CSV, Parquet or Arrow IPC file with the training columns and the
    /// study's target column (rows with a missing label are skipped).
    #[arg(value_name = "LABELED")]
    pub input: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Evaluate this trial's fold models (against its own CV estimate) instead of the final model.
    #[arg(long, value_name = "ID")]
    pub trial: Option<u64>,
    /// Use a model file written by `automl export` instead of the store.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trial", "study"])]
    pub model: Option<PathBuf>,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub format: FormatArg,
}

pub fn run(a: EvaluateArgs) -> Result<()> {
    let tokens = automl_data::ReadOptions::default().missing_tokens;
    let model = match &a.model {
        Some(file) => automl_engine::export::read_model_file(file)?,
        None => {
            let store = crate::store_arg::open_models(&a.store.store)?;
            let choice = a
                .trial
                .map(ModelChoice::Trial)
                .unwrap_or(ModelChoice::Final);
            load_model(store.as_ref(), a.study, choice)?
        }
    };
    let cv = automl_engine::evaluate::model_estimate(&model).with_context(|| {
        format!(
            "the {} carries no cross-validated scores to compare with (a model file exported by an older automl: export it again)",
            model.description
        )
    })?;
    let e = evaluate_labeled(&model, &cv, &a.input, &tokens, a.seed)?;
    if a.format.json() {
        print_json(Doc::Evaluate, serde_json::to_value(&e)?)?;
    } else {
        print_table(&e);
    }
    if e.verdict == Verdict::Worse {
        std::process::exit(EXIT_WORSE);
    }
    Ok(())
}

fn print_table(e: &LiveEvaluation) {
    let dir = if e.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    println!("model: {}", e.model);
    println!(
        "rows: {} labelled{}",
        e.rows,
        if e.rows_without_label > 0 {
            format!(" ({} without a label skipped)", e.rows_without_label)
        } else {
            String::new()
        }
    );
    println!(
        "{:<8} {:>10}  {:<24} from",
        e.metric, "score", "95 % interval"
    );
    let row = |name: &str, score: f64, iv: [f64; 2], from: String| {
        let iv = format!("[{}, {}]", fmt_score(iv[0]), fmt_score(iv[1]));
        println!("{name:<8} {:>10}  {iv:<24} {from}", fmt_score(score));
    };
    row(
        "live",
        e.live,
        e.live_interval,
        format!(
            "{} labelled rows (bootstrap se {})",
            e.rows,
            fmt_score(e.live_se)
        ),
    );
    row(
        "cv",
        e.cv,
        e.cv_interval,
        format!("{} folds (std {})", e.cv_folds, fmt_score(e.cv_std)),
    );
    println!(
        "gap: {} ({dir}), z = {:.2}: {}",
        fmt_score(e.gap),
        e.z,
        e.verdict.as_str()
    );
}
