"""The estimator on real data: categoricals and missing values, the CLI's predictions, seeds,
the leaderboard, stores, pickling, numpy input and Parquet files."""

import json
import pickle
import subprocess

import numpy as np
import pandas as pd
import pytest

from automl import LEADERBOARD_COLUMNS, AutoML, AutoMLClassifier, AutoMLRegressor

TRIALS = 4


def churn(data_dir):
    """600 rows; `contract`, `internet`, `paperless` are text; some cells are empty."""
    return pd.read_csv(data_dir / "churn.csv")


def test_fit_predict_with_categoricals_and_missing_values(data_dir):
    df = churn(data_dir)
    for col in ("contract", "internet"):
        df[col] = df[col].astype("category")
    X, y = df.drop(columns=["churned"]), df["churned"]
    assert X.isna().any().any(), "the fixture must have missing values"
    m = AutoML(time_budget=None, max_trials=TRIALS, seed=0, jobs=2).fit(X, y)
    assert m.task_ == "binary"
    assert list(m.classes_) == ["no", "yes"]
    pred = m.predict(X)
    assert pred.shape == (len(X),)
    assert set(pred) <= {"no", "yes"}
    proba = m.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    # The predicted label is the most probable class.
    assert (m.classes_[proba.argmax(axis=1)] == pred).mean() > 0.99
    assert m.score(X, y) > 0.6
    assert "family" in m.best_params_
    assert m.n_features_in_ == X.shape[1]
    assert list(m.feature_names_in_) == list(X.columns)
    # A subset of rows gets the same predictions (no batch effects).
    assert list(m.predict(X.iloc[:50])) == list(pred[:50])


