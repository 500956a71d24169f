"""When a conversation should go to a person, as pure functions (no state, no I/O).

Reasons (DESIGN §6, recorded as the handoff `reason`):
- `customer_request`: the customer asks for a person (the `human` intent): honoured at once.
- `frustration`: an upset customer (strong negative sentiment, swearing, shouting with a negative
  tone) twice within the last three messages, or one very strong outburst: a person is *offered*
  (yes/no); if the customer stays upset right after an offer, the handoff happens.
- `repeated_failure`: the assistant failed twice in a row (a slot asked again twice, two "I don't
  know" in a row): a person is offered.
- `policy`: a legal threat, a fraud or phishing report, a data-protection request
  (`policy_topic`, from `policy_patterns.yaml` in five languages), or a lost parcel worth more
  than `settings.handoff_value_limit_eur` (`declared_value_eur`): handed off at once.
- `tool_failure`: the carrier system failed on two turns in a row: handed off at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from assistant.understanding.patterns import PatternSet
from assistant.understanding.text import tokenize
from assistant.understanding.types import LANGUAGES

__all__ = [
    "EUR_RATES",
    "FRUSTRATION_STRONG",
    "PolicyTopic",
    "declared_value_eur",
    "frustration",
    "policy_topic",
]

PolicyTopic = Literal["legal", "fraud", "data_protection", "high_value"]

# Fixed conversion rates to EUR for the declared-value limit (ECB reference rates of
# November 2026, rounded). A policy threshold should not move with the market every day; update
# these by hand when a currency drifts by more than a few percent.
EUR_RATES: dict[str, float] = {"EUR": 1.0, "DKK": 0.134, "SEK": 0.087, "NOK": 0.085}
FRUSTRATION_STRONG = -0.85  # one message this negative is enough for an offer
_FRUSTRATION_WINDOW = 3
_TOPIC_ORDER: tuple[PolicyTopic, ...] = ("legal", "fraud", "data_protection")


@cache
def _patterns() -> PatternSet:
    text = resources.files("assistant.handoff").joinpath("policy_patterns.yaml").read_text("utf-8")
    data: dict[str, dict[str, list[str]]] = yaml.safe_load(text)
    entries = [
        (language, label, str(pattern))
        for language in LANGUAGES
        for label, patterns in data[language].items()
        for pattern in patterns
    ]
    return PatternSet(entries)


def policy_topic(text: str, *, asking: bool = False) -> PolicyTopic | None:
    """The policy topic a message raises (legal threat, fraud report, data request), or None.

    A question about fraud ("I got a weird text, is it a scam?", `asking`) is answered from the
    help centre; it is a report for a person when the customer says they acted on it or want to
    report it ("I clicked the link and paid"), or states it without asking. All languages'
    patterns are matched together: customers mix languages ("GDPR", "scam").
    """
    hits = _patterns().match(tokenize(text[:2000]))
    labels = {hit.label for hit in hits}
    if "fraud" in labels and asking and "fraud_report" not in labels:
        labels.discard("fraud")
    return next((topic for topic in _TOPIC_ORDER if topic in labels), None)


def declared_value_eur(value: dict[str, Any] | None) -> float | None:
    """A `{"amount", "currency"}` value in EUR at the fixed rates; None when unknown."""
    if not value:
        return None
    rate = EUR_RATES.get(str(value.get("currency", "")).upper())
    try:
        amount = float(value.get("amount", 0))
    except (TypeError, ValueError):
        return None
    return None if rate is None else round(amount * rate, 2)


def frustration(moods: Sequence[dict[str, Any]]) -> bool:
    """Whether the customer is frustrated, from the moods of their latest messages (newest last).

    A mood is `{"sentiment": float, "upset": bool, "shouting": bool}`. Frustrated: the latest
    message is upset and either very negative (or shouting in anger), or an earlier one of the
    last three was upset too (repeated complaints).
    """
    if not moods:
        return False
    latest = moods[-1]
    if not latest.get("upset"):
        return False
    sentiment = float(latest.get("sentiment", 0.0))
    if sentiment <= FRUSTRATION_STRONG or (latest.get("shouting") and sentiment < 0):
        return True
    earlier = moods[-_FRUSTRATION_WINDOW:-1]
    return any(m.get("upset") for m in earlier)
