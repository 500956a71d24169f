"""Wire models of the HTTP API (DESIGN §5), split by role: `...Create` bodies, public answers.

Request bodies forbid unknown fields (a typo is a 422, not silently ignored). Every model has an
example, so `/openapi.json` documents itself and schemathesis can start from real shapes.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

__all__ = [
    "MAX_TEXT_CHARS",
    "Action",
    "AgentMessageCreate",
    "Article",
    "ArticleList",
    "CasePublic",
    "Citation",
    "ClaimCreate",
    "ConversationCreate",
    "ConversationCreated",
    "ConversationPublic",
    "FeedbackCreate",
    "FeedbackPublic",
    "HandoffDetail",
    "HandoffMessagePublic",
    "HandoffPublic",
    "Health",
    "JobAccepted",
    "JobProgress",
    "JobPublic",
    "Language",
    "Message",
    "MessageCreate",
    "Readiness",
    "ReindexCreate",
    "ResolveCreate",
    "RollbackPublic",
    "TopicCoverage",
    "TranscriptMessage",
    "Turn",
    "clean_text",
]

Language = Literal["da", "sv", "nb", "fi", "en"]
MAX_TEXT_CHARS = 2000
MAX_COMMENT_CHARS = 2000

_CONVERSATION_ID = "c_5f0c2b7e9d4a4c1e8b3a6d2f1e0c9b8a"


def clean_text(value: str) -> str:
    """Control characters out (newlines and tabs stay), surrounding whitespace trimmed."""
    kept = "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return kept.strip()


def _bounded(value: str, limit: int, what: str) -> str:
    cleaned = clean_text(value)
    if not cleaned:
        raise ValueError(f"{what} is empty after trimming")
    if len(cleaned) > limit:
        raise ValueError(f"{what} has {len(cleaned)} characters; the limit is {limit}")
    return cleaned


class Message(BaseModel):
    """One message of a turn's reply."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "assistant", "text": "Hej! Hvad kan jeg hjælpe med?"}]
        }
    )

    role: Literal["assistant", "agent"] = "assistant"
    text: str


class TranscriptMessage(BaseModel):
    """One message of the transcript, with the turn it belongs to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "customer", "text": "hvor er min pakke", "turn": 1}]
        }
    )

    role: str = Field(description="`customer`, `assistant` or `agent`.")
    text: str
    turn: int


class ConversationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"language": "da"}, {}]}
    )

    language: Language | None = Field(
        default=None,
        description="The greeting's language; absent: taken from Accept-Language, else English.",
    )


class ConversationCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": _CONVERSATION_ID,
                    "token": "q3JvV0s1Wm9pR0dlVUFtN2xqZ1R3bXlqS2V0c2VjcmV0",
                    "messages": [{"role": "assistant", "text": "Hej! Hvad kan jeg hjælpe med?"}],
                }
            ]
        }
    )

    conversation_id: str
    token: str = Field(
        description="Bearer credential for this conversation and no other; shown only once."
    )
    language: Language
    messages: list[Message]


class MessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "hvor er RR361920561SE"}]},
    )

    text: str = Field(
        description=(
            "The customer's message: 1-2000 characters after control characters are removed "
            "and whitespace is trimmed."
        ),
        max_length=16 * MAX_TEXT_CHARS,
    )

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return _bounded(value, MAX_TEXT_CHARS, "text")


class Citation(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "article_id": "customs-and-vat",
                    "title": "Told og moms på pakker fra lande uden for EU",
                    "language": "da",
                }
            ]
        }
    )

    article_id: str
    title: str
    language: str


class Action(BaseModel):
    """One tool call; `ok` false means the tool refused or failed, `result.reason` says why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tool": "get_shipment_status",
                    "arguments": {"tracking_id": "RR361920561SE"},
                    "ok": True,
                    "result": {"status": "IN_TRANSIT"},
                }
            ]
        }
    )

    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any]


