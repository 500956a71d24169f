"""From predicted quantiles to dates, and the split-conformal calibration of the 80 % interval.

`resolve` is the one path from working-clock quantiles to calendar dates, used by a single
prediction, by evaluation and by calibration alike, so the figures describe what customers see.

Calibration is Mondrian split-conformal: the held-back examples are grouped by the parcel's state
(information received, accepted, in transit, at a terminal, in customs, the last mile), and each
group gets its own factor that scales its predicted distributions around their medians. With one
factor for everything, an interval would cover 95 % of parcels out for delivery and 60 % of those
in customs and still average 80 %. The factors are the smallest that bring every group to a
common coverage target, and that target is the smallest that makes the overall coverage 80 %:
groups whose narrowest possible interval (a single day) already covers more stay above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assistant.eta.distribution import Distribution
from assistant.eta.features import DESTINATIONS, ExampleSet
from assistant.eta.workdays import work_table

__all__ = [
    "GROUP_NAMES",
    "TARGET_COVERAGE",
    "Resolved",
    "calibrate",
    "group_of",
    "inside_interval",
    "resolve",
    "resolve_examples",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TARGET_COVERAGE = 0.80
LOWER, UPPER = 0.1, 0.9
# No parcel is predicted further out than this many working hours (about half a year).
MAX_HOURS = 24.0 * 120

GROUP_NAMES = (
    "INFORMATION_RECEIVED",
    "ACCEPTED",
    "IN_TRANSIT",
    "ARRIVED_AT_TERMINAL",
    "CUSTOMS_HOLD",
    "LAST_MILE",  # redirected, delivery attempted, out for delivery
)
# Stage code (assistant.eta.features) -> calibration group.
_GROUP_OF_STAGE = np.array([0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5], dtype=np.int64)
# Groups with fewer held-back examples than this share one pooled factor.
_MIN_GROUP = 100
# Factors tried: from a sixty-fourth to eight times the fitted spread, about 7 % apart.
_SCALE_GRID = np.geomspace(1.0 / 64.0, 8.0, 97)
_TARGET_STEP = 0.0025


def group_of(stage: IntArray) -> IntArray:
    """Calibration group of each stage code."""
    return np.asarray(_GROUP_OF_STAGE[stage], dtype=np.int64)


@dataclass(frozen=True)
class Resolved:
    """Dates per row (as ordinals) of the 80 % interval and median, and the median's hour."""

    earliest: IntArray
    most_likely: IntArray
    latest: IntArray
    median_hour: FloatArray
    p_by_promised: FloatArray  # NaN without a promised date


def resolve(
    quantiles: FloatArray,
    scale: FloatArray,
    country: IntArray,
    anchor_ord: IntArray,
    anchor_hour: FloatArray,
    now_ord: IntArray,
    now_hour: FloatArray,
    promised_ord: IntArray,
) -> Resolved:
    """Turn predicted working-clock quantiles into dates in the destination's calendar.

    Args:
        quantiles: hours from the last event to delivery, per row at `PROBS`.
        scale: calibration factor per row.
        country: destination index (into `DESTINATIONS`) per row.
        anchor_ord: date ordinal of the last event, in the destination's zone.
        anchor_hour: local hour of the last event.
        now_ord: date ordinal of now, in the destination's zone.
        now_hour: local hour of now.
        promised_ord: promised date ordinal, or -1.

    Returns:
        Working days for the interval and the median given the parcel has not arrived by now,
        and the probability of arriving by the end of the promised date.
    """
    n = len(quantiles)
    earliest = np.zeros(n, dtype=np.int64)
    most_likely = np.zeros(n, dtype=np.int64)
    latest = np.zeros(n, dtype=np.int64)
    median_hour = np.zeros(n, dtype=np.float64)
    p_promised = np.full(n, np.nan, dtype=np.float64)
    for index, code in enumerate(DESTINATIONS):
        rows = np.flatnonzero(country == index)
        if not len(rows):
            continue
        lo = int(min(anchor_ord[rows].min(), now_ord[rows].min()))
        hi = int(max(anchor_ord[rows].max(), now_ord[rows].max(), promised_ord[rows].max()))
        table = work_table(code, lo, hi + 200)
        start = table.position(anchor_ord[rows], anchor_hour[rows])
        elapsed = np.maximum(table.position(now_ord[rows], now_hour[rows]) - start, 0.0)
        dist = Distribution(quantiles[rows], scale[rows])
        for p, out in ((LOWER, earliest), (0.5, most_likely), (UPPER, latest)):
            hours = np.minimum(dist.conditional_quantile(elapsed, p), MAX_HOURS)
            days, hour_of_day = table.locate(start + hours)
            out[rows] = days
            if p == 0.5:
                median_hour[rows] = hour_of_day
        # Whole-day rounding makes the calibrated factors narrow the hour quantiles a lot, which
        # would make probabilities overconfident; the quantiles as fitted are calibrated in
        # hours, so the promised-date probability uses them unscaled. "By" a date means by its
        # end: the start of the next calendar day.
        deadline = table.position(promised_ord[rows] + 1, np.zeros(len(rows))) - start
        by_promise = Distribution(quantiles[rows]).conditional_cdf(elapsed, deadline)
        p_promised[rows] = np.where(promised_ord[rows] >= 0, by_promise, np.nan)
    return Resolved(earliest, most_likely, latest, median_hour, p_promised)


