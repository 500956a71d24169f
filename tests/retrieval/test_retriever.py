"""`HybridRetriever` over the real help centre (built once per session) and a small index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.embedding import E5Embedder
from assistant.settings import Settings
from knowledge.reindex import Reindexer
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.lexical import encode_query
from retrieval.retriever import HybridRetriever, Thresholds, load_thresholds, make_retriever
from tests.kb_index import CONTENT, FullIndex


def test_answers_in_the_customers_language_with_citations(full_index: FullIndex) -> None:
    result = full_index.retriever.search("hvor meget koster told og moms på en pakke fra usa", "da")
    assert not result.abstained and not result.fell_back
    assert result.language == "da"
    top = result.passages[0]
    assert top.article_id == "customs-and-vat"
    assert (top.language, top.title) == ("da", "Skal jeg betale told og moms af min pakke?")
    assert top.snippet and top.snippet[:20] in top.text
    assert top.source_path == "da/customs-and-vat.md" and top.updated is not None
    assert result.top_score > 0.8


def test_at_most_one_chunk_per_article(full_index: FullIndex) -> None:
    query = "hvordan returnerer jeg en pakke og hvornår får jeg pengene tilbage"
    raw = full_index.store.query(
        full_index.embedder.embed_query(query), encode_query(query, "da"), "da", limit=20
    )
    raw_articles = [h.payload["article_id"] for h in raw]
    assert len(raw_articles) > len(set(raw_articles))  # the store does return sibling chunks
    result = full_index.retriever.search(query, "da", limit=5)
    articles = [p.article_id for p in result.passages]
    assert len(articles) == len(set(articles)) == 5


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("qwpoeiru zxmcnv asdlkj", "en"),
        ("opskrift på æbleskiver med kardemomme", "da"),
        ("vem vann melodifestivalen", "sv"),
    ],
)
def test_abstains_on_nonsense_and_off_topic_questions(
    full_index: FullIndex, query: str, language: str
) -> None:
    result = full_index.retriever.search(query, language)
    assert result.abstained and result.passages == ()
    assert 0.0 < result.top_score < 1.0


def test_a_precomputed_vector_is_used_and_repeated_queries_hit_the_cache(
    full_index: FullIndex,
) -> None:
    embedder = full_index.embedder
    vector = embedder.embed_query("kan pakken stilles ved døren")
    calls, hits = embedder.query_calls, embedder.cache_hits
    full_index.retriever.search("kan pakken stilles ved døren", "da", query_vector=vector)
    assert (embedder.query_calls, embedder.cache_hits) == (calls, hits)
    full_index.retriever.search("kan pakken stilles ved døren", "da")
    assert embedder.query_calls == calls and embedder.cache_hits == hits + 1


def test_unknown_language_is_searched_in_english(full_index: FullIndex) -> None:
    result = full_index.retriever.search("how do I return a parcel to the shop", "de")
    assert result.language == "en" and result.passages[0].article_id == "returns"


def test_falls_back_to_english_when_the_language_has_nothing_relevant(
    tmp_path: Path, e5: E5Embedder, copy_content: Callable[..., Path]
) -> None:
    content = copy_content("en/customs-and-vat", "en/returns", "da/privacy")
    state = tmp_path / "knowledge"
    assert Reindexer(EdgeKnowledgeStore(state), e5, content, state).run().switched
    retriever = HybridRetriever(EdgeKnowledgeStore(state), e5)
    result = retriever.search("skal jeg betale told og moms når jeg bestiller fra usa", "da")
    assert result.fell_back and not result.abstained
    assert result.language == "en" and result.passages[0].article_id == "customs-and-vat"
    answered = retriever.search("hvor længe gemmer I mine personoplysninger", "da")
    assert not answered.fell_back and answered.passages[0].article_id == "privacy"


def test_empty_store_abstains_quietly(tmp_path: Path, e5: E5Embedder) -> None:
    retriever = HybridRetriever(EdgeKnowledgeStore(tmp_path / "knowledge"), e5)
    result = retriever.search("hvor er min pakke", "da")
    assert result.abstained and result.passages == () and result.top_score == 0.0


def test_thresholds_file_covers_every_language() -> None:
    thresholds = load_thresholds()
    assert {"default", "da", "sv", "nb", "fi", "en"} <= set(thresholds)
    assert all(isinstance(t, Thresholds) and 0.5 < t.min_score < 1.0 for t in thresholds.values())


def test_make_retriever_builds_the_embedded_store_under_the_data_dir(
    tmp_path: Path, e5: E5Embedder
) -> None:
    retriever = make_retriever(Settings(data_dir=tmp_path), e5)
    assert isinstance(retriever, HybridRetriever)
    assert isinstance(retriever.store, EdgeKnowledgeStore)
    assert retriever.store.root == tmp_path / "knowledge"


@pytest.fixture
def copy_content(tmp_path: Path) -> Callable[..., Path]:
    def copy(*keys: str) -> Path:
        root = tmp_path / "content"
        for key in keys:
            target = root / f"{key}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((CONTENT / f"{key}.md").read_bytes())
        return root

    return copy
