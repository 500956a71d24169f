"""The carrier API's wire shapes (`assistant/carrier/REST.md`), one codec for server and adapter.

`api/carrier_server.py` encodes what a `CarrierBackend` returns and `HttpCarrierBackend` decodes
it with the functions below, so the two sides cannot drift apart. Encoders return JSON-ready
dicts (str, int, float, bool, None, lists, dicts); decoders take already-parsed JSON and return
frozen domain values, or raise `WireError` naming every field that is wrong (never the values,
which may be personal data).

```
domain value                 wire object
ServicePoint             <-> {"id", "type", "name", "street", "postcode", "city", "country", "opening_hours"}
RedirectOption           <-> {"option_id", "kind", "service_point", "day", "distance_rank"}
Redirect                 <-> {"redirect_id", "tracking_id", "option", "applied_at"}
Verification             <-> {"tracking_id", "token", "expires_at"}
ShipmentView             <-> {"shipment", "verified", "active_redirect", "service_point"}
Case                     <-> {"case_id", "tracking_id", "category", "priority", "description", ...}
CaseRequest              <-> {"tracking_id", "category", "description", "contact_email", ...}
ToolFailed (a refusal)   <-> {"reason", "explanation", "details"}
lists                    <-> {"options": [...]}, {"cases": [...]}, {"service_points": [...]}
```

The shipment inside a view is the seed format of DESIGN §3 (`shipment_to_dict` /
`parse_shipment`), with event times at full precision. An unverified view never carries the
recipient's name, street, postcode, phone or email: `encode_shipment_view` drops them and
`decode_shipment_view` fills the gaps with empty strings (`redact_view` is the same rule on a
domain value), so a server cannot leak them by mistake and an adapter cannot show them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.carrier.seed import parse_shipment, shipment_to_dict
from assistant.domain import (
    Case,
    CaseCategory,
    CaseRequest,
    CaseStatus,
    Recipient,
    Redirect,
    RedirectKind,
    RedirectOption,
    ServicePoint,
    ServiceType,
    Shipment,
    ShipmentView,
    Verification,
)
from assistant.errors import ToolFailed

__all__ = [
    "CaseRequestBody",
    "RedirectRequestBody",
    "VerificationRequestBody",
    "WireError",
    "decode_case",
    "decode_case_request",
    "decode_cases",
    "decode_redirect",
    "decode_redirect_option",
    "decode_redirect_options",
    "decode_refusal",
    "decode_service_point",
    "decode_service_points",
    "decode_shipment_view",
    "decode_verification",
    "encode_case",
    "encode_case_request",
    "encode_cases",
    "encode_redirect",
    "encode_redirect_option",
    "encode_redirect_options",
    "encode_refusal",
    "encode_service_point",
    "encode_service_points",
    "encode_shipment_view",
    "encode_verification",
    "redact_view",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class WireError(ValueError):
    """A body does not have the documented shape; the message lists the faulty fields."""


# --- wire models -----------------------------------------------------------------------------
# Unknown fields are ignored so that a carrier may add fields without breaking the adapter; the
# shipment itself is the seed format and is checked as strictly as a seed line.


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ServicePointWire(_Wire):
    id: str = Field(min_length=1)
    type: Literal["service_point", "locker"]
    name: str
    street: str
    postcode: str
    city: str
    country: str
    opening_hours: str


class _RedirectOptionWire(_Wire):
    option_id: str = Field(min_length=1)
    kind: RedirectKind
    service_point: _ServicePointWire | None = None
    day: date | None = None
    distance_rank: int = 0

    @model_validator(mode="after")
    def _complete(self) -> _RedirectOptionWire:
        if (
            self.kind in (RedirectKind.SERVICE_POINT, RedirectKind.LOCKER)
            and not self.service_point
        ):
            raise ValueError(f"a {self.kind.value} option needs a service_point")
        if self.kind is RedirectKind.DAY and self.day is None:
            raise ValueError("a day option needs a day")
        return self


class _RedirectWire(_Wire):
    redirect_id: str = Field(min_length=1)
    tracking_id: str = Field(min_length=1)
    option: _RedirectOptionWire
    applied_at: AwareDatetime


class _VerificationWire(_Wire):
    tracking_id: str = Field(min_length=1)
    token: str = Field(min_length=1)
    expires_at: AwareDatetime


class _ShipmentViewWire(_Wire):
    shipment: dict[str, Any]
    verified: bool
    active_redirect: _RedirectWire | None = None
    service_point: _ServicePointWire | None = None


class _CaseWire(_Wire):
    case_id: str = Field(min_length=1)
    tracking_id: str = Field(min_length=1)
    category: CaseCategory
    priority: str
    description: str
    contact_email: str | None = None
    contact_phone: str | None = None
    status: CaseStatus
    created_at: AwareDatetime
    language: str = "en"
    shipment_status: str | None = None
    notes: list[str] = []


class _RefusalWire(_Wire):
    reason: str = Field(min_length=1)
    explanation: str
    details: dict[str, Any] = {}


class _OptionsWire(_Wire):
    options: list[_RedirectOptionWire]


class _CasesWire(_Wire):
    cases: list[_CaseWire]


class _ServicePointsWire(_Wire):
    service_points: list[_ServicePointWire]


class VerificationRequestBody(_Wire):
    """Body of `POST /v1/shipments/{tracking_id}/verification`."""

    postcode: str = Field(description="The recipient's postcode as the customer typed it.")


class RedirectRequestBody(_Wire):
    """Body of `POST /v1/shipments/{tracking_id}/redirects`."""

    option_id: str = Field(description="One of the `option_id`s from `redirect-options`.")


class CaseRequestBody(_Wire):
    """Body of `POST /v1/cases`.

    Description and contact may be empty on the wire: whether a case can do without them is a
    carrier rule (`description_missing`, `contact_missing`), not a schema question.
    """

    tracking_id: str
    category: CaseCategory
    description: str = ""
    contact_email: str | None = None
    contact_phone: str | None = None
    language: str = "en"


# --- helpers ---------------------------------------------------------------------------------


def _describe(error: ValidationError) -> str:
    """Where and what, without the offending values (they may be names, phones, tokens)."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def _validate(model: type[M], raw: object, what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise WireError(f"{what} has the wrong shape: {_describe(exc)}") from None


