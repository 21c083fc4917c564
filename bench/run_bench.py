#!/usr/bin/env python3
"""Benchmark harness for the `automl` binary on the shared tabular suite.

Run from the repository root with the bench venv (pandas is needed by the scorer):

    .venv/bin/python bench/run_bench.py --budget 60 --markdown bench-out/bench.md

Three modes:
  (default)                     fit / predict / score every dataset at --budget seconds and put
                                the result next to the peer tools (FLAML, scikit-learn, AutoGluon)
  --jobs-compare a,b,c          fit the named datasets with --jobs 1 and --jobs 2 at the same
                                budget; report completed trials for each and the median ratio
  --strategies s1,s2 --seeds K --max-trials N
                                fit every dataset x seed x strategy with a fixed trial budget,
                                score on test, report each strategy's mean rank

`--binary` is a command string, so `--binary "python3 bench/fake_automl.py"` runs the harness
against the stand-in (the harness's self-test; see bench/README.md).

Only the standard library is used here; the scorer (shared/bench/score_predictions.py) is run
with the same interpreter and needs pandas / numpy / scikit-learn.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "bench", "data"))
ALL_DATASETS = [
    "breast_cancer", "titanic", "telco_churn",
    "iris", "penguins", "digits", "rodents",
    "hitters", "diabetes", "ames", "bikeshare", "diamonds",
]
LOWER_IS_BETTER = {"rmse", "log_loss", "mae"}
HIGHER_IS_BETTER = {"roc_auc", "accuracy", "balanced_accuracy", "r2"}
COMPLETE_STATES = {"complete"}
FAILED_STATES = {"failed", "timed_out", "interrupted"}
PEER_COLUMNS = [  # (result key, tool, budget, column header)
    ("flaml10", "flaml", 10.0, "FLAML@10"),
    ("flaml60", "flaml", 60.0, "FLAML@60"),
    ("rf", "sklearn-rf", None, "sk-RF"),
    ("hgb", "sklearn-hgb", None, "sk-HGB"),
    ("ag60", "autogluon", 60.0, "AG@60"),
    ("constant", "constant", None, "const"),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- metric direction

def lower_is_better(metric: str) -> bool:
    if metric in LOWER_IS_BETTER:
        return True
    if metric in HIGHER_IS_BETTER:
        return False
    raise ValueError(f"unknown metric {metric!r}: add it to LOWER_IS_BETTER or HIGHER_IS_BETTER")


def is_better(metric: str, a: float, b: float) -> bool:
    """a strictly better than b."""
    return a < b if lower_is_better(metric) else a > b


def at_least_as_good(metric: str, a: float, b: float) -> bool:
    return a <= b if lower_is_better(metric) else a >= b


def rel_worse(metric: str, ours: float, ref: float) -> float:
    """Relative shortfall of ours vs ref (positive = ours is worse, negative = better)."""
    denom = abs(ref) if ref != 0 else 1e-12
    return (ours - ref) / denom if lower_is_better(metric) else (ref - ours) / denom


def fmt_num(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.4f}"


def fmt_s(v) -> str:
    """Seconds: two decimals below 10 s, one below 100 s, whole seconds above."""
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def fmt_r(v) -> str:
    """Ranks and ratios: two decimals."""
    return "—" if v is None else f"{v:.2f}"


def fmt_flag(v) -> str:
    return "—" if v is None else ("yes" if v else "no")


# --------------------------------------------------------------------------- machine state

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            a, b, c = f.read().split()[:3]
        return float(a), float(b), float(c)
    except (OSError, ValueError):
        try:
            return os.getloadavg()
        except OSError:
            return None


def cpu_stat():
    """(busy jiffies, total jiffies) of the whole machine, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v) - idle, sum(v)
    except (OSError, ValueError, IndexError):
        return None


def busy_share(sample_s: float = 2.0):
    """Share of the machine's CPU that was busy during sample_s seconds."""
    a = cpu_stat()
    time.sleep(sample_s)
    b = cpu_stat()
    if not a or not b or b[1] <= a[1]:
        return None
    return round((b[0] - a[0]) / (b[1] - a[1]), 3)


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- subprocess

class RunResult:
    def __init__(self, rc, wall_s, stdout, stderr, timed_out, foreign, error=None):
        self.rc = rc
        self.wall_s = wall_s
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.foreign_cpu_share = foreign
        self.error = error

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out and self.error is None

    def describe_failure(self, what: str) -> str:
        if self.error:
            return f"{what}: {self.error}"
        if self.timed_out:
            return f"{what}: killed after timeout ({self.wall_s:.0f}s)"
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-3:]
        return f"{what}: exit {self.rc}: " + " | ".join(tail)[:300]


