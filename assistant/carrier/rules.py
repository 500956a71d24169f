"""The carrier's rules (DESIGN §3), as pure functions over domain values.

The simulator enforces them and explains every refusal with a stable reason code; the HTTP
adapter gets the same refusals back from the carrier's API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from assistant.domain import (
    COUNTRY_TIMEZONE,
    PRE_DELIVERY_CODES,
    CaseCategory,
    EventCode,
    RedirectKind,
    RedirectOption,
    ServicePoint,
    ServiceType,
    Shipment,
)
from assistant.errors import ToolFailed

__all__ = [
    "LOCKER_MAX_KG",
    "SERVICE_POINT_MAX_KG",
    "case_priority",
    "case_refusal",
    "case_refusal_for",
    "delivered_at",
    "local_date",
    "normalize_postcode",
    "redirect_options",
    "redirect_refusal",
    "working_days_after",
]

# From knowledge/facts.yaml (size_and_weight, compensation, delivery): the help centre and the
# simulator must agree; tests/assistant/carrier/test_rules.py checks these against the facts file.
SERVICE_POINT_MAX_KG = 20.0
LOCKER_MAX_KG = 15.0
REPORT_AFTER_DELIVERY_DAYS = 14
LOST_AFTER_DAYS_WITHOUT_SCAN = 5
OTHER_DAY_WORKING_DAYS = 5
MAX_SERVICE_POINT_OPTIONS = 3
MAX_LOCKER_OPTIONS = 2
HIGH_PRIORITY_VALUE = {"DKK": 1000.0, "SEK": 1500.0, "NOK": 1500.0, "EUR": 150.0}

_POSTCODE = {
    "DK": re.compile(r"^(?:DK-?)?(\d{4})$"),
    "NO": re.compile(r"^(?:NO-?)?(\d{4})$"),
    "SE": re.compile(r"^(?:SE-?)?(\d{3}) ?(\d{2})$"),
    "FI": re.compile(r"^(?:FI-?)?(\d{5})$"),
}
_POSTCODE_FORMAT = {"DK": "4 digits", "NO": "4 digits", "SE": "5 digits", "FI": "5 digits"}

_STATUS_REFUSALS: dict[EventCode, tuple[str, str]] = {
    EventCode.OUT_FOR_DELIVERY: (
        "out_for_delivery",
        "the parcel is already out for delivery, so its delivery can no longer be changed",
    ),
    EventCode.DELIVERY_ATTEMPTED: (
        "out_for_delivery",
        "a delivery has already been attempted; the parcel now follows the missed-delivery route",
    ),
    EventCode.AVAILABLE_FOR_PICKUP: (
        "ready_for_pickup",
        "the parcel is already waiting at its pickup point",
    ),
    EventCode.DELIVERED: ("already_delivered", "the parcel has already been delivered"),
    EventCode.RETURNED_TO_SENDER: (
        "returned_to_sender",
        "the parcel is on its way back to the sender",
    ),
    EventCode.DAMAGED_IN_TRANSIT: (
        "damaged_in_transit",
        "the parcel was damaged in transit and is held while we sort it out",
    ),
    EventCode.CUSTOMS_HOLD: (
        "customs_hold",
        "the parcel is held by customs; it can be changed once customs has cleared it",
    ),
}


def local_date(moment: datetime, country: str) -> date:
    """The calendar date of `moment` in the country's time zone."""
    return moment.astimezone(ZoneInfo(COUNTRY_TIMEZONE.get(country, "UTC"))).date()


@lru_cache(maxsize=16)
def _holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=[year, year + 1]).keys())


def is_working_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def working_days_after(start: date, count: int, country: str) -> list[date]:
    """The next `count` working days after `start` (weekends and public holidays skipped)."""
    days: list[date] = []
    day = start
    while len(days) < count:
        day += timedelta(days=1)
        if is_working_day(day, country):
            days.append(day)
    return days


