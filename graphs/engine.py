"""Conversations over the graph: one call per customer message, state in the checkpointer.

`ConversationEngine.turn` resumes a graph paused for a confirmation (`Command(resume=...)`) or
starts a new run, serialises turns of one conversation, and prunes old checkpoints so storage
stays bounded per conversation.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from graphs.context import AssistantContext
from graphs.graph import build_graph
from graphs.state import ConversationState

__all__ = ["ConversationEngine", "TurnResult"]


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced; `api/` turns it into the `Turn` wire model of DESIGN §5."""

    conversation_id: str
    turn: int
    language: str
    messages: list[dict[str, str]]
    flow: str | None
    flow_status: str | None
    awaiting: str | None
    citations: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    handoff: dict[str, Any] | None = None
    quick_replies: list[str] = field(default_factory=list)
    paused_at: str | None = None


class ConversationEngine:
    def __init__(self, context: AssistantContext, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.context = context
        self.checkpointer = checkpointer
        self.graph = build_graph(checkpointer)
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, conversation_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[conversation_id]

    @staticmethod
    def _config(conversation_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": conversation_id}, "recursion_limit": 40}

    def start(
        self, conversation_id: str, language: str = "en", country: str | None = None
    ) -> TurnResult:
        """Open a conversation with a greeting in `language`."""
        greeting = self.context.catalogue.render("greeting", language)
        values: ConversationState = {
            "conversation_id": conversation_id,
            "language": language,
            "country": country,
            "turn": 0,
            "stack": [],
            "greeted": True,
            "failures": 0,
            "out": [{"key": "greeting", "text": greeting}],
            "transcript": [{"role": "assistant", "text": greeting, "turn": 0}],
        }
        with self._lock(conversation_id):
            self.graph.update_state(self._config(conversation_id), values, as_node="respond")
        return self._result(conversation_id)

    def exists(self, conversation_id: str) -> bool:
        return self.checkpointer.get_tuple(self._config(conversation_id)) is not None

    def turn(self, conversation_id: str, text: str) -> TurnResult:
        """Take one customer message and return what the assistant says and did."""
        config = self._config(conversation_id)
        with self._lock(conversation_id):
            snapshot = self.graph.get_state(config)
            payload: Any = Command(resume=text) if "confirm" in snapshot.next else {"text": text}
            self.graph.invoke(payload, config, context=self.context, durability="exit")
            self.prune(conversation_id)
            return self._result(conversation_id)

    def state(self, conversation_id: str) -> dict[str, Any]:
        return dict(self.graph.get_state(self._config(conversation_id)).values)

    def _result(self, conversation_id: str) -> TurnResult:
        snapshot = self.graph.get_state(self._config(conversation_id))
        values = snapshot.values
        event = values.get("flow_event") or {}
        return TurnResult(
            conversation_id=conversation_id,
            turn=values.get("turn", 0),
            language=values.get("language", "en"),
            messages=[{"role": "assistant", "text": r["text"]} for r in values.get("out", [])],
            flow=event.get("flow"),
            flow_status=event.get("status"),
            awaiting=values.get("awaiting"),
            citations=list(values.get("citations", [])),
            actions=list(values.get("actions", [])),
            handoff=values.get("handoff"),
            quick_replies=list(values.get("quick_replies", [])),
            paused_at=snapshot.next[0] if snapshot.next else None,
        )

    def prune(self, conversation_id: str) -> None:
        """Keep only the latest checkpoint of a conversation (and the writes it needs)."""
        conn = getattr(self.checkpointer, "conn", None)
        if isinstance(conn, sqlite3.Connection):
            with self.checkpointer.lock:  # type: ignore[attr-defined]
                latest = conn.execute(
                    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
                    "ORDER BY checkpoint_id DESC LIMIT 1",
                    (conversation_id,),
                ).fetchone()
                if latest is None:
                    return
                for table in ("checkpoints", "writes"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < ?",
                        (conversation_id, latest[0]),
                    )
                conn.commit()
        elif hasattr(self.checkpointer, "prune"):
            try:
                self.checkpointer.prune([conversation_id])
            except NotImplementedError:
                return