def run_cmd(cmd: list[str], timeout_s: float, log_path: str | None = None) -> RunResult:
    """Run cmd in its own process group; kill the whole group after timeout_s.
    Measures wall time and the share of machine CPU used by other processes."""
    snap0, own0 = cpu_stat(), children_cpu_s()
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             errors="replace", start_new_session=True)
    except OSError as e:
        return RunResult(None, 0.0, "", "", False, None, error=f"cannot start {cmd[0]!r}: {e}")
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        out, err = "", ""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                out, err = p.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            p.kill()
            p.wait()
    wall = time.monotonic() - t0
    snap1, own1 = cpu_stat(), children_cpu_s()
    foreign = None
    if snap0 and snap1 and snap1[1] > snap0[1]:
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        own_j = (own1 - own0) * tick
        foreign = round(max(0.0, ((snap1[0] - snap0[0]) - own_j) / (snap1[1] - snap0[1])), 3)
    if log_path:
        with open(log_path, "w") as f:
            f.write(f"$ {shlex.join(cmd)}\n# exit={p.returncode} wall={wall:.2f}s timed_out={timed_out}\n")
            f.write("--- stdout\n" + (out or "") + "\n--- stderr\n" + (err or "") + "\n")
    return RunResult(p.returncode, wall, out or "", err or "", timed_out, foreign)


# --------------------------------------------------------------------------- inputs

def load_manifest(data_dir: str, name: str) -> dict:
    with open(os.path.join(data_dir, name, "manifest.json")) as f:
        return json.load(f)


def load_peers(path: str) -> dict:
    """(dataset, tool, budget) -> least disturbed error-free peer row."""
    peers: dict = {}
    if not path or not os.path.exists(path):
        log(f"warning: peers file {path!r} not found; peer columns stay empty")
        return peers
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("error"):
                continue
            b = r.get("budget_s")
            key = (r["dataset"], r["tool"], float(b) if b is not None else None)
            old = peers.get(key)
            share = r.get("foreign_cpu_share") or 0.0
            if old is None or share < (old.get("foreign_cpu_share") or 0.0):
                peers[key] = r
    return peers


def peer_score(peers: dict, dataset: str, tool: str, budget, metric: str):
    r = peers.get((dataset, tool, budget))
    return None if r is None else r.get(metric)


def flaml_at_budget(peers: dict, dataset: str, budget: float, metric: str):
    """FLAML at our budget: the exact budget if measured, else the largest measured budget
    below it. Returns (budget used, score) or (None, None)."""
    budgets = sorted(b for (d, t, b) in peers if d == dataset and t == "flaml" and b is not None)
    cands = [b for b in budgets if b <= budget + 1e-9]
    if not cands:
        return None, None
    b = cands[-1]
    return b, peer_score(peers, dataset, "flaml", b, metric)


# --------------------------------------------------------------------------- one automl run

