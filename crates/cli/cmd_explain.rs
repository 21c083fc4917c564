//! `automl explain`: permutation and gain importance of a trial's models, or per-row
//! contributions of a tree trial (`--rows`), as a table, CSV or JSON.

use crate::args::StoreArgs;
use crate::output::{Doc, print_json, table};
use anyhow::{Result, anyhow};
use automl_engine::explain::{
    ContributionReport, ExplainError, ExplainOptions, Explanation, contributions, explain,
};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainFormat {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug)]
#[command(after_help = "\
What the numbers mean:
  importance  Permutation importance: each fold's model predicts its own held-out rows with
              one input column shuffled (--repeats times, seeded); the importance is how much
              the study's metric gets worse (as a loss: higher = more important), mean and
              std over folds x repeats. Works for every trial, ensembles included (each fold
              blends its members' fold models). Near 0 (within its std) = the model does not
              need the column. Correlated columns share importance: shuffling one leaves the
              other to carry the signal, so both can look unimportant.
  gain        Gain importance (gbdt, random_forest, extra_trees): each column's share of the
              total split gain (impurity decrease), one-hot levels and missing indicators
              summed back to their column, averaged over folds. Measured on training rows, it
              favours columns with many distinct values and can credit noise the model
              overfit; permutation importance on held-out rows does not.
  --rows      Per-row contributions (tree families): the Saabas attribution, not TreeSHAP.
              Each split on the row's path from root to leaf credits its column with the
              change in the node's expected value (mean over the fold's training rows), so
              base + sum of contributions = the raw score (regression: the prediction;
              binary gbdt: log-odds; forests: class probability), averaged over the folds.
              Saabas is exact in sum but, unlike SHAP, tends to credit columns split near
              the root more.

The folds are rebuilt as the search built them: from the store's copy of the training data
(remote runs) or the study's training CSV (--data to point elsewhere; a file with other
content is refused).

Examples:
  automl explain --store automl.db
  automl explain --store automl.db --trial 12 --format csv
  automl explain --store automl.db --rows new.csv --top 5")]
pub struct ExplainArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Trial to explain [default: the study's final trial; the ensemble trial when the final
    /// model is an ensemble].
    #[arg(long, value_name = "ID")]
    pub trial: Option<u64>,
    /// The training data (CSV, Parquet or Arrow), when it is no longer at the path the study
    /// was fitted from.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Shuffles per column and fold.
    #[arg(long, default_value_t = 5, value_name = "R", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub repeats: u64,
    /// Seed of the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Explain these rows one by one (per-row contributions; tree families only): a CSV,
    /// Parquet or Arrow IPC file.
    #[arg(long, value_name = "NEW")]
    pub rows: Option<PathBuf>,
    /// With --rows: show the N largest contributions per row (table only) [default: all].
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// With --rows: the class whose score is explained [default: the last class].
    #[arg(long, value_name = "CLASS")]
    pub class: Option<String>,
    /// Output format (`json`: one document on stdout, its shape in docs/json.md).
    #[arg(long, value_enum, default_value = "table")]
    pub format: ExplainFormat,
}

fn with_flag(e: ExplainError) -> anyhow::Error {
    match e {
        ExplainError::DataMissing { study, path } => anyhow!(
            "the training data of study {study} is not at `{}`; pass the file with --data FILE",
            path.display()
        ),
        ExplainError::DataChanged { study, path } => anyhow!(
            "`{}` is not the data study {study} was fitted on (its content differs); pass the original file with --data FILE",
            path.display()
        ),
        e => e.into(),
    }
}

pub fn run(a: ExplainArgs) -> Result<()> {
    let store = crate::store_arg::open_models(&a.store.store)?;
    if let Some(rows) = &a.rows {
        let r = contributions(
            store.as_ref(),
            a.study,
            a.trial,
            a.data.as_deref(),
            rows,
            a.class.as_deref(),
        )
        .map_err(with_flag)?;
        return print_rows(&r, a.format, a.top);
    }
    let opts = ExplainOptions {
        repeats: a.repeats as usize,
        seed: a.seed,
        max_rows_per_fold: None,
        data: a.data.clone(),
        time_limit: None,
    };
    let e = explain(store.as_ref(), a.study, a.trial, &opts).map_err(with_flag)?;
    print_importance(&e, a.format)
}

fn num(x: f64) -> String {
    format!("{x:.6}")
}

fn print_importance(e: &Explanation, format: ExplainFormat) -> Result<()> {
    match format {
        ExplainFormat::Json => print_json(Doc::Explain, serde_json::to_value(e)?)?,
        ExplainFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record(["column", "importance", "std", "gain"])?;
            for c in &e.columns {
                w.write_record([
                    c.column.clone(),
                    num(c.importance),
                    num(c.std),
                    c.gain.map(num).unwrap_or_default(),
                ])?;
            }
            w.flush()?;
        }
        ExplainFormat::Table => {
            println!(
                "trial {} ({}) of study {}: {} = {:.6} on {} held-out rows ({} folds x {} shuffles per column; data: {})",
                e.trial_id,
                e.family,
                e.study_id,
                e.metric,
                e.baseline,
                e.rows,
                e.folds,
                e.repeats,
                e.data_source
            );
            let has_gain = e.columns.iter().any(|c| c.gain.is_some());
            let mut rows = vec![vec![
                "column".to_string(),
                "importance".into(),
                "± std".into(),
            ]];
            if has_gain {
                rows[0].push("gain".into());
            }
            for c in &e.columns {
                let mut r = vec![c.column.clone(), num(c.importance), num(c.std)];
                if has_gain {
                    r.push(c.gain.map(|g| format!("{g:.4}")).unwrap_or_default());
                }
                rows.push(r);
            }
            print!("{}", table(&rows));
            println!(
                "importance: the increase of {} (as a loss) when the column is shuffled; see `automl explain --help`",
                e.metric
            );
        }
    }
    Ok(())
}

fn print_rows(r: &ContributionReport, format: ExplainFormat, top: Option<usize>) -> Result<()> {
    match format {
        ExplainFormat::Json => print_json(Doc::ExplainRows, serde_json::to_value(r)?)?,
        ExplainFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            let mut header = vec!["row".to_string(), "raw".into(), "base".into()];
            header.extend(r.columns.iter().cloned());
            w.write_record(&header)?;
            for row in &r.rows {
                let mut rec = vec![row.row.to_string(), num(row.raw), num(row.base)];
                rec.extend(row.contributions.iter().map(|v| num(*v)));
                w.write_record(&rec)?;
            }
            w.flush()?;
        }
        ExplainFormat::Table => {
            println!(
                "trial {} ({}) of study {}: contributions to the {} (Saabas; base + contributions = raw)",
                r.trial_id, r.family, r.study_id, r.output
            );
            for row in &r.rows {
                println!(
                    "row {}: raw {:.6} = base {:.6} + contributions",
                    row.row, row.raw, row.base
                );
                let mut order: Vec<usize> = (0..r.columns.len()).collect();
                order.sort_by(|&a, &b| {
                    row.contributions[b]
                        .abs()
                        .total_cmp(&row.contributions[a].abs())
                        .then(a.cmp(&b))
                });
                let n = top.unwrap_or(order.len()).min(order.len());
                let mut t = vec![vec!["  column".to_string(), "contribution".into()]];
                for &j in &order[..n] {
                    t.push(vec![
                        format!("  {}", r.columns[j]),
                        format!("{:+.6}", row.contributions[j]),
                    ]);
                }
                print!("{}", table(&t));
            }
        }
    }
    Ok(())
}
