"""Working days per country and the working-hour clock the ETA model counts on."""

from __future__ import annotations

from datetime import date

import numpy as np

from assistant.eta.workdays import (
    add_working_days,
    holidays_ahead,
    is_working_day,
    work_table,
    working_days_between,
)


def test_weekends_and_public_holidays_are_closed() -> None:
    assert not is_working_day(date(2025, 11, 23), "DK")  # a Sunday
    assert not is_working_day(date(2025, 12, 25), "DK")  # Christmas Day
    assert not is_working_day(date(2025, 5, 17), "NO")  # Saturday and Constitution Day
    assert not is_working_day(date(2025, 12, 6), "FI")  # Independence Day (a Saturday)
    assert not is_working_day(date(2025, 6, 6), "SE")  # National Day
    assert is_working_day(date(2025, 11, 24), "DK")


def test_the_carrier_closes_on_christmas_eve_and_midsummer_eve() -> None:
    assert not is_working_day(date(2025, 12, 24), "DK")
    assert not is_working_day(date(2025, 6, 20), "SE")
    assert is_working_day(date(2025, 6, 20), "DK")


def test_adding_working_days_skips_easter() -> None:
    # Wednesday before Easter + 1 working day in Denmark: Tuesday after Easter Monday.
    assert add_working_days(date(2025, 4, 16), 1, "DK") == date(2025, 4, 22)
    assert add_working_days(date(2025, 11, 22), 0, "SE") == date(2025, 11, 24)


def test_holidays_ahead_and_working_days_between() -> None:
    assert holidays_ahead(date(2025, 4, 14), "DK") == 2  # Maundy Thursday, Good Friday
    assert holidays_ahead(date(2025, 4, 15), "DK") == 3  # and Easter Monday
    assert holidays_ahead(date(2025, 11, 3), "DK") == 0
    assert working_days_between(date(2025, 11, 21), date(2025, 11, 25), "DK") == 2
    assert working_days_between(date(2025, 11, 25), date(2025, 11, 21), "DK") == -2


def test_working_clock_skips_the_weekend() -> None:
    friday = date(2025, 11, 21).toordinal()
    table = work_table("DK", friday, friday)
    start = table.position(np.array([friday]), np.array([15.0]))
    days, hours = table.locate(start + 24.0)
    assert date.fromordinal(int(days[0])) == date(2025, 11, 24)
    assert hours[0] == 15.0


def test_a_time_on_a_closed_day_counts_from_the_next_working_morning() -> None:
    saturday, monday = date(2025, 11, 22).toordinal(), date(2025, 11, 24).toordinal()
    table = work_table("SE", saturday, monday)
    on_saturday = table.position(np.array([saturday]), np.array([13.0]))
    monday_midnight = table.position(np.array([monday]), np.array([0.0]))
    assert on_saturday[0] == monday_midnight[0]
