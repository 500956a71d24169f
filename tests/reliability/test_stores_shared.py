"""What API workers share through the database: tokens, feedback and the cross-worker locks.

The token and feedback stores run on SQLite and on PostgreSQL (when it is on 127.0.0.1); the advisory locks
that let two workers share one PostgreSQL database are tested with two engines, as two
workers would hold them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.feedback import FeedbackStore, feedback
from api.locks import PostgresConversationLocks, conversation_locks, schema_lock
from api.security import TokenStore, conversation_tokens
from assistant.carrier.store import make_engine
from assistant.errors import Conflict, Forbidden, Unauthenticated


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tokens.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield engine
    # The PostgreSQL database is shared by the session: leave it empty for the next test.
    with engine.begin() as conn:
        for table in (conversation_tokens, feedback):
            if engine.dialect.has_table(conn, table.name):
                conn.execute(table.delete())
    engine.dispose()


def test_a_token_opens_its_conversation_and_no_other(engine: Engine) -> None:
    store = TokenStore(engine)
    first, second = store.issue("c_first"), store.issue("c_second")
    assert first != second
    store.authorize("c_first", first)
    with pytest.raises(Forbidden):
        store.authorize("c_first", second)
    with pytest.raises(Forbidden):
        store.authorize("c_never_made", second)  # never 404: no probing for ids
    for token in (None, "", "not-a-token", first + "x"):
        with pytest.raises(Unauthenticated):
            store.authorize("c_first", token)


def test_a_second_store_on_the_same_database_knows_the_token(engine: Engine) -> None:
    """Another worker (its own store object) accepts a token this one issued."""
    token = TokenStore(engine).issue("c_shared")
    TokenStore(engine).authorize("c_shared", token)


def test_forgotten_tokens_open_nothing(engine: Engine) -> None:
    store = TokenStore(engine)
    token = store.issue("c_gone")
    store.forget("c_gone")
    with pytest.raises(Unauthenticated):
        store.authorize("c_gone", token)


def test_tokens_are_stored_only_as_digests(engine: Engine) -> None:
    token = TokenStore(engine).issue("c_digest")
    with engine.connect() as conn:
        rows = conn.execute(conversation_tokens.select()).mappings().all()
    assert rows and all(token not in str(dict(row)) for row in rows)


def test_feedback_is_kept_per_conversation_in_order_and_forgotten(engine: Engine) -> None:
    store = FeedbackStore(engine)
    first = store.add("c_rated", 5, "hurtigt svar")
    second = store.add("c_rated", 2, None)
    store.add("c_other", 4, None)
    kept = FeedbackStore(engine).for_conversation("c_rated")  # as another worker reads it
    assert [(r.feedback_id, r.rating, r.comment) for r in kept] == [
        (first.feedback_id, 5, "hurtigt svar"),
        (second.feedback_id, 2, None),
    ]
    assert all(r.created_at.tzinfo is not None for r in kept)
    store.forget("c_rated")
    assert store.for_conversation("c_rated") == []
    assert [r.rating for r in store.for_conversation("c_other")] == [4]


def test_sqlite_needs_no_cross_process_locks(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert conversation_locks(engine) is None
    with schema_lock(engine):
        pass


@pytest.mark.postgres
def test_a_conversation_lock_is_held_across_workers_and_times_out_with_409(
    postgres_url: str,
) -> None:
    worker_a, worker_b = make_engine(postgres_url), make_engine(postgres_url)
    try:
        locks_a = PostgresConversationLocks(worker_a)
        locks_b = PostgresConversationLocks(worker_b, timeout_s=0.3)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with locks_a.hold("c_busy"):
                held.set()
                release.wait(10)

        thread = threading.Thread(target=hold)
        thread.start()
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises(Conflict) as caught, locks_b.hold("c_busy"):
            pass
        assert caught.value.code == "conversation_busy" and caught.value.status == 409
        assert time.monotonic() - started < 5
        with locks_b.hold("c_other"):  # another conversation is not blocked
            pass
        release.set()
        thread.join(10)
        with locks_b.hold("c_busy"):  # released: the other worker gets it
            pass
    finally:
        worker_a.dispose()
        worker_b.dispose()


@pytest.mark.postgres
def test_the_lock_serialises_read_modify_write_across_workers(postgres_url: str) -> None:
    """Two workers incrementing one counter under the lock never lose an update."""
    engines = [make_engine(postgres_url) for _ in range(2)]
    counter = {"value": 0}
    try:
        locks = [PostgresConversationLocks(e) for e in engines]

        def work(lock: PostgresConversationLocks) -> None:
            for _ in range(20):
                with lock.hold("c_counter"):
                    seen = counter["value"]
                    time.sleep(0.001)  # widen the window a lost update would need
                    counter["value"] = seen + 1

        threads = [threading.Thread(target=work, args=(lock,)) for lock in locks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert counter["value"] == 40
    finally:
        for e in engines:
            e.dispose()


@pytest.mark.postgres
def test_a_worker_waiting_for_the_schema_lock_does_not_block_concurrent_index_builds(
    postgres_url: str,
) -> None:
    """Regression: two workers starting together on an empty database hung at start-up.

    The waiting worker blocked inside `pg_advisory_lock`, which keeps a snapshot open, while the
    lock holder ran LangGraph's `CREATE INDEX CONCURRENTLY`, which waits for every older
    snapshot: neither could go on, and PostgreSQL cannot see the cycle (it runs through the
    holder's own process).
    """
    holder, waiter = make_engine(postgres_url), make_engine(postgres_url)
    waited = threading.Event()

    def second_worker() -> None:
        with schema_lock(waiter, timeout_s=30):
            waited.set()

    try:
        with schema_lock(holder):
            thread = threading.Thread(target=second_worker)
            thread.start()
            time.sleep(0.3)  # the second worker is now waiting for the lock
            with holder.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("SET statement_timeout = '10s'")
                conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS cic_probe (x int)")
                conn.exec_driver_sql(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS cic_x ON cic_probe (x)"
                )
                conn.exec_driver_sql("DROP TABLE cic_probe")
            assert not waited.is_set(), "the second worker waits while the schema is built"
        thread.join(30)
        assert waited.is_set()
    finally:
        holder.dispose()
        waiter.dispose()
