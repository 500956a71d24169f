"""Conversations over the graph: one call per customer message, state in the checkpointer.

`ConversationEngine.turn` resumes a graph paused for a confirmation (`Command(resume=...)`) or
starts a new run, serialises turns of one conversation, and prunes old checkpoints so storage
stays bounded per conversation.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from assistant.errors import AssistantError
from assistant.handoff.models import Handoff
from assistant.ports import ConversationActivity, ConversationDataStore, ConversationLock
from graphs.context import AssistantContext
from graphs.graph import build_graph
from graphs.state import ConversationState

_LOCK_STRIPES = 256

__all__ = ["ConversationEngine", "TurnResult", "progress_keys"]

log = logging.getLogger(__name__)


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
    # For metrics (api/metrics.py): this turn started the reported flow / asked for a person.
    flow_started: bool = False
    handoff_started: bool = False


def progress_keys(tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Catalogue keys saying what a turn with these tasks is about to do, in order."""
    keys: list[str] = []
    for task in tasks:
        kind = task.get("kind")
        key = (
            "progress_lookup"
            if kind in ("flow", "start_flow")
            else "progress_search"
            if kind == "answer"
            else None
        )
        if key is not None and key not in keys:
            keys.append(key)
    return keys or ["progress_thinking"]


@contextmanager
def _both(local: threading.RLock, shared: AbstractContextManager[None]) -> Iterator[None]:
    # The thread lock first: one waiter per process on the shared lock, not one per thread.
    with local, shared:
        yield


