"""Agents' business hours per country: weekly windows in a time zone, closed on public holidays.

The setting (`settings.business_hours`) maps a country code to
`"<IANA zone>|<days> HH:MM-HH:MM[,<days> HH:MM-HH:MM]"`, days being one day (`sat`) or a range
(`mon-fri`), e.g. `"Europe/Copenhagen|mon-fri 08:00-20:00,sat 10:00-15:00"`. Public holidays
come from the `holidays` package for that country. A bad value raises `ConfigurationError`
naming the country and what is wrong, at start-up (`parse_all`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from assistant.errors import ConfigurationError

__all__ = ["BusinessHours", "parse_all"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_LOOKAHEAD_DAYS = 21


@cache
def _holidays(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the package does not know: no holidays
        return frozenset()


@dataclass(frozen=True)
class BusinessHours:
    country: str
    zone: ZoneInfo
    windows: tuple[tuple[tuple[time, time], ...], ...]  # per weekday, Monday first

    @classmethod
    def parse(cls, country: str, spec: str) -> BusinessHours:
        where = f"business_hours[{country}] = {spec!r}"
        zone_name, sep, body = spec.partition("|")
        if not sep or not body.strip():
            raise ConfigurationError(f"{where}: expected '<IANA zone>|<days> HH:MM-HH:MM'")
        try:
            zone = ZoneInfo(zone_name.strip())
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(f"{where}: unknown time zone {zone_name.strip()!r}") from exc
        days: list[list[tuple[time, time]]] = [[] for _ in _DAYS]
        for part in body.split(","):
            match = _WINDOW.match(part.strip().lower())
            if match is None:
                raise ConfigurationError(f"{where}: cannot read {part.strip()!r}")
            first, last, h1, m1, h2, m2 = match.groups()
            if first not in _DAYS or (last is not None and last not in _DAYS):
                raise ConfigurationError(f"{where}: unknown day in {part.strip()!r}")
            try:
                start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
            except ValueError as exc:
                raise ConfigurationError(f"{where}: bad time in {part.strip()!r}") from exc
            if end <= start:
                raise ConfigurationError(f"{where}: {part.strip()!r} ends before it starts")
            a, b = _DAYS.index(first), _DAYS.index(last or first)
            if b < a:
                raise ConfigurationError(f"{where}: day range {first}-{last} runs backwards")
            for day in range(a, b + 1):
                days[day].append((start, end))
        return cls(country, zone, tuple(tuple(sorted(d)) for d in days))

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        if local.date() in _holidays(self.country, local.year):
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.windows[local.weekday()])

    def next_opening(self, at: datetime) -> datetime | None:
        """The next moment agents are in (`at` itself when open); None if not within 3 weeks."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for offset in range(_LOOKAHEAD_DAYS):
            day = local.date() + timedelta(days=offset)
            if day in _holidays(self.country, day.year):
                continue
            for start, _end in self.windows[day.weekday()]:
                opening = datetime.combine(day, start, tzinfo=self.zone)
                if opening > local:
                    return opening
        return None


def parse_all(spec: Mapping[str, str]) -> dict[str, BusinessHours]:
    """Every country's hours, or `ConfigurationError` for the first bad one."""
    return {country.upper(): BusinessHours.parse(country.upper(), s) for country, s in spec.items()}