def _json_safe(value: Any) -> Any:
    """Refusal details are free-form: make sure they survive `json.dumps` with their meaning."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Enum):
        return _json_safe(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [_json_safe(v) for v in value]
    return str(value)


def _list(items: Sequence[T], encode: Callable[[T], dict[str, Any]]) -> list[dict[str, Any]]:
    return [encode(item) for item in items]


# --- service points and redirects ------------------------------------------------------------


def encode_service_point(point: ServicePoint) -> dict[str, Any]:
    """A service point or locker as its wire object."""
    return {
        "id": point.id,
        "type": point.type.value,
        "name": point.name,
        "street": point.street,
        "postcode": point.postcode,
        "city": point.city,
        "country": point.country,
        "opening_hours": point.opening_hours,
    }


def _service_point(wire: _ServicePointWire) -> ServicePoint:
    return ServicePoint(
        id=wire.id,
        type=ServiceType(wire.type),
        name=wire.name,
        street=wire.street,
        postcode=wire.postcode,
        city=wire.city,
        country=wire.country,
        opening_hours=wire.opening_hours,
    )


def decode_service_point(raw: object) -> ServicePoint:
    """A service point from its wire object; raises `WireError`."""
    return _service_point(_validate(_ServicePointWire, raw, "service point"))


def encode_redirect_option(option: RedirectOption) -> dict[str, Any]:
    """One redirect option as its wire object."""
    return {
        "option_id": option.option_id,
        "kind": option.kind.value,
        "service_point": (
            encode_service_point(option.service_point) if option.service_point else None
        ),
        "day": option.day.isoformat() if option.day else None,
        "distance_rank": option.distance_rank,
    }


def _redirect_option(wire: _RedirectOptionWire) -> RedirectOption:
    return RedirectOption(
        option_id=wire.option_id,
        kind=wire.kind,
        service_point=_service_point(wire.service_point) if wire.service_point else None,
        day=wire.day,
        distance_rank=wire.distance_rank,
    )


def decode_redirect_option(raw: object) -> RedirectOption:
    """A redirect option from its wire object; raises `WireError`."""
    return _redirect_option(_validate(_RedirectOptionWire, raw, "redirect option"))


def encode_redirect(redirect: Redirect) -> dict[str, Any]:
    """An applied redirect as its wire object."""
    return {
        "redirect_id": redirect.redirect_id,
        "tracking_id": redirect.tracking_id,
        "option": encode_redirect_option(redirect.option),
        "applied_at": redirect.applied_at.isoformat(),
    }


def _redirect(wire: _RedirectWire) -> Redirect:
    return Redirect(
        redirect_id=wire.redirect_id,
        tracking_id=wire.tracking_id,
        option=_redirect_option(wire.option),
        applied_at=wire.applied_at,
    )


def decode_redirect(raw: object) -> Redirect:
    """An applied redirect from its wire object; raises `WireError`."""
    return _redirect(_validate(_RedirectWire, raw, "redirect"))


def encode_redirect_options(options: Sequence[RedirectOption]) -> dict[str, Any]:
    """The body of `GET .../redirect-options`: `{"options": [...]}`, best first."""
    return {"options": _list(options, encode_redirect_option)}


def decode_redirect_options(raw: object) -> tuple[RedirectOption, ...]:
    """The options of a `redirect-options` body, in the server's order; raises `WireError`."""
    wire = _validate(_OptionsWire, raw, "redirect options")
    return tuple(_redirect_option(o) for o in wire.options)


