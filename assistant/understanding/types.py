"""The values language understanding hands to the rest of the assistant (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from assistant.domain import CaseCategory
from assistant.tracking_ids import TrackingIdMatch

__all__ = [
    "LANGUAGES",
    "Intent",
    "IntentName",
    "Lang",
    "RedirectKindName",
    "Slots",
    "Understanding",
]

Lang = Literal["da", "sv", "nb", "fi", "en"]
LANGUAGES: tuple[Lang, ...] = ("da", "sv", "nb", "fi", "en")
IntentName = Literal[
    "track",
    "redirect",
    "complaint",
    "knowledge",
    "human",
    "greeting",
    "thanks",
    "yes",
    "no",
    "cancel",
    "correction",
    "unknown",
]
RedirectKindName = Literal["service_point", "locker", "door", "day"]


@dataclass(frozen=True)
class Intent:
    """One thing the customer wants; `category` for complaints, `redirect_kind` for redirects."""

    name: IntentName
    confidence: float
    category: CaseCategory | None = None
    redirect_kind: RedirectKindName | None = None


@dataclass(frozen=True)
class Slots:
    """Values found in the message; the flow engine decides which it needs."""

    tracking_ids: tuple[TrackingIdMatch, ...] = ()
    postcodes: tuple[str, ...] = ()
    dates: tuple[date, ...] = ()
    choice: int | None = None
    email: str | None = None
    phone: str | None = None
    correction_of: str | None = None


@dataclass(frozen=True)
class Understanding:
    """Everything the offline path takes from one customer message.

    `intents` are in the order the customer expressed them; empty means nothing to act on
    beyond the slots (a bare answer to the question just asked) and is treated as unknown.
    """

    text: str
    language: Lang
    language_confidence: float
    language_switched: bool
    intents: tuple[Intent, ...]
    slots: Slots
    sentiment: float
    upset: bool
    shouting: bool
