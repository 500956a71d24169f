"""ETA model: training time, accuracy on held-out synthetic shipments, single-prediction latency.

Trains on the default synthetic set (seed 7), evaluates on a held-out synthetic set drawn with
another seed (8), then times `EtaModel.predict` on a model loaded from disk, for parcels cut
after a random event and asked about a few hours later.

    .venv/bin/python -m benchmarks eta
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from assistant.domain import Shipment
from assistant.eta import EtaModel, evaluate, generate_shipments
from assistant.eta.model import DEFAULT_TRAINING_SHIPMENTS
from benchmarks._results import percentiles_ms, write_results

TRAIN_SEED = 7
TEST_SEED = 8


def _cases(shipments: list[Shipment], count: int, seed: int) -> list[tuple[Shipment, datetime]]:
    """Parcels cut after a random event before delivery, with `now` 0-8 hours after it."""
    rng = np.random.default_rng(seed)
    cases = []
    for index in rng.integers(0, len(shipments), size=count):
        shipment = shipments[int(index)]
        cut = int(rng.integers(1, len(shipment.events)))
        now = shipment.events[cut - 1].at + timedelta(hours=float(rng.uniform(0.0, 8.0)))
        cases.append((replace(shipment, events=shipment.events[:cut]), now))
    return cases


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the figures and write `results/eta.json`.

    Args:
        argv: command-line arguments (`--train`, `--test`, `--calls`).

    Returns:
        The figures.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks eta")
    parser.add_argument("--train", type=int, default=DEFAULT_TRAINING_SHIPMENTS)
    parser.add_argument("--test", type=int, default=3000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv or [])

    started = time.perf_counter()
    history = generate_shipments(args.train, seed=TRAIN_SEED)
    generated = time.perf_counter()
    model = EtaModel.train(history, seed=TRAIN_SEED)
    trained = time.perf_counter()

    held_out = generate_shipments(args.test, seed=TEST_SEED)
    evaluation_started = time.perf_counter()
    figures = evaluate(model, held_out)
    evaluation_seconds = time.perf_counter() - evaluation_started

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "eta.joblib"
        model.save(path)
        load_started = time.perf_counter()
        loaded = EtaModel.load(path)
        load_seconds = time.perf_counter() - load_started
    cases = _cases(held_out, args.calls, seed=0)
    for shipment, now in cases[:50]:
        loaded.predict(shipment, now)
    samples = []
    for shipment, now in cases:
        call = time.perf_counter()
        loaded.predict(shipment, now)
        samples.append(time.perf_counter() - call)

    results: dict[str, Any] = {
        "model_version": model.model_version,
        "train_shipments": args.train,
        "train_seed": TRAIN_SEED,
        "test_shipments": args.test,
        "test_seed": TEST_SEED,
        "generate_seconds": round(generated - started, 2),
        "fit_and_calibrate_seconds": round(trained - generated, 2),
        "training_seconds_total": round(trained - started, 2),
        "calibration": {
            "coverage": model.info["calibration_coverage"],
            "scales": model.info["calibration_scales"],
        },
        "held_out": figures,
        "evaluate_seconds": round(evaluation_seconds, 2),
        "load_seconds": round(load_seconds, 3),
        "predict_latency": percentiles_ms(samples),
        "fast_path": loaded._forest is not None,
    }
    write_results("eta", results)
    return results


if __name__ == "__main__":
    main()
