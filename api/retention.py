"""Data retention and deletion: forget one conversation, or purge the ones inactive too long.

What a conversation leaves behind, and who deletes it:

| where                                   | what                                   | deleted by |
|-----------------------------------------|----------------------------------------|------------|
| LangGraph checkpoints (SQLite/Postgres) | state, transcript, slots, actions      | `ConversationEngine.forget` |
| `conversation_activity` (SQL)           | last activity time                     | `ConversationEngine.forget` |
| every store in the container with       | tokens, feedback, handoff queue, ...   | its own `forget(conversation_id)` |
| `forget(conversation_id)`               |                                        | |

`Retention.from_container` registers, by looking, every component of the container (and the
handoff queue in the graph's context) that implements `ConversationDataStore`, so a store added
later takes part without an edit here. The other stores are told first and the checkpoints go
last: the activity record that makes a conversation "due" lives until everything else is gone,
so a purge interrupted half-way is finished by the next run.

Cases stay: a complaint case is the carrier's business record, kept under the carrier's own
rules, not the chat's retention period.

The purge goes by the clock (`BUDBRINGER_NOW` when set, so a frozen demo clock never ages a
conversation) and runs at start-up and then daily in a background thread (`start_retention`),
and on demand with `budbringer purge [--dry-run]`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from assistant.clock import Clock
from assistant.ports import ConversationActivity, ConversationDataStore
from graphs.engine import ConversationEngine

if TYPE_CHECKING:
    from api.container import Container

__all__ = [
    "PurgeReport",
    "Retention",
    "RetentionThread",
    "SqlConversationActivity",
    "conversation_activity",
    "start_retention",
]

log = logging.getLogger(__name__)

metadata = MetaData()

conversation_activity = Table(
    "conversation_activity",
    metadata,
    Column("conversation_id", String(64), primary_key=True),
    Column("last_active_at", DateTime(timezone=True), nullable=False, index=True),
)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlConversationActivity:
    """`ConversationActivity` in the SQL database of cases and tokens (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, checkfirst=True)

    def touch(self, conversation_id: str, at: datetime) -> None:
        values = {"conversation_id": conversation_id, "last_active_at": _utc(at)}
        dialect = self.engine.dialect.name
        with self.engine.begin() as conn:
            if dialect in ("sqlite", "postgresql"):
                insert = (sqlite if dialect == "sqlite" else postgresql).insert
                statement = insert(conversation_activity).values(**values)
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["conversation_id"],
                        set_={"last_active_at": statement.excluded.last_active_at},
                    )
                )
                return
            # Any other database: update, and insert when there was nothing to update.
            updated = conn.execute(
                conversation_activity.update()
                .where(conversation_activity.c.conversation_id == conversation_id)
                .values(last_active_at=values["last_active_at"])
            )
            if updated.rowcount == 0:
                conn.execute(conversation_activity.insert().values(**values))

    def last_active(self, conversation_id: str) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(conversation_activity.c.last_active_at).where(
                    conversation_activity.c.conversation_id == conversation_id
                )
            ).scalar_one_or_none()
        return None if value is None else _utc(value)

    def inactive_since(self, cutoff: datetime, limit: int = 1000) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(conversation_activity.c.conversation_id)
                .where(conversation_activity.c.last_active_at < _utc(cutoff))
                .order_by(
                    conversation_activity.c.last_active_at,
                    conversation_activity.c.conversation_id,
                )
                .limit(limit)
            ).all()
        return [row.conversation_id for row in rows]

    def forget(self, conversation_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                conversation_activity.delete().where(
                    conversation_activity.c.conversation_id == conversation_id
                )
            )


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did (or, dry, would do): conversations inactive since before `cutoff`."""

    cutoff: datetime
    dry_run: bool
    conversation_ids: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.conversation_ids)


class Retention:
    """Deletes conversations and everything about them, one by request or all that are due."""

    def __init__(
        self,
        conversations: ConversationEngine,
        stores: Sequence[ConversationDataStore],
        clock: Clock,
        retention_days: int,
        batch_size: int = 500,
    ) -> None:
        if conversations.activity is None:
            raise ValueError("the conversation engine records no activity: nothing to purge by")
        self.conversations = conversations
        self.activity: ConversationActivity = conversations.activity
        self.stores = list(stores)
        self.clock = clock
        self.retention = timedelta(days=retention_days)
        self.batch_size = batch_size

    @classmethod
    def from_container(cls, container: Container) -> Retention:
        """Retention over every `ConversationDataStore` the container holds (see module doc)."""
        engine = container.conversations
        candidates: list[Any] = [
            getattr(container, f.name) for f in dataclasses.fields(container) if f.init
        ]
        candidates.append(engine.context.handoffs)
        stores: list[ConversationDataStore] = []
        for candidate in candidates:
            if (
                candidate is None
                or candidate is engine
                or candidate is engine.activity
                or any(candidate is s for s in stores)
                or not isinstance(candidate, ConversationDataStore)
            ):
                continue
            stores.append(candidate)
        log.debug("retention stores: %s", [type(s).__name__ for s in stores])
        return cls(engine, stores, container.clock, container.settings.retention_days)

    def forget(self, conversation_id: str) -> bool:
        """Delete the conversation and every row about it; True when the conversation existed.

        A store that fails stops the deletion before the checkpoints go, so the conversation is
        still there (and still due) for the next attempt; the error propagates.
        """
        existed = self.conversations.forget(conversation_id, self.stores)
        log.info("conversation forgotten", extra={"conversation_id": conversation_id})
        return existed

    def cutoff(self) -> datetime:
        return self.clock.now() - self.retention

    def purge(self, dry_run: bool = False) -> PurgeReport:
        """Forget every conversation whose last activity is older than the retention period."""
        cutoff = self.cutoff()
        report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
        if dry_run:
            report.conversation_ids.extend(self.activity.inactive_since(cutoff, limit=10**9))
            return report
        skip: set[str] = set()
        while True:
            # A conversation that failed stays due; asking for more than the failures keeps the
            # loop going past them, and it ends when a batch brings nothing new.
            due = [
                cid
                for cid in self.activity.inactive_since(cutoff, self.batch_size + len(skip))
                if cid not in skip
            ]
            if not due:
                break
            for conversation_id in due:
                try:
                    self.forget(conversation_id)
                except Exception:
                    log.exception(
                        "could not forget a conversation; it stays due",
                        extra={"conversation_id": conversation_id},
                    )
                    skip.add(conversation_id)
                    report.failed.append(conversation_id)
                else:
                    report.conversation_ids.append(conversation_id)
        log.info(
            "retention purge done",
            extra={
                "cutoff": cutoff.isoformat(),
                "purged": report.count,
                "failed": len(report.failed),
            },
        )
        return report


class RetentionThread:
    """Runs `Retention.purge` now and then every `interval_s` seconds until `stop()`."""

    def __init__(self, retention: Retention, interval_s: float = 24 * 3600) -> None:
        self.retention = retention
        self.interval_s = interval_s
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> RetentionThread:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.retention.purge()
            except Exception:
                # A database that is down now may be back tomorrow: log, keep the thread alive.
                log.exception("retention purge failed")
            self.runs += 1
            self._stop.wait(self.interval_s)

    def stop(self, timeout_s: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout_s)


def start_retention(container: Container, interval_s: float = 24 * 3600) -> RetentionThread:
    """Purge once now and then daily, in a daemon thread; the lifespan stops it at shutdown."""
    return RetentionThread(Retention.from_container(container), interval_s).start()