def encode_service_points(points: Sequence[ServicePoint]) -> dict[str, Any]:
    """The body of `GET /v1/service-points`: `{"service_points": [...]}`."""
    return {"service_points": _list(points, encode_service_point)}


def decode_service_points(raw: object) -> tuple[ServicePoint, ...]:
    """The points of a `service-points` body; raises `WireError`."""
    wire = _validate(_ServicePointsWire, raw, "service points")
    return tuple(_service_point(p) for p in wire.service_points)


# --- verification ----------------------------------------------------------------------------


def encode_verification(verification: Verification) -> dict[str, Any]:
    """A verification (token and expiry) as its wire object."""
    return {
        "tracking_id": verification.tracking_id,
        "token": verification.token,
        "expires_at": verification.expires_at.isoformat(),
    }


def decode_verification(raw: object) -> Verification:
    """A verification from its wire object; raises `WireError`."""
    wire = _validate(_VerificationWire, raw, "verification")
    return Verification(wire.tracking_id, wire.token, wire.expires_at)


# --- shipments -------------------------------------------------------------------------------


def _public_recipient(recipient: Recipient) -> Recipient:
    return recipient.public()


def redact_view(view: ShipmentView) -> ShipmentView:
    """The view without the recipient's personal details unless it is verified (DESIGN §3).

    Args:
        view: A view as a backend produced it.

    Returns:
        The same view when verified; otherwise one whose recipient keeps only city and country.
    """
    if view.verified:
        return view
    shipment = dataclasses.replace(
        view.shipment, recipient=_public_recipient(view.shipment.recipient)
    )
    return dataclasses.replace(view, shipment=shipment)


def _encode_shipment(shipment: Shipment, *, verified: bool) -> dict[str, Any]:
    body = shipment_to_dict(shipment)
    # The seed format keeps minutes; the wire keeps everything, so that a REDIRECTED scan at
    # the clock's exact time reads back as the same instant.
    for raw_event, event in zip(body["events"], shipment.events, strict=True):
        raw_event["at"] = event.at.isoformat()
    if not verified:
        public = shipment.recipient.public()
        body["recipient"] = {
            "city": public.city,
            "country": public.country,
            "region": public.postcode,
        }
    return body


def encode_shipment_view(view: ShipmentView) -> dict[str, Any]:
    """A shipment view as its wire object; personal details only when the view is verified."""
    return {
        "shipment": _encode_shipment(view.shipment, verified=view.verified),
        "verified": view.verified,
        "active_redirect": encode_redirect(view.active_redirect) if view.active_redirect else None,
        "service_point": encode_service_point(view.service_point) if view.service_point else None,
    }


def _decode_shipment(raw: dict[str, Any], *, verified: bool) -> Shipment:
    if verified:
        return _parse_shipment(raw)
    recipient = raw.get("recipient")
    if not isinstance(recipient, dict):
        raise WireError("shipment has the wrong shape: recipient: must be an object")
    city = recipient.get("city")
    city = city if isinstance(city, str) else ""
    # The seed schema requires every recipient field; stand-ins satisfy it and are replaced by
    # the public recipient right after.
    stand_in = {"name": "-", "street": "-", "postcode": "-", "city": city or "-"}
    shipment = _parse_shipment(
        {**raw, "recipient": {**stand_in, "country": recipient.get("country")}}
    )
    region = recipient.get("region")
    public = Recipient(
        name="",
        street="",
        postcode=region if isinstance(region, str) else "",
        city=city,
        country=shipment.recipient.country,
    )
    return dataclasses.replace(shipment, recipient=public)


