#!/usr/bin/env python3
"""Unit tests of the harness's pure logic (metric direction, ranks, peer lookup, comparisons)
and one end-to-end run against bench/fake_automl.py on iris.

    python3 -m unittest bench/test_run_bench.py          # the harness: standard library only
    .venv/bin/python -m unittest bench/test_run_bench.py # + the end-to-end run (the scorer needs
                                                         #   numpy / pandas / scikit-learn)
"""
import importlib.util
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402


class Direction(unittest.TestCase):
    def test_lower_and_higher(self):
        self.assertTrue(rb.is_better("rmse", 1.0, 2.0))
        self.assertFalse(rb.is_better("roc_auc", 0.7, 0.8))
        self.assertTrue(rb.is_better("roc_auc", 0.9, 0.8))
        self.assertTrue(rb.at_least_as_good("log_loss", 0.5, 0.5))
        self.assertRaises(ValueError, rb.lower_is_better, "f1_weird")

    def test_rel_worse(self):
        self.assertAlmostEqual(rb.rel_worse("rmse", 103.0, 100.0), 0.03)
        self.assertAlmostEqual(rb.rel_worse("roc_auc", 0.78, 0.80), 0.025)
        self.assertLess(rb.rel_worse("roc_auc", 0.85, 0.80), 0)


class Ranks(unittest.TestCase):
    def test_ties_and_failures(self):
        self.assertEqual(rb.average_ranks([1.0, 2.0, 2.0, None], "rmse"), [1, 2.5, 2.5, 4])
        self.assertEqual(rb.average_ranks([0.7, 0.9, None, None], "roc_auc"), [2, 1, 3.5, 3.5])
        self.assertEqual(rb.average_ranks([None, None], "rmse"), [1.5, 1.5])


class Peers(unittest.TestCase):
    def test_cv_vs_test_gap(self):
        # error metric: relative gap; positive optimism = the estimate promised more
        self.assertAlmostEqual(rb.optimism("rmse", 9.0, 10.0), 1.0)
        self.assertAlmostEqual(rb.rel_gap("rmse", 9.0, 10.0), 0.1)
        self.assertAlmostEqual(rb.optimism("roc_auc", 0.80, 0.85), -0.05)
        self.assertAlmostEqual(rb.rel_gap("roc_auc", 0.80, 0.85), 0.05)
        self.assertIsNone(rb.rel_gap("rmse", None, 1.0))
        # FLAML records 1 - auc as its loss, and the error itself for rmse
        self.assertAlmostEqual(rb.flaml_validation_score({"best_val_loss": 0.1}, "roc_auc"), 0.9)
        self.assertAlmostEqual(rb.flaml_validation_score({"best_val_loss": 3.0}, "rmse"), 3.0)
        peers = {("d", "flaml", 10.0): {"best_val_loss": 0.2, "roc_auc": 0.7, "eval_method": "cv"}}
        g = rb.flaml_gap(peers, "d", 10.0, "roc_auc")
        self.assertAlmostEqual(g["flaml_val"], 0.8)
        self.assertAlmostEqual(g["flaml_gap"], 0.1)
        self.assertIsNone(rb.flaml_gap(peers, "d", None, "roc_auc")["flaml_gap"])
        # error metrics as a share of the constant model's test error when given
        self.assertAlmostEqual(rb.rel_gap("rmse", 9.0, 10.0, 50.0), 0.02)
        row = {"cv_metric": "log_loss", "cv_final": 0.5, "scores": {"log_loss": 0.4}}
        rb.cv_vs_test(row)
        self.assertAlmostEqual(row["cv_optimism"], -0.1)
        self.assertAlmostEqual(row["cv_gap"], 0.25)
        rb.cv_vs_test(row, 1.0)
        self.assertAlmostEqual(row["cv_gap"], 0.1)

    def test_post_processed_estimate(self):
        out = ("model: trial 4 refit on all 600 rows\n"
               "post-processing: calibration isotonic (nested CV log_loss 0.4753 -> 0.4512)\n"
               "store: db\n")
        self.assertEqual(rb.post_processed_estimate(out), ("log_loss", 0.4512))
        self.assertIsNone(rb.post_processed_estimate("model: trial 4\n"))

    def test_least_disturbed_and_flaml_budget(self):
        lines = [
            {"dataset": "d", "tool": "flaml", "budget_s": 60, "rmse": 5.0, "foreign_cpu_share": 0.4, "error": None},
            {"dataset": "d", "tool": "flaml", "budget_s": 60, "rmse": 4.0, "foreign_cpu_share": 0.01, "error": None},
            {"dataset": "d", "tool": "flaml", "budget_s": 10, "rmse": 6.0, "foreign_cpu_share": 0.0, "error": None},
            {"dataset": "d", "tool": "constant", "budget_s": None, "rmse": 9.0, "error": None},
            {"dataset": "d", "tool": "sklearn-rf", "budget_s": None, "rmse": 1.0, "error": "boom"},
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(json.dumps(x) for x in lines) + "\n")
        try:
            peers = rb.load_peers(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(rb.peer_score(peers, "d", "flaml", 60.0, "rmse"), 4.0)
        self.assertIsNone(rb.peer_score(peers, "d", "sklearn-rf", None, "rmse"))
        self.assertEqual(rb.flaml_at_budget(peers, "d", 30, "rmse"), (10.0, 6.0))
        self.assertEqual(rb.flaml_at_budget(peers, "d", 60, "rmse"), (60.0, 4.0))
        self.assertEqual(rb.flaml_at_budget(peers, "d", 5, "rmse"), (None, None))
        row = {"dataset": "d", "metric": "rmse", "ours": 5.0, "fit_wall_s": 31.0,
               "fit_ok": True, "fit_timed_out": False}
        rb.compare_with_peers(row, peers, 30.0)
        self.assertTrue(row["beats_constant"])
        self.assertTrue(row["ge_flaml10"])
        self.assertFalse(row["ge_flaml60"])
        self.assertTrue(row["ge_flaml_budget"])
        self.assertTrue(row["budget_kept"])  # 31 <= 30 * 1.05 + 1
        self.assertIsNone(row["within_3pct_rf"])


SCORER_DEPS = ("numpy", "pandas", "sklearn")


class SeedsSummary(unittest.TestCase):
    def test_mean_every_seed_and_noise(self):
        import contextlib
        import io
        import seeds_summary
        rows = [
            # rmse: the peer (10.0) lies inside our seeds' range 9..11: within noise.
            {"mode": "bench", "dataset": "a", "metric": "rmse", "ours": v, "flaml60": 10.0,
             "budget_kept": True, "budget_s": 60.0} for v in (9.0, 9.5, 11.0)
        ] + [
            # roc_auc: every seed above the peer: better beyond noise.
            {"mode": "bench", "dataset": "b", "metric": "roc_auc", "ours": v, "flaml60": 0.80,
             "budget_kept": v > 0.83, "budget_s": 60.0} for v in (0.82, 0.84, 0.83)
        ]
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i in range(3):
                path = os.path.join(d, f"s{i}.jsonl")
                with open(path, "w") as f:
                    for r in rows[i::3]:
                        f.write(json.dumps(r) + "\n")
                paths.append(path)
            out = io.StringIO()
            argv = sys.argv
            sys.argv = ["seeds_summary.py", *paths, "--peers", "flaml60"]
            try:
                with contextlib.redirect_stdout(out):
                    seeds_summary.main()
            finally:
                sys.argv = argv
        text = out.getvalue()
        self.assertIn("| a | rmse | 3 | 9.8333 | 9.0000..11.0000 | 3/3 | 10.0000 | yes / no / within noise |", text)
        self.assertIn("yes / yes / better beyond noise", text)
        self.assertIn("≥ FLAML@60: on the mean 2/2, on every seed 1/2; better beyond noise 1/2, worse beyond noise 0/2", text)
        self.assertIn("budget kept: 4/6 runs", text)


# iris, the scorer and the peers' iris rows, copied from ../shared/bench (a bare clone has no
# ../shared).
FIXTURE_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "bench", "data")


