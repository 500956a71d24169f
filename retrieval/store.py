"""`KnowledgeStore`: the port between the knowledge base and Qdrant, with its shared vocabulary.

Two adapters implement it: `EdgeKnowledgeStore` (qdrant-edge in-process, one shard folder per
version, a `CURRENT` pointer file) and `ServerKnowledgeStore` (qdrant-client, one collection per
version, an alias). Both run the hybrid query as one Query API call: a dense prefetch and a BM25
sparse prefetch, each filtered by language, fused with reciprocal rank fusion.

A *version* is a complete, immutable index of the help centre. The write side (`knowledge/`)
creates one, fills it, checks it and activates it; the read side queries the live one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from retrieval.lexical import LexicalVectors, SparseVec

__all__ = [
    "DENSE",
    "GRAMS",
    "PREFETCH_FACTOR",
    "RRF_K",
    "SPARSE",
    "ChunkPoint",
    "KnowledgeStore",
    "SearchMode",
    "StoreHit",
    "cosine",
    "plan",
    "ranked",
]

DENSE = "dense"
SPARSE = "bm25"
GRAMS = "grams"
# RRF constant shared by both adapters; small because each list holds a few dozen candidates.
RRF_K = 10
# How many candidates each prefetch hands to the fusion, as a multiple of the final limit.
PREFETCH_FACTOR = 4

SearchMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class ChunkPoint:
    """One chunk ready for the store: a UUID id, the dense and lexical vectors and the payload."""

    id: str
    dense: Sequence[float]
    lexical: LexicalVectors
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class StoreHit:
    """One scored chunk; `dense` is the stored dense vector when asked for (second signal)."""

    id: str
    score: float
    payload: Mapping[str, Any]
    dense: tuple[float, ...] | None = field(default=None, repr=False)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; e5 vectors are normalised, but stored vectors need not be."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb) if na and nb else 0.0


def plan(
    dense: Sequence[float], lexical: LexicalVectors, mode: SearchMode
) -> list[tuple[str, Sequence[float] | SparseVec]]:
    """The (vector name, query vector) lists a query fuses; one entry means no fusion.

    Both adapters build their native requests from this, so they ask Qdrant the same thing.
    """
    sources: list[tuple[str, Sequence[float] | SparseVec]] = []
    if mode in ("hybrid", "dense"):
        sources.append((DENSE, dense))
    if mode in ("hybrid", "lexical"):
        sources.extend(
            (name, vec) for name, vec in ((SPARSE, lexical.words), (GRAMS, lexical.grams)) if vec
        )
    return sources


def ranked(hits: list[StoreHit]) -> list[StoreHit]:
    """Best first, ties broken by id: RRF often ties, and engines order ties differently."""
    return sorted(hits, key=lambda h: (-round(h.score, 9), h.id))


@runtime_checkable
class KnowledgeStore(Protocol):
    """Versioned hybrid index of help-centre chunks.

    Versions are named by the adapter (`v3-20261122T101500` on Edge, `budbringer_kb_v3` on a
    server); `versions()` lists them oldest first. Queries go to the live version unless a
    `version` is named (the reindex checks a new version before activating it).
    """

    def create_version(self, dimension: int) -> str:
        """A new, empty version for dense vectors of `dimension`; returns its name."""

    def upsert(self, version: str, points: Sequence[ChunkPoint]) -> None: ...

    def finish_version(self, version: str) -> None:
        """Make everything written durable and release the writer's hold on it."""

    def count_by_language(self, version: str | None = None) -> dict[str, int]: ...

    def query(
        self,
        dense: Sequence[float],
        lexical: LexicalVectors,
        language: str,
        *,
        limit: int,
        version: str | None = None,
        mode: SearchMode = "hybrid",
        with_vectors: bool = False,
    ) -> list[StoreHit]: ...

    def live_version(self) -> str | None: ...

    def versions(self) -> list[str]: ...

    def activate(self, version: str) -> None:
        """Atomically make `version` the one every reader queries."""

    def drop_version(self, version: str) -> None: ...

    def close(self) -> None: ...
