"""The HTTP application: built by `create_app`, served by `budbringer serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.container import Container
from assistant.settings import Settings, get_settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


class Readiness:
    """Whether the assistant can take a turn: stores open and a help-centre index live."""

    def __init__(self) -> None:
        self.index_ready = threading.Event()
        self.problem: str | None = None


def _build_index_if_missing(container: Container, readiness: Readiness) -> None:
    try:
        if container.reindexer.store.live_version() is None:
            log.info("no help-centre index yet: building it (first start)")
            report = container.reindexer.run(full=True)
            if report.failed:
                readiness.problem = report.message
                log.error("first index build failed: %s", report.message)
                return
        readiness.index_ready.set()
    except Exception as exc:
        readiness.problem = f"index build failed: {exc.__class__.__name__}"
        log.exception("first index build failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API with its container built in the lifespan (one per process)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container.build(settings or get_settings())
        readiness = Readiness()
        app.state.container = container
        app.state.readiness = readiness
        builder = threading.Thread(
            target=_build_index_if_missing,
            args=(container, readiness),
            name="first-index",
            daemon=True,
        )
        builder.start()
        try:
            yield
        finally:
            builder.join(timeout=120)
            container.close()

    app = FastAPI(title="Budbringer", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        """200 once the assistant can take a turn: stores open and the help-centre index built."""
        readiness: Readiness | None = getattr(request.app.state, "readiness", None)
        if readiness is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        if not readiness.index_ready.is_set():
            detail = readiness.problem or "building the help-centre index"
            return JSONResponse({"status": "not_ready", "detail": detail}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app
