"""A delivery-time distribution per row, rebuilt from a handful of predicted quantiles.

The quantile models give, for each row, hours at the probabilities `PROBS` (sorted, so they never
cross). Between them the distribution function is taken as linear; below the lowest it falls
linearly to zero with the slope of the first segment; above the highest it decays exponentially
at the rate implied by the two highest quantiles. The exponential tail is memoryless, so a parcel
that is already later than every quantile still gets a sensible "how much longer".

Everything here works on whole arrays (one row per parcel) so that evaluation, calibration and a
single prediction share the same arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["PROBS", "Distribution"]

FloatArray = npt.NDArray[np.float64]

PROBS = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], dtype=np.float64)
_KNOT_PROBS = np.concatenate([[0.0], PROBS])
_MEDIAN = int(np.flatnonzero(PROBS == 0.5)[0])
_TAIL = math.log((1.0 - PROBS[-2]) / (1.0 - PROBS[-1]))
_EPS = 1e-9


class Distribution:
    """Delivery-time distributions for `n` rows, from quantiles of shape (n, len(PROBS))."""

    def __init__(self, quantiles: FloatArray, scale: float | FloatArray = 1.0) -> None:
        """Build the distributions.

        Args:
            quantiles: predicted hours per row at `PROBS`; rows are sorted here.
            scale: calibration factor (one, or one per row) that widens (> 1) or narrows (< 1)
                a row's distribution around its median.
        """
        q = np.sort(np.asarray(quantiles, dtype=np.float64), axis=1)
        median = q[:, _MEDIAN : _MEDIAN + 1]
        q = median + np.reshape(np.asarray(scale, dtype=np.float64), (-1, 1)) * (q - median)
        first_gap = (q[:, 1] - q[:, 0]) * (PROBS[0] / (PROBS[1] - PROBS[0]))
        self.knots: FloatArray = np.column_stack([q[:, 0] - first_gap, q])
        self.rate: FloatArray = _TAIL / np.maximum(q[:, -1] - q[:, -2], 1.0)
        self._rows = np.arange(len(q))

    def cdf(self, t: FloatArray) -> FloatArray:
        """P(T <= t) per row."""
        knots, last = self.knots, self.knots.shape[1] - 1
        segment = (knots <= t[:, None]).sum(axis=1) - 1
        j = np.clip(segment, 0, last - 1)
        x0, x1 = knots[self._rows, j], knots[self._rows, j + 1]
        p0, p1 = _KNOT_PROBS[j], _KNOT_PROBS[j + 1]
        width = x1 - x0
        fraction = np.clip((t - x0) / np.where(width > _EPS, width, 1.0), 0.0, 1.0)
        inner = np.where(width > _EPS, p0 + (p1 - p0) * fraction, p1)
        tail = 1.0 - (1.0 - PROBS[-1]) * np.exp(-self.rate * np.maximum(t - knots[:, -1], 0.0))
        return np.asarray(
            np.where(segment < 0, 0.0, np.where(segment >= last, tail, inner)), dtype=np.float64
        )

    def quantile(self, p: FloatArray) -> FloatArray:
        """The hours by which a share `p` (per row, in [0, 1)) of parcels has arrived."""
        knots = self.knots
        j = np.clip(np.searchsorted(_KNOT_PROBS, p, side="right") - 1, 0, knots.shape[1] - 2)
        x0, x1 = knots[self._rows, j], knots[self._rows, j + 1]
        p0, p1 = _KNOT_PROBS[j], _KNOT_PROBS[j + 1]
        inner = x0 + (x1 - x0) * (p - p0) / (p1 - p0)
        tail = knots[:, -1] + np.log((1.0 - PROBS[-1]) / np.maximum(1.0 - p, _EPS)) / self.rate
        return np.asarray(np.where(p <= PROBS[-1], inner, tail), dtype=np.float64)

    def conditional_quantile(self, elapsed: FloatArray, p: float) -> FloatArray:
        """Quantile `p` of the delivery time given that it is later than `elapsed` hours."""
        beyond = elapsed >= self.knots[:, -1]
        f_elapsed = self.cdf(elapsed)
        target = np.minimum(f_elapsed + p * (1.0 - f_elapsed), 1.0 - _EPS)
        inside = self.quantile(target)
        memoryless = elapsed - math.log1p(-p) / self.rate
        return np.asarray(np.maximum(np.where(beyond, memoryless, inside), elapsed), np.float64)

    def conditional_cdf(self, elapsed: FloatArray, t: FloatArray) -> FloatArray:
        """P(T <= t | T > elapsed) per row; zero where `t` is not after `elapsed`."""
        beyond = elapsed >= self.knots[:, -1]
        f_elapsed, f_t = self.cdf(elapsed), self.cdf(t)
        inside = (f_t - f_elapsed) / np.maximum(1.0 - f_elapsed, _EPS)
        memoryless = 1.0 - np.exp(-self.rate * np.maximum(t - elapsed, 0.0))
        prob = np.where(beyond, memoryless, inside)
        return np.asarray(np.clip(np.where(t <= elapsed, 0.0, prob), 0.0, 1.0), np.float64)
