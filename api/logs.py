"""Structured JSON logs with a request id, personal data masked, one access line per request.

- `configure_logging()` puts python-json-logger's `JsonFormatter` on the root logger, with two
  filters on the handler: `RequestIdFilter` (adds `request_id` from a context variable) and
  `PersonalDataFilter` (masks identity, phone, card numbers, e-mails and IBANs in the message and
  in string extras with `assistant.privacy.redact`). Filters sit on the handler, not on loggers,
  so records from every library pass through them.
- `RequestContextMiddleware` (pure ASGI) takes `X-Request-ID` from the request when it is a
  sane token (else makes one), puts it in the context variable and on the response, and logs
  one access line: method, route template, status, duration_ms, request_id. Never a body,
  a message text, a token or a key.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from assistant.privacy import redact

__all__ = [
    "PersonalDataFilter",
    "RequestContextMiddleware",
    "RequestIdFilter",
    "configure_logging",
    "request_id",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

access_log = logging.getLogger("budbringer.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Attributes every LogRecord has; anything else on a record is an `extra` field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class PersonalDataFilter(logging.Filter):
    """Mask personal data in the formatted message and in string extras of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        if record.exc_info:
            # Exceptions may quote input: format once here and mask; without `exc_info` left on
            # the record, every formatter (the JSON one included) uses this masked text.
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        return True


def configure_logging(level: str | int = "INFO", *, stream: Any = None) -> logging.Handler:
    """JSON lines on stderr for the whole process; returns the handler (tests read from it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_budbringer", False):
            root.removeHandler(old)
    handler._budbringer = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # uvicorn's own access log would duplicate ours (and show raw paths with query strings).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler


class RequestContextMiddleware:
    """Request id in and out, and the access line (with metrics through `on_finish`)."""

    def __init__(
        self,
        app: ASGIApp,
        on_finish: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.on_finish = on_finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            # Metrics get the route template or "unmatched" (random paths must not become
            # label values); the log line gets the raw path when no route matched.
            template = getattr(route, "path", None) or "unmatched"
            shown = template if route is not None else str(scope.get("path", ""))[:200]
            method = str(scope.get("method", ""))
            access_log.info(
                "%s %s %s",
                method,
                shown,
                status,
                extra={
                    "method": method,
                    "path": shown,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            if self.on_finish is not None:
                self.on_finish(template, method, status, seconds)
            request_id.reset(token)