def _parse_shipment(raw: dict[str, Any]) -> Shipment:
    try:
        return parse_shipment(raw)
    except ValidationError as exc:
        raise WireError(f"shipment has the wrong shape: {_describe(exc)}") from None


def decode_shipment_view(raw: object) -> ShipmentView:
    """A shipment view from its wire object; raises `WireError`.

    An unverified view comes back with the recipient's personal fields empty, whatever the
    server sent.
    """
    wire = _validate(_ShipmentViewWire, raw, "shipment view")
    return ShipmentView(
        shipment=_decode_shipment(wire.shipment, verified=wire.verified),
        verified=wire.verified,
        active_redirect=_redirect(wire.active_redirect) if wire.active_redirect else None,
        service_point=_service_point(wire.service_point) if wire.service_point else None,
    )


# --- cases -----------------------------------------------------------------------------------


def encode_case(case: Case) -> dict[str, Any]:
    """A case as its wire object."""
    return {
        "case_id": case.case_id,
        "tracking_id": case.tracking_id,
        "category": case.category.value,
        "priority": case.priority,
        "description": case.description,
        "contact_email": case.contact_email,
        "contact_phone": case.contact_phone,
        "status": case.status.value,
        "created_at": case.created_at.isoformat(),
        "language": case.language,
        "shipment_status": case.shipment_status,
        "notes": list(case.notes),
    }


def _case(wire: _CaseWire) -> Case:
    return Case(
        case_id=wire.case_id,
        tracking_id=wire.tracking_id,
        category=wire.category,
        priority=wire.priority,
        description=wire.description,
        contact_email=wire.contact_email,
        contact_phone=wire.contact_phone,
        status=wire.status,
        created_at=wire.created_at,
        language=wire.language,
        shipment_status=wire.shipment_status,
        notes=tuple(wire.notes),
    )


def decode_case(raw: object) -> Case:
    """A case from its wire object; raises `WireError`."""
    return _case(_validate(_CaseWire, raw, "case"))


def encode_cases(cases: Sequence[Case]) -> dict[str, Any]:
    """The body of `GET /v1/cases`: `{"cases": [...]}`, newest first."""
    return {"cases": _list(cases, encode_case)}


def decode_cases(raw: object) -> tuple[Case, ...]:
    """The cases of a `GET /v1/cases` body, in the server's order; raises `WireError`."""
    wire = _validate(_CasesWire, raw, "case list")
    return tuple(_case(c) for c in wire.cases)


def encode_case_request(request: CaseRequest) -> dict[str, Any]:
    """The body of `POST /v1/cases`."""
    return {
        "tracking_id": request.tracking_id,
        "category": request.category.value,
        "description": request.description,
        "contact_email": request.contact_email,
        "contact_phone": request.contact_phone,
        "language": request.language,
    }


def decode_case_request(raw: object) -> CaseRequest:
    """A case request from a `POST /v1/cases` body (or a validated `CaseRequestBody`)."""
    body = raw if isinstance(raw, CaseRequestBody) else _validate(CaseRequestBody, raw, "case")
    return CaseRequest(
        tracking_id=body.tracking_id,
        category=body.category,
        description=body.description,
        contact_email=body.contact_email,
        contact_phone=body.contact_phone,
        language=body.language,
    )


# --- refusals --------------------------------------------------------------------------------


def encode_refusal(error: ToolFailed) -> dict[str, Any]:
    """A refusal as its wire object: `{"reason", "explanation", "details"}`."""
    return {
        "reason": error.reason,
        "explanation": error.explanation,
        "details": _json_safe(error.details),
    }


def decode_refusal(raw: object) -> ToolFailed:
    """The `ToolFailed` a refusal body stands for, reason, explanation and details unchanged."""
    wire = _validate(_RefusalWire, raw, "refusal")
    return ToolFailed(wire.reason, wire.explanation, wire.details)
