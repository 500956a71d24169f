"""Thresholds (`evals/thresholds.yaml`) and the accepted baseline (`evals/baseline.json`).

A threshold names a score (`scenario_success`) or a family of grouped scores
(`citation_hit_at_1.*` means every language's value) with `min` and/or `max`. A score that is
missing from a run (for example no rows of a language were run) is not judged, so a run over a
subset gates only what it measured. The baseline is the last accepted set of scores; the report
shows each score's difference from it, and `--update-baseline` accepts the current run.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "BASELINE",
    "THRESHOLDS",
    "Breach",
    "Thresholds",
    "compare_baseline",
    "evaluate_gate",
    "load_baseline",
    "load_thresholds",
    "write_baseline",
]

HERE = Path(__file__).resolve().parent
THRESHOLDS = HERE / "thresholds.yaml"
BASELINE = HERE / "baseline.json"


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None
    target: float | None = Field(None, description="where we want to be, when the bar is lower")

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs min or max")
        return self


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    gates: dict[str, Bound]


@dataclass(frozen=True)
class Breach:
    score: str
    value: float | None
    bound: str  # "min 0.95" / "max 0"

    def __str__(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:g}"
        return f"{self.score} = {shown} (needs {self.bound})"


class ThresholdsError(ValueError):
    """The thresholds file is unreadable or does not fit its schema."""


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Thresholds.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdsError(f"{path}: cannot read thresholds ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ThresholdsError(f"{path}: {problems}") from None


def evaluate_gate(scores: dict[str, float | None], thresholds: Thresholds) -> list[Breach]:
    """Every threshold a score breaks; an empty list means the gate passes."""
    breaches: list[Breach] = []
    for pattern, bound in thresholds.gates.items():
        names = sorted(n for n in scores if fnmatch.fnmatchcase(n, pattern))
        for name in names:
            value = scores[name]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if bound.min is not None and value < bound.min - 1e-9:
                breaches.append(Breach(name, value, f"min {bound.min:g}"))
            if bound.max is not None and value > bound.max + 1e-9:
                breaches.append(Breach(name, value, f"max {bound.max:g}"))
    return breaches


def load_baseline(path: Path = BASELINE) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("scores"), dict) else None


def write_baseline(
    path: Path, scores: dict[str, float | None], *, mode: str, versions: dict[str, str]
) -> None:
    payload = {
        "accepted_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "mode": mode,
        "datasets": versions,
        "scores": dict(sorted(scores.items())),
    }
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def compare_baseline(
    scores: dict[str, float | None], baseline: dict[str, Any] | None
) -> dict[str, float | None]:
    """Current minus baseline per score (None where either side has no value)."""
    if baseline is None:
        return {}
    before = baseline.get("scores", {})
    diff: dict[str, float | None] = {}
    for name, value in scores.items():
        old = before.get(name)
        diff[name] = (
            round(value - float(old), 4)
            if isinstance(value, (int, float)) and isinstance(old, (int, float))
            else None
        )
    return diff
