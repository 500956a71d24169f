"""Synthetic scan histories for training and testing the ETA model, in the seed format.

`generate_shipments(n, seed=...)` draws complete parcel journeys from one seeded
`numpy.random.Generator`, so the same seed always gives the same shipments. What it models:

- lanes from DK, SE, NO, FI and from DE, NL, LT (EU) and CN, US, GB (outside the EU) to a postcode
  region (the first digit) in DK, SE, NO or FI, with the postcode formats of each country;
- the sender's hand-over lag (on the sender country's working days) and a Monday volume peak;
- linehaul times by lane, terminal stalls at ARRIVED_AT_TERMINAL, customs holds where a parcel
  crosses the EU customs border (non-EU senders, and EU senders to NO) without VAT paid at
  checkout (those carry a `customs` record with the amount due), an extra regional leg to
  remote postcodes in the north of SE, NO and FI;
- delivery only on working days of the destination (`assistant.eta.workdays`): DELIVERED for home
  delivery (after a failed attempt now and then), AVAILABLE_FOR_PICKUP for service points and
  lockers (a full locker is redirected to a service point);
- a promised date set when the label is made, for most parcels.

Event times are in the destination country's time zone, at minute resolution, so a shipment
survives `shipment_to_dict` / `parse_shipment` unchanged.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from assistant.domain import (
    COUNTRY_CURRENCY,
    COUNTRY_TIMEZONE,
    Customs,
    Event,
    EventCode,
    Money,
    Party,
    Recipient,
    ServiceType,
    Shipment,
)
from assistant.eta.workdays import add_working_days, next_working_day
from assistant.tracking_ids import s10_check_digit, sscc_check_digit

__all__ = [
    "DESTINATIONS",
    "EU_COUNTRIES",
    "ORIGINS",
    "crosses_customs_border",
    "generate_shipments",
    "is_remote",
]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
DESTINATIONS = ("DK", "SE", "NO", "FI")
ORIGINS = ("DK", "SE", "NO", "FI", "DE", "NL", "LT", "CN", "US", "GB")

_ORIGIN_TIMEZONE = {
    **COUNTRY_TIMEZONE,
    "DE": "Europe/Berlin",
    "NL": "Europe/Amsterdam",
    "LT": "Europe/Vilnius",
    "CN": "Asia/Shanghai",
    "US": "America/New_York",
    "GB": "Europe/London",
}
_DEST_WEIGHTS = (0.28, 0.34, 0.20, 0.18)
# Share of each origin for a parcel: domestic first, then other Nordic, EU, outside the EU.
_DOMESTIC, _NORDIC = 0.50, 0.20
_FOREIGN_WEIGHTS = {"DE": 0.07, "NL": 0.04, "LT": 0.05, "CN": 0.07, "US": 0.03, "GB": 0.04}
_SENDERS = {
    "DK": ("Boozt", "Matas", "Proshop"),
    "SE": ("H&M", "CDON", "Apotea"),
    "NO": ("Komplett", "XXL", "Elkjøp"),
    "FI": ("Verkkokauppa.com", "Stockmann", "Tokmanni"),
    "DE": ("Zalando", "Otto"),
    "NL": ("Bol.com", "Coolblue"),
    "LT": ("Vinted", "Pigu"),
    "CN": ("Temu", "AliExpress", "Shein"),
    "US": ("Amazon US", "Etsy"),
    "GB": ("ASOS", "Etsy UK"),
}
_HUB = {
    "DK": "Brøndby terminal",
    "SE": "Jönköping terminal",
    "NO": "Oslo Alnabru terminal",
    "FI": "Vantaa terminal",
    "DE": "Hamburg hub",
    "NL": "Amsterdam hub",
    "LT": "Vilnius hub",
    "CN": "Shenzhen export hub",
    "US": "New York JFK export hub",
    "GB": "London Heathrow export hub",
}
# Per destination: (first digit of the postcode, a city there, its share of the parcels).
_REGIONS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "DK": (
        ("1", "København K", 0.10),
        ("2", "Frederiksberg", 0.22),
        ("3", "Hillerød", 0.08),
        ("4", "Roskilde", 0.10),
        ("5", "Odense C", 0.09),
        ("6", "Esbjerg", 0.08),
        ("7", "Vejle", 0.09),
        ("8", "Aarhus C", 0.14),
        ("9", "Aalborg", 0.10),
    ),
    "SE": (
        ("1", "Stockholm", 0.24),
        ("2", "Malmö", 0.14),
        ("3", "Växjö", 0.07),
        ("4", "Göteborg", 0.17),
        ("5", "Jönköping", 0.08),
        ("6", "Norrköping", 0.09),
        ("7", "Uppsala", 0.10),
        ("8", "Sundsvall", 0.06),
        ("9", "Luleå", 0.05),
    ),
    "NO": (
        ("0", "Oslo", 0.22),
        ("1", "Lillestrøm", 0.12),
        ("2", "Hamar", 0.07),
        ("3", "Drammen", 0.10),
        ("4", "Stavanger", 0.13),
        ("5", "Bergen", 0.12),
        ("6", "Ålesund", 0.07),
        ("7", "Trondheim", 0.08),
        ("8", "Bodø", 0.05),
        ("9", "Tromsø", 0.04),
    ),
    "FI": (
        ("0", "Helsinki", 0.28),
        ("1", "Lahti", 0.07),
        ("2", "Turku", 0.12),
        ("3", "Tampere", 0.13),
        ("4", "Jyväskylä", 0.08),
        ("5", "Mikkeli", 0.05),
        ("6", "Seinäjoki", 0.06),
        ("7", "Kuopio", 0.07),
        ("8", "Joensuu", 0.05),
        ("9", "Oulu", 0.09),
    ),
}
_POSTCODE_LENGTH = {"DK": 4, "SE": 5, "NO": 4, "FI": 5}
# Extra working days on the regional leg to the north (first postcode digit), as (p1, p2) of
# needing one or two days.
_REMOTE = {("SE", "9"): (0.5, 0.5), ("SE", "8"): (0.6, 0.0), ("NO", "8"): (0.6, 0.3),
           ("NO", "9"): (0.4, 0.6), ("FI", "9"): (0.7, 0.2)}  # fmt: skip
_FIRST_NAMES = {
    "DK": ("Ida", "Mikkel", "Freja", "Lars", "Sofie", "Jonas"),
    "SE": ("Karin", "Erik", "Maja", "Oskar", "Elsa", "Johan"),
    "NO": ("Emma", "Ole", "Ingrid", "Henrik", "Nora", "Sindre"),
    "FI": ("Ville", "Aino", "Mikko", "Emilia", "Juha", "Helmi"),
}
_LAST_NAMES = {
    "DK": ("Larsen", "Pedersen", "Nielsen", "Jensen"),
    "SE": ("Larsson", "Andersson", "Nilsson", "Johansson"),
    "NO": ("Johansen", "Hansen", "Olsen", "Berg"),
    "FI": ("Heikkinen", "Virtanen", "Korhonen", "Mäkinen"),
}
_STREETS = {
    "DK": ("Jernbanegade", "Vestergade", "Østergade", "Skolevej"),
    "SE": ("Järnvägsgatan", "Storgatan", "Kyrkogatan", "Skolgatan"),
    "NO": ("Storgata", "Kirkegata", "Skolegata", "Strandveien"),
    "FI": ("Hämeenkatu", "Rautatienkatu", "Koulukatu", "Kirkkokatu"),
}
_PHONE = {"DK": ("+45", 8), "SE": ("+46", 9), "NO": ("+47", 8), "FI": ("+358", 9)}
# Customs handling fee per destination (knowledge/facts.yaml, customs.handling_fee); VAT 25 %.
_CUSTOMS_FEE = {"DK": 160.0, "SE": 125.0, "NO": 149.0, "FI": 9.90}
_VALUE_SCALE = {"DK": 400.0, "SE": 500.0, "NO": 500.0, "FI": 50.0}
# Scheduled linehaul in calendar days from departure to the destination hub ("*": any other).
_LINEHAUL_DAYS: dict[str, dict[str, int]] = {
    "DK": {"SE": 1, "NO": 2, "FI": 2, "*": 1},
    "SE": {"DK": 1, "NO": 1, "FI": 2, "*": 1},
    "NO": {"DK": 2, "SE": 1, "FI": 3, "*": 1},
    "FI": {"DK": 2, "SE": 2, "NO": 3, "*": 1},
    "DE": {"DK": 1, "SE": 2, "*": 3},
    "NL": {"DK": 2, "SE": 2, "*": 3},
    "LT": {"DK": 2, "SE": 2, "FI": 2, "*": 3},
    "GB": {"DK": 2, "*": 3},
    "US": {"*": 4},
    "CN": {"*": 7},
}
# Working days from label to promised date: the carrier's promise per lane, before remoteness.
_PROMISE = {"domestic": 3, "nordic": 4, "DE": 5, "NL": 5, "LT": 6, "GB": 7, "US": 8, "CN": 12}


def crosses_customs_border(origin: str, destination: str) -> bool:
    """True when a parcel from `origin` to `destination` passes the EU customs border."""
    return origin != destination and not (origin in EU_COUNTRIES and destination in EU_COUNTRIES)


def is_remote(country: str, postcode: str) -> bool:
    """True for postcode regions the generator gives an extra regional leg (the far north)."""
    return (country, postcode[:1]) in _REMOTE


@dataclass
class _Journey:
    """Events under construction; times are aware datetimes in any zone."""

    events: list[tuple[datetime, EventCode, str, str]]

    def add(self, at: datetime, code: EventCode, location: str, country: str) -> datetime:
        at = at.replace(second=0, microsecond=0)  # the seed format keeps minutes only
        if self.events and at <= self.events[-1][0]:
            at = self.events[-1][0] + timedelta(minutes=1)
        self.events.append((at, code, location, country))
        return at


@functools.cache
def _cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(itertools.accumulate(weights))


def _at(day: date, hour: float, zone: ZoneInfo) -> datetime:
    minutes = round(hour * 60)
    return datetime.combine(day, time(0, 0), zone) + timedelta(minutes=minutes)


class _Generator:
    """One seeded run of the generator; every random draw goes through `self.rng`."""

    def __init__(self, seed: int, start: date, end: date) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.start = start
        self.span = (end - start).days + 1

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def weighted(self, values: tuple[_T, ...], weights: tuple[float, ...]) -> _T:
        # bisect over cumulative weights: a tenth of the cost of `rng.choice(p=...)` per draw.
        cumulative = _cumulative(weights)
        return values[bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])]

    def destination(self) -> str:
        return self.weighted(DESTINATIONS, _DEST_WEIGHTS)

    def origin(self, destination: str) -> str:
        others = tuple(c for c in DESTINATIONS if c != destination)
        names = (destination, *others, *_FOREIGN_WEIGHTS)
        weights = (_DOMESTIC, *([_NORDIC / 3] * 3), *_FOREIGN_WEIGHTS.values())
        return self.weighted(names, weights)

    def postcode(self, country: str) -> tuple[str, str]:
        regions = _REGIONS[country]
        digit, city, _ = self.weighted(regions, tuple(r[2] for r in regions))
        rest = _POSTCODE_LENGTH[country] - 1
        tail = int(self.rng.integers(0, 10**rest))
        if (country, digit) in {("DK", "1"), ("NO", "0"), ("FI", "0")}:
            tail = max(tail, 10 ** (rest - 1))  # no DK 1000-, NO 0000 or FI 00000-00099
        return f"{digit}{tail:0{rest}d}", city

    def tracking_id(self, index: int) -> str:
        if index % 2:
            serial = f"{(self.seed % 90 + 10) * 10**6 + index % 10**6:08d}"
            return f"RR{serial}{s10_check_digit(serial)}{self.pick(DESTINATIONS)}"
        body = f"7{self.seed % 10**6:06d}{index:010d}"
        return f"00{body}{sscc_check_digit(body)}"

    def shipment(self, index: int) -> Shipment:
        rng = self.rng
        destination = self.destination()
        origin = self.origin(destination)
        dest_zone = ZoneInfo(COUNTRY_TIMEZONE[destination])
        origin_zone = ZoneInfo(_ORIGIN_TIMEZONE[origin])
        service = self.weighted(
            (ServiceType.HOME, ServiceType.SERVICE_POINT, ServiceType.LOCKER), (0.40, 0.40, 0.20)
        )
        postcode, city = self.postcode(destination)
        sender = self.pick(_SENDERS[origin])
        # Most web shops collect VAT at checkout (EU IOSS, Norwegian VOEC): such parcels pass the
        # border without a hold. The rest wait at customs until the recipient pays.
        customs = crosses_customs_border(origin, destination) and not self.chance(0.75)
        journey = _Journey([])

        # Label made by the web shop: any hour, more in the evening.
        label_day = self.start + timedelta(days=int(rng.integers(self.span)))
        label_hour = float(np.clip(rng.normal(15.0, 5.0), 0.0, 23.9))
        labelled = journey.add(
            _at(label_day, label_hour, origin_zone), EventCode.INFORMATION_RECEIVED, sender, origin
        )

        # Hand-over at the sender's country, on its working days, before the evening pickup.
        if label_hour < 16.0:
            lag = self.weighted((0, 1, 2, 3), (0.85, 0.11, 0.025, 0.015))
        else:
            lag = self.weighted((1, 2, 3), (0.94, 0.04, 0.02))
        accept_day = add_working_days(label_day, lag, origin)
        accepted = journey.add(
            _at(accept_day, self.uniform(15.0, 20.0), origin_zone),
            EventCode.ACCEPTED,
            _HUB[origin],
            origin,
        )
        # Monday volume peak: a share of Monday parcels leave the sorting a day later.
        peak = accept_day.weekday() == 0 and self.chance(0.10)
        if origin in {"CN", "US"}:
            departs = accepted + timedelta(hours=self.uniform(6.0, 30.0))
        else:
            departs = accepted + timedelta(hours=self.uniform(2.0, 6.0) + 24.0 * peak)
        journey.add(departs, EventCode.IN_TRANSIT, _HUB[origin], origin)

        # Linehaul to the destination hub; arrivals roll to the morning of a working day.
        depart_local = departs.astimezone(dest_zone).date()
        if origin == destination:
            arrive_day = add_working_days(depart_local, 1, destination)
        else:
            days = self._linehaul_days(origin, destination)
            arrive_day = next_working_day(depart_local + timedelta(days=days), destination)
        hub = _HUB[destination]
        arrived = journey.add(
            _at(arrive_day, self.uniform(2.0, 6.5), dest_zone),
            EventCode.ARRIVED_AT_TERMINAL,
            hub,
            destination,
        )
        ready_day = arrive_day
        if customs:
            held = journey.add(
                arrived + timedelta(hours=self.uniform(1.0, 5.0)),
                EventCode.CUSTOMS_HOLD,
                f"Customs, {hub}",
                destination,
            )
            wait = self.weighted((0, 1, 2, 3, 5), (0.60, 0.25, 0.08, 0.04, 0.03))
            release_day = add_working_days(held.astimezone(dest_zone).date(), wait, destination)
            release_hour = self.uniform(8.0, 16.0)
            if wait == 0:
                release_hour = max(release_hour, held.astimezone(dest_zone).hour + 3.0)
            journey.add(
                _at(release_day, min(release_hour, 23.0), dest_zone),
                EventCode.IN_TRANSIT,
                hub,
                destination,
            )
            ready_day = add_working_days(release_day, 1, destination)
            journey.add(
                _at(ready_day, self.uniform(2.0, 6.5), dest_zone),
                EventCode.ARRIVED_AT_TERMINAL,
                hub,
                destination,
            )
        remote = _REMOTE.get((destination, postcode[0]))
        if remote is not None:
            one, two = remote
            extra = self.weighted((0, 1, 2), (max(0.0, 1.0 - one - two), one, two))
            if extra:
                journey.add(
                    _at(ready_day, self.uniform(18.0, 22.0), dest_zone),
                    EventCode.IN_TRANSIT,
                    hub,
                    destination,
                )
                ready_day = add_working_days(ready_day, extra, destination)
                journey.add(
                    _at(ready_day, self.uniform(2.0, 6.5), dest_zone),
                    EventCode.ARRIVED_AT_TERMINAL,
                    f"{city} terminal",
                    destination,
                )
        # A terminal stall: the parcel waits without a scan.
        if self.chance(0.05):
            ready_day = add_working_days(ready_day, self.weighted((1, 2), (0.8, 0.2)), destination)

        service_point_id = None
        if service is ServiceType.HOME:
            self._home_delivery(journey, ready_day, dest_zone, city, destination)
        else:
            service_point_id = f"{destination}-{postcode}-{int(rng.integers(1, 4)):03d}"
            self._pickup_delivery(journey, service, ready_day, dest_zone, city, destination)

        if origin == destination:
            promise = _PROMISE["domestic"]
        else:
            promise = _PROMISE["nordic" if origin in DESTINATIONS else origin]
        promised = (
            add_working_days(
                labelled.astimezone(dest_zone).date(),
                promise + (remote is not None),
                destination,
            )
            if self.chance(0.85)
            else None
        )
        return self._assemble(
            index, service, sender, origin, destination, postcode, city, service_point_id,
            promised, customs, journey,
        )  # fmt: skip

    def _linehaul_days(self, origin: str, destination: str) -> int:
        days = _LINEHAUL_DAYS[origin].get(destination, _LINEHAUL_DAYS[origin]["*"])
        if origin in {"CN", "US"}:
            # Air freight waits for a flight with room: early or late by a day.
            return days + self.weighted((-1, 0, 1), (0.10, 0.70, 0.20))
        return days + self.chance(0.08)

    def _home_delivery(
        self, journey: _Journey, day: date, zone: ZoneInfo, city: str, country: str
    ) -> None:
        depot = f"{city} delivery depot"
        for attempt in range(2):
            out = journey.add(
                _at(day, self.uniform(6.5, 9.0), zone), EventCode.OUT_FOR_DELIVERY, depot, country
            )
            # Position on the route: most stops around midday, none after 21:00.
            stop_hour = 9.0 + 11.5 * float(self.rng.beta(2.0, 2.2))
            stop = max(_at(day, stop_hour, zone), out + timedelta(minutes=20))
            if attempt == 0 and self.chance(0.05):
                journey.add(stop, EventCode.DELIVERY_ATTEMPTED, city, country)
                day = add_working_days(day, 1, country)
                continue
            journey.add(stop, EventCode.DELIVERED, city, country)
            return

    def _pickup_delivery(
        self,
        journey: _Journey,
        service: ServiceType,
        day: date,
        zone: ZoneInfo,
        city: str,
        country: str,
    ) -> None:
        point = f"{'Locker' if service is ServiceType.LOCKER else 'Service point'} {city}"
        if service is ServiceType.LOCKER and self.chance(0.04):
            # A full locker: the parcel goes to the nearest service point the next working day.
            journey.add(
                _at(day, self.uniform(9.0, 12.0), zone), EventCode.REDIRECTED, point, country
            )
            day = add_working_days(day, 1, country)
            point = f"Service point {city}"
        elif service is ServiceType.SERVICE_POINT and self.chance(0.08):
            day = add_working_days(day, 1, country)
        hours = (8.0, 15.0) if point.startswith("Locker") else (10.0, 17.0)
        journey.add(
            _at(day, self.uniform(*hours), zone), EventCode.AVAILABLE_FOR_PICKUP, point, country
        )

    def _assemble(
        self,
        index: int,
        service: ServiceType,
        sender: str,
        origin: str,
        destination: str,
        postcode: str,
        city: str,
        service_point_id: str | None,
        promised: date | None,
        customs: bool,
        journey: _Journey,
    ) -> Shipment:
        rng = self.rng
        zone = ZoneInfo(COUNTRY_TIMEZONE[destination])
        first = self.pick(_FIRST_NAMES[destination])
        prefix, digits = _PHONE[destination]
        currency = COUNTRY_CURRENCY[destination]
        value = round(float(rng.lognormal(0.0, 0.8)) * _VALUE_SCALE[destination], 2)
        max_kg = {ServiceType.HOME: 35.0, ServiceType.SERVICE_POINT: 20.0}.get(service, 15.0)
        weight = round(float(np.clip(rng.lognormal(0.3, 0.8), 0.1, max_kg)), 1)
        duty = (
            Customs(
                "paid",
                Money(round(_CUSTOMS_FEE[destination] + 0.25 * value, 2), currency),
            )
            if customs
            else None
        )
        events = tuple(
            Event(at.astimezone(zone), code, location, country)
            for at, code, location, country in journey.events
        )
        return Shipment(
            tracking_id=self.tracking_id(index),
            service=service,
            sender=Party(sender, origin),
            recipient=Recipient(
                name=f"{first} {self.pick(_LAST_NAMES[destination])}",
                street=f"{self.pick(_STREETS[destination])} {int(rng.integers(1, 120))}",
                postcode=postcode,
                city=city,
                country=destination,
                phone=f"{prefix}{int(rng.integers(10 ** (digits - 1), 10**digits))}",
                email=f"{first.lower()}@example.com",
            ),
            service_point_id=service_point_id,
            weight_kg=weight,
            declared_value=Money(value, currency),
            signature_required=service is ServiceType.HOME and self.chance(0.05),
            redirect_allowed=self.chance(0.85),
            promised_date=promised,
            customs=duty,
            events=events,
        )


def generate_shipments(
    n: int,
    *,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    end: date = date(2026, 12, 31),
) -> list[Shipment]:
    """Complete synthetic parcel journeys, the same for the same arguments.

    Args:
        n: how many shipments.
        seed: seed of the `numpy.random.Generator` behind every draw.
        start: first possible day the label is made.
        end: last possible day the label is made (deliveries may fall after it).

    Returns:
        Shipments in the seed format whose last event is DELIVERED (home) or
        AVAILABLE_FOR_PICKUP (service point, locker).
    """
    if n < 0:
        raise ValueError("n must not be negative")
    if end < start:
        raise ValueError("end must not be before start")
    generator = _Generator(seed, start, end)
    shipments = [generator.shipment(index) for index in range(n)]
    logger.debug("generated %d synthetic shipments (seed %d)", n, seed)
    return shipments
