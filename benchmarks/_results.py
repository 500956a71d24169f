"""Shared helpers for benchmarks: machine description, percentiles and the results file."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of durations given in seconds, reported in milliseconds."""
    ordered = sorted(samples_s)
    if not ordered:
        return {"n": 0}

    def pct(p: float) -> float:
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return round(ordered[index] * 1000, 3)

    return {
        "n": len(ordered),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def write_results(name: str, figures: dict[str, Any]) -> Path:
    """Write figures with the machine they came from; print them; return the file path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": figures,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({name: figures}, indent=2, ensure_ascii=False))
    print(f"-> {path.relative_to(RESULTS_DIR.parent.parent)}")
    return path
