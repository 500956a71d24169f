"""Ingestion: articles -> llama-index `IngestionPipeline` -> store points.

The pipeline reads documents, splits them (`HeadingSentenceSplitter`) and embeds the chunks
through `EmbedderEmbedding`, a llama-index `BaseEmbedding` over the project's `Embedder` port.
Embeddings are looked up first in the `EmbeddingCache` by the article's content hash, so only
new or changed articles reach the model. The lexical vector (BM25, stemmed for the article's
language) is computed here too, with the same encoder the read side uses for queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, Document, MetadataMode, TransformComponent
from pydantic import PrivateAttr

from assistant.ports import Embedder
from knowledge._llama_env import ensure_tiktoken_cache
from knowledge.embedding_cache import EmbeddingCache
from knowledge.readers import Article
from knowledge.splitter import SPLITTER_VERSION, HeadingSentenceSplitter, chunk_id
from retrieval.lexical import encode_document
from retrieval.store import ChunkPoint

__all__ = ["EmbedderEmbedding", "IngestResult", "Progress", "build_points", "embedding_key"]

Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class EmbedderEmbedding(BaseEmbedding):
    """llama-index embedding model over an `Embedder` (e5 prefixes applied by the embedder)."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        name = str(getattr(embedder, "model_id", type(embedder).__name__))
        super().__init__(model_name=name, embed_batch_size=32, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "EmbedderEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return list(self._embedder.embed_query(query))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return list(self._embedder.embed_passages([text])[0])

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [list(row) for row in self._embedder.embed_passages(texts)]


class CachedEmbedding(TransformComponent):
    """Pipeline step: fill embeddings from the cache, embed the rest in batches, update the cache."""

    embed_model: Any
    cache: Any
    progress: Any = None
    batch_size: int = 16
    embedded: int = 0
    reused: int = 0

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        progress: Progress = self.progress or _no_progress
        by_article: dict[str, list[BaseNode]] = {}
        for node in nodes:
            by_article.setdefault(str(node.metadata["embedding_key"]), []).append(node)
        todo: list[tuple[str, list[BaseNode]]] = []
        for key, group in by_article.items():
            cached = self.cache.get(key, len(group))
            if cached is None:
                todo.append((key, group))
                continue
            for node, row in zip(group, cached, strict=True):
                node.embedding = row.tolist()
            self.reused += len(group)
        pending = [node for _, group in todo for node in group]
        total = len(pending)
        progress("embed", 0, total)
        for start in range(0, total, self.batch_size):
            batch = pending[start : start + self.batch_size]
            texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in batch]
            for node, vector in zip(
                batch, self.embed_model.get_text_embedding_batch(texts), strict=True
            ):
                node.embedding = list(vector)
            progress("embed", min(start + len(batch), total), total)
        for key, group in todo:
            matrix = np.asarray([n.embedding for n in group], dtype=np.float32)
            self.cache.put(key, matrix, article=f"{group[0].metadata['language']}/"
                           f"{group[0].metadata['article_id']}")  # fmt: skip
        self.embedded += total
        return nodes


def embedding_key(article: Article, model_id: str) -> str:
    """Cache key: the article's content, the splitter and the embedding model."""
    raw = f"{article.content_hash}|{SPLITTER_VERSION}|{model_id}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@dataclass
class IngestResult:
    points: list[ChunkPoint] = field(default_factory=list)
    chunks_per_article: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    embedded_chunks: int = 0
    reused_chunks: int = 0
    phrase_keys: set[str] = field(default_factory=set)

    @property
    def cache_keys(self) -> set[str]:
        """Every embedding-cache entry this result uses (what a cache clean-up must keep)."""
        return set(self.keys.values()) | self.phrase_keys


def _article_fields(article: Article) -> dict[str, Any]:
    """What every point of an article carries, whatever its text (chunk or search phrase)."""
    return {
        "article_id": article.id,
        "language": article.language,
        "title": article.title,
        "tags": list(article.tags),
        "updated": article.updated.isoformat() if article.updated else None,
        "source_path": article.source_path,
        "content_hash": article.content_hash,
    }


