"""The facts checker (knowledge/facts.py) catches what content reviews must not let through."""

from __future__ import annotations

from pathlib import Path

from knowledge_testkit import article_md

from knowledge.facts import check_article, check_content, fact_numbers, numbers_in

FACTS = 'delivery:\n  days: 7   # not 99\n  fee: {FI: 9.90 EUR}\n  window: "08:00-21:00"\n'
BODY_OK = "Your parcel waits 7 days. The fee is 9,90 EUR, from 08:00 to 21:00. " + "word " * 120


def _write(tmp_path: Path, body: str, language: str = "fi", topic: str = "returns") -> Path:
    path = tmp_path / "content" / language / f"{topic}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_md(topic, language, "Title", body), encoding="utf-8")
    return path


def _facts(tmp_path: Path) -> set[float]:
    path = tmp_path / "facts.yaml"
    path.write_text(FACTS, encoding="utf-8")
    return fact_numbers(path)


def test_fact_numbers_ignore_comments_and_read_decimal_commas() -> None:
    assert numbers_in("9,90 EUR and 25.5 % and 08:00") == [9.9, 25.5, 8.0, 0.0]


def test_numbers_are_compared_numerically(tmp_path: Path) -> None:
    facts = _facts(tmp_path)
    assert 99.0 not in facts and {7.0, 9.9, 8.0, 21.0} <= facts
    assert check_article(_write(tmp_path, BODY_OK), "fi", "returns", facts) == []


def test_a_number_not_in_the_facts_is_reported(tmp_path: Path) -> None:
    problems = check_article(
        _write(tmp_path, BODY_OK + " Call us within 99 days."), "fi", "returns", _facts(tmp_path)
    )
    assert problems == ["numbers not in facts.yaml: 99"]


def test_length_front_matter_and_numbered_lists(tmp_path: Path) -> None:
    facts = _facts(tmp_path)
    assert check_article(_write(tmp_path, "Too short."), "fi", "returns", facts) == [
        "2 words (allowed 120-400)"
    ]
    numbered = BODY_OK + "\n7. First step\n"
    assert check_article(_write(tmp_path, numbered), "fi", "returns", facts) == [
        "numbered list (use bullets)"
    ]
    assert check_article(_write(tmp_path, BODY_OK), "fi", "privacy", facts) == [
        "id/language should be privacy/fi"
    ]
    bare = tmp_path / "bare.md"
    bare.write_text("no front matter", encoding="utf-8")
    assert check_article(bare, "fi", "returns", facts) == ["no front matter"]


def test_check_content_lists_missing_articles(tmp_path: Path) -> None:
    _write(tmp_path, BODY_OK)
    facts_path = tmp_path / "facts.yaml"
    facts_path.write_text(FACTS, encoding="utf-8")
    problems = check_content(tmp_path / "content", facts_path, ["fi"], ["returns", "privacy"])
    assert [str(p) for p in problems] == ["fi/privacy.md: missing"]
