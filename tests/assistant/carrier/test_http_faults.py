"""`HttpCarrierBackend` against a carrier that misbehaves: slow, failing, garbled, gone.

A tiny `http.server` on 127.0.0.1 answers from a script of replies and records every request,
so each test can count exactly how many requests the adapter made. Transport-level cases that
need no socket use `httpx.MockTransport`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from assistant.carrier import codec
from assistant.carrier.http import BreakerState, HttpCarrierBackend
from assistant.domain import (
    CaseCategory,
    CaseRequest,
    Redirect,
    RedirectKind,
    RedirectOption,
    ServicePoint,
    ServiceType,
)
from assistant.errors import ConfigurationError, ToolFailed

CET = timezone(timedelta(hours=1))
POINT = ServicePoint(
    "DK-8000-001", ServiceType.SERVICE_POINT, "Meny", "Gade 1", "8000", "Aarhus C", "DK", "24/7"
)
POINTS_BODY = json.dumps(codec.encode_service_points([POINT])).encode()
REDIRECT = Redirect(
    "RD-ABCDEFGH",
    "RR361920561SE",
    RedirectOption("sp:DK-8000-001", RedirectKind.SERVICE_POINT, POINT),
    datetime(2026, 11, 23, 12, 0, tzinfo=CET),
)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = POINTS_BODY
    content_type: str = "application/json"
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FaultyCarrier:
    """Replies in order (the last one repeats) and remembers every request it got."""

    base_url: str = ""
    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies = list(replies)

    def take(self, request: Seen) -> Reply:
        with self.lock:
            self.seen.append(request)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out as two writes; without this, Nagle and delayed ACKs add 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = Seen(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        reply = self.server.carrier.take(seen)
        if reply.delay_s:
            self.server.carrier.release.wait(reply.delay_s)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as it should

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, carrier: FaultyCarrier) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.carrier = carrier

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-reply is the point of some tests


@pytest.fixture
def faulty() -> Iterator[FaultyCarrier]:
    carrier = FaultyCarrier()
    server = _Server(carrier)
    carrier.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield carrier
    finally:
        carrier.release.set()
        server.shutdown()
        thread.join(5)
        server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _backend(base_url: str, **options: Any) -> HttpCarrierBackend:
    options.setdefault("sleep", lambda _s: None)
    return HttpCarrierBackend(base_url, **options)


def _state(backend: HttpCarrierBackend) -> BreakerState:
    return backend.breaker_state  # a call, so type checkers do not keep an earlier narrowing


def refusal(call: Callable[[], object]) -> ToolFailed:
    with pytest.raises(ToolFailed) as caught:
        call()
    return caught.value


# --- timeouts, 5xx, garbage, refused connections ---------------------------------------------


def test_slow_server_is_unavailable_within_the_timeout(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(delay_s=5))
    with _backend(faulty.base_url, timeout_s=0.3, retries=0) as backend:
        started = time.monotonic()
        failure = refusal(lambda: backend.service_points("DK"))
        elapsed = time.monotonic() - started
    assert failure.reason == "backend_unavailable"
    assert failure.details["cause"] == "timeout"
    assert "0.3 seconds" in failure.explanation
    assert 0.25 <= elapsed < 1.0
    assert len(faulty.seen) == 1


def test_timeouts_are_retried_for_gets(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(delay_s=5), Reply(delay_s=5), Reply())
    with _backend(faulty.base_url, timeout_s=0.2, retries=2) as backend:
        assert backend.service_points("DK") == (POINT,)
    assert len(faulty.seen) == 3


def test_500_is_retried_for_gets_with_growing_backoff(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(500, b"Internal Server Error", "text/plain"))
    slept: list[float] = []
    with _backend(faulty.base_url, retries=2, backoff_s=0.2, sleep=slept.append) as backend:
        failure = refusal(lambda: backend.service_points("DK"))
    assert failure.reason == "backend_unavailable"
    assert failure.details == {"cause": "http_500", "attempts": 3}
    assert len(faulty.seen) == 3
    assert len(slept) == 2
    assert 0.1 <= slept[0] <= 0.2  # backoff_s, jittered down to half at most
    assert 0.2 <= slept[1] <= 0.4  # doubled


def test_retry_recovers_when_the_server_comes_back(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(503, b""), Reply(502, b""), Reply())
    with _backend(faulty.base_url, retries=2) as backend:
        assert backend.service_points("DK") == (POINT,)
    assert len(faulty.seen) == 3


def test_500_is_not_retried_for_verification(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(500, b"oops", "text/plain"))
    with _backend(faulty.base_url, retries=5) as backend:
        failure = refusal(lambda: backend.verify_recipient("RR361920561SE", "8000"))
    assert failure.reason == "backend_unavailable"
    assert len(faulty.seen) == 1
    assert faulty.seen[0].method == "POST"


def test_timeout_is_not_retried_for_verification(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(delay_s=5))
    with _backend(faulty.base_url, timeout_s=0.2, retries=5) as backend:
        assert refusal(lambda: backend.verify_recipient("RR361920561SE", "8000")).details == {
            "cause": "timeout",
            "attempts": 1,
        }
    assert len(faulty.seen) == 1


def test_redirect_post_is_retried_with_the_same_idempotency_key(faulty: FaultyCarrier) -> None:
    faulty.script(
        Reply(503, b""),
        Reply(504, b""),
        Reply(201, json.dumps(codec.encode_redirect(REDIRECT)).encode()),
    )
    with _backend(faulty.base_url, retries=2) as backend:
        redirect = backend.redirect_delivery("RR361920561SE", "sp:DK-8000-001", "tok", "key-1")
    assert redirect == REDIRECT
    assert [s.headers["idempotency-key"] for s in faulty.seen] == ["key-1"] * 3
    assert {s.body for s in faulty.seen} == {b'{"option_id":"sp:DK-8000-001"}'}


def test_case_post_is_retried_with_the_same_idempotency_key(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(502, b""), Reply(500, b""))
    request = CaseRequest("RR361920561SE", CaseCategory.LOST, "gone", "a@example.com")
    with _backend(faulty.base_url, retries=2) as backend:
        assert refusal(lambda: backend.create_case(request, "case-key")).reason == (
            "backend_unavailable"
        )
    assert [s.headers["idempotency-key"] for s in faulty.seen] == ["case-key"] * 3
    assert json.loads(faulty.seen[0].body) == codec.encode_case_request(request)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html><body>Gateway says hi</body></html>", "text/html"),
        Reply(200, b'{"service_points": [{"id": 1}]}'),
        Reply(200, b'{"service_points": '),
        Reply(200, b"\xff\xfe not utf-8"),
        Reply(404, b"<html>Not Found</html>", "text/html"),
        Reply(400, b'{"error": "bad"}'),
        Reply(301, b""),
    ],
    ids=["html", "wrong-schema", "truncated-json", "not-utf8", "404-html", "400-no-refusal", "301"],
)
def test_unreadable_answers_are_unavailable_and_not_retried(
    faulty: FaultyCarrier, reply: Reply
) -> None:
    faulty.script(reply)
    with _backend(faulty.base_url, retries=2) as backend:
        failure = refusal(lambda: backend.service_points("DK"))
    assert failure.reason == "backend_unavailable"
    assert failure.explanation.startswith("the carrier's system")
    assert len(faulty.seen) == 1


def test_refusal_passes_through_unchanged(faulty: FaultyCarrier) -> None:
    body = {
        "reason": "postcode_mismatch",
        "explanation": "that postcode does not match the recipient's address",
        "details": {"attempts_left": 1},
    }
    faulty.script(Reply(422, json.dumps(body).encode()))
    with _backend(faulty.base_url, breaker_threshold=1) as backend:
        for _ in range(3):
            failure = refusal(lambda: backend.verify_recipient("RR361920561SE", "8001"))
            assert (failure.reason, failure.explanation, failure.details) == (
                body["reason"],
                body["explanation"],
                body["details"],
            )
        # Refusals are the carrier working as intended: they never open the circuit.
        assert _state(backend) is BreakerState.CLOSED
    assert len(faulty.seen) == 3


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    slept: list[float] = []
    with _backend(f"http://127.0.0.1:{port}", retries=2, sleep=slept.append) as backend:
        started = time.monotonic()
        failure = refusal(lambda: backend.get_shipment("RR361920561SE"))
        assert time.monotonic() - started < 2
    assert failure.reason == "backend_unavailable"
    assert failure.details == {"cause": "connect", "attempts": 3}
    assert failure.explanation == "could not connect to the carrier's system"
    assert len(slept) == 2


# --- circuit breaker -------------------------------------------------------------------------


def test_breaker_opens_after_threshold_then_half_opens_after_reset(
    faulty: FaultyCarrier,
) -> None:
    clock = FakeClock()
    faulty.script(Reply(500, b""))
    with _backend(
        faulty.base_url, retries=0, breaker_threshold=3, breaker_reset_s=30, clock=clock
    ) as backend:
        for _ in range(3):
            assert refusal(lambda: backend.service_points("DK")).details["cause"] == "http_500"
        assert _state(backend) is BreakerState.OPEN
        assert len(faulty.seen) == 3

        open_failure = refusal(lambda: backend.service_points("DK"))
        assert open_failure.reason == "backend_unavailable"
        assert open_failure.details["cause"] == "circuit_open"
        clock.now += 29
        assert refusal(lambda: backend.get_case("CS-1")).details["cause"] == "circuit_open"
        assert len(faulty.seen) == 3  # failing fast: no request at all

        clock.now += 1
        assert _state(backend) is BreakerState.HALF_OPEN
        faulty.script(Reply())
        assert backend.service_points("DK") == (POINT,)  # the trial call
        assert _state(backend) is BreakerState.CLOSED
        assert backend.service_points("DK") == (POINT,)
    assert len(faulty.seen) == 5


def test_failed_trial_call_opens_the_breaker_again_without_retrying(
    faulty: FaultyCarrier,
) -> None:
    clock = FakeClock()
    faulty.script(Reply(503, b""))
    with _backend(
        faulty.base_url, retries=2, breaker_threshold=2, breaker_reset_s=10, clock=clock
    ) as backend:
        for _ in range(2):
            refusal(lambda: backend.service_points("DK"))
        assert len(faulty.seen) == 6  # two calls of three attempts each
        assert _state(backend) is BreakerState.OPEN

        clock.now += 10
        assert refusal(lambda: backend.service_points("DK")).details == {
            "cause": "http_503",
            "attempts": 1,
        }
        assert len(faulty.seen) == 7  # one trial request, no retries
        assert _state(backend) is BreakerState.OPEN
        assert refusal(lambda: backend.service_points("DK")).details["cause"] == "circuit_open"
        assert len(faulty.seen) == 7


def test_success_resets_the_count_of_failures(faulty: FaultyCarrier) -> None:
    faulty.script(Reply(500, b""), Reply(), Reply(500, b""))
    with _backend(faulty.base_url, retries=0, breaker_threshold=2) as backend:
        refusal(lambda: backend.service_points("DK"))
        backend.service_points("DK")
        refusal(lambda: backend.service_points("DK"))
        assert _state(backend) is BreakerState.CLOSED


def test_half_open_lets_only_one_trial_through() -> None:
    clock = FakeClock()
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(500)
        entered.set()
        release.wait(5)
        return httpx.Response(200, content=POINTS_BODY)

    backend = _backend(
        "http://carrier.test",
        retries=0,
        breaker_threshold=1,
        breaker_reset_s=5,
        clock=clock,
        transport=httpx.MockTransport(handler),
    )
    with backend:
        refusal(lambda: backend.service_points("DK"))
        clock.now += 5
        results: list[object] = []
        trial = threading.Thread(target=lambda: results.append(backend.service_points("DK")))
        trial.start()
        assert entered.wait(5)
        assert refusal(lambda: backend.service_points("DK")).details["cause"] == "circuit_open"
        release.set()
        trial.join(5)
        assert results == [(POINT,)]
        assert _state(backend) is BreakerState.CLOSED
    assert len(calls) == 2


# --- through httpx.MockTransport -------------------------------------------------------------


def _mock(handler: Callable[[httpx.Request], httpx.Response], **options: Any) -> HttpCarrierBackend:
    return _backend("http://carrier.test/api", transport=httpx.MockTransport(handler), **options)


def test_wrong_api_key_is_backend_unauthorized() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Bearer right-key":
            body = {"reason": "unauthorized", "explanation": "no", "details": {}}
            return httpx.Response(401, json=body, headers={"WWW-Authenticate": "Bearer"})
        return httpx.Response(200, content=POINTS_BODY)

    for key in ("wrong-key", None):
        with _mock(handler, api_key=key, breaker_threshold=1) as backend:
            failure = refusal(partial(backend.service_points, "DK"))
            assert failure.reason == "backend_unauthorized"
            assert "BUDBRINGER_CARRIER_API_KEY" in failure.explanation
            assert _state(backend) is BreakerState.CLOSED
    with _mock(handler, api_key="right-key\n") as backend:
        assert backend.service_points("DK") == (POINT,)


def test_forbidden_is_backend_unauthorized_too() -> None:
    with _mock(lambda _r: httpx.Response(403, text="Forbidden")) as backend:
        assert refusal(lambda: backend.get_case("CS-1")).reason == "backend_unauthorized"


def test_requests_carry_paths_headers_and_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/redirect-options"):
            return httpx.Response(200, json={"options": []})
        if request.url.path.endswith("/cases"):
            return httpx.Response(200, json={"cases": []})
        return httpx.Response(200, json={"service_points": []})

    with _mock(handler) as backend:
        backend.list_redirect_options("RR 36/1", "tok-1")
        backend.list_cases("RR361920561SE", limit=5)
        backend.list_cases()
        backend.service_points("SE")
    options, cases, all_cases, points = seen
    assert options.url.raw_path == b"/api/v1/shipments/RR%2036%2F1/redirect-options"
    assert options.headers["x-verification"] == "tok-1"
    assert dict(cases.url.params) == {"limit": "5", "tracking_id": "RR361920561SE"}
    assert dict(all_cases.url.params) == {"limit": "100"}
    assert dict(points.url.params) == {"country": "SE"}
    assert "authorization" not in points.headers
    assert "x-verification" not in points.headers


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("server hung up"),
        httpx.PoolTimeout("no connection free"),
    ],
    ids=["read-error", "protocol-error", "pool-timeout"],
)
def test_transport_errors_become_unavailable_after_retries(error: httpx.HTTPError) -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise error

    with _mock(handler, retries=2) as backend:
        failure = refusal(lambda: backend.get_shipment("RR361920561SE"))
    assert failure.reason == "backend_unavailable"
    assert failure.details["attempts"] == 3
    assert len(attempts) == 3
    assert failure.__cause__ is None  # no httpx exception chained into what callers see


def test_empty_ids_are_answered_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # pragma: no cover - must not run
        raise AssertionError(f"unexpected request {request.url}")

    with _mock(handler) as backend:
        assert refusal(lambda: backend.get_shipment("")).reason == "not_found"
        assert refusal(lambda: backend.get_case(" ")).reason == "case_not_found"


def test_bad_configuration_is_refused_up_front() -> None:
    with pytest.raises(ConfigurationError):
        HttpCarrierBackend("carrier.example:8100")
    with pytest.raises(ConfigurationError):
        HttpCarrierBackend("http://carrier.test", timeout_s=0)
    with pytest.raises(ConfigurationError):
        HttpCarrierBackend("http://carrier.test", api_key="two words")


def test_repr_never_shows_the_key() -> None:
    with HttpCarrierBackend("http://carrier.test", api_key="s3cret") as backend:
        assert "s3cret" not in repr(backend)
        assert "closed" in repr(backend)
