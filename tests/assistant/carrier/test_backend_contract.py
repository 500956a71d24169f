"""One contract suite for `CarrierBackend`: the in-process simulator and the HTTP adapter.

Both sides run over the same data: the demo seed plus one parcel it lacks (a 17.5 kg home
parcel, for the locker weight limit), a SQLite file of their own per test, and a `FrozenClock`
at 2026-11-23T12:00+01:00 that the test moves. The HTTP side is the real stack:

    HttpCarrierBackend --HTTP on 127.0.0.1--> uvicorn (one per module)
        --> create_carrier_app(proxy) --> the simulator this test built (same clock object)
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from api.carrier_server import build_simulator, create_carrier_app
from assistant.carrier.http import HttpCarrierBackend
from assistant.carrier.seed import Seed, load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import FrozenClock
from assistant.domain import (
    Case,
    CaseCategory,
    CaseRequest,
    CaseStatus,
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
from assistant.ports import CarrierBackend
from assistant.settings import DEMO_SEED, Settings
from assistant.tracking_ids import s10_check_digit

CET = timezone(timedelta(hours=1))
START = datetime(2026, 11, 23, 12, 0, tzinfo=CET)

# Demo seed parcels, picked by what the rules look at (assistant/carrier/seed/shipments.jsonl).
HOME_DK = "RR361920561SE"  # home, DK 8000, 3 kg, INFORMATION_RECEIVED, promised today
HOME_NO = "00794081012582772032"  # home, NO 5003, ACCEPTED
SP_SE = "00742488237435897698"  # service point SE-75320-001, SE 75320
SP_SIGNATURE = "RR687109314DK"  # service point, signature required, SE
HOME_SIGNATURE = "RR703455124NO"  # home, signature required, NO, last scan 9 days ago
STALLED = "RR913544221SE"  # IN_TRANSIT, last scan 2026-11-16
LATE = "00742095842973374446"  # IN_TRANSIT, promised 2026-11-22
DELIVERED = "00752604106995796886"  # DELIVERED today, 1499 DKK
DELIVERED_EARLIER = "RR905677345SE"  # DELIVERED 2026-11-21
DAMAGED = "00744130867726351778"  # DAMAGED_IN_TRANSIT
HEAVY = f"RR20261117{s10_check_digit('20261117')}DK"  # added below: home, 17.5 kg

REDIRECT_REFUSALS = {
    "sender_forbids_redirect": "RR367521973FI",
    "out_for_delivery": "RR149592584DK",
    "already_delivered": DELIVERED,
    "customs_hold": "00796366196126716354",
    "ready_for_pickup": "RR776955364DK",
    "returned_to_sender": "00793531739639041479",
    "damaged_in_transit": DAMAGED,
}


# --- the two backends ------------------------------------------------------------------------


class _Proxy:
    """What the module's server serves: whichever simulator the running test built."""

    def __init__(self) -> None:
        self.target: CarrierBackend | None = None

    def _backend(self) -> CarrierBackend:
        assert self.target is not None, "no simulator behind the server"
        return self.target

    def get_shipment(self, tracking_id: str, verification: str | None = None) -> ShipmentView:
        return self._backend().get_shipment(tracking_id, verification)

    def verify_recipient(self, tracking_id: str, postcode: str) -> Verification:
        return self._backend().verify_recipient(tracking_id, postcode)

    def list_redirect_options(
        self, tracking_id: str, verification: str
    ) -> Sequence[RedirectOption]:
        return self._backend().list_redirect_options(tracking_id, verification)

    def redirect_delivery(
        self, tracking_id: str, option_id: str, verification: str, idempotency_key: str
    ) -> Redirect:
        return self._backend().redirect_delivery(
            tracking_id, option_id, verification, idempotency_key
        )

    def create_case(self, request: CaseRequest, idempotency_key: str) -> Case:
        return self._backend().create_case(request, idempotency_key)

    def get_case(self, case_id: str) -> Case:
        return self._backend().get_case(case_id)

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> Sequence[Case]:
        return self._backend().list_cases(tracking_id, limit)

    def service_points(self, country: str) -> Sequence[ServicePoint]:
        return self._backend().service_points(country)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a background thread."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    # Port 0 lets the OS pick a free port; ask the listening socket which one.
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Seed:
    folder = tmp_path_factory.mktemp("seed")
    (folder / "service_points.jsonl").write_bytes((DEMO_SEED / "service_points.jsonl").read_bytes())
    heavy = {
        "tracking_id": HEAVY,
        "service": "home",
        "sender": {"name": "Jysk", "country": "DK"},
        "recipient": {
            "name": "Søren Holm",
            "street": "Skolevej 3",
            "postcode": "2200",
            "city": "København N",
            "country": "DK",
            "phone": "+4550000001",
            "email": "soren@example.com",
        },
        "service_point_id": None,
        "weight_kg": 17.5,
        "declared_value": {"amount": 1200, "currency": "DKK"},
        "signature_required": False,
        "redirect_allowed": True,
        "promised_date": "2026-11-25",
        "customs": None,
        "events": [
            {
                "at": "2026-11-22T09:00+01:00",
                "code": "ACCEPTED",
                "location": "Jysk",
                "country": "DK",
            }
        ],
    }
    shipments = (DEMO_SEED / "shipments.jsonl").read_text(encoding="utf-8").rstrip("\n")
    (folder / "shipments.jsonl").write_text(
        f"{shipments}\n{json.dumps(heavy, ensure_ascii=False)}\n", encoding="utf-8"
    )
    return load_seed(folder)


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with the store's tables; copying it is faster than creating them per test."""
    path = tmp_path_factory.mktemp("template") / "carrier.db"
    SqlCarrierStore(make_engine(f"sqlite:///{path}")).engine.dispose()
    return path


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, _Proxy]]:
    proxy = _Proxy()
    with serving(create_carrier_app(proxy)) as base_url:
        yield base_url, proxy


