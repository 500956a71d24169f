"""The agents' summary (DESIGN §6): structured fields, the text in five agents' languages,
masking, and the LLM text checked against the same facts."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from assistant.errors import LLMUnavailable
from assistant.handoff.summary import SummaryFacts, build_summary
from assistant.llm import ChatMessage

SNAPSHOTS = Path(__file__).parent / "snapshots"
LANGUAGES = ("da", "sv", "nb", "fi", "en")

SHIPMENT = {
    "tracking_id": "RR703455124NO",
    "status": "IN_TRANSIT",
    "last_event": {
        "at": "2026-11-14T22:50:00+00:00",
        "code": "IN_TRANSIT",
        "location": "Oslo terminal",
        "country": "NO",
    },
    "service": "home",
    "destination_country": "NO",
    "sender": "Komplett",
    "promised_date": "2026-11-17",
    "days_since_last_scan": 8,
    "declared_value": {"amount": 4999.0, "currency": "NOK"},
    "redirect_possible": True,
    "recipient": {"name": "Kari Nordmann", "phone": "+4741234567"},
}


def status_step(turn: int, shipment: dict[str, Any] = SHIPMENT) -> dict[str, Any]:
    return {
        "turn": turn,
        "tool": "get_shipment_status",
        "arguments": {"tracking_id": shipment["tracking_id"]},
        "ok": True,
        "result": shipment,
    }


CASES: dict[str, SummaryFacts] = {
    "lost_high_value": SummaryFacts(
        reason="policy",
        topic="high_value",
        language="nb",
        intent="complaint",
        tracking_ids=("RR703455124NO",),
        shipment=SHIPMENT,
        steps=(status_step(1),),
        customer_messages=("pakken min RR703455124NO er borte, jeg vil klage",),
        sentiment=-0.4,
        upset=False,
    ),
    "frustrated_redirect": SummaryFacts(
        reason="frustration",
        language="da",
        intent="redirect_delivery",
        tracking_ids=("RR361920561SE",),
        shipment={**SHIPMENT, "tracking_id": "RR361920561SE", "destination_country": "DK"},
        steps=(
            status_step(1, {**SHIPMENT, "tracking_id": "RR361920561SE"}),
            {
                "turn": 2,
                "tool": "verify_recipient",
                "arguments": {"tracking_id": "RR361920561SE", "postcode": "8200"},
                "ok": False,
                "result": {"reason": "postcode_mismatch", "attempts_left": 2},
            },
        ),
        customer_messages=(
            "kan RR361920561SE leveres ved døren",
            "8200",
            "DET HER ER UACCEPTABELT, mit kort 4111 1111 1111 1111 er trukket to gange",
        ),
        sentiment=-0.92,
        upset=True,
    ),
    "tool_failure": SummaryFacts(
        reason="tool_failure",
        language="sv",
        intent="track_parcel",
        tracking_ids=("RR518377785SE",),
        steps=tuple(
            {
                "turn": turn,
                "tool": "get_shipment_status",
                "arguments": {"tracking_id": "RR518377785SE"},
                "ok": False,
                "result": {"reason": "backend_unavailable", "explanation": "timeout"},
            }
            for turn in (1, 2)
        ),
        customer_messages=("var är mitt paket RR518377785SE", "och nu då?"),
    ),
    "customer_request_no_parcel": SummaryFacts(
        reason="customer_request",
        language="fi",
        customer_messages=("haluan puhua ihmisen kanssa, henkilötunnukseni on 131052-308T",),
    ),
}


def snapshot(name: str, value: dict[str, Any]) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, ensure_ascii=False, indent=2) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
        return
    assert text == path.read_text(encoding="utf-8"), (
        f"summary {name} changed; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_snapshots_in_every_agents_language(case: str) -> None:
    facts = CASES[case]
    summaries = {language: build_summary(facts, language) for language in LANGUAGES}
    english = summaries["en"]
    # The structured part does not depend on the agents' language except the next action.
    for summary in summaries.values():
        assert {k: v for k, v in summary.items() if k not in ("text", "suggested_next_action")} == {
            k: v for k, v in english.items() if k not in ("text", "suggested_next_action")
        }
    snapshot(
        f"summary_{case}",
        {"summary": english, "texts": {k: v["text"] for k, v in summaries.items()}},
    )


def test_fields_an_agent_needs_without_asking_again() -> None:
    summary = build_summary(CASES["lost_high_value"])
    assert summary["reason"] == "policy" and summary["policy_topic"] == "high_value"
    assert summary["tracking_ids"] == ["RR703455124NO"]
    assert summary["shipment"]["status"] == "IN_TRANSIT"
    assert summary["declared_value_eur"] == pytest.approx(424.92)
    assert summary["steps_taken"] == [
        {
            "turn": 1,
            "tool": "get_shipment_status",
            "ok": True,
            "outcome": "IN_TRANSIT",
            "tracking_id": "RR703455124NO",
        }
    ]
    assert "lost-parcel investigation" in summary["suggested_next_action"]
    assert "recipient" not in summary["shipment"]  # personal details stay in the carrier system
    assert "4999 NOK" in summary["text"] and "Oslo terminal" in summary["text"]


def test_identity_and_card_numbers_are_masked() -> None:
    frustrated = build_summary(CASES["frustrated_redirect"])
    assert "4111" not in json.dumps(frustrated) and "[card]" in frustrated["customer_request"]
    finnish = build_summary(CASES["customer_request_no_parcel"])
    assert "131052" not in json.dumps(finnish)
    assert "[national_id]" in finnish["customer_request"]


def test_a_stalled_parcel_suggests_an_investigation() -> None:
    facts = SummaryFacts(
        reason="customer_request",
        language="en",
        shipment=SHIPMENT,
        customer_messages=("where is RR703455124NO",),
    )
    assert "8 days" in build_summary(facts)["suggested_next_action"]


class ScriptedSummaryModel:
    """A ChatModel twin that answers `complete` with a fixed text (or fails)."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.prompts: list[Sequence[ChatMessage]] = []

    def propose(self, messages: Sequence[ChatMessage], schema: type[BaseModel]) -> dict[str, Any]:
        raise LLMUnavailable("not used for summaries")

    def complete(self, messages: Sequence[ChatMessage]) -> str:
        self.prompts.append(messages)
        if self.answer is None:
            raise LLMUnavailable("timeout")
        return self.answer


def test_a_grounded_generated_text_is_used() -> None:
    model = ScriptedSummaryModel(
        "The customer's parcel RR703455124NO (declared 4999 NOK) has not moved since the "
        "Oslo terminal scan; open a lost-parcel investigation."
    )
    summary = build_summary(CASES["lost_high_value"], "en", model)
    assert summary["text_source"] == "llm" and summary["text"] == model.answer
    assert "untrusted-data" in model.prompts[0][1].content


@pytest.mark.parametrize(
    "answer",
    [
        "Parcel RR703455124NO is worth 9000 NOK; investigate.",  # a value no tool gave
        "Parcel RR703455124NO was last seen in Bergen.",  # a place no tool gave
        "",
        None,  # the model failed
    ],
)
def test_an_ungrounded_or_failed_text_falls_back_to_the_offline_one(answer: str | None) -> None:
    summary = build_summary(CASES["lost_high_value"], "en", ScriptedSummaryModel(answer))
    assert summary["text_source"] == "offline"
    assert summary["text"] == build_summary(CASES["lost_high_value"], "en")["text"]
