"""Customer routes over the real app: open, talk (flow and knowledge turns), read, feedback."""

from __future__ import annotations

import hashlib
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.feedback import feedback
from api.routes.conversations import pick_language
from api.security import conversation_tokens
from tests.api.conftest import Conversation, assert_problem, open_conversation

TURN_FIELDS = {
    "conversation_id", "turn", "language", "messages", "flow", "flow_status", "awaiting",
    "citations", "actions", "handoff", "quick_replies",
}  # fmt: skip


def test_open_conversation_greets_in_the_asked_language_and_returns_a_token(
    api: TestClient,
) -> None:
    response = api.post("/v1/conversations", json={"language": "sv"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"conversation_id", "token", "language", "messages"}
    assert body["language"] == "sv"
    assert body["messages"][0]["role"] == "assistant"
    assert "Hej" in body["messages"][0]["text"]
    assert response.headers["location"] == f"/v1/conversations/{body['conversation_id']}"
    assert len(body["token"]) >= 40


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fi-FI,fi;q=0.9,en;q=0.8", "fi"),
        ("de-DE,de;q=0.9,nb;q=0.5,sv;q=0.4", "nb"),
        ("no", "nb"),
        ("en;q=0.2,da;q=0.8", "da"),
        ("de, fr", "en"),
        ("da;q=0", "en"),
        ("sv;q=banana", "en"),
        ("", "en"),
    ],
)
def test_language_picked_from_accept_language(header: str, expected: str) -> None:
    assert pick_language(header) == expected


