"""The HTTP application: built by `create_app`, served by `budbringer serve`.

Middleware, outermost first:

1. `RequestContextMiddleware` (api/logs.py): request id in and out, access log line, request
   metrics, and the last-resort 500 problem (logged with the request id, no stack trace shown).
2. CORS, for the origins in `BUDBRINGER_CORS_ORIGINS` (none by default).
3. `BodyLimitMiddleware` (api/limits.py): 413 over `max_body_bytes`, 408 for trickling bodies.

Then FastAPI: problem handlers (api/problems.py) and the routers listed in `ROUTERS`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from api import web
from api.container import Container
from api.jobs import JobRegistry
from api.limits import BodyLimitMiddleware, RateLimits
from api.logs import Message, Receive, RequestContextMiddleware, Scope, Send
from api.metrics import Metrics
from api.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_body
from api.retention import start_retention
from api.routes import conversations, handoffs, knowledge, operations, privacy
from api.routes.operations import ReadinessState
from api.security import KeyRing
from api.streaming import TurnRunner
from assistant.settings import Settings, get_settings

__all__ = ["ROUTERS", "create_app"]

log = logging.getLogger(__name__)

ROUTERS = (
    operations.router,
    conversations.router,
    handoffs.live_router,
    privacy.router,
    knowledge.router,
    handoffs.router,
    handoffs.cases_router,
    web.router,
)


def _build_index_if_missing(container: Container, readiness: ReadinessState) -> None:
    try:
        if container.reindexer.store.live_version() is None:
            log.info("no help-centre index yet: building it (first start)")
            report = container.reindexer.run(full=True)
            if report.failed:
                readiness.problem = report.message
                log.error("first index build failed: %s", report.message)
                return
        # Load the models (embedding, language identification, ETA) now, so the first customer
        # does not wait for them.
        container.embedder.embed_query("warm-up")
        # A sentence long enough that language identification loads its n-gram models.
        container.conversations.context.understander.understand(
            "where is my parcel and when will it arrive at my door", now=container.clock.now()
        )
        _ = container.eta.model
        readiness.index_ready.set()
    except Exception as exc:
        readiness.problem = f"index build failed: {exc.__class__.__name__}"
        log.exception("first index build failed")


class _LastResort:
    """Turns an exception that escaped every handler into a 500 problem (never a stack trace)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            self.metrics.error("internal_error")
            if started:
                return  # the response is under way: all we can do is end it
            body = json.dumps(
                problem_body(
                    500,
                    "internal_error",
                    "an unexpected error occurred; it has been logged",
                    str(scope.get("path", "")),
                )
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def _prepare_routes(app: FastAPI) -> None:
    """Have FastAPI build every route's dependency graph now, before any thread runs.

    FastAPI builds them on the first request, inside `warnings.catch_warnings()`, which is not
    thread-safe: done while another thread (the first-index builder, a turn) also enters and
    leaves `catch_warnings`, pydantic's UnsupportedFieldAttributeWarning can escape its filter.
    A request that matches no route walks every router once and caches their candidates.
    """
    probe: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/__prepare-routes__",
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    for route in app.router.routes:
        route.matches(dict(probe))


def _problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Error responses are documented as `application/problem+json` only (with the Problem schema)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if str(status) == "422" and PROBLEM_MEDIA_TYPE not in content:
                    # FastAPI's automatic 422 (a route that did not declare it) is documented as
                    # JSON, but the handler answers a problem: say so (found by fuzzing).
                    content.pop("application/json", None)
                    content[PROBLEM_MEDIA_TYPE] = {
                        "schema": {"$ref": "#/components/schemas/Problem"}
                    }
                    response["content"] = content
                    continue
                if not str(status).startswith(("4", "5")) or PROBLEM_MEDIA_TYPE not in content:
                    continue
                plain = content.pop("application/json", None)
                if plain and "schema" in plain:
                    content[PROBLEM_MEDIA_TYPE].setdefault("schema", plain["schema"])
    return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; its container is built in the lifespan (one per process)."""
    settings = settings or get_settings()
    metrics = Metrics()
    rate_limits = RateLimits(settings.rate_limit_conversation, settings.rate_limit_client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _prepare_routes(app)
        container = Container.build(settings)
        readiness = ReadinessState()
        runner = TurnRunner(container.conversations, metrics)
        jobs = JobRegistry(container.reindexer)
        app.state.container = container
        app.state.readiness = readiness
        app.state.keys = KeyRing.from_settings(settings)
        app.state.turns = runner
        app.state.jobs = jobs
        # Data retention: purge conversations inactive past the retention period, now and daily.
        retention = start_retention(container)
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
            jobs.join(timeout_s=120)
            runner.close()
            retention.stop()
            container.close()
            rate_limits.close()

    app = FastAPI(
        title="Budbringer",
        version="0.1.0",
        summary="Customer-service assistant of a Nordic parcel carrier",
        description=(
            "Customers open a conversation and send messages (JSON, or Server-Sent Events with "
            "`Accept: text/event-stream`); content owners manage the help centre. Errors are "
            "`application/problem+json` with a stable `code`."
        ),
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.rate_limits = rate_limits
    app.state.settings = settings
    install_problem_handlers(app, metrics.error)
    for router in ROUTERS:
        app.include_router(router)

    # Added innermost first: the last one added runs first.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, on_problem=metrics.error
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
            max_age=600,
        )
    app.add_middleware(_LastResort, metrics=metrics)
    app.add_middleware(RequestContextMiddleware, on_finish=metrics.observe_request)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _problem_media_types(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
