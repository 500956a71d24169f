"""`HybridRetriever`: the `Retriever` port over a `KnowledgeStore`.

One hybrid query (dense + BM25, RRF-fused, filtered to the customer's language) fetches a few
times more chunks than asked for; they are reduced to one chunk per article. RRF scores are
ranks, not relevance, so abstention uses a second signal: the dense cosine between the query
and the best chunk (computed from the vector the same query returned), nudged up by the share
of the query's stemmed words that the chunk contains. Per-language thresholds live in
`thresholds.json` beside this module (written by `python -m benchmarks.bench_retrieval
--calibrate` at a 5 % false-abstention rate on the retrieval dataset). When the customer's language has nothing above the bar
the English help centre is tried (`fell_back=True`); when that fails too, the retriever abstains.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from assistant.injection import strip_injections
from assistant.ports import Embedder, Passage, RetrievalResult
from assistant.settings import Settings
from retrieval.lexical import LANGUAGES, encode_query, query_terms
from retrieval.store import KnowledgeStore, StoreHit, cosine
from retrieval.text import count_words, split_sentences

__all__ = [
    "FALLBACK_LANGUAGE",
    "Candidate",
    "HybridRetriever",
    "Thresholds",
    "load_thresholds",
    "make_retriever",
    "make_store",
]

log = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")


@dataclass(frozen=True)
class Thresholds:
    """Answer when `cosine + overlap_weight * overlap >= min_score` for the best chunk."""

    min_score: float = 0.83
    overlap_weight: float = 0.02


def load_thresholds(path: Path = THRESHOLDS_FILE) -> dict[str, Thresholds]:
    """Per-language thresholds; `default` applies to languages without an entry."""
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    fields = set(Thresholds.__dataclass_fields__)
    return {
        lang: Thresholds(**{k: float(v) for k, v in values.items() if k in fields})
        for lang, values in raw.items()
        if isinstance(values, dict)
    }


@dataclass(frozen=True)
class Candidate:
    """A chunk (the best of its article) with the signals abstention looks at."""

    hit: StoreHit
    cosine: float
    overlap: float


def _overlap(terms: frozenset[int], hit: StoreHit, language: str) -> float:
    if not terms:
        return 0.0
    text = f"{hit.payload.get('title', '')}\n{hit.payload.get('text', '')}"
    return len(terms & query_terms(text, language)) / len(terms)


def snippet(text: str, terms: frozenset[int], language: str, max_words: int = 45) -> str:
    """The one or two sentences of `text` that share the most stemmed terms with the query."""
    sentences = split_sentences(text)
    if not sentences:
        return ""
    scores = [len(terms & query_terms(s, language)) if terms else 0 for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    chosen = [best]
    # Headings and bullets are short: add the following sentence for context.
    if best + 1 < len(sentences) and count_words(sentences[best]) < 20:
        chosen.append(best + 1)
    words = " ".join(sentences[i] for i in chosen).split()
    return " ".join(words[:max_words]) + (" …" if len(words) > max_words else "")


def _passage(candidate: Candidate, terms: frozenset[int], language: str) -> Passage:
    payload = candidate.hit.payload
    updated = payload.get("updated")
    # Sentences written to an assistant (a poisoned article) are neither quoted nor sent to a
    # model: see assistant/injection.py.
    text = strip_injections(str(payload.get("text", "")))
    return Passage(
        article_id=str(payload.get("article_id", "")),
        language=str(payload.get("language", language)),
        title=strip_injections(str(payload.get("title", ""))),
        text=text,
        snippet=snippet(text, terms, language),
        score=round(candidate.hit.score, 6),
        chunk_index=int(payload.get("chunk_index", 0)),
        source_path=str(payload.get("source_path", "")),
        updated=date.fromisoformat(updated) if isinstance(updated, str) else None,
        tags=tuple(str(t) for t in payload.get("tags") or ()),
    )


class HybridRetriever:
    """Hybrid search over the live help-centre index, with fallback to English and abstention.

    `RetrievalResult.top_score` is the dense cosine of the best chunk (the abstention signal);
    each `Passage.score` is its RRF score within the fused list.
    """

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        *,
        thresholds: Mapping[str, Thresholds] | None = None,
        fetch_factor: int = 4,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.thresholds = dict(thresholds if thresholds is not None else load_thresholds())
        self.fetch_factor = fetch_factor

    def _threshold(self, language: str) -> Thresholds:
        return self.thresholds.get(language) or self.thresholds.get("default") or Thresholds()

    def candidates(
        self, query: str, language: str, vector: Sequence[float], limit: int
    ) -> tuple[list[Candidate], frozenset[int]]:
        """Best chunk per article, best first, with the signals abstention looks at."""
        lexical = encode_query(query, language)
        hits = self.store.query(
            vector, lexical, language, limit=limit * self.fetch_factor, with_vectors=True
        )
        terms = frozenset(lexical.words.indices)
        seen: set[str] = set()
        out: list[Candidate] = []
        for hit in hits:
            article = str(hit.payload.get("article_id"))
            if article in seen:
                continue
            seen.add(article)
            cos = cosine(vector, hit.dense) if hit.dense is not None else 0.0
            out.append(Candidate(hit, cos, _overlap(terms, hit, language)))
            if len(out) >= limit:
                break
        return out, terms

    def confidence(self, candidate: Candidate, language: str) -> float:
        return candidate.cosine + self._threshold(language).overlap_weight * candidate.overlap

    def confident(self, candidate: Candidate, language: str) -> bool:
        return self.confidence(candidate, language) >= self._threshold(language).min_score

    def search(
        self,
        query: str,
        language: str,
        *,
        limit: int = 3,
        query_vector: Sequence[float] | None = None,
    ) -> RetrievalResult:
        language = language if language in LANGUAGES else FALLBACK_LANGUAGE
        vector = query_vector if query_vector is not None else self.embedder.embed_query(query)
        limit = max(1, limit)
        best_score = 0.0
        tried = [language] if language == FALLBACK_LANGUAGE else [language, FALLBACK_LANGUAGE]
        for attempt, lang in enumerate(tried):
            found, terms = self.candidates(query, lang, vector, limit)
            if found:
                best_score = max(best_score, found[0].cosine)
            if found and self.confident(found[0], lang):
                return RetrievalResult(
                    query=query,
                    language=lang,
                    passages=tuple(_passage(c, terms, lang) for c in found),
                    abstained=False,
                    fell_back=attempt > 0,
                    top_score=round(found[0].cosine, 4),
                )
        return RetrievalResult(
            query=query, language=language, passages=(), abstained=True,
            top_score=round(best_score, 4),
        )  # fmt: skip


def make_store(settings: Settings) -> KnowledgeStore:
    """The store the settings ask for: a Qdrant server when a URL is set, else embedded Edge."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from retrieval.server_store import ServerKnowledgeStore

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerKnowledgeStore(QdrantClient(url=settings.qdrant_url, api_key=key))
    from retrieval.edge_store import EdgeKnowledgeStore

    return EdgeKnowledgeStore(settings.data_dir / "knowledge")


def make_retriever(settings: Settings, embedder: Embedder) -> HybridRetriever:
    """Factory for the composition root (`api/container.py`)."""
    return HybridRetriever(make_store(settings), embedder)
