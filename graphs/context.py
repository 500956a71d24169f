"""What graph nodes receive through `Runtime[AssistantContext]` (STYLE rule 3): ports, never imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from assistant.clock import Clock
from assistant.handoff.hours import BusinessHours
from assistant.llm import ChatModel
from assistant.ports import Embedder, HandoffQueue, Retriever
from assistant.replies import Catalogue
from assistant.tools import CarrierTools
from assistant.understanding import Lang, Understanding

__all__ = ["AssistantContext", "UnderstandingPort"]


class UnderstandingPort(Protocol):
    def understand(
        self,
        text: str,
        *,
        conversation_language: Lang | None = None,
        country: str | None = None,
        now: datetime,
        offered: Sequence[str] = (),
        expecting: str | None = None,
    ) -> Understanding: ...


@dataclass(frozen=True)
class AssistantContext:
    tools: CarrierTools
    retriever: Retriever
    understander: UnderstandingPort
    catalogue: Catalogue
    clock: Clock
    embedder: Embedder | None = None
    max_message_chars: int = 2000
    chat_model: ChatModel | None = None  # set: LLM mode (graphs/llm_*.py); None: offline
    # Handoff to a person: the queue (None: no queue, the handoff is only recorded in the
    # state), agents' hours per country (none configured: always open), the agents' language,
    # the declared value (EUR) above which a lost parcel goes to a person, the longest wait
    # before a callback or a case is offered instead.
    handoffs: HandoffQueue | None = None
    business_hours: Mapping[str, BusinessHours] = field(default_factory=dict)
    agents_language: str = "en"
    handoff_value_limit_eur: float = 500.0
    handoff_max_wait_minutes: float = 20.0
