"""Ingestion: payloads, deterministic ids, and the embedding cache (nothing embedded twice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from knowledge_testkit import WriteArticle

from assistant.embedding import HashingEmbedder
from knowledge.embedding_cache import EmbeddingCache
from knowledge.ingest import build_points
from knowledge.readers import read_content
from knowledge.splitter import chunk_id


def test_points_carry_the_payload_a_citation_needs(
    write_article: WriteArticle, content_dir: Path, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    write_article("returns", "da", title="Retur")
    result = build_points(
        read_content(content_dir).articles, embedder, EmbeddingCache(tmp_path / "c")
    )
    assert result.points
    first = result.points[0]
    assert first.id == chunk_id("returns", "da", 0)
    assert set(first.payload) >= {
        "article_id", "language", "title", "tags", "updated", "source_path", "text", "chunk_index"
    }  # fmt: skip
    assert first.payload["updated"] == "2026-10-01"
    assert first.payload["source_path"] == "da/returns.md"
    assert [p.payload["chunk_index"] for p in result.points] == list(range(len(result.points)))
    assert len(first.dense) == embedder.dimension
    assert first.lexical.words and first.lexical.grams


def test_unchanged_articles_are_never_embedded_again(
    write_article: WriteArticle, content_dir: Path, tmp_path: Path
) -> None:
    write_article("returns", "en")
    write_article("privacy", "en")
    embedder = HashingEmbedder()
    cache_dir = tmp_path / "cache"
    cache = EmbeddingCache(cache_dir)
    first = build_points(read_content(content_dir).articles, embedder, cache)
    assert first.reused_chunks == 0
    assert embedder.passages_embedded == first.embedded_chunks > 0
    cache.save()

    # A new cache object (a later reindex, maybe another process) reads it from disk.
    embedder.passages_embedded = 0
    again = build_points(read_content(content_dir).articles, embedder, EmbeddingCache(cache_dir))
    assert embedder.passages_embedded == 0
    assert again.reused_chunks == first.embedded_chunks
    assert [p.id for p in again.points] == [p.id for p in first.points]
    assert np.allclose([p.dense for p in again.points], [p.dense for p in first.points], atol=1e-6)

    write_article("privacy", "en", body="A completely new privacy text. " * 30)
    changed = build_points(read_content(content_dir).articles, embedder, EmbeddingCache(cache_dir))
    privacy_chunks = sum(1 for p in changed.points if p.payload["article_id"] == "privacy")
    assert changed.embedded_chunks == privacy_chunks == embedder.passages_embedded
    assert changed.reused_chunks == sum(
        1 for p in changed.points if p.payload["article_id"] == "returns"
    )


def test_search_phrases_become_points_that_cite_the_article(
    content_dir: Path, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    path = content_dir / "en" / "returns.md"
    path.parent.mkdir(parents=True)
    body = "Return a parcel to the shop with the shop's label. " * 12
    path.write_text(
        "---\nid: returns\ntitle: Returning a parcel\nlanguage: en\ntags: [returns]\n"
        'questions:\n  - "how do i send stuff back"\n  - "return label lost"\nupdated: 2026-10-01\n---\n'
        + body,
        encoding="utf-8",
    )
    article = read_content(content_dir).articles[0]
    assert article.questions == ("how do i send stuff back", "return label lost")
    result = build_points([article], embedder, EmbeddingCache(tmp_path / "c"))
    phrases = [p for p in result.points if p.payload.get("kind") == "question"]
    assert [p.payload["question"] for p in phrases] == list(article.questions)
    lead = next(p for p in result.points if p.payload["chunk_index"] == 0)
    assert all(p.payload["text"] == lead.payload["text"] for p in phrases), (
        "a phrase hit quotes the article"
    )
    assert phrases[0].id == chunk_id("returns", "en", 1000)
    assert np.allclose(
        phrases[0].dense, embedder.embed_query("how do i send stuff back"), atol=1e-6
    )


def test_search_phrases_must_be_a_list_of_strings(content_dir: Path) -> None:
    path = content_dir / "en" / "returns.md"
    path.parent.mkdir(parents=True)
    path.write_text(
        "---\nid: returns\ntitle: Returning a parcel\nlanguage: en\nquestions: 5\n---\n"
        + "Text. " * 50,
        encoding="utf-8",
    )
    read = read_content(content_dir)
    assert not read.articles
    assert "questions must be a list" in str(read.skipped[0])


def test_search_phrases_are_not_embedded_again_by_the_next_reindex(
    content_dir: Path, tmp_path: Path
) -> None:
    """Regression: the cache clean-up dropped the phrases' vectors, so every reindex re-embedded them."""
    from knowledge.reindex import Reindexer
    from retrieval.edge_store import EdgeKnowledgeStore

    for language in ("en", "da"):
        path = content_dir / language / "returns.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"---\nid: returns\ntitle: Returns {language}\nlanguage: {language}\n"
            'questions:\n  - "send it back"\n  - "return label"\n---\n'
            + "Return it with the label. "
            * 20,
            encoding="utf-8",
        )
    embedder = HashingEmbedder()
    state = tmp_path / "state"
    Reindexer(EdgeKnowledgeStore(state), embedder, content_dir, state).run(
        full=True, check_only=False
    )
    again = Reindexer(EdgeKnowledgeStore(state), embedder, content_dir, state).run(full=True)
    assert again.embedded_chunks == 0
    assert again.reused_chunks > 0
