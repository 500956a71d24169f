"""Offline language understanding: language, intents, slots and mood of a customer message.

No language model: lingua plus our own word evidence for the language, multilingual patterns
(`data/patterns/<lang>.yaml`) for intents, parsers for tracking ids, postcodes, dates, email,
phone and choices, and a sentiment lexicon. Given an `Embedder`, the nearest example utterances
(`examples.yaml`) back up the rules where they are unsure.

    understander = Understander()
    result = understander.understand("hvor er min pakke RR361920561SE?", now=now)
"""

from assistant.understanding.types import (
    LANGUAGES,
    Intent,
    IntentName,
    Lang,
    RedirectKindName,
    Slots,
    Understanding,
)
from assistant.understanding.understander import MAX_ANALYSED_CHARS, Understander

__all__ = [
    "LANGUAGES",
    "MAX_ANALYSED_CHARS",
    "Intent",
    "IntentName",
    "Lang",
    "RedirectKindName",
    "Slots",
    "Understander",
    "Understanding",
]
