"""Tool-call latency over the in-process simulator with its SQLite store (target p95 <= 1 ms)."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import FrozenClock
from assistant.eta.model import load_or_train
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools
from benchmarks._results import percentiles_ms, write_results

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))


def _time(call: object, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return samples


def main(argv: list[str] | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SqlCarrierStore(make_engine(f"sqlite:///{data / 'carrier.db'}"))
        clock = FrozenClock(NOW)
        seed = load_seed(DEMO_SEED)
        simulator = CarrierSimulator(
            seed, cases=store, redirects=store, verifications=store, clock=clock
        )
        tools = CarrierTools(simulator, load_or_train(data / "eta.joblib"), clock)
        ids = sorted(seed.shipments)
        token = tools.run(
            "verify_recipient", {"tracking_id": "RR361920561SE", "postcode": "8000"}
        ).private["token"]
        counter = iter(range(10**9))
        calls = {
            "get_shipment_status": lambda: tools.run(
                "get_shipment_status", {"tracking_id": ids[next(counter) % len(ids)]}
            ),
            "predict_eta": lambda: tools.run("predict_eta", {"tracking_id": "RR301061494SE"}),
            "list_redirect_options": lambda: tools.run(
                "list_redirect_options", {"tracking_id": "RR361920561SE"}, verification=token
            ),
            "simulator.get_shipment": lambda: simulator.get_shipment(ids[next(counter) % len(ids)]),
        }
        figures: dict[str, object] = {}
        for name, call in calls.items():
            _time(call, 50)  # warm-up
            figures[name] = percentiles_ms(_time(call, 2000))
        figures["target"] = "in-process simulator tool call p95 <= 1 ms"
    write_results("tools", figures)
    return figures


if __name__ == "__main__":
    main()
