"""Read and write the carrier seed format (DESIGN §3): `shipments.jsonl` and `service_points.jsonl`.

A seed with bad lines is refused whole, with one `SeedError` naming every bad line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.domain import (
    Customs,
    Event,
    EventCode,
    Money,
    Party,
    Recipient,
    ServicePoint,
    ServiceType,
    Shipment,
)
from assistant.errors import SeedError, SeedProblem
from assistant.tracking_ids import validate_tracking_id

__all__ = [
    "Seed",
    "load_seed",
    "parse_service_point",
    "parse_shipment",
    "read_shipments",
    "shipment_to_dict",
]

SHIPMENTS_FILE = "shipments.jsonl"
SERVICE_POINTS_FILE = "service_points.jsonl"
COUNTRIES = ("DK", "SE", "NO", "FI")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Money(_Strict):
    amount: float = Field(ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class _Party(_Strict):
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class _Recipient(_Strict):
    name: str = Field(min_length=1)
    street: str = Field(min_length=1)
    postcode: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: Literal["DK", "SE", "NO", "FI"]
    phone: str | None = None
    email: str | None = None


class _Event(_Strict):
    at: datetime
    code: EventCode
    location: str
    country: str = Field(pattern=r"^[A-Z]{2}$")

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event time needs an offset")
        return value


class _Customs(_Strict):
    status: Literal["awaiting_payment", "paid", "cleared"]
    amount_due: _Money | None = None


class _Shipment(_Strict):
    tracking_id: str
    service: ServiceType
    sender: _Party
    recipient: _Recipient
    service_point_id: str | None = None
    weight_kg: float = Field(gt=0)
    declared_value: _Money
    signature_required: bool
    redirect_allowed: bool
    promised_date: date | None = None
    customs: _Customs | None = None
    events: list[_Event] = Field(min_length=1)

    @field_validator("tracking_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        problem = validate_tracking_id(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _chronological(self) -> _Shipment:
        times = [e.at for e in self.events]
        if times != sorted(times):
            raise ValueError("events are not in chronological order")
        if self.service is not ServiceType.HOME and not self.service_point_id:
            raise ValueError(f"service {self.service.value!r} needs a service_point_id")
        return self


class _ServicePoint(_Strict):
    id: str = Field(min_length=1)
    type: Literal["service_point", "locker"]
    name: str = Field(min_length=1)
    street: str
    postcode: str = Field(min_length=1)
    city: str
    country: Literal["DK", "SE", "NO", "FI"]
    opening_hours: str


def _money(m: _Money | None) -> Money | None:
    return Money(m.amount, m.currency) if m else None


def parse_shipment(raw: dict[str, Any]) -> Shipment:
    """One seed line (already JSON-decoded) to a `Shipment`; raises `ValidationError`."""
    s = _Shipment.model_validate(raw)
    value = _money(s.declared_value)
    assert value is not None
    return Shipment(
        tracking_id=s.tracking_id,
        service=s.service,
        sender=Party(s.sender.name, s.sender.country),
        recipient=Recipient(**s.recipient.model_dump()),
        service_point_id=s.service_point_id,
        weight_kg=s.weight_kg,
        declared_value=value,
        signature_required=s.signature_required,
        redirect_allowed=s.redirect_allowed,
        promised_date=s.promised_date,
        customs=Customs(s.customs.status, _money(s.customs.amount_due)) if s.customs else None,
        events=tuple(Event(e.at, e.code, e.location, e.country) for e in s.events),
    )


def parse_service_point(raw: dict[str, Any]) -> ServicePoint:
    p = _ServicePoint.model_validate(raw)
    return ServicePoint(
        id=p.id,
        type=ServiceType(p.type),
        name=p.name,
        street=p.street,
        postcode=p.postcode,
        city=p.city,
        country=p.country,
        opening_hours=p.opening_hours,
    )


def shipment_to_dict(shipment: Shipment) -> dict[str, Any]:
    """The seed-format dict of a shipment (the inverse of `parse_shipment`)."""

    def money(m: Money | None) -> dict[str, Any] | None:
        return {"amount": m.amount, "currency": m.currency} if m else None

    r = shipment.recipient
    return {
        "tracking_id": shipment.tracking_id,
        "service": shipment.service.value,
        "sender": {"name": shipment.sender.name, "country": shipment.sender.country},
        "recipient": {
            "name": r.name,
            "street": r.street,
            "postcode": r.postcode,
            "city": r.city,
            "country": r.country,
            "phone": r.phone,
            "email": r.email,
        },
        "service_point_id": shipment.service_point_id,
        "weight_kg": shipment.weight_kg,
        "declared_value": money(shipment.declared_value),
        "signature_required": shipment.signature_required,
        "redirect_allowed": shipment.redirect_allowed,
        "promised_date": shipment.promised_date.isoformat() if shipment.promised_date else None,
        "customs": (
            {"status": shipment.customs.status, "amount_due": money(shipment.customs.amount_due)}
            if shipment.customs
            else None
        ),
        "events": [
            {
                "at": e.at.isoformat(timespec="minutes"),
                "code": e.code.value,
                "location": e.location,
                "country": e.country,
            }
            for e in shipment.events
        ],
    }


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _json_lines(path: Path, problems: list[SeedProblem]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.append(SeedProblem(path, 0, "file is missing"))
        return
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problems.append(SeedProblem(path, number, f"not UTF-8 ({exc.reason})"))
            continue
        except json.JSONDecodeError as exc:
            problems.append(
                SeedProblem(path, number, f"broken JSON ({exc.msg}, column {exc.colno})")
            )
            continue
        if not isinstance(raw, dict):
            problems.append(SeedProblem(path, number, "expected a JSON object"))
            continue
        yield number, raw


def read_shipments(path: Path) -> list[Shipment]:
    """Read a `shipments.jsonl` file (a seed's, or a carrier's history); refuse it on any bad line."""
    problems: list[SeedProblem] = []
    shipments = _collect_shipments(path, problems)
    if problems:
        raise SeedError(path.parent, problems)
    return [shipment for _, shipment in shipments.values()]


def _collect_shipments(path: Path, problems: list[SeedProblem]) -> dict[str, tuple[int, Shipment]]:
    """Shipments by tracking id with their line numbers; bad lines go to `problems`."""
    found: dict[str, tuple[int, Shipment]] = {}
    for number, raw in _json_lines(path, problems):
        try:
            shipment = parse_shipment(raw)
        except ValidationError as exc:
            problems.append(SeedProblem(path, number, _describe(exc)))
            continue
        if shipment.tracking_id in found:
            first = found[shipment.tracking_id][0]
            problems.append(
                SeedProblem(
                    path,
                    number,
                    f"duplicate tracking_id {shipment.tracking_id} (first on line {first})",
                )
            )
            continue
        found[shipment.tracking_id] = (number, shipment)
    return found


@dataclass(frozen=True)
class Seed:
    folder: Path
    shipments: dict[str, Shipment]
    service_points: dict[str, ServicePoint]


def load_seed(folder: Path) -> Seed:
    """Load a seed folder, checking every line and cross-reference; raise `SeedError` on any fault."""
    problems: list[SeedProblem] = []
    shipments_path = folder / SHIPMENTS_FILE
    points_path = folder / SERVICE_POINTS_FILE
    points: dict[str, ServicePoint] = {}
    for number, raw in _json_lines(points_path, problems):
        try:
            point = parse_service_point(raw)
        except ValidationError as exc:
            problems.append(SeedProblem(points_path, number, _describe(exc)))
            continue
        if point.id in points:
            problems.append(
                SeedProblem(points_path, number, f"duplicate service point id {point.id}")
            )
            continue
        points[point.id] = point

    found = _collect_shipments(shipments_path, problems)
    for number, shipment in found.values():
        sp = shipment.service_point_id
        if sp and sp not in points:
            problems.append(SeedProblem(shipments_path, number, f"unknown service_point_id {sp}"))
    if problems:
        raise SeedError(folder, sorted(problems, key=lambda p: (p.file.name, p.line)))
    shipments = {tracking_id: shipment for tracking_id, (_, shipment) in found.items()}
    return Seed(folder=folder, shipments=shipments, service_points=points)
