"""The whole help centre indexed once per test session (shared by retrieval and conversation tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.embedding import E5Embedder
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.retriever import HybridRetriever

CONTENT = Path(__file__).resolve().parents[1] / "knowledge" / "content"


@dataclass
class FullIndex:
    store: EdgeKnowledgeStore
    retriever: HybridRetriever
    embedder: E5Embedder
    counts: dict[str, int]
