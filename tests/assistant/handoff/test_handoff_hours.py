"""Agents' business hours: the settings format, weekly windows, public holidays, bad values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from assistant.errors import ConfigurationError
from assistant.handoff.hours import BusinessHours, parse_all
from assistant.settings import Settings

CPH = ZoneInfo("Europe/Copenhagen")
HEL = ZoneInfo("Europe/Helsinki")


def at(*parts: int, zone: ZoneInfo = CPH) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


@pytest.fixture(scope="module")
def hours() -> dict[str, BusinessHours]:
    return parse_all(Settings().business_hours)


def test_the_default_settings_parse_for_every_nordic_country(
    hours: dict[str, BusinessHours],
) -> None:
    assert set(hours) == {"DK", "SE", "NO", "FI"}


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (at(2026, 11, 23, 12, 0), True),  # Monday noon
        (at(2026, 11, 23, 7, 59), False),
        (at(2026, 11, 23, 20, 0), False),  # the window's end is closed
        (at(2026, 11, 28, 10, 30), True),  # Saturday 10:00-15:00
        (at(2026, 11, 28, 15, 30), False),
        (at(2026, 11, 22, 12, 0), False),  # Sunday
        (at(2026, 12, 25, 12, 0), False),  # Christmas Day, a Friday
    ],
)
def test_denmark_is_open_mon_fri_and_saturday_but_not_on_holidays(
    hours: dict[str, BusinessHours], moment: datetime, open_: bool
) -> None:
    assert hours["DK"].is_open(moment) is open_


def test_hours_are_read_in_the_countrys_own_zone(hours: dict[str, BusinessHours]) -> None:
    # 07:30 in Copenhagen is 08:30 in Helsinki: Finland's agents are in, Denmark's are not.
    moment = at(2026, 11, 23, 7, 30)
    assert hours["FI"].is_open(moment) and not hours["DK"].is_open(moment)


def test_next_opening_skips_sundays_and_holidays(hours: dict[str, BusinessHours]) -> None:
    assert hours["DK"].next_opening(at(2026, 11, 22, 12, 0)) == at(2026, 11, 23, 8, 0)
    # Thursday 24 Dec evening: Christmas Day and the Second Day are holidays, then Sunday.
    assert hours["DK"].next_opening(at(2026, 12, 24, 21, 0)) == at(2026, 12, 28, 8, 0)
    assert hours["FI"].next_opening(at(2026, 11, 28, 16, 0, zone=HEL)) == at(
        2026, 11, 30, 8, 0, zone=HEL
    )
    moment = at(2026, 11, 23, 12, 0)
    assert hours["DK"].next_opening(moment) == moment


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("mon-fri 08:00-20:00", "expected"),
        ("Mars/Olympus|mon-fri 08:00-20:00", "unknown time zone"),
        ("Europe/Oslo|weekdays 08:00-20:00", "cannot read"),
        ("Europe/Oslo|mon-fre 08:00-20:00", "unknown day"),
        ("Europe/Oslo|mon-fri 08:00-25:00", "bad time"),
        ("Europe/Oslo|mon-fri 20:00-08:00", "ends before it starts"),
        ("Europe/Oslo|fri-mon 08:00-20:00", "runs backwards"),
        ("Europe/Oslo|", "expected"),
    ],
)
def test_bad_hours_are_a_configuration_error_naming_the_country(spec: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_all({"no": spec})
    assert "business_hours[NO]" in str(caught.value) and problem in str(caught.value)


def test_a_country_the_holiday_package_does_not_know_has_no_holidays() -> None:
    hours = BusinessHours.parse("XX", "UTC|mon-sun 00:00-23:59")
    assert hours.is_open(datetime(2026, 12, 25, 12, 0, tzinfo=ZoneInfo("UTC")))
