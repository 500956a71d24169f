"""The ETA model ("parcel predictor"): quantile gradient boosting on scan histories.

How it works:

1. Every delivered shipment gives one training example per event before its first DELIVERED or
   AVAILABLE_FOR_PICKUP (`assistant.eta.features`): the state at that event, and the hours from
   it to the delivery on the destination's working-hour clock (`assistant.eta.workdays`).
2. One `HistGradientBoostingRegressor(loss="quantile")` per probability in `PROBS` learns those
   hours; a quarter of the shipments is held back for calibration.
3. Split-conformal calibration (`assistant.eta.calibration`): on the held-back shipments, a
   factor per parcel state scales the predicted distributions around their medians so that the
   80 % interval holds the actual delivery *date* 80 % of the time (dates are what customers
   see; date rounding alone would over-cover).
4. To predict, the quantiles become a distribution (`assistant.eta.distribution`), conditioned on
   the parcel not having arrived by `now`, and its 10/50/90 % points are turned back into working
   days of the destination. The probability of arriving by the promised date comes from the
   fitted quantiles as they are.

The model file is a joblib pickle: load only files this process or the operator wrote.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import time as timer
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import joblib
import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor

from assistant.carrier.seed import read_shipments
from assistant.domain import COUNTRY_TIMEZONE, EventCode, Shipment
from assistant.errors import ConfigurationError, ToolFailed
from assistant.eta.calibration import (
    GROUP_NAMES,
    Resolved,
    calibrate,
    group_of,
    inside_interval,
    resolve,
    resolve_examples,
)
from assistant.eta.distribution import PROBS
from assistant.eta.features import (
    DESTINATIONS,
    STAGE_NAMES,
    ExampleSet,
    build_examples,
    stage_of,
    state_at,
)
from assistant.eta.forest import CompiledForest, compile_forest, one_thread
from assistant.eta.synthetic import generate_shipments
from assistant.eta.workdays import work_table

__all__ = [
    "DEFAULT_TRAINING_SHIPMENTS",
    "FORMAT_VERSION",
    "WINDOW_HOURS",
    "EtaModel",
    "EtaPrediction",
    "evaluate",
    "load_or_train",
    "train_from_history",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FORMAT_VERSION = 1
DEFAULT_TRAINING_SHIPMENTS = 10000
CALIBRATION_SHARE = 0.25
MIN_TRAINING_SHIPMENTS = 50
# knowledge/facts.yaml: delivery.eta_window_hours and delivery.home_delivery_hours.
WINDOW_HOURS = 2
DELIVERY_DAY = (8.0, 21.0)
# Only the median decides the most likely date, so it gets the most capacity; the outer
# quantiles shape the interval, which conformal calibration corrects anyway. A depth limit keeps
# the single-row walk of `assistant.eta.forest` short.
_HGB_COMMON: dict[str, Any] = {"learning_rate": 0.1, "max_depth": 12, "early_stopping": False}
_HGB_MEDIAN: dict[str, Any] = {"max_iter": 200, "max_leaf_nodes": 63, "min_samples_leaf": 20}
_HGB_OUTER: dict[str, Any] = {"max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 40}


def _regressor(p: float, seed: int, n_rows: int) -> HistGradientBoostingRegressor:
    """A quantile regressor sized for `n_rows` training rows.

    A small history gets smaller trees and fewer rounds: less to overfit, and quicker to train,
    since scikit-learn refits every leaf of a quantile tree with a Python-level percentile.
    """
    size = dict(_HGB_MEDIAN if p == 0.5 else _HGB_OUTER)
    size["max_leaf_nodes"] = int(np.clip(n_rows // 400, 7, size["max_leaf_nodes"]))
    size["max_iter"] = int(np.clip(n_rows // 60, 40, size["max_iter"]))
    return HistGradientBoostingRegressor(
        loss="quantile", quantile=p, random_state=seed, **_HGB_COMMON, **size
    )


@dataclass(frozen=True)
class EtaPrediction:
    """When a parcel will most likely arrive, with an 80 % interval, all in the destination's zone."""

    most_likely: date
    earliest: date
    latest: date
    p_by_promised: float | None
    window_start: datetime | None
    window_end: datetime | None
    model_version: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for tool results."""
        return {
            "most_likely": self.most_likely.isoformat(),
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "p_by_promised": None if self.p_by_promised is None else round(self.p_by_promised, 3),
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "model_version": self.model_version,
        }


def _raw_quantiles(
    estimators: tuple[HistGradientBoostingRegressor, ...], rows: FloatArray
) -> FloatArray:
    """Hours per row and probability, sorted so quantiles never cross, never negative."""
    if not len(rows):
        return np.zeros((0, len(estimators)), dtype=np.float64)
    with one_thread():
        raw = np.column_stack([estimator.predict(rows) for estimator in estimators])
    return np.asarray(np.maximum(np.sort(raw, axis=1), 0.0), dtype=np.float64)


class EtaModel:
    """Predicts when a parcel arrives, from its scan history (see the module docstring)."""

    def __init__(
        self,
        estimators: Iterable[HistGradientBoostingRegressor],
        *,
        scales: Iterable[float],
        model_version: str,
        check_rows: FloatArray,
        info: dict[str, Any] | None = None,
    ) -> None:
        """Wrap fitted quantile regressors; use `train` or `load` rather than this.

        Args:
            estimators: one fitted regressor per probability in `PROBS`, in that order.
            scales: the conformal factor of each calibration group (`GROUP_NAMES`).
            model_version: stable id of this model, reported with every prediction.
            check_rows: feature rows on which the fast single-row path is checked.
            info: training facts (sizes, seconds, calibration figures) kept with the model.
        """
        self._estimators = tuple(estimators)
        self.scales = np.asarray(tuple(scales), dtype=np.float64)
        if len(self._estimators) != len(PROBS) or len(self.scales) != len(GROUP_NAMES):
            raise ConfigurationError(
                f"an ETA model needs {len(PROBS)} quantile regressors and {len(GROUP_NAMES)} "
                f"calibration factors, got {len(self._estimators)} and {len(self.scales)}"
            )
        self.model_version = model_version
        self.info: dict[str, Any] = dict(info or {})
        self._check_rows = np.asarray(check_rows, dtype=np.float64)
        self._forest: CompiledForest | None = compile_forest(self._estimators, self._check_rows)
        _warm_calendars()

    @classmethod
    def train(cls, shipments: Iterable[Shipment], *, seed: int = 7) -> EtaModel:
        """Fit the quantile models and calibrate their 80 % interval.

        Args:
            shipments: histories in the seed format (synthetic or a carrier's own); only those
                that reached DELIVERED or AVAILABLE_FOR_PICKUP teach anything.
            seed: fixes the calibration split and the regressors; same data and seed, same model.

        Returns:
            The trained model.

        Raises:
            ConfigurationError: fewer than `MIN_TRAINING_SHIPMENTS` delivered shipments.
        """
        started = timer.perf_counter()
        # Sorted, so the model does not depend on the order the history came in.
        ordered = sorted(shipments, key=lambda s: s.tracking_id)
        examples = build_examples(ordered)
        delivered = np.unique(examples.shipment)
        if len(delivered) < MIN_TRAINING_SHIPMENTS:
            raise ConfigurationError(
                f"the ETA model needs at least {MIN_TRAINING_SHIPMENTS} delivered shipments to "
                f"learn from; got {len(delivered)} of {len(ordered)}"
            )
        rng = np.random.default_rng(seed)
        held_back = rng.permutation(delivered)[: round(CALIBRATION_SHARE * len(delivered))]
        in_calibration = np.isin(examples.shipment, held_back)
        fit_set = examples.subset(~in_calibration)
        calibration_set = examples.subset(in_calibration)
        with one_thread():
            estimators = tuple(
                _regressor(float(p), seed, len(fit_set)).fit(fit_set.X, fit_set.y) for p in PROBS
            )
        quantiles = _raw_quantiles(estimators, calibration_set.X)
        scales = calibrate(quantiles, calibration_set)
        calibrated = resolve_examples(
            quantiles, scales[group_of(calibration_set.code)], calibration_set
        )
        info = {
            "seed": seed,
            "shipments": len(ordered),
            "delivered_shipments": len(delivered),
            "fit_examples": len(fit_set),
            "calibration_examples": len(calibration_set),
            "calibration_scales": dict(zip(GROUP_NAMES, np.round(scales, 4).tolist(), strict=True)),
            "calibration_coverage": round(
                float(inside_interval(calibrated, calibration_set).mean()), 4
            ),
            "train_seconds": round(timer.perf_counter() - started, 2),
            "sklearn": sklearn.__version__,
        }
        model = cls(
            estimators,
            scales=scales,
            model_version=f"eta-hgbq-v{FORMAT_VERSION}-{_fingerprint(fit_set, seed)}",
            check_rows=fit_set.X[:32],
            info=info,
        )
        logger.info("trained ETA model %s: %s", model.model_version, info)
        return model

    def predict(self, shipment: Shipment, now: datetime) -> EtaPrediction:
        """When `shipment` will arrive, as seen at `now`.

        Args:
            shipment: the shipment with its events so far.
            now: the current time, timezone-aware (from the one clock).

        Returns:
            Most likely date, 80 % interval, chance of making the promised date, and a two-hour
            window when the parcel is out for delivery today.

        Raises:
            ToolFailed: `already_delivered` (delivered or returned to the sender),
                `already_at_pickup` (waiting at a service point or locker), `no_eta` (damaged in
                transit, or a destination outside DK, SE, NO and FI).
            ValueError: `now` has no time zone.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        _refuse_if_final(shipment)
        country = shipment.recipient.country
        if country not in DESTINATIONS:
            raise ToolFailed(
                "no_eta",
                f"Budbringer predicts deliveries in DK, SE, NO and FI only, not in {country}.",
            )
        state = state_at(shipment, -1)
        local_now = now.astimezone(_ZONES[country])
        promised = shipment.promised_date
        resolved = resolve(
            self._quantiles_one(state.row),
            self.scales[group_of(np.array([stage_of(state.code)]))],
            np.array([DESTINATIONS.index(country)]),
            np.array([state.anchor.toordinal()]),
            np.array([_hour(state.anchor)]),
            np.array([local_now.toordinal()]),
            np.array([_hour(local_now)]),
            np.array([promised.toordinal() if promised else -1]),
        )
        most_likely = date.fromordinal(int(resolved.most_likely[0]))
        window_start = window_end = None
        if (
            state.code is EventCode.OUT_FOR_DELIVERY
            and state.anchor.date() == local_now.date() == most_likely
        ):
            window_start, window_end = _window(local_now, float(resolved.median_hour[0]))
        p_promised = float(resolved.p_by_promised[0])
        return EtaPrediction(
            most_likely=most_likely,
            earliest=date.fromordinal(int(resolved.earliest[0])),
            latest=date.fromordinal(int(resolved.latest[0])),
            p_by_promised=None if math.isnan(p_promised) else p_promised,
            window_start=window_start,
            window_end=window_end,
            model_version=self.model_version,
        )

    def _quantiles_one(self, row: FloatArray) -> FloatArray:
        if self._forest is not None:
            raw = self._forest.predict_one(row)
            return np.asarray(np.maximum(np.sort(raw), 0.0)[None, :], dtype=np.float64)
        return _raw_quantiles(self._estimators, row[None, :])

    def _resolve_examples(self, examples: ExampleSet) -> Resolved:
        quantiles = _raw_quantiles(self._estimators, examples.X)
        return resolve_examples(quantiles, self.scales[group_of(examples.code)], examples)

    def save(self, path: Path) -> None:
        """Write the model to `path` (joblib), atomically: readers never see half a file.

        Args:
            path: the file to write; its folder is created when missing.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": FORMAT_VERSION,
            "sklearn": sklearn.__version__,
            "model_version": self.model_version,
            "estimators": list(self._estimators),
            "scales": self.scales.tolist(),
            "check_rows": self._check_rows,
            "info": self.info,
        }
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
        try:
            joblib.dump(payload, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> EtaModel:
        """Read a model written by `save`.

        Args:
            path: the model file.

        Returns:
            The model.

        Raises:
            FileNotFoundError: no file at `path`.
            ConfigurationError: the file is corrupt, or was written by another format version or
                scikit-learn version.
        """
        try:
            with warnings.catch_warnings():
                # scikit-learn warns (InconsistentVersionWarning) on pickles from other versions.
                warnings.simplefilter("error")
                payload = joblib.load(path)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise ConfigurationError(f"ETA model file {path} cannot be read: {exc!r}") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            raise ConfigurationError(f"ETA model file {path} is not format {FORMAT_VERSION}")
        if payload.get("sklearn") != sklearn.__version__:
            raise ConfigurationError(
                f"ETA model file {path} was written with scikit-learn {payload.get('sklearn')}, "
                f"this is {sklearn.__version__}"
            )
        try:
            estimators = payload["estimators"]
            if not all(isinstance(e, HistGradientBoostingRegressor) for e in estimators):
                raise TypeError("not HistGradientBoostingRegressor estimators")
            return cls(
                estimators,
                scales=[float(s) for s in payload["scales"]],
                model_version=str(payload["model_version"]),
                check_rows=np.asarray(payload["check_rows"], dtype=np.float64),
                info=dict(payload["info"]),
            )
        except (KeyError, TypeError, ValueError, ConfigurationError) as exc:
            raise ConfigurationError(f"ETA model file {path} is incomplete: {exc!r}") from exc


def _fingerprint(examples: ExampleSet, seed: int) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(examples.X).tobytes())
    digest.update(np.ascontiguousarray(examples.y).tobytes())
    settings = (seed, _HGB_COMMON, _HGB_MEDIAN, _HGB_OUTER, PROBS.tolist())
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:12]


def _hour(at: datetime) -> float:
    return at.hour + at.minute / 60.0 + at.second / 3600.0


_ZONES = {country: ZoneInfo(name) for country, name in COUNTRY_TIMEZONE.items()}


def _warm_calendars() -> None:
    """Build the working-day tables around today, so the first prediction is as fast as the rest."""
    today = date.today().toordinal()
    for country in DESTINATIONS:
        work_table(country, today - 60, today + 60)


def _window(now: datetime, median_hour: float) -> tuple[datetime, datetime]:
    """A two-hour window around the median time today, inside delivery hours and not in the past."""
    earliest_start, latest_start = DELIVERY_DAY[0], DELIVERY_DAY[1] - WINDOW_HOURS
    now_hour = math.floor(_hour(now) * 4.0) / 4.0  # to the quarter hour, as customers read it
    start = math.floor((median_hour - WINDOW_HOURS / 2.0) * 4.0) / 4.0
    start = max(min(start, latest_start), earliest_start, now_hour)
    midnight = datetime.combine(now.date(), time(0, 0), now.tzinfo)
    window_start = midnight + timedelta(hours=start)
    return window_start, window_start + timedelta(hours=WINDOW_HOURS)


def _refuse_if_final(shipment: Shipment) -> None:
    last = shipment.last_event
    when = last.at.date().isoformat()
    if last.code is EventCode.DELIVERED:
        raise ToolFailed(
            "already_delivered",
            f"The parcel was delivered on {when}, so there is no arrival left to predict.",
            {"delivered_at": last.at.isoformat()},
        )
    if last.code is EventCode.RETURNED_TO_SENDER:
        raise ToolFailed(
            "already_delivered",
            f"The parcel was returned to the sender on {when}; it will not reach the recipient.",
            {"returned_at": last.at.isoformat()},
        )
    if last.code is EventCode.DAMAGED_IN_TRANSIT:
        raise ToolFailed(
            "no_eta",
            f"The parcel was damaged in transit on {when}, so no delivery date can be given; "
            "a damage case can be opened.",
            {"damaged_at": last.at.isoformat()},
        )
    if last.code is EventCode.AVAILABLE_FOR_PICKUP:
        raise ToolFailed(
            "already_at_pickup",
            f"The parcel has been waiting for pickup at {last.location} since {when}; "
            "it can be collected now.",
            {"available_since": last.at.isoformat(), "location": last.location},
        )


def evaluate(model: EtaModel, shipments: Iterable[Shipment]) -> dict[str, Any]:
    """Accuracy of `model` on delivered shipments, predicted at each of their events.

    Each event before the delivery is one case, predicted as seen right at that event. Dates are
    calendar dates in the destination's zone; coverage counts the actual delivery date inside
    [earliest, latest].

    Args:
        model: the model to score.
        shipments: held-out histories; those never delivered are ignored.

    Returns:
        `n` cases and `shipments`; `mae_days` of the most likely date and `exact_share`;
        `coverage_80` and `mean_interval_width_days` (latest - earliest) of the 80 % interval;
        for parcels with a promised date, the Brier score and mean of `p_by_promised` against
        the actual on-time share; MAE and coverage per parcel state.
    """
    examples = build_examples(shipments)
    if not len(examples):
        return {"n": 0, "shipments": 0, "mae_days": None, "coverage_80": None}
    resolved = model._resolve_examples(examples)
    actual = examples.final_ordinal
    error = np.abs(resolved.most_likely - actual)
    inside = inside_interval(resolved, examples)
    figures: dict[str, Any] = {
        "n": len(examples),
        "shipments": len(np.unique(examples.shipment)),
        "mae_days": _round(error.mean()),
        "exact_share": _round((error == 0).mean()),
        "coverage_80": _round(inside.mean()),
        "coverage_basis": "actual delivery date within [earliest, latest]",
        "mean_interval_width_days": _round((resolved.latest - resolved.earliest).mean()),
    }
    promised = examples.promised_ordinal >= 0
    if promised.any():
        p = resolved.p_by_promised[promised]
        on_time = (actual[promised] <= examples.promised_ordinal[promised]).astype(np.float64)
        figures["p_by_promised_brier"] = _round(((p - on_time) ** 2).mean())
        figures["p_by_promised_mean"] = _round(p.mean())
        figures["on_time_share"] = _round(on_time.mean())
    figures["by_state"] = {
        STAGE_NAMES[int(stage)]: {
            "n": int((examples.code == stage).sum()),
            "mae_days": _round(error[examples.code == stage].mean()),
            "coverage_80": _round(inside[examples.code == stage].mean()),
        }
        for stage in np.unique(examples.code)
    }
    return figures


def _round(value: Any) -> float:
    return round(float(value), 4)


def load_or_train(
    path: Path, *, seed: int = 7, n_shipments: int = DEFAULT_TRAINING_SHIPMENTS
) -> EtaModel:
    """The model cached at `path`; trained on synthetic data and cached there on first use.

    A corrupt or incompatible file is replaced by a freshly trained model, with a log warning.
    A valid file is used as it is, also when a carrier trained it on its own history.

    Args:
        path: the model file (for example in the data dir).
        seed: seed for the synthetic data and the training, when a model must be built.
        n_shipments: how many synthetic shipments to train on, when a model must be built.

    Returns:
        The model.
    """
    try:
        return EtaModel.load(path)
    except FileNotFoundError:
        logger.info("no ETA model at %s yet; training one on synthetic data", path)
    except ConfigurationError as exc:
        logger.warning("rebuilding the ETA model at %s: %s", path, exc)
    model = EtaModel.train(generate_shipments(n_shipments, seed=seed), seed=seed)
    model.info["source"] = f"synthetic ({n_shipments} shipments, seed {seed})"
    try:
        model.save(path)
    except OSError as exc:
        logger.warning("cannot cache the ETA model at %s (%s); it lives in memory only", path, exc)
    return model


def train_from_history(history: Path, out: Path, *, seed: int = 7) -> dict[str, Any]:
    """Train on a carrier's own `shipments.jsonl` and save the model to `out`.

    A fifth of the shipments (chosen by `seed`) is held out; the model is trained on the rest and
    scored on it, and that very model is saved, so the figures describe the file.

    Args:
        history: a JSON Lines file in the seed format (DESIGN §3).
        out: where to write the model (joblib).
        seed: fixes the split and the training.

    Returns:
        The evaluation figures on the held-out fifth (see `evaluate`), with the model version,
        the split sizes, the training seconds and the path written.

    Raises:
        SeedError: the file has bad lines (every one is listed).
        ConfigurationError: too few delivered shipments to learn from.
    """
    shipments = sorted(read_shipments(history), key=lambda s: s.tracking_id)
    order = np.random.default_rng(seed).permutation(len(shipments))
    cut = round(0.2 * len(shipments))
    test = [shipments[i] for i in order[:cut]]
    train = [shipments[i] for i in order[cut:]]
    model = EtaModel.train(train, seed=seed)
    figures = evaluate(model, test)
    model.info.update(source=str(history), evaluation=figures)
    model.save(out)
    logger.info("ETA model %s trained on %s and saved to %s", model.model_version, history, out)
    return {
        **figures,
        "model_version": model.model_version,
        "train_shipments": len(train),
        "test_shipments": len(test),
        "train_seconds": model.info["train_seconds"],
        "path": str(out),
    }
