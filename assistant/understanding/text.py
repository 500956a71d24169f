"""Text helpers: tokens with positions, an accent-insensitive fold, and typo-tolerant lookup.

Customers write "odelagt" for "ødelagt", "hvonår" for "hvornår", "forsinkt" for "forsinket".
Matching therefore works on *folded* tokens (lower case, æ/ä→a, ø/ö→o, å→a, doubled letters
like "aa" and "oe" collapsed) and tolerates one edit (insertion, deletion, substitution or swap of
neighbours) in words of five letters or more, via a deletion index (SymSpell's idea) so a lookup
costs a handful of dictionary probes instead of a scan. Typos are allowed from six letters on
and never in the first letter, where they are rare and where false friends start ("farligt"
is not "ærligt").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["FuzzyIndex", "Token", "fold", "osa_distance", "tokenize"]

_FOLD_TABLE = str.maketrans(
    {
        "æ": "ae",
        "ä": "a",
        "á": "a",
        "à": "a",
        "â": "a",
        "ø": "o",
        "ö": "o",
        "ó": "o",
        "ô": "o",
        "å": "a",
        "ü": "u",
        "ú": "u",
        "é": "e",
        "è": "e",
        "ê": "e",
        "í": "i",
        "ß": "ss",
        "’": "'",
    }
)
_COLLAPSE = re.compile(r"aa|ae|oe|ee|ii|uu|yy")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MIN_FUZZY_LENGTH = 6


@lru_cache(maxsize=8192)
def fold(word: str) -> str:
    """Lower case, accents and Nordic letters folded, doubled vowels collapsed."""
    folded = word.lower().translate(_FOLD_TABLE)
    return _COLLAPSE.sub(lambda m: m.group(0)[0], folded)


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # lower case, as written
    folded: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Word tokens (letters and digits; apostrophes and hyphens split) with their spans."""
    return [
        Token(m.group(0).lower(), fold(m.group(0)), m.start(), m.end())
        for m in _TOKEN.finditer(text)
    ]


def osa_distance(a: str, b: str, limit: int = 1) -> int:
    """Optimal-string-alignment distance, stopping early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class FuzzyIndex:
    """Words that a token matches exactly or with one edit (words of 6+ letters only)."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = frozenset(words)
        self._by_deletion: dict[str, set[str]] = {}
        for word in self._words:
            if len(word) < MIN_FUZZY_LENGTH:
                continue
            for key in _deletions(word) | {word}:
                self._by_deletion.setdefault(key, set()).add(word)

    def __contains__(self, word: str) -> bool:
        return word in self._words

    def near(self, token: str) -> set[str]:
        """Known words one edit from `token` (empty for short tokens)."""
        if len(token) < MIN_FUZZY_LENGTH:
            return set()
        candidates: set[str] = set()
        for key in _deletions(token) | {token}:
            candidates |= self._by_deletion.get(key, set())
        return {
            word for word in candidates if word[0] == token[0] and osa_distance(token, word) <= 1
        }
