"""`Understanding` to and from plain JSON, so checkpoints stay readable and portable."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from assistant.domain import CaseCategory
from assistant.tracking_ids import TrackingIdMatch
from assistant.understanding import Intent, Slots, Understanding

__all__ = ["nlu_from_dict", "nlu_to_dict"]


def nlu_to_dict(nlu: Understanding) -> dict[str, Any]:
    raw = asdict(nlu)
    raw["intents"] = [
        {**i, "category": i["category"].value if i["category"] else None} for i in raw["intents"]
    ]
    raw["slots"]["dates"] = [d.isoformat() for d in nlu.slots.dates]
    raw["slots"]["tracking_ids"] = [
        {**m, "corrections": list(m["corrections"])} for m in raw["slots"]["tracking_ids"]
    ]
    return raw


def nlu_from_dict(raw: dict[str, Any]) -> Understanding:
    slots = dict(raw["slots"])
    slots["tracking_ids"] = tuple(
        TrackingIdMatch(**{**m, "corrections": tuple(m["corrections"])})
        for m in slots["tracking_ids"]
    )
    slots["dates"] = tuple(date.fromisoformat(d) for d in slots["dates"])
    slots["postcodes"] = tuple(slots["postcodes"])
    intents = tuple(
        Intent(**{**i, "category": CaseCategory(i["category"]) if i["category"] else None})
        for i in raw["intents"]
    )
    return Understanding(**{**raw, "intents": intents, "slots": Slots(**slots)})
