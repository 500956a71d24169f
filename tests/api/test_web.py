"""The web pages in-process: chat page, widget assets, help articles, admin and agent pages.

These need no stores, so the app runs without its lifespan (no container, no index): only the
page routes are exercised, through the real `create_app` wiring.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.settings import Settings
from tests.api.conftest import assert_problem
from tests.kb_index import CONTENT

LANGUAGES = ("da", "sv", "nb", "fi", "en")


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`leave-at-door` in all five languages, `customs-and-vat` in Danish only, and odd files."""
    root = tmp_path_factory.mktemp("web-content")
    for language in LANGUAGES:
        (root / language).mkdir()
        shutil.copy(CONTENT / language / "leave-at-door.md", root / language / "leave-at-door.md")
    shutil.copy(CONTENT / "da" / "customs-and-vat.md", root / "da" / "customs-and-vat.md")
    (root / "en" / "hostile.md").write_text(
        "---\nid: hostile\ntitle: <img src=x onerror=alert(1)> title\nlanguage: en\n---\n"
        "Text with <script>alert('body')</script> inline.\n\n"
        "[click me](javascript:alert(1)) and [fine](https://example.org/x)\n",
        encoding="utf-8",
    )
    (root / "en" / "broken.md").write_text("no front matter at all\n", encoding="utf-8")
    (root / "secret.md").write_text("---\nid: secret\n---\nnot an article\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def client(content: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    settings = Settings(data_dir=tmp_path_factory.mktemp("web-data"), knowledge_dir=content)
    # No `with`: the lifespan (stores, index build) is not needed to serve pages.
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_chat_page_embeds_the_widget_inline(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'src="/widget.js"' in response.text
    assert 'data-budbringer-target="#budbringer-chat"' in response.text
    assert 'id="budbringer-chat"' in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_widget_script_is_javascript_and_streams_turns(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    script = response.text
    assert "data-budbringer-api" in script
    assert "text/event-stream" in script
    assert "/feedback" in script
    # The language list the widget offers is the five the assistant speaks, with Norwegian aliases.
    assert '["da", "sv", "nb", "fi", "en"]' in script
    assert 'no: "nb", nn: "nb"' in script


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/static/widget.css", "text/css"),
        ("/static/pages.css", "text/css"),
        ("/static/keyed.js", "text/javascript"),
        ("/static/admin.js", "text/javascript"),
        ("/static/agent.js", "text/javascript"),
    ],
)
def test_static_assets_have_their_media_type(client: TestClient, path: str, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)


@pytest.mark.parametrize(
    "path",
    [
        "/static/index.html",
        "/static/missing.js",
        "/static/..%2Fweb.py",
        "/static/%2e%2e%2fweb.py",
        "/static/__init__.py",
    ],
)
def test_only_listed_assets_are_served(client: TestClient, path: str) -> None:
    assert_problem(client.get(path), 404, "not_found")


def test_help_article_renders_title_body_switcher_and_back_link(client: TestClient) -> None:
    response = client.get("/help/da/leave-at-door")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="da">' in page
    assert "<h1>Kan pakken stilles ved døren, hvis jeg ikke er hjemme?</h1>" in page
    assert "<h2>Sådan vælger du &quot;Stil ved døren&quot;</h2>" in page
    assert "<li>Når afsenderen har krævet underskrift ved levering</li>" in page
    assert '<time datetime="2026-10-05">' in page
    # Front matter is metadata, not text.
    assert "questions:" not in page and "tags:" not in page and "---" not in page
    for other in ("sv", "nb", "fi", "en"):
        assert f'href="/help/{other}/leave-at-door"' in page
    assert 'href="/help/da/leave-at-door"' not in page
    assert 'href="/help/da"' in page  # back to the Danish article list


def test_language_switcher_lists_only_languages_the_article_exists_in(client: TestClient) -> None:
    page = client.get("/help/da/customs-and-vat").text
    assert "/help/sv/customs-and-vat" not in page
    assert 'class="bb-langs"' not in page


def test_article_html_is_escaped_and_unsafe_links_dropped(client: TestClient) -> None:
    response = client.get("/help/en/hostile")
    assert response.status_code == 200
    page = response.text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page
    assert "&lt;img src=x onerror=alert(1)&gt; title" in page
    assert 'href="javascript:' not in page
    assert 'href="https://example.org/x"' in page


@pytest.mark.parametrize(
    "path",
    [
        "/help/da/no-such-article",
        "/help/de/leave-at-door",
        "/help/DA/leave-at-door",
        "/help/da/Leave-At-Door",
        "/help/da/leave-at-door.md",
        "/help/da/leave_at_door",
        "/help/en/broken",  # exists, but has no front matter: not an article
        "/help/da/..",
        "/help/da/%2e%2e",
        "/help/da/..%2F..%2Fsecret",
        "/help/da/%2e%2e%2fsecret",
        "/help/..%2Fen/hostile",
        "/help/da/leave-at-door%00",
        "/help/da/" + "a" * 101,
        "/help/xx",
    ],
)
def test_unknown_or_unsafe_help_paths_are_404_problems(client: TestClient, path: str) -> None:
    assert_problem(client.get(path), 404, "not_found")


def test_path_traversal_never_reads_outside_the_content_folder(
    client: TestClient, content: Path
) -> None:
    """A file beside the language folders (or above the content folder) is never served."""
    for path in ("/help/da/..%2Fsecret", "/help/da/%2E%2E%2F%2E%2E%2Fpyproject"):
        response = client.get(path)
        assert response.status_code == 404
        assert "not an article" not in response.text


def test_help_index_lists_a_languages_articles(client: TestClient) -> None:
    response = client.get("/help/da")
    assert response.status_code == 200
    page = response.text
    assert 'href="/help/da/leave-at-door"' in page
    assert 'href="/help/da/customs-and-vat"' in page
    assert 'href="/help/en/hostile"' not in page
    assert 'href="/"' in page  # back to the chat


@pytest.mark.parametrize(
    ("path", "script", "needles"),
    [
        ("/admin", "/static/admin.js", ('id="admin-key"', 'id="reindex-button"', "rollback")),
        ("/agent", "/static/agent.js", ('id="agent-key"', 'id="claim"', 'id="return-to-bot"')),
    ],
)
def test_admin_and_agent_pages(
    client: TestClient, path: str, script: str, needles: tuple[str, ...]
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'src="{script}"' in response.text
    for needle in needles:
        assert needle in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_every_page_control_has_a_label(client: TestClient) -> None:
    """Each input, select and textarea of the static pages has a <label for=...>."""
    for path in ("/admin", "/agent"):
        page = client.get(path).text
        ids = re.findall(r"<(?:input|select|textarea)[^>]*\bid=\"([^\"]+)\"", page)
        assert ids, path
        for control in ids:
            assert f'for="{control}"' in page, f"{path}: #{control} has no label"


def test_pages_are_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(
        p == "/" or p.startswith(("/help", "/admin", "/agent", "/static")) for p in paths
    )
