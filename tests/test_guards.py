"""The test-wide guards in conftest.py really stop network calls and real LLM clients."""

from __future__ import annotations

import socket

import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.conftest import RealNetworkCall


def test_outside_connection_is_blocked() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(RealNetworkCall):
        s.connect(("93.184.216.34", 80))


def test_dns_lookup_of_outside_name_is_blocked() -> None:
    with pytest.raises(RealNetworkCall):
        socket.getaddrinfo("api.openai.com", 443)


def test_loopback_connection_is_allowed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_real_openai_client_construction_fails() -> None:
    with pytest.raises(RealNetworkCall):
        openai.OpenAI(api_key="sk-test")


def test_langchain_chat_model_for_a_real_endpoint_fails() -> None:
    with pytest.raises(RealNetworkCall):
        ChatOpenAI(model="gpt-4o-mini", api_key="sk-test")  # type: ignore[arg-type]


def test_client_for_local_scripted_server_is_allowed() -> None:
    client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert client.base_url.host == "127.0.0.1"
