"""One contract suite for the handoff queue: the in-memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine

from assistant.carrier.store import make_engine
from assistant.errors import Conflict, InvalidInput, NotFound
from assistant.handoff.models import Handoff, priority_for
from assistant.handoff.queue import (
    DEFAULT_HANDLING_MINUTES,
    InMemoryHandoffQueue,
    SqlHandoffQueue,
    estimate_wait,
    metadata,
)
from assistant.ports import HandoffQueue

T0 = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def make(n: int, reason: str = "customer_request", **fields: Any) -> Handoff:
    values: dict[str, Any] = {
        "handoff_id": f"H-{n:04d}",
        "conversation_id": f"conv-{n}",
        "idempotency_key": f"conv-{n}:1:live",
        "created_at": T0 + timedelta(minutes=n),
        "priority": priority_for(reason),
        "language": "da",
        "reason": reason,
        "summary": {"reason": reason, "text": f"summary {n}", "tracking_ids": ["RR361920561SE"]},
    }
    values.update(fields)
    return Handoff(**values)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def queue(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[HandoffQueue]:
    if request.param == "memory":
        yield InMemoryHandoffQueue()
        return
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
    yield SqlHandoffQueue(engine)
    metadata.drop_all(engine)  # the PostgreSQL database lives for the whole session
    engine.dispose()


def test_enqueue_is_idempotent_by_key(queue: HandoffQueue) -> None:
    first = queue.enqueue(make(1))
    again = queue.enqueue(make(1, handoff_id="H-OTHER", summary={"text": "another"}))
    assert again == first
    assert [h.handoff_id for h in queue.list_handoffs()] == ["H-0001"]


def test_round_trip_keeps_every_field(queue: HandoffQueue) -> None:
    original = make(
        2, "policy", mode="callback", callback_phone="+4520123456", country="DK", priority=57
    )
    queue.enqueue(original)
    assert queue.get("H-0002") == original
    assert queue.get("H-0002").created_at == T0 + timedelta(minutes=2)  # type: ignore[union-attr]


def test_list_orders_by_priority_then_arrival(queue: HandoffQueue) -> None:
    queue.enqueue(make(1, "customer_request"))
    queue.enqueue(make(2, "policy"))
    queue.enqueue(make(3, "frustration"))
    queue.enqueue(make(4, "policy"))
    assert [h.handoff_id for h in queue.list_handoffs("waiting")] == [
        "H-0002",
        "H-0004",
        "H-0003",
        "H-0001",
    ]
    assert queue.position("H-0004") == 2
    assert queue.position("H-0001") == 4


def test_claim_then_resolve(queue: HandoffQueue) -> None:
    queue.enqueue(make(1))
    claimed = queue.claim("H-0001", "agent-a", T0 + timedelta(minutes=5))
    assert (claimed.status, claimed.agent) == ("claimed", "agent-a")
    assert queue.position("H-0001") is None
    assert queue.list_handoffs("waiting") == []
    resolved = queue.resolve("H-0001", T0 + timedelta(minutes=9), note="sorted", return_to_bot=True)
    assert (resolved.status, resolved.note, resolved.return_to_bot) == ("resolved", "sorted", True)
    assert [h.handoff_id for h in queue.list_handoffs("resolved")] == ["H-0001"]
    assert queue.open_for("conv-1") is None


def test_claiming_a_claimed_handoff_is_a_conflict_and_changes_nothing(queue: HandoffQueue) -> None:
    queue.enqueue(make(1))
    queue.claim("H-0001", "agent-a", T0)
    with pytest.raises(Conflict) as caught:
        queue.claim("H-0001", "agent-b", T0)
    assert caught.value.code == "handoff_claimed"
    assert queue.get("H-0001").agent == "agent-a"  # type: ignore[union-attr]


def test_unknown_ids_are_not_found(queue: HandoffQueue) -> None:
    for call in (
        lambda: queue.claim("H-NOPE", "a", T0),
        lambda: queue.resolve("H-NOPE", T0),
        lambda: queue.add_message("H-NOPE", "agent", "hi", T0),
    ):
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.code == "handoff_not_found"
    assert queue.get("H-NOPE") is None
    assert queue.position("H-NOPE") is None


def test_messages_need_the_right_state(queue: HandoffQueue) -> None:
    queue.enqueue(make(1))
    customer = queue.add_message("H-0001", "customer", "hallo?", T0)
    with pytest.raises(Conflict) as caught:
        queue.add_message("H-0001", "agent", "hi", T0)  # not claimed yet
    assert caught.value.code == "handoff_not_claimed"
    queue.claim("H-0001", "agent-a", T0)
    agent = queue.add_message("H-0001", "agent", "  Hej, jeg hjælper dig.  ", T0)
    assert agent.seq > customer.seq and agent.text == "Hej, jeg hjælper dig."
    queue.resolve("H-0001", T0)
    with pytest.raises(Conflict) as caught:
        queue.add_message("H-0001", "agent", "one more thing", T0)
    assert caught.value.code == "handoff_resolved"
    with pytest.raises(Conflict):
        queue.resolve("H-0001", T0)
    log = queue.messages(handoff_id="H-0001")
    assert [(m.role, m.text) for m in log] == [("customer", "hallo?"), ("agent", agent.text)]
    assert queue.messages(conversation_id="conv-1", after=customer.seq) == [agent]


def test_empty_or_huge_texts_are_refused(queue: HandoffQueue) -> None:
    queue.enqueue(make(1))
    queue.claim("H-0001", "agent-a", T0)
    with pytest.raises(InvalidInput):
        queue.add_message("H-0001", "agent", "   ", T0)
    with pytest.raises(InvalidInput):
        queue.add_message("H-0001", "agent", "x" * 4001, T0)
    with pytest.raises(InvalidInput):
        queue.resolve("H-0001", T0, note="y" * 2001)
    assert queue.messages(handoff_id="H-0001") == []
    assert queue.get("H-0001").status == "claimed"  # type: ignore[union-attr]


def test_open_for_finds_the_conversations_open_handoff(queue: HandoffQueue) -> None:
    queue.enqueue(make(1))
    queue.enqueue(make(2, conversation_id="conv-1", idempotency_key="conv-1:5:live"))
    assert queue.open_for("conv-1").handoff_id == "H-0002"  # type: ignore[union-attr]
    assert queue.open_for("conv-9") is None


def test_recent_and_forget(queue: HandoffQueue) -> None:
    queue.enqueue(make(1))
    queue.enqueue(make(2))
    queue.claim("H-0001", "agent-a", T0 + timedelta(minutes=3))
    queue.add_message("H-0001", "customer", "hej", T0)
    assert [h.handoff_id for h in queue.recent(T0)] == ["H-0001"]
    queue.forget("conv-1")
    assert queue.get("H-0001") is None and queue.messages(conversation_id="conv-1") == []
    assert queue.get("H-0002") is not None
    queue.forget("conv-1")  # a second purge is a no-op


def test_estimated_wait_comes_from_recent_handling_times() -> None:
    now = T0 + timedelta(hours=1)
    assert estimate_wait(3, [], now) == 3 * DEFAULT_HANDLING_MINUTES
    handled = [
        make(
            i,
            status="resolved",
            agent=f"agent-{i % 2}",
            claimed_at=now - timedelta(minutes=30),
            resolved_at=now - timedelta(minutes=30 - minutes),
        )
        for i, minutes in ((1, 4), (2, 8))
    ]
    # Mean handling 6 minutes, two agents active: position 4 waits about 12 minutes.
    assert estimate_wait(4, handled, now) == 12.0
    two_days_ago = T0 - timedelta(days=2)
    stale = [
        make(
            9,
            status="resolved",
            claimed_at=two_days_ago,
            resolved_at=two_days_ago + timedelta(minutes=40),
        )
    ]
    assert estimate_wait(1, stale, now) == DEFAULT_HANDLING_MINUTES


def test_priority_rises_with_declared_value_and_reason() -> None:
    assert priority_for("policy") > priority_for("tool_failure") > priority_for("frustration")
    assert priority_for("frustration") > priority_for("repeated_failure")
    assert priority_for("repeated_failure") > priority_for("customer_request")
    assert priority_for("customer_request", 950.0) == priority_for("customer_request") + 9
    assert priority_for("customer_request", 1_000_000) == priority_for("customer_request") + 20
    assert priority_for("policy", None) == priority_for("policy", -5)


def test_waiting_count_counts_live_handoffs_at_or_above_a_priority(queue: HandoffQueue) -> None:
    queue.enqueue(make(1, "customer_request"))
    queue.enqueue(make(2, "policy"))
    queue.enqueue(make(3, "policy", mode="callback", idempotency_key="conv-3:1:callback"))
    assert queue.waiting_count() == 2
    assert queue.waiting_count(priority_for("policy")) == 1
    queue.claim("H-0002", "agent-a", T0)
    assert queue.waiting_count(priority_for("policy")) == 0
    assert queue.position("H-0003") is None  # a callback has no place in the live queue
