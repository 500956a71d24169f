"""Versioned reindex: switch, incremental, failed checks, rollback, the lock, live queries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from assistant.embedding import HashingEmbedder
from knowledge.reindex import NothingToRollBack, Reindexer, ReindexInProgress
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.lexical import encode_query
from retrieval.server_store import ServerKnowledgeStore

ARTICLES = ("en/returns", "en/privacy", "en/customs-and-vat", "da/returns", "da/privacy")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "data" / "knowledge"


@pytest.fixture
def reindexer(
    content_dir: Path, state: Path, embedder: HashingEmbedder, copy_real: Callable[..., None]
) -> Reindexer:
    copy_real(*ARTICLES)
    return Reindexer(EdgeKnowledgeStore(state), embedder, content_dir, state)


def _ids(store: EdgeKnowledgeStore, embedder: HashingEmbedder, text: str, lang: str) -> list[str]:
    hits = store.query(embedder.embed_query(text), encode_query(text, lang), lang, limit=10)
    return [str(h.payload["article_id"]) for h in hits]


def test_first_reindex_builds_checks_and_switches(reindexer: Reindexer, state: Path) -> None:
    phases: list[str] = []
    report = reindexer.run(progress=lambda phase, done, total: phases.append(phase))
    assert report.switched and report.checks_passed and not report.failed
    assert report.mode == "full" and report.previous_version is None
    assert report.counts["en"] > 0 and report.counts["da"] > 0
    assert sorted(report.added) == sorted(ARTICLES)
    assert report.embedded_chunks == sum(report.counts.values()) and report.reused_chunks == 0
    assert (state / "CURRENT").read_text().strip() == report.version
    assert report.version is not None and report.version.startswith("v1-")
    assert {"read", "embed", "write", "check", "switch"} <= set(phases)
    reader = EdgeKnowledgeStore(state)
    assert reader.count_by_language() == report.counts
    reader.close()


def test_incremental_reindex_embeds_only_the_changed_article(
    reindexer: Reindexer, content_dir: Path, embedder: HashingEmbedder
) -> None:
    first = reindexer.run()
    assert reindexer.run().message.startswith("nothing changed")
    embedder.passages_embedded = 0
    path = content_dir / "da" / "privacy.md"
    path.write_text(path.read_text() + "\nEn ny sætning om cookies på hjemmesiden.\n")
    (content_dir / "en" / "customs-and-vat.md").unlink()

    report = reindexer.run()
    assert report.mode == "incremental" and report.switched
    assert report.changed == ["da/privacy"] and report.deleted == ["en/customs-and-vat"]
    assert report.embedded_chunks == embedder.passages_embedded + _phrases(path) > 0
    assert report.reused_chunks > 0
    assert report.counts["da"] == first.counts["da"]
    assert report.counts["en"] < first.counts["en"]


def _phrases(path: Path) -> int:
    """Search phrases in an article's front matter (each is embedded as a query, not a passage)."""
    front = path.read_text(encoding="utf-8").split("---")[1]
    return sum(1 for line in front.splitlines() if line.strip().startswith("- "))


def test_zero_valid_articles_never_replace_the_live_version(
    reindexer: Reindexer, content_dir: Path, state: Path
) -> None:
    live = reindexer.run().version
    for path in content_dir.rglob("*.md"):
        path.write_text("no front matter any more")
    report = reindexer.run(full=True)
    assert not report.switched and report.failed
    assert "no valid articles" in report.message and len(report.skipped) == len(ARTICLES)
    assert (state / "CURRENT").read_text().strip() == live
    assert reindexer.store.versions() == [live]


def test_failing_checks_keep_the_live_version_serving(
    content_dir: Path, state: Path, embedder: HashingEmbedder, copy_real: Callable[..., None]
) -> None:
    copy_real(*ARTICLES)
    good = Reindexer(EdgeKnowledgeStore(state), embedder, content_dir, state)
    live = good.run().version
    bad = Reindexer(
        EdgeKnowledgeStore(state),
        embedder,
        content_dir,
        state,
        smoke_questions={"da": ("hvordan returnerer jeg", "no-such-article")},
    )
    report = bad.run(full=True)
    assert not report.switched and not report.checks_passed and report.failed
    assert any("no-such-article" in failure for failure in report.check_failures)
    assert f"{live} keeps serving" in report.message
    assert (state / "CURRENT").read_text().strip() == live
    assert bad.store.versions() == [live]


def test_rollback_switches_back_and_forth_and_old_versions_are_pruned(
    reindexer: Reindexer, content_dir: Path, state: Path
) -> None:
    with pytest.raises(NothingToRollBack):
        reindexer.rollback()
    v1 = reindexer.run().version
    v2 = reindexer.run(full=True).version
    v3 = reindexer.run(full=True).version
    assert reindexer.store.versions() == [v2, v3]
    assert reindexer.rollback() == (v2, v3)
    assert (state / "CURRENT").read_text().strip() == v2
    assert reindexer.rollback() == (v3, v2)
    assert v1 not in reindexer.store.versions()


def test_a_second_reindex_fails_while_one_runs(reindexer: Reindexer, state: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_progress(phase: str, done: int, total: int) -> None:
        started.set()
        release.wait(10)

    worker = threading.Thread(target=lambda: reindexer.run(progress=slow_progress))
    worker.start()
    try:
        assert started.wait(10)
        other = Reindexer(reindexer.store, reindexer.embedder, reindexer.content_dir, state)
        with pytest.raises(ReindexInProgress):
            other.run()
        with pytest.raises(ReindexInProgress):
            other.rollback()
    finally:
        release.set()
        worker.join(30)


def test_queries_never_fail_while_reindex_and_rollback_switch_versions(
    reindexer: Reindexer, state: Path, embedder: HashingEmbedder
) -> None:
    reindexer.run()
    reader = EdgeKnowledgeStore(state)  # the serving side: its own handle, like another process
    errors: list[BaseException] = []
    seen: set[str] = set()
    stop = threading.Event()
    queries = 0

    def loop() -> None:
        nonlocal queries
        while not stop.is_set():
            try:
                ids = _ids(reader, embedder, "returnere pakke til butikken", "da")
                assert ids and ids[0] == "returns", ids
                seen.add(str(reader.live_version()))
                queries += 1
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        for _ in range(2):
            assert reindexer.run(full=True).switched
            time.sleep(0.05)
        reindexer.rollback()
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
        reader.close()
    assert errors == []
    assert queries > 10
    assert len(seen) >= 2


def test_reindex_on_the_server_store_swaps_the_alias(
    content_dir: Path, tmp_path: Path, embedder: HashingEmbedder, copy_real: Callable[..., None]
) -> None:
    copy_real(*ARTICLES)
    store = ServerKnowledgeStore(QdrantClient(":memory:"))
    reindexer = Reindexer(store, embedder, content_dir, tmp_path / "state")
    first = reindexer.run()
    assert first.switched and first.version == "budbringer_kb_v1"
    second = reindexer.run(full=True)
    assert second.version == "budbringer_kb_v2" and store.live_version() == "budbringer_kb_v2"
    assert reindexer.rollback() == ("budbringer_kb_v1", "budbringer_kb_v2")
    assert store.count_by_language() == first.counts
    store.close()