def test_open_conversation_without_body_uses_accept_language(api: TestClient) -> None:
    response = api.post("/v1/conversations", headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert response.status_code == 201
    assert response.json()["language"] == "nb"
    default = api.post("/v1/conversations")
    assert default.json()["language"] == "en"
    assert (
        "Hi" in default.json()["messages"][0]["text"]
        or "Hello" in default.json()["messages"][0]["text"]
    )


def test_open_conversation_refuses_an_unknown_language(api: TestClient) -> None:
    body = assert_problem(
        api.post("/v1/conversations", json={"language": "de"}), 422, "validation_error"
    )
    assert body["errors"][0]["loc"] == ["body", "language"]


def test_redirect_flow_over_http_returns_turns_exactly_as_designed(api: TestClient) -> None:
    chat = open_conversation(api, "da")
    first = chat.say("hvor er RR361920561SE og kan den stilles ved døren")
    assert set(first) == TURN_FIELDS
    assert first["turn"] == 1 and first["language"] == "da"
    assert first["flow"] == "redirect_delivery" and first["flow_status"] == "active"
    assert first["awaiting"] == "postcode"
    assert {a["tool"] for a in first["actions"]} >= {"get_shipment_status"}
    assert all(set(a) == {"tool", "arguments", "ok", "result"} for a in first["actions"])
    assert all(m["role"] == "assistant" and m["text"] for m in first["messages"])

    second = chat.say("8000")
    assert second["awaiting"] == "confirmation"
    third = chat.say("ja")
    assert third["flow_status"] == "completed" and third["awaiting"] is None
    redirect = [a for a in third["actions"] if a["tool"] == "redirect_delivery"]
    assert redirect and redirect[0]["ok"] is True
    # The verification token the flow keeps is never on the wire.
    assert "_token" not in str(third) and "private" not in str(third)


def test_knowledge_turn_is_cited_and_unknown_question_abstains(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    answer = chat.say("do I have to pay customs and VAT on a parcel from the USA?")
    assert answer["citations"][0]["article_id"] == "customs-and-vat"
    assert answer["citations"][0]["language"] == "en"
    search = [a for a in answer["actions"] if a["tool"] == "search_knowledge"]
    assert search and search[0]["ok"] is True
    unknown = chat.say("what is the best recipe for cinnamon buns?")
    assert unknown["citations"] == []
    assert any(a["tool"] == "search_knowledge" and a["ok"] is False for a in unknown["actions"])


def test_transcript_and_state_after_turns(api: TestClient) -> None:
    chat = open_conversation(api, "da")
    chat.say("kan RR361920561SE stilles ved døren")
    state = chat.get()
    assert state["conversation_id"] == chat.conversation_id
    assert state["turn"] == 1 and state["language"] == "da"
    assert state["flow"] == "redirect_delivery" and state["flow_status"] == "active"
    assert state["awaiting"] == "postcode"
    roles = [m["role"] for m in state["messages"]]
    assert roles[0] == "assistant" and roles[1] == "customer"
    assert state["messages"][1] == {
        "role": "customer",
        "text": "kan RR361920561SE stilles ved døren",
        "turn": 1,
    }


def test_feedback_is_stored(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    response = api.post(
        f"{chat.path}/feedback",
        json={"rating": 4, "comment": " quick\x07 answer "},
        headers=chat.auth,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["rating"] == 4 and body["comment"] == "quick answer"
    engine = api.app.state.container.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            select(feedback.c.rating, feedback.c.comment).where(
                feedback.c.conversation_id == chat.conversation_id
            )
        ).all()
    assert [tuple(r) for r in rows] == [(4, "quick answer")]


@pytest.mark.parametrize(
    "body",
    [{"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4.5}, {}, {"rating": 3, "stars": 3},
     {"rating": 3, "comment": "x" * 2001}],
)  # fmt: skip
def test_feedback_refuses_bad_ratings(api: TestClient, body: dict[str, object]) -> None:
    chat = open_conversation(api, "en")
    assert_problem(
        api.post(f"{chat.path}/feedback", json=body, headers=chat.auth), 422, "validation_error"
    )


def test_token_is_stored_only_as_a_digest(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    engine = api.app.state.container.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = conn.execute(
            select(conversation_tokens.c.token_sha256).where(
                conversation_tokens.c.conversation_id == chat.conversation_id
            )
        ).scalar_one()
    assert stored == hashlib.sha256(chat.token.encode()).hexdigest()
    assert chat.token not in stored


@pytest.mark.parametrize("route", ["messages", "state", "feedback"])
def test_tokens_open_only_their_own_conversation(api: TestClient, route: str) -> None:
    mine = open_conversation(api, "en")
    other = open_conversation(api, "en")

    def call(headers: dict[str, str], path: str = mine.path) -> object:
        if route == "messages":
            return api.post(f"{path}/messages", json={"text": "hi"}, headers=headers)
        if route == "feedback":
            return api.post(f"{path}/feedback", json={"rating": 5}, headers=headers)
        return api.get(path, headers=headers)

    assert_problem(call({}), 401, "unauthenticated")
    assert_problem(call({"Authorization": "Bearer "}), 401, "unauthenticated")
    assert_problem(call({"Authorization": f"Basic {mine.token}"}), 401, "unauthenticated")
    assert_problem(call({"Authorization": "Bearer not-a-real-token"}), 401, "unauthenticated")
    assert_problem(call(other.auth), 403, "forbidden")
    # A valid token of another conversation on an id that does not exist: 403, never 404.
    assert_problem(call(other.auth, "/v1/conversations/c_doesnotexist"), 403, "forbidden")
    assert_problem(call({}, "/v1/conversations/c_doesnotexist"), 401, "unauthenticated")


def test_malformed_conversation_id_is_a_validation_problem(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    assert_problem(
        api.get("/v1/conversations/bad%20id!", headers=chat.auth), 422, "validation_error"
    )


def test_concurrent_messages_to_one_conversation_are_all_stored_in_order(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    results: list[int] = []
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            results.append(chat.say(f"hello number {i}")["turn"])
        except BaseException as exc:  # collected: a failing thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(results) == list(range(1, 9))
    state = chat.get()
    customer = [m for m in state["messages"] if m["role"] == "customer"]
    assert sorted(m["text"] for m in customer) == sorted(f"hello number {i}" for i in range(8))
    assert state["turn"] == 8


def test_many_conversations_at_once(api: TestClient) -> None:
    chats: list[Conversation] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            chat = open_conversation(api, "sv")
            chat.say("var är RR361920561SE")
            chats.append(chat)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(chats) == 12
    assert len({c.conversation_id for c in chats}) == 12
    assert all(c.get()["turn"] == 1 for c in chats)
