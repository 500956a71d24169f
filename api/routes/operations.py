"""Operations: liveness, readiness, Prometheus metrics. No credentials (keep them off the internet)."""

from __future__ import annotations

import threading

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.metrics import CONTENT_TYPE_LATEST, Metrics
from api.schemas import Health, Readiness

__all__ = ["ReadinessState", "router"]

router = APIRouter(tags=["operations"])


class ReadinessState:
    """Whether the assistant can take a turn: stores open and a help-centre index live."""

    def __init__(self) -> None:
        self.index_ready = threading.Event()
        self.problem: str | None = None


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    """Always 200 while the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The assistant can take a turn",
    responses={503: {"model": Readiness, "description": "Starting, or the index is not built"}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 once the stores are open and a help-centre index is live; 503 before (or on failure)."""
    readiness: ReadinessState | None = getattr(request.app.state, "readiness", None)
    if readiness is None:
        body = Readiness(status="starting", detail="the assistant is starting")
        return JSONResponse(body.model_dump(), status_code=503)
    if not readiness.index_ready.is_set():
        detail = readiness.problem or "building the help-centre index"
        return JSONResponse(
            Readiness(status="not_ready", detail=detail).model_dump(), status_code=503
        )
    return JSONResponse(Readiness(status="ready").model_dump())


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Turn latency, flows started and ended, abstentions, handoffs, errors, HTTP requests."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
