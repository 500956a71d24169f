"""Thresholds and baseline: what breaks the gate, what a missing score does, how the diff reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.gate import (
    ThresholdsError,
    compare_baseline,
    evaluate_gate,
    load_baseline,
    load_thresholds,
    write_baseline,
)

SCORES: dict[str, float | None] = {
    "scenario_success": 0.96,
    "citation_hit_at_1": 0.9,
    "citation_hit_at_1.da": 0.93,
    "citation_hit_at_1.en": 0.8,
    "grounding_violations": 1.0,
    "rubric": None,
}


def _thresholds(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_breached_score_is_named_once(tmp_path: Path) -> None:
    thresholds = load_thresholds(
        _thresholds(
            tmp_path,
            "version: 1\ngates:\n  scenario_success: {min: 0.95}\n  citation_hit_at_1.*: {min: 0.85}\n"
            "  grounding_violations: {max: 0}\n  rubric: {min: 0.9}\n",
        )
    )
    breaches = evaluate_gate(SCORES, thresholds)
    assert [str(b) for b in breaches] == [
        "citation_hit_at_1.en = 0.8 (needs min 0.85)",
        "grounding_violations = 1 (needs max 0)",
    ]


def test_the_shipped_thresholds_load() -> None:
    thresholds = load_thresholds()
    assert "scenario_success" in thresholds.gates
    assert thresholds.gates["grounding_violations"].max is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ngates:\n  rubric: {}\n", "a threshold needs min or max"),
        ("version: 1\ngates:\n  rubric: {minimum: 1}\n", "Extra inputs are not permitted"),
        ("gates: [", "cannot read thresholds"),
    ],
)
def test_a_broken_thresholds_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ThresholdsError, match=message):
        load_thresholds(_thresholds(tmp_path, text))


def test_baseline_round_trip_and_difference(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    assert load_baseline(path) is None
    write_baseline(
        path, {"rubric": 0.9, "scenario_success": 0.9}, mode="offline", versions={"k": "1.0"}
    )
    baseline = load_baseline(path)
    assert baseline is not None and baseline["datasets"] == {"k": "1.0"}
    diff = compare_baseline({"rubric": 0.95, "scenario_success": None, "new": 1.0}, baseline)
    assert diff == {"rubric": 0.05, "scenario_success": None, "new": None}
