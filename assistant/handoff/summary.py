"""The summary an agent reads when a conversation is handed over (DESIGN §6).

Structured fields come from the conversation itself (the graph hands them in as `SummaryFacts`):
reason, language, intent, tracking ids, the shipment's status snapshot, the steps taken with what
the tools answered, the customer's request in their own words with personal identity numbers,
card numbers, phones and emails masked (`assistant.privacy.redact`), sentiment, a suggested next
action and the case id. `text` is a short summary in the agents' language, built offline from
`summary_text.yaml`. With a language model it is generated instead and then checked against the
same facts (`assistant.grounding.grounding_check`): a text that states a figure, date, id or
place no fact holds is dropped and the offline text is used (`text_source` says which).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from assistant.domain import COUNTRY_TIMEZONE
from assistant.errors import LLMUnavailable
from assistant.grounding import grounding_check
from assistant.handoff.triggers import declared_value_eur
from assistant.llm import ChatMessage, ChatModel, untrusted_data
from assistant.privacy import redact

__all__ = ["SummaryFacts", "build_summary", "offline_text"]

log = logging.getLogger(__name__)

MAX_REQUEST_CHARS = 600
MAX_STEPS = 12
MAX_LLM_TEXT = 900
_SHIPMENT_FIELDS = (
    "tracking_id",
    "status",
    "last_event",
    "service",
    "destination_country",
    "promised_date",
    "days_since_last_scan",
    "declared_value",
    "redirect_possible",
)
_STALLED_DAYS = 5
_FINAL = ("DELIVERED", "RETURNED_TO_SENDER")


@dataclass(frozen=True)
class SummaryFacts:
    """What the conversation knows, as the graph collected it."""

    reason: str
    language: str
    intent: str | None = None
    tracking_ids: tuple[str, ...] = ()
    shipment: Mapping[str, Any] | None = None  # the latest get_shipment_status result
    steps: tuple[Mapping[str, Any], ...] = ()  # tool calls as in Turn.actions, plus "turn"
    customer_messages: tuple[str, ...] = ()
    sentiment: float = 0.0
    upset: bool = False
    case_id: str | None = None
    topic: str | None = None  # a policy topic (triggers.PolicyTopic)


@cache
def _texts() -> dict[str, dict[str, Any]]:
    raw = resources.files("assistant.handoff").joinpath("summary_text.yaml").read_text("utf-8")
    data: dict[str, dict[str, Any]] = yaml.safe_load(raw)
    return data


def _sentiment_label(sentiment: float, upset: bool) -> str:
    if upset or sentiment <= -0.3:
        return "negative"
    return "positive" if sentiment >= 0.3 else "neutral"


def _outcome(action: Mapping[str, Any]) -> str:
    """What a tool answered, as a short code an agent can act on."""
    result = action.get("result") or {}
    if not action.get("ok"):
        return str(result.get("reason", "failed"))
    tool = action.get("tool")
    if tool == "get_shipment_status":
        return str(result.get("status", ""))
    if tool == "predict_eta":
        return str(result.get("most_likely", ""))
    if tool == "verify_recipient":
        return "verified"
    if tool == "list_redirect_options":
        return f"{len(result.get('options', []))} options"
    if tool == "redirect_delivery":
        return str((result.get("option") or {}).get("kind", "done"))
    if tool == "create_case":
        return str(result.get("case_id", ""))
    if tool == "search_knowledge":
        return ", ".join(result.get("articles", [])) or "no_answer"
    return ""


def _steps(actions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    steps = []
    for action in actions:
        if action.get("tool") == "handoff_to_agent":
            continue
        arguments = action.get("arguments") or {}
        step: dict[str, Any] = {
            "turn": action.get("turn"),
            "tool": action.get("tool"),
            "ok": bool(action.get("ok")),
            "outcome": _outcome(action),
        }
        if arguments.get("tracking_id"):
            step["tracking_id"] = arguments["tracking_id"]
        steps.append(step)
    return steps[-MAX_STEPS:]


def _shipment(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    return {k: raw[k] for k in _SHIPMENT_FIELDS if k in raw}


def _customer_request(messages: Sequence[str]) -> str:
    """The customer's own words: their latest substantive messages, oldest first, masked."""
    substantive = [m.strip() for m in messages if len(m.split()) >= 3]
    picked = substantive[-3:] or [m.strip() for m in messages if m.strip()][-1:]
    text = " / ".join(picked)
    masked = redact(text)
    return masked if len(masked) <= MAX_REQUEST_CHARS else masked[: MAX_REQUEST_CHARS - 1] + "…"


def _next_key(facts: SummaryFacts, shipment: Mapping[str, Any] | None) -> str:
    if facts.topic:
        return facts.topic
    if (
        facts.reason in ("customer_request", "frustration", "repeated_failure")
        and shipment
        and shipment.get("days_since_last_scan", 0) >= _STALLED_DAYS
        and shipment.get("status") not in _FINAL
    ):
        return "stalled"
    return facts.reason


def _local_moment(iso: str, country: str | None) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = COUNTRY_TIMEZONE.get(country or "")
    if zone and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M")