class JsonlRecord(unittest.TestCase):
    def test_every_line_names_the_binary_version(self):
        fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_automl.py")
        version = rb.binary_version([sys.executable, fake])
        self.assertEqual(version, "fake_automl 0 (harness self-test)")
        meta = {"run_id": "r", "date": "d", "command": "c", "nproc": 2, "loadavg_before": None,
                "binary_version": version}
        with tempfile.TemporaryDirectory() as tmp:
            jl = os.path.join(tmp, "r.jsonl")
            rb.emit_jsonl(jl, {"dataset": "iris"}, meta, "bench")
            with open(jl) as f:
                self.assertEqual(json.loads(f.readline())["binary_version"], version)


@unittest.skipUnless(all(importlib.util.find_spec(m) for m in SCORER_DEPS),
                     "the scorer needs numpy, pandas and scikit-learn (run with the bench venv, .venv)")
class EndToEnd(unittest.TestCase):
    def test_fake_binary_on_iris(self):
        fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_automl.py")
        with tempfile.TemporaryDirectory() as tmp:
            jl = os.path.join(tmp, "r.jsonl")
            rc = rb.main(["--binary", f"{sys.executable} {fake}", "--data", FIXTURE_DATA,
                          "--datasets", "iris", "--budget", "1",
                          "--out", tmp, "--jsonl", jl, "--markdown", os.path.join(tmp, "r.md")])
            self.assertEqual(rc, 0)
            with open(jl) as f:
                rows = [json.loads(x) for x in f]
            run = rows[0]
            self.assertIsNone(run["error"])
            self.assertEqual(run["binary_version"], "fake_automl 0 (harness self-test)")
            self.assertEqual(run["metric"], "log_loss")
            self.assertGreater(run["trials_total"], 0)
            # the fake predicts (shrunk) priors: close to the constant peer's log loss
            self.assertAlmostEqual(run["ours"], run["constant"], delta=0.01)
            # the final model's CV estimate is read from the leaderboard's `final` row and
            # set against the test score in the same metric
            self.assertIsNotNone(run["cv_final"])
            self.assertEqual(run["cv_metric"], "log_loss")
            self.assertAlmostEqual(run["cv_gap"], abs(run["cv_final"] - run["test_cv_metric"]) / run["constant"], places=5)
            self.assertEqual(rows[-1]["summary"], "bench")


if __name__ == "__main__":
    unittest.main()
