"""Test-wide guards: no real network, no real language model.

Every socket connection outside the loopback range fails the test, and so does constructing an
OpenAI client (directly or through langchain) for anything but a server on 127.0.0.1: the LLM path
is tested against a scripted OpenAI-compatible server the tests start themselves.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from assistant.embedding import E5Embedder
from tests.kb_index import FullIndex, open_full_index

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "testserver", "test", ""}


class RealNetworkCall(BaseException):
    """A test tried to reach something outside this machine.

    A BaseException, so that product code that falls back on any `Exception` (the LLM path does)
    cannot swallow it and pass the test.
    """


def _is_local_host(host: str | None) -> bool:
    if host is None or host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _guarded_connect(original: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else None
            if not _is_local_host(host):
                raise RealNetworkCall(f"real network call to {address!r} blocked in tests")
        return original(self, address)

    return connect


def _guarded_getaddrinfo(original: Any) -> Any:
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if not _is_local_host(name):
            raise RealNetworkCall(f"DNS lookup of {name!r} blocked in tests")
        return original(host, *args, **kwargs)

    return getaddrinfo


def _guarded_client_init(original: Any) -> Any:
    def guarded_init(self: Any, *args: Any, **kwargs: Any) -> None:
        base_url = kwargs.get("base_url") or os.environ.get("OPENAI_BASE_URL")
        host = urlparse(str(base_url)).hostname if base_url else None
        if not base_url or not _is_local_host(host):
            raise RealNetworkCall(
                f"constructing a real LLM client (base_url={base_url!r}) is blocked in tests; "
                "point it at the scripted server on 127.0.0.1"
            )
        original(self, *args, **kwargs)

    return guarded_init


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect(socket.socket.connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo(socket.getaddrinfo))
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a runtime dependency
        pass
    else:
        for client in (openai.OpenAI, openai.AsyncOpenAI):
            monkeypatch.setattr(client, "__init__", _guarded_client_init(client.__init__))


@pytest.fixture(autouse=True)
def _isolated_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test sees only the BUDBRINGER_* variables it sets, and a data dir of its own."""
    for name in list(os.environ):
        if name.startswith("BUDBRINGER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BUDBRINGER_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    from assistant.settings import get_settings

    get_settings.cache_clear()


POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards; skip when absent."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - dev extra installs it
        pytest.skip("psycopg is not installed")
    import uuid

    name = f"budbringer_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc.__class__.__name__})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    """The real embedder (bundled model, no network), loaded once."""
    return E5Embedder(num_threads=1)


@pytest.fixture(scope="session")
def full_index(tmp_path_factory: pytest.TempPathFactory, e5: E5Embedder) -> Iterator[FullIndex]:
    """The 150 articles through the real ingestion (cached across sessions, see tests/kb_index.py)."""
    index = open_full_index(tmp_path_factory.mktemp("kb") / "knowledge", e5)
    assert sum(index.counts.values()) > 0, "the cached help-centre index is empty"
    yield index
    index.store.close()
