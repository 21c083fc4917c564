"""automl: a scikit-learn style estimator over the automl engine (Rust).

    from automl import AutoML
    m = AutoML(time_budget=60).fit(X, y)
    m.predict(X_new)

``AutoML`` infers the task (binary, multiclass or regression) from ``y`` as ``automl fit`` does;
``AutoMLClassifier`` and ``AutoMLRegressor`` fix it, for scikit-learn pipelines and tools that
ask an estimator whether it is a classifier. The search, the leaderboard and the final model are
the engine's (``automl._core``, built from crates/python): the same data, seed and trial budget
give the same leaderboard and predictions as the ``automl`` command line.

DataFrames cross to Rust as an Arrow IPC stream (``pyarrow``), so categorical columns and missing
values keep their types; a numpy ``X`` becomes columns ``x0 .. x{n-1}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _core

__all__ = ["AutoML", "AutoMLClassifier", "AutoMLRegressor", "TARGET_COLUMN"]

#: The name the target column gets when ``y`` is passed apart from ``X``.
TARGET_COLUMN = "__automl_target__"


def _ipc_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as Arrow IPC stream bytes (what ``automl_data`` reads)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _label_keys(u: Any) -> list[str]:
    """The texts a class label may have become in the engine (its classes are strings)."""
    keys = [str(u)]
    if isinstance(u, (bool, np.bool_)):
        keys += ["true" if u else "false", "1" if u else "0"]
    elif isinstance(u, (int, np.integer)):
        keys.append(str(int(u)))
    elif isinstance(u, (float, np.floating)) and float(u).is_integer():
        keys.append(str(int(u)))
    return keys


class AutoML(BaseEstimator):
    """An automl search as a scikit-learn estimator; the task is inferred from ``y``.

    Parameters
    ----------
    time_budget : float or None, default=60
        Seconds for the whole search (reading the data, the trials, the final refit).
        None: no time limit (then give ``max_trials``; with neither, the engine's default
        budget applies, as for ``automl fit``).
    max_trials : int or None, default=None
        Stop after this many trials. With ``seed``, this makes the result reproducible.
    metric : str or None, default=None
        The metric to optimise (``automl fit --metric`` names); None: the task's default.
    store : str, path or None, default=None
        None: a temporary in-memory store, dropped after ``fit``. A directory (a sled store)
        or a ``postgres://`` URL keeps every trial, as ``automl fit --store`` does; it is
        opened only during ``fit``, so the CLI (``automl leaderboard --store ...``) and other
        estimators can use it afterwards.
    seed : int, default=0
        Same data + seed + ``max_trials`` = same leaderboard and predictions.
    jobs : int, default=-1
        Trials fitted in parallel; -1: one per CPU.

    Attributes (after ``fit``)
    --------------------------
    task_ : str ('binary', 'multiclass' or 'regression')
    classes_ : ndarray (classification only), the labels of ``y``, sorted
    best_params_ : dict, the family and parameters of the final model's trial
    metric_ : str, the metric the search optimised
    study_ : dict, the engine's study record
    data_report_ : str, the engine's report on the training data
    interrupted_ : bool, True when Ctrl-C stopped the search early
    n_features_in_, feature_names_in_ : as scikit-learn defines them (not set for a file fit)
    """

    _task: str | None = None

    def __init__(
        self,
        time_budget: float | None = 60,
        max_trials: int | None = None,
        metric: str | None = None,
        store: str | os.PathLike | None = None,
        seed: int = 0,
        jobs: int = -1,
    ):
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.metric = metric
        self.store = store
        self.seed = seed
        self.jobs = jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        return tags

    # -- input ------------------------------------------------------------------------------

    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """X as a DataFrame with string column names, feature names checked by scikit-learn."""
        if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
            raise TypeError(
                f"{type(self).__name__} does not take sparse input; pass a dense array or "
                "a DataFrame"
            )
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("Found array with 0 sample(s) (shape=(0, ...)); need at least 1")
            if not all(isinstance(c, str) for c in X.columns):
                X = X.set_axis([f"x{i}" for i in range(X.shape[1])], axis=1)
            return X
        X = check_array(X, dtype=None, ensure_all_finite=False)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])

    def _target(self, y: Any, n_rows: int) -> pd.Series:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError("y should be a 1d array (one target column)")
            y = y.iloc[:, 0]
        if isinstance(y, pd.Series):
            y = y.reset_index(drop=True)
        else:
            y = pd.Series(column_or_1d(y, warn=True, dtype=None))
        if len(y) != n_rows:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: [{n_rows}, {len(y)}]"
            )
        return self._check_target(y)

    def _check_target(self, y: pd.Series) -> pd.Series:
        """Subclasses check the target for their task."""
        return y

    def _settings(self) -> dict:
        jobs = self.jobs
        if jobs == -1 or jobs is None:
            jobs = None
        elif not (isinstance(jobs, (int, np.integer)) and jobs >= 1):
            raise ValueError(f"jobs must be -1 (one per CPU) or at least 1 (got {jobs!r})")
        if self.max_trials is not None and not (
            isinstance(self.max_trials, (int, np.integer)) and self.max_trials >= 1
        ):
            raise ValueError(f"max_trials must be None or at least 1 (got {self.max_trials!r})")
        if self.time_budget is not None and not (
            isinstance(self.time_budget, (int, float, np.number)) and self.time_budget > 0
        ):
            raise ValueError(
                f"time_budget must be None or a positive number of seconds (got {self.time_budget!r})"
            )
        return dict(
            task=self._task,
            store=None if self.store is None else os.fspath(self.store),
            time_budget=None if self.time_budget is None else float(self.time_budget),
            max_trials=None if self.max_trials is None else int(self.max_trials),
            metric=self.metric,
            seed=int(self.seed),
            jobs=None if jobs is None else int(jobs),
        )

    # -- fit --------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None):
        """Search for the best model of ``y`` given ``X`` and refit it on all rows.

        ``X``: a DataFrame (categorical, string, boolean and numeric columns; missing values
        allowed) or a 2-D array; ``y``: an array or Series, or the name of a column of ``X``.
        ``X`` may also be the path of a CSV or Parquet file, with ``y`` the name of its target
        column (None: the last column), read by the engine as ``automl fit FILE`` reads it.

        Ctrl-C (KeyboardInterrupt) stops the search as in ``automl fit``: no new trials,
        running ones get a few seconds, the best so far is refit; a second Ctrl-C abandons
        running trials and the refit. The estimator is then fitted with that best model
        (``interrupted_`` is True) if any trial had completed, else left as it was, and the
        KeyboardInterrupt is raised.
        """
        settings = self._settings()
        labels = None
        if _is_path(X):
            if y is not None and not isinstance(y, str):
                raise ValueError("with a file path as X, y is the target column's name (or None)")
            out = _core.fit(None, os.fspath(X), y, **settings)
            for attr in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(attr, None)
        else:
            if isinstance(y, str) and isinstance(X, pd.DataFrame) and y in X.columns:
                y, X = X[y], X.drop(columns=[y])
            frame = self._frame(X, reset=True)
            if frame.shape[0] < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 samples to cross-validate "
                    f"(got {frame.shape[0]} sample; n_samples = {frame.shape[0]})"
                )
            target = self._target(y, frame.shape[0])
            if TARGET_COLUMN in frame.columns:
                raise ValueError(f"X has a column named {TARGET_COLUMN}, the reserved target name")
            frame = frame.reset_index(drop=True).assign(**{TARGET_COLUMN: target})
            labels = target
            out = _core.fit(_ipc_bytes(frame), None, TARGET_COLUMN, **settings)
        interrupt = out["interrupt"]
        if out["model"] is None:
            if interrupt is not None:
                raise interrupt
            raise RuntimeError(
                "no trial completed within the budget; see the leaderboard of the store for the "
                "errors, or try a larger time_budget"
            )
        self._set_fitted(out, labels)
        if interrupt is not None:
            raise interrupt
        return self

    def _set_fitted(self, out: dict, labels: pd.Series | None) -> None:
        study = json.loads(out["study"])
        self.study_ = study
        self.task_ = study["task"] if isinstance(study["task"], str) else str(study["task"])
        self.task_ = self.task_.lower()
        self.metric_ = study["metric"]
        self.data_report_ = out["report"]
        self.interrupted_ = out["interrupt"] is not None or bool(out["cancelled"])
        self._leaderboard = json.loads(out["leaderboard"])
        self._model_bytes = out["model"]
        self._study_json = out["study"]
        final = study.get("final_trial")
        best = next(
            (r["trial"] for r in self._leaderboard if r["trial"]["trial_id"] == final),
            self._leaderboard[0]["trial"] if self._leaderboard else None,
        )
        self.best_params_ = (
            {"family": best["candidate"]["family"], **best["candidate"]["params"]} if best else {}
        )
        self._set_classes(study["classes"], labels)
        self._predictor = _core.Model(self._model_bytes, self._study_json)

    def _set_classes(self, engine_classes: list[str], labels: pd.Series | None) -> None:
        """classes_ in scikit-learn's order (sorted labels of y, with their original type),
        and the permutation from the engine's class order to it."""
        self.__dict__.pop("classes_", None)
        self._order = None
        if self.task_ not in ("binary", "multiclass"):
            return
        classes = np.array(engine_classes, dtype=object)
        if labels is not None:
            uniq = pd.unique(labels.dropna())
            by_key: dict[str, Any] = {}
            for u in uniq:
                for k in _label_keys(u):
                    by_key.setdefault(k, u)
            if len(uniq) == len(engine_classes) and all(c in by_key for c in engine_classes):
                mapped = [by_key[c] for c in engine_classes]
                try:
                    sorted_labels = np.unique(np.asarray(uniq))
                    index = {_label_keys(v)[0]: i for i, v in enumerate(mapped)}
                    self._order = np.array([index[_label_keys(v)[0]] for v in sorted_labels])
                    self.classes_ = sorted_labels
                    return
                except TypeError:  # labels of mixed types do not sort
                    classes = np.array(mapped, dtype=object)
        self.classes_ = classes
        self._order = np.arange(len(classes))

    def __getstate__(self):
        # A copy: on Python >= 3.11 object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        state.pop("_predictor", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_model_bytes" in state:
            self._predictor = _core.Model(self._model_bytes, self._study_json)

    # -- predict ----------------------------------------------------------------------------

    def _raw_predict(self, X: Any) -> tuple[np.ndarray, np.ndarray | None]:
        check_is_fitted(self)
        if hasattr(self, "n_features_in_"):
            frame = self._frame(X, reset=False)
        elif isinstance(X, pd.DataFrame):
            frame = X
        else:
            X = check_array(X, dtype=None, ensure_all_finite=False)
            frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        values, proba = self._predictor.predict(_ipc_bytes(frame))
        values = np.frombuffer(values, dtype="<f8").copy()
        if proba is not None:
            proba = np.frombuffer(proba, dtype="<f8").reshape(len(values), -1)
        return values, proba

    def predict(self, X: Any) -> np.ndarray:
        """The final model's predictions: class labels (classification) or values."""
        values, _ = self._raw_predict(X)
        if self.task_ == "regression":
            return values
        engine_classes = self.classes_[np.argsort(self._order)]
        return engine_classes[values.astype(np.int64)]

    def _has_proba(self) -> bool:
        return self._task != "regression" and getattr(self, "task_", None) != "regression"

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class of ``classes_`` (classification only)."""
        _, proba = self._raw_predict(X)
        return proba[:, self._order]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy (classification) or R^2 (regression) of ``predict(X)`` against ``y``."""
        pred = self.predict(X)
        if self.task_ == "regression":
            return float(r2_score(y, pred, sample_weight=sample_weight))
        return float(accuracy_score(np.asarray(y), pred, sample_weight=sample_weight))

    def leaderboard(self) -> pd.DataFrame:
        """Every trial of the search, best first; columns as ``automl leaderboard --format
        json`` names them (rank is empty for failed or stopped trials, and for first looks
        cross-validated on one fold only, which are listed after the ranked trials)."""
        check_is_fitted(self)
        rows = []
        for r in self._leaderboard:
            t = r["trial"]
            c = t["candidate"]
            rows.append(
                {
                    "rank": r["rank"],
                    "trial_id": t["trial_id"],
                    "family": c["family"],
                    "state": t["state"],
                    "metric": self.metric_,
                    "mean": t["mean"],
                    "std": t["std"],
                    "fit_time_s": t["fit_time_s"],
                    "predict_time_per_row_s": t["predict_time_per_row_s"],
                    "model_size_bytes": t["model_size_bytes"],
                    "strategy": t["strategy"],
                    "params": c["params"],
                    "error": t.get("error"),
                }
            )
        board = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
        board["rank"] = board["rank"].astype("Int64")
        for col in ("mean", "std"):
            board[col] = pd.to_numeric(board[col], errors="coerce").astype(float)
        return board


