"""The eval datasets: the shipped ones fit their schema and cover what issue 7 asks; bad rows are named."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.datasets import DatasetError, load_datasets, load_jsonl
from evals.schema import KnowledgeCase, Scenario, json_schemas

LANGUAGES = {"da", "sv", "nb", "fi", "en"}


def test_shipped_datasets_fit_the_schema_and_cover_every_language() -> None:
    data = load_datasets()
    per_language = Counter(c.language for c in data.knowledge)
    assert len(data.knowledge) >= 150
    assert set(per_language) == LANGUAGES and min(per_language.values()) >= 30
    assert len(data.scenarios) >= 60
    assert {s.language for s in data.scenarios} == LANGUAGES
    assert set(data.versions) == {"knowledge", "scenarios"}


def test_scenarios_cover_every_flow_repair_refusal_handoff_and_manipulation() -> None:
    scenarios = load_datasets().scenarios
    kinds = Counter(s.kind for s in scenarios)
    for kind in (
        "track",
        "redirect",
        "complaint",
        "repair",
        "refusal",
        "verification",
        "handoff",
        "manipulation",
    ):
        assert kinds[kind] >= 3, kind
    flows = {t.expect.flow for s in scenarios for t in s.turns if t.expect and t.expect.flow}
    assert flows == {"track_parcel", "redirect_delivery", "complaint"}
    reasons = {s.handoff.reason for s in scenarios if s.handoff}
    assert {"customer_request", "frustration", "repeated_failure", "policy"} <= reasons
    # "nothing changed" is an end state too: declined, refused and manipulated conversations
    assert sum(1 for s in scenarios if not s.expect.redirects and not s.expect.cases) >= 20
    assert {c.category for s in scenarios for c in s.expect.cases} >= {"damaged", "lost", "delayed"}


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    return path


GOOD = {
    "id": "da-returns-1",
    "language": "da",
    "question": "hvordan returnerer jeg en jakke",
    "reference": "Brug butikkens returlabel og aflever pakken i en pakkeshop.",
    "article_ids": ["returns"],
}


def test_a_row_that_does_not_fit_names_its_file_and_line(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "reference"}
    path = _write(tmp_path / "knowledge.jsonl", [GOOD, missing])
    with pytest.raises(DatasetError) as caught:
        load_jsonl(path, KnowledgeCase)
    message = str(caught.value)
    assert "knowledge.jsonl:2: reference: Field required" in message
    assert ":1:" not in message


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ('{"id": "da-x-1", "language": "da",', "knowledge.jsonl:2: broken JSON"),
        (
            {**GOOD, "id": "da-x-2", "article_ids": ["no-such-article"]},
            "unknown article id(s): no-such-article",
        ),
        ({**GOOD, "id": "sv-x-3"}, "must start with its language 'da'"),
        (
            {**GOOD, "language": "de", "id": "de-x-4"},
            "knowledge.jsonl:2: language: Input should be",
        ),
        ({**GOOD, "surprise": 1}, "surprise: Extra inputs are not permitted"),
        (GOOD, "knowledge.jsonl:2: id 'da-returns-1' already used on line 1"),
    ],
)
def test_bad_rows_are_refused_with_a_reason(tmp_path: Path, row: object, expected: str) -> None:
    path = _write(tmp_path / "knowledge.jsonl", [GOOD, row])
    with pytest.raises(DatasetError, match="bad row") as caught:
        load_jsonl(path, KnowledgeCase)
    assert expected in str(caught.value)


def test_a_scenario_with_an_unknown_redirect_option_is_refused(tmp_path: Path) -> None:
    row = {
        "id": "en-x-1", "language": "en", "kind": "redirect", "title": "bad option",
        "turns": [{"say": "hi"}],
        "expect": {"redirects": [{"tracking_id": "RR361920561SE", "option": "the moon"}]},
    }  # fmt: skip
    path = _write(tmp_path / "scenarios.jsonl", [row])
    with pytest.raises(DatasetError, match=r"scenarios.jsonl:1: expect.redirects.0.option"):
        load_jsonl(path, Scenario)


def test_an_empty_or_unreadable_dataset_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no rows"):
        load_jsonl(_write(tmp_path / "empty.jsonl", [""]), KnowledgeCase)
    with pytest.raises(DatasetError, match="cannot read"):
        load_jsonl(tmp_path / "missing.jsonl", KnowledgeCase)
    (tmp_path / "latin1.jsonl").write_bytes(b"\xff\xfe broken")
    with pytest.raises(DatasetError, match="cannot read"):
        load_jsonl(tmp_path / "latin1.jsonl", KnowledgeCase)


def test_a_broken_manifest_is_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(
        '{"now": "2026-11-23T12:00:00+01:00"}', encoding="utf-8"
    )
    with pytest.raises(DatasetError, match=r"manifest.json: datasets: Field required"):
        load_datasets(tmp_path)


def test_the_json_schema_files_match_the_models() -> None:
    """`python -m evals --write-schema` output is committed; it must not drift from the models."""
    folder = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "schema"
    for name, schema in json_schemas().items():
        committed = json.loads((folder / f"{name}.schema.json").read_text(encoding="utf-8"))
        assert committed == schema, f"rerun `python -m evals --write-schema` ({name})"
