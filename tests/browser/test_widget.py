"""The customer chat widget in headless Chromium against the real app."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WebServer, screenshot

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]


def _greeted(page: Page) -> None:
    expect(page.get_by_role("log").locator("li").first).to_be_visible()


def _wait_for_reply(page: Page, replies_before: int) -> None:
    """Until the assistant has said something more and the turn has finished streaming."""
    page.wait_for_function(
        "n => document.querySelectorAll('.bb-log .bb-assistant').length > n"
        " && !document.querySelector('.bb-send').disabled",
        arg=replies_before,
        timeout=30_000,
    )


def test_danish_track_and_redirect_conversation(web_server: WebServer, new_page: NewPage) -> None:
    page = new_page(locale="da-DK")
    page.goto(web_server.base_url + "/")
    log = page.get_by_role("log")
    _greeted(page)
    # The language comes from the browser, and the controls are labelled in it.
    expect(page.get_by_label("Sprog")).to_have_value("da")
    message = page.get_by_role("textbox", name="Skriv en besked")
    expect(message).to_be_visible()

    # Record what the typing indicator says while a turn streams.
    typing: list[str] = []
    page.expose_function("recordTyping", lambda text: typing.append(text))
    page.evaluate(
        """() => { const status = document.querySelector('.bb-typing');
            new MutationObserver(() => window.recordTyping(status.textContent))
              .observe(status, {childList: true, characterData: true, subtree: true}); }"""
    )

    # Keyboard only: type and press Enter. The turn streams as Server-Sent Events.
    message.click()
    page.keyboard.type("hvor er RR361920561SE og kan den stilles ved døren")
    with page.expect_response(re.compile(r"/messages$")) as streamed:
        page.keyboard.press("Enter")
    assert streamed.value.request.headers["accept"] == "text/event-stream"
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    expect(log).to_contain_text("hvor er RR361920561SE")
    expect(log).to_contain_text("postnummer", timeout=30_000)
    expect(message).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="skriver")).to_have_count(0)
    assert typing and typing[0] == "Assistenten skriver…", typing
    assert typing[-1] == "", typing  # hidden again once the turn has arrived

    message.fill("8000")
    message.press("Enter")
    yes = page.get_by_role("group", name="Forslag til svar").get_by_role("button", name="Ja")
    expect(yes).to_be_visible(timeout=30_000)
    expect(log).to_contain_text("stillet ved din dør")
    yes.click()
    expect(log).to_contain_text("Så er det klaret", timeout=30_000)

    # The flow completed: the widget asks for a smiley rating and posts it.
    rating = page.get_by_role("group", name="Hvordan var samtalen?")
    expect(rating).to_be_visible()
    screenshot(page, "widget-redirect-confirmed")
    with page.expect_response(re.compile(r"/v1/conversations/[^/]+/feedback$")) as posted:
        rating.get_by_title("Meget tilfreds", exact=True).click()  # the smiley
        page.get_by_role("button", name="Send bedømmelse").click()
    assert posted.value.status == 201
    assert json.loads(posted.value.request.post_data or "{}") == {"rating": 5}
    expect(log).to_contain_text("Tak for din bedømmelse!")

    # A reload continues the same conversation from sessionStorage.
    page.reload()
    expect(page.get_by_role("log")).to_contain_text("Så er det klaret")
    expect(page.get_by_role("log")).to_contain_text("hvor er RR361920561SE")


def test_knowledge_answer_cites_a_help_page_that_opens(
    web_server: WebServer, new_page: NewPage
) -> None:
    page = new_page(locale="da-DK")
    page.goto(web_server.base_url + "/")
    _greeted(page)
    message = page.get_by_role("textbox", name="Skriv en besked")
    message.fill("skal jeg betale told og moms af en pakke fra USA")
    message.press("Enter")
    link = page.get_by_role("log").locator('a[href$="/help/da/customs-and-vat"]')
    expect(link).to_be_visible(timeout=30_000)
    with page.context.expect_page() as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    assert article.url == web_server.base_url + "/help/da/customs-and-vat"
    expect(article.locator("html")).to_have_attribute("lang", "da")
    expect(article.get_by_role("heading", level=1)).to_contain_text("told")
    expect(article.get_by_role("link", name="English")).to_have_attribute(
        "href", "/help/en/customs-and-vat"
    )
    screenshot(article, "help-article-customs-da")


def test_language_follows_norwegian_browser_and_can_be_changed(
    web_server: WebServer, new_page: NewPage
) -> None:
    page = new_page(locale="nn-NO")
    page.goto(web_server.base_url + "/")
    _greeted(page)
    language = page.get_by_label("Språk")
    expect(language).to_have_value("nb")
    greeting = page.get_by_role("log").locator("li").first.inner_text()
    language.select_option("sv")
    # Nothing said yet: the conversation starts again in Swedish, with Swedish labels.
    expect(page.get_by_role("textbox", name="Skriv ett meddelande")).to_be_visible()
    expect(page.get_by_role("log").locator("li").first).not_to_have_text(greeting)
    expect(page.get_by_role("log").locator("li")).to_have_count(1)


def test_ending_the_conversation_asks_for_a_rating_and_offers_a_new_one(
    web_server: WebServer, new_page: NewPage
) -> None:
    page = new_page(locale="en-GB")
    page.goto(web_server.base_url + "/")
    _greeted(page)
    page.get_by_role("button", name="End conversation").click()
    # Focus moves into the rating; a rating is needed before sending.
    expect(page.get_by_role("radio", name="1 – Very dissatisfied")).to_be_focused()
    page.get_by_role("button", name="Send rating").click()
    expect(page.get_by_role("alert").filter(has_text="Choose a smiley first.")).to_be_visible()
    expect(page.get_by_role("radio", name="1 – Very dissatisfied")).to_be_focused()
    page.keyboard.press("ArrowRight")  # in a radio group, arrow keys choose
    page.get_by_label("Comment (optional)").fill("Quick and clear")
    with page.expect_response(re.compile(r"/feedback$")) as posted:
        page.get_by_role("button", name="Send rating").click()
    assert json.loads(posted.value.request.post_data or "{}") == {
        "rating": 2,
        "comment": "Quick and clear",
    }
    expect(page.get_by_role("log")).to_contain_text("The conversation has ended.")
    again = page.get_by_role("button", name="Start a new conversation")
    expect(again).to_be_focused()
    expect(page.get_by_role("textbox", name="Write a message")).to_be_hidden()
    again.click()
    expect(page.get_by_role("textbox", name="Write a message")).to_be_focused()
    expect(page.get_by_role("log").locator("li")).to_have_count(1)


def test_phone_width_has_no_horizontal_scroll(web_server: WebServer, new_page: NewPage) -> None:
    page = new_page(locale="fi-FI", viewport={"width": 360, "height": 740}, is_mobile=True)
    page.goto(web_server.base_url + "/")
    _greeted(page)
    message = page.get_by_role("textbox", name="Kirjoita viesti")
    message.fill("hvor er RR361920561SE")
    message.press("Enter")
    _wait_for_reply(page, 1)
    sizes = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    assert sizes["scroll"] <= sizes["client"] == 360, sizes
    for selector in (".bb-panel", ".bb-form", ".bb-head"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
    screenshot(page, "widget-phone-360")


def test_widget_embeds_on_another_site_with_a_launcher(
    web_server: WebServer, new_page: NewPage
) -> None:
    """The script tag of the docs, on a page of another origin (served by the test itself)."""
    page = new_page(locale="en-GB")
    page.goto(web_server.shop_url)
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    message = page.get_by_role("textbox", name="Write a message")
    expect(message).to_be_focused()
    _greeted(page)  # the cross-origin API call worked (CORS)
    message.fill("where is RR361920561SE")
    message.press("Enter")
    _wait_for_reply(page, 1)
    screenshot(page, "widget-embedded")
    page.keyboard.press("Escape")
    expect(message).to_be_hidden()
    expect(launcher).to_be_focused()
