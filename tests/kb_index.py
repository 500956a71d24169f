"""The whole help centre indexed once and shared: by retrieval and conversation tests, and by the evals.

The index is built into the cache of `evals.index_cache` (`.cache/kb-index/<hash of content,
embedder and indexing code>`), so a test session reuses the index an earlier session or
`python -m evals` built, and `make test`'s eval step reuses the one pytest built. Qdrant Edge
locks a shard folder for one process: the fixture opens a copy in the session's temp folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.embedding import E5_MODEL_ID, E5Embedder
from evals.index_cache import checkout, ensure_index
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.retriever import HybridRetriever

CONTENT = Path(__file__).resolve().parents[1] / "knowledge" / "content"


@dataclass
class FullIndex:
    store: EdgeKnowledgeStore
    retriever: HybridRetriever
    embedder: E5Embedder
    counts: dict[str, int]


def open_full_index(state_dir: Path, embedder: E5Embedder) -> FullIndex:
    """The cached full index (built first when the content changed), opened from a copy."""
    cached = ensure_index(CONTENT, E5_MODEL_ID, lambda: embedder)
    store = EdgeKnowledgeStore(checkout(cached, state_dir))
    return FullIndex(store, HybridRetriever(store, embedder), embedder, store.count_by_language())
