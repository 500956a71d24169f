"""Content checks: every topic in every language, valid front matter, length, and numbers.

`knowledge/facts.yaml` is the single source of truth for every number in the help centre: an
article may state a number only if it appears there (compared numerically, so `9,90` matches
`9.90`), so the five languages can never disagree about a deadline or a price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from retrieval.lexical import LANGUAGES

__all__ = [
    "FACTS_FILE",
    "MAX_WORDS",
    "MIN_WORDS",
    "TOPICS",
    "ContentProblem",
    "check_article",
    "check_content",
    "fact_numbers",
    "numbers_in",
]

FACTS_FILE = Path(__file__).with_name("facts.yaml")
MIN_WORDS = 120
MAX_WORDS = 400
TOPICS: tuple[str, ...] = (
    "track-parcel", "tracking-not-updating", "delivery-times", "service-point-pickup",
    "pickup-deadline", "parcel-locker", "home-delivery", "leave-at-door", "change-delivery",
    "delivery-notifications", "missed-delivery", "damaged-parcel", "missing-parcel",
    "delayed-parcel", "lost-parcel", "complaint-process", "compensation", "customs-and-vat",
    "returns", "sending-a-parcel", "size-and-weight", "prohibited-items",
    "international-shipping", "id-and-authorisation", "fraud-sms", "privacy",
    "contact-customer-service", "business-customers", "mobile-app", "wrong-address",
)  # fmt: skip
REQUIRED_KEYS = ("id", "title", "language", "tags", "updated")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w+")
_FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.S)
_NUMBERED_LIST = re.compile(r"^\s*\d+[.)]\s", re.M)


@dataclass(frozen=True)
class ContentProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def numbers_in(text: str) -> list[float]:
    """Every number in `text`, with a decimal comma read as a point."""
    return [float(token.replace(",", ".")) for token in _NUMBER.findall(text)]


def fact_numbers(path: Path = FACTS_FILE) -> set[float]:
    """Every number stated in the facts file (comments excluded)."""
    lines = (line.split("#")[0] for line in path.read_text(encoding="utf-8").splitlines())
    return set(numbers_in("\n".join(lines)))


def check_article(path: Path, language: str, topic: str, facts: set[float]) -> list[str]:
    """What is wrong with one article file (empty when it is fine)."""
    if not path.exists():
        return ["missing"]
    raw = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(raw)
    if not match:
        return ["no front matter"]
    problems: list[str] = []
    meta: Any = yaml.safe_load(match.group(1))
    body = match.group(2)
    if not isinstance(meta, dict):
        return ["front matter is not a mapping"]
    problems.extend(f"front matter lacks {key}" for key in REQUIRED_KEYS if key not in meta)
    if meta.get("id") != topic or meta.get("language") != language:
        problems.append(f"id/language should be {topic}/{language}")
    words = len(_WORD.findall(body))
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(f"{words} words (allowed {MIN_WORDS}-{MAX_WORDS})")
    stray = sorted(
        {token for token in _NUMBER.findall(body) if float(token.replace(",", ".")) not in facts}
    )
    if stray:
        problems.append(f"numbers not in facts.yaml: {', '.join(stray)}")
    if _NUMBERED_LIST.search(body):
        problems.append("numbered list (use bullets)")
    return problems


def check_content(
    content_dir: Path,
    facts_path: Path = FACTS_FILE,
    languages: Iterable[str] = LANGUAGES,
    topics: Iterable[str] = TOPICS,
) -> list[ContentProblem]:
    """Every problem of every expected article under `content_dir/<lang>/<topic>.md`."""
    facts = fact_numbers(facts_path)
    problems: list[ContentProblem] = []
    for language in languages:
        for topic in topics:
            path = content_dir / language / f"{topic}.md"
            for message in check_article(path, language, topic, facts):
                problems.append(ContentProblem(f"{language}/{topic}.md", message))
    return problems