def normalize_postcode(postcode: str, country: str) -> str:
    """The postcode in its canonical form for `country`; `ToolFailed("invalid_postcode")` if it is not one."""
    pattern = _POSTCODE.get(country)
    cleaned = postcode.strip().upper()
    match = pattern.match(cleaned) if pattern else None
    if not match:
        raise ToolFailed(
            "invalid_postcode",
            f"{postcode!r} is not a postcode in {country}; it has {_POSTCODE_FORMAT.get(country, 'digits')}",
            {"country": country, "expected": _POSTCODE_FORMAT.get(country)},
        )
    return "".join(match.groups())


def redirect_refusal(shipment: Shipment, *, verified: bool) -> ToolFailed | None:
    """Why this parcel's delivery cannot be changed now, or None when it can."""
    status = shipment.status
    if status in _STATUS_REFUSALS:
        reason, explanation = _STATUS_REFUSALS[status]
        return ToolFailed(reason, explanation, {"status": status.value})
    if status not in PRE_DELIVERY_CODES:  # pragma: no cover - every code is listed above
        return ToolFailed("not_redirectable", f"status {status.value} cannot be redirected")
    if not shipment.redirect_allowed:
        return ToolFailed(
            "sender_forbids_redirect",
            "the sender has asked us to deliver this parcel only as addressed",
        )
    if not verified:
        return ToolFailed(
            "not_verified",
            "confirm the recipient's postcode before the delivery can be changed",
        )
    return None


def _postcode_distance(a: str, b: str) -> int:
    digits_a, digits_b = re.sub(r"\D", "", a), re.sub(r"\D", "", b)
    if not digits_a or not digits_b:
        return 10**9
    return abs(int(digits_a) - int(digits_b))


def redirect_options(
    shipment: Shipment, points: Iterable[ServicePoint], now: datetime
) -> list[RedirectOption]:
    """Only the options this parcel allows: nearest points and lockers, the door, other days.

    "Nearest" is by postcode distance within the recipient's country: postcodes in the Nordic
    countries run roughly geographically, and the seed carries no coordinates.
    """
    country = shipment.recipient.country
    postcode = shipment.recipient.postcode
    candidates = sorted(
        (p for p in points if p.country == country and p.id != shipment.service_point_id),
        key=lambda p: (_postcode_distance(p.postcode, postcode), p.id),
    )
    # Points in the recipient's postal region (same first digit) when there are any: a locker
    # in another city is no help, however near its postcode is numerically.
    nearby = [p for p in candidates if p.postcode[:1] == postcode[:1]]
    candidates = nearby or candidates
    options: list[RedirectOption] = []
    if shipment.weight_kg <= SERVICE_POINT_MAX_KG:
        chosen = [p for p in candidates if p.type is ServiceType.SERVICE_POINT][
            :MAX_SERVICE_POINT_OPTIONS
        ]
        options += [
            RedirectOption(
                f"sp:{p.id}", RedirectKind.SERVICE_POINT, service_point=p, distance_rank=i
            )
            for i, p in enumerate(chosen)
        ]
    if shipment.weight_kg <= LOCKER_MAX_KG and not shipment.signature_required:
        chosen = [p for p in candidates if p.type is ServiceType.LOCKER][:MAX_LOCKER_OPTIONS]
        options += [
            RedirectOption(f"locker:{p.id}", RedirectKind.LOCKER, service_point=p, distance_rank=i)
            for i, p in enumerate(chosen)
        ]
    if shipment.service is ServiceType.HOME:
        if not shipment.signature_required:
            options.append(RedirectOption("door", RedirectKind.DOOR))
        for day in working_days_after(local_date(now, country), OTHER_DAY_WORKING_DAYS, country):
            options.append(RedirectOption(f"day:{day.isoformat()}", RedirectKind.DAY, day=day))
    return options


def delivered_at(shipment: Shipment) -> datetime | None:
    """When the parcel was delivered, if it was."""
    for event in reversed(shipment.events):
        if event.code is EventCode.DELIVERED:
            return event.at
    return None


