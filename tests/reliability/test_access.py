"""Who may call what: every route of the app x every kind of credential -> the expected status.

The matrix is checked against `app.routes`: a route without an entry fails the test, so a new
route cannot be forgotten, and an entry without a route fails too. Credentials:

- `none`: nothing;
- `token`: the bearer token of the conversation in the path (the right one for customers);
- `other`: the bearer token of another, live conversation;
- `agent` / `admin`: an API key of that role in `X-API-Key`.

Every refusal must be a problem response with the matching code, and a refused request must
change nothing (checked for the side-effecting routes). Then the verification lock-out against
postcode guessing, over the API, with the container's frozen clock moved past the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_KEY, AGENT_KEY, Conversation, assert_problem, open_conversation

CREDENTIALS = ("none", "token", "other", "agent", "admin")
TRACKING_ID = "RR361920561SE"
DELIVERED = "00752604106995796886"


@dataclass
class World:
    """Fresh resources for one row of the matrix: two conversations, and what the route needs."""

    client: TestClient
    mine: Conversation
    other: Conversation
    handoff_id: str = ""
    case_id: str = ""
    job_id: str = ""

    def headers(self, credential: str) -> dict[str, str]:
        return {
            "none": {},
            "token": self.mine.auth,
            "other": self.other.auth,
            "agent": {"X-API-Key": AGENT_KEY},
            "admin": {"X-API-Key": ADMIN_KEY},
        }[credential]


def with_handoff(world: World) -> None:
    turn = world.mine.say("jeg vil gerne tale med et menneske")
    assert (turn["handoff"] or {}).get("handoff_id"), turn
    world.handoff_id = turn["handoff"]["handoff_id"]


def with_claimed_handoff(world: World) -> None:
    with_handoff(world)
    claimed = world.client.post(
        f"/v1/handoffs/{world.handoff_id}/claim", headers={"X-API-Key": AGENT_KEY}
    )
    assert claimed.status_code == 200, claimed.text


def with_case(world: World) -> None:
    for text in (
        f"min pakke {DELIVERED} er kommet i stykker",
        "kassen var knust",
        "ida@example.com",
        "ja",
    ):
        turn = world.mine.say(text)
    created = [a for a in turn["actions"] if a["tool"] == "create_case" and a["ok"]]
    assert created, turn
    world.case_id = created[0]["result"]["case_id"]


def with_job(world: World) -> None:
    started = world.client.post(
        "/v1/knowledge/reindex", json={"check_only": True}, headers={"X-API-Key": ADMIN_KEY}
    )
    assert started.status_code == 202, started.text
    world.job_id = started.json()["job_id"]


PUBLIC = dict.fromkeys(CREDENTIALS, 200)
CUSTOMER = {"none": 401, "token": 200, "other": 403, "agent": 401, "admin": 401}
# The agent API answers a conversation token with 403 (the wrong kind of credential, said so);
# the admin API treats it as no key at all (401). Both refuse.
AGENT = {"none": 401, "token": 403, "other": 403, "agent": 200, "admin": 403}
ADMIN = {"none": 401, "token": 401, "other": 401, "agent": 403, "admin": 200}


@dataclass(frozen=True)
class Row:
    expected: dict[str, int]
    path: str = ""  # the concrete path; `{cid}`, `{hid}`, `{case}`, `{job}` are filled in
    body: Any = None
    prepare: Callable[[World], None] | None = None
    query: dict[str, Any] | None = None

    def allowed(self, status: int) -> Row:
        return Row(
            {c: (status if s in (200, 201) else s) for c, s in self.expected.items()},
            self.path,
            self.body,
            self.prepare,
            self.query,
        )


MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): Row(PUBLIC),
    ("GET", "/readyz"): Row(PUBLIC),
    ("GET", "/metrics"): Row(PUBLIC),
    ("GET", "/openapi.json"): Row(PUBLIC),
    ("GET", "/docs"): Row(PUBLIC),
    ("GET", "/docs/oauth2-redirect"): Row(PUBLIC),
    ("GET", "/redoc"): Row(PUBLIC),
    ("GET", "/"): Row(PUBLIC),
    ("GET", "/admin"): Row(PUBLIC),
    ("GET", "/agent"): Row(PUBLIC),
    ("GET", "/widget.js"): Row(PUBLIC),
    ("GET", "/static/{name}"): Row(PUBLIC, "/static/widget.css"),
    ("GET", "/help/{language}"): Row(PUBLIC, "/help/da"),
    ("GET", "/help/{language}/{article_id}"): Row(PUBLIC, "/help/da/customs-and-vat"),
    # Anyone may open a conversation: the token it returns is the credential.
    ("POST", "/v1/conversations"): Row(dict.fromkeys(CREDENTIALS, 201), body={"language": "da"}),
    ("POST", "/v1/conversations/{conversation_id}/messages"): Row(
        CUSTOMER, "/v1/conversations/{cid}/messages", {"text": "hej"}
    ),
    ("GET", "/v1/conversations/{conversation_id}"): Row(CUSTOMER, "/v1/conversations/{cid}"),
    ("POST", "/v1/conversations/{conversation_id}/feedback"): Row(
        CUSTOMER, "/v1/conversations/{cid}/feedback", {"rating": 5}
    ).allowed(201),
    ("GET", "/v1/conversations/{conversation_id}/events"): Row(
        CUSTOMER, "/v1/conversations/{cid}/events", query={"wait": 0.1}
    ),
    ("DELETE", "/v1/conversations/{conversation_id}"): Row(
        CUSTOMER, "/v1/conversations/{cid}"
    ).allowed(204),
    ("GET", "/v1/handoffs"): Row(AGENT, prepare=with_handoff),
    ("GET", "/v1/handoffs/{handoff_id}"): Row(AGENT, "/v1/handoffs/{hid}", prepare=with_handoff),
    ("POST", "/v1/handoffs/{handoff_id}/claim"): Row(
        AGENT, "/v1/handoffs/{hid}/claim", prepare=with_handoff
    ),
    ("POST", "/v1/handoffs/{handoff_id}/messages"): Row(
        AGENT,
        "/v1/handoffs/{hid}/messages",
        {"text": "Hej, jeg hjælper dig."},
        with_claimed_handoff,
    ).allowed(201),
    ("POST", "/v1/handoffs/{handoff_id}/resolve"): Row(
        AGENT, "/v1/handoffs/{hid}/resolve", {"note": "klaret"}, with_claimed_handoff
    ),
    ("GET", "/v1/cases"): Row(AGENT, prepare=with_case),
    ("GET", "/v1/cases/{case_id}"): Row(AGENT, "/v1/cases/{case}", prepare=with_case),
    ("GET", "/v1/knowledge/articles"): Row(ADMIN),
    ("POST", "/v1/knowledge/reindex"): Row(ADMIN, body={"check_only": True}).allowed(202),
    ("GET", "/v1/knowledge/jobs/{job_id}"): Row(
        ADMIN, "/v1/knowledge/jobs/{job}", prepare=with_job
    ),
    # Only one index version exists, so an admin's rollback is a conflict: allowed, refused.
    ("POST", "/v1/knowledge/rollback"): Row(ADMIN).allowed(409),
}


def app_routes(client: TestClient) -> set[tuple[str, str]]:
    routes = set()
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        for method in context.methods or ():
            if method != "HEAD":
                routes.add((method, str(context.path)))
    return routes


def test_every_route_has_an_entry_in_the_matrix(app: TestClient) -> None:
    routes = app_routes(app)
    assert routes - MATRIX.keys() == set(), "routes with no access rule: add them to MATRIX"
    assert MATRIX.keys() - routes == set(), "rules for routes that no longer exist"


CASES = [
    pytest.param(method, template, credential, id=f"{method} {template} as {credential}")
    for (method, template) in MATRIX
    for credential in CREDENTIALS
]


@pytest.mark.parametrize(("method", "template", "credential"), CASES)
def test_access(app: TestClient, method: str, template: str, credential: str) -> None:
    row = MATRIX[(method, template)]
    world = World(app, open_conversation(app, "da"), open_conversation(app, "da"))
    if row.prepare is not None:
        row.prepare(world)
    path = (row.path or template).format(
        cid=world.mine.conversation_id, hid=world.handoff_id, case=world.case_id, job=world.job_id
    )
    turns_before = world.mine.get()["turn"]
    response = app.request(
        method,
        path,
        json=row.body,
        params=row.query,
        headers=world.headers(credential),
    )
    expected = row.expected[credential]
    if expected in (401, 403):
        assert_problem(response, expected, "unauthenticated" if expected == 401 else "forbidden")
        # A refused request changed nothing in the conversation it named.
        assert world.mine.get()["turn"] == turns_before
    else:
        assert response.status_code == expected, response.text
    if row.prepare is with_case and expected == 200:
        assert world.case_id in response.text, "the agent sees the case"
    if world.handoff_id:
        # Keep the queue short: a long wait would turn the next handoff into a callback offer.
        app.post(f"/v1/handoffs/{world.handoff_id}/resolve", headers={"X-API-Key": AGENT_KEY})


def test_a_token_opens_its_own_conversation_only_after_deletion_nothing(app: TestClient) -> None:
    """After DELETE the token is unknown (401), and the other conversation is untouched."""
    mine, other = open_conversation(app, "en"), open_conversation(app, "en")
    assert app.delete(mine.path, headers=mine.auth).status_code == 204
    for method, suffix in (("GET", ""), ("POST", "/messages"), ("DELETE", "")):
        body = {"text": "hello"} if suffix else None
        response = app.request(method, mine.path + suffix, json=body, headers=mine.auth)
        assert_problem(response, 401, "unauthenticated")
    # Another conversation's token cannot delete (nor read) the deleted one's id either.
    assert_problem(app.delete(mine.path, headers=other.auth), 403, "forbidden")
    assert other.get()["turn"] == 0


def test_postcode_guessing_locks_verification_until_the_lock_expires(app: TestClient) -> None:
    container = app.app.state.container  # type: ignore[attr-defined]
    settings = container.settings
    clock = container.clock
    started_at = clock.now()
    customer = open_conversation(app, "da")
    try:
        assert customer.say(f"kan {TRACKING_ID} stilles ved døren")["awaiting"] == "postcode"
        checks = []
        for guess in ("1000", "2000", "3000", "8000"):
            turn = customer.say(guess)
            checks += [a for a in turn["actions"] if a["tool"] == "verify_recipient"]
        reasons = [a["result"].get("reason") if not a["ok"] else "ok" for a in checks]
        attempts = settings.verify_max_attempts
        assert reasons[:attempts] == ["postcode_mismatch"] * attempts, reasons
        assert "ok" not in reasons, f"the right postcode was accepted while locked: {reasons}"
        assert reasons[attempts:] in ([], ["verification_locked"]), reasons
        # Another conversation about the same parcel is locked out too (the lock is the parcel's).
        second = open_conversation(app, "da")
        second.say(f"kan {TRACKING_ID} stilles ved døren")
        turn = second.say("8000")
        checks = [a for a in turn["actions"] if a["tool"] == "verify_recipient"]
        assert checks and not checks[0]["ok"], turn
        assert checks[0]["result"]["reason"] == "verification_locked"

        clock.advance(timedelta(minutes=settings.verify_lock_minutes, seconds=1))
        third = open_conversation(app, "da")
        third.say(f"kan {TRACKING_ID} stilles ved døren")
        turn = third.say("8000")
        assert turn["awaiting"] == "confirmation", turn
        assert [a["ok"] for a in turn["actions"] if a["tool"] == "verify_recipient"] == [True]
    finally:
        clock.set(started_at)
