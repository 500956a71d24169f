"""The synthetic scan-history generator: reproducible, valid seed data, realistic calendars."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

import holidays
import pytest

from assistant.carrier.seed import parse_shipment, shipment_to_dict
from assistant.domain import COUNTRY_TIMEZONE, EventCode, ServiceType
from assistant.eta.synthetic import crosses_customs_border, generate_shipments, is_remote
from assistant.eta.workdays import is_working_day


def test_same_seed_gives_the_same_shipments() -> None:
    assert generate_shipments(200, seed=3) == generate_shipments(200, seed=3)


def test_another_seed_gives_other_shipments() -> None:
    assert generate_shipments(50, seed=3) != generate_shipments(50, seed=4)


def test_shipments_survive_the_seed_format_unchanged() -> None:
    for shipment in generate_shipments(300, seed=5):
        assert parse_shipment(shipment_to_dict(shipment)) == shipment


def test_every_journey_ends_delivered_or_at_pickup_by_service() -> None:
    for shipment in generate_shipments(500, seed=6):
        expected = (
            EventCode.DELIVERED
            if shipment.service is ServiceType.HOME
            else EventCode.AVAILABLE_FOR_PICKUP
        )
        assert shipment.status is expected
        assert [e.at for e in shipment.events] == sorted(e.at for e in shipment.events)


def test_event_times_are_in_the_destination_time_zone() -> None:
    for shipment in generate_shipments(200, seed=7):
        zone = ZoneInfo(COUNTRY_TIMEZONE[shipment.recipient.country])
        for event in shipment.events:
            assert event.at.utcoffset() == event.at.astimezone(zone).utcoffset()


def test_postcodes_have_the_national_format() -> None:
    lengths = {"DK": 4, "SE": 5, "NO": 4, "FI": 5}
    for shipment in generate_shipments(500, seed=8):
        postcode = shipment.recipient.postcode
        assert postcode.isdigit()
        assert len(postcode) == lengths[shipment.recipient.country]


def test_no_delivery_on_a_weekend_or_a_danish_public_holiday() -> None:
    # Labels made around Easter and Ascension 2025, so many journeys run across holidays.
    shipments = generate_shipments(1500, seed=9, start=date(2025, 4, 10), end=date(2025, 6, 10))
    danish_holidays = holidays.country_holidays("DK", years=2025)
    danish = 0
    for shipment in shipments:
        country = shipment.recipient.country
        delivered = shipment.last_event.at.astimezone(ZoneInfo(COUNTRY_TIMEZONE[country])).date()
        assert delivered.weekday() < 5, shipment.tracking_id
        assert is_working_day(delivered, country)
        if country == "DK":
            danish += 1
            assert delivered not in danish_holidays, shipment.tracking_id
    assert danish > 100


def test_easter_delays_danish_parcels_labelled_the_day_before() -> None:
    # Handed in on Wednesday 16 April 2025, a domestic parcel would arrive on Thursday; Maundy
    # Thursday to Easter Monday are closed, so the first arrive on Tuesday 22 April.
    shipments = generate_shipments(1000, seed=10, start=date(2025, 4, 16), end=date(2025, 4, 16))
    delivered = Counter(
        s.last_event.at.date() for s in shipments if s.sender.country == s.recipient.country == "DK"
    )
    assert min(delivered) == date(2025, 4, 22)
    assert delivered[date(2025, 4, 22)] > 20


def test_customs_holds_only_where_a_parcel_crosses_the_customs_border() -> None:
    held = 0
    for shipment in generate_shipments(1500, seed=11):
        holds = [e for e in shipment.events if e.code is EventCode.CUSTOMS_HOLD]
        if holds:
            held += 1
            assert crosses_customs_border(shipment.sender.country, shipment.recipient.country)
            assert shipment.customs is not None
    assert held > 20


def test_norway_is_behind_the_customs_border_for_eu_senders() -> None:
    assert crosses_customs_border("DE", "NO")
    assert crosses_customs_border("CN", "SE")
    assert not crosses_customs_border("DE", "SE")
    assert not crosses_customs_border("NO", "NO")


def test_remote_northern_postcodes_take_longer() -> None:
    shipments = generate_shipments(2500, seed=12)

    def days(remote: bool) -> list[int]:
        return [
            (s.last_event.at.date() - s.events[1].at.date()).days
            for s in shipments
            if s.sender.country == s.recipient.country == "SE"
            and is_remote("SE", s.recipient.postcode) is remote
        ]

    assert statistics.mean(days(remote=True)) > statistics.mean(days(remote=False)) + 0.5


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        generate_shipments(-1)
