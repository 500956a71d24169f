"""Lexicon-based sentiment, shouting and "upset" for five languages.

`sentiment` is in [-1, 1]: the sum of word polarities (negated by a preceding "ikke/not/inte/ei",
intensified by "meget/very/todella"), emoji and exclamation marks, squashed with tanh. Complaint
words (knust, forsinket, lost) count as mildly negative: they are bad news for the customer.
`shouting` is writing in capitals (most letters of a message with some length) or "!!!".
`upset` is swearing, strong negative words, or shouting or a clearly negative message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

from assistant.understanding.patterns import load_yaml
from assistant.understanding.text import FuzzyIndex, Token, fold

__all__ = ["Mood", "assess_mood"]

_EXCLAMATIONS = re.compile(r"!{3,}|(?:!\s*){3,}")
_MIN_CAPS_LETTERS = 8
_CAPS_SHARE = 0.7
_UPSET_BELOW = -0.5
# "nej tak", "ei kiitos", "no thanks" decline politely: thanks stays positive after a negation.
_NOT_NEGATED = frozenset(
    {"tak", "tack", "takk", "kitos", "kitti", "thanks", "thank", "thx"}
)  # folded


@dataclass(frozen=True)
class Mood:
    sentiment: float
    upset: bool
    shouting: bool


@dataclass(frozen=True)
class _Lexicon:
    polarity: dict[str, float]
    fuzzy: FuzzyIndex
    swear: frozenset[str]
    negators: frozenset[str]
    intensifiers: frozenset[str]
    positive_emoji: tuple[str, ...]
    negative_emoji: tuple[str, ...]


@cache
def _lexicon() -> _Lexicon:
    data = load_yaml("sentiment.yaml")
    polarity: dict[str, float] = {}
    for word in data["positive"]:
        polarity[fold(str(word))] = 1.0
    for word in data["negative"]:
        polarity[fold(str(word))] = -1.0
    for word in data["strong_negative"]:
        polarity[fold(str(word))] = -2.0
    return _Lexicon(
        polarity=polarity,
        fuzzy=FuzzyIndex(polarity),
        swear=frozenset(fold(str(w)) for w in data["swear"]),
        negators=frozenset(fold(str(w)) for w in data["negators"]),
        intensifiers=frozenset(fold(str(w)) for w in data["intensifiers"]),
        positive_emoji=tuple(data["positive_emoji"]),
        negative_emoji=tuple(data["negative_emoji"]),
    )


def _polarity(word: str, lex: _Lexicon) -> float:
    value = lex.polarity.get(word)
    if value is not None:
        return value
    near = lex.fuzzy.near(word)
    return max((lex.polarity[w] for w in near), key=abs, default=0.0)


def _is_shouting(text: str, tokens: list[Token]) -> bool:
    if _EXCLAMATIONS.search(text):
        return True
    letters = [
        c
        for t in tokens
        if len(t.text) > 1 and not any(ch.isdigit() for ch in t.text)
        for c in text[t.start : t.end]
        if c.isalpha()
    ]
    if len(letters) < _MIN_CAPS_LETTERS:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= _CAPS_SHARE


def assess_mood(text: str, tokens: list[Token]) -> Mood:
    lex = _lexicon()
    total = 0.0
    swearing = False
    strong = False
    negate_left = 0
    boost = 1.0
    for token in tokens:
        word = token.folded
        if word in lex.swear:
            swearing = True
            total -= 1.5
            continue
        if word in lex.negators:
            negate_left = 2
            continue
        if word in lex.intensifiers:
            boost = 1.5
            continue
        value = _polarity(word, lex)
        if value:
            strong = strong or value <= -2
            if negate_left and word not in _NOT_NEGATED:
                value = -value * 0.8
            total += value * boost
        boost = 1.0
        negate_left = max(0, negate_left - 1)
    total += sum(text.count(e) for e in lex.positive_emoji)
    total -= sum(text.count(e) for e in lex.negative_emoji)
    shouting = _is_shouting(text, tokens)
    if total < 0 and ("!" in text or shouting):
        total -= 0.5
    sentiment = round(math.tanh(total / 2.5), 3)
    upset = swearing or strong or sentiment <= _UPSET_BELOW or (shouting and sentiment < 0.2)
    return Mood(sentiment=sentiment, upset=upset, shouting=shouting)