class Harness:
    def __init__(self, args):
        self.args = args
        self.binary = shlex.split(args.binary)
        if self.binary and not os.path.exists(self.binary[0]) and not shutil.which(self.binary[0]):
            alt = os.path.join(REPO_ROOT, self.binary[0])
            if os.path.exists(alt):  # e.g. target/release/automl when run from outside the repo root
                self.binary[0] = alt
        self.data_dir = os.path.abspath(args.data)
        self.out_dir = os.path.abspath(args.out)
        self.scorer = args.scorer or os.path.join(os.path.dirname(self.data_dir), "score_predictions.py")
        self.extra = shlex.split(args.extra_args) if args.extra_args else []

    def fresh_dir(self, *parts) -> str:
        d = os.path.join(self.out_dir, *parts)
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
        return d

    def fit(self, name, man, work, budget, jobs, seed, strategy=None, max_trials=None) -> tuple:
        store = os.path.join(work, "store")
        cmd = self.binary + ["fit", os.path.join(self.data_dir, name, "train.csv"),
                             "--target", man["target"], "--task", man["task"],
                             "--store", store, "--seed", str(seed), "--jobs", str(jobs)]
        # budget None: a pure trial budget (strategies mode), so the search is deterministic
        # and independent of machine load; self.kill_after_s bounds the run instead.
        if budget is not None:
            cmd += ["--time-budget", str(budget)]
        if strategy:
            cmd += ["--strategy", strategy]
        if max_trials is not None:
            cmd += ["--max-trials", str(max_trials)]
        # The study is named after the dataset (`automl portfolio --select` matches by name).
        cmd += ["--name", name]
        if self.args.portfolio_dir:
            # Leave-one-out: the portfolio built without this dataset (bench/portfolio_loo.py).
            cmd += ["--portfolio", os.path.join(os.path.abspath(self.args.portfolio_dir), name + ".toml")]
        cmd += self.extra
        return store, run_cmd(cmd, self.timeout(budget), os.path.join(work, "fit.log"))

    def predict(self, name, store, work, budget) -> tuple:
        preds = os.path.join(work, "preds.csv")
        cmd = self.binary + ["predict", "--store", store,
                             os.path.join(self.data_dir, name, "test.csv"), "--output", preds]
        return preds, run_cmd(cmd, self.timeout(budget), os.path.join(work, "predict.log"))

    def timeout(self, budget) -> float:
        """Seconds after which a fit or predict process is killed."""
        return self.args.budget * 3 + 60 if budget is None else budget * 3 + 60

    def score(self, name, preds, work) -> tuple:
        cmd = [self.args.python or sys.executable, self.scorer, os.path.join(self.data_dir, name), preds]
        r = run_cmd(cmd, 600, os.path.join(work, "score.log"))
        if not r.ok:
            return None, r.describe_failure("score")
        try:
            line = [ln for ln in r.stdout.strip().splitlines() if ln.strip().startswith("{")][-1]
            return json.loads(line), None
        except (IndexError, json.JSONDecodeError) as e:
            return None, f"score: cannot parse scorer output ({e}): {r.stdout[-200:]!r}"

    def leaderboard(self, store, work) -> tuple:
        cmd = self.binary + ["leaderboard", "--store", store, "--format", "json"]
        r = run_cmd(cmd, 120, os.path.join(work, "leaderboard.log"))
        if not r.ok:
            return None, r.describe_failure("leaderboard")
        try:
            rows = json.loads(r.stdout)
            if not isinstance(rows, list):
                raise ValueError("not a JSON array")
        except ValueError as e:
            return None, f"leaderboard: cannot parse JSON ({e}): {r.stdout[:200]!r}"
        states = [str(x.get("state", "")).lower() for x in rows]
        final = next((x for x in rows if x.get("final") is True), None)
        return {
            "best_cv": best_searched_cv(rows),
            # the final model's own cross-validated estimate (the trial it was refit from)
            "cv_final": final.get("mean") if final else None,
            "cv_metric": final.get("metric") if final else None,
            "trials_total": len(rows),
            "trials_complete": sum(s in COMPLETE_STATES for s in states),
            "trials_failed": sum(s in FAILED_STATES for s in states),
            "best_family": next((x.get("family") for x in rows if str(x.get("state", "")).lower() == "complete"), None),
        }, None

    def fit_predict_score(self, name, work, budget, jobs, seed, strategy=None, max_trials=None,
                          do_predict=True) -> dict:
        """One full run; never raises for a failing binary: errors go into row['error']."""
        man = load_manifest(self.data_dir, name)
        metric = man["metrics"]["primary"]
        row = {"dataset": name, "task": man["task"], "metric": metric, "budget_s": budget,
               "jobs": jobs, "seed": seed, "strategy": strategy, "max_trials": max_trials,
               "ours": None, "scores": None, "trials_total": None, "trials_complete": None,
               "trials_failed": None, "trials_per_min": None, "best_family": None,
               "fit_wall_s": None, "predict_wall_s": None, "fit_foreign_cpu_share": None,
               "error": None}
        errors = []
        store, fr = self.fit(name, man, work, budget, jobs, seed, strategy, max_trials)
        row["fit_wall_s"] = round(fr.wall_s, 3)
        row["fit_foreign_cpu_share"] = fr.foreign_cpu_share
        row["fit_ok"], row["fit_timed_out"] = fr.ok, fr.timed_out
        if not fr.ok:
            row["error"] = fr.describe_failure("fit")
            return row
        lb, err = self.leaderboard(store, work)
        if lb:
            row.update(lb)
            post = post_processed_estimate(fr.stdout)
            if post is not None and post[0] == lb.get("cv_metric"):
                row["cv_final"] = post[1]  # the final model is post-processed: its nested estimate
            if fr.wall_s > 0:
                row["trials_per_min"] = round(lb["trials_complete"] / (fr.wall_s / 60.0), 2)
        else:
            errors.append(err)
        if do_predict:
            preds, pr = self.predict(name, store, work, budget)
            row["predict_wall_s"] = round(pr.wall_s, 3)
            if not pr.ok:
                errors.append(pr.describe_failure("predict"))
            else:
                sc, err = self.score(name, preds, work)
                if sc is None:
                    errors.append(err)
                else:
                    row["scores"] = sc
                    row["ours"] = sc.get(metric)
        row["error"] = "; ".join(errors) if errors else None
        return row


# --------------------------------------------------------------------------- CV vs test

POST_RE = re.compile(r"^post-processing: .*\(nested CV (\S+) (\S+) -> (\S+)\)\s*$", re.M)


def post_processed_estimate(fit_stdout: str):
    """(metric, nested estimate) of a final model with post-processing, from fit's summary
    line `post-processing: ... (nested CV METRIC BEFORE -> AFTER)`; None without one."""
    m = POST_RE.search(fit_stdout or "")
    if not m:
        return None
    try:
        return m.group(1), float(m.group(3))
    except ValueError:
        return None

def optimism(metric: str, estimate, test):
    """How much better the estimate claims than the test score gives, in the metric's unit
    (positive: the estimate was optimistic). None when either is missing."""
    if estimate is None or test is None or metric not in LOWER_IS_BETTER | HIGHER_IS_BETTER:
        return None
    return (test - estimate) if lower_is_better(metric) else (estimate - test)


def rel_gap(metric: str, estimate, test, scale=None):
    """|estimate - test| comparable across datasets: for error metrics (rmse, log_loss, mae) as
    a share of `scale`, the constant model's test error (of the test score when unknown); for
    bounded scores (roc_auc, accuracy, r2) as is."""
    o = optimism(metric, estimate, test)
    if o is None:
        return None
    if lower_is_better(metric):
        s = scale if scale else test
        return abs(o) / abs(s) if s else None
    return abs(o)


def cv_vs_test(row: dict, scale=None) -> None:
    """The final model's CV estimate against its test score in the same metric (`scale`: the
    constant model's test score in that metric, see rel_gap)."""
    m = row.get("cv_metric")
    test = (row.get("scores") or {}).get(m) if m else None
    row["test_cv_metric"] = test
    o = optimism(m, row.get("cv_final"), test) if m else None
    row["cv_optimism"] = None if o is None else round(o, 6)
    g = rel_gap(m, row.get("cv_final"), test, scale) if m else None
    row["cv_gap"] = None if g is None else round(g, 6)


