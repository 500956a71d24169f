"""Browser tests: the real app under uvicorn on 127.0.0.1, driven by headless Chromium.

Chromium is Debian's (`/usr/bin/chromium`; `make test` installs it when missing), driven by
Playwright's sync API; Playwright's own browser download is never used. One browser serves the
whole session; every test gets a fresh context (its own cookies and sessionStorage).

The server is the real `create_app` with a small help centre (three topics, one of them missing
two languages), so the first-start index build and a full reindex take seconds. Screenshots go
to `test-artifacts/browser/`.
"""

from __future__ import annotations

import html
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from api.app import create_app
from assistant.eta.model import EtaModel
from assistant.eta.synthetic import generate_shipments
from assistant.settings import Settings
from tests.kb_index import CONTENT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOW = "2026-11-23T12:00:00+01:00"
AGENT_KEY = "browser-agent-key"
ADMIN_KEY = "browser-admin-key"
LANGUAGES = ("da", "sv", "nb", "fi", "en")
TOPICS = ("leave-at-door", "customs-and-vat")
PARTIAL_TOPIC = ("opening-hours", ("da", "sv", "en"))  # lacks nb and fi on purpose
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@dataclass(frozen=True)
class WebServer:
    base_url: str
    content_dir: Path
    settings: Settings
    shop_url: str  # a page of another origin that embeds the widget with its script tag


class _ShopPage(BaseHTTPRequestHandler):
    """A web shop on another origin (another loopback port) embedding the widget as documented."""

    api_base = ""

    def do_GET(self) -> None:
        api = html.escape(self.api_base, quote=True)
        body = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Shop</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
            "<body><h1>A web shop</h1><p>Products.</p>"
            f"<script src='{api}/widget.js' data-budbringer-api='{api}' defer></script>"
            "</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="package")
def _shop() -> Iterator[ThreadingHTTPServer]:
    shop = ThreadingHTTPServer(("127.0.0.1", 0), _ShopPage)
    thread = threading.Thread(target=shop.serve_forever, name="browser-test-shop", daemon=True)
    thread.start()
    yield shop
    shop.shutdown()
    shop.server_close()


def _small_help_centre(root: Path) -> Path:
    for language in LANGUAGES:
        (root / language).mkdir(parents=True, exist_ok=True)
        for topic in TOPICS:
            shutil.copy(CONTENT / language / f"{topic}.md", root / language / f"{topic}.md")
    # A short topic in three languages only: the admin page must list it as lacking two.
    topic, languages = PARTIAL_TOPIC
    for language in languages:
        (root / language / f"{topic}.md").write_text(
            f"---\nid: {topic}\ntitle: Opening hours ({language})\nlanguage: {language}\n"
            "updated: 2026-10-06\n---\nCustomer service answers Monday to Friday 08-20.\n",
            encoding="utf-8",
        )
    return root


def _settings(root: Path, embedding_origin: str) -> Settings:
    # Only what is passed here counts: the outer environment's BUDBRINGER_* must not leak in.
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("BUDBRINGER_"):
                patch.delenv(name)
        return Settings(
            data_dir=root / "data",
            knowledge_dir=_small_help_centre(root / "content"),
            now=NOW,  # type: ignore[arg-type]
            agent_keys=[AGENT_KEY],
            admin_keys=[ADMIN_KEY],
            cors_origins=[embedding_origin],
            rate_limit_conversation="1000/minute",
            rate_limit_client="100000/minute",
        )


@pytest.fixture(scope="package")
def web_server(
    tmp_path_factory: pytest.TempPathFactory, _shop: ThreadingHTTPServer
) -> Iterator[WebServer]:
    root = tmp_path_factory.mktemp("browser")
    shop_url = f"http://127.0.0.1:{_shop.server_address[1]}"
    settings = _settings(root, shop_url)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="browser-test-server", daemon=True)
    thread.start()
    try:
        # The ETA model would otherwise be trained during the first tracking turn: train it here
        # while the server builds its index (the embedder uses one core, this the other).
        EtaModel.train(generate_shipments(1500, seed=3), seed=3).save(
            settings.data_dir / "models" / "eta.joblib"
        )
        deadline = time.monotonic() + 120
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        base_url = f"http://127.0.0.1:{port}"
        # Ready once the first-start index build of the small help centre is done.
        while True:
            status = httpx.get(f"{base_url}/readyz", timeout=5).status_code
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server is not ready (/readyz {status})")
            time.sleep(0.1)
        _ShopPage.api_base = base_url
        yield WebServer(base_url, settings.knowledge_dir, settings, shop_url + "/")
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        # launch() gives every browser a fresh temporary profile (user data dir).
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """`new_page(locale="da-DK", viewport=...)` -> a page in a fresh context; closed afterwards."""
    contexts: list[BrowserContext] = []

    def factory(**options: Any) -> Page:
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
