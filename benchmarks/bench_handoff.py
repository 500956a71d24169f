"""Handoff: how long the agents' summary takes to build, and the SQLite queue's main calls.

The summary is built once per handoff inside a customer's turn, so it must stay well under the
turn's own budget: target p95 <= 5 ms offline (no language model).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import FrozenClock
from assistant.eta.model import load_or_train
from assistant.handoff.models import Handoff, priority_for
from assistant.handoff.queue import SqlHandoffQueue
from assistant.handoff.summary import SummaryFacts, build_summary
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools
from benchmarks._results import percentiles_ms, write_results

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
LANGUAGES = ("da", "sv", "nb", "fi", "en")
CASES = (
    (
        "customer_request",
        None,
        "RR361920561SE",
        "hvor er min pakke RR361920561SE? jeg vil tale med en person",
    ),
    ("policy", "high_value", "RR703455124NO", "pakken min RR703455124NO er borte, jeg vil klage"),
    ("frustration", None, "RR727623343DK", "DET HER ER UACCEPTABELT, mit kort 4111 1111 1111 1111"),
    ("tool_failure", None, "RR518377785SE", "var är mitt paket RR518377785SE, hallå?"),
)


def _time(call: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _facts(tools: CarrierTools) -> list[SummaryFacts]:
    facts = []
    for n, (reason, topic, tracking_id, text) in enumerate(CASES):
        steps: list[dict[str, Any]] = []
        for turn, tool in enumerate(("get_shipment_status", "predict_eta"), start=1):
            action = tools.run(tool, {"tracking_id": tracking_id}).model_dump(mode="json")
            steps.append({**action, "turn": turn})
        status = steps[0]["result"] if steps[0]["ok"] else None
        facts.append(
            SummaryFacts(
                reason=reason,
                topic=topic,
                language=LANGUAGES[n % len(LANGUAGES)],
                intent="track_parcel",
                tracking_ids=(tracking_id,),
                shipment=status,
                steps=tuple(steps),
                customer_messages=("hej", text, "hallo?"),
                sentiment=-0.9 if reason == "frustration" else 0.0,
                upset=reason == "frustration",
            )
        )
    return facts


def main(argv: list[str] | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        engine = make_engine(f"sqlite:///{data / 'budbringer.db'}")
        store = SqlCarrierStore(engine)
        clock = FrozenClock(NOW)
        simulator = CarrierSimulator(
            load_seed(DEMO_SEED), cases=store, redirects=store, verifications=store, clock=clock
        )
        tools = CarrierTools(simulator, load_or_train(data / "eta.joblib"), clock)
        facts = _facts(tools)
        for fact in facts:  # warm the templates and the masking rules
            build_summary(fact)
        counter = iter(range(10**9))

        def summary() -> object:
            n = next(counter)
            return build_summary(facts[n % len(facts)], LANGUAGES[n % len(LANGUAGES)])

        summary_samples = _time(summary, 2000)

        queue = SqlHandoffQueue(engine)
        ids = iter(range(10**9))

        def enqueue() -> object:
            n = next(ids)
            return queue.enqueue(
                Handoff(
                    handoff_id=f"H-B{n:08d}",
                    conversation_id=f"bench-{n}",
                    idempotency_key=f"bench-{n}:1:live",
                    created_at=NOW.astimezone(UTC) + timedelta(seconds=n),
                    priority=priority_for(CASES[n % len(CASES)][0]),
                    language="da",
                    reason=CASES[n % len(CASES)][0],  # type: ignore[arg-type]
                    summary=build_summary(facts[n % len(facts)]),
                )
            )

        enqueue_samples = _time(enqueue, 500)
        list_samples = _time(lambda: queue.list_handoffs("waiting"), 50)
        position_samples = _time(lambda: queue.position("H-B00000250"), 50)
        claims = iter(range(500))
        claim_samples = _time(lambda: queue.claim(f"H-B{next(claims):08d}", "bench", NOW), 200)
        engine.dispose()

    figures: dict[str, object] = {
        "summary_offline": percentiles_ms(summary_samples),
        "summary_target_p95_ms": 5.0,
        "queue_sqlite_enqueue_with_summary": percentiles_ms(enqueue_samples),
        "queue_sqlite_list_500_waiting": percentiles_ms(list_samples),
        "queue_sqlite_position_of_500": percentiles_ms(position_samples),
        "queue_sqlite_claim": percentiles_ms(claim_samples),
    }
    write_results("handoff", figures)
    return figures


if __name__ == "__main__":
    main()
