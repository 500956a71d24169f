"""The embedded carrier: a `CarrierBackend` over a seed folder, enforcing DESIGN §3.

Shipments come from the seed and never change on disk; what the simulator does to them
(redirects, cases, verification attempts) goes to the SQL store in the data dir, so it survives
a restart and is shared by every worker of one deployment.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta

from assistant.carrier import rules
from assistant.carrier.codec import redact_view
from assistant.carrier.seed import Seed
from assistant.clock import Clock
from assistant.domain import (
    Case,
    CaseRequest,
    CaseStatus,
    Event,
    EventCode,
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
from assistant.ports import CaseStore, RedirectStore, VerificationStore
from assistant.tracking_ids import find_tracking_ids

__all__ = ["CarrierSimulator"]

_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _new_id(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class CarrierSimulator:
    """An in-process carrier that behaves like the real one: same rules, same refusals."""

    def __init__(
        self,
        seed: Seed,
        *,
        cases: CaseStore,
        redirects: RedirectStore,
        verifications: VerificationStore,
        clock: Clock,
        max_attempts: int = 3,
        lock_minutes: int = 15,
        verification_ttl: timedelta = timedelta(minutes=30),
        new_id: Callable[[str], str] = _new_id,
    ) -> None:
        self._seed = seed
        self._cases = cases
        self._redirects = redirects
        self._verifications = verifications
        self._clock = clock
        self._max_attempts = max_attempts
        self._lock = timedelta(minutes=lock_minutes)
        self._ttl = verification_ttl
        self._new_id = new_id
        self._points_by_country: dict[str, list[ServicePoint]] = {}
        for point in seed.service_points.values():
            self._points_by_country.setdefault(point.country, []).append(point)

    # --- lookups ---------------------------------------------------------------------------
    def _base(self, tracking_id: str) -> Shipment:
        shipment = self._seed.shipments.get(tracking_id)
        if shipment is None:
            matches = find_tracking_ids(tracking_id)
            details: dict[str, object] = {"tracking_id": tracking_id}
            if matches and not matches[0].valid and matches[0].kind != "foreign":
                details["corrections"] = [
                    c for c in matches[0].corrections if c in self._seed.shipments
                ]
            raise ToolFailed("not_found", f"no parcel with tracking id {tracking_id}", details)
        return shipment

    def _effective(self, tracking_id: str) -> tuple[Shipment, Redirect | None]:
        shipment = self._base(tracking_id)
        redirect = self._redirects.latest_redirect(tracking_id)
        if redirect is None:
            return shipment, None
        return _apply(shipment, redirect), redirect

    def _verified(self, tracking_id: str, token: str | None) -> bool:
        if not token:
            return False
        verification = self._verifications.get_verification(token)
        return (
            verification is not None
            and verification.tracking_id == tracking_id
            and verification.expires_at > self._clock.now()
        )

    def get_shipment(self, tracking_id: str, verification: str | None = None) -> ShipmentView:
        shipment, redirect = self._effective(tracking_id)
        point = self._seed.service_points.get(shipment.service_point_id or "")
        view = ShipmentView(
            shipment=shipment,
            verified=self._verified(tracking_id, verification),
            active_redirect=redirect,
            service_point=point,
        )
        return redact_view(view)

    def service_points(self, country: str) -> Sequence[ServicePoint]:
        return tuple(self._points_by_country.get(country, ()))

    # --- verification ----------------------------------------------------------------------
    def verify_recipient(self, tracking_id: str, postcode: str) -> Verification:
        shipment = self._base(tracking_id)
        now = self._clock.now()
        recent = list(self._verifications.failures_since(tracking_id, now - self._lock))
        if len(recent) >= self._max_attempts:
            locked_until = recent[-self._max_attempts] + self._lock
            raise ToolFailed(
                "verification_locked",
                f"too many wrong postcodes for this parcel; try again after {locked_until.isoformat(timespec='minutes')}",
                {"locked_until": locked_until.isoformat(timespec="seconds")},
            )
        given = rules.normalize_postcode(postcode, shipment.recipient.country)
        if given != rules.normalize_postcode(
            shipment.recipient.postcode, shipment.recipient.country
        ):
            self._verifications.record_failure(tracking_id, now)
            left = self._max_attempts - len(recent) - 1
            details: dict[str, object] = {"attempts_left": left}
            if left <= 0:
                # This miss locks changes: say until when, so the customer is not told to try again.
                locked_until = [*recent, now][-self._max_attempts] + self._lock
                details["locked_until"] = locked_until.isoformat(timespec="seconds")
            raise ToolFailed(
                "postcode_mismatch", "that postcode does not match the recipient's address", details
            )
        self._verifications.clear_failures(tracking_id)
        verification = Verification(tracking_id, secrets.token_urlsafe(24), now + self._ttl)
        self._verifications.save_verification(verification)
        return verification

    # --- redirects -------------------------------------------------------------------------
    def list_redirect_options(
        self, tracking_id: str, verification: str
    ) -> Sequence[RedirectOption]:
        shipment, _ = self._effective(tracking_id)
        refusal = rules.redirect_refusal(
            shipment, verified=self._verified(tracking_id, verification)
        )
        if refusal:
            raise refusal
        options = rules.redirect_options(
            shipment, self.service_points(shipment.recipient.country), self._clock.now()
        )
        if not options:
            raise ToolFailed("no_options", "this parcel has no other delivery options")
        return options

    def redirect_delivery(
        self, tracking_id: str, option_id: str, verification: str, idempotency_key: str
    ) -> Redirect:
        replay = self._redirects.redirect_by_key(idempotency_key)
        if replay is not None:
            if replay.tracking_id != tracking_id or replay.option.option_id != option_id:
                raise ToolFailed(
                    "idempotency_conflict",
                    "this request key was already used for a different change",
                )
            return replay
        option = rules.option_by_id(
            self.list_redirect_options(tracking_id, verification), option_id
        )
        redirect = Redirect(self._new_id("RD"), tracking_id, option, self._clock.now())
        return self._redirects.add_redirect(redirect, idempotency_key)

    # --- cases -----------------------------------------------------------------------------
    def create_case(self, request: CaseRequest, idempotency_key: str) -> Case:
        replay = self._cases.case_by_key(idempotency_key)
        if replay is not None:
            if replay.tracking_id != request.tracking_id or replay.category != request.category:
                raise ToolFailed(
                    "idempotency_conflict", "this request key was already used for a different case"
                )
            return replay
        shipment, _ = self._effective(request.tracking_id)
        if not request.description.strip():
            raise ToolFailed(
                "description_missing", "a case needs a short description of what happened"
            )
        if not (request.contact_email or request.contact_phone):
            raise ToolFailed("contact_missing", "a case needs an email address or a phone number")
        refusal = rules.case_refusal(shipment, request.category, self._clock.now())
        if refusal:
            raise refusal
        case = Case(
            case_id=self._new_id("CS"),
            tracking_id=request.tracking_id,
            category=request.category,
            priority=rules.case_priority(shipment, request.category),
            description=request.description.strip(),
            contact_email=request.contact_email,
            contact_phone=request.contact_phone,
            status=CaseStatus.OPEN,
            created_at=self._clock.now(),
            language=request.language,
            shipment_status=shipment.status.value,
        )
        return self._cases.add_case(case, idempotency_key)

    def get_case(self, case_id: str) -> Case:
        case = self._cases.get_case(case_id)
        if case is None:
            raise ToolFailed("case_not_found", f"no case with id {case_id}")
        return case

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> Sequence[Case]:
        return self._cases.list_cases(tracking_id, limit)


def _apply(shipment: Shipment, redirect: Redirect) -> Shipment:
    """The shipment as it stands after a redirect: new destination or day, plus a REDIRECTED scan."""
    option = redirect.option
    changes: dict[str, object] = {}
    location = "Budbringer"
    if option.kind in (RedirectKind.SERVICE_POINT, RedirectKind.LOCKER) and option.service_point:
        changes["service"] = (
            ServiceType.LOCKER if option.kind is RedirectKind.LOCKER else ServiceType.SERVICE_POINT
        )
        changes["service_point_id"] = option.service_point.id
        location = option.service_point.name
    elif option.kind is RedirectKind.DAY and option.day:
        changes["promised_date"] = option.day
    event = Event(
        at=max(redirect.applied_at, shipment.last_event.at),
        code=EventCode.REDIRECTED,
        location=location,
        country=shipment.recipient.country,
    )
    changes["events"] = (*shipment.events, event)
    return dataclasses.replace(shipment, **changes)  # type: ignore[arg-type]