def flaml_validation_score(r: dict, metric: str):
    """FLAML's best validation score in `metric` from its recorded best_val_loss (FLAML
    minimises 1 - score for roc_auc / accuracy / r2 and the error itself otherwise)."""
    loss = r.get("best_val_loss")
    if loss is None:
        return None
    return loss if lower_is_better(metric) else 1.0 - loss


def flaml_gap(peers: dict, dataset: str, budget, metric: str, scale=None) -> dict:
    r = peers.get((dataset, "flaml", budget))
    if r is None:
        return {"flaml_val": None, "flaml_test": None, "flaml_gap": None, "flaml_optimism": None,
                "flaml_eval": None}
    val, test = flaml_validation_score(r, metric), r.get(metric)
    o, g = optimism(metric, val, test), rel_gap(metric, val, test, scale)
    return {"flaml_val": val, "flaml_test": test, "flaml_eval": r.get("eval_method"),
            "flaml_optimism": None if o is None else round(o, 6),
            "flaml_gap": None if g is None else round(g, 6)}


def gap_markdown(rows: list, budget) -> list[str]:
    """The table of docs/BENCHMARKS.md "The estimate's honesty": CV vs test, ours and FLAML's."""
    out = ["### CV estimate vs test score", "",
           f"Ours: the final model's cross-validated score; FLAML@{budget:g}: its best validation "
           "loss (`best_val_loss`, on its own CV or holdout) as a score. gap = |estimate - test|, "
           "for rmse / log_loss as a share of the constant model's test error, as is for roc_auc; "
           "optimism > 0 means the estimate promised more than the test gave.", "",
           "| dataset | metric | ours CV | ours test | ours gap | ours optimism | FLAML val | FLAML test | FLAML gap | FLAML eval |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['dataset']} | {r.get('cv_metric') or r['metric']} | {fmt_num(r.get('cv_final'))} | "
                   f"{fmt_num(r.get('test_cv_metric'))} | {fmt_num(r.get('cv_gap'))} | "
                   f"{fmt_num(r.get('cv_optimism'))} | {fmt_num(r.get('flaml_val'))} | "
                   f"{fmt_num(r.get('flaml_test'))} | {fmt_num(r.get('flaml_gap'))} | "
                   f"{r.get('flaml_eval') or '—'} |")
    both = [r for r in rows if r.get("cv_gap") is not None and r.get("flaml_gap") is not None]
    if both:
        ours = statistics.mean(r["cv_gap"] for r in both)
        theirs = statistics.mean(r["flaml_gap"] for r in both)
        smaller = sum(r["cv_gap"] <= r["flaml_gap"] for r in both)
        out += ["", f"- mean gap over {len(both)} datasets: ours {ours:.4f}, FLAML {theirs:.4f}; "
                f"ours smaller or equal on {smaller}/{len(both)}"]
    return out + [""]


# --------------------------------------------------------------------------- mode: bench

def compare_with_peers(row: dict, peers: dict, budget: float) -> None:
    name, metric, ours = row["dataset"], row["metric"], row["ours"]
    for key, tool, b, _hdr in PEER_COLUMNS:
        row[key] = peer_score(peers, name, tool, b, metric)
    fb, fs = flaml_at_budget(peers, name, budget, metric)
    row["flaml_budget_used"], row["flaml_at_budget"] = fb, fs
    if row["fit_timed_out"]:
        row["budget_kept"] = False
    elif row["fit_ok"]:
        row["budget_kept"] = row["fit_wall_s"] <= budget * 1.05 + 1
    else:
        row["budget_kept"] = None  # the fit failed early: the promise was not tested
    have = ours is not None
    row["beats_constant"] = is_better(metric, ours, row["constant"]) if have and row["constant"] is not None else None
    row["rf_rel_diff"] = round(rel_worse(metric, ours, row["rf"]), 5) if have and row["rf"] is not None else None
    row["within_3pct_rf"] = row["rf_rel_diff"] <= 0.03 if row["rf_rel_diff"] is not None else None
    for key in ("flaml10", "flaml60"):
        row[f"ge_{key}"] = at_least_as_good(metric, ours, row[key]) if have and row[key] is not None else None
    row["ge_flaml_budget"] = at_least_as_good(metric, ours, fs) if have and fs is not None else None
    m = row.get("cv_metric") or metric
    scale = peer_score(peers, name, "constant", None, m)
    if row.get("scores") is not None:
        cv_vs_test(row, scale)
    row.update(flaml_gap(peers, name, fb, m, scale))


def count(rows, key) -> str:
    vals = [r.get(key) for r in rows if r.get(key) is not None]
    return f"{sum(bool(v) for v in vals)}/{len(vals)}"


