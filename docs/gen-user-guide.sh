#!/usr/bin/env bash
# Regenerates docs/user-guide.md with real output: every command shown is run here, on the
# example data, with the release binary. Usage: bash docs/gen-user-guide.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
REPO="$PWD"
BIN="$PWD/target/release/automl"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp examples/data/churn.csv examples/data/houses.csv "$WORK/"
cd "$WORK"
run() { # run a shell command line, print it and its output (stdout+stderr) as a markdown block
  echo '```'
  echo "\$ $1"
  bash -c "$1" 2>&1 | sed -e "s|$WORK/||g" -e "s|$BIN|automl|g"
  echo '```'
}
export PATH="$(dirname "$BIN"):$PATH"
head -4 churn.csv > new_customers.csv
{
cat <<'MD'
# automl user guide

Every block below is real output, produced by `docs/gen-user-guide.sh` on the example data in
`examples/data/` (timings and trial counts vary from run to run and machine to machine).

## 1. Search: `automl fit`

`automl fit DATA.csv` reads the CSV, prints a data report (column kinds, missing values,
classes, warnings about bad data), then searches candidate models for the time budget
(default 60 s) on all cores, writing every trial to the store (default `./automl.db`). The
target defaults to the last column; the task (binary, multiclass, regression) is inferred.
When stderr is not a terminal, progress is one plain line per finished trial; on a terminal it
is a single live status line. `--quiet` prints only the summary.

Every command that reads data (`fit`, `predict`, `drift`, `evaluate`, `explain`) also reads
Parquet and Arrow IPC (a Feather v2 file or a stream), told by the file's first bytes, not its
name, with the same type inference, missing values and data report as a CSV: numbers and
decimals are numeric (null and NaN are missing), booleans boolean, strings and pandas
categoricals text (the missing tokens apply), dates and timestamps ISO-8601 text (so
`--time-col` works); lists, structs and binary columns are an error naming the column.
`predict`, `drift` and `evaluate` read only the columns the model needs.
`automl predict --output PREDS.parquet` writes Parquet (`prediction`, `proba_<class>`).

MD
run "automl fit churn.csv --time-budget 10 2>&1 | (head -14; echo '...'; tail -8)"
cat <<'MD'

Useful flags: `--target COL`, `--task binary|multiclass|regression`, `--metric M` (binary:
roc_auc, log_loss, accuracy, balanced_accuracy, f1, average_precision; multiclass: log_loss,
accuracy, balanced_accuracy, f1_macro, roc_auc_ovr_macro; regression: rmse, mae, r2),
`--max-trials N`, `--seed N` (same data + seed + `--max-trials` = same leaderboard, with any
`--jobs`), `--jobs N`, `--space FILE|default|fast`, `--strategy auto|bayes|evolution|random`,
`--warm-start STORE_OR_STUDY`, `--keep-models N|all` (default 20: every trial's record is
kept, but only the best 20 trials keep their fold models, plus those the ensemble and the final
model use), `--no-ensemble`, `--no-stacking` (by default a second-layer model is fitted on the
best diverse trials' out-of-fold predictions beside the ensemble, and is the final model when
its nested cross-validated score beats both the ensemble's and picking one trial's; `fit`
prints a `stacking:` line saying which), `--resume`, `--multi-fidelity auto|on|off`, `--memory-limit SIZE`
(default half the machine's memory, whatever `--jobs` is: a candidate whose estimated memory
need is larger fails before it is fitted), `--trial-time-limit SECONDS` (default half the budget: a
trial that is still running 2 s past it — a model that ignores its deadline — is recorded
`timed_out` and the search goes on without it), `--max-memory SIZE` (a bound for the whole
process, none by default: data that cannot fit within it is refused before the search, trials
are admitted only while the bound covers them, and a candidate too big for it runs on fewer
rows), `--portfolio FILE|none` (the configurations `--strategy auto` tries first; default the
shipped `search-spaces/portfolio.toml`, built by `automl portfolio`, see
docs/architecture.md; under a time budget the entries and the default of a model family already
far behind the others on your data, and not cheap to fit, are passed over, so a portfolio chosen
on other datasets does not spend your budget on a family that lost here). Ctrl-C stops asking for new trials, gives running ones a few
seconds, refits the best so far and saves it; a second Ctrl-C quits at once (the store stays
consistent and `automl fit --resume` continues the study).

Validate the way the model will be used. Rows of one entity (a patient, a customer) that
repeat make random folds optimistic — the data report says so when a column looks like such an
id — so `--group-col COL` keeps each value's rows in one fold (stratified-grouped for
classification), which estimates the score on new entities. For a forecast, `--time-col COL
[--gap N]` (numbers or ISO-8601 dates and date-times) makes forward-chaining folds: each fold
trains on strictly earlier rows only (minus the `N` rows just before its validation block; equal
times never straddle a cut) and the most recent block validates last. Neither column is a
feature; the scheme is stored on the study and shown as e.g. `5-fold grouped by patient_id CV`,
and `--resume` with another grouping is refused. The two cannot be combined; too few groups or
distinct times for `--folds`, or a missing value in the column, is an error.