@dataclass
class Carrier:
    """The backend under test, its clock, and a way to restart it over the same database."""

    kind: str
    backend: CarrierBackend
    clock: FrozenClock
    seed: Seed
    _restart: Callable[[], CarrierBackend] = field(repr=False)

    def restart(self) -> None:
        self.backend = self._restart()

    def verify(self, tracking_id: str) -> str:
        """A token for the parcel, from the recipient's real postcode."""
        postcode = self.seed.shipments[tracking_id].recipient.postcode
        return self.backend.verify_recipient(tracking_id, postcode).token


@pytest.fixture(params=["simulator", "http"])
def carrier(
    request: pytest.FixtureRequest, seed: Seed, empty_db: Path, tmp_path: Path
) -> Iterator[Carrier]:
    clock = FrozenClock(START)
    engines: list[Engine] = []
    db = tmp_path / "carrier.db"
    shutil.copyfile(empty_db, db)

    def build() -> CarrierSimulator:
        store = SqlCarrierStore(make_engine(f"sqlite:///{db}"))
        engines.append(store.engine)
        return CarrierSimulator(
            seed, cases=store, redirects=store, verifications=store, clock=clock
        )

    try:
        if request.param == "simulator":
            yield Carrier("simulator", build(), clock, seed, build)
            return
        base_url, proxy = request.getfixturevalue("served")
        proxy.target = build()
        with HttpCarrierBackend(base_url, sleep=lambda _s: None) as http:

            def restart() -> CarrierBackend:
                proxy.target = build()
                return http

            yield Carrier("http", http, clock, seed, restart)
        proxy.target = None
    finally:
        for engine in engines:
            engine.dispose()


def refusal(call: Callable[[], object]) -> ToolFailed:
    with pytest.raises(ToolFailed) as caught:
        call()
    return caught.value


def _case_request(
    tracking_id: str, category: CaseCategory = CaseCategory.OTHER, **changes: Any
) -> CaseRequest:
    request = CaseRequest(
        tracking_id=tracking_id,
        category=category,
        description="Kassen var knust",
        contact_email="kunde@example.com",
        language="da",
    )
    return dataclasses.replace(request, **changes)


# --- shipment views --------------------------------------------------------------------------