def resolve_examples(quantiles: FloatArray, scale: FloatArray, examples: ExampleSet) -> Resolved:
    """Dates for examples as seen at the moment of their event (now = the event's time)."""
    return resolve(
        quantiles,
        scale,
        examples.country,
        examples.anchor_ordinal,
        examples.anchor_hour,
        examples.anchor_ordinal,
        examples.anchor_hour,
        examples.promised_ordinal,
    )


def inside_interval(resolved: Resolved, examples: ExampleSet) -> BoolArray:
    """Whether each example's actual delivery date lies in its [earliest, latest]."""
    actual = examples.final_ordinal
    return np.asarray((resolved.earliest <= actual) & (actual <= resolved.latest), dtype=np.bool_)


def calibrate(quantiles: FloatArray, examples: ExampleSet) -> FloatArray:
    """Per-group scale factors that give the 80 % interval 80 % coverage of delivery dates.

    Args:
        quantiles: predicted hours of the held-back examples, per row at `PROBS`.
        examples: the held-back examples (never used for fitting).

    Returns:
        One factor per group in `GROUP_NAMES`.
    """
    groups = group_of(examples.code)
    counts = np.bincount(groups, minlength=len(GROUP_NAMES))
    # Small groups are calibrated together, as one more group.
    pooled = len(GROUP_NAMES)
    labels = np.where(counts[groups] < _MIN_GROUP, pooled, groups)
    sizes = np.bincount(labels, minlength=pooled + 1).astype(np.float64)
    curves = np.ones((pooled + 1, len(_SCALE_GRID)))
    for column, factor in enumerate(_SCALE_GRID):
        resolved = resolve_examples(quantiles, np.full(len(examples), factor), examples)
        hits = np.bincount(
            labels, weights=inside_interval(resolved, examples), minlength=pooled + 1
        )
        curves[:, column] = np.where(sizes > 0, hits / np.maximum(sizes, 1.0), 1.0)
    # Coverage grows with the factor, though not strictly (intervals move by whole days); the
    # running maximum makes "the first factor that reaches the target" well defined, and exact
    # on the raw curve.
    curves = np.maximum.accumulate(curves, axis=1)
    chosen = np.full(pooled + 1, len(_SCALE_GRID) - 1)
    for target in np.arange(0.5, 1.0 + _TARGET_STEP, _TARGET_STEP):
        chosen = np.array(
            [min(int(np.searchsorted(c, target)), len(_SCALE_GRID) - 1) for c in curves]
        )
        covered = sizes @ curves[np.arange(pooled + 1), chosen]
        if covered >= TARGET_COVERAGE * sizes.sum():
            break
    factors = _SCALE_GRID[chosen]
    by_group = np.where(counts >= _MIN_GROUP, factors[: len(GROUP_NAMES)], factors[pooled])
    if sizes[pooled] == 0:
        # No small groups: a group never seen in calibration takes the typical factor.
        typical = float(np.exp(np.average(np.log(factors[:pooled]), weights=sizes[:pooled])))
        by_group = np.where(counts > 0, by_group, typical)
    return np.asarray(by_group, dtype=np.float64)
