"""Operations: health, readiness, Prometheus metrics, request ids, JSON logs with PII masked, OpenAPI."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.logs import configure_logging
from tests.api.conftest import assert_problem, open_conversation


def sample(client: TestClient, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_health_and_readiness(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready", "detail": None}


def test_not_ready_when_the_first_index_build_finds_nothing(
    make_client: Any, tmp_path: Any
) -> None:
    empty = tmp_path / "empty-content"
    empty.mkdir()
    # A data dir of its own: no index yet, so start-up tries to build one from no content.
    with make_client(ready=False, content_dir=empty, data_dir=tmp_path / "fresh") as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").json()["detail"] == "building the help-centre index":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "not_ready"
        assert "no valid articles" in response.json()["detail"]


def test_metrics_count_turns_flows_abstentions_handoffs_and_errors(api: TestClient) -> None:
    turns_before = sample(api, "budbringer_turn_seconds_count", mode="json")
    started = sample(api, "budbringer_flows_started_total", flow="redirect_delivery")
    completed = sample(
        api, "budbringer_flows_ended_total", flow="redirect_delivery", status="completed"
    )
    abstained = sample(api, "budbringer_abstentions_total", language="en")
    handoffs = sample(api, "budbringer_handoffs_total")
    forbidden = sample(api, "budbringer_errors_total", code="unauthenticated")

    chat = open_conversation(api, "da")
    chat.say("kan RR361920561SE stilles ved døren")
    chat.say("8000")
    chat.say("ja")
    english = open_conversation(api, "en")
    english.say("what is the best recipe for cinnamon buns?")
    english.say("I want to talk to a human")
    api.get(chat.path)  # no token

    assert sample(api, "budbringer_turn_seconds_count", mode="json") == turns_before + 5
    assert sample(api, "budbringer_flows_started_total", flow="redirect_delivery") == started + 1
    assert (
        sample(api, "budbringer_flows_ended_total", flow="redirect_delivery", status="completed")
        == completed + 1
    )
    assert sample(api, "budbringer_abstentions_total", language="en") == abstained + 1
    # Whether this turn queued a handoff is the engine's call (`TurnResult.handoff_started`);
    # the handoff tests check the counter by reason. Here: the family is exported.
    assert sum_handoffs(api) >= handoffs
    assert "# TYPE budbringer_handoffs_total counter" in api.get("/metrics").text
    assert sample(api, "budbringer_errors_total", code="unauthenticated") == forbidden + 1
    text = api.get("/metrics").text
    assert 'budbringer_turn_seconds_bucket{le="0.045",mode="json"}' in text
    assert (
        'budbringer_http_requests_total{method="POST",route="/v1/conversations/{conversation_id}/messages",status="200"}'
        in text
    )


def sum_handoffs(client: TestClient) -> float:
    total = 0.0
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == "budbringer_handoffs_total":
                total += s.value
    return total


def test_request_id_is_echoed_or_made(api: TestClient) -> None:
    echoed = api.get("/healthz", headers={"X-Request-ID": "abc-123.def"})
    assert echoed.headers["x-request-id"] == "abc-123.def"
    made = api.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    # A request id that could break a log line is replaced, not echoed.
    hostile = api.get("/healthz", headers={"X-Request-ID": "x" * 200})
    assert hostile.headers["x-request-id"] != "x" * 200
    problem = api.get("/v1/nothing", headers={"X-Request-ID": "rid-404"})
    assert problem.headers["x-request-id"] == "rid-404"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_access_lines_are_json_with_request_id_and_no_text_or_token(
    api: TestClient, json_log: io.StringIO
) -> None:
    chat = open_conversation(api, "en")
    chat.client.post(
        f"{chat.path}/messages",
        json={"text": "my email is jane.doe@example.com, call +45 20 12 34 56"},
        headers={**chat.auth, "X-Request-ID": "rid-logs-1"},
    )
    records = lines(json_log)
    access = [
        r
        for r in records
        if r.get("logger") == "budbringer.access" and r.get("request_id") == "rid-logs-1"
    ]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "POST" and line["status"] == 200
    assert line["path"] == "/v1/conversations/{conversation_id}/messages"
    assert line["duration_ms"] > 0 and line["level"] == "INFO"
    everything = json_log.getvalue()
    assert "jane.doe@example.com" not in everything and "20 12 34 56" not in everything
    assert chat.token not in everything


def test_personal_data_is_masked_in_any_log_line(json_log: io.StringIO) -> None:
    log = logging.getLogger("budbringer.test")
    log.warning("customer %s wrote from %s", "jane.doe@example.com", "+46 70 123 45 67",
                extra={"note": "cpr 010190-1234"})  # fmt: skip
    try:
        raise ValueError("card 4111 1111 1111 1111 refused")
    except ValueError:
        log.exception("payment failed")
    records = lines(json_log)
    text = json_log.getvalue()
    assert "jane.doe@example.com" not in text and "123 45 67" not in text
    assert "4111 1111 1111 1111" not in text and "010190-1234" not in text
    assert "[email]" in records[0]["message"] and "[phone]" in records[0]["message"]
    assert records[0]["note"] == "cpr [national_id]"
    assert "[card]" in records[1]["exc_info"]


def test_openapi_documents_every_route_with_problems_and_examples(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/v1/conversations",
        "/v1/conversations/{conversation_id}",
        "/v1/conversations/{conversation_id}/messages",
        "/v1/conversations/{conversation_id}/feedback",
        "/v1/knowledge/articles",
        "/v1/knowledge/reindex",
        "/v1/knowledge/jobs/{job_id}",
        "/v1/knowledge/rollback",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    message = paths["/v1/conversations/{conversation_id}/messages"]["post"]
    for status in ("400", "401", "403", "413", "415", "422", "429"):
        content = message["responses"][status]["content"]
        assert list(content) == ["application/problem+json"], status
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    assert "text/event-stream" in message["responses"]["200"]["content"]
    assert "Retry-After" in message["responses"]["429"]["headers"]
    reindex = paths["/v1/knowledge/reindex"]["post"]
    assert {"202", "401", "403", "409"} <= set(reindex["responses"])
    for name, component in schema["components"]["schemas"].items():
        if name.startswith(("HTTPValidationError", "ValidationError")):
            continue
        assert component.get("examples"), f"{name} has no example"
    assert schema["components"]["schemas"]["MessageCreate"]["additionalProperties"] is False


def test_readiness_and_problem_shapes_for_forbidden(api: TestClient) -> None:
    chat = open_conversation(api, "en")
    other = open_conversation(api, "en")
    body = assert_problem(api.get(chat.path, headers=other.auth), 403, "forbidden")
    assert body["instance"] == chat.path


def test_serve_refuses_an_unknown_log_level() -> None:
    from typer.testing import CliRunner

    from api.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", "--log-level", "loud"])
    assert result.exit_code == 2
    assert "unknown log level" in result.output


def test_unmatched_paths_are_logged_raw_but_counted_as_unmatched(
    api: TestClient, json_log: io.StringIO
) -> None:
    api.get("/some/random/path", headers={"X-Request-ID": "rid-unmatched"})
    line = next(r for r in lines(json_log) if r.get("request_id") == "rid-unmatched")
    assert line["path"] == "/some/random/path" and line["status"] == 404
    assert 'route="/some/random/path"' not in api.get("/metrics").text
    assert 'route="unmatched"' in api.get("/metrics").text