def test_public_view_has_status_but_no_recipient_details(carrier: Carrier) -> None:
    view = carrier.backend.get_shipment(HOME_DK)
    assert view.verified is False
    assert view.shipment.tracking_id == HOME_DK
    assert view.shipment.status is EventCode.INFORMATION_RECEIVED
    assert view.shipment.service is ServiceType.HOME
    assert view.shipment.last_event.location == "Vinted"
    assert view.shipment.promised_date == date(2026, 11, 23)
    assert view.shipment.recipient.country == "DK"
    recipient = view.shipment.recipient
    # Only the postal region (the postcode's first digit) is public; the postcode is the secret.
    assert (recipient.name, recipient.street, recipient.postcode) == ("", "", "8")
    assert (recipient.phone, recipient.email) == (None, None)


def test_details_after_verification(carrier: Carrier) -> None:
    verification = carrier.backend.verify_recipient(HOME_DK, " 8000 ")
    assert verification.tracking_id == HOME_DK
    assert verification.expires_at > START
    view = carrier.backend.get_shipment(HOME_DK, verification.token)
    assert view.verified is True
    assert view.shipment == carrier.seed.shipments[HOME_DK]
    assert view.shipment.recipient.name == "Ida Larsen"
    assert view.shipment.recipient.email == "ida@example.com"


def test_token_of_another_parcel_does_not_verify(carrier: Carrier) -> None:
    token = carrier.verify(HOME_NO)
    assert carrier.backend.get_shipment(HOME_DK, token).verified is False
    assert carrier.backend.get_shipment(HOME_DK, "made-up-token").verified is False


def test_service_point_parcel_view_names_its_point(carrier: Carrier) -> None:
    view = carrier.backend.get_shipment(SP_SE)
    assert view.service_point == carrier.seed.service_points["SE-75320-001"]
    assert view.active_redirect is None


def test_unknown_tracking_id_is_not_found(carrier: Carrier) -> None:
    backend = carrier.backend
    unknown = "RR123456785DK"
    failure = refusal(lambda: backend.get_shipment(unknown))
    assert failure.reason == "not_found"
    assert failure.details["tracking_id"] == unknown
    for call in (
        lambda: backend.verify_recipient(unknown, "8000"),
        lambda: backend.list_redirect_options(unknown, "token"),
        lambda: backend.redirect_delivery(unknown, "door", "token", "k-unknown"),
        lambda: backend.create_case(_case_request(unknown), "k-unknown-case"),
    ):
        assert refusal(call).reason == "not_found"


def test_mistyped_tracking_id_suggests_the_known_parcel(carrier: Carrier) -> None:
    failure = refusal(lambda: carrier.backend.get_shipment("RR361920651SE"))
    assert failure.reason == "not_found"
    assert failure.details["corrections"] == [HOME_DK]


def test_service_points_by_country(carrier: Carrier) -> None:
    points = carrier.backend.service_points("DK")
    assert points
    assert {p.country for p in points} == {"DK"}
    assert {p.type for p in points} == {ServiceType.SERVICE_POINT, ServiceType.LOCKER}
    assert list(carrier.backend.service_points("XX")) == []


# --- verification ----------------------------------------------------------------------------


def test_postcode_in_wrong_format_is_refused_and_not_counted(carrier: Carrier) -> None:
    for typed in ("12", "50031", "abcd", ""):
        failure = refusal(partial(carrier.backend.verify_recipient, HOME_NO, typed))
        assert failure.reason == "invalid_postcode"
        assert failure.details["country"] == "NO"
    failure = refusal(lambda: carrier.backend.verify_recipient(HOME_NO, "5004"))
    assert failure.reason == "postcode_mismatch"
    assert failure.details == {"attempts_left": 2}


