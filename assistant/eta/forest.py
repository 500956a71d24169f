"""Score one feature row against several fitted `HistGradientBoostingRegressor`s at once.

scikit-learn predicts a single row tree by tree from Python (about 5 µs a tree, so some 4 ms for
seven quantile models of a hundred trees). Here the trees of all models are flattened into a few
NumPy arrays and walked level by level for every tree at the same time, which takes a few dozen
NumPy operations per row: well under a millisecond.

Only numeric features are supported (the ETA features are ordinal codes). `compile_forest` checks
its result against `predict` of the estimators and returns None when they disagree (for example
after a scikit-learn upgrade changed the private tree layout); callers then fall back to
scikit-learn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

__all__ = ["CompiledForest", "compile_forest", "one_thread"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def one_thread() -> threadpool_limits:
    """Run scikit-learn's OpenMP loops on one thread, as a context manager.

    A second core gains little for these models (0.66 s instead of 0.78 s to fit one on an idle
    machine), but when the cores are shared with other busy processes (API workers, test runs)
    OpenMP threads spin waiting for each other: fits took ten times longer, and predicting 32 rows
    took seconds instead of milliseconds, in measurements on a 2-core machine.
    """
    return threadpool_limits(limits=1, user_api="openmp")


@dataclass(frozen=True)
class CompiledForest:
    """The trees of `n_models` regressors; leaves point to themselves so walking can overshoot."""

    feature: IntArray
    threshold: FloatArray
    missing_left: BoolArray
    left: IntArray
    right: IntArray
    value: FloatArray
    roots: IntArray
    model_of_tree: IntArray
    baseline: FloatArray
    depth: int

    @property
    def n_models(self) -> int:
        return len(self.baseline)

    def predict_one(self, row: FloatArray) -> FloatArray:
        """Raw predictions of every model for one feature row (NaN means missing).

        Args:
            row: the features, shape (n_features,).

        Returns:
            One prediction per model, shape (n_models,).
        """
        node = self.roots
        for _ in range(self.depth):
            x = row[self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        sums = np.bincount(self.model_of_tree, weights=self.value[node], minlength=self.n_models)
        return np.asarray(self.baseline + sums, dtype=np.float64)


def compile_forest(
    estimators: Sequence[HistGradientBoostingRegressor], check_rows: FloatArray
) -> CompiledForest | None:
    """Flatten fitted regressors into one `CompiledForest`, or None if that is not possible.

    Args:
        estimators: fitted single-output regressors without categorical features.
        check_rows: feature rows on which the result must match `estimator.predict`.

    Returns:
        The compiled forest, or None (with a log warning) when the estimators' private tree
        layout is not what this module expects or the predictions differ.
    """
    try:
        forest = _flatten(estimators)
    except (AttributeError, KeyError, ValueError, TypeError, IndexError) as exc:
        logger.warning("cannot compile the ETA trees (%s); predicting through scikit-learn", exc)
        return None
    if len(check_rows):
        with one_thread():
            expected = np.column_stack([e.predict(check_rows) for e in estimators])
        got = np.vstack([forest.predict_one(row) for row in check_rows])
        if not np.allclose(got, expected, rtol=1e-9, atol=1e-6):
            logger.warning("compiled ETA trees disagree with scikit-learn; predicting through it")
            return None
    return forest


def _flatten(estimators: Sequence[HistGradientBoostingRegressor]) -> CompiledForest:
    features: list[IntArray] = []
    thresholds: list[FloatArray] = []
    missing: list[BoolArray] = []
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    values: list[FloatArray] = []
    roots: list[int] = []
    owners: list[int] = []
    baselines: list[float] = []
    offset = 0
    depth = 0
    for model, estimator in enumerate(estimators):
        if getattr(estimator, "is_categorical_", None) is not None:
            raise ValueError("categorical features are not supported")
        baselines.append(float(np.asarray(estimator._baseline_prediction).ravel()[0]))
        for iteration in estimator._predictors:
            if len(iteration) != 1:
                raise ValueError("only single-output regressors are supported")
            nodes = iteration[0].nodes
            count = len(nodes)
            own = np.arange(offset, offset + count, dtype=np.int64)
            leaf = nodes["is_leaf"].astype(bool)
            features.append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64))
            thresholds.append(nodes["num_threshold"].astype(np.float64))
            missing.append(nodes["missing_go_to_left"].astype(bool))
            lefts.append(np.where(leaf, own, nodes["left"].astype(np.int64) + offset))
            rights.append(np.where(leaf, own, nodes["right"].astype(np.int64) + offset))
            values.append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
            roots.append(offset)
            owners.append(model)
            depth = max(depth, int(nodes["depth"].max()))
            offset += count
    return CompiledForest(
        feature=np.concatenate(features),
        threshold=np.concatenate(thresholds),
        missing_left=np.concatenate(missing),
        left=np.concatenate(lefts),
        right=np.concatenate(rights),
        value=np.concatenate(values),
        roots=np.asarray(roots, dtype=np.int64),
        model_of_tree=np.asarray(owners, dtype=np.int64),
        baseline=np.asarray(baselines, dtype=np.float64),
        depth=depth,
    )
