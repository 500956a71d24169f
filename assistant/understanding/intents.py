"""Intents from pattern hits: clause by clause, in the order the customer wrote them.

A message is cut into clauses at punctuation and at "og/and/och" (and Finnish "ja"); each clause
gets its strongest intent, so "hvor er RR… og kan den komme til døren?" gives track, then
redirect. Then message-wide rules apply:

- greetings and thanks are social: reported only when nothing else is asked (and thanks alone
  when both: "tak, god dag" closes a conversation);
- yes/no count only in the first clause, at its start or when it is short (an answer, not a
  word in a sentence), and a correction or a cancel wins over them;
- a correction needs a corrected value (an id, postcode, date, email, phone or choice) in the
  message; a value negated next to another of its kind ("8000 ikke 8200") is one by itself;
- redirect needs a redirect phrase ("i stedet", "change delivery"), or a delivery verb together
  with a place or a date ("lever den til pakkeboksen"); "ved døren" alone counts too, unless
  the message is a complaint (then it says where the parcel was left); its kind is the first
  place named (door, locker, service point), else "day" when a day is named;
- a clause with a tracking id that asks a general question is about that parcel: track;
- weak hints (below 0.7: "hvordan", "waited a week", "dårligt") count only when nothing in the
  message is clear (0.8 or more): "where is it, I've waited a week" is track, not a complaint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from assistant.domain import CaseCategory
from assistant.understanding.patterns import Hit
from assistant.understanding.text import Token
from assistant.understanding.types import Intent, IntentName, RedirectKindName

__all__ = ["Evidence", "decide_intents", "split_clauses"]

_SPLIT_WORDS = frozenset({"og", "and", "och", "samt", "plus", "also", "også", "dessutom", "sekä"})
_SPLIT_CHARS = frozenset(",.;!?\n:")
_SOCIAL = frozenset({"greeting", "thanks"})
_ANSWERS = frozenset({"yes", "no"})
# Labels that name their intent directly.
_DIRECT: dict[str, IntentName] = {
    name: name
    for name in (
        "track",
        "knowledge",
        "human",
        "greeting",
        "thanks",
        "cancel",
        "complaint",
        "redirect",
    )
}
# Ties between equal scores go to the earlier name.
_PRIORITY: tuple[str, ...] = (
    "correction",
    "cancel",
    "complaint",
    "redirect",
    "human",
    "track",
    "knowledge",
    "no",
    "yes",
    "thanks",
    "greeting",
)
_PLACE_KINDS: dict[str, RedirectKindName] = {
    "door": "door",
    "locker": "locker",
    "service_point": "service_point",
}
_MIN_SCORE = 0.5
_WEAK = 0.7
_STRONG = 0.8
_SHORT_CLAUSE = 4
_ANSWER_BOOST = 0.3  # yes/no when the assistant just asked for a confirmation
_KIND_BOOST = 0.35  # a delivery verb plus a place or day is a redirect


@dataclass(frozen=True)
class Evidence:
    """What the rest of the message offers the intent rules."""

    has_slot_value: bool  # any id, postcode, date, email, phone or choice
    negated_value: bool  # "8000 ikke 8200": a corrected value
    id_tokens: frozenset[int]  # token positions holding a tracking id placeholder
    has_date: bool
    expecting: str | None
    language: str


def split_clauses(text: str, tokens: Sequence[Token], language: str) -> list[tuple[int, int]]:
    """Token index ranges [start, end) of the clauses."""
    clauses: list[tuple[int, int]] = []
    start = 0
    split_words = _SPLIT_WORDS | ({"ja"} if language == "fi" else set())
    for i, token in enumerate(tokens):
        if token.text in split_words and i > start:
            clauses.append((start, i))
            start = i + 1
            continue
        if i > start and any(c in _SPLIT_CHARS for c in text[tokens[i - 1].end : token.start]):
            clauses.append((start, i))
            start = i
    if start < len(tokens):
        clauses.append((start, len(tokens)))
    return [c for c in clauses if c[1] > c[0]]


@dataclass
class _Candidate:
    name: IntentName
    score: float
    position: int
    category: CaseCategory | None = None
    place_only: bool = False  # a redirect seen only as "ved døren": maybe where it *was* left


def _clause_candidates(
    hits: list[Hit], start: int, end: int, evidence: Evidence, *, first: bool
) -> list[_Candidate]:
    best: dict[str, _Candidate] = {}

    def offer(name: IntentName, score: float, position: int) -> None:
        current = best.get(name)
        if current is None or score > current.score:
            best[name] = _Candidate(name, score, position)

    category_hit: Hit | None = None
    weak_redirect = 0.0
    place = 0.0
    has_kind = evidence.has_date
    for hit in hits:
        label = hit.label
        if label in _DIRECT:
            offer(_DIRECT[label], hit.weight, hit.start)
        elif label.startswith("complaint."):
            offer("complaint", hit.weight, hit.start)
            if category_hit is None or hit.weight > category_hit.weight:
                category_hit = hit
        elif label == "redirect.verb":
            weak_redirect = max(weak_redirect, 0.6)
        elif label == "redirect.place":
            place = max(place, hit.weight)
            has_kind = True
        elif label.startswith("kind."):
            has_kind = True
        elif label in _ANSWERS and first:
            at_start = hit.start == start
            if at_start or end - start <= _SHORT_CLAUSE:
                boost = _ANSWER_BOOST if evidence.expecting == "confirmation" else 0.0
                weight = hit.weight if hit.end - hit.start > 1 or at_start else hit.weight * 0.9
                offer(cast(IntentName, label), min(1.0, weight + boost), hit.start)
        elif label == "correction" and evidence.has_slot_value:
            offer("correction", hit.weight, hit.start)
    if "redirect" in best:
        weak_redirect = max(weak_redirect, best["redirect"].score)
    if has_kind and weak_redirect:
        offer("redirect", min(1.0, weak_redirect + _KIND_BOOST), start)
    if place and "redirect" not in best:
        offer("redirect", place, start)
        best["redirect"].place_only = True
    if category_hit is not None and "complaint" in best:
        best["complaint"].category = CaseCategory(category_hit.label.split(".", 1)[1])
    if any(start <= i < end for i in evidence.id_tokens):
        if "knowledge" in best:
            offer("track", best["knowledge"].score + 0.05, best["knowledge"].position)
        if "track" in best:  # "hvor er RR…": the id makes a plain "where is" clear
            offer("track", _STRONG + 0.05, best["track"].position)
    return [c for c in best.values() if c.score >= _MIN_SCORE]


def _pick(candidates: list[_Candidate]) -> list[_Candidate]:
    tasks = [c for c in candidates if c.name not in _SOCIAL]
    candidates = tasks or candidates
    if not candidates:
        return []
    ranked = sorted(candidates, key=lambda c: (-c.score, _PRIORITY.index(c.name)))
    chosen = [ranked[0]]
    # "talk to someone about my broken parcel": a person and a complaint in one breath.
    partner = {"human": "complaint", "complaint": "human"}.get(chosen[0].name)
    second = next((c for c in ranked[1:] if c.name == partner and c.score >= 0.85), None)
    if second is not None:
        chosen.append(second)
    return chosen


def redirect_kind(hits: Sequence[Hit], has_date: bool) -> RedirectKindName | None:
    places = sorted((h.start, h.label[5:]) for h in hits if h.label.startswith("kind."))
    for _, kind in places:
        if kind in _PLACE_KINDS:
            return _PLACE_KINDS[kind]
    if has_date or any(kind == "day" for _, kind in places):
        return "day"
    return None


def decide_intents(
    text: str, tokens: Sequence[Token], hits: Sequence[Hit], evidence: Evidence
) -> list[Intent]:
    """The message's intents in order of appearance (possibly empty)."""
    chosen: list[_Candidate] = []
    for index, (start, end) in enumerate(split_clauses(text, tokens, evidence.language)):
        inside = [h for h in hits if h.start >= start and h.end <= end]
        candidates = _clause_candidates(inside, start, end, evidence, first=index == 0)
        chosen.extend(_pick(candidates))
    if evidence.negated_value:
        chosen.append(_Candidate("correction", 1.0, 0))
    names = {c.name for c in chosen}
    if names - _SOCIAL:
        chosen = [c for c in chosen if c.name not in _SOCIAL]
    elif names == _SOCIAL:  # "tak, god dag": a goodbye, not a hello
        chosen = [c for c in chosen if c.name == "thanks"]
    if any(c.score >= _STRONG for c in chosen):  # weak hints count only when nothing is clear
        chosen = [c for c in chosen if c.score >= _WEAK]
    if "complaint" in names:  # "it was left by the door and now it is gone"
        chosen = [c for c in chosen if not (c.name == "redirect" and c.place_only)]
    if "correction" in names or "cancel" in names:
        chosen = [c for c in chosen if c.name not in _ANSWERS]
    merged: dict[str, _Candidate] = {}
    for candidate in sorted(chosen, key=lambda c: c.position):
        current = merged.get(candidate.name)
        if current is None:
            merged[candidate.name] = candidate
        else:
            current.score = max(current.score, candidate.score)
            current.category = current.category or candidate.category
    kind = redirect_kind(hits, evidence.has_date) if "redirect" in merged else None
    return [
        Intent(
            c.name,
            round(c.score, 3),
            category=c.category if c.name == "complaint" else None,
            redirect_kind=kind if c.name == "redirect" else None,
        )
        for c in merged.values()
    ]