On small data one fold set is a noisy judge: with a few hundred rows, which of two good models
can win by one fold. `--cv-repeats N` repeats the k-fold on N reshuffles of the rows (independent
rows only): every candidate is fitted on all N × k folds and its score is the mean over them
(shown as e.g. `5-fold stratified CV repeated 3 times`). Each trial costs N times as much, so a
time budget buys fewer trials (1.4-4.9 times fewer with N = 3 on six small datasets at 60 s);
it is off (1) by default because on those benchmarks that trade did not pay (BENCHMARKS §35). `--resume` keeps the study's own fold sets.

Errors are one line naming the file, row, column or flag and what to do, with exit code 2:

MD
run "automl fit missing.csv; echo exit code \$?"
run "automl fit houses.csv --metric roc_auc; echo exit code \$?"
cat <<'MD'

## 2. The leaderboard: `automl leaderboard`

Every trial, best first: rank, trial id, family, the metric's mean ± std over the folds, the
other metrics (on the pooled out-of-fold predictions), fit time, predict time per row, model
size, strategy/operator, parent trials, data fidelity (with `, 1 fold` on a first look: on
1,000+ rows too few to halve, `auto` cross-validates a new configuration on one fold first and
promotes the best third to every fold; first looks follow the ranked trials, unranked, and never
become the final model), state and key parameters. Options:
`--top N`, `--family F`, `--state S`, `--sort score|trial|family|fit-time|predict-time|size`,
`--study ID`, `--format table|csv|json|markdown`. It works while a `fit` runs on the same store
(it then reads the snapshot the running search publishes after every trial).

MD
run "automl leaderboard --top 8"
run "automl leaderboard --top 3 --format csv"
run "automl leaderboard --top 1 --format json"
cat <<'MD'