def bench_markdown(rows, meta) -> str:
    hdr = (["dataset", "task", "metric", "ours"] + [h for _k, _t, _b, h in PEER_COLUMNS]
           + ["trials ok/total", "trials/min", "fit s", "predict s", "foreign cpu",
              "in budget", "> const", "≤3% RF", "≥F@10", "≥F@60", "error"])
    out = [f"## automl benchmark: budget {meta['budget_s']:g} s, jobs {meta['jobs']}, seed {meta['seed']}"
           + (f", strategy {meta['strategy']}" if meta.get("strategy") else ""), "",
           "| " + " | ".join(hdr) + " |",
           "|" + "|".join("---" if i < 3 or h == "error" else "---:" for i, h in enumerate(hdr)) + "|"]
    for r in rows:
        trials = (f"{r['trials_complete']}/{r['trials_total']}" if r.get("trials_total") is not None else "—")
        cells = [r["dataset"], r["task"], r["metric"], fmt_num(r["ours"])]
        cells += [fmt_num(r.get(k)) for k, _t, _b, _h in PEER_COLUMNS]
        cells += [trials, fmt_num(r.get("trials_per_min")), fmt_s(r.get("fit_wall_s")),
                  fmt_s(r.get("predict_wall_s")), fmt_s(r.get("fit_foreign_cpu_share")),
                  fmt_flag(r.get("budget_kept")), fmt_flag(r.get("beats_constant")),
                  fmt_flag(r.get("within_3pct_rf")), fmt_flag(r.get("ge_flaml10")),
                  fmt_flag(r.get("ge_flaml60")),
                  (r.get("error") or "").replace("|", "/")[:160]]
        out.append("| " + " | ".join(cells) + " |")
    n = len(rows)
    out += ["", "### Summary", "",
            f"- datasets run: {n}, with an error: {sum(1 for r in rows if r.get('error'))}",
            f"- beats constant: {count(rows, 'beats_constant')}",
            f"- within 3 % of sklearn RF: {count(rows, 'within_3pct_rf')}",
            f"- >= FLAML@10: {count(rows, 'ge_flaml10')}",
            f"- >= FLAML@60: {count(rows, 'ge_flaml60')}",
            f"- >= FLAML@budget ({meta['budget_s']:g} s, or the largest measured FLAML budget below it): "
            f"{count(rows, 'ge_flaml_budget')}",
            f"- budget promise kept (fit wall <= budget x 1.05 + 1 s): {count(rows, 'budget_kept')}",
            ""] + gap_markdown(rows, meta["budget_s"]) + meta_lines(meta)
    return "\n".join(out) + "\n"


def meta_lines(meta) -> list[str]:
    la = meta.get("loadavg_before")
    la_s = "n/a" if not la else f"{la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f}"
    quiet = meta.get("busy_share_before")
    verdict = ""
    if la:
        verdict = " (quiet)" if la[0] < 0.5 and (quiet is None or quiet < 0.1) else " (NOT quiet: other work was running)"
    return [
        f"- command: `{meta['command']}`",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}, nproc {meta['nproc']}",
        f"- load average before start (1/5/15 min): {la_s}; busy CPU share over 2 s before start: "
        f"{'n/a' if quiet is None else quiet}{verdict}",
        f"- binary: `{meta['binary']}`" + (f" ({meta['binary_version']})" if meta.get("binary_version") else ""),
        f"- repo commit (the checkout; the binary's own is in its version): {meta.get('git_commit') or 'n/a'}",
    ]


def run_bench(h: Harness, datasets, meta, peers) -> list[dict]:
    a = h.args
    rows = []
    for i, name in enumerate(datasets, 1):
        log(f"[{i}/{len(datasets)}] {name}: fit (budget {a.budget:g}s, jobs {a.jobs}) ...")
        work = h.fresh_dir("bench", name)
        row = h.fit_predict_score(name, work, a.budget, a.jobs, a.seed, a.strategy, a.max_trials)
        compare_with_peers(row, peers, a.budget)
        rows.append(row)
        log(f"[{i}/{len(datasets)}] {name}: {row['metric']}={fmt_num(row['ours'])} "
            f"(const {fmt_num(row['constant'])}, RF {fmt_num(row['rf'])}, FLAML@60 {fmt_num(row['flaml60'])}); "
            f"trials {row['trials_complete']}/{row['trials_total']}; fit {fmt_s(row['fit_wall_s'])}s, "
            f"predict {fmt_s(row['predict_wall_s'])}s" + (f"; ERROR {row['error']}" if row["error"] else ""))
        emit_jsonl(a.jsonl, row, meta, "bench")
    return rows


# --------------------------------------------------------------------------- mode: jobs compare

