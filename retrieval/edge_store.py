"""`EdgeKnowledgeStore`: the embedded adapter, Qdrant Edge shards on disk under `<data_dir>/knowledge/`.

Layout: one shard folder per version (`v<N>-<timestamp>/`) and a `CURRENT` file naming the live
one, replaced atomically (temp file + `os.replace`). A shard folder may be open in one process
only (its WAL is locked), so:

- the writer (a reindex, maybe in another process) only ever opens the folder it is building,
  and closes it *before* it writes the pointer;
- readers stat `CURRENT` on every query (a few microseconds); when it changed they open the new
  shard, swap the reference, and close the old one once its last in-flight query has finished
  (reference counting), so no query ever sees a closed shard.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from assistant.errors import ConfigurationError
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

__all__ = ["EdgeKnowledgeStore"]

log = logging.getLogger(__name__)

POINTER = "CURRENT"
_VERSION_RE = re.compile(r"^v(\d+)-[0-9T]+$")
_RETRY_OPEN_S = 0.5


class _Handle:
    """An open shard and the number of queries using it right now."""

    __slots__ = ("retired", "shard", "users", "version")

    def __init__(self, version: str, shard: Any) -> None:
        self.version = version
        self.shard = shard
        self.users = 0
        self.retired = False


def _rrf() -> Any:
    # The stub types Fusion.Rrf as a nested class, not a Fusion: keep mypy out of it.
    return qe.Fusion.Rrf(k=RRF_K)


def _sparse(vector: SparseVec) -> Any:
    return qe.SparseVector(list(vector.indices), list(vector.values))


def _version_number(name: str) -> int:
    match = _VERSION_RE.match(name)
    return int(match.group(1)) if match else -1


class EdgeKnowledgeStore:
    """Versioned knowledge index in Qdrant Edge shards.

    Args:
        root: the folder holding version folders and `CURRENT` (`<data_dir>/knowledge`).
        exact: exact (brute-force) dense search; False builds HNSW with `optimize()` when a
            version is finished (worth it only well above ~50k chunks).
    """

    def __init__(self, root: Path, *, exact: bool = True) -> None:
        self.root = Path(root)
        self.exact = exact
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._live: _Handle | None = None
        self._seen: tuple[int, int, int] | None = None
        self._next_try = 0.0
        self._aux: dict[str, Any] = {}

    # -- versions ---------------------------------------------------------------------------

    def _config(self, dimension: int) -> Any:
        hnsw = None
        optimizers = None
        if not self.exact:
            hnsw = qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=1000)
            optimizers = qe.EdgeOptimizersConfig(indexing_threshold=100)
        return qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={
                name: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)
                for name in (SPARSE, GRAMS)
            },
            hnsw_config=hnsw,
            optimizers=optimizers,
        )

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = [
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and _VERSION_RE.match(p.name) and (p / "edge_config.json").exists()
        ]
        return sorted(names, key=_version_number)

    def live_version(self) -> str | None:
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if name and (self.root / name).is_dir() else None

    def create_version(self, dimension: int) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        taken = [_version_number(p.name) for p in self.root.iterdir() if p.is_dir()]
        number = max([0, *taken]) + 1
        name = f"v{number}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        shard = qe.EdgeShard.create(str(self.root / name), self._config(dimension))
        shard.update(
            qe.UpdateOperation.create_field_index("language", qe.PayloadSchemaType.Keyword)
        )
        shard.update(
            qe.UpdateOperation.create_field_index("article_id", qe.PayloadSchemaType.Keyword)
        )
        with self._lock:
            self._aux[name] = shard
        return name

    def upsert(self, version: str, points: Sequence[ChunkPoint]) -> None:
        shard = self._aux_shard(version)
        batch: list[Any] = []
        for point in points:
            vectors = {
                DENSE: list(point.dense),
                SPARSE: _sparse(point.lexical.words),
                GRAMS: _sparse(point.lexical.grams),
            }
            batch.append(qe.Point(point.id, vectors, dict(point.payload)))
            if len(batch) >= 256:
                shard.update(qe.UpdateOperation.upsert_points(batch))
                batch = []
        if batch:
            shard.update(qe.UpdateOperation.upsert_points(batch))

    def finish_version(self, version: str) -> None:
        shard = self._aux_shard(version)
        shard.flush()
        if not self.exact:
            shard.optimize()
            shard.flush()

    def activate(self, version: str) -> None:
        if not (self.root / version).is_dir():
            raise ConfigurationError(f"knowledge version {version} does not exist in {self.root}")
        # The folder must be free before readers (maybe in another process) try to open it.
        self._close_aux(version)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{POINTER}.{os.getpid()}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(version + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / POINTER)

    def drop_version(self, version: str) -> None:
        with self._lock:
            if self._live is not None and self._live.version == version:
                raise ConfigurationError(f"refusing to drop {version}: this process serves it")
        self._close_aux(version)
        shutil.rmtree(self.root / version, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            aux, self._aux = self._aux, {}
            live, self._live = self._live, None
        for shard in aux.values():
            shard.close()
        if live is not None:
            self._retire(live)

    # -- reading ----------------------------------------------------------------------------

    def count_by_language(self, version: str | None = None) -> dict[str, int]:
        def run(shard: Any) -> dict[str, int]:
            response = shard.facet(qe.FacetRequest(key="language", limit=100, exact=True))
            return {str(hit.value): int(hit.count) for hit in response.hits}

        counts: dict[str, int] = self._with_shard(version, run, default={})
        return counts

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
        flt = qe.Filter(must=[qe.FieldCondition("language", match=qe.MatchValue(language))])
        # IDF over the language's own chunks: a word common in Danish says little in Danish.
        idf = qe.SearchParams(idf=qe.IdfParams(corpus=flt))
        exact = qe.SearchParams(exact=self.exact)

        def nearest(name: str, vector: Any) -> tuple[Any, Any]:
            if name == DENSE:
                return qe.Query.Nearest(list(vector), using=DENSE), exact
            return qe.Query.Nearest(_sparse(vector), using=name), idf

        options: dict[str, Any] = {
            "filter": flt,
            "with_payload": True,
            "with_vector": [DENSE] if with_vectors else False,
        }
        if len(sources) == 1:
            query, params = nearest(*sources[0])
            request = qe.QueryRequest(limit=limit, query=query, params=params, **options)
        else:
            depth = max(limit * PREFETCH_FACTOR, 20)
            prefetches = []
            for name, vector in sources:
                query, params = nearest(name, vector)
                prefetches.append(qe.Prefetch(limit=depth, query=query, params=params, filter=flt))
            request = qe.QueryRequest(limit=limit, prefetches=prefetches, query=_rrf(), **options)
        points: list[Any] = self._with_shard(version, lambda s: s.query(request), default=[])
        hits = []
        for p in points:
            stored = p.vector.get(DENSE) if isinstance(p.vector, dict) else None
            hits.append(
                StoreHit(
                    id=str(p.id),
                    score=float(p.score),
                    payload=dict(p.payload or {}),
                    dense=tuple(stored) if stored is not None else None,
                )
            )
        return ranked(hits)

    # -- handles ----------------------------------------------------------------------------

    def _with_shard(self, version: str | None, run: Any, default: Any) -> Any:
        if version is not None and version != self._live_name():
            return run(self._aux_shard(version))
        handle = self._acquire_live()
        if handle is None:
            return default
        try:
            return run(handle.shard)
        finally:
            self._release(handle)

    def _live_name(self) -> str | None:
        live = self._live
        return live.version if live is not None else None

    def _aux_shard(self, version: str) -> Any:
        with self._lock:
            shard = self._aux.get(version)
            if shard is None:
                if not (self.root / version).is_dir():
                    raise ConfigurationError(f"knowledge version {version} does not exist")
                shard = qe.EdgeShard.load(str(self.root / version))
                self._aux[version] = shard
            return shard

    def _close_aux(self, version: str) -> None:
        with self._lock:
            shard = self._aux.pop(version, None)
        if shard is not None:
            shard.close()

    def _pointer_signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.root / POINTER)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _acquire_live(self) -> _Handle | None:
        self._refresh()
        with self._lock:
            handle = self._live
            if handle is not None:
                handle.users += 1
            return handle

    def _release(self, handle: _Handle) -> None:
        with self._lock:
            handle.users -= 1
            done = handle.retired and handle.users == 0
        if done:
            handle.shard.close()
            log.info("closed knowledge version %s", handle.version)

    def _retire(self, handle: _Handle) -> None:
        with self._lock:
            handle.retired = True
            done = handle.users == 0
        if done:
            handle.shard.close()
            log.info("closed knowledge version %s", handle.version)

    def _refresh(self) -> None:
        signature = self._pointer_signature()
        if signature == self._seen or signature is None or time.monotonic() < self._next_try:
            return
        with self._open_lock:
            if self._pointer_signature() == self._seen:
                return
            version = self.live_version()
            current = self._live
            if version is not None and (current is None or current.version != version):
                try:
                    with self._lock:
                        shard = self._aux.pop(version, None)
                    if shard is None:
                        shard = qe.EdgeShard.load(str(self.root / version))
                except Exception:
                    # Keep serving what we have; the writer may still hold the folder.
                    log.exception("could not open knowledge version %s; retrying", version)
                    self._next_try = time.monotonic() + _RETRY_OPEN_S
                    return
                new = _Handle(version, shard)
                with self._lock:
                    old, self._live = self._live, new
                log.info("serving knowledge version %s", version)
                if old is not None:
                    self._retire(old)
            self._seen = signature
