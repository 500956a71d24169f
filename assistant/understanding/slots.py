"""Slot values other than tracking ids and dates: postcodes, email, phone, and the choice.

Extraction order matters: tracking ids, then emails, phones and dates claim their characters,
and postcodes are looked for only in what is left, so the digits of "20 12 34 56" or of an SSCC
never become a postcode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from assistant.carrier.rules import normalize_postcode
from assistant.errors import ToolFailed
from assistant.tools import normalise_phone
from assistant.understanding.patterns import load_yaml
from assistant.understanding.text import Token, fold, osa_distance, tokenize

__all__ = [
    "CHOICE_EXPECTATIONS",
    "Span",
    "find_emails",
    "find_phones",
    "find_postcodes",
    "mask",
    "resolve_choice",
]

# What the assistant may have asked for when a bare number means "option n".
CHOICE_EXPECTATIONS = frozenset({"redirect_option", "delivery_date", "complaint_category"})

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ()\-.]{5,22}\d(?![\w])")
_POSTCODE = re.compile(
    r"(?<![\w@+./:-])(?:(?:dk|se|no|fi)-?)?(?P<code>\d{3} \d{2}|\d{4,5})(?![\w@]|[.,/:-]\d)",
    re.IGNORECASE,
)
_UNIT_AFTER = re.compile(
    r"\s*(?:kr|kroner|kronor|dkk|sek|nok|eur|euro|€|\$|kg|g|km|stk|st|pcs|,-|dage|days|dagar|dager|päivää|timer|hours|%)(?!\w)",
    re.IGNORECASE,
)
_UNIT_BEFORE = re.compile(r"(?:kr\.?|€|\$|dkk|sek|nok|eur)\s*$", re.IGNORECASE)
_MIN_PHONE_DIGITS = 8


@dataclass(frozen=True, slots=True)
class Span:
    kind: str  # tracking_id | email | phone | date | postcode | choice
    value: str
    start: int
    end: int


def mask(text: str, spans: Sequence[Span]) -> str:
    """`text` with the spans blanked out (same length, so positions stay valid)."""
    chars = list(text)
    for span in spans:
        chars[span.start : span.end] = " " * (span.end - span.start)
    return "".join(chars)


def find_emails(text: str) -> list[Span]:
    return [
        Span("email", m.group(0).rstrip("."), m.start(), m.end()) for m in _EMAIL.finditer(text)
    ]


def _try_phone(raw: str, region: str) -> str | None:
    digits = sum(c.isdigit() for c in raw)
    if digits < _MIN_PHONE_DIGITS or digits > 15:
        return None
    try:
        return normalise_phone(raw, region)
    except ValueError:
        return None


def find_phones(text: str, region: str) -> list[Span]:
    """Phone numbers valid for `region` (or international with +); a run of digit groups that
    is not one number as a whole is searched for a valid number made of whole groups."""
    found: list[Span] = []
    for m in _PHONE.finditer(text):
        raw = m.group(0)
        value = _try_phone(raw, region)
        if value is not None:
            found.append(Span("phone", value, m.start(), m.end()))
            continue
        groups = [(g.start(), g.end()) for g in re.finditer(r"\+?[\d()\-.]+", raw)]
        best: Span | None = None
        for size in range(len(groups) - 1, 0, -1):
            for first in range(len(groups) - size + 1):
                start, end = groups[first][0], groups[first + size - 1][1]
                value = _try_phone(raw[start:end], region)
                if value is not None:
                    best = Span("phone", value, m.start() + start, m.start() + end)
                    break
            if best:
                break
        if best:
            found.append(best)
    return found


def find_postcodes(text: str, country: str | None, language: str) -> list[Span]:
    """4-5 digit postcodes, normalised for `country` when known (others dropped)."""
    found: list[Span] = []
    for m in _POSTCODE.finditer(text):
        if _UNIT_AFTER.match(text, m.end()) or _UNIT_BEFORE.search(text, 0, m.start()):
            continue
        code = m.group("code")
        if country:
            try:
                value = normalize_postcode(code, country)
            except ToolFailed:
                continue
        elif " " in code and language != "sv":
            continue
        else:
            value = code.replace(" ", "")
        found.append(Span("postcode", value, m.start(), m.end()))
    return found


@dataclass(frozen=True)
class _ChoiceWords:
    markers: frozenset[str]
    ordinals: dict[str, int]
    last: frozenset[str]
    numbers: dict[str, int]
    determiners: frozenset[str]
    fillers: frozenset[str]
    concepts: dict[str, str]  # folded word -> concept
    weekdays: dict[str, int]  # folded weekday name -> 0..6


@cache
def _words() -> _ChoiceWords:
    data = load_yaml("choices.yaml")
    dates = load_yaml("dates.yaml")

    def folded(words: list[str]) -> frozenset[str]:
        return frozenset(fold(str(w)) for w in words)

    return _ChoiceWords(
        markers=folded(data["markers"]),
        ordinals={fold(str(w)): int(n) for n, ws in data["ordinals"].items() for w in ws},
        last=folded(data["last"]),
        numbers={fold(str(w)): int(n) for n, ws in data["numbers"].items() for w in ws},
        determiners=folded(data["determiners"]),
        fillers=folded(data["fillers"]),
        concepts={fold(str(w)): c for c, ws in data["concepts"].items() for w in ws},
        weekdays={fold(str(w)): int(n) for n, ws in dates["weekdays"].items() for w in ws},
    )


def _number(token: Token, words: _ChoiceWords) -> int | None:
    if token.text.isdigit() and len(token.text) <= 2:
        return int(token.text)
    return words.numbers.get(token.folded)


def _ordinal(token: Token, words: _ChoiceWords, count: int) -> int | None:
    if token.folded in words.last:
        return count
    return words.ordinals.get(token.folded)


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)):
        return True
    return min(len(a), len(b)) >= 5 and osa_distance(a, b) <= 1


def _label_score(
    content: list[Token], label: str, dates: Sequence[date], words: _ChoiceWords
) -> float:
    label_tokens = [t for t in tokenize(label) if t.folded not in words.fillers]
    label_concepts = {words.concepts[t.folded] for t in label_tokens if t.folded in words.concepts}
    label_weekdays = {words.weekdays[t.folded] for t in label_tokens if t.folded in words.weekdays}
    label_numbers = {int(t.text) for t in label_tokens if t.text.isdigit()}
    score = 0.0
    for token in content:
        same_concept = words.concepts.get(token.folded) in label_concepts
        same_word = not token.text.isdigit() and any(
            _similar(token.folded, lt.folded) for lt in label_tokens if len(lt.folded) >= 3
        )
        score += same_concept or same_word
    for day in dates:
        if day.weekday() in label_weekdays:
            score += 1
        if day.day in label_numbers:
            score += 0.5
    return score


def resolve_choice(
    tokens: Sequence[Token],
    offered: Sequence[str],
    expecting: str | None,
    dates: Sequence[date],
) -> int | None:
    """The 0-based index of the option the message picks, or None."""
    count = len(offered) or (9 if expecting in CHOICE_EXPECTATIONS else 0)
    if not count or not (tokens or dates):
        return None
    words = _words()

    def valid(n: int | None) -> int | None:
        return n - 1 if n is not None and 1 <= n <= count else None

    for i, token in enumerate(tokens[:-1]):
        if token.folded in words.markers or token.text == "#":
            picked = valid(_number(tokens[i + 1], words))
            if picked is not None:
                return picked
    content = [t for t in tokens if t.folded not in words.fillers]
    if len(content) == 1 and content[0].text.isdigit():
        return valid(int(content[0].text)) if len(content[0].text) <= 2 else None
    short = len(content) <= 2
    for i, token in enumerate(tokens):
        n = _ordinal(token, words, count)
        if n is None:
            continue
        determined = i > 0 and tokens[i - 1].folded in words.determiners
        if determined or (short and token in content):
            picked = valid(n)
            if picked is not None:
                return picked
    if not offered:
        return None
    content = [
        t
        for t in content
        if _ordinal(t, words, count) is None and (len(t.folded) >= 3 or t.text.isdigit())
    ]
    scores = [_label_score(content, label, dates, words) for label in offered]
    best = max(scores)
    if best > 0 and scores.count(best) == 1:
        return scores.index(best)
    return None
