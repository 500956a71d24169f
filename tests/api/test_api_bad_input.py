"""Bad input gets a clear problem response: never a 500, never a stack trace, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from api.limits import BodyLimitMiddleware
from tests.api.conftest import assert_problem, open_conversation


@pytest.fixture(scope="module")
def chat(api: TestClient) -> Any:
    return open_conversation(api, "en")


def test_malformed_json_is_400(api: TestClient, chat: Any) -> None:
    response = api.post(
        f"{chat.path}/messages",
        content=b'{"text": "hi"',
        headers={**chat.auth, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b"hello"),
        ("application/x-www-form-urlencoded", b"text=hello"),
        ("multipart/form-data; boundary=x", b"--x--"),
        (None, b'{"text": "hello"}'),
        (None, b"hello"),
    ],
)
def test_wrong_or_missing_content_type_is_415(
    api: TestClient, chat: Any, content_type: str | None, content: bytes
) -> None:
    headers = dict(chat.auth)
    if content_type:
        headers["Content-Type"] = content_type
    response = api.post(f"{chat.path}/messages", content=content, headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


def test_json_with_charset_and_vendor_json_types_are_accepted(api: TestClient, chat: Any) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = api.post(
            f"{chat.path}/messages",
            content=json.dumps({"text": "hello"}).encode(),
            headers={**chat.auth, "Content-Type": content_type},
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hi", "urgent": True}, "urgent"),
        ({}, "text"),
        ({"text": None}, "text"),
        ({"text": 42}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   \n\t  "}, "text"),
        ({"text": "\x00\x01\x1b"}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": " " + "y" * 2001 + " "}, "text"),
        (["text", "hi"], None),
        ("hi", None),
    ],
)
def test_invalid_messages_are_422(api: TestClient, chat: Any, body: Any, field: str | None) -> None:
    problem = assert_problem(
        api.post(f"{chat.path}/messages", json=body, headers=chat.auth), 422, "validation_error"
    )
    if field is not None:
        assert ["body", field] in [e["loc"] for e in problem["errors"]]
    # The refused text is not echoed back (it may be huge or personal).
    assert "x" * 100 not in json.dumps(problem)


def test_text_of_2000_characters_after_trimming_is_accepted(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    turn = chat.say("   " + "a" * 2000 + "   \n")
    assert turn["turn"] == 1


def test_control_characters_are_stripped_before_the_turn(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    chat.say("\x1b[31mwhere is\x00 my parcel\x07 RR361920561SE\u200b")
    customer = [m for m in chat.get()["messages"] if m["role"] == "customer"]
    assert customer[-1]["text"] == "[31mwhere is my parcel RR361920561SE"


def test_body_over_the_limit_is_413_with_or_without_content_length(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    big = json.dumps({"text": "x" * 70_000}).encode()
    declared = api.post(
        f"{chat.path}/messages",
        content=big,
        headers={**chat.auth, "Content-Type": "application/json"},
    )
    assert_problem(declared, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = api.post(
        f"{chat.path}/messages",
        content=chunks(),
        headers={**chat.auth, "Content-Type": "application/json"},
    )
    assert_problem(streamed, 413, "payload_too_large")
    # Nothing of it reached the conversation.
    assert chat.get()["turn"] == 0


def test_unknown_route_and_wrong_method_are_problems(api: TestClient) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(api.delete("/v1/conversations"), 405, "method_not_allowed")


class _Slow:
    """An ASGI client that sends half a body and then nothing."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.calls = 0

    async def receive(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            return {"type": "http.request", "body": b'{"text": "he', "more_body": True}
        await anyio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_a_body_that_trickles_in_is_cut_off_with_408() -> None:
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    middleware = BodyLimitMiddleware(app, max_bytes=65536, timeout_s=0.2)
    client = _Slow()
    scope = {"type": "http", "method": "POST", "path": "/v1/x", "headers": []}

    async def run() -> None:
        with anyio.fail_after(5):
            await middleware(scope, client.receive, client.send)

    anyio.run(run)
    assert not reached
    assert client.sent[0]["status"] == 408
    body = json.loads(client.sent[1]["body"])
    assert body["code"] == "request_timeout"


def test_a_client_that_disconnects_before_its_body_ends_reaches_nothing() -> None:
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    messages = iter(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    )

    async def receive() -> Any:
        return next(messages)

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    anyio.run(
        BodyLimitMiddleware(app, max_bytes=1024),
        {"type": "http", "method": "POST", "path": "/", "headers": []},
        receive,
        send,
    )
    assert not reached and not sent


def test_garbage_content_length_is_400() -> None:
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("must not be reached")

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-length", b"12abc")],
    }
    anyio.run(BodyLimitMiddleware(app, max_bytes=1024), scope, receive, send)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["code"] == "bad_request"


def test_unexpected_errors_are_a_500_problem_without_a_trace() -> None:
    """The last resort: an exception no handler knows becomes a logged 500 problem."""
    from api.app import _LastResort
    from api.metrics import Metrics

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    metrics = Metrics()
    anyio.run(
        _LastResort(broken, metrics), {"type": "http", "method": "GET", "path": "/x"}, receive, send
    )
    assert sent[0]["status"] == 500
    body = json.loads(sent[1]["body"])
    assert body["code"] == "internal_error"
    assert "secret" not in sent[1]["body"].decode() and "Traceback" not in sent[1]["body"].decode()
    assert (
        metrics.registry.get_sample_value("budbringer_errors_total", {"code": "internal_error"})
        == 1
    )
