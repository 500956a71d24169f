"""Settings come from BUDBRINGER_* variables (DESIGN §2); the clock honours BUDBRINGER_NOW."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.clock import FrozenClock, SystemClock
from assistant.settings import DEMO_SEED, Settings, get_settings


def test_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDBRINGER_DATA_DIR")
    settings = Settings()
    assert settings.data_dir == Path(".budbringer")
    assert settings.carrier_seed == DEMO_SEED
    assert settings.qdrant_url is None and settings.database_url is None
    assert not settings.llm.configured
    assert settings.sql_url == "sqlite:///.budbringer/budbringer.db"
    assert isinstance(settings.make_clock(), SystemClock)
    assert settings.resolved_knowledge_dir.is_dir()


def test_contract_names_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BUDBRINGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BUDBRINGER_CARRIER_SEED", str(tmp_path / "seed"))
    monkeypatch.setenv("BUDBRINGER_NOW", "2026-11-23T12:00:00+01:00")
    monkeypatch.setenv("BUDBRINGER_KNOWLEDGE_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("BUDBRINGER_QDRANT_URL", "http://127.0.0.1:6333")
    monkeypatch.setenv("BUDBRINGER_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    monkeypatch.setenv("BUDBRINGER_LLM__BASE_URL", "http://127.0.0.1:9000/v1")
    monkeypatch.setenv("BUDBRINGER_LLM__API_KEY", "sk-local")
    monkeypatch.setenv("BUDBRINGER_LLM__MODEL", "scripted")
    monkeypatch.setenv("BUDBRINGER_AGENT_KEYS", "agent-1, agent-2")
    monkeypatch.setenv("BUDBRINGER_ADMIN_KEYS", "admin-1")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.data_dir == tmp_path
    assert settings.carrier_seed == tmp_path / "seed"
    assert settings.now == datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert settings.knowledge_dir == tmp_path / "kb"
    assert settings.qdrant_url == "http://127.0.0.1:6333"
    assert settings.sql_url == "postgresql+psycopg://u@127.0.0.1/db"
    assert settings.llm.configured and settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == "sk-local"
    assert "sk-local" not in repr(settings)
    assert settings.agent_keys == ["agent-1", "agent-2"]
    assert settings.admin_keys == ["admin-1"]
    assert settings.make_clock().now() == settings.now


def test_now_without_offset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDBRINGER_NOW", "2026-11-23T12:00:00")
    with pytest.raises(ValidationError, match="needs an offset"):
        Settings()


def test_get_settings_is_cached() -> None:
    assert get_settings() is get_settings()


def test_frozen_clock_moves_only_when_told() -> None:
    start = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    clock = FrozenClock(start)
    assert clock.now() == start
    clock.advance(timedelta(minutes=15))
    assert clock.now() == start + timedelta(minutes=15)
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 11, 23, 11, 0))
