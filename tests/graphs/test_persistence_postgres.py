"""The conversation survives a restart on PostgreSQL too (skipped when PostgreSQL is absent)."""

from __future__ import annotations

from pathlib import Path

from api.container import build_checkpointer
from assistant.settings import Settings
from graphs.engine import ConversationEngine
from tests.graphs.conftest import Chat


def test_conversation_continues_after_a_restart_on_postgres(
    chat: Chat, postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    saver, pool = build_checkpointer(settings)
    try:
        first = ConversationEngine(chat.engine.context, saver)
        first.start("pg-1", "sv")
        first.turn("pg-1", "kan RR361920561SE lämnas vid dörren")
        assert first.turn("pg-1", "8000").awaiting == "confirmation"
    finally:
        pool.close()
    saver, pool = build_checkpointer(settings)
    try:
        second = ConversationEngine(chat.engine.context, saver)
        done = second.turn("pg-1", "ja")
        assert (done.flow, done.flow_status) == ("redirect_delivery", "completed")
        second.turn("pg-1", "tack")
        with pool.connection() as conn:
            count = conn.execute(
                "SELECT COUNT(*) AS n FROM checkpoints WHERE thread_id = 'pg-1'"
            ).fetchone()
        assert count["n"] == 1, "old checkpoints are pruned on PostgreSQL as well"
    finally:
        pool.close()


def test_sqlite_is_the_default_checkpointer(tmp_path: Path) -> None:
    saver, conn = build_checkpointer(Settings(data_dir=tmp_path))
    assert type(saver).__name__ == "SqliteSaver"
    assert (tmp_path / "conversations.db").exists()
    conn.close()
