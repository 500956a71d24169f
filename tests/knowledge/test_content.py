"""The help centre itself: 30 topics x 5 languages, valid front matter, 120-400 words, and no
number that is not in knowledge/facts.yaml (so the languages cannot disagree)."""

from __future__ import annotations

from pathlib import Path

from knowledge.facts import TOPICS, check_content
from knowledge.readers import read_content
from retrieval.lexical import LANGUAGES

CONTENT = Path(__file__).resolve().parents[2] / "knowledge" / "content"


def test_every_topic_exists_in_every_language_and_passes_the_checks() -> None:
    problems = check_content(CONTENT)
    assert [str(p) for p in problems] == []


def test_all_150_articles_are_read_by_the_ingestion_readers() -> None:
    result = read_content(CONTENT)
    assert result.skipped == []
    keys = {a.key for a in result.articles}
    assert keys >= {f"{lang}/{topic}" for lang in LANGUAGES for topic in TOPICS}
    assert len(keys) >= len(LANGUAGES) * len(TOPICS) == 150