JSON and CSV field names are stable: `rank`, `trial_id`, `family`, `state`, `metric`, `mean`,
`std`, `fold_scores` (JSON), one column per other metric (CSV) or `metrics` (JSON),
`fit_time_s`, `predict_time_per_row_s`, `model_size_bytes`, `strategy`, `operator`, `parents`,
`fidelity`, `folds` (a first look's number of folds; empty or null: every fold), `params`,
`error`, and in JSON `final` (true on the trial the study's final model comes from).

## 3. One trial: `automl show`, `automl compare`

MD
run "automl show \$(automl leaderboard --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"trial_id\"])')"
run "automl compare 0 1"
cat <<'MD'

## 4. Predict: `automl predict`

Uses the study's final model (the winner, or the ensemble when its cross-validated selection
beats picking one trial the same way, or the stacking when it beats both; refit on all training rows as far as the time allows) unless `--trial ID` picks one trial's fold models. Columns are matched by
name; extra columns (such as the target) are ignored; unseen categories and empty cells are
handled; a missing column is an error naming it.

**Probabilities and thresholds.** For classification the final model's probabilities may be
post-processed, chosen on its out-of-fold predictions by *nested* cross-validation: for each
fold, a calibrator (and threshold) is fitted on the other folds' out-of-fold rows and scored on
that fold's rows, so the score after post-processing is as honest as the one before.
`--calibration auto` (default) tries none, Platt scaling (a logistic regression on the logit of
the probability; one-vs-rest and renormalised for multiclass) and isotonic regression, and keeps
the best by the study metric — among the options within noise of the best (paired per-fold
differences within one standard error), the one with the lowest nested log loss; for `roc_auc`
and `average_precision`, which only rank, a calibration is kept only if it lowers nested log
loss without lowering the metric; `none`, `platt` or `isotonic` force one. For binary tasks scored
on hard labels (`--metric accuracy`, `balanced_accuracy`, `f1`), `--threshold auto` (default)
also tunes the cut on P(second class) (`f1` scores the second class in sorted order, e.g. `yes`
of `no`/`yes`); `--threshold none` keeps 0.5 and `--threshold 0.3` fixes it. The winner is
refit on all out-of-fold rows and stored inside the final model, so `predict`, `serve`, and
exported model files apply it (a prediction is the positive class exactly when its probability
is at least the threshold). `fit` prints it (`post-processing: threshold 0.3392 (nested CV f1
0.4644 -> 0.6065)`), `show` prints it for the final trial, and `report` draws a reliability
diagram (observed frequency against mean predicted probability in 10 bins, before and after,
with the rows per bin) beside every option's nested scores. `automl evaluate` still scores hard
labels at 0.5.

MD
run "automl predict new_customers.csv --output preds.csv && cat preds.csv"
cat <<'MD'

## 5. Studies, reports, export

MD
run "automl studies"
run "automl report --output report.md && head -12 report.md"
run "automl export --output model.bin && automl predict new_customers.csv --model model.bin --output p2.csv && cat p2.csv"
cat <<'MD'

`automl report --output report.html` writes one self-contained page with the plots inline.

## 6. The dashboard: `automl ui`

`automl ui [--store DIR] [--port 8765]` serves a local page (no internet needed): the studies,
a sortable leaderboard, score-over-time and best-per-family plots, a trial detail view with
per-fold scores, per-seed fold scores where `fit` measured the seed variance, and lineage,
and a predict form (upload a CSV or type a row). It refreshes while
a search runs. The JSON endpoints behind it are documented in
[crates/ui/README.md](../crates/ui/README.md).

## 7. Search spaces

A search space is a TOML file: one table per model family, one entry per hyperparameter
(`float`/`int` with `low`, `high`, optional `log`; `categorical` with `choices`; `fixed`), a
`default` tried first, optional `when` conditions and per-task parameters. The shipped spaces
are `search-spaces/default.toml` (documented at its top) and `search-spaces/fast.toml`.

The tree families (`gbdt`, `random_forest`, `extra_trees`) and `decision_tree` have a
`class_weight` parameter (`none` | `balanced`: a row of class c weighs n / (k · n_c)), applied by
the trainer as row weights. It is searched only when the target is imbalanced (the smallest
class holds under 20 % of the rows); otherwise the study searches exactly the space without it.

A mistake is reported with the file, key and value:

MD
printf 'version = 1\n[families.knn.params]\nk = { type = "int", low = 9, high = 3, default = 5 }\n' > bad.toml
run "automl fit churn.csv --space bad.toml; echo exit code \$?"
cat <<'MD'

## 8. The library

The same engine embeds as a library, from the one crate `automl_engine`: its `StudyBuilder`
applies what `automl fit` applies (defaults, portfolio, multi-fidelity, validation of the
settings). See `examples/embed.rs` (`cargo run --release --example embed`) and
`examples/custom_strategy.rs` (a search space given as TOML text and a hand-written ask/tell
strategy).

```rust
use automl_engine::{ModelChoice, StudyBuilder, open_store};
let store = open_store(Path::new("automl.db"))?;
let study = StudyBuilder::from_csv("churn.csv").time_budget(30.0).seed(1).create(&store)?;
let summary = study.run(&mut |progress| eprintln!("{} trials, {}", progress.done, progress.phase))?;
let model = automl_engine::load_model(&store, Some(summary.study.study_id), ModelChoice::Final)?;
```

## 9. Many machines: a PostgreSQL store and `automl worker`

Every `--store` also takes a PostgreSQL URL. The `fit` process then becomes the coordinator
of workers that may run anywhere the database is reachable; the training data travels in the
database. The same seed, `--max-trials` and `--parallelism` give the same leaderboard as the
one-process run, with any number of workers (tested: `tests/distributed.rs`,
`tests/slurm/run.sh`). Keep the password out of the command line: `AUTOML_STORE`,
`PGPASSWORD` or `~/.pgpass`.

```
export AUTOML_STORE=postgres://automl_owner@db.example.org/automl?sslmode=verify-full
automl fit churn.csv --remote-workers --parallelism 8 --max-trials 200   # the coordinator
automl worker --jobs 4                       # on each machine (or a Slurm array / Kubernetes Job)
automl leaderboard --top 10                  # live, from anywhere
```

The roles, leases and retries, Slurm and Kubernetes recipes and troubleshooting are in
[docs/distributed.md](distributed.md).

## 10. In production: serve, drift, evaluate, the prediction log

`automl serve` answers HTTP for the study's final model (or `--trial ID`, or an exported
`--model FILE`): JSON records or CSV on `POST /predict`, the Open Inference Protocol v2 under
`/v2/`, Prometheus `/metrics`, `GET /drift` on the recent traffic. It listens on 127.0.0.1
unless `--host` says otherwise and holds no lock on the store. `--shadow ID_OR_FILE` scores a
copy of every request off the request path; `--canary ID_OR_FILE:PCT` answers PCT % of the
traffic with a candidate (sticky by the `X-Request-Key` header), rolled back automatically on
errors or promoted with the admin endpoint. Details: [docs/production.md](production.md).

