"""The engine's per-conversation locks stay bounded however many conversations it serves."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

from tests.graphs.conftest import Chat


def test_many_conversations_share_a_fixed_set_of_locks(chat: Chat) -> None:
    """Regression: the engine kept one lock per conversation id ever seen, growing without bound."""
    engine = chat.engine
    locks = {id(engine._lock(f"conversation-{n}")) for n in range(5000)}
    assert len(locks) <= 256
    assert engine._lock("same") is engine._lock("same"), "one conversation always gets one lock"


def _take_and_release(lock: AbstractContextManager[object], entered: threading.Event) -> None:
    with lock:
        entered.set()


def test_a_conversation_is_serialised_while_others_proceed(chat: Chat) -> None:
    engine = chat.engine
    busy = engine._lock("busy-conversation")
    other = next(f"other-{n}" for n in range(1000) if engine._lock(f"other-{n}") is not busy)
    entered = threading.Event()
    with busy:
        waiter = threading.Thread(target=lambda: _take_and_release(busy, entered))
        waiter.start()
        assert not entered.wait(0.2), "a second turn of the same conversation must wait"
        other_entered = threading.Event()
        threading.Thread(
            target=_take_and_release, args=(engine._lock(other), other_entered)
        ).start()
        assert other_entered.wait(2), "another conversation is not held up"
    waiter.join(2)
    assert entered.is_set()
