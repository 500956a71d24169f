"""Locks across API workers that share one PostgreSQL database.

Two things go wrong when several workers share PostgreSQL without them:

- **Start-up.** Every store creates its tables (`CREATE TABLE IF NOT EXISTS`), and LangGraph's
  PostgreSQL checkpointer runs its migrations. Two workers starting at once on an empty database
  race in the catalogue (`UniqueViolation` on `pg_type`) and one of them dies. `schema_lock`
  makes them take turns.
- **Turns.** `graphs/engine.py` serialises the turns of one conversation with a lock per process.
  Two turns of one conversation on two workers at the same moment (a retrying client behind a
  load balancer) would both read the same checkpoint and one turn would be lost.
  `PostgresConversationLocks` holds a PostgreSQL advisory lock per conversation for the turn.

Advisory locks are session-level here: they live on one pooled connection for as long as the
work takes and die with the session, so a worker killed mid-turn never leaves a conversation
locked. With SQLite (one process per data dir) both are no-ops.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from sqlalchemy import Engine, func, select

from assistant.errors import Conflict

__all__ = [
    "LockTimeout",
    "PostgresConversationLocks",
    "advisory_key",
    "conversation_locks",
    "schema_lock",
]

log = logging.getLogger(__name__)

# A fixed key for schema creation; conversation keys are hashes (a collision only serialises
# two unrelated conversations for a few milliseconds).
_SCHEMA_KEY = 0x62756462_72696E67  # "budbring"


def advisory_key(name: str) -> int:
    """A signed 64-bit key for `pg_advisory_lock`, stable across processes."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class LockTimeout(Exception):
    """The advisory lock stayed taken for longer than the caller would wait."""


_POLL_S = 0.05


@contextmanager
def _advisory(engine: Engine, key: int, timeout_s: float) -> Iterator[None]:
    """Hold advisory lock `key` on a connection of its own; `LockTimeout` after `timeout_s`.

    The connection stays outside any transaction (autocommit), and the wait polls
    `pg_try_advisory_lock` instead of blocking in `pg_advisory_lock`: a statement blocked on the
    lock keeps a snapshot open, and `CREATE INDEX CONCURRENTLY` (LangGraph's migrations, run by
    the worker that holds the schema lock) waits for every older snapshot in the database, so a
    blocking wait deadlocked two workers starting together.
    """
    deadline = time.monotonic() + timeout_s
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while not conn.execute(select(func.pg_try_advisory_lock(key))).scalar():
            if time.monotonic() >= deadline:
                raise LockTimeout(f"advisory lock {key} still taken after {timeout_s:.0f} s")
            time.sleep(_POLL_S)
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(key)))


@contextmanager
def schema_lock(engine: Engine, timeout_s: float = 120.0) -> Iterator[None]:
    """Hold while creating tables, so workers starting together on PostgreSQL take turns."""
    if not _is_postgres(engine):
        yield
        return
    with _advisory(engine, _SCHEMA_KEY, timeout_s):
        yield


class PostgresConversationLocks:
    """One advisory lock per conversation, held for a turn, across every worker."""

    def __init__(self, engine: Engine, timeout_s: float = 30.0) -> None:
        self.engine = engine
        self.timeout_s = timeout_s

    @contextmanager
    def hold(self, conversation_id: str) -> Iterator[None]:
        key = advisory_key("conversation:" + conversation_id)
        with ExitStack() as stack:
            try:
                stack.enter_context(_advisory(self.engine, key, self.timeout_s))
            except LockTimeout as exc:
                log.warning("conversation %s stayed locked by another worker", conversation_id)
                raise Conflict(
                    "another message of this conversation is still being answered; try again",
                    code="conversation_busy",
                ) from exc
            yield


def conversation_locks(engine: Engine) -> PostgresConversationLocks | None:
    """The cross-worker conversation lock the database needs (none for SQLite)."""
    return PostgresConversationLocks(engine) if _is_postgres(engine) else None
