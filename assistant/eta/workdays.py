"""Working days of a country, and the working-hour clock the ETA model measures time on.

Parcels are delivered Monday to Friday, never on a public holiday of the destination country (the
`holidays` package) nor on the eves the carrier closes (24 and 31 December everywhere, Midsummer
Eve in SE and FI). Countries the `holidays` package does not know keep weekends only.

The *working-hour clock* of a country runs only on its working days: a weekend or holiday simply
does not exist on it. The ETA model predicts hours on that clock, so "two working days" is the
same number of hours whether or not a weekend or a holiday lies in between, and a prediction
converted back to a date always lands on a working day.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import date, timedelta

import holidays
import numpy as np
import numpy.typing as npt

__all__ = [
    "WorkTable",
    "add_working_days",
    "closed_days",
    "holidays_ahead",
    "is_working_day",
    "next_working_day",
    "work_table",
    "working_days_between",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Far enough for any parcel: a table always reaches this many days beyond what it was asked for.
_MARGIN_DAYS = 400


@functools.cache
def closed_days(country: str, year: int) -> frozenset[date]:
    """Weekdays and weekend days on which the carrier does not deliver in `country`, besides weekends.

    Args:
        country: ISO 3166 alpha-2 code.
        year: calendar year.

    Returns:
        Public holidays plus the carrier's closing eves.
    """
    try:
        days = set(holidays.country_holidays(country, years=year))
    except NotImplementedError:
        days = set()
    if country in {"DK", "SE", "NO", "FI"}:
        days |= {date(year, 12, 24), date(year, 12, 31)}
    if country in {"SE", "FI"}:
        # Midsummer Eve is the Friday between 19 and 25 June; shops and terminals close.
        june19 = date(year, 6, 19)
        days.add(june19 + timedelta(days=(4 - june19.weekday()) % 7))
    return frozenset(days)


def is_working_day(day: date, country: str) -> bool:
    """True when parcels move and are delivered in `country` on `day`."""
    return day.weekday() < 5 and day not in closed_days(country, day.year)


def next_working_day(day: date, country: str, *, include_today: bool = True) -> date:
    """The first working day on or after `day` (strictly after it with `include_today=False`)."""
    current = day if include_today else day + timedelta(days=1)
    while not is_working_day(current, country):
        current += timedelta(days=1)
    return current


def add_working_days(day: date, count: int, country: str) -> date:
    """The `count`-th working day after `day`; with `count=0`, `day` moved to a working day."""
    current = next_working_day(day, country)
    for _ in range(count):
        current = next_working_day(current, country, include_today=False)
    return current


@functools.lru_cache(maxsize=65536)
def holidays_ahead(day: date, country: str, horizon_days: int = 7) -> int:
    """How many closed weekdays (holidays on Monday to Friday) fall in the next `horizon_days`."""
    return sum(
        1
        for offset in range(horizon_days)
        if (d := day + timedelta(days=offset)).weekday() < 5 and d in closed_days(country, d.year)
    )


@functools.lru_cache(maxsize=65536)
def working_days_between(start: date, end: date, country: str, cap: int = 40) -> int:
    """Signed count of working days in (start, end], clipped to +-`cap`; negative if `end` < `start`."""
    if end == start:
        return 0
    sign, lo, hi = (1, start, end) if end > start else (-1, end, start)
    count = 0
    current = lo + timedelta(days=1)
    while current <= hi and count < cap:
        count += is_working_day(current, country)
        current += timedelta(days=1)
    return sign * count


@dataclass(frozen=True)
class WorkTable:
    """The working days of one country over a span, as sorted date ordinals.

    Positions on the working-hour clock are relative to the table, so only compare or subtract
    positions that came from the same table.
    """

    country: str
    first: int
    last: int
    days: IntArray

    def covers(self, lo: int, hi: int) -> bool:
        """True when ordinals `lo`..`hi` and a generous margin after them lie inside the table."""
        return self.first <= lo and hi + _MARGIN_DAYS // 2 <= self.last

    def position(self, ordinal: IntArray, hour: FloatArray) -> FloatArray:
        """Hours on the working clock; a time on a closed day counts as the next working day's 00:00."""
        index = np.searchsorted(self.days, ordinal, side="left")
        found = self.days[np.minimum(index, len(self.days) - 1)] == ordinal
        return np.asarray(index * 24.0 + np.where(found, hour, 0.0), dtype=np.float64)

    def locate(self, position: FloatArray) -> tuple[IntArray, FloatArray]:
        """Date ordinals (always working days) and local hours of positions on the working clock."""
        index = np.clip(np.floor(position / 24.0).astype(np.int64), 0, len(self.days) - 1)
        hours = np.clip(position - index * 24.0, 0.0, 24.0 - 1e-6)
        return self.days[index], hours


_tables: dict[str, WorkTable] = {}
_tables_lock = threading.Lock()


def work_table(country: str, lo: int, hi: int) -> WorkTable:
    """A cached `WorkTable` of `country` covering date ordinals `lo`..`hi` with a margin.

    Args:
        country: ISO 3166 alpha-2 code of the destination.
        lo: first date ordinal a caller will ask about.
        hi: last date ordinal a caller will ask about (the table reaches well beyond it).

    Returns:
        A table that is never mutated; a wider one replaces it in the cache when needed.
    """
    table = _tables.get(country)
    if table is not None and table.covers(lo, hi):
        return table
    with _tables_lock:
        table = _tables.get(country)
        if table is not None and table.covers(lo, hi):
            return table
        first = min(lo, table.first if table else lo) - 31
        last = max(hi, table.last if table else hi) + _MARGIN_DAYS
        # Whole years, so a table is rebuilt rarely as time goes by.
        first = date(date.fromordinal(first).year, 1, 1).toordinal()
        last = date(date.fromordinal(last).year, 12, 31).toordinal()
        days = np.fromiter(
            (o for o in range(first, last + 1) if is_working_day(date.fromordinal(o), country)),
            dtype=np.int64,
        )
        table = WorkTable(country=country, first=first, last=last, days=days)
        _tables[country] = table
        return table