def case_refusal(shipment: Shipment, category: CaseCategory, now: datetime) -> ToolFailed | None:
    """Why a case of `category` cannot be opened for this parcel now, or None when it can."""
    return case_refusal_for(
        category,
        now=now,
        country=shipment.recipient.country,
        status=shipment.status,
        delivered=delivered_at(shipment),
        last_scan=shipment.last_event.at,
        promised=shipment.promised_date,
        damaged_in_transit=any(e.code is EventCode.DAMAGED_IN_TRANSIT for e in shipment.events),
    )


def case_refusal_for(
    category: CaseCategory,
    *,
    now: datetime,
    country: str,
    status: EventCode,
    delivered: datetime | None,
    last_scan: datetime,
    promised: date | None,
    damaged_in_transit: bool,
) -> ToolFailed | None:
    """The complaint rules of DESIGN §3 over the facts a status lookup gives."""
    today = local_date(now, country)
    if category in (
        CaseCategory.DAMAGED,
        CaseCategory.MISSING_AFTER_DELIVERY,
        CaseCategory.WRONG_DELIVERY,
    ):
        if category is CaseCategory.DAMAGED and damaged_in_transit:
            return None
        if delivered is None:
            return ToolFailed(
                "not_eligible_yet",
                f"a {category.value.replace('_', ' ')} case needs the parcel to be delivered first",
                {"status": status.value, "needs": "delivered"},
            )
        deadline = local_date(delivered, country) + timedelta(days=REPORT_AFTER_DELIVERY_DAYS)
        if today > deadline:
            return ToolFailed(
                "too_late",
                f"cases about a delivered parcel must be reported within {REPORT_AFTER_DELIVERY_DAYS} days of delivery",
                {"deadline": deadline.isoformat()},
            )
        return None
    if category is CaseCategory.DELAYED:
        if delivered is not None or status is EventCode.AVAILABLE_FOR_PICKUP:
            return ToolFailed(
                "already_delivered", "the parcel has already arrived", {"status": status.value}
            )
        if promised is None or today <= promised:
            eligible = (promised + timedelta(days=1)) if promised else None
            return ToolFailed(
                "not_eligible_yet",
                "a delay case can be opened from the day after the promised delivery date",
                {"eligible_from": eligible.isoformat() if eligible else None},
            )
        return None
    if category is CaseCategory.LOST:
        if delivered is not None or status in (
            EventCode.AVAILABLE_FOR_PICKUP,
            EventCode.RETURNED_TO_SENDER,
        ):
            return ToolFailed(
                "not_lost",
                "the parcel has a final scan, so it is not lost",
                {"status": status.value},
            )
        eligible_from = last_scan + timedelta(days=LOST_AFTER_DAYS_WITHOUT_SCAN)
        if now < eligible_from:
            return ToolFailed(
                "not_eligible_yet",
                f"a parcel can be reported lost after {LOST_AFTER_DAYS_WITHOUT_SCAN} days without a scan",
                {"eligible_from": local_date(eligible_from, country).isoformat()},
            )
        return None
    return None


def case_priority(shipment: Shipment, category: CaseCategory) -> str:
    """High for lost or damaged parcels of real value, low for `other`, normal otherwise."""
    value = shipment.declared_value
    valuable = value.amount >= HIGH_PRIORITY_VALUE.get(value.currency, float("inf"))
    if (
        category in (CaseCategory.LOST, CaseCategory.DAMAGED, CaseCategory.MISSING_AFTER_DELIVERY)
        and valuable
    ):
        return "high"
    if category is CaseCategory.OTHER:
        return "low"
    return "normal"


def option_by_id(options: Sequence[RedirectOption], option_id: str) -> RedirectOption:
    for option in options:
        if option.option_id == option_id:
            return option
    raise ToolFailed(
        "option_not_offered",
        f"{option_id!r} is not one of the options this parcel allows",
        {"offered": [o.option_id for o in options]},
    )
