"""Carrier rules: agreement with the help centre's facts, postcodes, working days, options."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from assistant.carrier import rules
from assistant.carrier.seed import load_seed
from assistant.domain import CaseCategory, RedirectKind, ServiceType
from assistant.errors import ToolFailed
from assistant.settings import DEMO_SEED
from assistant.tools import PICKUP_DAYS

FACTS = yaml.safe_load(
    (Path(__file__).parents[3] / "knowledge" / "facts.yaml").read_text(encoding="utf-8")
)
CET = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=CET)


def test_rules_agree_with_the_help_centre_facts() -> None:
    assert FACTS["size_and_weight"]["service_point_max_kg"] == rules.SERVICE_POINT_MAX_KG
    assert FACTS["size_and_weight"]["locker_max_kg"] == rules.LOCKER_MAX_KG
    assert FACTS["compensation"]["report_damage_days"] == rules.REPORT_AFTER_DELIVERY_DAYS
    assert (
        FACTS["compensation"]["lost_after_days_without_scan"] == rules.LOST_AFTER_DAYS_WITHOUT_SCAN
    )
    assert FACTS["delivery"]["other_day_working_days"] == rules.OTHER_DAY_WORKING_DAYS
    assert FACTS["pickup"]["service_point_days"] == PICKUP_DAYS[ServiceType.SERVICE_POINT]
    assert FACTS["pickup"]["locker_days"] == PICKUP_DAYS[ServiceType.LOCKER]


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("8000", "DK", "8000"),
        ("DK-8000", "DK", "8000"),
        ("753 20", "SE", "75320"),
        ("0150", "NO", "0150"),
        ("02100", "FI", "02100"),
    ],
)
def test_postcodes_normalise_per_country(raw: str, country: str, expected: str) -> None:
    assert rules.normalize_postcode(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country"), [("800", "DK"), ("75320", "DK"), ("8000", "SE"), ("abcd", "NO"), ("", "FI")]
)
def test_postcodes_in_the_wrong_format_are_refused(raw: str, country: str) -> None:
    with pytest.raises(ToolFailed) as caught:
        rules.normalize_postcode(raw, country)
    assert caught.value.reason == "invalid_postcode"


def test_working_days_skip_weekends_and_holidays() -> None:
    # 2026-12-25 (Friday) and 26 are Danish public holidays; 27 is a Sunday.
    days = rules.working_days_after(date(2026, 12, 23), 3, "DK")
    assert days == [date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 29)]


def test_options_follow_what_the_parcel_allows() -> None:
    seed = load_seed(DEMO_SEED)
    home = seed.shipments["RR361920561SE"]  # home, DK 8000, 3 kg, no signature
    options = rules.redirect_options(home, seed.service_points.values(), NOW)
    kinds = [o.kind for o in options]
    assert RedirectKind.DOOR in kinds
    assert kinds.count(RedirectKind.DAY) == 5
    points = [o for o in options if o.kind is RedirectKind.SERVICE_POINT]
    assert points[0].service_point is not None and points[0].service_point.postcode == "8000"
    assert all(
        o.service_point and o.service_point.country == "DK" for o in options if o.service_point
    )

    signature = seed.shipments["00731975440229745081"]  # locker parcel, signature required
    kinds = {o.kind for o in rules.redirect_options(signature, seed.service_points.values(), NOW)}
    assert (
        RedirectKind.LOCKER not in kinds
        and RedirectKind.DOOR not in kinds
        and RedirectKind.DAY not in kinds
    )


def test_case_eligibility_and_priority() -> None:
    seed = load_seed(DEMO_SEED)
    delivered = seed.shipments["RR905677345SE"]
    assert rules.case_refusal(delivered, CaseCategory.DAMAGED, NOW) is None
    too_late = rules.case_refusal(delivered, CaseCategory.DAMAGED, NOW + timedelta(days=20))
    assert too_late is not None and too_late.reason == "too_late"
    assert rules.case_priority(delivered, CaseCategory.DAMAGED) == "high"
    in_transit = seed.shipments["RR301061494SE"]
    refusal = rules.case_refusal(in_transit, CaseCategory.LOST, NOW)
    assert refusal is not None and refusal.reason == "not_eligible_yet"
    assert "eligible_from" in refusal.details
    stalled = seed.shipments["RR703455124NO"]
    assert rules.case_refusal(stalled, CaseCategory.LOST, NOW) is None
    assert rules.case_refusal(stalled, CaseCategory.DELAYED, NOW) is None
    assert rules.case_refusal(in_transit, CaseCategory.OTHER, NOW) is None