def run_jobs_compare(h: Harness, datasets, meta) -> tuple[list[dict], str]:
    a = h.args
    rows = []
    for i, name in enumerate(datasets, 1):
        res = {}
        for jobs in (1, 2):
            log(f"[{i}/{len(datasets)}] {name}: fit --jobs {jobs} (budget {a.budget:g}s) ...")
            work = h.fresh_dir("jobs", f"{name}-j{jobs}")
            r = h.fit_predict_score(name, work, a.budget, jobs, a.seed, a.strategy, a.max_trials,
                                    do_predict=False)
            emit_jsonl(a.jsonl, r, meta, "jobs-compare")
            res[jobs] = r
            log(f"    trials {r['trials_complete']}/{r['trials_total']} in {fmt_s(r['fit_wall_s'])}s"
                + (f"; ERROR {r['error']}" if r["error"] else ""))
        c1, c2 = res[1]["trials_complete"], res[2]["trials_complete"]
        t1, t2 = res[1]["trials_per_min"], res[2]["trials_per_min"]
        rows.append({"dataset": name, "complete_j1": c1, "complete_j2": c2,
                     "total_j1": res[1]["trials_total"], "total_j2": res[2]["trials_total"],
                     "wall_j1": res[1]["fit_wall_s"], "wall_j2": res[2]["fit_wall_s"],
                     "ratio": round(c2 / c1, 3) if c1 and c2 is not None else None,
                     "rate_ratio": round(t2 / t1, 3) if t1 and t2 is not None else None,
                     "error": "; ".join(f"jobs{j}: {res[j]['error']}" for j in (1, 2) if res[j]["error"]) or None})
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    rate_ratios = [r["rate_ratio"] for r in rows if r["rate_ratio"] is not None]
    med = statistics.median(ratios) if ratios else None
    med_rate = statistics.median(rate_ratios) if rate_ratios else None
    md = [f"## automl --jobs 1 vs --jobs 2 at budget {a.budget:g} s", "",
          "| dataset | complete (jobs 1) | complete (jobs 2) | total j1 / j2 | fit s j1 / j2 | ratio j2/j1 | trials/min ratio | error |",
          "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['dataset']} | {fmt_num(r['complete_j1'])} | {fmt_num(r['complete_j2'])} | "
                  f"{fmt_num(r['total_j1'])} / {fmt_num(r['total_j2'])} | "
                  f"{fmt_s(r['wall_j1'])} / {fmt_s(r['wall_j2'])} | {fmt_r(r['ratio'])} | "
                  f"{fmt_r(r['rate_ratio'])} | {(r['error'] or '').replace('|', '/')[:160]} |")
    md += ["", f"- median ratio of completed trials (jobs 2 / jobs 1) over {len(ratios)} datasets: {fmt_r(med)}",
           f"- median ratio of completed trials per minute: {fmt_r(med_rate)}", ""] + meta_lines(meta)
    emit_jsonl(a.jsonl, {"summary": "jobs-compare", "median_ratio": med, "median_rate_ratio": med_rate,
                         "datasets": [r["dataset"] for r in rows]}, meta, "jobs-compare")
    return rows, "\n".join(md) + "\n"


# --------------------------------------------------------------------------- mode: strategies

def best_searched_cv(rows: list) -> float | None:
    """Best cross-validated score among complete, full-fidelity searched trials (the ensemble
    row excluded): what a search strategy optimises, as opposed to the test score."""
    cv = [(x.get("mean"), x.get("metric")) for x in rows
          if str(x.get("state", "")).lower() == "complete" and x.get("family") != "ensemble"
          and (x.get("fidelity") is None or x.get("fidelity") >= 1.0)
          and isinstance(x.get("mean"), (int, float))]
    if not cv or cv[0][1] not in LOWER_IS_BETTER | HIGHER_IS_BETTER:
        return None  # no complete trial, or a leaderboard without a known metric name
    lower = lower_is_better(cv[0][1])
    return (min if lower else max)(v for v, _ in cv)


def average_ranks(values: list, metric: str) -> list[float]:
    """Rank 1 = best; ties get the average rank; None (failed run) ranks below all scored ones."""
    lower = lower_is_better(metric)
    scored = sorted((v if lower else -v, i) for i, v in enumerate(values) if v is not None)
    ranks = [0.0] * len(values)
    pos = 0
    while pos < len(scored):
        end = pos
        while end + 1 < len(scored) and scored[end + 1][0] == scored[pos][0]:
            end += 1
        for k in range(pos, end + 1):
            ranks[scored[k][1]] = (pos + end) / 2 + 1
        pos = end + 1
    failed = [i for i, v in enumerate(values) if v is None]
    if failed:
        r = len(scored) + (len(failed) + 1) / 2
        for i in failed:
            ranks[i] = r
    return ranks


def rank_groups(rows: list, strategies: list, key: str = "ours") -> dict:
    """Rank the strategies within each (dataset, seed) group of `rows` on `row[key]`
    (direction-aware, ties averaged, None last); groups missing a strategy are skipped.
    Returns per strategy the ranks and wins (shared on ties), per (dataset, strategy) the ranks
    and the scored values, and the number of complete groups."""
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["seed"]), {})[r["strategy"]] = r
    out = {"ranks": {s: [] for s in strategies}, "wins": {s: 0.0 for s in strategies},
           "per_ds": {}, "scores": {}, "complete": 0}
    for (name, _seed), g in groups.items():
        if set(g) != set(strategies):
            continue
        out["complete"] += 1
        values = [g[s].get(key) for s in strategies]
        rk = average_ranks(values, g[strategies[0]]["metric"])
        best = min(rk)
        n_best = sum(1 for x in rk if x == best)
        for s, x, v in zip(strategies, rk, values):
            out["ranks"][s].append(x)
            out["per_ds"].setdefault((name, s), []).append(x)
            if v is not None:
                out["scores"].setdefault((name, s), []).append(v)
                if x == best:
                    out["wins"][s] += 1 / n_best
    return out


