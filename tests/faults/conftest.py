"""Conversations over backends that fail: a carrier behind a switchable faulty proxy, a knowledge
store that is gone, a locked database, a model that errs or stalls."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.sqlite import SqliteSaver

from api.carrier_server import create_carrier_app
from assistant.carrier.http import HttpCarrierBackend
from assistant.carrier.memory import InMemoryCarrierStore
from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.clock import FrozenClock
from assistant.eta.model import EtaModel
from assistant.eta.synthetic import generate_shipments
from assistant.llm import ChatModel
from assistant.ports import CarrierBackend, Retriever
from assistant.replies import Catalogue
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from graphs.context import AssistantContext, UnderstandingPort
from graphs.engine import ConversationEngine, TurnResult
from tests.graphs.conftest import NOW, OPENING_HOURS, ScriptedRetriever

CATALOGUE = Catalogue()
LANGUAGES = ("da", "sv", "nb", "fi", "en")


@dataclass
class CarrierProxy:
    """The real carrier API (simulator behind `create_carrier_app`) behind a switch of faults.

    `fault`: None (pass through), "slow" (answer after `slow_s`), "500", "html" (200 with an
    HTML page), "bad_json" (200, JSON that is not JSON), "reset" (close without an answer).
    """

    client: TestClient
    base_url: str = ""
    fault: str | None = None
    slow_s: float = 1.0
    forwarded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        if self.fault == "slow":
            time.sleep(self.slow_s)
        elif self.fault == "500":
            return 500, "application/json", b'{"error": "internal"}'
        elif self.fault == "html":
            return 200, "text/html", b"<html><body>502 Bad Gateway</body></html>"
        elif self.fault == "bad_json":
            return 200, "application/json", b'{"tracking_id": "RR36'
        with self.lock:
            self.forwarded += 1
            response = self.client.request(method, path, headers=headers, content=body)
        return response.status_code, response.headers.get("content-type", ""), response.content


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    server: _Server

    def _handle(self) -> None:
        proxy = self.server.proxy
        if proxy.fault == "reset":
            self.close_connection = True
            self.connection.close()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        try:
            status, content_type, payload = proxy.answer(self.command, self.path, headers, body)
        except Exception:  # the test ended while a slow answer was pending
            return
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout): nothing to answer

    do_GET = do_POST = _handle  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: CarrierProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


@pytest.fixture(scope="session")
def fault_eta() -> EtaModel:
    return EtaModel.train(generate_shipments(300, seed=7), seed=7)


@pytest.fixture(scope="session")
def fault_understander() -> Understander:
    understander = Understander()
    # Load the language models now, so no test's timing includes them.
    understander.understand("where is my parcel and when will it arrive", now=NOW)
    return understander


@dataclass
class Bot:
    engine: ConversationEngine
    store: InMemoryCarrierStore
    conversation_id: str = "fault-1"
    results: list[TurnResult] = field(default_factory=list)

    def start(self, language: str) -> TurnResult:
        result = self.engine.start(self.conversation_id, language)
        self.results.append(result)
        return result

    def say(self, text: str) -> TurnResult:
        result = self.engine.turn(self.conversation_id, text)
        self.results.append(result)
        return result

    def state(self) -> dict[str, Any]:
        return self.engine.state(self.conversation_id)


@dataclass
class World:
    """What a fault test builds its assistant from; `bot()` wires it."""

    eta: EtaModel
    understander: Understander
    store: InMemoryCarrierStore = field(default_factory=InMemoryCarrierStore)
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(NOW))
    closers: list[Any] = field(default_factory=list)

    def simulator(self) -> CarrierSimulator:
        return CarrierSimulator(
            load_seed(DEMO_SEED),
            cases=self.store,
            redirects=self.store,
            verifications=self.store,
            clock=self.clock,
        )

    def proxy(self) -> CarrierProxy:
        proxy = CarrierProxy(TestClient(create_carrier_app(self.simulator())))
        server = _Server(proxy)
        proxy.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.closers.append(server.shutdown)
        self.closers.append(server.server_close)
        return proxy

    def http_backend(self, proxy: CarrierProxy, timeout_s: float = 0.3) -> HttpCarrierBackend:
        backend = HttpCarrierBackend(
            proxy.base_url, timeout_s=timeout_s, retries=1, backoff_s=0.0, breaker_threshold=50
        )
        self.closers.append(backend.close)
        return backend

    def bot(
        self,
        *,
        backend: CarrierBackend | None = None,
        retriever: Retriever | None = None,
        checkpointer_path: Path | None = None,
        understander: UnderstandingPort | None = None,
        chat_model: ChatModel | None = None,
    ) -> Bot:
        context = AssistantContext(
            tools=CarrierTools(backend or self.simulator(), self.eta, self.clock),
            retriever=retriever or ScriptedRetriever(OPENING_HOURS),
            understander=understander or self.understander,
            catalogue=CATALOGUE,
            clock=self.clock,
            chat_model=chat_model,
        )
        if checkpointer_path is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
        else:
            # A short busy timeout: a locked database shows up in a fraction of a second.
            conn = sqlite3.connect(checkpointer_path, check_same_thread=False, timeout=0.2)
        self.closers.append(conn.close)
        saver = SqliteSaver(conn)
        saver.setup()
        return Bot(ConversationEngine(context, saver), self.store)


@pytest.fixture
def world(fault_eta: EtaModel, fault_understander: Understander) -> Iterator[World]:
    w = World(fault_eta, fault_understander)
    yield w
    for close in reversed(w.closers):
        close()


def said(result: TurnResult) -> str:
    return "\n".join(m["text"] for m in result.messages)
