"""The handoff queue: SQL through SQLAlchemy Core (SQLite by default, PostgreSQL by URL) and an
in-memory twin with the same behaviour. Both implement `assistant.ports.HandoffQueue`; one
contract suite runs against all three (tests/assistant/handoff/test_queue_contract.py).

State changes are guarded in the store itself, so two agents (or two API workers) racing for
the same handoff cannot both win: `claim` only moves a `waiting` handoff, `resolve` only an open
one, and a message needs a handoff that is claimed and not resolved. A refused change raises
`NotFound` or `Conflict` (with a stable `code`) and changes nothing.

`enqueue` is idempotent: the same `idempotency_key` returns the first handoff unchanged, so a
graph step that runs twice never queues the customer twice.

The estimated wait (`estimate_wait`) is the customer's position times the recent handling time
(claim to resolve, mean of the last 20 handoffs resolved in the last 8 hours; 6 minutes when
there is no history) divided by the number of agents active in the last hour (at least one).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from assistant.errors import Conflict, InvalidInput, NotFound
from assistant.handoff.models import Handoff, HandoffMessage, HandoffStatus, MessageRole

__all__ = [
    "DEFAULT_HANDLING_MINUTES",
    "InMemoryHandoffQueue",
    "SqlHandoffQueue",
    "estimate_wait",
]

DEFAULT_HANDLING_MINUTES = 6.0
_HISTORY = 20
_HISTORY_WINDOW = timedelta(hours=8)
_ACTIVE_WINDOW = timedelta(hours=1)
MAX_MESSAGE_CHARS = 4000
MAX_NOTE_CHARS = 2000

metadata = MetaData()

handoffs = Table(
    "handoffs",
    metadata,
    Column("handoff_id", String(40), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("conversation_id", String(100), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("priority", Integer, nullable=False),
    Column("language", String(5), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("country", String(2)),
    Column("callback_phone", String(40)),
    Column("agent", String(100)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("note", Text),
    Column("return_to_bot", Boolean, nullable=False, default=False),
    Column("summary", Text, nullable=False),
)

handoff_messages = Table(
    "handoff_messages",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("handoff_id", String(40), nullable=False, index=True),
    Column("conversation_id", String(100), nullable=False, index=True),
    Column("role", String(10), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite's DateTime drops the offset: store UTC so that `_aware` reads back the same instant.
    return value.astimezone(UTC) if value is not None else None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _row_to_handoff(row: Any) -> Handoff:
    created = _aware(row["created_at"])
    assert created is not None
    return Handoff(
        handoff_id=row["handoff_id"],
        conversation_id=row["conversation_id"],
        idempotency_key=row["idempotency_key"],
        created_at=created,
        priority=row["priority"],
        language=row["language"],
        reason=row["reason"],
        summary=json.loads(row["summary"]),
        mode=row["mode"],
        status=row["status"],
        country=row["country"],
        callback_phone=row["callback_phone"],
        agent=row["agent"],
        claimed_at=_aware(row["claimed_at"]),
        resolved_at=_aware(row["resolved_at"]),
        note=row["note"],
        return_to_bot=bool(row["return_to_bot"]),
    )


def _row_to_message(row: Any) -> HandoffMessage:
    at = _aware(row["at"])
    assert at is not None
    return HandoffMessage(
        seq=row["seq"],
        handoff_id=row["handoff_id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        text=row["text"],
        at=at,
    )


def _refuse_change(current: Handoff | None, handoff_id: str, wanted: str) -> Conflict | NotFound:
    """The error for a state change the store refused."""
    if current is None:
        return NotFound(f"there is no handoff {handoff_id}", code="handoff_not_found")
    if current.status == "resolved":
        return Conflict(f"handoff {handoff_id} is already resolved", code="handoff_resolved")
    if wanted == "claim":
        return Conflict(
            f"handoff {handoff_id} is already claimed by {current.agent}", code="handoff_claimed"
        )
    return Conflict(
        f"handoff {handoff_id} is {current.status}: claim it first", code="handoff_not_claimed"
    )


def _order(items: list[Handoff]) -> list[Handoff]:
    return sorted(items, key=lambda h: (-h.priority, h.created_at, h.handoff_id))


def _position_in(waiting: Sequence[Handoff], handoff: Handoff) -> int:
    """1-based position among waiting live handoffs: higher priority first, then by arrival."""
    ahead = [
        h
        for h in waiting
        if h.mode == "live"
        and h.handoff_id != handoff.handoff_id
        and (
            h.priority > handoff.priority
            or (h.priority == handoff.priority and h.created_at < handoff.created_at)
        )
    ]
    return len(ahead) + 1


def estimate_wait(position: int, recent: Sequence[Handoff], now: datetime) -> float:
    """Minutes until an agent is likely to pick up the handoff at `position` (module docstring)."""
    handled = [
        h
        for h in recent
        if h.claimed_at is not None
        and h.resolved_at is not None
        and now - h.resolved_at <= _HISTORY_WINDOW
    ]
    handled.sort(key=lambda h: h.resolved_at or now, reverse=True)
    minutes = [
        max(0.5, ((h.resolved_at or now) - (h.claimed_at or now)).total_seconds() / 60)
        for h in handled[:_HISTORY]
    ]
    per_handoff = sum(minutes) / len(minutes) if minutes else DEFAULT_HANDLING_MINUTES
    agents = {
        h.agent
        for h in recent
        if h.agent and h.claimed_at is not None and now - h.claimed_at <= _ACTIVE_WINDOW
    }
    return round(max(1, position) * per_handoff / max(1, len(agents)), 1)


def _check_text(text: str, limit: int, what: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput(f"the {what} is empty", code=f"empty_{what}")
    if len(cleaned) > limit:
        raise InvalidInput(f"the {what} is longer than {limit} characters", code=f"{what}_too_long")
    return cleaned


class SqlHandoffQueue:
    """Handoffs and their message log in the application database (the container's engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def enqueue(self, handoff: Handoff) -> Handoff:
        row = {
            "handoff_id": handoff.handoff_id,
            "idempotency_key": handoff.idempotency_key,
            "conversation_id": handoff.conversation_id,
            "created_at": _utc(handoff.created_at),
            "priority": handoff.priority,
            "language": handoff.language,
            "reason": handoff.reason,
            "mode": handoff.mode,
            "status": handoff.status,
            "country": handoff.country,
            "callback_phone": handoff.callback_phone,
            "agent": handoff.agent,
            "claimed_at": _utc(handoff.claimed_at),
            "resolved_at": _utc(handoff.resolved_at),
            "note": handoff.note,
            "return_to_bot": handoff.return_to_bot,
            "summary": json.dumps(handoff.summary, ensure_ascii=False, default=str),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(handoffs).values(**row))
        except IntegrityError:
            existing = self._by_key(handoff.idempotency_key)
            if existing is None:
                raise
            return existing
        return handoff

    def _by_key(self, key: str) -> Handoff | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(handoffs).where(handoffs.c.idempotency_key == key))
                .mappings()
                .first()
            )
        return _row_to_handoff(row) if row else None

    def get(self, handoff_id: str) -> Handoff | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(handoffs).where(handoffs.c.handoff_id == handoff_id))
                .mappings()
                .first()
            )
        return _row_to_handoff(row) if row else None

    def open_for(self, conversation_id: str) -> Handoff | None:
        query = (
            select(handoffs)
            .where(handoffs.c.conversation_id == conversation_id)
            .where(handoffs.c.status != "resolved")
            .order_by(handoffs.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _row_to_handoff(row) if row else None

    def list_handoffs(self, status: HandoffStatus | None = None, limit: int = 100) -> list[Handoff]:
        query = select(handoffs)
        if status is not None:
            query = query.where(handoffs.c.status == status)
        if status == "resolved":
            query = query.order_by(handoffs.c.resolved_at.desc()).limit(limit)
            with self.engine.connect() as conn:
                return [_row_to_handoff(r) for r in conn.execute(query).mappings()]
        query = query.order_by(
            handoffs.c.priority.desc(), handoffs.c.created_at, handoffs.c.handoff_id
        ).limit(limit)
        with self.engine.connect() as conn:
            return [_row_to_handoff(r) for r in conn.execute(query).mappings()]

    def claim(self, handoff_id: str, agent: str, at: datetime) -> Handoff:
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(handoffs)
                .where(handoffs.c.handoff_id == handoff_id)
                .where(handoffs.c.status == "waiting")
                .values(status="claimed", agent=agent, claimed_at=_utc(at))
            ).rowcount
        current = self.get(handoff_id)
        if not changed or current is None:
            raise _refuse_change(current, handoff_id, "claim")
        return current

    def resolve(
        self, handoff_id: str, at: datetime, note: str | None = None, return_to_bot: bool = False
    ) -> Handoff:
        if note is not None:
            note = _check_text(note, MAX_NOTE_CHARS, "note")
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(handoffs)
                .where(handoffs.c.handoff_id == handoff_id)
                .where(handoffs.c.status != "resolved")
                .values(
                    status="resolved",
                    resolved_at=_utc(at),
                    note=note,
                    return_to_bot=return_to_bot,
                )
            ).rowcount
        current = self.get(handoff_id)
        if not changed or current is None:
            raise _refuse_change(current, handoff_id, "resolve")
        return current

    def add_message(
        self, handoff_id: str, role: MessageRole, text: str, at: datetime
    ) -> HandoffMessage:
        text = _check_text(text, MAX_MESSAGE_CHARS, "message")
        current = self.get(handoff_id)
        allowed = ("claimed",) if role == "agent" else ("waiting", "claimed")
        if current is None or current.status not in allowed:
            raise _refuse_change(current, handoff_id, "message")
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(handoff_messages).values(
                    handoff_id=handoff_id,
                    conversation_id=current.conversation_id,
                    role=role,
                    text=text,
                    at=_utc(at),
                )
            )
            key = result.inserted_primary_key
        assert key is not None
        return HandoffMessage(int(key[0]), handoff_id, current.conversation_id, role, text, at)

    def messages(
        self, *, handoff_id: str | None = None, conversation_id: str | None = None, after: int = 0
    ) -> list[HandoffMessage]:
        query = select(handoff_messages).where(handoff_messages.c.seq > after)
        if handoff_id is not None:
            query = query.where(handoff_messages.c.handoff_id == handoff_id)
        if conversation_id is not None:
            query = query.where(handoff_messages.c.conversation_id == conversation_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(handoff_messages.c.seq).limit(500)).mappings()
            return [_row_to_message(r) for r in rows]

    def position(self, handoff_id: str) -> int | None:
        current = self.get(handoff_id)
        if current is None or current.status != "waiting" or current.mode != "live":
            return None
        ahead = (
            select(func.count())
            .select_from(handoffs)
            .where(handoffs.c.status == "waiting", handoffs.c.mode == "live")
            .where(handoffs.c.handoff_id != handoff_id)
            .where(
                or_(
                    handoffs.c.priority > current.priority,
                    and_(
                        handoffs.c.priority == current.priority,
                        handoffs.c.created_at < _utc(current.created_at),
                    ),
                )
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(ahead).scalar_one()) + 1

    def waiting_count(self, min_priority: int = 0) -> int:
        query = (
            select(func.count())
            .select_from(handoffs)
            .where(handoffs.c.status == "waiting", handoffs.c.mode == "live")
            .where(handoffs.c.priority >= min_priority)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def forget(self, conversation_id: str) -> None:
        """Delete every handoff and message of a conversation (retention, a deletion request)."""
        with self.engine.begin() as conn:
            conn.execute(
                handoff_messages.delete().where(
                    handoff_messages.c.conversation_id == conversation_id
                )
            )
            conn.execute(handoffs.delete().where(handoffs.c.conversation_id == conversation_id))

    def recent(self, since: datetime) -> list[Handoff]:
        query = (
            select(handoffs)
            .where(handoffs.c.claimed_at >= _utc(since))
            .order_by(handoffs.c.claimed_at.desc())
            .limit(200)
        )
        with self.engine.connect() as conn:
            return [_row_to_handoff(r) for r in conn.execute(query).mappings()]


class InMemoryHandoffQueue:
    """The queue's in-memory twin: same rules, same errors, no database."""

    def __init__(self) -> None:
        self._items: dict[str, Handoff] = {}
        self._keys: dict[str, str] = {}
        self._messages: list[HandoffMessage] = []
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def enqueue(self, handoff: Handoff) -> Handoff:
        with self._lock:
            existing = self._keys.get(handoff.idempotency_key)
            if existing is not None:
                return self._items[existing]
            if handoff.handoff_id in self._items:
                raise IntegrityError("duplicate handoff id", None, ValueError(handoff.handoff_id))
            self._items[handoff.handoff_id] = handoff
            self._keys[handoff.idempotency_key] = handoff.handoff_id
            return handoff

    def get(self, handoff_id: str) -> Handoff | None:
        return self._items.get(handoff_id)

    def open_for(self, conversation_id: str) -> Handoff | None:
        found = [h for h in self._items.values() if h.conversation_id == conversation_id and h.open]
        return max(found, key=lambda h: h.created_at) if found else None

    def list_handoffs(self, status: HandoffStatus | None = None, limit: int = 100) -> list[Handoff]:
        items = [h for h in self._items.values() if status is None or h.status == status]
        if status == "resolved":
            return sorted(items, key=lambda h: h.resolved_at or h.created_at, reverse=True)[:limit]
        return _order(items)[:limit]

    def claim(self, handoff_id: str, agent: str, at: datetime) -> Handoff:
        with self._lock:
            current = self._items.get(handoff_id)
            if current is None or current.status != "waiting":
                raise _refuse_change(current, handoff_id, "claim")
            claimed = replace(current, status="claimed", agent=agent, claimed_at=at)
            self._items[handoff_id] = claimed
            return claimed

    def resolve(
        self, handoff_id: str, at: datetime, note: str | None = None, return_to_bot: bool = False
    ) -> Handoff:
        if note is not None:
            note = _check_text(note, MAX_NOTE_CHARS, "note")
        with self._lock:
            current = self._items.get(handoff_id)
            if current is None or current.status == "resolved":
                raise _refuse_change(current, handoff_id, "resolve")
            resolved = replace(
                current, status="resolved", resolved_at=at, note=note, return_to_bot=return_to_bot
            )
            self._items[handoff_id] = resolved
            return resolved

    def add_message(
        self, handoff_id: str, role: MessageRole, text: str, at: datetime
    ) -> HandoffMessage:
        text = _check_text(text, MAX_MESSAGE_CHARS, "message")
        with self._lock:
            current = self._items.get(handoff_id)
            allowed = ("claimed",) if role == "agent" else ("waiting", "claimed")
            if current is None or current.status not in allowed:
                raise _refuse_change(current, handoff_id, "message")
            message = HandoffMessage(
                next(self._seq), handoff_id, current.conversation_id, role, text, at
            )
            self._messages.append(message)
            return message

    def messages(
        self, *, handoff_id: str | None = None, conversation_id: str | None = None, after: int = 0
    ) -> list[HandoffMessage]:
        return [
            m
            for m in self._messages
            if m.seq > after
            and (handoff_id is None or m.handoff_id == handoff_id)
            and (conversation_id is None or m.conversation_id == conversation_id)
        ][:500]

    def position(self, handoff_id: str) -> int | None:
        current = self._items.get(handoff_id)
        if current is None or current.status != "waiting" or current.mode != "live":
            return None
        return _position_in(self.list_handoffs("waiting", limit=10_000), current)

    def waiting_count(self, min_priority: int = 0) -> int:
        return sum(
            1
            for h in self._items.values()
            if h.status == "waiting" and h.mode == "live" and h.priority >= min_priority
        )

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            gone = [k for k, h in self._items.items() if h.conversation_id == conversation_id]
            for handoff_id in gone:
                handoff = self._items.pop(handoff_id)
                self._keys.pop(handoff.idempotency_key, None)
            self._messages = [m for m in self._messages if m.conversation_id != conversation_id]

    def recent(self, since: datetime) -> list[Handoff]:
        found = [h for h in self._items.values() if h.claimed_at and h.claimed_at >= since]
        return sorted(found, key=lambda h: h.claimed_at or since, reverse=True)[:200]
