"""The content owners' page in headless Chromium: articles, reindex with progress, rollback."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_KEY, WebServer, screenshot
from tests.kb_index import CONTENT

pytestmark = pytest.mark.browser


def test_reindex_shows_progress_then_success_and_rollback(
    web_server: WebServer, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto(web_server.base_url + "/admin")
    # Without a key nothing is fetched, and the page says why.
    page.get_by_role("button", name="Refresh list").click()
    expect(page.locator("#articles-status")).to_have_text("Type the admin key first.")

    page.get_by_label("Admin API key").fill("not-the-key")
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#articles-status")).to_contain_text("not accepted")

    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Use key").click()
    table = page.get_by_role("table")
    expect(table).to_be_visible()
    expect(page.locator("#articles-status")).to_have_text("13 articles in 3 topics.")
    expect(table.get_by_role("row", name="opening-hours")).to_contain_text("missing")
    expect(page.locator("#missing-list")).to_have_text("opening-hours: nb, fi")
    expect(table.get_by_role("row", name="leave-at-door")).not_to_contain_text("missing")

    # The content owner adds a topic in two languages and reindexes: the status shows the job's
    # stages while it embeds the new articles, then the report.
    for language in ("da", "en"):
        shutil.copy(
            CONTENT / language / "contact-customer-service.md",
            web_server.content_dir / language / "contact-customer-service.md",
        )
    seen: list[str] = []
    page.expose_function("recordStatus", lambda text: seen.append(text))
    page.evaluate(
        """() => new MutationObserver(() => window.recordStatus(
                document.getElementById('job-status').textContent))
            .observe(document.getElementById('job-status'),
                     {childList: true, characterData: true, subtree: true})"""
    )
    page.get_by_role("button", name="Reindex now").click()
    status = page.locator("#job-status")
    expect(status).to_contain_text("Reindex succeeded", timeout=60_000)
    expect(page.get_by_role("button", name="Reindex now")).to_be_enabled()
    assert any(line.startswith("Reindexing: ") for line in seen), seen
    progress = page.locator("#job-progress")
    assert progress.evaluate("p => p.value === p.max")
    report = page.locator("#job-report")
    expect(report.locator("dt:text-is('Switched') + dd")).to_have_text("yes")
    expect(report.locator("dt:text-is('Added') + dd")).to_contain_text(
        "da/contact-customer-service"
    )
    expect(page.locator("#articles-status")).to_have_text("15 articles in 4 topics.")
    expect(page.locator("#missing-list")).to_contain_text("contact-customer-service: sv, nb, fi")
    new_version = report.locator("dt:text-is('Version') + dd").inner_text()
    screenshot(page, "admin-reindexed")

    # Rollback asks first; Cancel changes nothing, Yes makes the previous version live.
    page.get_by_role("button", name="Roll back to the previous version").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Yes, roll back")).to_have_count(0)
    page.get_by_role("button", name="Roll back to the previous version").click()
    yes = page.get_by_role("button", name="Yes, roll back")
    expect(yes).to_be_focused()
    yes.click()
    rolled = page.locator("#rollback-status")
    expect(rolled).to_contain_text("Rolled back:")
    expect(rolled).to_contain_text(f"(was {new_version})")
    screenshot(page, "admin-rolled-back")
