"""Fuzzing the HTTP API from its own OpenAPI schema (schemathesis, in-process).

Every operation in `/openapi.json` gets generated requests, valid and invalid (positive and
negative modes), with the right credential filled in so the fuzzer gets past authentication:
a fresh conversation and its token for the customer routes, an agent key for the agent API,
an admin key for the content owners' API. Each response must be no 5xx, carry a declared status
code, a declared content type and headers, and match the declared schema; invalid data must be
rejected. The run is bounded (a few examples per operation, derandomised, so CI is
reproducible) to stay well under a minute.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from assistant.settings import Settings
from benchmarks._server import copy_topics
from tests.api.conftest import (
    ADMIN_KEY,
    AGENT_KEY,
    NOW,
    TOPICS,
    Template,
    open_conversation,
    wait_ready,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# schemathesis collects operations at import time, and its lazy `from_fixture` loader does not
# work with pytest 9 (it reads `Function._nodeid`). So the app object is created here, with no
# side effect (its lifespan has not run), its schema read from `app.openapi()`; the `fuzzed_app`
# fixture fills the data dir from the template and runs the lifespan with a TestClient, and the
# cases are sent through an un-entered schemathesis ASGI session, which calls the app without
# starting a second lifespan (a second container on the same data dir would not open).
_ROOT = Path(tempfile.mkdtemp(prefix="budbringer-fuzz-"))
atexit.register(shutil.rmtree, _ROOT, True)  # also when the test was not selected
_DATA = _ROOT / "data"
FUZZ_APP = create_app(
    Settings(
        data_dir=_DATA,
        knowledge_dir=copy_topics(_ROOT / "content", TOPICS),
        now=NOW,
        agent_keys=[AGENT_KEY],
        admin_keys=[ADMIN_KEY],
        rate_limit_conversation="100000/minute",
        rate_limit_client="1000000/minute",
    )
)
schema = schemathesis.openapi.from_dict(FUZZ_APP.openapi())
schema.app = FUZZ_APP
# An invalid body may also be too large (413) or, in principle, too slow (408): both reject it.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "408", "413"]


@pytest.fixture(scope="module")
def fuzzed_app(reliability_template: Template) -> Iterator[TestClient]:
    shutil.copytree(reliability_template.data_dir, _DATA)
    try:
        with TestClient(FUZZ_APP, raise_server_exceptions=False) as client:
            wait_ready(client)
            yield client
    finally:
        shutil.rmtree(_ROOT, ignore_errors=True)


@pytest.fixture(scope="module")
def session(fuzzed_app: TestClient) -> Iterator[ASGIClient]:
    client = ASGIClient(FUZZ_APP)  # type: ignore[arg-type]
    yield client
    client.close()


def credential_for(case: schemathesis.Case[Any], app: TestClient) -> dict[str, str]:
    path = case.operation.path
    if path.startswith(("/v1/handoffs", "/v1/cases")):
        return {"X-API-Key": AGENT_KEY}
    if path.startswith("/v1/knowledge"):
        return {"X-API-Key": ADMIN_KEY}
    if "{conversation_id}" in path:
        conversation = open_conversation(app, "en")
        generated = str((case.path_parameters or {}).get("conversation_id", ""))
        if VALID_ID.match(generated):
            # A well-formed id is replaced by a live one, so the request reaches the route;
            # a malformed one is kept, so its rejection is tested.
            case.path_parameters = {
                **(case.path_parameters or {}),
                "conversation_id": conversation.conversation_id,
            }
        return conversation.auth
    return {}


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case[Any], fuzzed_app: TestClient, session: ASGIClient
) -> None:
    headers = credential_for(case, fuzzed_app)
    case.headers = CaseInsensitiveDict({**dict(case.headers or {}), **headers})
    if case.operation.path.endswith("/events"):
        # The live stream stays open for `wait` seconds: keep it short.
        case.query = {**(case.query or {}), "wait": 0.1}
    case.call_and_validate(session=session, checks=CHECKS)
