"""Fixtures for the write side: small content folders written per test, a hashing embedder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from knowledge_testkit import SOURCE, WriteArticle, article_md, long_body

from assistant.embedding import HashingEmbedder


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    return folder


@pytest.fixture
def write_article(content_dir: Path) -> WriteArticle:
    def write(
        article_id: str, language: str = "en", title: str | None = None, body: str | None = None
    ) -> Path:
        path = content_dir / language / f"{article_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            article_md(
                article_id,
                language,
                title or f"About {article_id.replace('-', ' ')}",
                body if body is not None else long_body(language),
            ),
            encoding="utf-8",
        )
        return path

    return write


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def copy_real(content_dir: Path) -> Callable[..., None]:
    """Copy real articles (`"da/returns"`, ...) into the test's content folder."""

    def copy(*keys: str) -> None:
        for key in keys:
            target = content_dir / f"{key}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((SOURCE / f"{key}.md").read_bytes())

    return copy
