"""Turns off the event loop, and their Server-Sent-Events form.

`TurnRunner` takes every turn in a small thread pool of its own: the graph is synchronous and
CPU-bound, so it must never run on the event loop. A turn, once submitted, runs to the end and
is stored whatever happens to the request: the JSON route awaits it through `asyncio.shield`,
and the streaming route reads its events from a queue the thread fills, so a client that
disconnects mid-stream cancels only the reading side. Metrics are recorded in the thread, so a
turn whose client went away is still counted.

Events of a streamed turn (`text/event-stream`), each `data` a JSON object:

| event      | data                                              |
|------------|---------------------------------------------------|
| `progress` | `{"text": "Jeg slår din pakke op…"}` (the conversation's language), one or more |
| `message`  | `{"role": "assistant", "text": "..."}` per reply message                      |
| `turn`     | the full `Turn`, last                                                          |
| `error`    | a problem object, instead of `message`/`turn` when the turn failed            |
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sse_starlette import JSONServerSentEvent

from api.metrics import Metrics
from api.problems import problem_body
from api.schemas import Turn
from graphs.engine import ConversationEngine, TurnResult

__all__ = ["TurnRunner", "sse_events", "to_turn"]

log = logging.getLogger(__name__)


def to_turn(result: TurnResult) -> Turn:
    """The wire `Turn` of DESIGN §5 (internal fields such as `paused_at` stay inside)."""
    return Turn.model_validate(
        {
            "conversation_id": result.conversation_id,
            "turn": result.turn,
            "language": result.language,
            "messages": result.messages,
            "flow": result.flow,
            "flow_status": result.flow_status,
            "awaiting": result.awaiting,
            "citations": result.citations,
            "actions": result.actions,
            "handoff": result.handoff,
            "quick_replies": result.quick_replies,
        }
    )


class TurnRunner:
    def __init__(self, engine: ConversationEngine, metrics: Metrics, workers: int = 4) -> None:
        self.engine = engine
        self.metrics = metrics
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="turn")

    def _take(
        self, conversation_id: str, text: str, on_progress: Callable[[str], None] | None, mode: str
    ) -> TurnResult:
        started = time.perf_counter()
        try:
            result = self.engine.turn(conversation_id, text, on_progress=on_progress)
        except Exception:
            self.metrics.error("turn_failed")
            log.exception("turn failed in conversation %s", conversation_id)
            raise
        self.metrics.observe_turn(result, time.perf_counter() - started, mode=mode)
        return result

    def submit(
        self,
        conversation_id: str,
        text: str,
        on_progress: Callable[[str], None] | None = None,
        *,
        mode: str = "json",
    ) -> Future[TurnResult]:
        # Copy the context so the turn's log lines carry the request id.
        context = contextvars.copy_context()
        return self.pool.submit(context.run, self._take, conversation_id, text, on_progress, mode)

    async def turn(self, conversation_id: str, text: str) -> TurnResult:
        """The turn's result; if the caller is cancelled, the turn still completes and is stored."""
        return await asyncio.shield(asyncio.wrap_future(self.submit(conversation_id, text)))

    async def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        context = contextvars.copy_context()
        return await asyncio.shield(asyncio.wrap_future(self.pool.submit(context.run, fn, *args)))

    def close(self) -> None:
        # Let submitted turns finish: they are customers' messages.
        self.pool.shutdown(wait=True, cancel_futures=False)


async def sse_events(
    runner: TurnRunner, conversation_id: str, text: str, instance: str
) -> AsyncIterator[JSONServerSentEvent]:
    """The events of one streamed turn (see the module docstring)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def progress(line: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("progress", {"text": line}))

    future = runner.submit(conversation_id, text, progress, mode="stream")

    def finished(done: Future[TurnResult]) -> None:
        # Runs in the turn's thread; after a disconnect the loop may be gone: then nobody listens.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, ("done", done))

    future.add_done_callback(finished)
    while True:
        kind, payload = await queue.get()
        if kind == "progress":
            yield JSONServerSentEvent(payload, event="progress")
            continue
        done: Future[TurnResult] = payload
        error = done.exception()
        if error is not None:
            body = problem_body(
                500, "internal_error", "the turn failed; it has been logged", instance
            )
            yield JSONServerSentEvent(body, event="error")
            return
        turn = to_turn(done.result())
        for message in turn.messages:
            yield JSONServerSentEvent(message.model_dump(mode="json"), event="message")
        yield JSONServerSentEvent(turn.model_dump(mode="json"), event="turn")
        return
