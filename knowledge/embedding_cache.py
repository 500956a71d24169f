"""On-disk cache of chunk embeddings, keyed by an article's content hash.

An unchanged article is never embedded again: full and incremental reindexes both read it.
Files: `vectors.npz` (one float32 matrix per key, a row per chunk) and `manifest.json`
(key -> chunk count and article), both replaced atomically. Only a reindex (under its lock)
writes them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EmbeddingCache"]

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]


class EmbeddingCache:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._vectors: dict[str, Matrix] | None = None
        self._meta: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Matrix]:
        if self._vectors is None:
            self._vectors = {}
            manifest = self.folder / "manifest.json"
            vectors = self.folder / "vectors.npz"
            if manifest.exists() and vectors.exists():
                try:
                    self._meta = json.loads(manifest.read_text(encoding="utf-8"))
                    with np.load(vectors, allow_pickle=False) as data:
                        self._vectors = {k: data[k].astype(np.float32) for k in data.files}
                except (OSError, ValueError) as exc:
                    log.warning("embedding cache unreadable, starting empty: %s", exc)
                    self._vectors, self._meta = {}, {}
        return self._vectors

    def get(self, key: str, chunks: int) -> Matrix | None:
        """The cached matrix for `key` if it has exactly `chunks` rows."""
        with self._lock:
            matrix = self._load().get(key)
        if matrix is None or matrix.shape[0] != chunks:
            return None
        return matrix

    def put(self, key: str, matrix: Matrix, article: str) -> None:
        with self._lock:
            self._load()[key] = np.asarray(matrix, dtype=np.float32)
            self._meta[key] = {"chunks": int(matrix.shape[0]), "article": article}

    def __len__(self) -> int:
        with self._lock:
            return len(self._load())

    def save(self, keep: set[str] | None = None) -> None:
        """Write to disk, dropping every key not in `keep` (when given)."""
        with self._lock:
            vectors = self._load()
            if keep is not None:
                vectors = {k: v for k, v in vectors.items() if k in keep}
                self._vectors = vectors
                self._meta = {k: v for k, v in self._meta.items() if k in keep}
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp_vectors = self.folder / f".vectors.{os.getpid()}.npz"
            with tmp_vectors.open("wb") as fh:
                np.savez(fh, **vectors)  # type: ignore[arg-type]
            tmp_manifest = self.folder / f".manifest.{os.getpid()}.json"
            tmp_manifest.write_text(json.dumps(self._meta, indent=1), encoding="utf-8")
            os.replace(tmp_vectors, self.folder / "vectors.npz")
            os.replace(tmp_manifest, self.folder / "manifest.json")
