"""The agents' API (DESIGN §5) and the customer's live stream while a person has the conversation.

Agents (`X-API-Key` from `BUDBRINGER_AGENT_KEYS`):

| route | what | errors |
|---|---|---|
| `GET /v1/handoffs?status=waiting\\|claimed\\|resolved` | the queue, by priority then arrival (resolved: newest first) | 401, 403, 422 |
| `GET /v1/handoffs/{id}` | one handoff with its message log and the conversation's transcript | 404 |
| `POST /v1/handoffs/{id}/claim` `{"agent_name"?}` | take it (only a waiting one) | 404, 409 |
| `POST /v1/handoffs/{id}/messages` `{"text"}` | reply to the customer (needs a claim) | 404, 409, 422 |
| `POST /v1/handoffs/{id}/resolve` `{"note"?, "return_to_bot"?}` | close it; the assistant takes the conversation again | 404, 409, 422 |
| `GET /v1/cases?tracking_id=`, `GET /v1/cases/{case_id}` | complaint cases | 404 |

A customer's conversation token on these routes is refused with 403, a missing or unknown key
with 401, an admin key with 403. Refused changes change nothing (the queue guards them).

Customers: `GET /v1/conversations/{id}/events` (`Authorization: Bearer <token>`) streams what
the agent writes as Server-Sent Events (`event: message`, `data: {"seq", "role", "text", "at",
"handoff_id"}`, the `id` is `seq`) and status changes (`event: handoff`, `data: {"handoff_id",
"status", "position"}`). The stream closes after `wait` seconds (default 25); the browser's
EventSource reconnects by itself and sends `Last-Event-ID`, so nothing is missed or repeated.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from sse_starlette import EventSourceResponse, JSONServerSentEvent
from starlette.concurrency import run_in_threadpool

from api.deps import ClientLimit, ContainerDep, ConversationAuth, JsonBody, MetricsDep
from api.problems import ApiProblem, body_problems, problem_responses
from api.schemas import (
    AgentMessageCreate,
    CasePublic,
    ClaimCreate,
    HandoffDetail,
    HandoffMessagePublic,
    HandoffPublic,
    ResolveCreate,
)
from api.security import KeyRing
from assistant.domain import Case
from assistant.errors import Forbidden, NotFound, ToolFailed
from assistant.handoff.models import Handoff, HandoffMessage
from assistant.ports import HandoffQueue

__all__ = ["cases_router", "live_router", "router"]

router = APIRouter(prefix="/v1/handoffs", tags=["agents"], dependencies=[ClientLimit])
cases_router = APIRouter(prefix="/v1/cases", tags=["agents"], dependencies=[ClientLimit])
live_router = APIRouter(
    prefix="/v1/conversations", tags=["conversations"], dependencies=[ClientLimit]
)

HandoffId = Annotated[
    str,
    Path(
        pattern=r"^H-[A-Z0-9]{1,40}$", description="The handoff's id.", examples=["H-1A2B3C4D5E6F"]
    ),
]
CaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,60}$", description="The case's id.")]
_POLL_SECONDS = 0.5
_AGENT_ROLES = ("agent", "system")


# --- helpers ----------------------------------------------------------------------------------
def _queue(container: Any) -> HandoffQueue:
    queue: HandoffQueue = container.handoffs
    return queue


def agent_id(key: str) -> str:
    """A stable, non-secret name for the key's holder (the key itself is never stored)."""
    return "agent-" + hashlib.sha256(key.encode()).hexdigest()[:8]


