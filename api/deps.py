"""Dependencies routes declare with `Annotated` aliases (STYLE rule 1).

- `ContainerDep`: the composition root built in the lifespan.
- `AgentKey` / `AdminKey`: the request carries an API key of that role (`X-API-Key`).
- `ConversationAuth`: the bearer token opens the conversation in the path (see api/security.py).
- `ClientLimit`: the per-address rate limit (every `/v1` route declares it via its router).
- `JsonBody`: a body, when there is one, is declared as JSON (else 415).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from api.container import Container
from api.limits import RateLimits
from api.metrics import Metrics
from api.problems import ApiProblem, declares_json
from api.security import KeyRing, Role

__all__ = [
    "AdminKey",
    "AgentKey",
    "ClientLimit",
    "ContainerDep",
    "ConversationAuth",
    "ConversationId",
    "JsonBody",
    "MetricsDep",
    "client_address",
    "require_json",
]

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

ConversationId = Annotated[
    str,
    Path(
        description="The conversation's id, as returned when it was created.",
        pattern=CONVERSATION_ID_PATTERN,
        examples=["c_5f0c2b7e9d4a4c1e8b3a6d2f1e0c9b8a"],
    ),
]


async def get_container(request: Request) -> Container:
    container: Container | None = getattr(request.app.state, "container", None)
    if container is None:  # only before the lifespan ran (never in a served app)
        raise ApiProblem(503, "not_ready", "the assistant is starting")
    return container


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


ContainerDep = Annotated[Container, Depends(get_container)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def _key_ring(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.keys
    return ring


ApiKeyHeader = Annotated[
    str | None,
    Header(alias="X-API-Key", description="An API key of the route's role (agent or admin)."),
]


async def require_agent(request: Request, x_api_key: ApiKeyHeader = None) -> Role:
    return _key_ring(request).require("agent", x_api_key)


async def require_admin(request: Request, x_api_key: ApiKeyHeader = None) -> Role:
    return _key_ring(request).require("admin", x_api_key)


AgentKey = Annotated[str, Depends(require_agent)]
AdminKey = Annotated[str, Depends(require_admin)]


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@dataclass(frozen=True)
class ConversationAccess:
    conversation_id: str


def conversation_access(
    container: ContainerDep,
    conversation_id: ConversationId,
    authorization: Annotated[
        str | None,
        Header(description="`Bearer <token>` as returned when the conversation was created."),
    ] = None,
) -> ConversationAccess:
    container.conversation_tokens.authorize(conversation_id, _bearer(authorization))
    return ConversationAccess(conversation_id)


ConversationAuth = Annotated[ConversationAccess, Depends(conversation_access)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def client_limit(request: Request) -> None:
    limits: RateLimits = request.app.state.rate_limits
    limits.client(client_address(request))


ClientLimit = Depends(client_limit)


async def require_json(request: Request) -> None:
    """A request with a body must declare it as JSON; an empty body with no type is fine."""
    content_type = request.headers.get("content-type")
    length = request.headers.get("content-length")
    if not content_type and length in (None, "0"):
        return
    if not declares_json(content_type):
        raise ApiProblem(415, "unsupported_media_type", "send the body as application/json")


JsonBody = Depends(require_json)
