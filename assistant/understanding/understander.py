"""`Understander`: one customer message in, an `Understanding` out, with no language model.

Order of work: language (sticky per conversation), slots (tracking ids first, then emails,
phones, dates and postcodes in what is left, then the choice among the offered options), pattern
hits, intents clause by clause, then the message-wide adjustments below, and sentiment.

- A bare answer to the question just asked (`expecting`) has no intent of its own: "8000" when
  the postcode was asked for, "2" or "the Netto one" when options were offered.
- Nothing matched: a tracking id alone means "track it"; a question about parcels, deliveries or
  customs is `knowledge`; with an embedder, the nearest example utterances decide
  (`neighbours.py`); else `unknown`.
- Only the first `MAX_ANALYSED_CHARS` characters are analysed, so a pasted novel stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from assistant.domain import COUNTRY_TIMEZONE
from assistant.ports import Embedder
from assistant.tracking_ids import TrackingIdMatch, find_tracking_ids
from assistant.understanding.dates import find_dates
from assistant.understanding.intents import Evidence, decide_intents
from assistant.understanding.language import LanguageIdentifier
from assistant.understanding.neighbours import ExampleIndex
from assistant.understanding.patterns import Hit, load_patterns
from assistant.understanding.sentiment import assess_mood
from assistant.understanding.slots import (
    Span,
    find_emails,
    find_phones,
    find_postcodes,
    mask,
    resolve_choice,
)
from assistant.understanding.text import Token, tokenize
from assistant.understanding.types import Intent, Lang, Slots, Understanding

__all__ = ["MAX_ANALYSED_CHARS", "Understander"]

MAX_ANALYSED_CHARS = 2000
_LANGUAGE_CHARS = 600
_REGION = {"da": "DK", "sv": "SE", "nb": "NO", "fi": "FI"}
_PLACEHOLDER = {"tracking_id": "#id", "email": "#email", "phone": "#phone", "date": "#date"}
# Which slot answers which question, for bare answers.
_ANSWERS = {
    "tracking_id": ("tracking_id",),
    "postcode": ("postcode",),
    "redirect_option": ("choice",),
    "delivery_date": ("choice", "date"),
    "contact": ("email", "phone"),
}
# Intents that a bare answer to that question stands for already.
_ABSORBED = {
    "tracking_id": {"track", "greeting", "thanks"},
    "postcode": {"greeting", "thanks"},
    "redirect_option": {"redirect", "greeting", "thanks", "yes"},
    "delivery_date": {"redirect", "greeting", "thanks", "yes"},
    "contact": {"greeting", "thanks", "human"},
}
_WEAK_RULES = 0.75


def _today(now: datetime, country: str | None) -> date:
    zone = COUNTRY_TIMEZONE.get(country or "")
    return now.astimezone(ZoneInfo(zone)).date() if zone else now.date()


def _intent_tokens(text: str, placeholders: Sequence[Span]) -> list[Token]:
    tokens = tokenize(mask(text, placeholders))
    tokens.extend(
        Token(_PLACEHOLDER[s.kind], _PLACEHOLDER[s.kind], s.start, s.end) for s in placeholders
    )
    return sorted(tokens, key=lambda t: t.start)


def _drop_negated(spans: list[Span], negated_positions: set[int]) -> tuple[list[Span], str | None]:
    """Remove values right after a negator when another value of their kind remains."""
    kept: list[Span] = []
    corrected: str | None = None
    for span in spans:
        same_kind = [s for s in spans if s.kind == span.kind]
        others_free = [s for s in same_kind if s is not span and s.start not in negated_positions]
        if span.start in negated_positions and others_free:
            corrected = span.kind
            continue
        kept.append(span)
    return kept, corrected


class Understander:
    """Offline understanding; with an `Embedder`, nearest example utterances back up the rules."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._languages = LanguageIdentifier()
        self._patterns = load_patterns()
        self._examples = ExampleIndex(embedder) if embedder is not None else None

    def detect_language(self, text: str, previous: Lang | None = None) -> tuple[Lang, float, bool]:
        found = self._languages.detect(text[:_LANGUAGE_CHARS], previous)
        return found.language, found.confidence, found.switched

    def understand(
        self,
        text: str,
        *,
        conversation_language: Lang | None = None,
        country: str | None = None,
        now: datetime,
        offered: Sequence[str] = (),
        expecting: str | None = None,
    ) -> Understanding:
        window = text[:MAX_ANALYSED_CHARS]
        language, confidence, switched = self.detect_language(window, conversation_language)
        today = _today(now, country)

        ids = find_tracking_ids(window)
        id_spans = [Span("tracking_id", m.normalized, m.start, m.end) for m in ids]
        emails = find_emails(mask(window, id_spans))
        region = country or _REGION.get(language, "DK")
        phones = find_phones(mask(window, id_spans + emails), region)
        taken = id_spans + emails + phones
        dates = [
            Span("date", d.value.isoformat(), d.start, d.end)
            for d in find_dates(mask(window, taken), today)
        ]
        postcodes = find_postcodes(mask(window, taken + dates), country, language)

        tokens = _intent_tokens(window, taken + dates)
        hits = self._patterns.match(tokens)
        negated = {tokens[h.start].end for h in hits if h.label == "negator"}
        negated_starts = {
            s.start
            for s in dates + postcodes + id_spans + emails + phones
            if any(0 <= s.start - end <= 2 for end in negated)
        }
        values, corrected = _drop_negated(
            dates + postcodes + id_spans + emails + phones, negated_starts
        )
        kept_dates = [date.fromisoformat(s.value) for s in values if s.kind == "date"]
        word_tokens = [t for t in tokens if not t.text.startswith("#")]
        choice = resolve_choice(word_tokens, offered, expecting, kept_dates)

        filled = {s.kind for s in values} | ({"choice"} if choice is not None else set())
        evidence = Evidence(
            has_slot_value=bool(filled),
            negated_value=corrected is not None,
            id_tokens=frozenset(i for i, t in enumerate(tokens) if t.text == "#id"),
            has_date=any(d >= today for d in kept_dates),
            expecting=expecting,
            language=language,
        )
        intents = decide_intents(window, tokens, hits, evidence)
        intents = self._adjust(intents, hits, ids, filled, expecting, window)
        correction_of = None
        if any(i.name == "correction" for i in intents):
            ordered = sorted(values, key=lambda s: s.start)
            correction_of = corrected or (ordered[0].kind if ordered else None)
            if correction_of is None and choice is not None:
                correction_of = "choice"

        kept_ids = {s.value for s in values if s.kind == "tracking_id"}
        slots = Slots(
            tracking_ids=tuple(m for m in ids if m.normalized in kept_ids),
            postcodes=tuple(dict.fromkeys(s.value for s in values if s.kind == "postcode")),
            dates=tuple(dict.fromkeys(kept_dates)),
            choice=choice,
            email=next((s.value for s in values if s.kind == "email"), None),
            phone=next((s.value for s in values if s.kind == "phone"), None),
            correction_of=correction_of,
        )
        mood = assess_mood(window, tokens)
        return Understanding(
            text=text,
            language=language,
            language_confidence=confidence,
            language_switched=switched,
            intents=tuple(intents),
            slots=slots,
            sentiment=mood.sentiment,
            upset=mood.upset,
            shouting=mood.shouting,
        )

    def _adjust(
        self,
        intents: list[Intent],
        hits: Sequence[Hit],
        ids: Sequence[TrackingIdMatch],
        filled: set[str],
        expecting: str | None,
        text: str,
    ) -> list[Intent]:
        answered = expecting is not None and any(
            slot in filled for slot in _ANSWERS.get(expecting, ())
        )
        if answered and expecting is not None:
            intents = [i for i in intents if i.name not in _ABSORBED[expecting]]
        if intents and min(i.confidence for i in intents) >= _WEAK_RULES:
            return intents
        if not intents and ids and expecting != "tracking_id":
            return [Intent("track", 0.8)]
        if not intents and not answered:
            labels = {h.label for h in hits}
            if "domain" in labels and ("question" in labels or "?" in text):
                intents = [Intent("knowledge", 0.5)]
        if self._examples is not None and not answered and any(c.isalpha() for c in text):
            intents = self._examples.refine(text, intents, expecting)
        if not intents and not filled:
            return [Intent("unknown", 0.0)]
        return intents