async def require_agent(
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """The calling agent's id; a conversation token is the wrong credential (403)."""
    if not x_api_key and authorization and authorization.lower().startswith("bearer "):
        raise Forbidden(
            "a conversation token does not open the agent API: send an agent key in X-API-Key",
            code="forbidden",
        )
    ring: KeyRing = request.app.state.keys
    ring.require("agent", x_api_key)
    assert x_api_key is not None
    return agent_id(x_api_key)


Agent = Annotated[str, Depends(require_agent)]


def _public(handoff: Handoff, queue: HandoffQueue) -> HandoffPublic:
    return HandoffPublic(
        handoff_id=handoff.handoff_id,
        conversation_id=handoff.conversation_id,
        created_at=handoff.created_at,
        priority=handoff.priority,
        language=handoff.language,
        reason=handoff.reason,
        summary=handoff.summary,
        status=handoff.status,
        mode=handoff.mode,
        position=queue.position(handoff.handoff_id) if handoff.status == "waiting" else None,
        callback_phone=handoff.callback_phone,
        agent=handoff.agent,
        claimed_at=handoff.claimed_at,
        resolved_at=handoff.resolved_at,
        note=handoff.note,
        return_to_bot=handoff.return_to_bot,
    )


def _message(message: HandoffMessage) -> HandoffMessagePublic:
    return HandoffMessagePublic(
        seq=message.seq,
        handoff_id=message.handoff_id,
        role=message.role,
        text=message.text,
        at=message.at,
    )


def _get(queue: HandoffQueue, handoff_id: str) -> Handoff:
    handoff = queue.get(handoff_id)
    if handoff is None:
        raise NotFound(f"there is no handoff {handoff_id}", code="handoff_not_found")
    return handoff


def _case(case: Case) -> CasePublic:
    return CasePublic(
        case_id=case.case_id,
        tracking_id=case.tracking_id,
        category=case.category.value,
        priority=case.priority,
        description=case.description,
        contact_email=case.contact_email,
        contact_phone=case.contact_phone,
        status=case.status.value,
        language=case.language,
        shipment_status=case.shipment_status,
        created_at=case.created_at,
    )


AGENT_PROBLEMS = (401, 403, 429)


# --- agents: the queue ------------------------------------------------------------------------
@router.get("", summary="The handoff queue", responses=problem_responses(*AGENT_PROBLEMS, 422))
async def list_handoffs(
    container: ContainerDep,
    agent: Agent,
    status: Annotated[
        Literal["waiting", "claimed", "resolved"] | None,
        Query(description="Only handoffs in this state; all when left out."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[HandoffPublic]:
    """Handoffs by priority, then arrival (resolved ones newest first), with their summaries."""
    queue = _queue(container)

    def work() -> list[HandoffPublic]:
        return [_public(h, queue) for h in queue.list_handoffs(status, limit)]

    return await run_in_threadpool(work)


@router.get(
    "/{handoff_id}", summary="One handoff", responses=problem_responses(*AGENT_PROBLEMS, 404, 422)
)
async def get_handoff(
    container: ContainerDep, agent: Agent, handoff_id: HandoffId
) -> HandoffDetail:
    """The handoff with its message log and the whole conversation before it."""
    queue = _queue(container)

    def work() -> HandoffDetail:
        handoff = _get(queue, handoff_id)
        engine = container.conversations
        transcript: list[dict[str, Any]] = []
        if engine.exists(handoff.conversation_id):
            transcript = list(engine.state(handoff.conversation_id).get("transcript", []))
        return HandoffDetail(
            **_public(handoff, queue).model_dump(),
            messages=[_message(m) for m in queue.messages(handoff_id=handoff_id)],
            transcript=[
                {"role": m.get("role"), "text": m.get("text"), "turn": m.get("turn")}
                for m in transcript
            ],
        )

    return await run_in_threadpool(work)


@router.post(
    "/{handoff_id}/claim",
    summary="Claim a waiting handoff",
    dependencies=[JsonBody],
    responses=problem_responses(*AGENT_PROBLEMS, 404, 409, *body_problems()),
)
async def claim_handoff(
    container: ContainerDep,
    metrics: MetricsDep,
    agent: Agent,
    handoff_id: HandoffId,
    body: Annotated[ClaimCreate | None, Body()] = None,
) -> HandoffPublic:
    """Take a waiting handoff; a claimed or resolved one is a 409 and stays as it was."""
    queue = _queue(container)
    name = body.agent_name if body and body.agent_name else agent

    def work() -> HandoffPublic:
        claimed = queue.claim(handoff_id, name, container.clock.now())
        container.conversations.handoff_changed(claimed.conversation_id, claimed)
        metrics.observe_handoff_claimed(claimed)
        return _public(claimed, queue)

    return await run_in_threadpool(work)


@router.post(
    "/{handoff_id}/messages",
    status_code=201,
    summary="Reply to the customer",
    dependencies=[JsonBody],
    responses=problem_responses(*AGENT_PROBLEMS, 404, 409, *body_problems()),
)
async def post_message(
    container: ContainerDep, agent: Agent, handoff_id: HandoffId, body: AgentMessageCreate
) -> HandoffMessagePublic:
    """Write to the customer: it appears in their conversation (and live stream) at once."""
    queue = _queue(container)

    def work() -> HandoffMessagePublic:
        message = queue.add_message(handoff_id, "agent", body.text, container.clock.now())
        container.conversations.agent_message(message.conversation_id, message.text)
        return _message(message)

    return await run_in_threadpool(work)


@router.post(
    "/{handoff_id}/resolve",
    summary="Resolve a handoff",
    dependencies=[JsonBody],
    responses=problem_responses(*AGENT_PROBLEMS, 404, 409, *body_problems()),
)
async def resolve_handoff(
    container: ContainerDep,
    metrics: MetricsDep,
    agent: Agent,
    handoff_id: HandoffId,
    body: Annotated[ResolveCreate | None, Body()] = None,
) -> HandoffPublic:
    """Close the handoff; with `return_to_bot` the assistant greets the customer back and goes
    on with the conversation's context. Resolving twice is a 409."""
    queue = _queue(container)
    request = body or ResolveCreate()

    def work() -> HandoffPublic:
        handoff = _get(queue, handoff_id)
        engine = container.conversations
        live = handoff.mode == "live" and engine.exists(handoff.conversation_id)
        if handoff.status != "resolved" and live:
            # What the assistant will say, into the log first, so the customer's stream shows it.
            key = "handoff_back" if request.return_to_bot else "handoff_closed_by_agent"
            text = engine.context.catalogue.render(key, handoff.language)
            queue.add_message(handoff_id, "system", text, container.clock.now())
        resolved = queue.resolve(
            handoff_id, container.clock.now(), request.note, request.return_to_bot
        )
        if live and engine.live_handoff(handoff.conversation_id) is None:
            engine.hand_back(handoff.conversation_id, return_to_bot=request.return_to_bot)
        metrics.observe_handoff_resolved(resolved)
        return _public(resolved, queue)

    return await run_in_threadpool(work)


# --- agents: cases ----------------------------------------------------------------------------
@cases_router.get("", summary="Complaint cases", responses=problem_responses(*AGENT_PROBLEMS, 422))
async def list_cases(
    container: ContainerDep,
    agent: Agent,
    tracking_id: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CasePublic]:
    """Cases, newest first; only one parcel's with `tracking_id`."""

    def work() -> list[CasePublic]:
        try:
            found: Sequence[Case] = container.carrier.list_cases(tracking_id, limit)
        except ToolFailed as exc:
            raise ApiProblem(503, "carrier_unavailable", exc.explanation) from exc
        return [_case(c) for c in found]

    return await run_in_threadpool(work)


@cases_router.get(
    "/{case_id}", summary="One case", responses=problem_responses(*AGENT_PROBLEMS, 404, 422)
)
async def get_case(container: ContainerDep, agent: Agent, case_id: CaseId) -> CasePublic:
    def work() -> CasePublic:
        try:
            return _case(container.carrier.get_case(case_id))
        except ToolFailed as exc:
            if exc.reason in ("case_not_found", "not_found"):
                raise NotFound(f"there is no case {case_id}", code="case_not_found") from exc
            raise ApiProblem(503, "carrier_unavailable", exc.explanation) from exc

    return await run_in_threadpool(work)


# --- customers: the live stream ---------------------------------------------------------------
@live_router.get(
    "/{conversation_id}/events",
    summary="What the agent writes, live",
    response_class=EventSourceResponse,
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def conversation_events(
    request: Request,
    container: ContainerDep,
    auth: ConversationAuth,
    wait: Annotated[
        float, Query(ge=0.1, le=60, description="Seconds before the stream closes.")
    ] = 25,
    after: Annotated[int, Query(ge=0, description="Only messages after this `seq`.")] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Agent (and hand-back) messages and handoff status changes, as Server-Sent Events."""
    if not container.conversations.exists(auth.conversation_id):
        raise NotFound("there is no such conversation", code="not_found")
    cursor = after
    if last_event_id and last_event_id.isdigit():
        cursor = max(cursor, int(last_event_id))
    queue = _queue(container)
    return EventSourceResponse(
        _events(request, queue, auth.conversation_id, cursor, wait),
        ping=15,
        headers={"Cache-Control": "no-store"},
    )


async def _events(
    request: Request, queue: HandoffQueue, conversation_id: str, cursor: int, wait: float
) -> AsyncIterator[JSONServerSentEvent]:
    deadline = time.monotonic() + wait
    last_status: tuple[str, str, int | None] | None = None
    while True:
        messages, status = await run_in_threadpool(_poll, queue, conversation_id, cursor)
        if status is not None and status != last_status:
            last_status = status
            handoff_id, state, position = status
            yield JSONServerSentEvent(
                {"handoff_id": handoff_id, "status": state, "position": position}, event="handoff"
            )
        for message in messages:
            cursor = message.seq
            if message.role in _AGENT_ROLES:
                data = _message(message).model_dump(mode="json")
                yield JSONServerSentEvent(data, event="message", id=str(message.seq))
        if time.monotonic() >= deadline or await request.is_disconnected():
            return
        await asyncio.sleep(_POLL_SECONDS)


def _poll(
    queue: HandoffQueue, conversation_id: str, cursor: int
) -> tuple[list[HandoffMessage], tuple[str, str, int | None] | None]:
    messages = list(queue.messages(conversation_id=conversation_id, after=cursor))
    current = queue.open_for(conversation_id)
    if current is None and messages:
        current = queue.get(messages[-1].handoff_id)
    status = None
    if current is not None:
        status = (current.handoff_id, current.status, queue.position(current.handoff_id))
    return messages, status
