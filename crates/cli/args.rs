//! Command-line arguments (clap derive). This is the contract the benchmark tools rely on.

use crate::output::FormatArg;
use automl_engine::KeepModels;
use automl_store::StoreLocation;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `automl --version`: the crate version and the commit the binary was built from (`build.rs`;
/// "unknown commit" outside a git checkout). Uncommitted changes are not shown.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("AUTOML_GIT_COMMIT"),
    ")"
);

/// AutoML model search for tabular data: give it a CSV, it searches many candidate models with
/// honest cross-validation, stores every evaluated model, and predicts with the winner.
#[derive(Parser, Debug)]
#[command(name = "automl", version = VERSION, about, long_about = None, after_help = "\
Typical use:
  automl fit examples/data/churn.csv                 # search for 60 s, store in ./automl.db
  automl leaderboard                                 # every candidate, best first
  automl show 3                                      # everything about trial 3
  automl predict new.csv --output preds.csv          # predict with the final model

On many machines (docs/distributed.md):
  automl fit data.csv --store postgres://automl@db/automl --remote-workers --parallelism 16
  automl worker --store postgres://automl@db/automl --jobs 4      # on each machine")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Search for the best model for a CSV, Parquet or Arrow file and store every trial.
    Fit(Box<FitArgs>),
    /// List the trials of a study, best first.
    Leaderboard(LeaderboardArgs),
    /// Show everything stored about one trial.
    Show(ShowArgs),
    /// Predict a CSV, Parquet or Arrow file with the final model of a study (or one trial's
    /// models).
    #[command(after_help = "\
Every batch is logged in the prediction log (time, model, a hash of each input row, the
outputs, the latency) unless --no-log; `automl serve-report` and the dashboard read it.
The log is STORE/predictions for a store directory, ./automl-predictions for a PostgreSQL
store or --model FILE, or --log-dir DIR.")]
    Predict(PredictArgs),
    /// List the studies (search runs) in a store.
    Studies(StudiesArgs),
    /// Show two trials' parameters and per-fold scores side by side.
    Compare(CompareArgs),
    /// Write a self-contained model file that `automl predict --model FILE` uses without the store.
    Export(ExportArgs),
    /// Write a study report (leaderboard, data report, plots) as markdown or HTML.
    Report(ReportArgs),
    /// Serve the local web dashboard: studies, leaderboard, plots, trial details and predictions.
    Ui(crate::cmd_ui::UiArgs),
    /// Build a zero-shot portfolio file from the studies in some stores (by CV scores only).
    Portfolio(PortfolioArgs),
    /// Evaluate trials queued by `automl fit --remote-workers` on a shared (PostgreSQL) store.
    Worker(WorkerArgs),
    /// Score the model on newly labelled rows beside its cross-validated estimate (exit 3 when worse beyond noise).
    Evaluate(crate::cmd_evaluate::EvaluateArgs),
    /// Which input columns a trial's models rely on (permutation and gain importance), or
    /// per-row contributions of a tree model (`--rows`).
    Explain(crate::cmd_explain::ExplainArgs),
    /// Summarise the prediction log: per-model requests, errors and latency, shadow agreement,
    /// canary share, the latest drift check and the recent events.
    #[command(after_help = "\
The prediction log is written by `automl predict` (every batch) and `automl serve` (every
request, with the shadow's and canary's answers, events and drift checks). It lives in
STORE/predictions for a store directory, ./automl-predictions for a PostgreSQL store or a
model file, or where --log-dir says.

Figures:
  error rate        failed batches / batches, per model
  p50 / p99 ms      latency percentiles (nearest rank) over a model's batches
  shadow agreement  rows whose shadow output equals the answer sent for the same request
                    (class labels equal; numbers within 1e-9 relative)
  canary share      requests the canary answered / all answered requests

Examples:
  automl serve-report                                # the log of ./automl.db
  automl serve-report --since 1h --model study-3
  automl serve-report --log-dir automl-predictions --format json")]
    ServeReport(crate::cmd_serve_report::ServeReportArgs),
    /// Check new rows for drift against the final model's training data (exit 3 on drift).
    Drift(crate::cmd_drift::DriftArgs),
    /// Serve a model over HTTP: JSON/CSV `POST /predict`, the Open Inference Protocol v2,
    /// Prometheus `/metrics`, with an optional shadow and canary.
    Serve(Box<crate::cmd_serve::ServeArgs>),
}

