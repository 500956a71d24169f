"""Graph state: small TypedDicts with reducers (STYLE rules 4 and 9).

`ConversationState` is what the checkpointer keeps per conversation. Per-turn fields (`out`,
`actions`, `citations`, `tasks`, ...) are reset by `understand` at the start of every turn; the
flow stack, language and counters carry over.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

__all__ = ["TRANSCRIPT_LIMIT", "ConversationState", "Frame", "Reply", "Task"]

TRANSCRIPT_LIMIT = 400


def append_transcript(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append messages, keeping the latest `TRANSCRIPT_LIMIT` so a checkpoint stays bounded."""
    return [*old, *new][-TRANSCRIPT_LIMIT:]


FlowName = Literal["track_parcel", "redirect_delivery", "complaint"]
FlowStatus = Literal["active", "completed", "refused", "cancelled"]


class Reply(TypedDict):
    key: str
    text: str


class Frame(TypedDict):
    """One guided flow in progress (the dialog-state stack: push on start, pop on end)."""

    id: str
    flow: FlowName
    slots: dict[str, Any]
    resolved: list[str]
    awaiting: str | None
    reasks: dict[str, int]
    facts: dict[str, Any]
    confirmed: bool
    status: FlowStatus


class Task(TypedDict, total=False):
    """One thing to do this turn, in the order the customer asked for them."""

    kind: Literal["flow", "start_flow", "answer", "handoff", "smalltalk", "cancel", "clarify"]
    flow: FlowName
    intent: str
    reason: str
    category: str | None
    redirect_kind: str | None
    tracking_id: str
    # handoff tasks (graphs/handoff_node.py): "offer" a person or hand over now ("force");
    # `step` answers a standing offer ("callback", "case"); `offer` is the offer it answers.
    mode: Literal["offer", "force"]
    topic: str | None
    step: Literal["callback", "case"]
    offer: dict[str, Any]


class ConversationState(TypedDict, total=False):
    conversation_id: str
    language: str
    country: str | None
    turn: int
    text: str
    nlu: dict[str, Any]
    tasks: list[Task]
    stack: list[Frame]
    out: list[Reply]
    actions: list[dict[str, Any]]
    citations: list[dict[str, Any]]
    quick_replies: list[str]
    flow_event: dict[str, Any] | None
    awaiting: str | None
    handoff: dict[str, Any] | None
    transcript: Annotated[list[dict[str, Any]], append_transcript]
    failures: int
    greeted: bool
    empathy_shown_turn: int
    abstained: bool
    last_tracking_id: str | None
    # Handoff triggers: the moods of the latest customer messages (newest last), the tool calls
    # of recent turns (for the agents' summary), turns in a row with a carrier-system failure,
    # and the turn a person was last declined (no new frustration offer right after).
    moods: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    tool_failures: int
    handoff_declined_turn: int
