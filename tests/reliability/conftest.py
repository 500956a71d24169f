"""Reliability tests: the real server as a subprocess, and the in-process app under attack.

One template data dir per session (a two-topic help-centre index and a small ETA model, built
with the session's embedder) is copied into every server's or app's own data dir, so no server
builds an index or trains a model on start.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.embedding import E5Embedder
from benchmarks._server import NOW, ServerProcess, copy_topics, prepare_data_dir
from tests.api.conftest import ADMIN_KEY, AGENT_KEY, TOPICS, Template, app_client

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def reliability_template(tmp_path_factory: pytest.TempPathFactory, e5: E5Embedder) -> Template:
    root = tmp_path_factory.mktemp("reliability-template")
    content = copy_topics(root / "content", TOPICS)
    prepare_data_dir(root / "data", content, embedder=e5)
    return Template(root / "data", content)


def server_settings(template: Template, data_dir: Path, **overrides: str) -> dict[str, str]:
    settings = {
        "data_dir": str(data_dir),
        "knowledge_dir": str(template.content_dir),
        "now": NOW,
        "agent_keys": AGENT_KEY,
        "admin_keys": ADMIN_KEY,
        "rate_limit_conversation": "1000/minute",
        "rate_limit_client": "100000/minute",
    }
    settings.update(overrides)
    return settings


@pytest.fixture
def make_server(
    reliability_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """`make_server(**settings)`: a server (not yet started) on a copy of the template data dir;
    every server made is stopped at the end of the test."""
    made: list[ServerProcess] = []

    def factory(**overrides: str) -> ServerProcess:
        root = tmp_path_factory.mktemp("server")
        data = root / "data"
        shutil.copytree(reliability_template.data_dir, data)
        server = ServerProcess(
            server_settings(reliability_template, data, **overrides), root / "server.log"
        )
        made.append(server)
        return server

    yield factory
    for server in made:
        server.stop()


@pytest.fixture(scope="module")
def app(
    reliability_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The real app in-process (one per test module) on a copy of the template data dir."""
    with app_client(reliability_template, tmp_path_factory.mktemp("app")) as client:
        yield client
