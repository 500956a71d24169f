"""Two API workers share one PostgreSQL database and serve one conversation between them.

Each worker is a real `budbringer serve` subprocess with its own data dir (Qdrant Edge is one
process per folder, so each has its own copy of the small index); conversation state, tokens,
cases and redirects live in PostgreSQL. Skipped cleanly when PostgreSQL is not on 127.0.0.1.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL
from tests.reliability.conftest import ServerFactory

pytestmark = pytest.mark.postgres

TRACKING_ID = "RR361920561SE"
DELIVERED = "00752604106995796886"  # delivered: a complaint about damage can be filed


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """An empty database of its own, so the workers create the schema themselves, at once."""
    name = f"budbringer_2w_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def workers(make_server: ServerFactory, fresh_database: str) -> Iterator[list[httpx.Client]]:
    servers = [make_server(database_url=fresh_database) for _ in range(2)]
    # Started together: both create the schema in the empty database at the same moment.
    errors: list[BaseException] = []

    def start(server: Any) -> None:
        try:
            server.start()
        except BaseException as exc:  # reported below, with the server's log
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    clients = [httpx.Client(base_url=s.base_url, timeout=60) for s in servers]
    yield clients
    for client in clients:
        client.close()


def say(http: httpx.Client, path: str, token: str, text: str) -> dict[str, Any]:
    response = http.post(
        f"{path}/messages", json={"text": text}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_two_workers_serve_one_conversation_alternately_and_concurrently(
    workers: list[httpx.Client], fresh_database: str
) -> None:
    database_url = fresh_database
    a = workers[0]
    created = a.post("/v1/conversations", json={"language": "da"})
    assert created.status_code == 201, created.text
    cid, token = created.json()["conversation_id"], created.json()["token"]
    path = f"/v1/conversations/{cid}"
    script = [
        (f"kan {TRACKING_ID} stilles ved døren", "postcode"),
        ("8000", "confirmation"),
        ("ja", None),
        (f"min pakke {DELIVERED} er kommet i stykker", "description"),
        ("kassen var knust og vasen er i stykker", "contact"),
        ("ida@example.com", "confirmation"),
        ("ja", None),
    ]
    # Turn N to worker A, turn N+1 to worker B, ...
    turns = []
    for number, (text, awaiting) in enumerate(script, start=1):
        turn = say(workers[number % 2], path, token, text)
        assert turn["turn"] == number
        if awaiting is not None:
            assert turn["awaiting"] == awaiting, turn
        turns.append(turn)
    assert turns[2]["flow_status"] == turns[6]["flow_status"] == "completed"
    assert [x["tool"] for x in turns[2]["actions"] if x["ok"]] == ["redirect_delivery"]
    assert [x["tool"] for x in turns[6]["actions"] if x["ok"]] == ["create_case"]

    # Now both workers at once: twelve messages, six to each, sent concurrently.
    texts = [f"tak nummer {n}" for n in range(12)]
    before = len(script)
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda n: say(workers[n % 2], path, token, texts[n]), range(12)))

    views = []
    for http in workers:
        response = http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        views.append(response.json())
    assert views[0] == views[1], "both workers see the same conversation"
    messages = views[0]["messages"]
    customer = [m for m in messages if m["role"] == "customer"]
    assert [m["text"] for m in customer[:before]] == [text for text, _ in script]
    assert sorted(m["text"] for m in customer[before:]) == sorted(texts), "no concurrent turn lost"
    total = before + len(texts)
    assert [m["turn"] for m in customer] == list(range(1, total + 1)), "each turn once, in order"
    assert views[0]["turn"] == total
    assert [m["turn"] for m in messages] == sorted(m["turn"] for m in messages)

    # One redirect and one case in the shared database, whichever worker took the yes.
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        for table in ("carrier_redirects", "carrier_cases"):
            row = conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE idempotency_key LIKE %s", (f"{cid}:%",)
            ).fetchone()
            assert row is not None and row[0] == 1, table