def test_cli_gives_the_same_predictions(data_dir, automl_bin, tmp_path):
    """Same CSV, seed and max_trials: the package and `automl fit` / `automl predict` agree
    row for row (the package gets the CSV read by pandas, through Arrow)."""
    for name, target in (("churn.csv", "churned"), ("houses.csv", "price")):
        path = data_dir / name
        store = tmp_path / f"store-{name}"
        preds = tmp_path / f"preds-{name}"
        common = ["--store", str(store), "--seed", "0", "--max-trials", str(TRIALS)]
        subprocess.run(
            [automl_bin, "fit", str(path), "--target", target, "--jobs", "2", "--quiet", *common[:2],
             *common[2:]],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [automl_bin, "predict", str(path), "--store", str(store), "--output", str(preds),
             "--no-log"],
            check=True,
            capture_output=True,
        )
        cli = pd.read_csv(preds, keep_default_na=False)
        df = pd.read_csv(path)
        m = AutoML(time_budget=None, max_trials=TRIALS, seed=0, jobs=2).fit(df, target)
        ours = m.predict(df.drop(columns=[target]))
        if m.task_ == "regression":
            np.testing.assert_array_equal(ours, cli["prediction"].to_numpy(dtype=float))
        else:
            assert [str(p) for p in ours] == [str(p) for p in cli["prediction"]]
            proba = m.predict_proba(df.drop(columns=[target]))
            expected = cli[[f"proba_{c}" for c in m.classes_]].to_numpy(dtype=float)
            np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
        board = json.loads(
            subprocess.run(
                [automl_bin, "leaderboard", "--store", str(store), "--format", "json"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        ours_board = m.leaderboard()
        assert list(ours_board["trial_id"]) == [r["trial_id"] for r in board]
        assert list(ours_board["family"]) == [r["family"] for r in board]
        np.testing.assert_array_equal(
            ours_board["mean"].to_numpy(dtype=float),
            np.array([np.nan if r["mean"] is None else r["mean"] for r in board], dtype=float),
        )


def test_same_seed_same_leaderboard_and_max_trials_respected(data_dir):
    df = pd.read_csv(data_dir / "houses.csv")
    X, y = df.drop(columns=["price"]), df["price"]

    def board(seed, jobs):
        m = AutoMLRegressor(time_budget=None, max_trials=TRIALS, seed=seed, jobs=jobs).fit(X, y)
        b = m.leaderboard()
        return m, b[["trial_id", "family", "mean", "std"]].assign(
            params=b["params"].map(lambda p: json.dumps(p, sort_keys=True))
        )

    m1, b1 = board(seed=7, jobs=1)
    m2, b2 = board(seed=7, jobs=2)
    pd.testing.assert_frame_equal(b1, b2)
    searched = m1.leaderboard()
    # Meta-trials (the ensemble, the stacking) are not searched trials.
    assert (~searched["strategy"].isin(["ensemble", "stacking"])).sum() <= TRIALS
    assert m1.best_params_ == m2.best_params_
    np.testing.assert_array_equal(m1.predict(X), m2.predict(X))


def test_leaderboard_frame(data_dir):
    df = pd.read_csv(data_dir / "flowers.csv")
    m = AutoMLClassifier(time_budget=None, max_trials=3, jobs=2).fit(df, "species")
    board = m.leaderboard()
    assert isinstance(board, pd.DataFrame)
    assert list(board.columns) == LEADERBOARD_COLUMNS
    assert len(board) >= 3
    assert board["rank"].iloc[0] == 1
    assert (board["metric"] == m.metric_).all()
    assert m.task_ == "multiclass"
    assert list(m.classes_) == ["setosa", "versicolor", "virginica"]
    assert board["state"].isin(["complete", "failed", "timeout", "pruned", "stopped"]).all()


def test_store_path_is_kept_and_released(data_dir, automl_bin, tmp_path):
    """A store path holds the study after fit, the CLI reads it, and a second estimator on the
    same path fits after the first (the lock is held only during fit)."""
    df = pd.read_csv(data_dir / "flowers.csv")
    store = tmp_path / "store"
    a = AutoML(time_budget=None, max_trials=2, store=store, jobs=1).fit(df, "species")
    b = AutoML(time_budget=None, max_trials=2, store=str(store), seed=1, jobs=1).fit(df, "species")
    studies = subprocess.run(
        [automl_bin, "studies", "--store", str(store)], check=True, capture_output=True, text=True
    ).stdout
    assert str(a.study_["study_id"]) in studies and str(b.study_["study_id"]) in studies
    assert a.study_["study_id"] != b.study_["study_id"]


def test_pickle_keeps_the_model(data_dir):
    df = pd.read_csv(data_dir / "churn.csv")
    m = AutoML(time_budget=None, max_trials=2, jobs=1).fit(df, "churned")
    clone = pickle.loads(pickle.dumps(m))
    X = df.drop(columns=["churned"])
    np.testing.assert_array_equal(clone.predict(X), m.predict(X))
    np.testing.assert_array_equal(clone.predict_proba(X), m.predict_proba(X))


def test_numpy_input_and_integer_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.1 * rng.normal(size=120) > 0).astype(int)
    m = AutoMLClassifier(time_budget=None, max_trials=2, jobs=1).fit(X, y)
    assert m.n_features_in_ == 3
    assert not hasattr(m, "feature_names_in_")
    assert m.classes_.dtype.kind == "i"
    assert list(m.classes_) == [0, 1]
    assert m.predict(X).dtype.kind == "i"
    assert m.score(X, y) > 0.8
    with pytest.raises(ValueError, match="features"):
        m.predict(X[:, :2])


def test_settings_are_validated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="jobs"):
        AutoML(jobs=0).fit(X, y)
    with pytest.raises(ValueError, match="max_trials"):
        AutoML(max_trials=0).fit(X, y)
    with pytest.raises(ValueError, match="metric"):
        AutoML(metric="no-such-metric", max_trials=1).fit(X, y)


def test_csv_and_parquet_paths(data_dir, tmp_path):
    """A file path is read by the engine itself; Parquet and CSV give the same model."""
    path = data_dir / "houses.csv"
    df = pd.read_csv(path)
    parquet = tmp_path / "houses.parquet"
    df.to_parquet(parquet, index=False)
    by_csv = AutoML(time_budget=None, max_trials=2, jobs=1).fit(path, "price")
    by_parquet = AutoML(time_budget=None, max_trials=2, jobs=1).fit(parquet, "price")
    assert by_parquet.task_ == "regression"
    np.testing.assert_array_equal(by_parquet.predict(df), by_csv.predict(df))


def test_fit_releases_the_gil(data_dir):
    """Another Python thread keeps running while the search runs in Rust."""
    import threading

    df = pd.read_csv(data_dir / "flowers.csv")
    counter = {"n": 0}
    stop = threading.Event()
    started = threading.Event()

    def spin():
        started.set()
        while not stop.is_set():
            counter["n"] += 1

    t = threading.Thread(target=spin)
    t.start()
    started.wait()
    before = counter["n"]
    try:
        AutoML(time_budget=None, max_trials=3, jobs=1).fit(df, "species")
        during = counter["n"] - before
    finally:
        stop.set()
        t.join()
    # With the GIL held for the whole fit the thread would hardly get a turn.
    assert during > 1000
