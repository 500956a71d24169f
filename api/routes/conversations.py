"""Customer routes: open a conversation, send messages (JSON or SSE), read it, give feedback."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from sse_starlette import EventSourceResponse

from api.deps import ClientLimit, ContainerDep, ConversationAuth, JsonBody
from api.problems import body_problems, problem_responses
from api.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationPublic,
    FeedbackCreate,
    FeedbackPublic,
    Language,
    Message,
    MessageCreate,
    TranscriptMessage,
    Turn,
)
from api.streaming import TurnRunner, sse_events, to_turn
from assistant.errors import NotFound

__all__ = ["pick_language", "router"]

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], dependencies=[ClientLimit])

LANGUAGES: tuple[Language, ...] = ("da", "sv", "nb", "fi", "en")
# Browsers send "no" or "nn" for Norwegian; the help centre writes Bokmål.
_ALIASES = {"no": "nb", "nn": "nb", "nob": "nb", "dan": "da", "swe": "sv", "fin": "fi", "eng": "en"}


def pick_language(accept_language: str | None) -> Language:
    """The best of da|sv|nb|fi|en by the Accept-Language q-values; English when none fits."""
    if not accept_language:
        return "en"
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        primary = _ALIASES.get(primary, primary)
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if primary in LANGUAGES and 0 < quality <= 1:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"


def _runner(request: Request) -> TurnRunner:
    runner: TurnRunner = request.app.state.turns
    return runner


@router.post(
    "",
    status_code=201,
    summary="Open a conversation",
    dependencies=[JsonBody],
    responses=problem_responses(*body_problems(), 429),
)
async def create_conversation(
    request: Request,
    response: Response,
    container: ContainerDep,
    body: Annotated[ConversationCreate | None, Body()] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> ConversationCreated:
    """A new conversation with its greeting, and the token that opens it (and no other).

    The language is the body's `language`, else the best match in `Accept-Language`, else English.
    """
    language: Language = (body.language if body else None) or pick_language(accept_language)
    conversation_id = "c_" + uuid.uuid4().hex

    def start() -> tuple[Any, str]:
        result = container.conversations.start(conversation_id, language)
        return result, container.conversation_tokens.issue(conversation_id)

    result, token = await _runner(request).run_sync(start)
    response.headers["Location"] = f"/v1/conversations/{conversation_id}"
    return ConversationCreated(
        conversation_id=conversation_id,
        token=token,
        language=language,
        messages=[Message.model_validate(m) for m in result.messages],
    )


@router.post(
    "/{conversation_id}/messages",
    summary="Send a message; get the assistant's turn",
    dependencies=[JsonBody],
    response_model=Turn,
    responses={
        200: {
            "description": (
                "The turn. With `Accept: text/event-stream` the turn streams as Server-Sent "
                "Events: `progress` ({text}), one `message` ({role, text}) per reply, and last "
                "`turn` (the full Turn); `error` (a problem) if the turn failed."
            ),
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": (
                        'event: progress\ndata: {"text":"Jeg slår din pakke op…"}\n\n'
                        'event: message\ndata: {"role":"assistant","text":"..."}\n\n'
                        'event: turn\ndata: {"conversation_id":"...","turn":1}\n\n'
                    ),
                }
            },
        },
        **problem_responses(*body_problems(), 401, 403, 409, 429),
    },
)
async def post_message(
    request: Request,
    auth: ConversationAuth,
    body: MessageCreate,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """Take one customer message (1-2000 characters after trimming)."""
    request.app.state.rate_limits.conversation(auth.conversation_id)
    runner = _runner(request)
    if accept and "text/event-stream" in accept.lower():
        return EventSourceResponse(
            sse_events(runner, auth.conversation_id, body.text, request.url.path),
            ping=15,
            # A client that stops reading is dropped after 30 s; its turn is stored regardless.
            send_timeout=30,
            headers={"Cache-Control": "no-store"},
        )
    return to_turn(await runner.turn(auth.conversation_id, body.text))


@router.get(
    "/{conversation_id}",
    summary="The transcript and current state",
    responses=problem_responses(401, 403, 404, 429),
)
async def get_conversation(
    request: Request, container: ContainerDep, auth: ConversationAuth
) -> ConversationPublic:
    """Every message so far (the latest 400), the language, the active flow and what it awaits."""
    cid = auth.conversation_id
    values = await _runner(request).run_sync(container.conversations.state, cid)
    if not values:
        raise NotFound("this conversation no longer exists", code="not_found")
    stack = values.get("stack") or []
    event = values.get("flow_event") or {}
    flow: str | None
    status: str | None
    if stack:
        flow, status = stack[-1]["flow"], "active"
    else:
        flow, status = event.get("flow"), event.get("status")
    return ConversationPublic(
        conversation_id=cid,
        language=values.get("language", "en"),
        turn=values.get("turn", 0),
        flow=flow,
        flow_status=status,
        awaiting=values.get("awaiting"),
        handoff=values.get("handoff"),
        messages=[TranscriptMessage.model_validate(m) for m in values.get("transcript", [])],
    )


@router.post(
    "/{conversation_id}/feedback",
    status_code=201,
    summary="Rate the conversation",
    dependencies=[JsonBody],
    responses=problem_responses(*body_problems(), 401, 403, 429),
)
async def post_feedback(
    request: Request, container: ContainerDep, auth: ConversationAuth, body: FeedbackCreate
) -> FeedbackPublic:
    """A rating from 1 to 5 and an optional comment (at most 2000 characters)."""
    request.app.state.rate_limits.conversation(auth.conversation_id)
    record = await _runner(request).run_sync(
        container.feedback.add, auth.conversation_id, body.rating, body.comment
    )
    return FeedbackPublic(
        feedback_id=record.feedback_id,
        conversation_id=record.conversation_id,
        rating=record.rating,
        comment=record.comment,
        created_at=record.created_at,
    )
