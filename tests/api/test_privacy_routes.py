"""Deleting a conversation (DELETE route, `Retention.forget`) and the retention purge."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.container import Container
from api.feedback import feedback
from api.retention import (
    Retention,
    RetentionThread,
    SqlConversationActivity,
    conversation_activity,
)
from api.security import conversation_tokens
from assistant.clock import FrozenClock
from assistant.handoff.queue import handoffs
from tests.api.conftest import NOW, assert_problem, open_conversation

NOW_DT = datetime.fromisoformat(NOW)


def container_of(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def rows(container: Container, table: Any, conversation_id: str) -> int:
    with container.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.conversation_id == conversation_id)
            ).scalar_one()
        )


def traces(container: Container, conversation_id: str) -> dict[str, int]:
    """Where a conversation still has data: checkpoints, token, feedback, activity."""
    return {
        "checkpoints": int(container.conversations.exists(conversation_id)),
        "token": rows(container, conversation_tokens, conversation_id),
        "feedback": rows(container, feedback, conversation_id),
        "activity": rows(container, conversation_activity, conversation_id),
        "handoffs": rows(container, handoffs, conversation_id),
    }


NONE = {"checkpoints": 0, "token": 0, "feedback": 0, "activity": 0, "handoffs": 0}


def test_delete_removes_everything_and_the_token_then_opens_nothing(api: TestClient) -> None:
    conv = open_conversation(api, "da")
    conv.say("hvor er RR361920561SE")
    conv.say("jeg vil gerne tale med et menneske")
    assert (
        api.post(f"{conv.path}/feedback", json={"rating": 4}, headers=conv.auth).status_code == 201
    )
    container = container_of(api)
    assert traces(container, conv.conversation_id) == {
        "checkpoints": 1, "token": 1, "feedback": 1, "activity": 1, "handoffs": 1
    }  # fmt: skip

    response = api.delete(conv.path, headers=conv.auth)
    assert response.status_code == 204
    assert response.content == b""
    assert traces(container, conv.conversation_id) == NONE
    # The token went with it: the same request again looks like any unknown token.
    assert_problem(api.delete(conv.path, headers=conv.auth), 401, "unauthenticated")
    assert_problem(api.get(conv.path, headers=conv.auth), 401, "unauthenticated")
    assert_problem(
        api.post(f"{conv.path}/messages", json={"text": "hej"}, headers=conv.auth),
        401,
        "unauthenticated",
    )


def test_delete_needs_this_conversations_token(api: TestClient) -> None:
    mine, other = open_conversation(api, "sv"), open_conversation(api, "sv")
    assert_problem(api.delete(mine.path), 401, "unauthenticated")
    assert_problem(
        api.delete(mine.path, headers={"Authorization": "Bearer nope"}), 401, "unauthenticated"
    )
    assert_problem(api.delete(mine.path, headers=other.auth), 403, "forbidden")
    assert_problem(
        api.delete("/v1/conversations/not%20an%20id", headers=mine.auth), 422, "validation_error"
    )
    assert container_of(api).conversations.exists(mine.conversation_id)
    assert mine.get()["conversation_id"] == mine.conversation_id


def test_delete_is_documented_in_openapi(api: TestClient) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/v1/conversations/{conversation_id}"][
        "delete"
    ]
    assert {"204", "401", "403", "429"} <= set(operation["responses"])


class ForgetfulStore:
    """A store with rows about conversations; `broken` makes its `forget` fail."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.broken = False

    def forget(self, conversation_id: str) -> None:
        if self.broken:
            raise OSError("store unavailable")
        self.ids.discard(conversation_id)


def retention_at(container: Container, now: datetime, *extra: Any, days: int = 90) -> Retention:
    base = Retention.from_container(container)
    return Retention(container.conversations, [*base.stores, *extra], FrozenClock(now), days)


def test_container_stores_are_registered_by_what_they_implement(api: TestClient) -> None:
    container = container_of(api)
    stores = Retention.from_container(container).stores
    assert container.conversation_tokens in stores
    assert container.feedback in stores
    assert container.handoffs in stores
    assert container.conversations not in stores  # it forgets last, itself


