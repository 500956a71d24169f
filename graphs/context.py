"""What graph nodes receive through `Runtime[AssistantContext]` (STYLE rule 3): ports, never imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from assistant.clock import Clock
from assistant.llm import ChatModel
from assistant.ports import Embedder, Retriever
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
