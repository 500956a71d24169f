"""Which of the five languages a message is in, sticky per conversation.

lingua (restricted to da, sv, nb, fi, en; built once, lazily: building takes a while) gives
statistical confidences; on short chat messages it mixes up Danish and Bokmål and is lost on one
or two words. Our own evidence sits on top: function words and spellings that mark a language
("hvad"/"hva", "mig"/"meg", "jag", "inte", "pakken min"), Nordic letters, and Finnish
morphology. The two are combined log-linearly and normalised.

Stickiness: with a conversation language, a message switches it only with clear evidence: at
least three words, a confident combined verdict with a clear margin over the conversation's
language, and (between Danish and Bokmål, which lingua cannot separate) our own word evidence
pointing the same way. Short messages ("ok", "ja", "8000", emoji, one Swedish word in a Danish
conversation) keep the conversation's language. With no conversation language and no evidence
the answer is English with low confidence, or a Nordic guess when Nordic letters are present.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from assistant.understanding.patterns import load_yaml
from assistant.understanding.text import FuzzyIndex
from assistant.understanding.types import LANGUAGES, Lang

__all__ = ["LanguageIdentifier", "detect_language"]

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_ID_LIKE = re.compile(
    r"\b[A-Za-z]{2}[\s.-]?(?:\d[\s.-]?){8}\d[\s.-]?[A-Za-z]{2}\b|\S+@\S+|https?://\S+"
)
_FINNISH_ENDING = re.compile(
    r"(?:ssa|ssä|sta|stä|lla|llä|lta|ltä|ksi|nen|inen|ään|aan|sti|tta|ttä)$"
)
_FINNISH_VOWELS = re.compile(r"(?:aa|ää|ii|uu|yy|öö|ei|äi|yö|uo|ie)")
_POSTPOSED = frozenset({"min", "mi", "mitt", "mine", "din", "di", "ditt", "dine", "vår", "våre"})
_CUE_WEIGHT = 0.9
_TYPO_FACTOR = 0.7
_LINGUA_FLOOR = 0.02
_SWITCH_MIN_WORDS = 3
_SWITCH_CONFIDENCE = 0.75
_SWITCH_MARGIN = 0.5
_NO_EVIDENCE = 0.2

_LINGUA_NAMES = {"DANISH": "da", "SWEDISH": "sv", "BOKMAL": "nb", "FINNISH": "fi", "ENGLISH": "en"}
_detector: Any = None
_detector_lock = threading.Lock()


def _lingua() -> Any:
    """The lingua detector for our five languages, built on first use."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, name) for name in _LINGUA_NAMES]
                _detector = LanguageDetectorBuilder.from_languages(*languages).build()
    return _detector


@dataclass(frozen=True)
class _Cues:
    words: dict[str, dict[str, float]]  # word -> {lang: weight}
    bigrams: dict[str, dict[str, float]]
    fuzzy: FuzzyIndex  # typos of the longer cue words ("hvonår") still count, a little less


@cache
def _cues() -> _Cues:
    data = load_yaml("language_cues.yaml")
    words: dict[str, dict[str, float]] = {}
    for lang, table in data["words"].items():
        for word, weight in table.items():
            words.setdefault(str(word).lower(), {})[lang] = float(weight)
    bigrams: dict[str, dict[str, float]] = {}
    for lang, table in data["bigrams"].items():
        for phrase, weight in table.items():
            bigrams.setdefault(str(phrase).lower(), {})[lang] = float(weight)
    return _Cues(words, bigrams, FuzzyIndex(words))