#[derive(Args, Debug)]
pub struct StudiesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Args, Debug)]
pub struct PortfolioArgs {
    /// Stores to read, directories or PostgreSQL URLs (every study in each is used).
    #[arg(value_name = "STORE", required = true, value_parser = crate::store_arg::parse_location)]
    pub stores: Vec<StoreLocation>,
    /// Configurations taken from each study.
    #[arg(long, default_value_t = 3)]
    pub per_study: usize,
    /// Largest number of configurations in the portfolio (with `--select`: per task).
    #[arg(long, default_value_t = 36)]
    pub size: usize,
    /// Choose from a score matrix instead of taking each study's best: STORE holds `automl fit
    /// --portfolio POOL --max-trials N` runs (no time budget, so every configuration runs), one
    /// study per dataset (named after it), that
    /// cross-validated the pool's configurations on every dataset of their task. The portfolio
    /// is built greedily by normalised regret, preferring configurations good on every dataset.
    #[arg(long, value_name = "POOL")]
    pub select: Option<PathBuf>,
    /// With `--select`: also build, for every dataset, the portfolio without it (nor the
    /// configurations found on it) into DIR/<dataset>.toml, and report its regret on the
    /// held-out dataset beside the in-sample one.
    #[arg(long, value_name = "DIR", requires = "select")]
    pub leave_one_out: Option<PathBuf>,
    /// With `--select`: a configuration whose cross-validation fits took longer than SECONDS in
    /// total on a dataset counts as failed there. A time-budgeted search stops such a trial at
    /// its time limit (half the budget at most), so a portfolio should not lean on it: on ames
    /// a 258-tree random forest was the matrix's best and timed out in every 60 s run.
    #[arg(long, value_name = "SECONDS", requires = "select")]
    pub max_fit_seconds: Option<f64>,
    /// With `--select`: choose by the anytime regret of running the portfolio's members in
    /// order for SECONDS of fit time (summed over folds and workers, as the matrix measured it)
    /// on each dataset: the mean over that time of the best regret reached so far. A cheap good
    /// configuration then comes before an expensive slightly better one, and one that would
    /// only finish past SECONDS is worth nothing there. The default, 60, is half the
    /// worker-seconds of a 60 s search on two cores. 0 chooses by the best regret alone,
    /// whatever the members cost.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        requires = "select"
    )]
    pub anytime_seconds: f64,
    /// The portfolio file to write.
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "search-spaces/portfolio.toml"
    )]
    pub output: PathBuf,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// First trial id.
    pub a: u64,
    /// Second trial id.
    pub b: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Export this trial's fold models instead of the final model.
    #[arg(long, value_name = "ID")]
    pub trial: Option<u64>,
    /// The model file to write.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub format: FormatArg,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Output file: `.html` gives a self-contained page with inline plots, anything else markdown
    /// (plots written beside it as SVG files).
    #[arg(long, short, value_name = "FILE", default_value = "automl-report.md")]
    pub output: PathBuf,
    /// The training data (CSV, Parquet or Arrow) for the feature importance section, when it is no longer at the path
    /// the study was fitted from.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub format: FormatArg,
}

/// Where the store is.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// The store holding every study and trial: a directory (an embedded database, one
    /// process at a time) or a PostgreSQL URL `postgres://USER@HOST:PORT/DB?sslmode=MODE`
    /// (shared by a coordinator, its workers and readers; see docs/distributed.md). Keep the
    /// password out of the command line: in the AUTOML_STORE variable, ~/.pgpass or PGPASSWORD.
    /// It is never printed.
    #[arg(
        long,
        value_name = "DIR|URL",
        default_value = "automl.db",
        env = "AUTOML_STORE",
        hide_env_values = true,
        value_parser = crate::store_arg::parse_location
    )]
    pub store: StoreLocation,
}

/// `--keep-models`: a number of trials or `all`.
fn parse_keep_models(s: &str) -> Result<KeepModels, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is neither a number of trials nor `all`"))
}