MD
automl serve --port 8787 > serve.out 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do grep -q '^serving ' serve.out && break; sleep 0.1; done
run "head -1 serve.out"
run "curl -s -X POST http://127.0.0.1:8787/predict -H 'Content-Type: application/json' -d '[{\"tenure_months\": 3, \"monthly_charges\": 80.5, \"contract\": \"month-to-month\", \"internet\": \"fiber\", \"support_calls\": 4, \"paperless\": \"yes\"}]'; echo"
run "curl -s http://127.0.0.1:8787/metrics | grep '^automl_requests_total'"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true
cat <<'MD'

Every served batch and every `automl predict` run is logged in `automl.db/predictions`
(append-only segments, one writer per process; `--log-dir`, `--no-log`, `--log-inputs`), and
`automl serve-report` sums it up (the dashboard's Serving & drift view shows the same):

MD
run "automl serve-report"
cat <<'MD'

The final model keeps a profile of its training data. `automl drift NEW.csv` tests new rows
against it, column by column, for the predictions and with a domain classifier, and exits 3
when it finds drift (0 when not, 2 on an error), so a CI job can gate on it. Here the monthly
charges of the new rows are doubled:

MD
awk -F, 'BEGIN{OFS=","} NR==1{print; next} {if ($2 != "") $2=$2*2; print}' churn.csv > drifted.csv
run "automl drift drifted.csv | (head -12; echo '...'); echo exit code \${PIPESTATUS[0]}"
cat <<'MD'

`automl evaluate LABELED.csv` scores the model on newly labelled rows and sets the result
beside its cross-validated estimate, with an interval for each; it exits 3 when the live score
is worse beyond noise:

MD
run "automl evaluate churn.csv"
cat <<'MD'

## 11. Why: `automl explain`

`automl explain` measures which columns the model relies on: permutation importance on the
held-out folds (each fold's model predicts its own validation rows with one column shuffled;
the importance is how much the metric worsens, mean ± std over folds and repeats), for any
trial including the ensemble, and gain importance for the tree families. `--rows NEW.csv`
gives per-row contributions for tree models (Saabas: the base value plus the contributions is
the model's raw score). `--format csv|json` for machines; `automl report` has the same table.

MD
run "automl explain"
} > "$REPO/docs/user-guide.md"
echo "wrote docs/user-guide.md"
