"""Carrier tools: typed arguments, typed results, refusals as `ToolFailed` (DESIGN §3, §5).

Each tool's docstring is the prompt a language model sees (STYLE rule 10). Verification tokens
and idempotency keys are never model-visible arguments: the flow engine passes them in.
`CarrierTools.run` is the one entry point used by the flows; it records every call as an
`Action` for `Turn.actions`, with `ok=False` and a stable `result.reason` on refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.carrier.codec import encode_redirect_option
from assistant.carrier.rules import delivered_at, local_date, redirect_refusal
from assistant.clock import Clock
from assistant.domain import (
    CaseCategory,
    CaseRequest,
    EventCode,
    RedirectOption,
    ServiceType,
    ShipmentView,
)
from assistant.errors import ToolFailed
from assistant.injection import safe_label
from assistant.ports import CarrierBackend, EtaPredictor
from assistant.tracking_ids import find_tracking_ids

__all__ = [
    "Action",
    "CarrierTools",
    "CreateCaseArgs",
    "ListRedirectOptionsArgs",
    "PredictEtaArgs",
    "RedirectDeliveryArgs",
    "ShipmentStatusArgs",
    "VerifyRecipientArgs",
]

PICKUP_DAYS = {ServiceType.SERVICE_POINT: 7, ServiceType.LOCKER: 3}  # knowledge/facts.yaml: pickup
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def _normalise_tracking_id(value: str) -> str:
    matches = find_tracking_ids(value)
    if not matches:
        raise ValueError(
            f"{value!r} does not look like a tracking id (AA123456789SE or 00 + 18 digits)"
        )
    match = matches[0]
    if match.kind == "foreign":
        raise ValueError(f"{match.normalized} looks like a {match.carrier} tracking id, not ours")
    if not match.valid:
        hint = f"; did you mean {match.suggestion}?" if match.suggestion else ""
        raise ValueError(f"{match.normalized} has a wrong check digit{hint}")
    return match.normalized


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ShipmentStatusArgs(_Args):
    tracking_id: str = Field(description="The parcel's tracking id, as the customer gave it.")

    _tracking = field_validator("tracking_id")(_normalise_tracking_id)


class VerifyRecipientArgs(ShipmentStatusArgs):
    postcode: str = Field(min_length=3, max_length=10, description="The recipient's postcode.")


class PredictEtaArgs(ShipmentStatusArgs):
    pass


class ListRedirectOptionsArgs(ShipmentStatusArgs):
    pass


class RedirectDeliveryArgs(ShipmentStatusArgs):
    option_id: str = Field(
        min_length=1, max_length=60, description="An option_id from list_redirect_options."
    )


class CreateCaseArgs(ShipmentStatusArgs):
    category: CaseCategory
    description: str = Field(
        min_length=3, max_length=2000, description="What happened, in the customer's words."
    )
    contact_email: str | None = Field(default=None, max_length=320)
    contact_phone: str | None = Field(default=None, max_length=40)
    language: str = Field(default="en", pattern=r"^(da|sv|nb|fi|en)$")

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not is_email(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return normalise_phone(value)


def is_email(value: str) -> bool:
    """Whether `value` is shaped like an email address (one @, a dot in the domain)."""
    return _EMAIL.match(value) is not None


def normalise_phone(value: str, default_region: str = "DK") -> str:
    """E.164 form of a Nordic (or international) phone number; `ValueError` if it is not one."""
    try:
        number = phonenumbers.parse(
            value, None if value.strip().startswith("+") else default_region
        )
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Action(BaseModel):
    """One tool call as it appears in `Turn.actions`."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any]
    # What the flow keeps but the customer never sees (a verification token): result keys
    # starting with "_" land here and are left out of every serialisation.
    private: dict[str, Any] = Field(default_factory=dict, exclude=True)


def _event(view: ShipmentView) -> dict[str, Any]:
    last = view.shipment.last_event
    return {
        "at": last.at.isoformat(),
        "code": last.code.value,
        # Free text someone else wrote (a sender, a depot system): only the place name in it.
        "location": safe_label(last.location) or last.country,
        "country": last.country,
    }