class ConversationEngine:
    def __init__(
        self,
        context: AssistantContext,
        checkpointer: BaseCheckpointSaver[Any],
        activity: ConversationActivity | None = None,
        shared_lock: ConversationLock | None = None,
    ) -> None:
        self.context = context
        self.checkpointer = checkpointer
        # When each conversation was last active, for the retention purge (api/retention.py).
        self.activity = activity
        self.graph = build_graph(checkpointer)
        # A fixed set of striped locks, not one per conversation ever seen: memory stays bounded
        # however many conversations a long-running worker serves. Two conversations that share a
        # stripe only wait for each other; re-entrant so one thread may hold two stripes' worth.
        self._locks = tuple(threading.RLock() for _ in range(_LOCK_STRIPES))
        # Across processes (API workers sharing PostgreSQL, api/locks.py): the thread lock alone
        # would let two workers read the same checkpoint and lose one of two concurrent turns.
        self.shared_lock = shared_lock

    def _lock(self, conversation_id: str) -> AbstractContextManager[object]:
        digest = hashlib.blake2b(conversation_id.encode(), digest_size=4).digest()
        local = self._locks[int.from_bytes(digest, "big") % _LOCK_STRIPES]
        if self.shared_lock is None:
            return local
        return _both(local, self.shared_lock.hold(conversation_id))

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
            self._touch(conversation_id)
        return self._result(conversation_id)

    def exists(self, conversation_id: str) -> bool:
        return self.checkpointer.get_tuple(self._config(conversation_id)) is not None

    def turn(
        self,
        conversation_id: str,
        text: str,
        on_progress: Callable[[str], None] | None = None,
    ) -> TurnResult:
        """Take one customer message and return what the assistant says and did.

        `on_progress(text)` hears, in the conversation's language, what the turn is about to do
        ("looking up your parcel…") as soon as the message is understood (the API streams it).
        """
        config = self._config(conversation_id)
        with self._lock(conversation_id):
            snapshot = self.graph.get_state(config)
            before = snapshot.values
            silent = self._silent_turn(conversation_id, before, text)
            if silent is not None:
                self._touch(conversation_id)
                return silent
            payload: Any = Command(resume=text) if "confirm" in snapshot.next else {"text": text}
            try:
                if on_progress is None:
                    self.graph.invoke(payload, config, context=self.context, durability="exit")
                else:
                    for update in self.graph.stream(
                        payload,
                        config,
                        context=self.context,
                        durability="exit",
                        stream_mode="updates",
                    ):
                        planned = update.get("understand") if isinstance(update, dict) else None
                        if planned:
                            language = planned.get("language", before.get("language", "en"))
                            for key in progress_keys(planned.get("tasks", [])):
                                on_progress(self.context.catalogue.render(key, language))
                self.prune(conversation_id)
            except AssistantError:
                raise
            except Exception:
                # A store that failed under the turn (a locked database, a disk error): the
                # checkpoint is written only at the end, so the conversation is as it was
                # before this message. Say so in the customer's language; they can resend it.
                log.exception("turn failed in conversation %s", conversation_id)
                return self._failed_turn(conversation_id, snapshot.values, snapshot.next)
            self._touch(conversation_id)
            result = self._result(conversation_id)
        active_before = {frame["flow"] for frame in before.get("stack") or []}
        return replace(
            result,
            flow_started=result.flow is not None and result.flow not in active_before,
            # A handoff record is per turn (`understand` clears it): a queued one is new.
            handoff_started=(result.handoff or {}).get("status") in ("waiting", "callback"),
        )

    def _failed_turn(
        self, conversation_id: str, values: Mapping[str, Any], paused: Sequence[str]
    ) -> TurnResult:
        """The answer to a turn that could not be taken: the state before it, and an apology."""
        language = values.get("language", "en")
        stack = values.get("stack") or []
        return TurnResult(
            conversation_id=conversation_id,
            turn=values.get("turn", 0),
            language=language,
            messages=[
                {
                    "role": "assistant",
                    "text": self.context.catalogue.render("turn_failed", language),
                }
            ],
            flow=stack[-1]["flow"] if stack else None,
            flow_status="active" if stack else None,
            awaiting=values.get("awaiting"),
            handoff=values.get("handoff"),
            paused_at=paused[0] if paused else None,
        )

    def forget(self, conversation_id: str, stores: Sequence[ConversationDataStore] = ()) -> bool:
        """Delete everything the graph keeps about a conversation: all its checkpoints and
        pending writes (state, transcript, slots) and its activity record. True when it existed.

        `stores` (api/retention.py passes every other store with rows about conversations) are
        told first, under the conversation's lock, so no turn adds a row while they forget; a
        store that fails leaves the checkpoints, so the deletion can be tried again.
        """
        with self._lock(conversation_id):
            existed = self.exists(conversation_id)
            for store in stores:
                store.forget(conversation_id)
            self.checkpointer.delete_thread(conversation_id)
            if self.activity is not None:
                self.activity.forget(conversation_id)
        return existed

    def _touch(self, conversation_id: str) -> None:
        if self.activity is not None:
            self.activity.touch(conversation_id, self.context.clock.now())

    # --- while a person has the conversation (assistant/handoff, api/routes/handoffs.py) -----
    def live_handoff(self, conversation_id: str) -> Handoff | None:
        """The open live handoff this conversation is in, if any (then the assistant is silent)."""
        return self._live(self.graph.get_state(self._config(conversation_id)).values)

    def _live(self, values: Mapping[str, Any]) -> Handoff | None:
        record = values.get("handoff") or {}
        queue = self.context.handoffs
        if queue is None or record.get("status") not in ("waiting", "claimed"):
            return None
        current = queue.get(str(record.get("handoff_id")))
        return current if current is not None and current.open else None

    def _silent_turn(
        self, conversation_id: str, values: Mapping[str, Any], text: str
    ) -> TurnResult | None:
        """A customer message while a person has the conversation: it goes to the agent (the
        handoff's message log and the transcript) and the assistant says nothing."""
        record = values.get("handoff") or {}
        if record.get("status") not in ("waiting", "claimed"):
            return None
        config = self._config(conversation_id)
        live = self._live(values)
        queue = self.context.handoffs
        if live is None or queue is None:
            # Resolved without the hand-back reaching the state: the assistant takes over again.
            self.graph.update_state(config, {"handoff": None}, as_node="respond")
            return None
        cleaned = " ".join(text.split())[: self.context.max_message_chars]
        turn = int(values.get("turn", 0)) + 1
        if cleaned:
            queue.add_message(live.handoff_id, "customer", cleaned, self.context.clock.now())
        update: dict[str, Any] = {
            "turn": turn,
            "text": cleaned,
            "out": [],
            "actions": [],
            "citations": [],
            "quick_replies": [],
            "flow_event": None,
            "awaiting": None,
            "handoff": {
                **record,
                "status": live.status,
                "position": queue.position(live.handoff_id),
            },
            "transcript": [{"role": "customer", "text": cleaned, "turn": turn}] if cleaned else [],
        }
        self.graph.update_state(config, update, as_node="respond")
        self.prune(conversation_id)
        return self._result(conversation_id)

    def agent_message(self, conversation_id: str, text: str) -> None:
        """An agent's reply, into the conversation's transcript (the customer's live stream reads
        it from the handoff's message log)."""
        config = self._config(conversation_id)
        with self._lock(conversation_id):
            turn = self.graph.get_state(config).values.get("turn", 0)
            message = {"role": "agent", "text": text, "turn": turn}
            self.graph.update_state(config, {"transcript": [message]}, as_node="respond")
            self.prune(conversation_id)

    def handoff_changed(self, conversation_id: str, handoff: Handoff) -> None:
        """Note a claim in the conversation's handoff record (what `Turn.handoff` shows)."""
        config = self._config(conversation_id)
        with self._lock(conversation_id):
            record = self.graph.get_state(config).values.get("handoff") or {}
            if record.get("handoff_id") != handoff.handoff_id:
                return
            update = {"handoff": {**record, "status": handoff.status, "position": None}}
            self.graph.update_state(config, update, as_node="respond")
            self.prune(conversation_id)

    def hand_back(self, conversation_id: str, *, return_to_bot: bool) -> str:
        """The agent resolved the handoff: the assistant takes the conversation again, keeping its
        context (language, the last tracking id), and says so. Returns what it said."""
        config = self._config(conversation_id)
        with self._lock(conversation_id):
            values = self.graph.get_state(config).values
            key = "handoff_back" if return_to_bot else "handoff_closed_by_agent"
            text = self.context.catalogue.render(key, values.get("language", "en"))
            record = values.get("handoff") or {}
            update: dict[str, Any] = {
                "handoff": {**record, "status": "resolved", "return_to_bot": return_to_bot},
                "out": [{"key": key, "text": text}],
                "actions": [],
                "citations": [],
                "quick_replies": [],
                "flow_event": None,
                "awaiting": None,
                "stack": [],
                "failures": 0,
                "tool_failures": 0,
                "moods": [],
                "transcript": [{"role": "assistant", "text": text, "turn": values.get("turn", 0)}],
            }
            self.graph.update_state(config, update, as_node="respond")
            self.prune(conversation_id)
            self._touch(conversation_id)
        return text

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
