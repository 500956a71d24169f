"""A scripted OpenAI-compatible server on 127.0.0.1, for testing the LLM path over real HTTP.

openai 3.x sends through httpx2, so respx cannot mock it (DEPENDENCIES trap 10): the tests run
the real `openai` client, through langchain-openai, against this server instead.

    with ScriptedLLM() as llm:
        llm.script(Json({"commands": []}), Text("Hello"), Status(500), Delay(2.0, Text("late")))
        model = OpenAIChatModel(llm.settings(timeout_s=0.5))
        ...
        llm.assert_complete()

`POST /v1/chat/completions` (non-streaming) answers from a queue of scripted replies, or, once
the queue is empty, from an optional `responder(request) -> reply` function. A `Json` reply is
the content when the request asked for `response_format` json_schema / json_object, and a call
of the forced (or only) tool when it sent `tools`, which is what langchain's structured output
reads back. Every request is recorded; a request with nothing scripted for it gets a 500 and
makes `assert_complete()` fail, like openai-agents' fake model.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistant.settings import LLMSettings

__all__ = [
    "Delay",
    "Json",
    "Raw",
    "Recorded",
    "Reply",
    "ScriptedLLM",
    "Status",
    "Text",
]


@dataclass(frozen=True)
class Json:
    """A structured answer: JSON content, or a tool call when the request sent tools."""

    value: Any


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Status:
    code: int
    body: str = '{"error": {"message": "scripted failure", "type": "server_error"}}'


@dataclass(frozen=True)
class Delay:
    """Sleep (past the client's timeout, usually), then answer `then`."""

    seconds: float
    then: Reply


@dataclass(frozen=True)
class Raw:
    """Any body with status 200: garbage the client has to survive."""

    body: str
    content_type: str = "application/json"


Reply = Json | Text | Status | Delay | Raw
Responder = Callable[["Recorded"], Reply]


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def text_of(self, role: str) -> str:
        parts = []
        for message in self.messages:
            if message.get("role") != role:
                continue
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            parts.append(str(content or ""))
        return "\n".join(parts)

    @property
    def system(self) -> str:
        return self.text_of("system")

    @property
    def user(self) -> str:
        return self.text_of("user")

    @property
    def structured(self) -> bool:
        """Whether the client asked for structured output (response_format or tools)."""
        fmt = self.body.get("response_format") or {}
        return fmt.get("type") in ("json_schema", "json_object") or bool(self.body.get("tools"))

    @property
    def schema(self) -> dict[str, Any] | None:
        fmt = self.body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return dict(fmt["json_schema"].get("schema") or {})
        tools = self.body.get("tools") or []
        return dict(tools[0]["function"].get("parameters") or {}) if tools else None


@dataclass
class _State:
    queue: deque[Reply] = field(default_factory=deque)
    responder: Responder | None = None
    requests: list[Recorded] = field(default_factory=list)
    unexpected: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0


def _completion(request: Recorded, reply: Json | Text, number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    finish = "stop"
    tools = request.body.get("tools") or []
    if isinstance(reply, Json) and tools:
        choice = request.body.get("tool_choice")
        name = (
            choice["function"]["name"]
            if isinstance(choice, dict) and choice.get("function")
            else tools[0]["function"]["name"]
        )
        message["tool_calls"] = [
            {
                "id": f"call_{number}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(reply.value)},
            }
        ]
        finish = "tool_calls"
    elif isinstance(reply, Json):
        message["content"] = json.dumps(reply.value, ensure_ascii=False)
    else:
        message["content"] = reply.text
    return {
        "id": f"chatcmpl-scripted-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.body.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, code: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode("utf-8")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, '{"error": {"message": "not found"}}')
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, '{"error": {"message": "body is not JSON"}}')
                return
            request = Recorded(body)
            with state.lock:
                state.requests.append(request)
                state.counter += 1
                number = state.counter
                reply: Reply | None = state.queue.popleft() if state.queue else None
                if reply is None and state.responder is not None:
                    reply = state.responder(request)
                if reply is None:
                    state.unexpected.append(request)
            if body.get("stream"):
                self._send(400, '{"error": {"message": "the scripted server does not stream"}}')
                return
            self._answer(request, reply, number)

        def _answer(self, request: Recorded, reply: Reply | None, number: int) -> None:
            if reply is None:
                self._send(500, '{"error": {"message": "nothing scripted for this request"}}')
                return
            while isinstance(reply, Delay):
                time.sleep(reply.seconds)
                reply = reply.then
            if isinstance(reply, Status):
                self._send(reply.code, reply.body)
            elif isinstance(reply, Raw):
                self._send(200, reply.body, reply.content_type)
            else:
                self._send(200, json.dumps(_completion(request, reply, number)))

    return Handler


class ScriptedLLM:
    """The server; use as a context manager (or call `close()`)."""

    def __init__(self) -> None:
        self._state = _State()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._state))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def settings(self, timeout_s: float = 5.0, model: str = "scripted") -> LLMSettings:
        return LLMSettings(
            base_url=self.base_url,
            api_key="sk-scripted",
            model=model,
            timeout_s=timeout_s,
        )

    def script(self, *replies: Reply) -> None:
        with self._state.lock:
            self._state.queue.extend(replies)

    def respond_with(self, responder: Responder | None) -> None:
        """Answer with `responder(request)` whenever the queue is empty."""
        self._state.responder = responder

    @property
    def requests(self) -> list[Recorded]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def pending(self) -> int:
        return len(self._state.queue)

    def assert_complete(self) -> None:
        """Every scripted reply was used, and no request came that nothing was scripted for."""
        with self._state.lock:
            left = list(self._state.queue)
            unexpected = list(self._state.unexpected)
        assert not left, f"{len(left)} scripted replies were never requested: {left!r}"
        assert not unexpected, (
            f"{len(unexpected)} requests had nothing scripted; last user text: "
            f"{unexpected[-1].user[:200]!r}"
        )

    def reset(self) -> None:
        with self._state.lock:
            self._state.queue.clear()
            self._state.requests.clear()
            self._state.unexpected.clear()
            self._state.responder = None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