def run_strategies(h: Harness, datasets, meta) -> tuple[list[dict], str]:
    a = h.args
    strategies = [s.strip() for s in a.strategies.split(",") if s.strip()]
    seeds = [a.seed + k for k in range(a.seeds)]
    rows = []
    total = len(datasets) * len(seeds) * len(strategies)
    n = 0
    for name in datasets:
        for seed in seeds:
            for strat in strategies:
                n += 1
                log(f"[{n}/{total}] {name} seed {seed} strategy {strat}: fit --max-trials {a.max_trials} ...")
                work = h.fresh_dir("strategies", f"{name}-s{seed}-{strat}")
                r = h.fit_predict_score(name, work, None, a.jobs, seed, strat, a.max_trials)
                emit_jsonl(a.jsonl, r, meta, "strategies")
                log(f"    {r['metric']}={fmt_num(r['ours'])} trials {r['trials_complete']}/{r['trials_total']} "
                    f"fit {fmt_s(r['fit_wall_s'])}s" + (f"; ERROR {r['error']}" if r["error"] else ""))
                rows.append(r)
    g = rank_groups(rows, strategies)
    ranks, wins, per_ds, scores = g["ranks"], g["wins"], g["per_ds"], g["scores"]
    fails = {s: sum(1 for r in rows if r["strategy"] == s and r["ours"] is None) for s in strategies}
    walls = {s: [r["fit_wall_s"] for r in rows if r["strategy"] == s and r["fit_wall_s"] is not None]
             for s in strategies}
    summary = {s: {"mean_rank": round(statistics.mean(ranks[s]), 3) if ranks[s] else None,
                   "groups": len(ranks[s]), "failed": fails[s], "wins": round(wins[s], 2),
                   "mean_fit_wall_s": round(statistics.mean(walls[s]), 2) if walls[s] else None}
               for s in strategies}
    md = [f"## search strategies at equal trial budgets: --max-trials {a.max_trials}, "
          f"{len(datasets)} datasets x {len(seeds)} seeds (seeds {seeds[0]}..{seeds[-1]}), "
          f"no time budget (each run killed after {h.timeout(None):g} s), jobs {a.jobs}", "",
          "| strategy | mean rank (1 = best) | groups | wins | failed runs | mean fit s |",
          "|---|---:|---:|---:|---:|---:|"]
    for s in sorted(strategies, key=lambda s: (summary[s]["mean_rank"] is None, summary[s]["mean_rank"])):
        v = summary[s]
        md.append(f"| {s} | {fmt_r(v['mean_rank'])} | {v['groups']} | {fmt_r(v['wins'])} | "
                  f"{v['failed']} | {fmt_s(v['mean_fit_wall_s'])} |")
    md += ["", "Mean rank per dataset (over seeds) / mean test metric:", "",
           "| dataset | metric | " + " | ".join(strategies) + " |",
           "|---|---|" + "|".join("---:" for _ in strategies) + "|"]
    for name in datasets:
        metric = load_manifest(h.data_dir, name)["metrics"]["primary"]
        cells = []
        for s in strategies:
            rk = per_ds.get((name, s), [])
            sc = scores.get((name, s), [])
            cells.append(f"{fmt_r(statistics.mean(rk)) if rk else '—'} / "
                         f"{fmt_num(statistics.mean(sc)) if sc else '—'}")
        md.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    md += ["", "Ranks are computed within each (dataset, seed) group on the test primary metric "
           "(direction-aware, ties averaged); a failed run ranks below every scored run.", ""] + meta_lines(meta)
    emit_jsonl(a.jsonl, {"summary": "strategies", "strategies": summary, "seeds": seeds,
                         "max_trials": a.max_trials, "datasets": datasets}, meta, "strategies")
    return rows, "\n".join(md) + "\n"


# --------------------------------------------------------------------------- output

def emit_jsonl(path, row, meta, mode) -> None:
    if not path:
        return
    rec = {"mode": mode, "run_id": meta["run_id"], "date": meta["date"], "command": meta["command"],
           "nproc": meta["nproc"], "loadavg_before": meta["loadavg_before"],
           "binary_version": meta.get("binary_version"), **row}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def binary_version(cmd: list[str]) -> str | None:
    r = run_cmd(cmd + ["--version"], 20)
    if r.ok:
        return (r.stdout.strip() or r.stderr.strip()).splitlines()[0][:80] if (r.stdout or r.stderr).strip() else None
    return None