def _evidence(words: list[str], text: str) -> dict[str, float]:
    cues = _cues()
    score: dict[str, float] = dict.fromkeys(LANGUAGES, 0.0)
    for word in set(words):
        table = cues.words.get(word)
        if table is None:
            near = cues.fuzzy.near(word)
            table = cues.words[next(iter(near))] if len(near) == 1 else {}
            table = {lang: weight * _TYPO_FACTOR for lang, weight in table.items()}
        for lang, weight in table.items():
            score[lang] += weight
    for first, second in itertools.pairwise(words):
        for lang, weight in cues.bigrams.get(f"{first} {second}", {}).items():
            score[lang] += weight
        # Bokmål puts the possessive after a definite noun ("søsteren min"); Danish does not.
        if second in _POSTPOSED and first.endswith(("en", "et", "a", "ene")) and len(first) > 3:
            score["nb"] += 1.5
    lowered = text.lower()
    if "æ" in lowered or "ø" in lowered:
        score["da"] += 0.8
        score["nb"] += 0.8
    if "ä" in lowered or "ö" in lowered:
        score["sv"] += 0.6
        score["fi"] += 0.6
    if "å" in lowered:
        score["da"] += 0.3
        score["nb"] += 0.3
        score["sv"] += 0.3
    finnish = sum(1.0 for w in words if len(w) > 4 and _FINNISH_ENDING.search(w))
    finnish += sum(0.3 for w in words if len(_FINNISH_VOWELS.findall(w)) >= 2)
    score["fi"] += min(finnish * 0.5, 3.0)
    return score


def _nordic_letter_guess(text: str) -> Lang | None:
    lowered = text.lower()
    if "æ" in lowered or "ø" in lowered:
        return "da"
    if "ä" in lowered or "ö" in lowered:
        return "fi" if _FINNISH_VOWELS.search(lowered) and "y" in lowered else "sv"
    if "å" in lowered:
        return "da"
    return None


@dataclass(frozen=True)
class Detection:
    language: Lang
    confidence: float
    switched: bool


class LanguageIdentifier:
    """lingua plus word evidence; see the module docstring for the rules."""

    def detect(self, text: str, previous: Lang | None = None) -> Detection:
        cleaned = _ID_LIKE.sub(" ", text)
        words = [w.lower() for w in _WORD.findall(cleaned)]
        if not words:
            return Detection(previous or _nordic_letter_guess(text) or "en", _NO_EVIDENCE, False)
        evidence = _evidence(words, cleaned)
        probabilities = self._combine(cleaned, evidence)
        ranked = sorted(probabilities, key=lambda lang: -probabilities[lang])
        top = cast(Lang, ranked[0])
        if previous is not None:
            if top == previous or len(words) < _SWITCH_MIN_WORDS:
                return Detection(previous, round(probabilities[previous], 3), False)
            clear = (
                probabilities[top] >= _SWITCH_CONFIDENCE
                and probabilities[top] - probabilities[previous] >= _SWITCH_MARGIN
                and evidence[top] > evidence[previous]
            )
            if not clear:
                return Detection(previous, round(probabilities[previous], 3), False)
            return Detection(top, round(probabilities[top], 3), True)
        if (
            len(words) < _SWITCH_MIN_WORDS
            and max(evidence.values()) < 0.5
            and probabilities[top] < 0.9
        ):
            guess = _nordic_letter_guess(text)
            return Detection(guess or "en", _NO_EVIDENCE, False)
        return Detection(top, round(probabilities[top], 3), False)

    @staticmethod
    def _combine(text: str, evidence: dict[str, float]) -> dict[str, float]:
        lingua: dict[str, float] = dict.fromkeys(LANGUAGES, 0.0)
        for value in _lingua().compute_language_confidence_values(text):
            code = _LINGUA_NAMES.get(value.language.name)
            if code:
                lingua[code] = float(value.value)
        logits = {
            lang: math.log(lingua[lang] + _LINGUA_FLOOR) + _CUE_WEIGHT * evidence[lang]
            for lang in LANGUAGES
        }
        peak = max(logits.values())
        exp = {lang: math.exp(v - peak) for lang, v in logits.items()}
        total = sum(exp.values())
        return {lang: v / total for lang, v in exp.items()}


_default = LanguageIdentifier()


def detect_language(text: str, previous: Lang | None = None) -> tuple[Lang, float, bool]:
    detection = _default.detect(text, previous)
    return detection.language, detection.confidence, detection.switched
