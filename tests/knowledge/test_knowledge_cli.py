"""`budbringer reindex` / `rollback` through Typer, as content owners run them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.knowledge_cli import register
from assistant.settings import get_settings


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content_dir: Path
) -> Iterator[Callable[..., tuple[int, str]]]:
    monkeypatch.setenv("BUDBRINGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BUDBRINGER_KNOWLEDGE_DIR", str(content_dir))
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), terminal_width=200)
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()


def test_reindex_prints_the_report_and_rollback_switches_back(
    cli: Callable[..., tuple[int, str]], copy_real: Callable[..., None], content_dir: Path
) -> None:
    copy_real("en/returns", "sv/returns")
    (content_dir / "sv" / "trasig.md").write_text("---\nid: x\n---\n")
    code, out = cli("reindex")
    assert code == 0, out
    assert "v1-" in out and "is live" in out
    assert "sv/trasig.md" in out and "front matter lacks title, language" in out

    code, out = cli("reindex", "--check-only")
    assert code == 1 and "file(s) with problems" in out

    code, out = cli("reindex", "--full")
    assert code == 0 and "v2-" in out

    code, out = cli("rollback")
    assert code == 0 and "v1-" in out and "is live" in out


def test_reindex_exits_non_zero_when_nothing_could_be_switched(
    cli: Callable[..., tuple[int, str]], content_dir: Path
) -> None:
    (content_dir / "en").mkdir()
    (content_dir / "en" / "empty.md").write_text("")
    code, out = cli("reindex")
    assert code == 1
    assert "no valid articles" in out and "file is empty" in out
    code, out = cli("rollback")
    assert code == 2 and "no previous knowledge version" in out
