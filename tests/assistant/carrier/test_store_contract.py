"""One suite for the carrier stores: in-memory twin, SQLite, and PostgreSQL when it is there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from assistant.carrier.memory import InMemoryCarrierStore
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.domain import (
    Case,
    CaseCategory,
    CaseStatus,
    Redirect,
    RedirectKind,
    RedirectOption,
    ServicePoint,
    ServiceType,
    Verification,
)

T0 = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
POINT = ServicePoint(
    "DK-8000-001",
    ServiceType.SERVICE_POINT,
    "Netto",
    "Skolevej 1",
    "8000",
    "Aarhus C",
    "DK",
    "Mon-Sun 08-22",
)


def _case(case_id: str, tracking_id: str = "RR361920561SE", at: datetime = T0) -> Case:
    return Case(
        case_id=case_id,
        tracking_id=tracking_id,
        category=CaseCategory.DAMAGED,
        priority="normal",
        description="box crushed",
        contact_email="ida@example.com",
        contact_phone=None,
        status=CaseStatus.OPEN,
        created_at=at,
        language="da",
        shipment_status="DELIVERED",
    )


def _redirect(
    redirect_id: str, at: datetime = T0, option: RedirectOption | None = None
) -> Redirect:
    option = option or RedirectOption(
        "sp:DK-8000-001", RedirectKind.SERVICE_POINT, service_point=POINT
    )
    return Redirect(redirect_id, "RR361920561SE", option, at)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[InMemoryCarrierStore | SqlCarrierStore]:
    if request.param == "memory":
        yield InMemoryCarrierStore()
        return
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'carrier.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
    sql = SqlCarrierStore(engine)
    yield sql
    _wipe(engine)


def _wipe(engine: Engine) -> None:
    from assistant.carrier.store import metadata

    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


def test_case_round_trip(store: InMemoryCarrierStore | SqlCarrierStore) -> None:
    stored = store.add_case(_case("CS-1"), "key-1")
    assert stored == _case("CS-1")
    assert store.get_case("CS-1") == _case("CS-1")
    assert store.case_by_key("key-1") == _case("CS-1")
    assert store.get_case("CS-unknown") is None


def test_same_case_key_returns_first_case(store: InMemoryCarrierStore | SqlCarrierStore) -> None:
    store.add_case(_case("CS-1"), "key-1")
    again = store.add_case(_case("CS-2"), "key-1")
    assert again.case_id == "CS-1"
    assert [c.case_id for c in store.list_cases()] == ["CS-1"]


def test_cases_listed_newest_first_and_filtered(
    store: InMemoryCarrierStore | SqlCarrierStore,
) -> None:
    store.add_case(_case("CS-1", at=T0), "k1")
    store.add_case(_case("CS-2", at=T0 + timedelta(hours=1)), "k2")
    store.add_case(
        _case("CS-3", tracking_id="00742488237435897698", at=T0 + timedelta(hours=2)), "k3"
    )
    assert [c.case_id for c in store.list_cases()] == ["CS-3", "CS-2", "CS-1"]
    assert [c.case_id for c in store.list_cases(tracking_id="RR361920561SE")] == ["CS-2", "CS-1"]
    assert [c.case_id for c in store.list_cases(limit=1)] == ["CS-3"]


def test_redirect_round_trip_and_latest(store: InMemoryCarrierStore | SqlCarrierStore) -> None:
    first = _redirect("RD-1", T0)
    later = _redirect(
        "RD-2",
        T0 + timedelta(minutes=5),
        RedirectOption("day:2026-11-25", RedirectKind.DAY, day=date(2026, 11, 25)),
    )
    store.add_redirect(first, "r1")
    store.add_redirect(later, "r2")
    assert store.latest_redirect("RR361920561SE") == later
    assert store.redirect_by_key("r1") == first
    assert store.latest_redirect("00742488237435897698") is None


def test_same_redirect_key_returns_first_redirect(
    store: InMemoryCarrierStore | SqlCarrierStore,
) -> None:
    store.add_redirect(_redirect("RD-1"), "r1")
    assert store.add_redirect(_redirect("RD-2"), "r1").redirect_id == "RD-1"


def test_verification_failures_window_and_clear(
    store: InMemoryCarrierStore | SqlCarrierStore,
) -> None:
    for minutes in (0, 10, 20):
        store.record_failure("RR361920561SE", T0 + timedelta(minutes=minutes))
    assert len(store.failures_since("RR361920561SE", T0 + timedelta(minutes=5))) == 2
    assert store.failures_since("00742488237435897698", T0) == []
    store.clear_failures("RR361920561SE")
    assert store.failures_since("RR361920561SE", T0) == []


def test_verification_tokens(store: InMemoryCarrierStore | SqlCarrierStore) -> None:
    verification = Verification("RR361920561SE", "tok-1", T0 + timedelta(minutes=30))
    store.save_verification(verification)
    assert store.get_verification("tok-1") == verification
    assert store.get_verification("tok-2") is None


def test_times_with_an_offset_read_back_as_the_same_instant(
    store: InMemoryCarrierStore | SqlCarrierStore,
) -> None:
    """Regression: SQLite dropped the offset, so 12:00+01:00 came back as 12:00 UTC (an hour late)."""
    from datetime import timezone

    local = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    store.add_case(_case("CS-9", at=local), "k9")
    stored = store.get_case("CS-9")
    assert stored is not None and stored.created_at == local
    store.record_failure("RR361920561SE", local)
    assert store.failures_since("RR361920561SE", local) == [local]
    assert store.failures_since("RR361920561SE", local + timedelta(seconds=1)) == []
