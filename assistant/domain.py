"""Domain values of the carrier world: frozen dataclasses, no I/O (STYLE rule 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

__all__ = [
    "COUNTRY_CURRENCY",
    "COUNTRY_TIMEZONE",
    "PRE_DELIVERY_CODES",
    "Case",
    "CaseCategory",
    "CaseRequest",
    "CaseStatus",
    "Customs",
    "Event",
    "EventCode",
    "Money",
    "Party",
    "Recipient",
    "Redirect",
    "RedirectKind",
    "RedirectOption",
    "ServicePoint",
    "ServiceType",
    "Shipment",
    "ShipmentView",
    "Verification",
]

COUNTRY_TIMEZONE = {
    "DK": "Europe/Copenhagen",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "FI": "Europe/Helsinki",
}
COUNTRY_CURRENCY = {"DK": "DKK", "SE": "SEK", "NO": "NOK", "FI": "EUR"}


class ServiceType(StrEnum):
    HOME = "home"
    SERVICE_POINT = "service_point"
    LOCKER = "locker"


class EventCode(StrEnum):
    INFORMATION_RECEIVED = "INFORMATION_RECEIVED"
    ACCEPTED = "ACCEPTED"
    IN_TRANSIT = "IN_TRANSIT"
    ARRIVED_AT_TERMINAL = "ARRIVED_AT_TERMINAL"
    CUSTOMS_HOLD = "CUSTOMS_HOLD"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    DELIVERED = "DELIVERED"
    RETURNED_TO_SENDER = "RETURNED_TO_SENDER"
    DAMAGED_IN_TRANSIT = "DAMAGED_IN_TRANSIT"
    REDIRECTED = "REDIRECTED"


# A redirect is possible only while the parcel is in one of these states (DESIGN §3).
PRE_DELIVERY_CODES = frozenset(
    {
        EventCode.INFORMATION_RECEIVED,
        EventCode.ACCEPTED,
        EventCode.IN_TRANSIT,
        EventCode.ARRIVED_AT_TERMINAL,
        EventCode.REDIRECTED,
    }
)


class CaseCategory(StrEnum):
    DAMAGED = "damaged"
    MISSING_AFTER_DELIVERY = "missing_after_delivery"
    DELAYED = "delayed"
    LOST = "lost"
    WRONG_DELIVERY = "wrong_delivery"
    OTHER = "other"


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class RedirectKind(StrEnum):
    SERVICE_POINT = "service_point"
    LOCKER = "locker"
    DOOR = "door"
    DAY = "day"


@dataclass(frozen=True)
class Money:
    amount: float
    currency: str


@dataclass(frozen=True)
class Party:
    name: str
    country: str


@dataclass(frozen=True)
class Recipient:
    name: str
    street: str
    postcode: str
    city: str
    country: str
    phone: str | None = None
    email: str | None = None

    def public(self) -> Recipient:
        """What anyone with the tracking id may know: country, city and the postal region.

        The region (the postcode's first digit) feeds the ETA model; the full postcode stays
        secret because it is what verification asks for.
        """
        return Recipient(
            name="", street="", postcode=self.postcode[:1], city=self.city, country=self.country
        )


@dataclass(frozen=True)
class Event:
    at: datetime
    code: EventCode
    location: str
    country: str


@dataclass(frozen=True)
class Customs:
    status: str  # awaiting_payment | paid | cleared
    amount_due: Money | None = None


@dataclass(frozen=True)
class ServicePoint:
    id: str
    type: ServiceType
    name: str
    street: str
    postcode: str
    city: str
    country: str
    opening_hours: str


@dataclass(frozen=True)
class Shipment:
    tracking_id: str
    service: ServiceType
    sender: Party
    recipient: Recipient
    service_point_id: str | None
    weight_kg: float
    declared_value: Money
    signature_required: bool
    redirect_allowed: bool
    promised_date: date | None
    customs: Customs | None
    events: tuple[Event, ...]

    @property
    def last_event(self) -> Event:
        return self.events[-1]

    @property
    def status(self) -> EventCode:
        return self.events[-1].code


@dataclass(frozen=True)
class Redirect:
    """A change of delivery the carrier has applied."""

    redirect_id: str
    tracking_id: str
    option: RedirectOption
    applied_at: datetime


@dataclass(frozen=True)
class RedirectOption:
    """One way this parcel may still be delivered; `option_id` is stable for a shipment."""

    option_id: str
    kind: RedirectKind
    service_point: ServicePoint | None = None
    day: date | None = None
    distance_rank: int = 0


@dataclass(frozen=True)
class Verification:
    """Proof that the customer knows the recipient's postcode; opens details and changes."""

    tracking_id: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ShipmentView:
    """What a caller may see: the public part always, personal details only once verified."""

    shipment: Shipment
    verified: bool
    active_redirect: Redirect | None = None
    service_point: ServicePoint | None = None


@dataclass(frozen=True)
class CaseRequest:
    tracking_id: str
    category: CaseCategory
    description: str
    contact_email: str | None = None
    contact_phone: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class Case:
    case_id: str
    tracking_id: str
    category: CaseCategory
    priority: str  # low | normal | high
    description: str
    contact_email: str | None
    contact_phone: str | None
    status: CaseStatus
    created_at: datetime
    language: str = "en"
    shipment_status: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
