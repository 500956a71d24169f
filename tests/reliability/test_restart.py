"""A conversation survives a crash of the server (SIGKILL) and a message replayed after the
restart never repeats a side effect.

The real `budbringer serve` runs as a subprocess on a copy of a small data dir; it is killed
while a redirect waits for the customer's confirmation and started again on the same data dir.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.conftest import ServerFactory

TRACKING_ID = "RR361920561SE"


class Customer:
    def __init__(self, http: httpx.Client, language: str) -> None:
        response = http.post("/v1/conversations", json={"language": language})
        assert response.status_code == 201, response.text
        body = response.json()
        self.http = http
        self.path = f"/v1/conversations/{body['conversation_id']}"
        self.headers = {"Authorization": f"Bearer {body['token']}"}

    def say(self, text: str) -> dict[str, Any]:
        response = self.http.post(
            f"{self.path}/messages", json={"text": text}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        turn: dict[str, Any] = response.json()
        return turn

    def transcript(self) -> dict[str, Any]:
        response = self.http.get(self.path, headers=self.headers)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state


def redirects_in_store(data_dir: Path, tracking_id: str) -> int:
    with sqlite3.connect(data_dir / "budbringer.db") as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM carrier_redirects WHERE tracking_id = ?", (tracking_id,)
        ).fetchone()
    return int(count)


def applied_redirects(turn: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in turn["actions"] if a["tool"] == "redirect_delivery" and a["ok"]]


def test_confirmation_survives_sigkill_and_a_replayed_yes_redirects_once(
    make_server: ServerFactory,
) -> None:
    server = make_server().start()
    data_dir = Path(server.settings["data_dir"])
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        customer = Customer(http, "da")
        assert customer.say(f"kan {TRACKING_ID} stilles ved døren")["awaiting"] == "postcode"
        asked = customer.say("8000")
        assert (asked["flow"], asked["awaiting"]) == ("redirect_delivery", "confirmation")

        server.kill()
        server.start()

        state = customer.transcript()
        assert (state["flow"], state["flow_status"], state["awaiting"]) == (
            "redirect_delivery",
            "active",
            "confirmation",
        ), "the conversation continues at the confirmation question"
        assert state["turn"] == 2
        assert redirects_in_store(data_dir, TRACKING_ID) == 0, "nothing applied before the yes"

        done = customer.say("ja")
        assert (done["flow"], done["flow_status"]) == ("redirect_delivery", "completed")
        assert [a["arguments"]["option_id"] for a in applied_redirects(done)] == ["door"]

        # The customer's app retries the same message (it never saw the answer).
        replayed = customer.say("ja")
        assert applied_redirects(replayed) == []
        assert replayed["flow_status"] != "active" or replayed["awaiting"] != "confirmation"

        transcript = customer.transcript()["messages"]
    server.stop()
    assert redirects_in_store(data_dir, TRACKING_ID) == 1, "exactly one redirect in the store"
    customer_lines = [(m["turn"], m["text"]) for m in transcript if m["role"] == "customer"]
    assert customer_lines == [
        (1, f"kan {TRACKING_ID} stilles ved døren"),
        (2, "8000"),
        (3, "ja"),
        (4, "ja"),
    ], "no turn lost or repeated across the restart"
    turns = [m["turn"] for m in transcript]
    assert turns == sorted(turns)