def test_wrong_postcodes_lock_verification_for_15_minutes(carrier: Carrier) -> None:
    backend = carrier.backend
    for left in (2, 1, 0):
        failure = refusal(lambda: backend.verify_recipient(HOME_NO, "5004"))
        assert failure.reason == "postcode_mismatch"
        assert failure.details["attempts_left"] == left
    locked = refusal(lambda: backend.verify_recipient(HOME_NO, "5003"))
    assert locked.reason == "verification_locked"
    locked_until = datetime.fromisoformat(locked.details["locked_until"])

    carrier.clock.advance(timedelta(minutes=14))
    assert refusal(lambda: backend.verify_recipient(HOME_NO, "5003")).reason == (
        "verification_locked"
    )
    carrier.clock.advance(timedelta(minutes=1, seconds=1))
    verification = backend.verify_recipient(HOME_NO, "5003")
    assert verification.tracking_id == HOME_NO
    assert locked_until == START + timedelta(minutes=15)


def test_right_postcode_clears_earlier_failures(carrier: Carrier) -> None:
    backend = carrier.backend
    for _ in range(2):
        refusal(lambda: backend.verify_recipient(HOME_NO, "5004"))
    carrier.verify(HOME_NO)
    assert refusal(lambda: backend.verify_recipient(HOME_NO, "5004")).details == {
        "attempts_left": 2
    }


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "tracking_id"), sorted(REDIRECT_REFUSALS.items()))
def test_redirect_refused_by_status_or_sender(
    carrier: Carrier, reason: str, tracking_id: str
) -> None:
    token = carrier.verify(tracking_id)
    backend = carrier.backend
    listed = refusal(lambda: backend.list_redirect_options(tracking_id, token))
    applied = refusal(lambda: backend.redirect_delivery(tracking_id, "door", token, f"k-{reason}"))
    assert listed.reason == applied.reason == reason
    assert listed.explanation


def test_redirect_refused_when_not_verified(carrier: Carrier) -> None:
    backend = carrier.backend
    for token in ("", "made-up-token", carrier.verify(HOME_NO)):
        listed = refusal(partial(backend.list_redirect_options, HOME_DK, token))
        applied = refusal(partial(backend.redirect_delivery, HOME_DK, "door", token, f"k-{token}"))
        assert listed.reason == applied.reason == "not_verified"


def _kinds(options: Sequence[RedirectOption]) -> set[RedirectKind]:
    return {o.kind for o in options}


def test_home_parcel_gets_points_lockers_door_and_days(carrier: Carrier) -> None:
    options = carrier.backend.list_redirect_options(HOME_DK, carrier.verify(HOME_DK))
    assert _kinds(options) == set(RedirectKind)
    points = [o for o in options if o.kind is RedirectKind.SERVICE_POINT]
    # Aarhus (region 8) has two service points in the demo seed; none from other regions is offered.
    assert [o.distance_rank for o in points] == [0, 1]
    assert all(o.service_point and o.service_point.postcode.startswith("8") for o in points)
    assert points[0].service_point is not None
    assert points[0].service_point.postcode == "8000"  # the recipient's own postcode first
    lockers = [o for o in options if o.kind is RedirectKind.LOCKER]
    assert lockers[0].service_point is not None
    assert lockers[0].service_point.postcode == "8000"
    assert all(o.service_point and o.service_point.country == "DK" for o in points + lockers)
    days = [o.day for o in options if o.kind is RedirectKind.DAY]
    assert days == [date(2026, 11, d) for d in (24, 25, 26, 27, 30)]  # weekend skipped


def test_service_point_parcel_gets_no_door_or_day(carrier: Carrier) -> None:
    options = carrier.backend.list_redirect_options(SP_SE, carrier.verify(SP_SE))
    assert _kinds(options) == {RedirectKind.SERVICE_POINT, RedirectKind.LOCKER}
    assert "sp:SE-75320-001" not in {o.option_id for o in options}  # where it already goes
    assert options[0].service_point is not None
    assert options[0].service_point.id == "SE-75320-002"


def test_signature_required_parcels_get_no_lockers_or_door(carrier: Carrier) -> None:
    home = carrier.backend.list_redirect_options(HOME_SIGNATURE, carrier.verify(HOME_SIGNATURE))
    assert _kinds(home) == {RedirectKind.SERVICE_POINT, RedirectKind.DAY}
    point = carrier.backend.list_redirect_options(SP_SIGNATURE, carrier.verify(SP_SIGNATURE))
    assert _kinds(point) == {RedirectKind.SERVICE_POINT}


