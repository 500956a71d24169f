"""`ServerKnowledgeStore`: the scale adapter, a Qdrant server (or cluster) through qdrant-client.

One collection per version (`budbringer_kb_v<N>`) and the alias `budbringer_kb` naming the live
one; switching is one `update_collection_aliases` call, atomic on the server. Readers always
query the alias, so they follow a switch with no work of their own.

`QdrantClient(":memory:")` stands in for a server in tests: the same calls, brute-force search.
Local mode warns about payload indexes and search parameters it ignores, so those are sent to
real servers only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from retrieval.lexical import LexicalVectors, SparseVec
from retrieval.store import (
    DENSE,
    GRAMS,
    PREFETCH_FACTOR,
    RRF_K,
    SPARSE,
    ChunkPoint,
    SearchMode,
    StoreHit,
    plan,
    ranked,
)

__all__ = ["ALIAS", "ServerKnowledgeStore"]

ALIAS = "budbringer_kb"
_VERSION_RE = re.compile(rf"^{ALIAS}_v(\d+)$")


def _sparse(vector: SparseVec) -> qm.SparseVector:
    return qm.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _number(name: str) -> int:
    match = _VERSION_RE.match(name)
    return int(match.group(1)) if match else -1


class ServerKnowledgeStore:
    """Versioned knowledge index as Qdrant collections behind an alias."""

    def __init__(self, client: QdrantClient, *, alias: str = ALIAS) -> None:
        self.client = client
        self.alias = alias
        self._local = client.init_options.get("location") == ":memory:" or bool(
            client.init_options.get("path")
        )

    def versions(self) -> list[str]:
        names = [c.name for c in self.client.get_collections().collections]
        return sorted((n for n in names if _VERSION_RE.match(n)), key=_number)

    def live_version(self) -> str | None:
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.alias:
                return alias.collection_name
        return None

    def create_version(self, dimension: int) -> str:
        number = max([0, *(_number(n) for n in self.versions())]) + 1
        name = f"{self.alias}_v{number}"
        self.client.create_collection(
            name,
            vectors_config={DENSE: qm.VectorParams(size=dimension, distance=qm.Distance.COSINE)},
            sparse_vectors_config={
                name: qm.SparseVectorParams(modifier=qm.Modifier.IDF) for name in (SPARSE, GRAMS)
            },
        )
        if not self._local:
            for key in ("language", "article_id"):
                self.client.create_payload_index(name, key, qm.PayloadSchemaType.KEYWORD)
        return name

    def upsert(self, version: str, points: Sequence[ChunkPoint]) -> None:
        batch: list[qm.PointStruct] = []
        for point in points:
            vector: dict[str, Any] = {
                DENSE: list(point.dense),
                SPARSE: _sparse(point.lexical.words),
                GRAMS: _sparse(point.lexical.grams),
            }
            batch.append(qm.PointStruct(id=point.id, vector=vector, payload=dict(point.payload)))
            if len(batch) >= 256:
                self.client.upsert(version, batch, wait=True)
                batch = []
        if batch:
            self.client.upsert(version, batch, wait=True)

    def finish_version(self, version: str) -> None:
        """Nothing to release: the server owns durability and indexing."""

    def count_by_language(self, version: str | None = None) -> dict[str, int]:
        name = version or self.live_version()
        if name is None:
            return {}
        response = self.client.facet(name, "language", limit=100, exact=True)
        return {str(hit.value): int(hit.count) for hit in response.hits}

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
    ) -> list[StoreHit]:
        sources = plan(dense, lexical, mode)
        if not sources:
            return []
        name = version or self.alias
        flt = qm.Filter(
            must=[qm.FieldCondition(key="language", match=qm.MatchValue(value=language))]
        )
        idf = qm.SearchParams(idf=qm.IdfCorpusParams(corpus=flt))

        def nearest(using: str, vector: Any) -> tuple[Any, qm.SearchParams | None]:
            if using == DENSE:
                return list(vector), None
            return _sparse(vector), idf

        options: dict[str, Any] = {
            "query_filter": flt,
            "limit": limit,
            "with_payload": True,
            "with_vectors": [DENSE] if with_vectors else False,
        }
        if len(sources) == 1:
            using, vector = sources[0]
            query, params = nearest(using, vector)
            response = self.client.query_points(
                name, query=query, using=using, search_params=params, **options
            )
        else:
            depth = max(limit * PREFETCH_FACTOR, 20)
            prefetch = []
            for using, vector in sources:
                query, params = nearest(using, vector)
                prefetch.append(
                    qm.Prefetch(query=query, using=using, filter=flt, limit=depth, params=params)
                )
            response = self.client.query_points(
                name, prefetch=prefetch, query=qm.RrfQuery(rrf=qm.Rrf(k=RRF_K)), **options
            )
        hits = []
        for p in response.points:
            stored: Any = p.vector.get(DENSE) if isinstance(p.vector, dict) else None
            hits.append(
                StoreHit(
                    id=str(p.id),
                    score=float(p.score),
                    payload=dict(p.payload or {}),
                    dense=tuple(float(x) for x in stored) if isinstance(stored, list) else None,
                )
            )
        return ranked(hits)

    def activate(self, version: str) -> None:
        operations: list[Any] = []
        if self.live_version() is not None:
            operations.append(
                qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=self.alias))
            )
        operations.append(
            qm.CreateAliasOperation(
                create_alias=qm.CreateAlias(collection_name=version, alias_name=self.alias)
            )
        )
        self.client.update_collection_aliases(change_aliases_operations=operations)

    def drop_version(self, version: str) -> None:
        self.client.delete_collection(version)

    def close(self) -> None:
        self.client.close()