def offline_text(summary: Mapping[str, Any], agents_language: str) -> str:
    """The summary's `text`, written from its structured fields in the agents' language."""
    t = _texts().get(agents_language) or _texts()["en"]
    reason = t["topics"].get(summary.get("policy_topic") or "", t["reasons"][summary["reason"]])
    intent = summary.get("intent")
    about = t["about"].format(intent=t["intents"][intent]) if intent in t["intents"] else ""
    customer = t["customer"].format(
        language=t["languages"].get(summary["language"], summary["language"]), about=about
    )
    shipment = summary.get("shipment")
    if shipment:
        event = shipment.get("last_event") or {}
        place = event.get("location", "")
        scan = _local_moment(str(event.get("at", "")), shipment.get("destination_country"))
        value = ""
        if shipment.get("declared_value"):
            money = shipment["declared_value"]
            value = t["value"].format(value=f"{money['amount']:.0f} {money['currency']}")
        parcel = t["parcel"].format(
            tracking_id=shipment.get("tracking_id", ""),
            status=t["statuses"].get(shipment.get("status"), shipment.get("status", "")),
            last_scan=f"{scan} {place}".strip(),
            value=value,
        )
    elif summary.get("tracking_ids"):
        parcel = t["parcel"].format(
            tracking_id=", ".join(summary["tracking_ids"]), status="?", last_scan="?", value=""
        )
    else:
        parcel = t["no_parcel"]
    parts: list[str] = []
    for step in summary.get("steps_taken", []):
        label = t["tools"].get(step["tool"], step["tool"])
        if not step["ok"]:
            outcome = step["outcome"]
            part = f"{label} {t['failed']} ({outcome})"
        elif step["tool"] == "get_shipment_status":
            part = f"{label} ({t['statuses'].get(step['outcome'], step['outcome'])})"
        elif step["tool"] == "search_knowledge" and step["outcome"] == "no_answer":
            part = f"{label} ({t['no_answer']})"
        else:
            part = f"{label} ({step['outcome']})"
        if part not in parts:
            parts.append(part)
    steps = t["steps"].format(steps="; ".join(parts)) if parts else ""
    case = t["case"].format(case_id=summary["case_id"]) if summary.get("case_id") else ""
    frame: str = t["frame"]
    return frame.format(
        reason=reason,
        customer=customer,
        parcel=parcel,
        steps=steps,
        case=case,
        sentiment=t["sentiments"][summary["sentiment"]],
        next=summary["suggested_next_action"],
    )


def _generated_text(
    chat_model: ChatModel, summary: Mapping[str, Any], agents_language: str, sources: list[object]
) -> str | None:
    """An LLM-written text, or None when the model fails or states an unsupported fact."""
    names = _texts()["en"]["languages"]
    messages = [
        ChatMessage(
            "system",
            "You write handoff notes for parcel-carrier customer-service agents. In at most four "
            f"short sentences, in {names.get(agents_language, 'English')}, say why the customer "
            "needs a person, what they want, the parcel's status, what the assistant already did "
            "and the suggested next action. Use only facts from the data; invent nothing.",
        ),
        ChatMessage("user", untrusted_data("handoff facts", dict(summary))),
    ]
    try:
        text = chat_model.complete(messages).strip()
    except LLMUnavailable as exc:
        log.info("summary text: model unavailable (%s), using the offline text", exc.explanation)
        return None
    if not text or len(text) > MAX_LLM_TEXT:
        return None
    problems = grounding_check(text, sources)
    if problems:
        log.info("summary text: generated text not grounded (%s), using the offline text", problems)
        return None
    return text


def build_summary(
    facts: SummaryFacts, agents_language: str = "en", chat_model: ChatModel | None = None
) -> dict[str, Any]:
    """The structured summary with its `text` (see the module docstring)."""
    shipment = _shipment(facts.shipment)
    texts = _texts().get(agents_language) or _texts()["en"]
    next_key = _next_key(facts, shipment)
    next_action = texts["next"][next_key]
    if next_key == "stalled" and shipment:
        next_action = next_action.format(days=shipment.get("days_since_last_scan", 0))
    value = (shipment or {}).get("declared_value")
    summary: dict[str, Any] = {
        "reason": facts.reason,
        "policy_topic": facts.topic,
        "language": facts.language,
        "intent": facts.intent,
        "tracking_ids": list(dict.fromkeys(facts.tracking_ids)),
        "shipment": shipment,
        "declared_value_eur": declared_value_eur(value) if value else None,
        "steps_taken": _steps(facts.steps),
        "customer_request": _customer_request(facts.customer_messages),
        "sentiment": _sentiment_label(facts.sentiment, facts.upset),
        "suggested_next_action": next_action,
        "case_id": facts.case_id,
    }
    text = offline_text(summary, agents_language)
    source = "offline"
    if chat_model is not None:
        sources: list[object] = [summary, text, *(redact(m) for m in facts.customer_messages)]
        generated = _generated_text(chat_model, summary, agents_language, sources)
        if generated is not None:
            text, source = generated, "llm"
    summary["text"] = text
    summary["text_source"] = source
    return summary
