"""A help-centre index built once and reused: by the eval runner, by pytest, by `make test`.

A full build embeds ~1 250 chunks (~75 s on 2 cores); the eval gate must run in well under that.
So the index is built into `.cache/kb-index/<key>/` where `key` hashes everything the index
depends on (the content files, the embedder id, the ingestion and store code). Another run with
the same key reuses it. A content change gives a new key; the new build starts from the newest
cached entry's embedding cache, so only changed articles are embedded again.

Qdrant Edge locks a shard folder for one process, so users never open the cached folder itself:
`checkout()` copies it (a few MB, milliseconds) into the caller's data dir. Builds take a file
lock, so concurrent pytest runs and eval runs in one checkout build once and never clash.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.ports import Embedder
from knowledge.ingest import Progress
from knowledge.reindex import Reindexer
from retrieval.edge_store import EdgeKnowledgeStore

__all__ = [
    "PROJECT_ROOT",
    "IndexBuildFailed",
    "checkout",
    "ensure_eta_model",
    "ensure_index",
    "index_key",
]

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = PROJECT_ROOT / ".cache" / "kb-index"
# Code whose change changes what an index holds (chunking, ids, lexical vectors, shard layout).
_INDEX_SOURCES = (
    "knowledge/readers.py",
    "knowledge/splitter.py",
    "knowledge/ingest.py",
    "retrieval/lexical.py",
    "retrieval/store.py",
    "retrieval/edge_store.py",
    "retrieval/text.py",
)
ETA_SOURCES = ("assistant/eta",)
_READY = "READY"
_KEEP = 3  # cached entries kept per cache folder (the newest)


class IndexBuildFailed(RuntimeError):
    """The help-centre content could not be indexed (the message says why)."""


def _hash_tree(digest: hashlib._Hash, root: Path, base: Path) -> None:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(base)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")


def index_key(content_dir: Path, embedder_id: str) -> str:
    """A short hash of the content, the embedder and the indexing code."""
    digest = hashlib.sha256(embedder_id.encode())
    _hash_tree(digest, Path(content_dir), Path(content_dir))
    for source in _INDEX_SOURCES:
        path = PROJECT_ROOT / source
        if path.exists():
            _hash_tree(digest, path, PROJECT_ROOT)
    return digest.hexdigest()[:16]


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _entries(cache: Path) -> list[Path]:
    ready = [p for p in cache.iterdir() if p.is_dir() and (p / _READY).exists()]
    return sorted(ready, key=lambda p: (p / _READY).stat().st_mtime, reverse=True)


def ensure_index(
    content_dir: Path,
    embedder_id: str,
    make_embedder: Callable[[], Embedder],
    *,
    cache_dir: Path = DEFAULT_CACHE,
    progress: Progress | None = None,
) -> Path:
    """The cached index state dir for this content and embedder; built first when missing.

    `make_embedder` is called only when a build is needed (loading a model costs time).

    The returned folder is what `Reindexer` keeps in `<data_dir>/knowledge`: shard folders, the
    `CURRENT` pointer, manifests and the embedding cache. Do not open it: `checkout()` a copy.
    """
    key = index_key(content_dir, embedder_id)
    target = cache_dir / key
    if (target / _READY).exists():
        return target
    with _file_lock(cache_dir / f"{key}.lock"):
        if (target / _READY).exists():  # another process built it while we waited
            return target
        building = cache_dir / f"{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        previous = _entries(cache_dir)
        if previous and (previous[0] / "embeddings").exists():
            # Unchanged articles keep their vectors: a content edit re-embeds only what changed.
            shutil.copytree(previous[0] / "embeddings", building / "embeddings")
        started = time.perf_counter()
        store = EdgeKnowledgeStore(building)
        try:
            report = Reindexer(store, make_embedder(), Path(content_dir), building).run(
                full=True, progress=progress
            )
        finally:
            store.close()
        if not report.switched:
            shutil.rmtree(building, ignore_errors=True)
            raise IndexBuildFailed(f"the help centre could not be indexed: {report.message}")
        (building / "reindex.lock").unlink(missing_ok=True)
        (building / _READY).write_text(f"{report.version}\n", encoding="utf-8")
        os.replace(building, target)
        log.info(
            "built help-centre index %s in %.1f s (%d chunks embedded, %d reused)",
            key, time.perf_counter() - started, report.embedded_chunks, report.reused_chunks,
        )  # fmt: skip
        for stale in _entries(cache_dir)[_KEEP:]:
            shutil.rmtree(stale, ignore_errors=True)
    return target


def checkout(cached: Path, state_dir: Path) -> Path:
    """Copy a cached index into `state_dir` (a data dir's `knowledge/`) for one process to open."""
    if state_dir.exists():
        shutil.rmtree(state_dir)
    shutil.copytree(cached, state_dir, ignore=shutil.ignore_patterns(_READY, "*.lock"))
    return state_dir


def ensure_eta_model(cache_dir: Path = DEFAULT_CACHE.parent / "eta") -> Path:
    """The synthetic-data ETA model trained once per version of `assistant/eta` (12 s saved per run)."""
    from assistant.eta.model import load_or_train

    digest = hashlib.sha256()
    for source in ETA_SOURCES:
        _hash_tree(digest, PROJECT_ROOT / source, PROJECT_ROOT)
    path = cache_dir / f"eta-{digest.hexdigest()[:16]}.joblib"
    if path.exists():
        return path
    with _file_lock(cache_dir / "eta.lock"):
        if not path.exists():
            load_or_train(path)
    return path
