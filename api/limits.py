"""Request limits: body size and arrival time (an ASGI middleware) and rate limits (`limits`).

The body middleware reads the whole body *before* the application sees it (it is at most
`max_body_bytes`, 64 KiB by default), so a too-large body is refused with a 413 problem whether
or not it announces its length, and a client that trickles its body in is cut off with a 408
after `body_timeout_s`, instead of holding a worker. The application then gets the buffered
body replayed.

Rate limits use a moving window per conversation (turns) and per client address (every `/v1`
request); a refusal is a 429 problem with `Retry-After` in whole seconds. Storage is in memory
by default; `storage_uri` takes any `limits` storage (e.g. `redis://...`) for several workers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.problems import problem_body
from assistant.errors import RateLimited

__all__ = ["BodyLimitMiddleware", "RateLimits", "SweptMemoryStorage"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _send_problem(
    send: Send, scope: Scope, status: int, code: str, detail: str, on_problem: Callable[[str], None]
) -> None:
    import json

    on_problem(code)
    body = json.dumps(problem_body(status, code, detail, str(scope.get("path", "")))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse bodies over `max_bytes` (413) and bodies slower than `timeout_s` (408)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_s: float = 10.0,
        on_problem: Callable[[str], None] = lambda code: None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.on_problem = on_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_problem(
                        send, scope, 400, "bad_request", "Content-Length is not a number",
                        self.on_problem,
                    )  # fmt: skip
                    return
                if declared > self.max_bytes:
                    await _send_problem(
                        send, scope, 413, "payload_too_large", too_large, self.on_problem
                    )
                    return
        chunks: list[bytes] = []
        size = 0
        disconnected = False
        with anyio.move_on_after(self.timeout_s) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected = True
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await _send_problem(
                        send, scope, 413, "payload_too_large", too_large, self.on_problem
                    )
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            await _send_problem(
                send,
                scope,
                408,
                "request_timeout",
                f"the request body did not arrive within {self.timeout_s:g} s",
                self.on_problem,
            )
            return
        if disconnected:
            return  # nobody to answer; nothing was started
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            # After the body, the app only waits for a disconnect (streaming responses do).
            return await receive()

        await self.app(scope, replay, send)


class SweptMemoryStorage(MemoryStorage):
    """`limits`' in-memory storage, with expired entries swept by one thread every few seconds.

    `MemoryStorage` starts a 10 ms `threading.Timer` on a hit whenever the previous one has
    finished, that is a new OS thread for nearly every request, started on the event loop
    (measured: 1-3 ms per hit on a busy 2-core machine, two hits per message). Expiry only frees
    memory (the moving window compares timestamps), so a sweeper does the same job for free.
    """

    def __init__(self, sweep_every_s: float = 5.0) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep, args=(sweep_every_s,), name="rate-limit-sweeper", daemon=True
        )
        self._sweeper.start()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the hook it replaces
        return None

    def _sweep(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
            # The library empties a key's window but keeps the key: one per conversation ever.
            for key in [k for k, events in list(self.events.items()) if not events]:
                with self.locks[key]:
                    if not self.events.get(key):
                        self.events.pop(key, None)
                if key not in self.events:
                    self.locks.pop(key, None)

    def close(self) -> None:
        self._stop.set()
        self._sweeper.join(timeout=5)


class RateLimits:
    """Moving-window limits per conversation and per client address."""

    def __init__(
        self, per_conversation: str, per_client: str, storage_uri: str = "memory://"
    ) -> None:
        self.storage = (
            SweptMemoryStorage() if storage_uri == "memory://" else storage_from_string(storage_uri)
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_conversation = parse(per_conversation)
        self.per_client = parse(per_client)

    def _hit(self, item: Any, namespace: str, key: str, what: str) -> None:
        if self.limiter.hit(item, namespace, key):
            return
        stats = self.limiter.get_window_stats(item, namespace, key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"too many {what}; retry in {retry} s", code="rate_limited", retry_after_s=retry
        )

    def conversation(self, conversation_id: str) -> None:
        self._hit(
            self.per_conversation, "conversation", conversation_id, "messages in this conversation"
        )

    def client(self, address: str) -> None:
        self._hit(self.per_client, "client", address, "requests from this address")

    def close(self) -> None:
        self.storage.reset()
        if isinstance(self.storage, SweptMemoryStorage):
            self.storage.close()
