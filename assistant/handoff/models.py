"""Handoff values: a conversation waiting for (or with) a person, and the messages in between.

A handoff is `live` (the customer waits in the chat; the assistant stays silent until an agent
resolves it) or `callback` (agents were away or the wait too long: an agent calls the customer
back on a validated number). Both move `waiting → claimed → resolved`.

Priority (higher first; ties by arrival): the reason's base, raised by the parcel's declared
value (one point per 100 EUR, at most 20), so a lost 9,000 DKK parcel overtakes a routine
request but never a legal threat.

| reason | base |
|---|---|
| policy (legal threat, fraud report, data-protection request, lost parcel above the limit) | 50 |
| tool_failure (the carrier system keeps failing) | 40 |
| frustration | 30 |
| repeated_failure (the assistant failed twice in a row) | 20 |
| customer_request, out_of_scope | 10 |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "PRIORITY_BASE",
    "REASONS",
    "Handoff",
    "HandoffMessage",
    "HandoffMode",
    "HandoffReason",
    "HandoffStatus",
    "MessageRole",
    "priority_for",
]

HandoffReason = Literal[
    "customer_request", "frustration", "repeated_failure", "policy", "out_of_scope", "tool_failure"
]
HandoffStatus = Literal["waiting", "claimed", "resolved"]
HandoffMode = Literal["live", "callback"]
MessageRole = Literal["customer", "agent", "system"]

REASONS: tuple[HandoffReason, ...] = (
    "customer_request",
    "frustration",
    "repeated_failure",
    "policy",
    "out_of_scope",
    "tool_failure",
)
PRIORITY_BASE: dict[str, int] = {
    "policy": 50,
    "tool_failure": 40,
    "frustration": 30,
    "repeated_failure": 20,
    "customer_request": 10,
    "out_of_scope": 10,
}
_VALUE_STEP_EUR = 100.0
_VALUE_MAX_BONUS = 20


def priority_for(reason: str, declared_value_eur: float | None = None) -> int:
    """The queue priority of a handoff (see the module docstring)."""
    bonus = 0
    if declared_value_eur is not None and declared_value_eur > 0:
        bonus = min(_VALUE_MAX_BONUS, int(declared_value_eur // _VALUE_STEP_EUR))
    return PRIORITY_BASE.get(reason, 10) + bonus


@dataclass(frozen=True)
class Handoff:
    """One request for a person. `summary` is the structured summary of DESIGN §6."""

    handoff_id: str
    conversation_id: str
    idempotency_key: str
    created_at: datetime
    priority: int
    language: str
    reason: HandoffReason
    summary: dict[str, Any]
    mode: HandoffMode = "live"
    status: HandoffStatus = "waiting"
    country: str | None = None
    callback_phone: str | None = None
    agent: str | None = None
    claimed_at: datetime | None = None
    resolved_at: datetime | None = None
    note: str | None = None
    return_to_bot: bool = False

    @property
    def open(self) -> bool:
        return self.status != "resolved"


@dataclass(frozen=True)
class HandoffMessage:
    """One line of the handoff's message log; `seq` increases across the whole queue."""

    seq: int
    handoff_id: str
    conversation_id: str
    role: MessageRole
    text: str
    at: datetime
