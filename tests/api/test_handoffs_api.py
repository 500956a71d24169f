"""The agents' API and the customer's live stream, in-process over the real app (issue 6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.routes.handoffs import agent_id
from assistant.domain import CaseCategory, CaseRequest
from tests.api.conftest import (
    ADMIN_KEY,
    AGENT_KEY,
    Conversation,
    Template,
    app_client,
    assert_problem,
    open_conversation,
)

AGENT = {"X-API-Key": AGENT_KEY}


@pytest.fixture(scope="module")
def desk(api_template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app of its own, so the queue holds only this module's handoffs."""
    with app_client(api_template, tmp_path_factory.mktemp("handoffs")) as client:
        yield client


@pytest.fixture(scope="module")
def closed_desk(
    api_template: Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A Sunday: the agents are away."""
    with app_client(
        api_template, tmp_path_factory.mktemp("closed"), now="2026-11-22T12:00:00+01:00"
    ) as client:
        yield client


def handed_over(client: TestClient, language: str = "da") -> tuple[Conversation, dict[str, Any]]:
    chat = open_conversation(client, language)
    chat.say("hvor er RR361920561SE")
    turn = chat.say("jeg vil tale med et menneske")
    assert turn["handoff"]["status"] == "waiting", turn
    assert any(a["tool"] == "handoff_to_agent" and a["ok"] for a in turn["actions"])
    return chat, turn["handoff"]


def events(client: TestClient, chat: Conversation, **params: Any) -> list[tuple[str, Any]]:
    """The events of one short-lived stream, as (event, data) pairs."""
    response = client.get(f"{chat.path}/events", params={"wait": 0.3, **params}, headers=chat.auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    found: list[tuple[str, Any]] = []
    event = "message"
    for line in response.text.splitlines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            found.append((event, json.loads(line.removeprefix("data:").strip())))
            event = "message"
    return found


def test_the_whole_handoff_from_queue_to_hand_back(desk: TestClient) -> None:
    chat, handoff = handed_over(desk)
    hid = handoff["handoff_id"]

    listed = desk.get("/v1/handoffs", params={"status": "waiting"}, headers=AGENT)
    assert listed.status_code == 200
    item = next(h for h in listed.json() if h["handoff_id"] == hid)
    assert {"handoff_id", "conversation_id", "created_at", "priority", "language", "reason"} <= set(
        item
    )
    assert (item["conversation_id"], item["language"], item["reason"], item["status"]) == (
        chat.conversation_id,
        "da",
        "customer_request",
        "waiting",
    )
    assert item["position"] == 1 and item["mode"] == "live"
    assert item["summary"]["tracking_ids"] == ["RR361920561SE"]
    assert item["summary"]["text"].startswith("Customer asked for a person")

    # While it waits, the customer writes to the agent and the assistant says nothing.
    assert chat.say("hallo, er der nogen?")["messages"] == []

    claimed = desk.post(f"/v1/handoffs/{hid}/claim", json={"agent_name": "Mette"}, headers=AGENT)
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"
    assert claimed.json()["agent"] == "Mette" and claimed.json()["position"] is None
    again = desk.post(f"/v1/handoffs/{hid}/claim", headers=AGENT)
    assert_problem(again, 409, "handoff_claimed")

    sent = desk.post(
        f"/v1/handoffs/{hid}/messages", json={"text": "Hej, det er Mette."}, headers=AGENT
    )
    assert sent.status_code == 201 and sent.json()["role"] == "agent"
    stream = events(desk, chat)
    assert ("handoff", {"handoff_id": hid, "status": "claimed", "position": None}) in stream
    agent_lines = [d for e, d in stream if e == "message"]
    assert [m["text"] for m in agent_lines] == ["Hej, det er Mette."]
    # A reconnect with the last id sees nothing twice.
    later = events(desk, chat, after=agent_lines[-1]["seq"])
    assert [d for e, d in later if e == "message"] == []

    detail = desk.get(f"/v1/handoffs/{hid}", headers=AGENT).json()
    assert [(m["role"], m["text"]) for m in detail["messages"]] == [
        ("customer", "hallo, er der nogen?"),
        ("agent", "Hej, det er Mette."),
    ]
    assert [m["role"] for m in detail["transcript"]][-3:] == ["assistant", "customer", "agent"]
    transcript = chat.get()["messages"]
    assert transcript[-1] == {"role": "agent", "text": "Hej, det er Mette.", "turn": 3}

    resolved = desk.post(
        f"/v1/handoffs/{hid}/resolve",
        json={"note": "explained", "return_to_bot": True},
        headers=AGENT,
    )
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["note"]) == ("resolved", "explained")
    assert_problem(desk.post(f"/v1/handoffs/{hid}/resolve", headers=AGENT), 409, "handoff_resolved")
    late = desk.post(f"/v1/handoffs/{hid}/messages", json={"text": "one more"}, headers=AGENT)
    assert_problem(late, 409, "handoff_resolved")
    back = [d["text"] for e, d in events(desk, chat) if e == "message"]
    assert back[-1].startswith("Du er tilbage hos mig")

    # The assistant is back, with the conversation's context.
    turn = chat.say("hvornår kommer den?")
    assert turn["messages"] and turn["handoff"] is None
    assert any(a["arguments"].get("tracking_id") == "RR361920561SE" for a in turn["actions"])
    resolved_list = desk.get("/v1/handoffs", params={"status": "resolved"}, headers=AGENT).json()
    assert hid in [h["handoff_id"] for h in resolved_list]


def test_the_queue_is_ordered_by_priority(desk: TestClient) -> None:
    _plain, first = handed_over(desk)
    legal = open_conversation(desk, "en")
    policy = legal.say("I will take legal action against you")["handoff"]
    assert policy["reason"] == "policy"
    waiting = [
        h["handoff_id"] for h in desk.get("/v1/handoffs?status=waiting", headers=AGENT).json()
    ]
    assert waiting.index(policy["handoff_id"]) < waiting.index(first["handoff_id"])
    for hid in (policy["handoff_id"], first["handoff_id"]):
        assert desk.post(f"/v1/handoffs/{hid}/resolve", headers=AGENT).status_code == 200


def test_agent_routes_need_an_agent_key(desk: TestClient) -> None:
    chat, handoff = handed_over(desk)
    hid = handoff["handoff_id"]
    for method, path in (
        ("get", "/v1/handoffs"),
        ("get", f"/v1/handoffs/{hid}"),
        ("post", f"/v1/handoffs/{hid}/claim"),
        ("get", "/v1/cases"),
    ):
        call = getattr(desk, method)
        assert_problem(call(path), 401, "unauthenticated")
        assert_problem(call(path, headers={"X-API-Key": "guess"}), 401, "unauthenticated")
        assert_problem(call(path, headers=chat.auth), 403, "forbidden")
        assert_problem(call(path, headers={"X-API-Key": ADMIN_KEY}), 403, "forbidden")
    # Nothing changed: still waiting for an agent.
    assert desk.get(f"/v1/handoffs/{hid}", headers=AGENT).json()["status"] == "waiting"
    # The customer's stream takes the conversation's token, not an agent key, nor another's.
    assert_problem(desk.get(f"{chat.path}/events", headers=AGENT), 401, "unauthenticated")
    other = open_conversation(desk, "en")
    assert_problem(desk.get(f"{chat.path}/events", headers=other.auth), 403, "forbidden")
    desk.post(f"/v1/handoffs/{hid}/resolve", headers=AGENT)


def test_unknown_ids_and_bad_bodies_are_clear_problems(desk: TestClient) -> None:
    _chat, handoff = handed_over(desk)
    hid = handoff["handoff_id"]
    assert_problem(desk.get("/v1/handoffs/H-NOPE", headers=AGENT), 404, "handoff_not_found")
    assert_problem(desk.post("/v1/handoffs/H-NOPE/claim", headers=AGENT), 404, "handoff_not_found")
    assert_problem(
        desk.post("/v1/handoffs/H-NOPE/messages", json={"text": "hi"}, headers=AGENT),
        404,
        "handoff_not_found",
    )
    assert_problem(desk.get("/v1/handoffs/not-an-id", headers=AGENT), 422, "validation_error")
    assert_problem(desk.get("/v1/handoffs?status=lost", headers=AGENT), 422, "validation_error")
    # A reply before the claim, an empty or unknown body: refused, nothing stored.
    early = desk.post(f"/v1/handoffs/{hid}/messages", json={"text": "hi"}, headers=AGENT)
    assert_problem(early, 409, "handoff_not_claimed")
    desk.post(f"/v1/handoffs/{hid}/claim", headers=AGENT)
    for body in ({"text": "   "}, {"text": ""}, {"txt": "hi"}, {"text": "x" * 4001}):
        bad = desk.post(f"/v1/handoffs/{hid}/messages", json=body, headers=AGENT)
        assert_problem(bad, 422, "validation_error")
    wrong_type = desk.post(
        f"/v1/handoffs/{hid}/messages",
        content=b"text=hi",
        headers={**AGENT, "Content-Type": "text/plain"},
    )
    assert_problem(wrong_type, 415, "unsupported_media_type")
    bad_resolve = desk.post(
        f"/v1/handoffs/{hid}/resolve", json={"return_to_bot": "maybe"}, headers=AGENT
    )
    assert_problem(bad_resolve, 422, "validation_error")
    assert desk.get(f"/v1/handoffs/{hid}", headers=AGENT).json()["messages"] == []
    assert desk.get(f"/v1/handoffs/{hid}", headers=AGENT).json()["status"] == "claimed"
    assert_problem(desk.get("/v1/cases/CS-NOPE", headers=AGENT), 404, "case_not_found")
    desk.post(f"/v1/handoffs/{hid}/resolve", headers=AGENT)


def test_cases_are_listed_for_agents(desk: TestClient) -> None:
    container: Any = desk.app.state.container  # type: ignore[attr-defined]
    case = container.carrier.create_case(
        CaseRequest(
            tracking_id="00752604106995796886",
            category=CaseCategory.DAMAGED,
            description="the box was crushed",
            contact_email="kunde@example.com",
            language="da",
        ),
        "test:cases:1",
    )
    listed = desk.get("/v1/cases", params={"tracking_id": "00752604106995796886"}, headers=AGENT)
    assert [c["case_id"] for c in listed.json()] == [case.case_id]
    one = desk.get(f"/v1/cases/{case.case_id}", headers=AGENT).json()
    assert (one["category"], one["contact_email"], one["status"]) == (
        "damaged",
        "kunde@example.com",
        case.status.value,
    )


def test_outside_hours_the_customer_books_a_callback(closed_desk: TestClient) -> None:
    chat = open_conversation(closed_desk, "en")
    offered = chat.say("I want to talk to a human")
    assert offered["handoff"]["status"] == "offered"
    assert offered["handoff"]["offer"] == "callback_number"
    invalid = chat.say("+45 1234567890123")
    assert "doesn't look like a phone number" in invalid["messages"][0]["text"]
    booked = chat.say("+45 20 12 34 56")
    assert booked["handoff"]["status"] == "callback"
    waiting = closed_desk.get("/v1/handoffs?status=waiting", headers=AGENT).json()
    mine = [h for h in waiting if h["conversation_id"] == chat.conversation_id]
    assert [(h["mode"], h["callback_phone"]) for h in mine] == [("callback", "+4520123456")]
    # The customer is not put on hold: nobody is in the chat.
    assert chat.say("thanks")["messages"]


def test_handoff_metrics(desk: TestClient) -> None:
    _chat, handoff = handed_over(desk)
    hid = handoff["handoff_id"]
    desk.post(f"/v1/handoffs/{hid}/claim", headers=AGENT)
    desk.post(f"/v1/handoffs/{hid}/resolve", json={"return_to_bot": True}, headers=AGENT)
    text = desk.get("/metrics").text
    assert 'budbringer_handoffs_total{reason="customer_request"}' in text
    assert 'budbringer_handoff_wait_seconds_count{reason="customer_request"}' in text
    assert 'budbringer_handoff_handling_seconds_count{reason="customer_request"}' in text
    assert (
        'budbringer_handoffs_resolved_total{reason="customer_request",returned_to_bot="true"}'
        in text
    )


def test_agent_ids_do_not_reveal_the_key() -> None:
    assert agent_id(AGENT_KEY).startswith("agent-") and AGENT_KEY not in agent_id(AGENT_KEY)
    assert agent_id(AGENT_KEY) == agent_id(AGENT_KEY) != agent_id(ADMIN_KEY)
