"""Rate limits (429 + Retry-After), CORS, and the two API-key roles."""

from __future__ import annotations

from typing import Any

import pytest

from api.limits import RateLimits
from api.security import KeyRing
from assistant.errors import RateLimited
from assistant.settings import Settings
from tests.api.conftest import ADMIN_KEY, AGENT_KEY, assert_problem, open_conversation


def test_per_conversation_limit_answers_429_with_retry_after(make_client: Any) -> None:
    with make_client(ready=False, rate_limit_conversation="3/minute") as client:
        chat = open_conversation(client, "en")
        other = open_conversation(client, "en")
        for _ in range(3):
            ok = client.post(f"{chat.path}/feedback", json={"rating": 5}, headers=chat.auth)
            assert ok.status_code == 201
        refused = client.post(f"{chat.path}/feedback", json={"rating": 5}, headers=chat.auth)
        assert_problem(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Another conversation from the same address is not affected.
        assert (
            client.post(
                f"{other.path}/feedback", json={"rating": 5}, headers=other.auth
            ).status_code
            == 201
        )


def test_per_client_limit_covers_every_v1_route_but_not_operations(make_client: Any) -> None:
    with make_client(ready=False, rate_limit_client="4/minute") as client:
        statuses = [client.post("/v1/conversations").status_code for _ in range(4)]
        assert statuses == [201] * 4
        refused = assert_problem(
            client.get("/v1/knowledge/articles", headers={"X-API-Key": ADMIN_KEY}),
            429,
            "rate_limited",
        )
        assert "address" in refused["detail"]
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_rate_limiter_counts_a_moving_window() -> None:
    limits = RateLimits("2/second", "100/second")
    limits.conversation("a")
    limits.conversation("a")
    with pytest.raises(RateLimited) as refused:
        limits.conversation("a")
    assert refused.value.retry_after_s == 1
    limits.conversation("b")
    limits.close()


def test_cors_allows_only_configured_origins(make_client: Any) -> None:
    with make_client(
        ready=False, cors_origins="https://shop.example,https://www.example"
    ) as client:
        preflight = client.options(
            "/v1/conversations",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        created = client.post("/v1/conversations", headers={"Origin": "https://shop.example"})
        assert created.headers["access-control-allow-origin"] == "https://shop.example"
        assert "x-request-id" in created.headers["access-control-expose-headers"].lower()
        foreign = client.post("/v1/conversations", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


def test_no_cors_headers_by_default(api: Any) -> None:
    response = api.post("/v1/conversations", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in response.headers


ADMIN_ROUTES = [
    ("get", "/v1/knowledge/articles", None),
    ("get", "/v1/knowledge/jobs/j_unknown", None),
    ("post", "/v1/knowledge/reindex", {"check_only": True}),
    ("post", "/v1/knowledge/rollback", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_an_admin_key(api: Any, method: str, path: str, body: Any) -> None:
    call = getattr(api, method)
    kwargs = {"json": body} if body is not None else {}
    assert_problem(call(path, **kwargs), 401, "unauthenticated")
    assert_problem(call(path, headers={"X-API-Key": "guess"}, **kwargs), 401, "unauthenticated")
    assert_problem(call(path, headers={"X-API-Key": AGENT_KEY}, **kwargs), 403, "forbidden")


def test_prod_without_keys_keeps_role_routes_closed(make_client: Any) -> None:
    with make_client(ready=False, env="prod", agent_keys=[], admin_keys=[]) as client:
        for key in (None, "", "dev-admin-anything", AGENT_KEY, ADMIN_KEY):
            headers = {"X-API-Key": key} if key is not None else {}
            assert_problem(
                client.get("/v1/knowledge/articles", headers=headers), 401, "unauthenticated"
            )


def test_dev_without_keys_generates_one_per_role_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="api.security"):
        ring = KeyRing.from_settings(Settings(env="dev", agent_keys=[], admin_keys=[]))
    assert ring.generated
    logged = {r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records}
    agent = next(k for k in logged if k.startswith("dev-agent-"))
    admin = next(k for k in logged if k.startswith("dev-admin-"))
    assert ring.role_of(agent) == "agent" and ring.role_of(admin) == "admin"
    assert ring.role_of("dev-agent-") is None
    assert not KeyRing.from_settings(Settings(env="prod")).agent


def test_configured_keys_from_the_environment_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDBRINGER_ADMIN_KEYS", "one, two")
    monkeypatch.setenv("BUDBRINGER_AGENT_KEYS", "three")
    ring = KeyRing.from_settings(Settings())
    assert not ring.generated
    assert ring.role_of("one") == ring.role_of("two") == "admin"
    assert ring.role_of("three") == "agent"
    assert ring.role_of("one, two") is None


def test_memory_limiter_starts_no_thread_per_hit_and_sweeps_expired_entries() -> None:
    """Regression: `limits`' MemoryStorage started a Timer thread on nearly every hit (1-3 ms
    each on the event loop); the swept storage uses one sweeper thread instead."""
    import threading
    import time

    from api.limits import SweptMemoryStorage

    limits = RateLimits("1000/second", "1000/second")
    limits.storage.close()  # type: ignore[union-attr]
    limits.storage = SweptMemoryStorage(sweep_every_s=0.05)
    limits.limiter = type(limits.limiter)(limits.storage)
    before = threading.active_count()
    for i in range(50):
        limits.conversation(f"c{i % 5}")
        limits.client("127.0.0.1")
    assert threading.active_count() == before
    assert limits.storage.events  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while limits.storage.events and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert not limits.storage.events and not limits.storage.locks  # type: ignore[attr-defined]
    limits.close()