def test_parcel_over_15_kg_gets_no_lockers(carrier: Carrier) -> None:
    options = carrier.backend.list_redirect_options(HEAVY, carrier.verify(HEAVY))
    assert _kinds(options) == {RedirectKind.SERVICE_POINT, RedirectKind.DOOR, RedirectKind.DAY}


def test_option_not_offered(carrier: Carrier) -> None:
    token = carrier.verify(SP_SE)
    failure = refusal(lambda: carrier.backend.redirect_delivery(SP_SE, "door", token, "k-door"))
    assert failure.reason == "option_not_offered"
    offered = [o.option_id for o in carrier.backend.list_redirect_options(SP_SE, token)]
    assert failure.details["offered"] == offered


def test_applied_redirect_shows_in_the_shipment_view(carrier: Carrier) -> None:
    backend = carrier.backend
    token = carrier.verify(HOME_DK)
    option = backend.list_redirect_options(HOME_DK, token)[0]
    assert option.service_point is not None
    redirect = backend.redirect_delivery(HOME_DK, option.option_id, token, "k-redirect")
    assert redirect.tracking_id == HOME_DK
    assert redirect.option == option

    view = backend.get_shipment(HOME_DK, token)
    assert view.shipment.status is EventCode.REDIRECTED
    assert view.shipment.last_event.location == option.service_point.name
    assert view.shipment.service is ServiceType.SERVICE_POINT
    assert view.shipment.service_point_id == option.service_point.id
    assert view.service_point == option.service_point
    assert view.active_redirect is not None
    assert view.active_redirect.redirect_id == redirect.redirect_id
    # Still before delivery: it can be changed again, but not to where it already goes.
    again = backend.list_redirect_options(HOME_DK, token)
    assert option.option_id not in {o.option_id for o in again}


def test_day_redirect_moves_the_promised_date(carrier: Carrier) -> None:
    token = carrier.verify(HOME_DK)
    carrier.backend.redirect_delivery(HOME_DK, "day:2026-11-26", token, "k-day")
    view = carrier.backend.get_shipment(HOME_DK, token)
    assert view.shipment.promised_date == date(2026, 11, 26)
    assert view.shipment.service is ServiceType.HOME


def test_same_idempotency_key_makes_one_redirect(carrier: Carrier) -> None:
    backend = carrier.backend
    token = carrier.verify(HOME_DK)
    first = backend.redirect_delivery(HOME_DK, "door", token, "k-once")
    second = backend.redirect_delivery(HOME_DK, "door", token, "k-once")
    assert second.redirect_id == first.redirect_id
    conflict = refusal(
        lambda: backend.redirect_delivery(HOME_DK, "day:2026-11-24", token, "k-once")
    )
    assert conflict.reason == "idempotency_conflict"
    other = refusal(lambda: backend.redirect_delivery(HOME_NO, "door", token, "k-once"))
    assert other.reason == "idempotency_conflict"
    view = backend.get_shipment(HOME_DK, token)
    assert view.active_redirect is not None
    assert view.active_redirect.redirect_id == first.redirect_id
    assert [e.code for e in view.shipment.events].count(EventCode.REDIRECTED) == 1


# --- cases -----------------------------------------------------------------------------------

CASE_RULES = [
    (CaseCategory.DAMAGED, DELIVERED, None),
    (CaseCategory.DAMAGED, DAMAGED, None),
    (CaseCategory.DAMAGED, LATE, "not_eligible_yet"),
    (CaseCategory.DELAYED, LATE, None),
    (CaseCategory.DELAYED, HOME_DK, "not_eligible_yet"),
    (CaseCategory.DELAYED, DELIVERED, "already_delivered"),
    (CaseCategory.LOST, STALLED, None),
    (CaseCategory.LOST, HOME_DK, "not_eligible_yet"),
    (CaseCategory.LOST, DELIVERED, "not_lost"),
    (CaseCategory.MISSING_AFTER_DELIVERY, DELIVERED_EARLIER, None),
    (CaseCategory.MISSING_AFTER_DELIVERY, HOME_DK, "not_eligible_yet"),
    (CaseCategory.OTHER, HOME_DK, None),
]


