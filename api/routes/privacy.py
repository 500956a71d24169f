"""A customer deletes their conversation: `DELETE /v1/conversations/{id}` with its token.

Everything about it goes (api/retention.py): state and transcript, the token, feedback, the
handoff queue's rows. The answer is 204 with no body. The token goes too, so the same request
again is a 401, like any unknown token: whether a conversation ever existed is not disclosed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import ClientLimit, ContainerDep, ConversationAuth
from api.problems import problem_responses
from api.retention import Retention
from api.streaming import TurnRunner

__all__ = ["router"]

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], dependencies=[ClientLimit])


@router.delete(
    "/{conversation_id}",
    status_code=204,
    summary="Delete the conversation and everything about it",
    responses=problem_responses(401, 403, 409, 429),
)
async def delete_conversation(
    request: Request, container: ContainerDep, auth: ConversationAuth
) -> Response:
    """Delete the transcript, state, token, feedback and handoff records of this conversation.

    Cases filed during the conversation are the carrier's records and stay (ask customer
    service to close them). After this, the token opens nothing.
    """
    request.app.state.rate_limits.conversation(auth.conversation_id)
    retention = Retention.from_container(container)
    runner: TurnRunner = request.app.state.turns
    # On the turn pool: the deletion waits for a turn of this conversation under way to finish.
    await runner.run_sync(retention.forget, auth.conversation_id)
    return Response(status_code=204)