def _document(article: Article, key: str) -> Document:
    metadata = {**_article_fields(article), "embedding_key": key}
    return Document(id_=f"{article.language}/{article.id}", text=article.body, metadata=metadata)


_PAYLOAD_KEYS = ("article_id", "language", "title", "tags", "updated", "source_path")


def build_points(
    articles: Sequence[Article],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: Progress | None = None,
) -> IngestResult:
    """Split, embed (cache first) and encode every article into store points."""
    ensure_tiktoken_cache()
    progress = progress or _no_progress
    model_id = str(getattr(embedder, "model_id", type(embedder).__name__))
    keys = {a.key: embedding_key(a, model_id) for a in articles}
    documents = [_document(a, keys[a.key]) for a in articles]
    progress("split", 0, len(documents))
    embed_step = CachedEmbedding(
        embed_model=EmbedderEmbedding(embedder), cache=cache, progress=progress
    )
    pipeline = IngestionPipeline(
        transformations=[HeadingSentenceSplitter(), embed_step], disable_cache=True
    )
    nodes = pipeline.run(documents=documents)
    progress("split", len(documents), len(documents))
    result = IngestResult(
        keys=keys, embedded_chunks=embed_step.embedded, reused_chunks=embed_step.reused
    )
    for node in nodes:
        meta = node.metadata
        text = node.get_content(metadata_mode=MetadataMode.NONE)
        payload = {k: meta.get(k) for k in _PAYLOAD_KEYS}
        payload.update(text=text, chunk_index=int(meta["chunk_index"]),
                       content_hash=meta["content_hash"])  # fmt: skip
        lexical = encode_document(f"{meta['title']}\n{text}", str(meta["language"]))
        assert node.embedding is not None
        result.points.append(
            ChunkPoint(id=node.node_id, dense=node.embedding, lexical=lexical, payload=payload)
        )
        article_key = f"{meta['language']}/{meta['article_id']}"
        result.chunks_per_article[article_key] = result.chunks_per_article.get(article_key, 0) + 1
    leads = {
        f"{p.payload['language']}/{p.payload['article_id']}": str(p.payload["text"])
        for p in result.points
        if p.payload["chunk_index"] == 0
    }
    _add_search_phrases(result, articles, embedder, cache, model_id, leads)
    return result


QUESTION_INDEX_BASE = 1000


def _add_search_phrases(
    result: IngestResult,
    articles: Sequence[Article],
    embedder: Embedder,
    cache: EmbeddingCache,
    model_id: str,
    leads: dict[str, str],
) -> None:
    """One extra point per search phrase of an article (front matter `questions`).

    The phrase is what is matched (embedded as a query, since a customer's question is compared
    with it like for like, and encoded for BM25); the payload's `text` is the article's lead
    paragraph, so a hit on a phrase cites and quotes the article itself.
    """
    for article in articles:
        if not article.questions:
            continue
        key = hashlib.sha256(f"q|{result.keys[article.key]}".encode()).hexdigest()[:32]
        result.phrase_keys.add(key)
        cached = cache.get(key, len(article.questions))
        if cached is None:
            matrix = np.asarray(
                [embedder.embed_query(q) for q in article.questions], dtype=np.float32
            )
            cache.put(key, matrix, article=f"{article.key}#questions")
            result.embedded_chunks += len(article.questions)
        else:
            matrix = cached
            result.reused_chunks += len(article.questions)
        lead = leads.get(article.key, "")
        for i, (question, vector) in enumerate(zip(article.questions, matrix, strict=True)):
            index = QUESTION_INDEX_BASE + i
            payload: dict[str, Any] = {
                **_article_fields(article),
                "text": lead,
                "chunk_index": index,
                "kind": "question",
                "question": question,
            }
            result.points.append(
                ChunkPoint(
                    id=chunk_id(article.id, article.language, index),
                    dense=vector.tolist(),
                    lexical=encode_document(f"{article.title}\n{question}", article.language),
                    payload=payload,
                )
            )
            result.chunks_per_article[article.key] = (
                result.chunks_per_article.get(article.key, 0) + 1
            )