class Turn(BaseModel):
    """What the assistant said and did in reply to one message (DESIGN §5)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": _CONVERSATION_ID,
                    "turn": 1,
                    "language": "da",
                    "messages": [
                        {
                            "role": "assistant",
                            "text": "Pakke RR361920561SE er undervejs og ventes i morgen.",
                        },
                        {"role": "assistant", "text": "Hvad er modtagerens postnummer?"},
                    ],
                    "flow": "redirect_delivery",
                    "flow_status": "active",
                    "awaiting": "postcode",
                    "citations": [],
                    "actions": [
                        {
                            "tool": "get_shipment_status",
                            "arguments": {"tracking_id": "RR361920561SE"},
                            "ok": True,
                            "result": {"status": "IN_TRANSIT"},
                        }
                    ],
                    "handoff": None,
                    "quick_replies": ["Annuller"],
                }
            ]
        }
    )

    conversation_id: str
    turn: int
    language: Language
    messages: list[Message]
    flow: Literal["track_parcel", "redirect_delivery", "complaint"] | None
    flow_status: Literal["active", "completed", "refused", "cancelled"] | None
    awaiting: str | None
    citations: list[Citation]
    actions: list[Action]
    handoff: dict[str, Any] | None
    quick_replies: list[str]


class ConversationPublic(BaseModel):
    """The transcript and where the conversation stands now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": _CONVERSATION_ID,
                    "language": "da",
                    "turn": 1,
                    "flow": "redirect_delivery",
                    "flow_status": "active",
                    "awaiting": "postcode",
                    "handoff": None,
                    "messages": [
                        {"role": "assistant", "text": "Hej! Hvad kan jeg hjælpe med?", "turn": 0},
                        {
                            "role": "customer",
                            "text": "kan RR361920561SE stilles ved døren",
                            "turn": 1,
                        },
                        {"role": "assistant", "text": "Hvad er modtagerens postnummer?", "turn": 1},
                    ],
                }
            ]
        }
    )

    conversation_id: str
    language: Language
    turn: int
    flow: str | None
    flow_status: str | None
    awaiting: str | None
    handoff: dict[str, Any] | None
    messages: list[TranscriptMessage]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"rating": 5, "comment": "Hurtigt svar, tak!"}, {"rating": 2}]
        },
    )

    rating: int = Field(ge=1, le=5, strict=True)
    comment: str | None = Field(default=None, max_length=16 * MAX_COMMENT_CHARS)

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = clean_text(value)
        if len(cleaned) > MAX_COMMENT_CHARS:
            raise ValueError(
                f"comment has {len(cleaned)} characters; the limit is {MAX_COMMENT_CHARS}"
            )
        return cleaned or None


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "feedback_id": 1,
                    "conversation_id": _CONVERSATION_ID,
                    "rating": 5,
                    "comment": "Hurtigt svar, tak!",
                    "created_at": "2026-11-23T11:00:00Z",
                }
            ]
        }
    )

    feedback_id: int
    conversation_id: str
    rating: int
    comment: str | None
    created_at: datetime


class Article(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "article_id": "customs-and-vat",
                    "language": "da",
                    "title": "Told og moms på pakker fra lande uden for EU",
                    "updated": "2026-10-01",
                    "path": "da/customs-and-vat.md",
                }
            ]
        }
    )

    article_id: str
    language: str
    title: str
    updated: str = Field(description="Front matter `updated`, else the file's modification time.")
    path: str = Field(description="Relative to the content folder.")


class TopicCoverage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "article_id": "customs-and-vat",
                    "languages": ["da", "en", "fi", "sv"],
                    "missing": ["nb"],
                }
            ]
        }
    )

    article_id: str
    languages: list[str]
    missing: list[str]


class ArticleList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "articles": [
                        {
                            "article_id": "customs-and-vat",
                            "language": "da",
                            "title": "Told og moms på pakker fra lande uden for EU",
                            "updated": "2026-10-01",
                            "path": "da/customs-and-vat.md",
                        }
                    ],
                    "topics": [
                        {
                            "article_id": "customs-and-vat",
                            "languages": ["da"],
                            "missing": ["en", "fi", "nb", "sv"],
                        }
                    ],
                    "skipped": [],
                }
            ]
        }
    )

    articles: list[Article]
    topics: list[TopicCoverage]
    skipped: list[dict[str, str]] = Field(
        default_factory=list, description="Files that could not be read, with the reason."
    )


class ReindexCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{}, {"full": True}, {"check_only": True}]},
    )

    full: bool = Field(default=False, description="Rebuild from every article, not only changes.")
    check_only: bool = Field(default=False, description="Validate the content; index nothing.")


class JobAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"job_id": "j_6c1d0e9f8a7b"}]})

    job_id: str


class JobProgress(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"done": 120, "total": 410, "stage": "embed"}]}
    )

    done: int
    total: int
    stage: str


class JobPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "j_6c1d0e9f8a7b",
                    "status": "succeeded",
                    "full": False,
                    "check_only": False,
                    "progress": {"done": 1, "total": 1, "stage": "switch"},
                    "report": {
                        "version": "v3-20261123T110000",
                        "switched": True,
                        "message": "v3 is live",
                    },
                    "error": None,
                    "created_at": "2026-11-23T11:00:00Z",
                    "started_at": "2026-11-23T11:00:00Z",
                    "finished_at": "2026-11-23T11:00:09Z",
                }
            ]
        }
    )

    job_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    full: bool
    check_only: bool
    progress: JobProgress
    report: dict[str, Any] | None = Field(
        description="The reindex report once finished (version, counts, changes, checks)."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RollbackPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"live": "v2-20261120T090000", "previous": "v3-20261123T110000"}]
        }
    )

    live: str = Field(description="The version that is live now.")
    previous: str | None = Field(description="The version that was live before the rollback.")


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "ready"},
                {"status": "not_ready", "detail": "building the help-centre index"},
            ]
        }
    )

    status: str
    detail: str | None = None


