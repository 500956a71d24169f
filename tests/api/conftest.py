"""API tests run in-process against the real app: real stores in a temp data dir, a frozen clock.

The help-centre index and the ETA model are built once per session into a template data dir
(two topics in five languages, so a knowledge turn has something to find and something to
miss), and copied into each app's own data dir. Most tests share one session app (`api`);
tests that need other settings build their own with `make_client`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.embedding import E5Embedder
from assistant.eta.model import EtaModel
from assistant.eta.synthetic import generate_shipments
from assistant.settings import Settings
from knowledge.reindex import Reindexer
from retrieval.edge_store import EdgeKnowledgeStore
from tests.kb_index import CONTENT

NOW = "2026-11-23T12:00:00+01:00"
AGENT_KEY = "agent-key-for-tests"
ADMIN_KEY = "admin-key-for-tests"
TOPICS = ("customs-and-vat", "contact-customer-service")
LANGUAGES = ("da", "sv", "nb", "fi", "en")


def copy_topics(target: Path, topics: tuple[str, ...] = TOPICS) -> Path:
    for language in LANGUAGES:
        (target / language).mkdir(parents=True, exist_ok=True)
        for topic in topics:
            shutil.copy(CONTENT / language / f"{topic}.md", target / language / f"{topic}.md")
    return target


@dataclass(frozen=True)
class Template:
    data_dir: Path
    content_dir: Path


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory, e5: E5Embedder) -> Template:
    root = tmp_path_factory.mktemp("api-template")
    content = copy_topics(root / "content")
    data = root / "data"
    store = EdgeKnowledgeStore(data / "knowledge")
    report = Reindexer(store, e5, content, data / "knowledge").run(full=True)
    store.close()
    assert report.switched, report.message
    EtaModel.train(generate_shipments(300, seed=3), seed=3).save(data / "models" / "eta.joblib")
    return Template(data, content)


def wait_ready(client: TestClient, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"not ready: {client.get('/readyz').json()}")


ClientFactory = Callable[..., Any]


@contextmanager
def app_client(
    template: Template,
    root: Path,
    *,
    ready: bool = True,
    content_dir: Path | None = None,
    **overrides: Any,
) -> Iterator[TestClient]:
    data = root / "data"
    shutil.copytree(template.data_dir, data)
    values: dict[str, Any] = {
        "data_dir": data,
        "knowledge_dir": content_dir or template.content_dir,
        "now": NOW,
        "agent_keys": [AGENT_KEY],
        "admin_keys": [ADMIN_KEY],
        "rate_limit_conversation": "1000/minute",
        "rate_limit_client": "100000/minute",
    }
    values.update(overrides)
    app = create_app(Settings(**values))
    with TestClient(app, raise_server_exceptions=False) as client:
        if ready:
            wait_ready(client)
        yield client


@pytest.fixture(scope="session")
def api(api_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the whole session, generous rate limits (tests must not depend on order)."""
    with app_client(api_template, tmp_path_factory.mktemp("api")) as client:
        yield client


@pytest.fixture
def make_client(
    api_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Any]:
    """`with make_client(**settings) as client:` an app of its own."""

    def factory(**overrides: Any) -> Any:
        return app_client(api_template, tmp_path_factory.mktemp("app"), **overrides)

    return factory


@dataclass
class Conversation:
    client: TestClient
    conversation_id: str
    token: str
    greeting: list[dict[str, Any]]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def path(self) -> str:
        return f"/v1/conversations/{self.conversation_id}"

    def say(self, text: str, **headers: str) -> Any:
        response = self.client.post(
            f"{self.path}/messages", json={"text": text}, headers={**self.auth, **headers}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def get(self) -> Any:
        response = self.client.get(self.path, headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()


def open_conversation(
    client: TestClient, language: str | None = "da", **headers: str
) -> Conversation:
    body = {"language": language} if language else None
    response = client.post("/v1/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data = response.json()
    return Conversation(client, data["conversation_id"], data["token"], data["messages"])


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """A problem response: the status, the media type, RFC 9457 fields, and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"urn:budbringer:problem:{code}"
    assert body["title"] and body["detail"] and body["instance"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body
