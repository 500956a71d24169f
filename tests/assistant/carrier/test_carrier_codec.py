"""The carrier wire codec: every value survives JSON both ways; unverified views carry no PII."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.carrier import codec
from assistant.carrier.seed import Seed, load_seed
from assistant.domain import (
    Case,
    CaseCategory,
    CaseRequest,
    CaseStatus,
    Event,
    EventCode,
    Redirect,
    RedirectKind,
    RedirectOption,
    ServicePoint,
    ServiceType,
    ShipmentView,
    Verification,
)
from assistant.errors import ToolFailed
from assistant.settings import DEMO_SEED

CET = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 23, 12, 0, 30, 123456, tzinfo=CET)


@pytest.fixture(scope="module")
def seed() -> Seed:
    return load_seed(DEMO_SEED)


def _wire(value: dict[str, Any]) -> Any:
    """What the other side of the socket sees."""
    return json.loads(json.dumps(value))


def _point(seed: Seed, point_id: str = "DK-8000-001") -> ServicePoint:
    return seed.service_points[point_id]


def _options(seed: Seed) -> list[RedirectOption]:
    return [
        RedirectOption("sp:DK-8000-001", RedirectKind.SERVICE_POINT, _point(seed), None, 0),
        RedirectOption("locker:DK-8000-003", RedirectKind.LOCKER, _point(seed, "DK-8000-003")),
        RedirectOption("door", RedirectKind.DOOR),
        RedirectOption("day:2026-11-24", RedirectKind.DAY, day=date(2026, 11, 24), distance_rank=3),
    ]


def _case(**changes: Any) -> Case:
    case = Case(
        case_id="CS-ABCDEFGH",
        tracking_id="00752604106995796886",
        category=CaseCategory.DAMAGED,
        priority="high",
        description="Æsken var knust — «helt flad»",
        contact_email="ida@example.com",
        contact_phone=None,
        status=CaseStatus.OPEN,
        created_at=NOW,
        language="da",
        shipment_status="DELIVERED",
        notes=("called the depot",),
    )
    return dataclasses.replace(case, **changes)


def test_every_demo_shipment_round_trips_when_verified(seed: Seed) -> None:
    for shipment in seed.shipments.values():
        view = ShipmentView(shipment, verified=True)
        assert codec.decode_shipment_view(_wire(codec.encode_shipment_view(view))) == view


def test_unverified_view_carries_no_personal_details(seed: Seed) -> None:
    for shipment in seed.shipments.values():
        view = ShipmentView(shipment, verified=False)
        body = codec.encode_shipment_view(view)
        r = shipment.recipient
        assert body["shipment"]["recipient"] == {
            "city": r.city,
            "country": r.country,
            "region": r.postcode[:1],
        }
        text = json.dumps(body, ensure_ascii=False)
        for secret in (r.name, r.street, r.phone, r.email):
            assert secret
            assert secret not in text
        decoded = codec.decode_shipment_view(_wire(codec.encode_shipment_view(view)))
        assert decoded == codec.redact_view(view)
        assert decoded.shipment.recipient.country == r.country
        assert decoded.shipment.recipient.city == r.city
        assert decoded.shipment.recipient.name == ""
        assert decoded.shipment.recipient.postcode == r.postcode[:1]


def test_decoding_an_unverified_view_drops_details_a_server_sent_anyway(seed: Seed) -> None:
    shipment = seed.shipments["RR361920561SE"]
    leaky = codec.encode_shipment_view(ShipmentView(shipment, verified=True))
    leaky["verified"] = False
    decoded = codec.decode_shipment_view(_wire(leaky))
    assert decoded.shipment.recipient.name == ""
    assert decoded.shipment.recipient.phone is None


def test_redact_view_leaves_a_verified_view_alone(seed: Seed) -> None:
    view = ShipmentView(seed.shipments["RR361920561SE"], verified=True)
    assert codec.redact_view(view) is view


def test_view_with_redirect_and_service_point_keeps_seconds(seed: Seed) -> None:
    shipment = seed.shipments["RR361920561SE"]
    option = _options(seed)[0]
    redirect = Redirect("RD-ABCDEFGH", shipment.tracking_id, option, NOW)
    moved = dataclasses.replace(
        shipment,
        service=ServiceType.SERVICE_POINT,
        service_point_id=option.service_point.id if option.service_point else None,
        events=(*shipment.events, Event(NOW, EventCode.REDIRECTED, "Meny", "DK")),
    )
    view = ShipmentView(moved, True, redirect, option.service_point)
    decoded = codec.decode_shipment_view(_wire(codec.encode_shipment_view(view)))
    assert decoded == view
    assert decoded.shipment.last_event.at.microsecond == NOW.microsecond


def test_options_redirect_and_service_points_round_trip(seed: Seed) -> None:
    options = _options(seed)
    assert codec.decode_redirect_options(_wire(codec.encode_redirect_options(options))) == tuple(
        options
    )
    for option in options:
        assert codec.decode_redirect_option(_wire(codec.encode_redirect_option(option))) == option
        redirect = Redirect("RD-ABCDEFGH", "RR361920561SE", option, NOW)
        assert codec.decode_redirect(_wire(codec.encode_redirect(redirect))) == redirect
    points = list(seed.service_points.values())
    assert codec.decode_service_points(_wire(codec.encode_service_points(points))) == tuple(points)
    assert codec.decode_service_points({"service_points": []}) == ()


def test_verification_round_trips_with_its_offset() -> None:
    verification = Verification("RR361920561SE", "tok-123", NOW + timedelta(minutes=30))
    decoded = codec.decode_verification(_wire(codec.encode_verification(verification)))
    assert decoded == verification
    assert decoded.expires_at.utcoffset() == timedelta(hours=1)


def test_cases_and_case_requests_round_trip() -> None:
    cases = [_case(), _case(case_id="CS-2", contact_email=None, contact_phone="+4550432459")]
    for case in cases:
        assert codec.decode_case(_wire(codec.encode_case(case))) == case
    assert codec.decode_cases(_wire(codec.encode_cases(cases))) == tuple(cases)
    request = CaseRequest("RR361920561SE", CaseCategory.LOST, "", None, "+4550432459", "sv")
    assert codec.decode_case_request(_wire(codec.encode_case_request(request))) == request


def test_refusal_round_trips_reason_explanation_and_details() -> None:
    refusal = ToolFailed(
        "option_not_offered",
        "'x' is not one of the options this parcel allows",
        {"offered": ("door", "day:2026-11-24"), "eligible_from": date(2026, 11, 24), "n": 2},
    )
    decoded = codec.decode_refusal(_wire(codec.encode_refusal(refusal)))
    assert (decoded.reason, decoded.explanation) == (refusal.reason, refusal.explanation)
    assert decoded.details == {
        "offered": ["door", "day:2026-11-24"],
        "eligible_from": "2026-11-24",
        "n": 2,
    }
    assert codec.decode_refusal({"reason": "not_found", "explanation": "x"}).details == {}


@pytest.mark.parametrize(
    ("decode", "raw"),
    [
        (codec.decode_refusal, {"explanation": "no reason"}),
        (codec.decode_refusal, ["not", "an", "object"]),
        (codec.decode_case, {**codec.encode_case(_case()), "created_at": "2026-11-23T12:00:00"}),
        (codec.decode_case, {**codec.encode_case(_case()), "category": "stolen"}),
        (codec.decode_redirect_option, {"option_id": "sp:X", "kind": "service_point"}),
        (codec.decode_redirect_option, {"option_id": "day:x", "kind": "day"}),
        (codec.decode_verification, {"tracking_id": "RR361920561SE", "token": ""}),
        (codec.decode_cases, {"items": []}),
        (codec.decode_shipment_view, {"verified": True}),
        (codec.decode_shipment_view, {"shipment": {"tracking_id": "X"}, "verified": True}),
        (codec.decode_shipment_view, {"shipment": {"recipient": "x"}, "verified": False}),
    ],
)
def test_wrong_shapes_raise_wire_error(decode: Any, raw: Any) -> None:
    with pytest.raises(codec.WireError):
        decode(raw)


def test_wire_error_names_fields_not_values(seed: Seed) -> None:
    body = codec.encode_shipment_view(ShipmentView(seed.shipments["RR361920561SE"], True))
    body["shipment"]["recipient"]["name"] = ""
    body["shipment"]["recipient"]["email"] = 42
    with pytest.raises(codec.WireError) as caught:
        codec.decode_shipment_view(_wire(body))
    assert "recipient.name" in str(caught.value)
    assert "ida@example.com" not in str(caught.value)
    assert "Jernbanegade" not in str(caught.value)


def test_unknown_fields_are_ignored_outside_the_shipment() -> None:
    body = {**codec.encode_case(_case()), "sla_hours": 48}
    assert codec.decode_case(body) == _case()


_text = st.text(st.characters(codec="utf-8"), max_size=30)  # no lone surrogates
_aware = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-3))]),
)


@settings(max_examples=60, deadline=None)
@given(
    case_id=_text.filter(bool),
    description=_text,
    email=st.none() | _text,
    category=st.sampled_from(CaseCategory),
    status=st.sampled_from(CaseStatus),
    created_at=_aware,
    notes=st.lists(_text, max_size=3).map(tuple),
)
def test_any_case_round_trips(
    case_id: str,
    description: str,
    email: str | None,
    category: CaseCategory,
    status: CaseStatus,
    created_at: datetime,
    notes: tuple[str, ...],
) -> None:
    case = _case(
        case_id=case_id,
        description=description,
        contact_email=email,
        category=category,
        status=status,
        created_at=created_at,
        notes=notes,
    )
    assert codec.decode_case(_wire(codec.encode_case(case))) == case


@settings(max_examples=60, deadline=None)
@given(
    point_id=_text.filter(bool),
    name=_text,
    kind=st.sampled_from([ServiceType.SERVICE_POINT, ServiceType.LOCKER]),
    applied_at=_aware,
    rank=st.integers(0, 10),
)
def test_any_point_redirect_round_trips(
    point_id: str, name: str, kind: ServiceType, applied_at: datetime, rank: int
) -> None:
    point = ServicePoint(point_id, kind, name, "Gade 1", "8000", "Aarhus C", "DK", "24/7")
    option_kind = RedirectKind.LOCKER if kind is ServiceType.LOCKER else RedirectKind.SERVICE_POINT
    option = RedirectOption(f"x:{point_id}", option_kind, point, None, rank)
    redirect = Redirect("RD-1", "RR361920561SE", option, applied_at)
    assert codec.decode_redirect(_wire(codec.encode_redirect(redirect))) == redirect
