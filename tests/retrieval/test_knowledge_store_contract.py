"""One contract for `KnowledgeStore`, run against Edge (tmp_path) and `QdrantClient(":memory:")`
(the server path's stand-in): same rankings, same filter semantics, same version handling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from assistant.embedding import HashingEmbedder
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.lexical import encode_document, encode_query
from retrieval.server_store import ServerKnowledgeStore
from retrieval.store import ChunkPoint, KnowledgeStore, SearchMode

EMBEDDER = HashingEmbedder(dimension=48)
CORPUS = [
    ("returns", "en", 0, "Return a parcel to the shop with the return label at any service point."),
    ("returns", "en", 1, "Refunds are handled by the shop once the return has arrived."),
    ("customs", "en", 0, "Parcels from outside the EU need customs clearance and VAT."),
    ("locker", "en", 0, "Open the parcel locker with the six digit pickup code."),
    ("returns", "da", 0, "Send en pakke retur til butikken med returlabelen i en pakkeshop."),
    ("customs", "da", 0, "Pakker fra lande uden for EU skal fortoldes, og du betaler moms."),
    ("locker", "da", 0, "Åbn pakkeboksen med den sekscifrede afhentningskode."),
    ("returns", "sv", 0, "Skicka tillbaka paketet till butiken med returetiketten hos ett ombud."),
]
QUERIES = [
    ("return label refund", "en"),
    ("customs VAT outside EU", "en"),
    ("pickup code locker", "en"),
    ("returlabel butikken", "da"),
    ("moms told", "da"),
    ("afhentningskoden pakkeboks", "da"),
    ("retur", "sv"),
]


def _points() -> list[ChunkPoint]:
    from uuid import NAMESPACE_URL, uuid5

    points = []
    for article, lang, index, text in CORPUS:
        points.append(
            ChunkPoint(
                id=str(uuid5(NAMESPACE_URL, f"{article}/{lang}/{index}")),
                dense=EMBEDDER.embed_passages([text])[0],
                lexical=encode_document(text, lang),
                payload={
                    "article_id": article,
                    "language": lang,
                    "chunk_index": index,
                    "text": text,
                },
            )
        )
    return points


def _make(kind: str, tmp_path: Path) -> KnowledgeStore:
    if kind == "edge":
        return EdgeKnowledgeStore(tmp_path / "knowledge")
    return ServerKnowledgeStore(QdrantClient(":memory:"))


def _loaded(kind: str, tmp_path: Path) -> tuple[KnowledgeStore, str]:
    store = _make(kind, tmp_path)
    version = store.create_version(EMBEDDER.dimension)
    store.upsert(version, _points())
    store.finish_version(version)
    store.activate(version)
    return store, version


@pytest.fixture(params=["edge", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[KnowledgeStore, str]]:
    loaded = _loaded(request.param, tmp_path)
    yield loaded
    loaded[0].close()


def _search(
    store: KnowledgeStore, text: str, lang: str, mode: SearchMode = "hybrid", **kw: object
) -> list[tuple[str, int]]:
    hits = store.query(
        EMBEDDER.embed_query(text),
        encode_query(text, lang),
        lang,
        limit=10,
        mode=mode,
        **kw,  # type: ignore[arg-type]
    )
    return [(str(h.payload["article_id"]), int(h.payload["chunk_index"])) for h in hits]


def test_versions_live_and_counts(store: tuple[KnowledgeStore, str]) -> None:
    kb, version = store
    assert kb.live_version() == version and kb.versions() == [version]
    assert kb.count_by_language() == {"en": 4, "da": 3, "sv": 1}
    assert kb.count_by_language(version) == {"en": 4, "da": 3, "sv": 1}


def test_the_language_filter_is_strict(store: tuple[KnowledgeStore, str]) -> None:
    kb, _ = store
    for mode in ("hybrid", "dense", "lexical"):
        assert {a for a, _ in _search(kb, "parcel pakke paket", "sv", mode)} <= {"returns"}
        hits = kb.query(EMBEDDER.embed_query("x"), encode_query("pakke", "da"), "da", limit=10)
        assert {h.payload["language"] for h in hits} == {"da"}
    assert _search(kb, "anything", "fi") == []


def test_the_right_chunk_comes_first(store: tuple[KnowledgeStore, str]) -> None:
    kb, _ = store
    assert _search(kb, "refund return", "en")[0][0] == "returns"
    assert _search(kb, "afhentningskoden pakkeboks", "da")[0] == ("locker", 0)
    assert _search(kb, "moms told EU", "da", "lexical")[0] == ("customs", 0)


def test_vectors_come_back_when_asked(store: tuple[KnowledgeStore, str]) -> None:
    kb, _ = store
    text = "return label"
    hits = kb.query(
        EMBEDDER.embed_query(text), encode_query(text, "en"), "en", limit=2, with_vectors=True
    )
    assert hits and all(h.dense is not None and len(h.dense) == EMBEDDER.dimension for h in hits)
    plain = kb.query(EMBEDDER.embed_query(text), encode_query(text, "en"), "en", limit=2)
    assert all(h.dense is None for h in plain)


def test_stop_words_only_still_gets_a_dense_answer(store: tuple[KnowledgeStore, str]) -> None:
    kb, _ = store
    empty = encode_query("", "en")
    assert not empty
    assert kb.query(EMBEDDER.embed_query("the"), empty, "en", limit=3, mode="lexical") == []
    assert len(kb.query(EMBEDDER.embed_query("the"), empty, "en", limit=3)) == 3


def test_new_version_switch_and_drop(store: tuple[KnowledgeStore, str]) -> None:
    kb, first = store
    second = kb.create_version(EMBEDDER.dimension)
    kb.upsert(second, _points()[:2])
    kb.finish_version(second)
    assert kb.live_version() == first
    assert kb.count_by_language(second) == {"en": 2}
    assert _search(kb, "customs", "en", version=second) != _search(kb, "customs", "en")
    kb.activate(second)
    assert kb.live_version() == second
    assert kb.count_by_language() == {"en": 2}
    kb.drop_version(first)
    assert kb.versions() == [second]


def test_edge_and_server_rank_identically(tmp_path: Path) -> None:
    edge, _ = _loaded("edge", tmp_path)
    memory, _ = _loaded("memory", tmp_path)
    try:
        for text, lang in QUERIES:
            for mode in ("hybrid", "dense", "lexical"):
                a = edge.query(
                    EMBEDDER.embed_query(text), encode_query(text, lang), lang, limit=5, mode=mode
                )
                b = memory.query(
                    EMBEDDER.embed_query(text), encode_query(text, lang), lang, limit=5, mode=mode
                )
                assert [h.id for h in a] == [h.id for h in b], (text, mode)
                assert [h.score for h in a] == pytest.approx([h.score for h in b], rel=1e-4), (
                    text,
                    mode,
                )
    finally:
        edge.close()
        memory.close()