@pytest.mark.parametrize(
    ("category", "tracking_id", "reason"),
    CASE_RULES,
    ids=[f"{c.value}-{t}-{r or 'ok'}" for c, t, r in CASE_RULES],
)
def test_case_eligibility_per_category(
    carrier: Carrier, category: CaseCategory, tracking_id: str, reason: str | None
) -> None:
    request = _case_request(tracking_id, category)
    if reason is not None:
        assert refusal(lambda: carrier.backend.create_case(request, "k-case")).reason == reason
        assert list(carrier.backend.list_cases(tracking_id)) == []
        return
    case = carrier.backend.create_case(request, "k-case")
    assert (case.tracking_id, case.category, case.status) == (
        tracking_id,
        category,
        CaseStatus.OPEN,
    )
    assert case.description == "Kassen var knust"
    assert case.contact_email == "kunde@example.com"
    assert case.language == "da"
    assert case.shipment_status == carrier.seed.shipments[tracking_id].status.value
    assert case.priority in {"low", "normal", "high"}


def test_not_eligible_yet_says_from_when(carrier: Carrier) -> None:
    delayed = refusal(
        lambda: carrier.backend.create_case(_case_request(HOME_DK, CaseCategory.DELAYED), "k1")
    )
    assert delayed.details["eligible_from"] == "2026-11-24"
    lost = refusal(
        lambda: carrier.backend.create_case(_case_request(HOME_DK, CaseCategory.LOST), "k2")
    )
    assert lost.details["eligible_from"] == "2026-11-25"


def test_missing_after_delivery_only_within_14_days(carrier: Carrier) -> None:
    request = _case_request(DELIVERED_EARLIER, CaseCategory.MISSING_AFTER_DELIVERY)
    carrier.clock.set(datetime(2026, 12, 5, 12, 0, tzinfo=CET))
    assert carrier.backend.create_case(request, "k-day-14").category is (
        CaseCategory.MISSING_AFTER_DELIVERY
    )
    carrier.clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=CET))
    late = refusal(lambda: carrier.backend.create_case(request, "k-day-15"))
    assert late.reason == "too_late"
    assert late.details["deadline"] == "2026-12-05"


def test_case_needs_description_and_contact(carrier: Carrier) -> None:
    backend = carrier.backend
    no_text = _case_request(DELIVERED, CaseCategory.DAMAGED, description="   ")
    assert refusal(lambda: backend.create_case(no_text, "k1")).reason == "description_missing"
    no_contact = _case_request(DELIVERED, CaseCategory.DAMAGED, contact_email=None)
    assert refusal(lambda: backend.create_case(no_contact, "k2")).reason == "contact_missing"
    by_phone = _case_request(
        DELIVERED, CaseCategory.DAMAGED, contact_email=None, contact_phone="+4550432459"
    )
    assert backend.create_case(by_phone, "k3").contact_phone == "+4550432459"


def test_same_idempotency_key_makes_one_case(carrier: Carrier) -> None:
    backend = carrier.backend
    request = _case_request(DELIVERED, CaseCategory.DAMAGED)
    first = backend.create_case(request, "k-case-once")
    assert backend.create_case(request, "k-case-once").case_id == first.case_id
    lost = _case_request(DELIVERED, CaseCategory.LOST)
    assert refusal(lambda: backend.create_case(lost, "k-case-once")).reason == (
        "idempotency_conflict"
    )
    assert [c.case_id for c in backend.list_cases(DELIVERED)] == [first.case_id]


def test_get_and_list_cases(carrier: Carrier) -> None:
    backend = carrier.backend
    older = backend.create_case(_case_request(DELIVERED, CaseCategory.DAMAGED), "k1")
    carrier.clock.advance(timedelta(minutes=5))
    newer = backend.create_case(_case_request(LATE, CaseCategory.DELAYED), "k2")

    fetched = backend.get_case(older.case_id)
    assert dataclasses.replace(fetched, created_at=START) == dataclasses.replace(
        older, created_at=START
    )
    assert [c.case_id for c in backend.list_cases()] == [newer.case_id, older.case_id]
    assert [c.case_id for c in backend.list_cases(limit=1)] == [newer.case_id]
    assert [c.case_id for c in backend.list_cases(LATE)] == [newer.case_id]
    assert list(backend.list_cases(HOME_DK)) == []
    missing = refusal(lambda: backend.get_case("CS-NOSUCH00"))
    assert missing.reason == "case_not_found"