#: The columns of :meth:`AutoML.leaderboard`.
LEADERBOARD_COLUMNS = [
    "rank",
    "trial_id",
    "family",
    "state",
    "metric",
    "mean",
    "std",
    "fit_time_s",
    "predict_time_per_row_s",
    "model_size_bytes",
    "strategy",
    "params",
    "error",
]


class AutoMLClassifier(ClassifierMixin, AutoML):
    """:class:`AutoML` for classification (binary or multiclass by the number of classes)."""

    _task = "classification"

    def _check_target(self, y: pd.Series) -> pd.Series:
        check_classification_targets(y.to_numpy())
        return y

    def fit(self, X: Any, y: Any = None):
        if not _is_path(X):
            y_values = y
            if isinstance(y, str) and isinstance(X, pd.DataFrame) and y in X.columns:
                y_values = X[y]
            if y_values is not None:
                n = pd.Series(np.asarray(y_values).ravel()).nunique(dropna=True)
                self._task = "binary" if n <= 2 else "multiclass"
        else:
            self._task = None
        try:
            return super().fit(X, y)
        finally:
            self.__dict__.pop("_task", None)


class AutoMLRegressor(RegressorMixin, AutoML):
    """:class:`AutoML` for regression (a numeric target)."""

    _task = "regression"

    def _check_target(self, y: pd.Series) -> pd.Series:
        try:
            return y.astype(float)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{type(self).__name__} needs a numeric target: {e}") from None