/// `automl fit --select`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectArg {
    /// The best score.
    Best,
    /// The most stable trial tied with the best (needs --seed-variance above 0).
    Stable,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiFidelityArg {
    Auto,
    On,
    Off,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskArg {
    Binary,
    Multiclass,
    Regression,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Training data: a CSV file with a header row, a Parquet file or an Arrow IPC file or
    /// stream (told by the file's first bytes, not its name).
    #[arg(value_name = "TRAIN")]
    pub train: PathBuf,
    /// Target column name [default: the last column].
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Task [default: inferred from the target column].
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Metric to optimise [default: roc_auc (binary), log_loss (multiclass), rmse (regression)].
    /// Binary: roc_auc, log_loss, accuracy, balanced_accuracy, f1, average_precision.
    /// Multiclass: log_loss, accuracy, balanced_accuracy, f1_macro, roc_auc_ovr_macro.
    /// Regression: rmse, mae, r2.
    #[arg(long, value_name = "M")]
    pub metric: Option<String>,
    /// Wall-clock budget in seconds for the whole fit, final refit included
    /// [default: 60, or unlimited when only --max-trials is given].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub time_budget: Option<f64>,
    /// Stop after this many trials.
    #[arg(long, value_name = "N")]
    pub max_trials: Option<u64>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Seed: the same data, seed and --max-trials give the same leaderboard.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Candidates fitted in parallel [default: all cores].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Search space: a TOML file, or the name of a shipped space (`default`, `fast`).
    #[arg(long, value_name = "FILE", default_value = "default")]
    pub space: String,
    /// Search strategy: `auto` (a zero-shot portfolio and the defaults of every family first,
    /// then Bayesian (TPE) search, with successive halving over data size on larger data),
    /// `bayes`, `evolution` or `random`.
    #[arg(long, value_name = "S", default_value = "auto")]
    pub strategy: String,
    /// Start with the best configurations of an earlier study: a study id in --store, or the
    /// path of another store (its latest study).
    #[arg(long, value_name = "STORE_OR_STUDY")]
    pub warm_start: Option<String>,
    /// The zero-shot portfolio that `--strategy auto` tries first: a file written by `automl
    /// portfolio`, or `none` for no portfolio [default: the shipped one,
    /// search-spaces/portfolio.toml]. Entries for other tasks are skipped. Under a time budget,
    /// the entries (and the default) of a family already far behind the others on this data
    /// and not cheap are passed over; without one, every entry runs.
    #[arg(long, value_name = "FILE|none")]
    pub portfolio: Option<String>,
    /// Successive halving over data size: `auto` (on when folds have at least 3000 training
    /// rows), `on` or `off`. On big data (100k training rows per fold) under a time budget,
    /// trials start on 10k-30k rows, and after 45 % of the budget the best configurations are
    /// refitted on as many rows as the time left allows (operator `push` in the leaderboard).
    /// With `auto` on 1000+ rows whose folds are too small to halve, it halves over folds
    /// instead: a new configuration is first cross-validated on one fold, and the best third
    /// of those on every fold (`promote`); first looks are listed unranked (`folds` = 1) and
    /// never become the final model. Under a time budget, a promotion predicted to fit for more
    /// than half the search time left is passed over. `off` turns both off.
    #[arg(long, value_name = "MODE", value_enum, default_value = "auto")]
    pub multi_fidelity: MultiFidelityArg,
    /// Keep the fitted fold models of the best N trials only, or of `all` trials. Every
    /// trial's record (parameters, scores, timings) is always kept; as the search goes, a trial
    /// outside the best N (at least the 20 ensemble candidates while searching) loses its fold
    /// models, so the store does not grow with the number of trials. The models the ensemble
    /// and the final model are made of are always kept.
    #[arg(long, value_name = "N|all", default_value_t = KeepModels::default(), value_parser = parse_keep_models)]
    pub keep_models: KeepModels,
    /// Per-trial memory limit, e.g. `4GB` or `512MB`: a candidate whose estimated memory need
    /// is larger fails before it is fitted. The limit is stored with the study and does not depend on
    /// --jobs; running trials together stay within half the memory (a large one waits for others
    /// to finish) [default: half the machine's memory].
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Whole-process memory bound, e.g. `2GB`: data that cannot be searched within it is
    /// refused before any trial (exit 2: the loaded data plus its folds, bins and out-of-fold
    /// predictions); trials are admitted only while this process's resident memory at the
    /// start of the search plus the running trials' estimates stay under it, and a candidate
    /// that would not fit runs on fewer rows (a lower fidelity). --memory-limit stays the
    /// per-trial limit [default: none, no bound beyond --memory-limit].
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Per-trial time limit in seconds: a trial gets at most this long, and one still running
    /// 2 s past it (a model that ignores its deadline) is recorded timed_out and left behind so
    /// the search goes on [default: half of --time-budget; none without a time budget].
    #[arg(long, value_name = "SECONDS")]
    pub trial_time_limit: Option<f64>,
    /// Do not build an ensemble of the best trials at the end (by default one is built and
    /// used when its selection, cross-validated, beats picking the single best trial the same
    /// way; its members are refit on all rows as far as the time allows).
    #[arg(long)]
    pub no_ensemble: bool,
    /// Do not fit a stacking beside the ensemble (by default a second-layer model is fitted on
    /// the best diverse trials' out-of-fold predictions and used when its nested
    /// cross-validated score beats both the ensemble's and picking one trial's).
    #[arg(long)]
    pub no_stacking: bool,
    /// Keep no sample of training rows in the final model's reference profile (by default a
    /// seeded sample of up to 10 000 rows is kept, in the store and in exported model files,
    /// for `automl drift`; without it the drift tests use quantile sketches and level counts
    /// and the domain classifier does not run).
    #[arg(long)]
    pub no_profile_sample: bool,
    /// After the search, refit the best N trials with 3 other model seeds on the same folds
    /// (seed_std: std of the mean score over the 4 seeds; churn: share of out-of-fold
    /// predictions that change with the seed, for regression by more than 1 % of the target's
    /// std) and with their own seed on 2 reshuffled fold sets (split_std; not with
    /// --time-col). At most 10 % of --time-budget; trials that do not fit are skipped. 0: off.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub seed_variance: usize,
    /// Which trial becomes the final model when no ensemble is used. best: the best score.
    /// stable: among the trials tied with the leader (|score - leader| <= noise, noise =
    /// max(sqrt(seed_std_leader^2 + seed_std^2), the leader's std/sqrt(folds))), the lowest
    /// seed_std + churn (then the better score, then the lower trial id).
    #[arg(long, value_enum, default_value_t = SelectArg::Best)]
    pub select: SelectArg,
    /// Calibration of the final model's class probabilities, fitted on its out-of-fold
    /// predictions: auto (none, Platt or isotonic by nested cross-validation: each fold scored
    /// with a calibrator fitted on the other folds; the best metric, and among options within
    /// noise of it the lowest log loss; for roc_auc / average_precision kept only if it lowers
    /// nested log loss without lowering the metric), none, platt (logistic on the logit;
    /// one-vs-rest for multiclass) or isotonic.
    #[arg(long, value_name = "auto|none|platt|isotonic", default_value = "auto")]
    pub calibration: String,
    /// Decision threshold on P(positive class) for binary tasks: auto (tuned by the same
    /// nested cross-validation when the metric scores hard labels: accuracy,
    /// balanced_accuracy, f1; otherwise 0.5), none (0.5) or a probability such as 0.3.
    #[arg(long, value_name = "auto|none|P", default_value = "auto")]
    pub threshold: String,
    /// Number of cross-validation folds.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub folds: usize,
    /// Repeat the k-fold on N reshuffles of the rows (repeated CV): every candidate is fitted
    /// and scored on every fold of every set and its score is the mean over all folds, so one
    /// fold set's quirks weigh less in which model wins. Each trial costs N times as much:
    /// measured on six datasets under 1000 rows at 60 s, N = 3 gave 1.4-4.9 times fewer trials
    /// and no test score better beyond noise, hence the default 1. The ensemble and the stacking learn
    /// from the first set's out-of-fold predictions. Independent rows only: grouped,
    /// time-ordered and holdout validation are never repeated. A resumed study keeps its sets.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub cv_repeats: usize,
    /// Keep the rows sharing a value of COL in one fold (grouped folds; stratified-grouped for
    /// classification), as when the model will predict for new entities. COL is not a feature.
    #[arg(long, value_name = "COL")]
    pub group_col: Option<String>,
    /// Validate forward in time by COL (numbers or ISO-8601 dates): each fold trains on
    /// strictly earlier rows only, the most recent block validates last. COL is not a feature.
    #[arg(long, value_name = "COL")]
    pub time_col: Option<String>,
    /// With --time-col: rows (in time order) left out between the training rows and each
    /// validation block.
    #[arg(long, value_name = "N")]
    pub gap: Option<usize>,
    /// Keep COL as a feature even if the data checks would exclude it (a column that alone
    /// predicts the target almost perfectly in cross-validation, or an identifier).
    /// Repeatable. A --resume must keep the same columns as the study's start.
    #[arg(long = "keep-col", value_name = "COL")]
    pub keep_col: Vec<String>,
    /// Continue the latest study in the store (or --study ID) instead of starting a new one.
    #[arg(long)]
    pub resume: bool,
    /// Study to resume (with --resume).
    #[arg(long, value_name = "ID", requires = "resume")]
    pub study: Option<u64>,
    /// Study name [default: the file name].
    #[arg(long)]
    pub name: Option<String>,
    /// Let `automl worker` processes evaluate the trials (needs a PostgreSQL --store): this
    /// process becomes the coordinator. It asks the strategy, queues the candidates, records
    /// the results, builds the ensemble and refits the final model; it evaluates trials itself
    /// only with --jobs N (N local lanes beside the workers).
    #[arg(long)]
    pub remote_workers: bool,
    /// At most W trials in flight, and the strategy sees a trial's result W trials later:
    /// with --max-trials, the k-th trial is asked once trials 0..k-W are recorded. Set it to
    /// the number of lanes you plan (workers x their --jobs). Stored with the study: the same
    /// seed, --max-trials and W give the same leaderboard with any --jobs and any number of
    /// workers. Under --time-budget alone the search does not wait for a slow trial (the
    /// strategy learns its result once it finishes), so which trials run depends on timing
    /// [default: 6].
    #[arg(long, value_name = "W")]
    pub parallelism: Option<usize>,
    /// Print only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// The final summary as `table` text or one `json` document on stdout (docs/json.md);
    /// the data report and the progress go to stderr either way.
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::output::OutputFormat,
}

/// `automl worker`: evaluate queued trials of a shared store.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Work on this study only; wait for it to be created if it does not exist yet, and exit
    /// when it ends [default: trials of any study, oldest first].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Trials evaluated at once by this worker (its lanes).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Without --study: exit after this many seconds with nothing queued.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Lease on a claimed trial, seconds: renewed every third of it while the trial runs; a
    /// trial whose lease runs out (worker killed, machine lost) is queued again for another
    /// worker (up to 3 claims, then recorded failed).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub lease: f64,
    /// The worker's name in the queue and in the trial records [default: HOST:PID].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Print only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct LeaderboardArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    /// Show only the best N rows.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Output format (`json`: an array of rows, its shape in docs/json.md).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Only trials of this model family.
    #[arg(long)]
    pub family: Option<String>,
    /// Only trials in this state (complete, failed, timed_out, interrupted, running).
    #[arg(long)]
    pub state: Option<String>,
    /// Order of the rows: score (best first), trial, family, fit_time, predict_time, size.
    #[arg(long, value_enum, default_value = "score")]
    pub sort: SortKey,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Score,
    Trial,
    Family,
    FitTime,
    PredictTime,
    Size,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Trial id (as in the leaderboard).
    #[arg(value_name = "TRIAL_ID")]
    pub trial: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    #[command(flatten)]
    pub format: FormatArg,
    /// The same as `--format json` (the trial record, docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Rows to predict: a CSV, Parquet or Arrow IPC file with the training columns (any order;
    /// extra columns such as the target are ignored, and not read from Parquet or Arrow).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Where to write the predictions: `prediction`, and `proba_<class>` per class; Parquet
    /// when the name ends in `.parquet`, CSV otherwise.
    #[arg(long, short, value_name = "PREDS.csv|PREDS.parquet")]
    pub output: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Use a model file written by `automl export` instead of the store.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trial", "study"])]
    pub model: Option<PathBuf>,
    /// Use this trial's fold models instead of the final model.
    #[arg(long, value_name = "ID")]
    pub trial: Option<u64>,
    /// Study id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub study: Option<u64>,
    #[command(flatten)]
    pub log: crate::log_arg::LogDirArgs,
    /// Do not log this batch in the prediction log.
    #[arg(long, conflicts_with = "log_inputs")]
    pub no_log: bool,
    /// Also log the input rows themselves (by default only a hash of each row is logged).
    #[arg(long)]
    pub log_inputs: bool,
    /// The summary (rows, predictions file, model, log) as `table` text on stderr or one
    /// `json` document on stdout (docs/json.md).
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::output::OutputFormat,
}
