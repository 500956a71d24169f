"""Issue 6's round trip in two browsers: a customer asks for a person, an agent claims the
handoff in the agent console, replies, and the reply appears in the customer's widget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import AGENT_KEY, WebServer, screenshot

pytestmark = pytest.mark.browser


def _say(page: Page, text: str) -> None:
    before = page.locator(".bb-log .bb-assistant").count()
    box = page.get_by_role("textbox", name="Skriv en besked")
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.bb-log .bb-assistant').length > n"
        " && !document.querySelector('.bb-send').disabled",
        arg=before,
        timeout=30_000,
    )


def test_agent_claims_replies_and_the_customer_sees_it(
    web_server: WebServer, new_page: Callable[..., Page]
) -> None:
    customer = new_page(locale="da-DK")
    customer.goto(web_server.base_url + "/")
    log = customer.get_by_role("log")
    expect(log.locator("li").first).to_be_visible()
    _say(customer, "hvor er RR361920561SE")
    _say(customer, "kan jeg tale med en medarbejder")
    expect(log).to_contain_text("i køen")

    agent = new_page(locale="en-GB")
    agent.goto(web_server.base_url + "/agent")
    agent.get_by_label("Agent API key").fill(AGENT_KEY)
    agent.get_by_role("button", name="Use key").click()
    queue = agent.locator("#queue")
    waiting = queue.get_by_role("button").filter(has_text="customer request")
    expect(waiting).to_have_count(1)
    waiting.click()

    # The summary tells the agent what the assistant already knows; the transcript is there.
    facts = agent.locator("#summary")
    expect(facts.locator("dt:text-is('Reason') + dd")).to_have_text("customer request")
    expect(facts.locator("dt:text-is('Language') + dd")).to_have_text("da")
    expect(facts.locator("dt:text-is('Tracking ids') + dd")).to_have_text("RR361920561SE")
    expect(facts.locator("dt:text-is('Shipment') + dd")).to_contain_text("RR361920561SE")
    expect(facts.locator("dt:text-is('Steps taken') + dd")).to_contain_text("get_shipment_status")
    expect(facts.locator("dt:text-is('Customer request') + dd")).to_contain_text(
        "tale med en medarbejder"
    )
    expect(facts.locator("dt:text-is('Suggested next action') + dd")).not_to_be_empty()
    expect(agent.locator("#summary-text")).not_to_be_empty()
    transcript = agent.locator("#transcript")
    expect(transcript).to_contain_text("hvor er RR361920561SE")
    expect(agent.get_by_label("Reply to the customer")).to_be_hidden()  # claim first

    agent.get_by_role("button", name="Claim", exact=True).click()
    expect(agent.locator("#detail-meta")).to_contain_text("Status: claimed")
    expect(agent.get_by_role("button", name="Claim", exact=True)).to_be_hidden()
    reply = agent.get_by_label("Reply to the customer")
    expect(reply).to_be_focused()
    reply.fill("Hej, jeg hedder Mette. Jeg kigger på din pakke nu.")
    agent.get_by_role("button", name="Send reply").click()
    expect(agent.locator("#action-status")).to_have_text("Reply sent.")

    # The customer's widget shows the agent's reply, marked as from a person.
    agent_line = log.locator(".bb-agent")
    expect(agent_line).to_have_count(1, timeout=10_000)
    expect(agent_line).to_contain_text("Medarbejder: Hej, jeg hedder Mette.")
    screenshot(customer, "handoff-customer-sees-agent")

    # The customer answers; the assistant stays quiet and the agent sees it in the transcript.
    assistant_lines = log.locator(".bb-assistant").count()
    box = customer.get_by_role("textbox", name="Skriv en besked")
    box.fill("tak, den skulle være kommet i går")
    box.press("Enter")
    expect(transcript).to_contain_text("den skulle være kommet i går", timeout=10_000)
    expect(log.locator(".bb-assistant")).to_have_count(assistant_lines)
    screenshot(agent, "handoff-agent-console")

    # Resolved with "return to the assistant": the customer is told the assistant is back.
    agent.get_by_label("Note (for the record)").fill("Explained the delay; nothing else needed.")
    agent.get_by_label("Return the conversation to the assistant").check()
    agent.get_by_role("button", name="Resolve", exact=True).click()
    expect(agent.locator("#detail-meta")).to_contain_text("Status: resolved")
    expect(log).to_contain_text("Du er tilbage hos mig", timeout=10_000)
    agent.get_by_role("button", name="Resolved", exact=True).click()
    expect(queue.get_by_role("button").filter(has_text="customer request")).to_have_count(1)

    # The customer's widget is the assistant's again: a question gets an answer.
    about_parcel = log.locator(".bb-assistant").filter(has_text="RR361920561SE")
    before = about_parcel.count()
    _say(customer, "hvor er RR361920561SE")
    expect(about_parcel).to_have_count(before + 1)


def test_without_the_event_stream_the_widget_polls_for_agent_replies(
    web_server: WebServer, new_page: Callable[..., Page]
) -> None:
    """A server (or proxy) without the customer event stream: replies arrive by polling."""
    customer = new_page(locale="da-DK")
    customer.route("**/v1/conversations/*/events*", lambda route: route.fulfill(status=404))
    customer.goto(web_server.base_url + "/")
    log = customer.get_by_role("log")
    expect(log.locator("li").first).to_be_visible()
    _say(customer, "kan jeg tale med en medarbejder")
    expect(log).to_contain_text("i køen")

    with httpx.Client(base_url=web_server.base_url, headers={"X-API-Key": AGENT_KEY}) as api:
        waiting = api.get("/v1/handoffs", params={"status": "waiting"}).json()
        (handoff,) = [h for h in waiting if h["language"] == "da"]
        hid = handoff["handoff_id"]
        assert api.post(f"/v1/handoffs/{hid}/claim").status_code == 200
        sent = api.post(f"/v1/handoffs/{hid}/messages", json={"text": "Hej, det er Jonas."})
        assert sent.status_code == 201
        expect(log.locator(".bb-agent")).to_have_text("Medarbejder: Hej, det er Jonas.")
        resolved = api.post(f"/v1/handoffs/{hid}/resolve", json={"return_to_bot": True})
        assert resolved.status_code == 200
    back = log.locator(".bb-assistant").filter(has_text="Du er tilbage hos mig")
    expect(back).to_have_count(1, timeout=10_000)
    customer.wait_for_timeout(2500)  # one more poll: nothing is shown twice
    expect(back).to_have_count(1)
    expect(log.locator(".bb-agent")).to_have_count(1)


def _open_damage_case(base_url: str) -> str:
    """A complaint through the JSON API, as another customer would file it; returns the case id."""
    with httpx.Client(base_url=base_url, timeout=30) as api:
        created = api.post("/v1/conversations", json={"language": "en"}).json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        path = f"/v1/conversations/{created['conversation_id']}/messages"
        turn: dict[str, Any] = {}
        for text in (
            "my parcel RR905677345SE arrived damaged",
            "the bowl inside was smashed",
            "elin@example.com",
            "yes",
        ):
            response = api.post(path, json={"text": text}, headers=auth)
            assert response.status_code == 200, response.text
            turn = response.json()
    assert turn["flow_status"] == "completed", turn
    case = next(a for a in turn["actions"] if a["tool"] == "create_case")
    return str(case["result"]["case_id"])


def test_agent_console_refuses_a_wrong_key_and_shows_cases(
    web_server: WebServer, new_page: Callable[..., Page]
) -> None:
    case_id = _open_damage_case(web_server.base_url)
    agent = new_page(locale="en-GB")
    agent.goto(web_server.base_url + "/agent")
    agent.get_by_label("Agent API key").fill("wrong-key")
    agent.get_by_role("button", name="Use key").click()
    expect(agent.locator("#list-status")).to_contain_text("not accepted")

    agent.get_by_label("Agent API key").fill(AGENT_KEY)
    agent.get_by_role("button", name="Use key").click()
    agent.get_by_role("button", name="Cases", exact=True).click()
    expect(agent.locator("#list-heading")).to_have_text("Cases")
    case = agent.locator("#queue").get_by_role("button").filter(has_text=case_id)
    expect(case).to_contain_text("damaged")
    case.click()
    expect(agent.locator("#detail-heading")).to_have_text(f"Case {case_id}")
    details = agent.locator("#case")
    expect(details).to_contain_text("RR905677345SE")
    expect(details).to_contain_text("the bowl inside was smashed")