def test_times_read_back_are_the_same_instants(carrier: Carrier) -> None:
    backend = carrier.backend
    case = backend.create_case(_case_request(DELIVERED, CaseCategory.DAMAGED), "k-case")
    token = carrier.verify(HOME_DK)
    backend.redirect_delivery(HOME_DK, "door", token, "k-redirect")
    stored_case = backend.get_case(case.case_id)
    view = backend.get_shipment(HOME_DK, token)
    assert view.active_redirect is not None
    assert stored_case == case
    assert view.active_redirect.applied_at == START
    assert view.shipment.last_event.at == START


# --- persistence -----------------------------------------------------------------------------


def test_redirect_and_case_survive_a_restart(carrier: Carrier) -> None:
    token = carrier.verify(HOME_DK)
    redirect = carrier.backend.redirect_delivery(HOME_DK, "door", token, "k-redirect")
    case = carrier.backend.create_case(_case_request(DELIVERED, CaseCategory.DAMAGED), "k-case")

    carrier.restart()

    backend = carrier.backend
    view = backend.get_shipment(HOME_DK, token)  # tokens are stored too
    assert view.verified is True
    assert view.active_redirect is not None
    assert view.active_redirect.redirect_id == redirect.redirect_id
    assert view.shipment.status is EventCode.REDIRECTED
    assert backend.get_case(case.case_id).case_id == case.case_id
    assert [c.case_id for c in backend.list_cases()] == [case.case_id]
    # Replays after the restart still answer with the first records.
    assert backend.redirect_delivery(HOME_DK, "door", token, "k-redirect").redirect_id == (
        redirect.redirect_id
    )
    replay = backend.create_case(_case_request(DELIVERED, CaseCategory.DAMAGED), "k-case")
    assert replay.case_id == case.case_id


# --- the served app itself (status codes and bodies on the wire) -----------------------------


@pytest.fixture
def wire(served: tuple[str, _Proxy], seed: Seed, tmp_path: Path) -> Iterator[httpx.Client]:
    """A raw HTTP client on the module's server, with a fresh simulator behind it."""
    base_url, proxy = served
    store = SqlCarrierStore(make_engine(f"sqlite:///{tmp_path / 'wire.db'}"))
    proxy.target = CarrierSimulator(
        seed, cases=store, redirects=store, verifications=store, clock=FrozenClock(START)
    )
    with httpx.Client(base_url=base_url, trust_env=False) as client:
        yield client
    proxy.target = None
    store.engine.dispose()


def test_unverified_view_on_the_wire_has_no_personal_details(wire: httpx.Client) -> None:
    response = wire.get(f"/v1/shipments/{HOME_DK}")
    assert response.status_code == 200
    assert response.json()["shipment"]["recipient"] == {
        "city": "Aarhus C",
        "country": "DK",
        "region": "8",
    }
    for secret in ("Ida Larsen", "Jernbanegade", "+4550432459", "ida@example.com"):
        assert secret not in response.text