def git_commit() -> str | None:
    try:
        r = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", REPO_ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return r.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def wait_quiet(max_load: float, max_wait: float) -> None:
    t0 = time.monotonic()
    while True:
        la = loadavg()
        if not la or la[0] <= max_load:
            return
        if time.monotonic() - t0 > max_wait:
            log(f"warning: load average {la[0]:.2f} still above {max_load} after {max_wait:.0f}s; starting anyway")
            return
        log(f"waiting for a quiet machine: load average {la[0]:.2f} > {max_load} ...")
        time.sleep(15)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/automl",
                    help="automl command (a command string, split like a shell: 'python3 bench/fake_automl.py')")
    ap.add_argument("--data", default=DEFAULT_DATA, help="dataset folder (default: %(default)s)")
    ap.add_argument("--datasets", default=",".join(ALL_DATASETS), help="comma-separated names (default: all 12)")
    ap.add_argument("--budget", type=float, default=None,
                    help="fit --time-budget in seconds (default 60; 900 in --strategies mode)")
    ap.add_argument("--jobs", type=int, default=2, help="fit --jobs (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="fit --seed (first seed in --strategies mode)")
    ap.add_argument("--strategy", default=None, help="pass --strategy S to fit (bench and jobs modes)")
    ap.add_argument("--max-trials", type=int, default=None, help="pass --max-trials N to fit (required with --strategies)")
    ap.add_argument("--portfolio-dir", default=None, metavar="DIR",
                    help="fit each dataset with --portfolio DIR/NAME.toml (the leave-one-out portfolios "
                         "of bench/portfolio_loo.py)")
    ap.add_argument("--extra-args", default="", help="extra arguments appended to every fit command")
    ap.add_argument("--out", default="bench-out", help="work folder for stores, predictions, logs (default %(default)s/)")
    ap.add_argument("--peers", default=None,
                    help="peer results .jsonl (default: DATA/../results/peers-public.jsonl)")
    ap.add_argument("--scorer", default=None, help="score_predictions.py (default: DATA/../score_predictions.py)")
    ap.add_argument("--python", default=None, help="interpreter for the scorer (default: this one)")
    ap.add_argument("--markdown", default=None, help="write the markdown report here (it is printed to stdout too)")
    ap.add_argument("--jsonl", default=None, help="append one JSON line per run here")
    ap.add_argument("--wait-quiet", type=float, default=None, metavar="LOAD",
                    help="before starting, wait (up to --wait-max s) until the 1-min load average is <= LOAD")
    ap.add_argument("--wait-max", type=float, default=600)
    ap.add_argument("--jobs-compare", default=None, metavar="A,B,C",
                    help="mode: fit these datasets with --jobs 1 and --jobs 2, compare completed trials")
    ap.add_argument("--strategies", default=None, metavar="S1,S2",
                    help="mode: compare strategies at equal trial budgets (needs --max-trials)")
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds in --strategies mode (default %(default)s)")
    a = ap.parse_args(argv)
    if a.jobs_compare and a.strategies:
        ap.error("--jobs-compare and --strategies are separate modes; pick one")
    if a.strategies and a.max_trials is None:
        ap.error("--strategies needs --max-trials N (equal trial budgets)")
    if a.seeds < 1:
        ap.error("--seeds must be >= 1")
    if a.budget is None:
        a.budget = 900.0 if a.strategies else 60.0  # strategies mode: only a kill timeout
    if a.budget <= 0:
        ap.error("--budget must be > 0")
    if a.peers is None:
        a.peers = os.path.join(os.path.dirname(os.path.abspath(a.data)), "results", "peers-public.jsonl")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    names = a.jobs_compare if a.jobs_compare else a.datasets
    datasets = [d.strip() for d in names.split(",") if d.strip()]
    missing = [d for d in datasets if not os.path.exists(os.path.join(a.data, d, "manifest.json"))]
    if missing:
        avail = sorted(x for x in os.listdir(a.data)) if os.path.isdir(a.data) else []
        log(f"error: no dataset {missing} in {a.data!r} (available: {', '.join(avail) or 'none'})")
        return 2
    h = Harness(a)
    exe = h.binary[0] if h.binary else ""
    if not h.binary or not (shutil.which(exe) or os.path.isfile(exe)):
        log(f"error: binary {a.binary!r} not found; build it with `cargo build --release` "
            f"or pass --binary 'python3 bench/fake_automl.py'")
        return 2
    if not os.path.isfile(h.scorer):
        log(f"error: scorer {h.scorer!r} not found; pass --scorer")
        return 2
    if a.wait_quiet is not None:
        wait_quiet(a.wait_quiet, a.wait_max)
    la = loadavg()
    meta = {
        "run_id": _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable] + sys.argv) if argv is None else shlex.join(["run_bench.py"] + list(argv)),
        "nproc": nproc(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "loadavg_before": list(la) if la else None,
        "busy_share_before": busy_share(2.0),
        "binary": a.binary,
        "binary_version": binary_version(h.binary),
        "git_commit": git_commit(),
        "budget_s": a.budget, "jobs": a.jobs, "seed": a.seed, "strategy": a.strategy,
    }
    log(f"load average before start: {la}; busy share: {meta['busy_share_before']}; nproc {meta['nproc']}")
    os.makedirs(a.out, exist_ok=True)
    if a.jobs_compare:
        _rows, md = run_jobs_compare(h, datasets, meta)
    elif a.strategies:
        _rows, md = run_strategies(h, datasets, meta)
    else:
        peers = load_peers(a.peers)
        rows = run_bench(h, datasets, meta, peers)
        md = bench_markdown(rows, meta)
        summary = {k: count(rows, k) for k in ("beats_constant", "within_3pct_rf", "ge_flaml10",
                                                "ge_flaml60", "ge_flaml_budget", "budget_kept")}
        emit_jsonl(a.jsonl, {"summary": "bench", **summary}, meta, "bench")
    if a.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(a.markdown)), exist_ok=True)
        with open(a.markdown, "w") as f:
            f.write(md)
        log(f"wrote {a.markdown}")
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
