"""Nearest example utterances (`examples.yaml`) as a second opinion when the rules are unsure.

The examples are embedded once. Their vectors ship in `data/example_vectors.npz`, stamped with a
hash of `examples.yaml` and the embedder's `model_id`; when either differs (examples edited,
another model) they are embedded again on first use, which takes a while, and a warning says so
(regenerate the file with `write_example_vectors`).

A message costs one `embed_query` (cached by the embedder, so retrieval reuses it). Its score for
an intent is its highest cosine similarity to that intent's examples. The neighbours speak only
when the rules are unsure: with no rule intent they may name one, when the best intent is
similar enough and clear of the runner-up (thresholds from leave-one-out on the examples);
with only a weak rule guess they may veto it ("unknown" examples: chit-chat, the shop's
refunds and orders), never replace it with another flow.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import yaml

from assistant.ports import Embedder
from assistant.understanding.types import Intent, IntentName

__all__ = ["ExampleIndex", "load_examples", "write_example_vectors"]

log = logging.getLogger(__name__)

_PACKAGE = "assistant.understanding"
_VECTORS = "example_vectors.npz"
ACCEPT = 0.86  # similarity needed to name an intent when the rules found none
OVERRIDE = 0.9  # similarity to "unknown" needed to veto the rules' weak guess
_UNSURE = 0.75  # rules' confidence below which the neighbours are asked
MARGIN = 0.02  # lead over the best other intent (leave-one-out on the examples: ~99% right)

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Example:
    intent: str
    language: str
    text: str


def _examples_bytes() -> bytes:
    return resources.files(_PACKAGE).joinpath("examples.yaml").read_bytes()


def load_examples() -> list[Example]:
    data: dict[str, dict[str, list[str]]] = yaml.safe_load(_examples_bytes())
    return [
        Example(intent, language, str(text))
        for intent, by_language in data.items()
        for language, texts in by_language.items()
        for text in texts
    ]


def _stamp(embedder: Embedder) -> str:
    model = str(getattr(embedder, "model_id", type(embedder).__name__))
    return hashlib.sha256(_examples_bytes() + model.encode()).hexdigest()


def _normalised(rows: Any) -> Matrix:
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return cast(Matrix, matrix / np.maximum(norms, 1e-9))


def _embed_all(embedder: Embedder, examples: Sequence[Example]) -> Matrix:
    return _normalised([embedder.embed_query(e.text) for e in examples])


def write_example_vectors(embedder: Embedder, folder: Path | None = None) -> Path:
    """Embed the examples and store them beside the package data (run after editing them)."""
    target = folder or Path(str(resources.files(_PACKAGE).joinpath("data")))
    vectors = _embed_all(embedder, load_examples())
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, vectors=vectors.astype(np.float16), stamp=np.array(_stamp(embedder))
    )
    path = target / _VECTORS
    path.write_bytes(buffer.getvalue())
    return path


class ExampleIndex:
    """Example vectors for one embedder, loaded on first use."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._lock = threading.Lock()
        self._matrix: Matrix | None = None
        self._intents: list[str] = []

    def _load(self) -> Matrix:
        if self._matrix is None:
            with self._lock:
                if self._matrix is None:
                    examples = load_examples()
                    self._intents = [e.intent for e in examples]
                    stored = self._stored(len(examples))
                    self._matrix = (
                        stored if stored is not None else _embed_all(self._embedder, examples)
                    )
        return self._matrix

    def _stored(self, count: int) -> Matrix | None:
        resource = resources.files(_PACKAGE).joinpath("data").joinpath(_VECTORS)
        try:
            with np.load(io.BytesIO(resource.read_bytes())) as stored:
                stamp, vectors = str(stored["stamp"]), stored["vectors"]
        except (FileNotFoundError, OSError, KeyError, ValueError):
            stamp, vectors = "", None
        if vectors is None or stamp != _stamp(self._embedder) or len(vectors) != count:
            log.warning("example vectors are stale or missing: embedding %d examples", count)
            return None
        return _normalised(vectors)

    def scores(self, text: str) -> dict[str, float]:
        """Each intent's best similarity to the message."""
        matrix = self._load()
        vector = _normalised(self._embedder.embed_query(text))
        similarities = matrix @ vector
        best: dict[str, float] = {}
        for intent, similarity in zip(self._intents, similarities.tolist(), strict=True):
            if similarity > best.get(intent, -1.0):
                best[intent] = similarity
        return best

    def refine(self, text: str, intents: list[Intent], expecting: str | None) -> list[Intent]:
        """The rules' intents, or the neighbours' verdict where the rules were unsure.

        Yes/no only answer a confirmation question, and a correction needs a corrected value
        that only the rules can see: the neighbours name neither otherwise.
        """
        if intents and not (len(intents) == 1 and intents[0].confidence < _UNSURE):
            return intents
        excluded = {"correction"} | (set() if expecting == "confirmation" else {"yes", "no"})
        scores = {k: v for k, v in self.scores(text).items() if k not in excluded}
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        (name, best), (_, second) = ranked[0], ranked[1]
        clear = best - second >= MARGIN
        if not intents:
            if clear and best >= ACCEPT and name != "unknown":
                return [Intent(cast(IntentName, name), round(best, 3))]
            return intents
        # A weak rule guess ("hvordan …" → knowledge) is only vetoed, never swapped for a flow:
        # the rules saw words the embedding blurs, and a wrong flow costs more than a shrug.
        if clear and best >= OVERRIDE and name == "unknown":
            return []
        return intents