def test_purge_deletes_conversations_inactive_past_the_retention_period(api: TestClient) -> None:
    container = container_of(api)
    old, recent = open_conversation(api, "nb"), open_conversation(api, "fi")
    old.say("hvor er pakken min")
    api.post(f"{old.path}/feedback", json={"rating": 2, "comment": "treg"}, headers=old.auth)
    extra = ForgetfulStore()
    extra.ids |= {old.conversation_id, recent.conversation_id}
    # The app's clock is frozen at NOW: age `old` by recording its last activity 91 days back.
    activity = container.conversations.activity
    assert activity is not None
    activity.touch(old.conversation_id, NOW_DT - timedelta(days=91))

    retention = retention_at(container, NOW_DT, extra)
    dry = retention.purge(dry_run=True)
    assert old.conversation_id in dry.conversation_ids
    assert recent.conversation_id not in dry.conversation_ids
    assert traces(container, old.conversation_id)["checkpoints"] == 1  # a dry run deletes nothing

    report = retention.purge()
    assert old.conversation_id in report.conversation_ids
    assert recent.conversation_id not in report.conversation_ids
    assert report.cutoff == NOW_DT - timedelta(days=90)
    assert traces(container, old.conversation_id) == NONE
    assert extra.ids == {recent.conversation_id}
    assert recent.get()["turn"] == 0  # untouched, still usable
    # Nothing is due any more.
    assert old.conversation_id not in retention.purge().conversation_ids


def test_a_store_failing_stops_the_deletion_before_the_checkpoints_and_the_next_run_finishes(
    api: TestClient,
) -> None:
    container = container_of(api)
    conv = open_conversation(api, "en")
    activity = container.conversations.activity
    assert activity is not None
    activity.touch(conv.conversation_id, NOW_DT - timedelta(days=400))
    broken = ForgetfulStore()
    broken.ids.add(conv.conversation_id)
    broken.broken = True
    retention = retention_at(container, NOW_DT, broken)

    report = retention.purge()
    assert conv.conversation_id in report.failed
    assert conv.conversation_id not in report.conversation_ids
    assert container.conversations.exists(conv.conversation_id)  # still there, still due
    assert conv.conversation_id in retention.purge(dry_run=True).conversation_ids

    broken.broken = False
    assert conv.conversation_id in retention.purge().conversation_ids
    assert traces(container, conv.conversation_id)["checkpoints"] == 0
    assert broken.ids == set()


def test_forgetting_an_unknown_conversation_is_a_no_op(api: TestClient) -> None:
    assert Retention.from_container(container_of(api)).forget("c_never_was") is False


def test_retention_thread_purges_at_start_and_stops(api: TestClient) -> None:
    container = container_of(api)
    conv = open_conversation(api, "da")
    activity = container.conversations.activity
    assert activity is not None
    activity.touch(conv.conversation_id, NOW_DT - timedelta(days=100))
    thread = RetentionThread(retention_at(container, NOW_DT), interval_s=3600).start()
    deadline = time.monotonic() + 10
    while thread.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    thread.stop()
    assert time.monotonic() - started < 5  # it waits on an event, not a sleep
    assert thread.runs == 1
    assert not container.conversations.exists(conv.conversation_id)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_activity_store_contract(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'a.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_engine(url)
    try:
        store = SqlConversationActivity(engine)
        store.touch("a", NOW_DT - timedelta(days=10))
        store.touch("b", NOW_DT - timedelta(days=20))
        store.touch("c", NOW_DT)
        store.touch("a", NOW_DT - timedelta(days=30))  # later touch wins, even if older
        assert store.last_active("a") == NOW_DT - timedelta(days=30)
        assert store.inactive_since(NOW_DT - timedelta(days=5)) == ["a", "b"]  # oldest first
        assert store.inactive_since(NOW_DT - timedelta(days=5), limit=1) == ["a"]
        store.forget("a")
        store.forget("a")  # idempotent
        assert store.last_active("a") is None
        assert store.inactive_since(NOW_DT + timedelta(days=1)) == ["b", "c"]
    finally:
        engine.dispose()


def test_purge_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDBRINGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BUDBRINGER_NOW", NOW)
    from assistant.settings import get_settings

    get_settings.cache_clear()
    container = Container.build(get_settings())
    try:
        container.conversations.start("c_old", "da")
        container.conversations.start("c_new", "da")
        assert container.conversations.activity is not None
        container.conversations.activity.touch("c_old", NOW_DT - timedelta(days=120))
    finally:
        container.close()

    runner = CliRunner()
    dry = runner.invoke(cli_app, ["purge", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 1 conversation(s)" in dry.output and "c_old" in dry.output
    done = runner.invoke(cli_app, ["purge"])
    assert done.exit_code == 0, done.output
    assert "deleted 1 conversation(s)" in done.output
    again = runner.invoke(cli_app, ["purge"])
    assert "deleted 0 conversation(s)" in again.output

    get_settings.cache_clear()
    container = Container.build(get_settings())
    try:
        assert not container.conversations.exists("c_old")
        assert container.conversations.exists("c_new")
    finally:
        container.close()
