"""What the ETA model sees of a shipment at one of its scans, and what it learns to predict.

A *state* is the shipment as it stood right after event `i`: its lane, service, the last event
code and when it happened, how long the parcel has been under way, customs, holidays ahead and the
promised date. Every feature is numeric (categories are ordinal codes chosen so that "later in the
journey" or "further away" is a larger number): the gradient-boosted trees then need no
categorical encoder, and one row can be scored by `assistant.eta.forest` in well under a
millisecond.

The target of a training example is the time from the event to the first DELIVERED or
AVAILABLE_FOR_PICKUP, in hours on the destination's working-hour clock
(`assistant.eta.workdays`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from assistant.domain import COUNTRY_TIMEZONE, EventCode, ServiceType, Shipment
from assistant.eta.synthetic import EU_COUNTRIES, crosses_customs_border
from assistant.eta.workdays import holidays_ahead, work_table, working_days_between

__all__ = [
    "DESTINATIONS",
    "FEATURE_NAMES",
    "FINAL_CODES",
    "STAGE_NAMES",
    "ExampleSet",
    "State",
    "build_examples",
    "final_index",
    "stage_of",
    "state_at",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DESTINATIONS = tuple(COUNTRY_TIMEZONE)
FINAL_CODES = frozenset({EventCode.DELIVERED, EventCode.AVAILABLE_FOR_PICKUP})
# A journey that reached one of these has no delivery ahead to learn from.
_DEAD_ENDS = frozenset({EventCode.RETURNED_TO_SENDER, EventCode.DAMAGED_IN_TRANSIT})

FEATURE_NAMES = (
    "origin",
    "lane",
    "dest_country",
    "dest_region",
    "service",
    "last_code",
    "weekday",
    "hour",
    "hours_since_first",
    "customs",
    "holidays_ahead",
    "promised_gap",
    "attempts",
    "n_events",
)

# Roughly by distance: the Nordics, the EU, then outside it; unknown senders get their bloc's code.
_ORIGIN_CODE = {"DK": 0, "SE": 1, "NO": 2, "FI": 3, "DE": 4, "NL": 5, "LT": 6, "GB": 8, "US": 9,
                "CN": 10}  # fmt: skip
_OTHER_EU, _OTHER_WORLD = 7, 11
# By stage of the journey, so "later" is a larger number.
_CODE_STAGE = {
    EventCode.INFORMATION_RECEIVED: 0,
    EventCode.ACCEPTED: 1,
    EventCode.IN_TRANSIT: 2,
    EventCode.ARRIVED_AT_TERMINAL: 3,
    EventCode.CUSTOMS_HOLD: 4,
    EventCode.REDIRECTED: 5,
    EventCode.DELIVERY_ATTEMPTED: 6,
    EventCode.OUT_FOR_DELIVERY: 7,
    EventCode.AVAILABLE_FOR_PICKUP: 8,
    EventCode.DELIVERED: 9,
    EventCode.RETURNED_TO_SENDER: 10,
    EventCode.DAMAGED_IN_TRANSIT: 11,
}
STAGE_NAMES = {stage: code.value for code, stage in _CODE_STAGE.items()}
_SERVICE_CODE = {ServiceType.HOME: 0, ServiceType.SERVICE_POINT: 1, ServiceType.LOCKER: 2}
_NORDIC = frozenset(DESTINATIONS)
# Customs, by how much it may still hold the parcel up: none, a border crossed with VAT paid at
# checkout, duty due (a hold ahead), held now, released.
_CUSTOMS_NONE, _CUSTOMS_BORDER, _CUSTOMS_DUE, _CUSTOMS_HELD, _CUSTOMS_RELEASED = (
    0.0, 1.0, 2.0, 3.0, 4.0
)  # fmt: skip


def stage_of(code: EventCode) -> int:
    """The stage number of an event code ("later in the journey" is larger)."""
    return _CODE_STAGE[code]


@functools.cache
def _zone(country: str) -> ZoneInfo:
    return ZoneInfo(COUNTRY_TIMEZONE[country])


def _origin_code(country: str) -> int:
    if country in _ORIGIN_CODE:
        return _ORIGIN_CODE[country]
    return _OTHER_EU if country in EU_COUNTRIES else _OTHER_WORLD


def _lane(origin: str, destination: str) -> int:
    if origin == destination:
        return 0
    if origin in _NORDIC:
        return 1
    return 2 if origin in EU_COUNTRIES else 3


def _region(country: str, postcode: str) -> float:
    digits = [c for c in postcode if c.isdigit()]
    if not digits or country not in DESTINATIONS:
        return math.nan
    return float(DESTINATIONS.index(country) * 10 + int(digits[0]))


@dataclass(frozen=True)
class State:
    """A shipment right after one of its events, as one feature row."""

    row: FloatArray
    country: str
    anchor: datetime  # time of the event, in the destination's zone
    code: EventCode


def _static(shipment: Shipment) -> tuple[float, float, float, float, float, bool]:
    origin, destination = shipment.sender.country, shipment.recipient.country
    return (
        float(_origin_code(origin)),
        float(_lane(origin, destination)),
        float(DESTINATIONS.index(destination)),
        _region(destination, shipment.recipient.postcode),
        float(_SERVICE_CODE[shipment.service]),
        crosses_customs_border(origin, destination),
    )


def state_at(shipment: Shipment, index: int) -> State:
    """The feature row of `shipment` right after `shipment.events[index]`.

    Args:
        shipment: a shipment whose recipient is in DK, SE, NO or FI.
        index: position of the event in `shipment.events` (negative counts from the end).

    Returns:
        The state, with its anchor time in the destination's time zone.
    """
    country = shipment.recipient.country
    zone = _zone(country)
    events = shipment.events
    index = index % len(events)
    event = events[index]
    local = event.at.astimezone(zone)
    origin, lane, dest, region, service, border = _static(shipment)
    held = False
    attempts = 0
    for earlier in events[: index + 1]:
        held |= earlier.code is EventCode.CUSTOMS_HOLD
        attempts += earlier.code is EventCode.DELIVERY_ATTEMPTED
    if event.code is EventCode.CUSTOMS_HOLD:
        customs_state = _CUSTOMS_HELD
    elif held:
        customs_state = _CUSTOMS_RELEASED
    elif shipment.customs is not None and shipment.customs.status != "cleared":
        customs_state = _CUSTOMS_DUE
    else:
        customs_state = _CUSTOMS_BORDER if border else _CUSTOMS_NONE
    day = local.date()
    promised = shipment.promised_date
    row = np.array(
        [
            origin,
            lane,
            dest,
            region,
            service,
            float(_CODE_STAGE[event.code]),
            float(day.weekday()),
            local.hour + local.minute / 60.0,
            (event.at - events[0].at).total_seconds() / 3600.0,
            customs_state,
            float(holidays_ahead(day, country)),
            math.nan if promised is None else float(working_days_between(day, promised, country)),
            float(attempts),
            float(index + 1),
        ],
        dtype=np.float64,
    )
    return State(row=row, country=country, anchor=local, code=event.code)


def final_index(shipment: Shipment) -> int | None:
    """Index of the first DELIVERED / AVAILABLE_FOR_PICKUP event, or None if there is none."""
    for index, event in enumerate(shipment.events):
        if event.code in FINAL_CODES:
            return index
    return None


@dataclass(frozen=True)
class ExampleSet:
    """Training or evaluation examples: one row per intermediate event of a finished journey."""

    X: FloatArray
    y: FloatArray  # working-clock hours from the event to the delivery
    country: IntArray  # index into DESTINATIONS
    anchor_ordinal: IntArray
    anchor_hour: FloatArray
    final_ordinal: IntArray  # the delivery date, in the destination's zone
    promised_ordinal: IntArray  # -1 without a promised date
    shipment: IntArray  # index of the shipment in the input
    code: IntArray  # stage code of the event

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: npt.NDArray[np.bool_]) -> ExampleSet:
        """The examples where `mask` is true."""
        return ExampleSet(
            X=self.X[mask],
            y=self.y[mask],
            country=self.country[mask],
            anchor_ordinal=self.anchor_ordinal[mask],
            anchor_hour=self.anchor_hour[mask],
            final_ordinal=self.final_ordinal[mask],
            promised_ordinal=self.promised_ordinal[mask],
            shipment=self.shipment[mask],
            code=self.code[mask],
        )


def build_examples(shipments: Iterable[Shipment]) -> ExampleSet:
    """One example per event before the delivery, for every shipment that was delivered.

    Shipments that never reached DELIVERED or AVAILABLE_FOR_PICKUP, or whose recipient is not in
    DK, SE, NO or FI, give no examples; events after a return or damage are skipped.

    Args:
        shipments: complete or partial histories in the seed format.

    Returns:
        The examples with their working-clock targets.
    """
    rows: list[FloatArray] = []
    meta: list[tuple[int, int, float, int, float, int, int, int]] = []
    for number, shipment in enumerate(shipments):
        country = shipment.recipient.country
        end = final_index(shipment)
        if end is None or end == 0 or country not in DESTINATIONS:
            continue
        final = shipment.events[end].at.astimezone(_zone(country))
        delivered_hour = final.hour + final.minute / 60.0
        promised = shipment.promised_date.toordinal() if shipment.promised_date else -1
        for index in range(end):
            if shipment.events[index].code in _DEAD_ENDS:
                break
            state = state_at(shipment, index)
            rows.append(state.row)
            anchor = state.anchor
            meta.append(
                (
                    DESTINATIONS.index(country),
                    anchor.toordinal(),
                    anchor.hour + anchor.minute / 60.0,
                    final.toordinal(),
                    delivered_hour,
                    promised,
                    number,
                    _CODE_STAGE[state.code],
                )
            )
    if not rows:
        return _empty()
    columns = list(zip(*meta, strict=True))
    country_idx = np.asarray(columns[0], dtype=np.int64)
    anchor_ord = np.asarray(columns[1], dtype=np.int64)
    anchor_hour = np.asarray(columns[2], dtype=np.float64)
    final_ord = np.asarray(columns[3], dtype=np.int64)
    final_hour = np.asarray(columns[4], dtype=np.float64)
    y = np.empty(len(rows), dtype=np.float64)
    for c, code in enumerate(DESTINATIONS):
        mask = country_idx == c
        if not mask.any():
            continue
        table = work_table(code, int(anchor_ord[mask].min()), int(final_ord[mask].max()))
        y[mask] = table.position(final_ord[mask], final_hour[mask]) - table.position(
            anchor_ord[mask], anchor_hour[mask]
        )
    return ExampleSet(
        X=np.vstack(rows),
        y=np.maximum(y, 0.0),
        country=country_idx,
        anchor_ordinal=anchor_ord,
        anchor_hour=anchor_hour,
        final_ordinal=final_ord,
        promised_ordinal=np.asarray(columns[5], dtype=np.int64),
        shipment=np.asarray(columns[6], dtype=np.int64),
        code=np.asarray(columns[7], dtype=np.int64),
    )


def _empty() -> ExampleSet:
    ints = np.zeros(0, dtype=np.int64)
    floats = np.zeros(0, dtype=np.float64)
    return ExampleSet(
        X=np.zeros((0, len(FEATURE_NAMES)), dtype=np.float64),
        y=floats,
        country=ints,
        anchor_ordinal=ints,
        anchor_hour=floats,
        final_ordinal=ints,
        promised_ordinal=ints,
        shipment=ints,
        code=ints,
    )