# --- agents: handoffs and cases (DESIGN §5, §6) ------------------------------------------------------------------------------
class HandoffPublic(BaseModel):
    """One handoff as agents see it; `summary` is the structured summary of DESIGN §6."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handoff_id": "H-1A2B3C4D5E6F",
                    "conversation_id": "c_5f0c2b7e9d4a4c1e8b3a6d2f1e0c9b8a",
                    "created_at": "2026-11-23T11:00:00Z",
                    "priority": 54,
                    "language": "da",
                    "reason": "policy",
                    "summary": {"reason": "policy", "text": "Policy: lost parcel above ..."},
                    "status": "waiting",
                    "mode": "live",
                    "position": 1,
                    "callback_phone": None,
                    "agent": None,
                    "claimed_at": None,
                    "resolved_at": None,
                    "note": None,
                    "return_to_bot": False,
                }
            ]
        }
    )

    handoff_id: str
    conversation_id: str
    created_at: datetime
    priority: int
    language: str
    reason: str
    summary: dict[str, Any]
    status: Literal["waiting", "claimed", "resolved"]
    mode: Literal["live", "callback"] = Field(
        description="`live`: the customer waits in the chat; `callback`: call them back."
    )
    position: int | None = Field(description="1-based place among waiting live handoffs.")
    callback_phone: str | None
    agent: str | None
    claimed_at: datetime | None
    resolved_at: datetime | None
    note: str | None
    return_to_bot: bool


_MESSAGE_EXAMPLE: dict[str, JsonValue] = {
    "seq": 42,
    "handoff_id": "H-1A2B3C4D5E6F",
    "role": "agent",
    "text": "Hej, det er Mette. Jeg kigger på din pakke.",
    "at": "2026-11-23T11:04:00Z",
}


class HandoffMessagePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MESSAGE_EXAMPLE]})

    seq: int = Field(description="Increases across the queue; the SSE event id.")
    handoff_id: str
    role: Literal["customer", "agent", "system"]
    text: str
    at: datetime


class HandoffDetail(HandoffPublic):
    """A handoff with what the console shows beside it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "handoff_id": "H-1A2B3C4D5E6F",
                    "conversation_id": "c_5f0c2b7e9d4a4c1e8b3a6d2f1e0c9b8a",
                    "created_at": "2026-11-23T11:00:00Z",
                    "priority": 10,
                    "language": "da",
                    "reason": "customer_request",
                    "summary": {"reason": "customer_request", "text": "Customer asked ..."},
                    "status": "claimed",
                    "mode": "live",
                    "position": None,
                    "callback_phone": None,
                    "agent": "Mette",
                    "claimed_at": "2026-11-23T11:03:00Z",
                    "resolved_at": None,
                    "note": None,
                    "return_to_bot": False,
                    "messages": [_MESSAGE_EXAMPLE],
                    "transcript": [
                        {"role": "customer", "text": "jeg vil tale med et menneske", "turn": 1}
                    ],
                }
            ]
        }
    )

    messages: list[HandoffMessagePublic] = Field(description="Since the handoff, oldest first.")
    transcript: list[dict[str, Any]] = Field(
        description="The whole conversation: `{role, text, turn}`, role customer|assistant|agent."
    )


class ClaimCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"agent_name": "Mette"}]},
    )

    agent_name: str | None = Field(
        default=None, min_length=1, max_length=60, description="Shown to other agents."
    )


class AgentMessageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Hej, det er Mette."}]}
    )

    text: str = Field(min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty after trimming")
        return value.strip()


class ResolveCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "Redirect explained", "return_to_bot": True}]},
    )

    note: str | None = Field(default=None, max_length=2000)
    return_to_bot: bool = Field(
        default=False, description="Hand the customer back to the assistant, with the context."
    )


class CasePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "CS-7Q2M4X",
                    "tracking_id": "RR905677345SE",
                    "category": "damaged",
                    "priority": "normal",
                    "description": "The box was crushed and the lamp is broken.",
                    "contact_email": "elin@example.com",
                    "contact_phone": None,
                    "status": "open",
                    "language": "sv",
                    "shipment_status": "DELIVERED",
                    "created_at": "2026-11-23T11:00:00Z",
                }
            ]
        }
    )

    case_id: str
    tracking_id: str
    category: str
    priority: str
    description: str
    contact_email: str | None
    contact_phone: str | None
    status: str
    language: str
    shipment_status: str | None
    created_at: datetime
