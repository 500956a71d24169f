"""Turns as Server-Sent Events: progress in the conversation's language, messages, the Turn;
and a client that disconnects mid-stream loses nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
from fastapi.testclient import TestClient

from api.metrics import Metrics
from api.streaming import TurnRunner, sse_events
from assistant.replies import Catalogue
from tests.api.conftest import Conversation, assert_problem, open_conversation

SSE = {"Accept": "text/event-stream"}


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        if name:
            events.append((name, json.loads("\n".join(data))))
    return events


def stream(chat: Conversation, text: str) -> list[tuple[str, Any]]:
    response = chat.client.post(
        f"{chat.path}/messages", json={"text": text}, headers={**chat.auth, **SSE}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)


def test_flow_turn_streams_progress_messages_then_the_turn(api: TestClient) -> None:
    chat = open_conversation(api, "da")
    events = stream(chat, "hvor er RR361920561SE")
    names = [name for name, _ in events]
    assert names[0] == "progress" and names[-1] == "turn"
    assert events[0][1] == {"text": Catalogue().render("progress_lookup", "da")}
    turn = events[-1][1]
    messages = [data for name, data in events if name == "message"]
    assert messages == turn["messages"] and messages
    assert turn["turn"] == 1 and turn["flow"] == "track_parcel"
    # The streamed turn is the stored turn.
    assert chat.get()["turn"] == 1


def test_knowledge_turn_progress_says_it_searches_in_swedish(api: TestClient) -> None:
    chat = open_conversation(api, "sv")
    events = stream(chat, "måste jag betala tull och moms för ett paket från USA")
    assert events[0] == ("progress", {"text": Catalogue().render("progress_search", "sv")})
    assert events[-1][1]["citations"][0]["article_id"] == "customs-and-vat"


def test_bad_input_on_a_stream_is_a_problem_not_a_stream(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    response = api.post(f"{chat.path}/messages", json={"text": ""}, headers={**chat.auth, **SSE})
    assert_problem(response, 422, "validation_error")
    response = api.post(f"{chat.path}/messages", json={"text": "hi"}, headers=SSE)
    assert_problem(response, 401, "unauthenticated")


def _scope(chat: Conversation, body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"{chat.path}/messages",
        "raw_path": f"{chat.path}/messages".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"text/event-stream"),
            (b"authorization", f"Bearer {chat.token}".encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


def _disconnect_after(api: TestClient, chat: Conversation, text: str, after: str) -> list[Any]:
    """Run one streamed request; disconnect once `after` (headers | first event) was received."""
    body = json.dumps({"text": text}).encode()
    sent: list[Any] = []

    async def run() -> None:
        got = anyio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await got.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if after == "headers" and message["type"] == "http.response.start":
                got.set()
            if after == "event" and message["type"] == "http.response.body" and message.get("body"):
                got.set()

        with anyio.fail_after(30):
            await api.app(_scope(chat, body), receive, send)

    api.portal.call(run)  # type: ignore[union-attr]
    return sent


def _wait_for_turn(chat: Conversation, turn: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state: dict[str, Any] = chat.get()
        if state["turn"] >= turn:
            return state
        time.sleep(0.02)
    raise AssertionError("the turn was never stored")


def test_disconnect_before_the_turn_ran_still_stores_it_once(api: TestClient) -> None:
    chat = open_conversation(api, "da")
    engine = api.app.state.container.conversations  # type: ignore[attr-defined]
    # Hold the conversation's lock so the turn cannot even start before the client has gone.
    lock = engine._lock(chat.conversation_id)
    with lock:
        sent = _disconnect_after(api, chat, "hvor er RR361920561SE", after="headers")
    assert sent[0]["status"] == 200
    assert not any(b"event: turn" in m.get("body", b"") for m in sent)
    state = _wait_for_turn(chat, 1)
    customer = [m for m in state["messages"] if m["role"] == "customer"]
    assert [m["text"] for m in customer] == ["hvor er RR361920561SE"]
    assert any(m["role"] == "assistant" and m["turn"] == 1 for m in state["messages"])
    time.sleep(0.2)
    assert chat.get()["turn"] == 1  # exactly once, not retried


def test_disconnect_after_the_first_event_stores_the_turn_once(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    sent = _disconnect_after(
        api, chat, "do I have to pay customs on a parcel from the USA", after="event"
    )
    first = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert first.startswith(b"event: progress")
    state = _wait_for_turn(chat, 1)
    assert [m["text"] for m in state["messages"] if m["role"] == "customer"] == [
        "do I have to pay customs on a parcel from the USA"
    ]
    assert any(m["role"] == "assistant" and m["turn"] == 1 for m in state["messages"])


class _BrokenEngine:
    """A ConversationEngine twin whose turns fail (to see the stream's `error` event)."""

    def turn(self, conversation_id: str, text: str, on_progress: Any = None) -> Any:
        raise RuntimeError("the checkpointer is gone")


def test_a_failed_turn_ends_the_stream_with_an_error_event() -> None:
    metrics = Metrics()
    runner = TurnRunner(_BrokenEngine(), metrics, workers=1)  # type: ignore[arg-type]

    async def collect() -> list[Any]:
        return [
            event
            async for event in sse_events(runner, "c_x", "hi", "/v1/conversations/c_x/messages")
        ]

    try:
        events = anyio.run(collect)
    finally:
        runner.close()
    assert [e.event for e in events] == ["error"]
    data = json.loads(events[0].data)  # JSONServerSentEvent keeps the encoded JSON
    assert data["code"] == "internal_error" and data["status"] == 500
    assert "checkpointer" not in events[0].data
    assert (
        metrics.registry.get_sample_value("budbringer_errors_total", {"code": "turn_failed"}) == 1
    )