class CarrierTools:
    """The carrier tools over a `CarrierBackend`, an ETA model and the clock."""

    def __init__(self, backend: CarrierBackend, eta: EtaPredictor, clock: Clock) -> None:
        self._backend = backend
        self._eta = eta
        self._clock = clock
        self._tools: dict[str, tuple[type[_Args], Callable[..., dict[str, Any]]]] = {
            "get_shipment_status": (ShipmentStatusArgs, self.get_shipment_status),
            "verify_recipient": (VerifyRecipientArgs, self.verify_recipient),
            "predict_eta": (PredictEtaArgs, self.predict_eta),
            "list_redirect_options": (ListRedirectOptionsArgs, self.list_redirect_options),
            "redirect_delivery": (RedirectDeliveryArgs, self.redirect_delivery),
            "create_case": (CreateCaseArgs, self.create_case),
        }

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def schema(self, name: str) -> dict[str, Any]:
        """The JSON schema of a tool's arguments, with its docstring as description."""
        args_model, function = self._tools[name]
        return {
            "name": name,
            "description": (function.__doc__ or "").strip(),
            "parameters": args_model.model_json_schema(),
        }

    def run(self, name: str, arguments: dict[str, Any], **context: Any) -> Action:
        """Validate `arguments`, call the tool, and record the outcome; never raises `ToolFailed`."""
        if name not in self._tools:
            failure = ToolFailed("unknown_tool", f"there is no tool called {name!r}")
            return Action(tool=name, arguments=arguments, ok=False, result=failure.as_result())
        args_model, function = self._tools[name]
        try:
            args = args_model.model_validate(arguments)
        except ValidationError as exc:
            messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            failure = ToolFailed("invalid_arguments", messages)
            return Action(tool=name, arguments=arguments, ok=False, result=failure.as_result())
        try:
            result = function(args, **context)
        except ToolFailed as exc:
            return Action(
                tool=name, arguments=args.model_dump(mode="json"), ok=False, result=exc.as_result()
            )
        private = {k.lstrip("_"): result.pop(k) for k in [k for k in result if k.startswith("_")]}
        return Action(
            tool=name, arguments=args.model_dump(), ok=True, result=result, private=private
        )

    def existing(self, tracking_ids: list[str]) -> list[str]:
        """Which of these ids the carrier knows (to suggest the one a typo came from)."""
        found = []
        for tracking_id in tracking_ids[:25]:
            try:
                self._backend.get_shipment(tracking_id)
            except ToolFailed:
                continue
            found.append(tracking_id)
        return found

    # --- tools -----------------------------------------------------------------------------
    def get_shipment_status(
        self, args: ShipmentStatusArgs, verification: str | None = None
    ) -> dict[str, Any]:
        """Look up a parcel: status, last scan, service, promised date, customs, what happens next.

        Names and addresses are included only after the recipient's postcode was verified.

        Args:
            tracking_id: The parcel's tracking id.
        """
        view = self._backend.get_shipment(args.tracking_id, verification)
        shipment = view.shipment
        country = shipment.recipient.country
        refusal = redirect_refusal(shipment, verified=True)
        result: dict[str, Any] = {
            "tracking_id": shipment.tracking_id,
            "status": shipment.status.value,
            "last_event": _event(view),
            "service": shipment.service.value,
            "destination_country": country,
            "sender": safe_label(shipment.sender.name) or "",
            "promised_date": shipment.promised_date.isoformat() if shipment.promised_date else None,
            "signature_required": shipment.signature_required,
            "redirect_possible": refusal is None,
            "redirect_refusal": refusal.reason if refusal else None,
            "verified": view.verified,
            "customs": None,
            "pickup_deadline": None,
            "service_point": None,
            "days_since_last_scan": (self._clock.now() - shipment.last_event.at).days,
            "delivered_at": delivered.isoformat()
            if (delivered := delivered_at(shipment))
            else None,
            "damaged_in_transit": any(
                e.code is EventCode.DAMAGED_IN_TRANSIT for e in shipment.events
            ),
            # The handoff policy compares it with the value limit (assistant/handoff/triggers.py).
            "declared_value": {
                "amount": shipment.declared_value.amount,
                "currency": shipment.declared_value.currency,
            },
        }
        if shipment.customs:
            due = shipment.customs.amount_due
            result["customs"] = {
                "status": shipment.customs.status,
                "amount_due": {"amount": due.amount, "currency": due.currency} if due else None,
            }
        if view.service_point:
            point = view.service_point
            result["service_point"] = {
                "id": point.id,
                "name": point.name,
                "street": point.street,
                "postcode": point.postcode,
                "city": point.city,
                "opening_hours": point.opening_hours,
                "type": point.type.value,
            }
        if shipment.status is EventCode.AVAILABLE_FOR_PICKUP and shipment.service in PICKUP_DAYS:
            arrived = local_date(shipment.last_event.at, country)
            result["pickup_deadline"] = (
                arrived + timedelta(days=PICKUP_DAYS[shipment.service])
            ).isoformat()
        if view.verified:
            r = shipment.recipient
            result["recipient"] = {
                "name": r.name,
                "street": r.street,
                "postcode": r.postcode,
                "city": r.city,
                "phone": r.phone,
                "email": r.email,
            }
        return result

    def verify_recipient(self, args: VerifyRecipientArgs) -> dict[str, Any]:
        """Check the recipient's postcode; opens personal details and changes for this parcel.

        After 3 wrong postcodes within 15 minutes the parcel is locked for verification.

        Args:
            tracking_id: The parcel's tracking id.
            postcode: The recipient's postcode as the customer gave it.
        """
        verification = self._backend.verify_recipient(args.tracking_id, args.postcode)
        return {
            "verified": True,
            "expires_at": verification.expires_at.isoformat(),
            "_token": verification.token,
        }

    def predict_eta(self, args: PredictEtaArgs) -> dict[str, Any]:
        """Predict when the parcel arrives: most likely date, an 80% interval, chance of being on time.

        Args:
            tracking_id: The parcel's tracking id.
        """
        shipment = self._backend.get_shipment(args.tracking_id).shipment
        prediction = self._eta.predict(shipment, self._clock.now())
        return {
            "most_likely": prediction.most_likely.isoformat(),
            "earliest": prediction.earliest.isoformat(),
            "latest": prediction.latest.isoformat(),
            "p_by_promised": None
            if prediction.p_by_promised is None
            else round(prediction.p_by_promised, 2),
            "promised_date": shipment.promised_date.isoformat() if shipment.promised_date else None,
            "window_start": prediction.window_start.isoformat()
            if prediction.window_start
            else None,
            "window_end": prediction.window_end.isoformat() if prediction.window_end else None,
        }

    def list_redirect_options(
        self, args: ListRedirectOptionsArgs, verification: str = ""
    ) -> dict[str, Any]:
        """The ways this parcel may still be delivered: nearest service points and lockers, the door, other days.

        Needs a verified recipient. Only options this parcel allows are listed.

        Args:
            tracking_id: The parcel's tracking id.
        """
        options = self._backend.list_redirect_options(args.tracking_id, verification)
        return {"options": [option_to_dict(o) for o in options]}

    def redirect_delivery(
        self, args: RedirectDeliveryArgs, verification: str = "", idempotency_key: str = ""
    ) -> dict[str, Any]:
        """Change the delivery to one of the offered options. Runs only after the customer confirmed.

        Args:
            tracking_id: The parcel's tracking id.
            option_id: One of the option ids that list_redirect_options returned.
        """
        if not idempotency_key:
            raise ToolFailed("idempotency_key_missing", "a change needs an idempotency key")
        redirect = self._backend.redirect_delivery(
            args.tracking_id, args.option_id, verification, idempotency_key
        )
        return {
            "redirect_id": redirect.redirect_id,
            "tracking_id": redirect.tracking_id,
            "option": option_to_dict(redirect.option),
            "applied_at": redirect.applied_at.isoformat(),
        }

    def create_case(self, args: CreateCaseArgs, idempotency_key: str = "") -> dict[str, Any]:
        """Open a complaint case for a parcel. Runs only after the customer confirmed.

        Args:
            tracking_id: The parcel's tracking id.
            category: damaged, missing_after_delivery, delayed, lost, wrong_delivery or other.
            description: What happened, in the customer's words.
            contact_email: Where we answer, if by email.
            contact_phone: Where we answer, if by phone.
            language: The customer's language.
        """
        if not idempotency_key:
            raise ToolFailed("idempotency_key_missing", "a case needs an idempotency key")
        case = self._backend.create_case(
            CaseRequest(
                tracking_id=args.tracking_id,
                category=args.category,
                description=args.description,
                contact_email=args.contact_email,
                contact_phone=args.contact_phone,
                language=args.language,
            ),
            idempotency_key,
        )
        return {
            "case_id": case.case_id,
            "tracking_id": case.tracking_id,
            "category": case.category.value,
            "priority": case.priority,
            "status": case.status.value,
            "created_at": case.created_at.isoformat(),
            "answer_within_working_days": 5,
        }


def option_to_dict(option: RedirectOption) -> dict[str, Any]:
    """A redirect option as a tool result: the carrier wire shape (one codec for both)."""
    return encode_redirect_option(option)
