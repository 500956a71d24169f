"""`E5Embedder`: the bundled model, the query cache and thread safety."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

from assistant.embedding import E5Embedder, HashingEmbedder


def _norm(vector: object) -> float:
    return math.sqrt(sum(x * x for x in vector))  # type: ignore[attr-defined]


def test_queries_and_passages_are_normalised_384_dimensional_vectors(e5: E5Embedder) -> None:
    query = e5.embed_query("hvor er min pakke")
    passages = e5.embed_passages(
        ["Pakken er på vej.", "Paketet är på väg.", "Paketti on matkalla."]
    )
    assert e5.dimension == len(query) == 384
    assert len(passages) == 3 and all(len(p) == 384 for p in passages)
    assert abs(_norm(query) - 1.0) < 1e-3
    assert e5.embed_passages([]) == []


def test_query_embeddings_are_cached_so_a_turn_embeds_once() -> None:
    embedder = E5Embedder(cache_size=2)
    first = embedder.embed_query("hvor er min pakke")
    assert embedder.query_calls == 1
    assert embedder.embed_query("hvor er min pakke") == first
    assert (embedder.query_calls, embedder.cache_hits) == (1, 1)
    embedder.embed_query("a")
    embedder.embed_query("b")  # evicts the least recently used entry
    embedder.embed_query("hvor er min pakke")
    assert embedder.query_calls == 4


def test_concurrent_callers_get_the_same_vectors_as_sequential_ones(e5: E5Embedder) -> None:
    texts = [f"spørgsmål nummer {i} om pakker" for i in range(8)]
    sequential = [E5Embedder().embed_query(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(e5.embed_query, texts))
    for a, b in zip(sequential, concurrent, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5


def test_hashing_twin_is_deterministic_and_counts_calls() -> None:
    twin = HashingEmbedder()
    assert twin.embed_query("pakke") == twin.embed_query("pakke")
    twin.embed_passages(["a", "b"])
    assert (twin.query_calls, twin.passage_calls, twin.passages_embedded) == (2, 1, 2)
