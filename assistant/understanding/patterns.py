"""Keyword and phrase patterns, loaded from `data/patterns/<lang>.yaml`, matched over tokens.

A pattern is a string of token specs separated by spaces:

- `word` matches the word: as written (lower case) when short, folded (see `text.fold`) from
  five letters on, or one typo away from six letters on;
- `=word` matches the word exactly (no typo tolerance: "sen" must not become "send");
- `pref*` matches any word starting with `pref`;
- `a|b*|c` matches any of the alternatives;
- `...` skips up to three tokens;
- `;` separates whole alternative phrases (`tusind tak; mange tak`).

A trailing `@0.6` sets the weight of the pattern (of each of its phrases; default 1.0). Each YAML file maps a label
(`track`, `complaint.damaged`, `kind.door`, ...) to its patterns; what a label means is decided
in `intents.py`. All languages' patterns are matched together because customers mix languages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from assistant.understanding.text import FuzzyIndex, Token, fold
from assistant.understanding.types import LANGUAGES

__all__ = ["Hit", "PatternSet", "load_patterns", "load_yaml"]

MIN_FOLDED_LENGTH = 5
_GAP = -1
_MAX_GAP = 3


@dataclass(frozen=True, slots=True)
class Hit:
    label: str
    weight: float
    start: int  # token index of the first matched token
    end: int  # token index after the last matched token
    language: str


@dataclass(frozen=True, slots=True)
class _Pattern:
    label: str
    weight: float
    steps: tuple[frozenset[int] | int, ...]
    language: str


class PatternSet:
    """Compiled patterns with an index from the first token to the patterns it may start."""

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """`entries` are (language, label, pattern) triples."""
        self._words: dict[str, set[int]] = {}
        self._short_words: dict[str, set[int]] = {}
        self._fuzzy_words: set[str] = set()
        self._prefixes: dict[str, set[int]] = {}
        self._alt_ids: dict[tuple[str, str], int] = {}
        self._patterns: list[_Pattern] = []
        self._by_first: dict[int, list[int]] = {}
        for language, label, spec in entries:
            self._add(language, label, spec)
        self._prefix_lengths = sorted({len(p) for p in self._prefixes})
        self._fuzzy = FuzzyIndex(self._fuzzy_words)
        self._token_cache: dict[str, frozenset[int]] = {}

    def _alt(self, spec: str) -> int:
        key: tuple[str, str]
        if spec.endswith("*"):
            key = ("prefix", fold(spec[:-1]))
        else:
            written = spec.removeprefix("=").lower()
            folded = fold(written)
            if len(folded) < MIN_FOLDED_LENGTH:
                key = ("short", written)
            else:
                key = ("exact" if spec.startswith("=") else "word", folded)
        if key not in self._alt_ids:
            alt_id = len(self._alt_ids)
            self._alt_ids[key] = alt_id
            kind, text = key
            if kind == "prefix":
                self._prefixes.setdefault(text, set()).add(alt_id)
            elif kind == "short":
                self._short_words.setdefault(text, set()).add(alt_id)
            else:
                self._words.setdefault(text, set()).add(alt_id)
                if kind == "word":
                    self._fuzzy_words.add(text)
        return self._alt_ids[key]

    def _add(self, language: str, label: str, spec: str) -> None:
        weight = 1.0
        body = spec.strip()
        if "@" in body:
            body, _, raw_weight = body.rpartition("@")
            weight = float(raw_weight)
        for phrase in body.split(";"):
            if phrase.strip():
                self._add_phrase(language, label, phrase, weight, spec)

    def _add_phrase(self, language: str, label: str, body: str, weight: float, spec: str) -> None:
        steps: list[frozenset[int] | int] = []
        for part in body.split():
            if part == "...":
                steps.append(_GAP)
            else:
                steps.append(frozenset(self._alt(alt) for alt in part.split("|") if alt))
        if not steps or steps[0] == _GAP or steps[-1] == _GAP:
            raise ValueError(f"bad pattern {spec!r} for {label} ({language})")
        index = len(self._patterns)
        self._patterns.append(_Pattern(label, weight, tuple(steps), language))
        first = steps[0]
        assert isinstance(first, frozenset)
        for alt_id in first:
            self._by_first.setdefault(alt_id, []).append(index)

    def _exact_ids(self, written: str, word: str) -> set[int]:
        # Folding short words merges real words ("vad"/"våd", "vat"/"våt"): match those as written.
        short = len(word) < MIN_FOLDED_LENGTH
        ids = set(self._short_words.get(written, ()) if short else self._words.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            ids |= self._prefixes.get(word[:length], set())
        return ids

    def token_ids(self, token: Token) -> frozenset[int]:
        """Alternative ids a token matches (exactly, by prefix, or one typo away)."""
        written, word = token.text, token.folded
        cached = self._token_cache.get(written)
        if cached is not None:
            return cached
        ids = self._exact_ids(written, word)
        if not ids:
            for near in self._fuzzy.near(word):
                alt = self._alt_ids.get(("word", near))
                if alt is not None:
                    ids.add(alt)
        result = frozenset(ids)
        if len(self._token_cache) < 50_000:
            self._token_cache[written] = result
        return result

    def match(self, tokens: Sequence[Token]) -> list[Hit]:
        """Every pattern occurrence, as (label, weight, token span); overlapping ones included."""
        ids = [self.token_ids(t) for t in tokens]
        hits: list[Hit] = []
        seen: set[tuple[int, int]] = set()
        for start, token_ids in enumerate(ids):
            for alt_id in token_ids:
                for index in self._by_first.get(alt_id, ()):
                    if (index, start) in seen:
                        continue
                    pattern = self._patterns[index]
                    end = _match_steps(pattern.steps, 1, ids, start + 1)
                    if end is not None:
                        seen.add((index, start))
                        hits.append(
                            Hit(pattern.label, pattern.weight, start, end, pattern.language)
                        )
        return hits


def _match_steps(
    steps: tuple[frozenset[int] | int, ...], step: int, ids: list[frozenset[int]], position: int
) -> int | None:
    """End position when `steps[step:]` match from `position`, else None (gaps backtrack)."""
    if step == len(steps):
        return position
    current = steps[step]
    if current == _GAP:
        for skip in range(_MAX_GAP + 1):
            end = _match_steps(steps, step + 1, ids, position + skip)
            if end is not None:
                return end
        return None
    assert isinstance(current, frozenset)
    if position < len(ids) and ids[position] & current:
        return _match_steps(steps, step + 1, ids, position + 1)
    return None


def load_yaml(name: str) -> Any:
    """A YAML file shipped in this package's `data/` folder."""
    text = (
        resources.files("assistant.understanding")
        .joinpath("data")
        .joinpath(name)
        .read_text("utf-8")
    )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)


@cache
def load_patterns() -> PatternSet:
    entries: list[tuple[str, str, str]] = []
    for language in LANGUAGES:
        data: dict[str, list[str]] = load_yaml(f"patterns/{language}.yaml") or {}
        for label, patterns in data.items():
            if not isinstance(label, str):  # YAML reads a bare yes/no key as a boolean
                raise TypeError(f"patterns/{language}.yaml: quote the key {label!r}")
            entries.extend((language, label, str(p)) for p in patterns or ())
    return PatternSet(entries)
