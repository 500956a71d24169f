"""Content owners' routes: article listing with missing translations, reindex jobs, rollback."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ADMIN_KEY, LANGUAGES, assert_problem, copy_topics, open_conversation

ADMIN = {"X-API-Key": ADMIN_KEY}


def wait_job(client: Any, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/knowledge/jobs/{job_id}", headers=ADMIN).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the reindex job did not finish")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """The template's topics, plus `prohibited-items` in every language but Norwegian."""
    root = copy_topics(tmp_path / "content")
    for language in LANGUAGES:
        if language != "nb":
            source = Path(__file__).resolve().parents[2] / "knowledge" / "content" / language
            shutil.copy(source / "prohibited-items.md", root / language / "prohibited-items.md")
    (root / "en" / "broken.md").write_text("no front matter here\n", encoding="utf-8")
    return root


def test_articles_list_every_article_and_the_missing_languages(
    make_client: Any, content: Path
) -> None:
    with make_client(ready=False, content_dir=content) as client:
        response = client.get("/v1/knowledge/articles", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    ids = {(a["article_id"], a["language"]) for a in body["articles"]}
    assert ("customs-and-vat", "fi") in ids and ("prohibited-items", "da") in ids
    assert ("prohibited-items", "nb") not in ids
    topics = {t["article_id"]: t for t in body["topics"]}
    assert topics["prohibited-items"]["missing"] == ["nb"]
    assert topics["customs-and-vat"]["missing"] == []
    article = next(
        a
        for a in body["articles"]
        if a["article_id"] == "customs-and-vat" and a["language"] == "da"
    )
    assert article["path"] == "da/customs-and-vat.md"
    assert len(article["updated"]) >= 10 and article["title"]
    assert body["skipped"][0]["path"] == "en/broken.md"


def test_reindex_job_runs_in_the_background_and_switches_the_live_version(
    make_client: Any, content: Path
) -> None:
    with make_client(content_dir=content) as client:
        before = client.app.state.container.reindexer.store.live_version()
        chat = open_conversation(client, "en")
        accepted = client.post("/v1/knowledge/reindex", json={}, headers=ADMIN)
        assert accepted.status_code == 202
        job_id = accepted.json()["job_id"]
        job = wait_job(client, job_id)
        assert job["status"] == "succeeded", job
        assert job["report"]["switched"] is True
        assert sorted(job["report"]["added"]) == [
            f"{lang}/prohibited-items" for lang in sorted(set(LANGUAGES) - {"nb"})
        ]
        assert (
            job["progress"]["stage"] == "switch"
            and job["progress"]["done"] == job["progress"]["total"]
        )
        assert job["started_at"] and job["finished_at"] and job["error"] is None
        after = client.app.state.container.reindexer.store.live_version()
        assert after != before
        # The running server answers from the new version at once.
        answer = chat.say("am I allowed to send lithium batteries or perfume abroad")
        assert [c["article_id"] for c in answer["citations"]] == ["prohibited-items"], answer

        rolled = client.post("/v1/knowledge/rollback", headers=ADMIN)
        assert rolled.status_code == 200
        assert rolled.json() == {"live": before, "previous": after}
        assert client.app.state.container.reindexer.store.live_version() == before


def test_check_only_job_reports_problems_without_switching(make_client: Any, content: Path) -> None:
    with make_client(ready=False, content_dir=content) as client:
        job_id = client.post(
            "/v1/knowledge/reindex", json={"check_only": True}, headers=ADMIN
        ).json()["job_id"]
        job = wait_job(client, job_id)
    assert job["status"] == "failed"  # a file could not be read
    assert job["report"]["mode"] == "check-only" and job["report"]["switched"] is False
    assert job["report"]["skipped"][0]["path"] == "en/broken.md"
    assert "1 file(s) with problems" in job["error"]


def test_second_reindex_while_one_runs_is_409(make_client: Any) -> None:
    with make_client(ready=False) as client:
        reindexer = client.app.state.container.reindexer
        # The job is registered before its thread starts, so the second request always sees it.
        first = client.post("/v1/knowledge/reindex", json={"full": True}, headers=ADMIN)
        assert first.status_code == 202
        second = client.post("/v1/knowledge/reindex", json={}, headers=ADMIN)
        assert_problem(second, 409, "reindex_in_progress")
        wait_job(client, first.json()["job_id"], timeout_s=120)
        assert reindexer.store.live_version() is not None


def test_rollback_with_nothing_to_roll_back_is_409(make_client: Any) -> None:
    with make_client(ready=False) as client:
        assert_problem(
            client.post("/v1/knowledge/rollback", headers=ADMIN), 409, "nothing_to_roll_back"
        )


def test_unknown_job_is_404(api: Any) -> None:
    assert_problem(api.get("/v1/knowledge/jobs/j_nope", headers=ADMIN), 404, "not_found")


@pytest.mark.parametrize(
    "body", [{"full": "yes"}, {"fast": True}, {"full": True, "check_only": 1.5}]
)
def test_reindex_refuses_bad_bodies(api: Any, body: dict[str, Any]) -> None:
    assert_problem(
        api.post("/v1/knowledge/reindex", json=body, headers=ADMIN), 422, "validation_error"
    )