def test_errors_on_the_wire_have_documented_status_and_body(wire: httpx.Client) -> None:
    def check(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        assert set(body) == {"reason", "explanation", "details"}
        assert body["reason"] == reason
        return body

    check(wire.get("/v1/shipments/RR123456785DK"), 404, "not_found")
    check(wire.get("/v1/cases/CS-NOSUCH00"), 404, "case_not_found")
    check(wire.get("/v1/no-such-thing"), 404, "not_found")
    check(wire.delete("/v1/cases"), 405, "method_not_allowed")
    verify = f"/v1/shipments/{HOME_NO}/verification"
    check(wire.post(verify, json={"postcode": "12"}), 422, "invalid_postcode")
    check(wire.post(verify, json={}), 422, "invalid_request")
    for _ in range(3):
        check(wire.post(verify, json={"postcode": "5004"}), 422, "postcode_mismatch")
    locked = check(wire.post(verify, json={"postcode": "5003"}), 423, "verification_locked")
    assert "locked_until" in locked["details"]

    token = wire.post(f"/v1/shipments/{HOME_DK}/verification", json={"postcode": "8000"}).json()[
        "token"
    ]
    redirects = f"/v1/shipments/{HOME_DK}/redirects"
    headers = {"X-Verification": token, "Idempotency-Key": "k-1"}
    missing_key = wire.post(
        redirects, json={"option_id": "door"}, headers={"X-Verification": token}
    )
    check(missing_key, 422, "invalid_request")
    first = wire.post(redirects, json={"option_id": "door"}, headers=headers)
    assert first.status_code == 201
    replay = wire.post(redirects, json={"option_id": "door"}, headers=headers)
    assert replay.status_code == 201
    assert replay.json()["redirect_id"] == first.json()["redirect_id"]
    check(
        wire.post(redirects, json={"option_id": "day:2026-11-24"}, headers=headers),
        409,
        ("idempotency_conflict"),
    )
    body = {"tracking_id": HOME_DK, "category": "stolen", "description": "x"}
    check(
        wire.post("/v1/cases", json=body, headers={"Idempotency-Key": "k"}),
        422,
        ("invalid_request"),
    )
    check(wire.get("/v1/cases", params={"limit": -1}), 422, "invalid_request")
    assert wire.get("/healthz").json() == {"status": "ok"}


def test_crash_in_the_backend_is_a_500_without_a_trace(
    served: tuple[str, _Proxy], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, proxy = served
    proxy.target = None  # the proxy's assertion stands in for a bug in a backend
    with httpx.Client(base_url=base_url, trust_env=False) as client:
        response = client.get(f"/v1/shipments/{HOME_DK}")
    assert response.status_code == 500
    assert response.json()["reason"] == "internal_error"
    assert "Traceback" not in response.text
    assert "AssertionError" not in response.text
    with HttpCarrierBackend(base_url, retries=0) as http:
        failure = refusal(lambda: http.get_shipment(HOME_DK))
    assert failure.reason == "backend_unavailable"


def test_served_app_with_keys_needs_the_right_bearer_key(seed: Seed, tmp_path: Path) -> None:
    store = SqlCarrierStore(make_engine(f"sqlite:///{tmp_path / 'keys.db'}"))
    simulator = CarrierSimulator(
        seed, cases=store, redirects=store, verifications=store, clock=FrozenClock(START)
    )
    try:
        with serving(create_carrier_app(simulator, ["key-a", "key-b"])) as base_url:
            raw = httpx.get(f"{base_url}/v1/service-points?country=DK", trust_env=False)
            assert raw.status_code == 401
            assert raw.headers["www-authenticate"] == "Bearer"
            assert raw.json()["reason"] == "unauthorized"
            assert httpx.get(f"{base_url}/healthz", trust_env=False).status_code == 200
            for key in (None, "key-c", "KEY-A"):
                with HttpCarrierBackend(base_url, api_key=key) as http:
                    failure = refusal(partial(http.service_points, "DK"))
                    assert failure.reason == "backend_unauthorized"
            with HttpCarrierBackend(base_url, api_key="key-b") as http:
                assert http.service_points("DK") == simulator.service_points("DK")
                assert http.get_shipment(HOME_DK).shipment.tracking_id == HOME_DK
    finally:
        store.engine.dispose()


def test_build_simulator_follows_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", now=START, verify_max_attempts=2)
    simulator = build_simulator(settings)
    assert (tmp_path / "data" / "budbringer.db").exists()
    failure = refusal(lambda: simulator.verify_recipient(HOME_NO, "5004"))
    assert failure.details == {"attempts_left": 1}
    verification = simulator.verify_recipient(HOME_DK, "8000")
    assert verification.expires_at == START + timedelta(minutes=30)
    assert HEAVY not in load_seed(settings.carrier_seed).shipments  # the demo seed itself
