"""The handoff step of the graph: offer a person, hand over, or take the callback / case path.

A handover enqueues the conversation with its summary (assistant/handoff/summary.py) when agents
are in (business hours of the parcel's country) and the estimated wait is acceptable; then the
flows in progress are closed and the engine keeps the assistant silent until an agent resolves
the handoff (graphs/engine.py). Otherwise the customer is offered a callback (a validated phone
number) or a case (the create_case tool), instead of a queue nobody answers.

Enqueueing is the one side effect, and it is idempotent: the key is the conversation and turn,
so a re-run step (LangGraph re-runs a node after a failure) never queues the customer twice.
The node has no `interrupt()` (DEPENDENCIES trap 11).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from assistant.handoff.hours import BusinessHours
from assistant.handoff.models import PRIORITY_BASE, Handoff, priority_for
from assistant.handoff.queue import estimate_wait
from assistant.handoff.summary import SummaryFacts, build_summary
from assistant.handoff.triggers import declared_value_eur
from assistant.privacy import redact
from assistant.tools import is_email, normalise_phone
from graphs.context import AssistantContext
from graphs.state import ConversationState, Frame, Task
from graphs.turn_io import TurnIO

__all__ = ["cancel_frames", "handoff_step", "offer_person", "summary_facts"]

_REGION = {"da": "DK", "sv": "SE", "nb": "NO", "fi": "FI"}
_HISTORY = timedelta(hours=8)
_TOOL_INTENT = {
    "create_case": "complaint",
    "redirect_delivery": "redirect_delivery",
    "list_redirect_options": "redirect_delivery",
    "verify_recipient": "redirect_delivery",
    "get_shipment_status": "track_parcel",
    "predict_eta": "track_parcel",
    "search_knowledge": "knowledge",
}
_MIN_PHONE_DIGITS = 6
_LEADS = {
    "policy": "handoff_reason_policy",
    "repeated_failure": "handoff_reason_failure",
    "tool_failure": "handoff_reason_failure",
}


def handoff_step(state: ConversationState, ctx: AssistantContext, io: TurnIO) -> dict[str, Any]:
    """Do the turn's first task (a handoff task); return the state update besides replies."""
    task = state["tasks"][0]
    if task.get("mode") == "offer":
        return offer_person(state, io, task.get("reason", "frustration"), said=False)
    if task.get("step") == "callback":
        return _callback(state, ctx, io, task)
    if task.get("step") == "case":
        return _case(state, ctx, io, task)
    return _hand_over(state, ctx, io, task)


def offer_person(
    state: ConversationState, io: TurnIO, reason: str, *, said: bool
) -> dict[str, Any]:
    """A standing offer of a person (yes/no); `said` when the reply already asked the question."""
    stack = state.get("stack") or []
    if stack and stack[-1]["awaiting"] == "confirmation":
        return {}  # "yes" would be ambiguous: the flow's confirmation comes first
    standing = state.get("handoff") or {}
    if standing.get("status") == "offered":
        # Already offered this turn (the record starts empty each turn): ask once, and record
        # the weightier reason ("frustration" over "repeated_failure": it ranks higher).
        if PRIORITY_BASE.get(reason, 0) > PRIORITY_BASE.get(str(standing.get("reason")), 0):
            return {"handoff": {**standing, "reason": reason}}
        return {}
    if not said:
        io.say("offer_human_frustrated" if reason == "frustration" else "offer_human")
    io.quick("qr_yes", "qr_no")
    offer = {"status": "offered", "offer": "person", "reason": reason, "turn": state.get("turn", 0)}
    return {"handoff": offer}


def cancel_frames(stack: list[Frame]) -> list[Frame]:
    """The flows in progress, closed: a person takes the matter over."""
    return [
        {**f, "status": "cancelled", "awaiting": None} if f["status"] == "active" else f
        for f in stack
    ]


def _actions(state: ConversationState) -> list[dict[str, Any]]:
    turn = state.get("turn", 0)
    return [*state.get("steps", []), *({**a, "turn": turn} for a in state.get("actions", []))]


def _tracking_ids(state: ConversationState) -> list[str]:
    ids = [
        f["slots"]["tracking_id"] for f in state.get("stack") or [] if f["slots"].get("tracking_id")
    ]
    if state.get("last_tracking_id"):
        ids.append(str(state["last_tracking_id"]))
    for match in (state.get("nlu") or {}).get("slots", {}).get("tracking_ids", []):
        if match.get("valid"):
            ids.append(match["normalized"])
    return list(dict.fromkeys(ids))


def _shipment(actions: list[dict[str, Any]]) -> dict[str, Any] | None:
    for action in reversed(actions):
        if action.get("tool") == "get_shipment_status" and action.get("ok"):
            result: dict[str, Any] = action.get("result") or {}
            return result
    return None


def summary_facts(state: ConversationState, reason: str, topic: str | None = None) -> SummaryFacts:
    """What the conversation knows, for the agents' summary."""
    stack = state.get("stack") or []
    nlu = state.get("nlu") or {}
    names = [i.get("name") for i in nlu.get("intents", [])]
    actions = _actions(state)
    moods = state.get("moods") or [
        {"sentiment": nlu.get("sentiment", 0.0), "upset": nlu.get("upset", False)}
    ]
    # The matter the customer came with: the oldest flow still open (later ones are digressions).
    intent = stack[0]["flow"] if stack else (state.get("flow_event") or {}).get("flow")
    if intent is None and "knowledge" in names:
        intent = "knowledge"
    if intent is None:
        # The flow already ended: what the assistant last did says what it was about.
        intent = next(
            (_TOOL_INTENT[a["tool"]] for a in reversed(actions) if a.get("tool") in _TOOL_INTENT),
            None,
        )
    case_id = next(
        (
            a["result"]["case_id"]
            for a in reversed(actions)
            if a.get("tool") == "create_case" and a.get("ok")
        ),
        None,
    )
    messages = [str(m["text"]) for m in state.get("transcript", []) if m.get("role") == "customer"]
    if state.get("text") and (not messages or messages[-1] != state["text"]):
        messages.append(str(state["text"]))
    return SummaryFacts(
        reason=reason,
        language=state.get("language", "en"),
        intent=intent,
        tracking_ids=tuple(_tracking_ids(state)),
        shipment=_shipment(actions),
        steps=tuple(actions),
        customer_messages=tuple(messages[-6:]),
        # The mood of the latest messages, not of the "yes" that accepted the offer.
        sentiment=min((float(m.get("sentiment", 0.0)) for m in moods), default=0.0),
        upset=any(m.get("upset") for m in moods),
        case_id=case_id,
        topic=topic,
    )


def _country(state: ConversationState) -> str:
    shipment = _shipment(_actions(state))
    if shipment and shipment.get("destination_country"):
        return str(shipment["destination_country"])
    return state.get("country") or _REGION.get(state.get("language", "en"), "DK")


def _hours(ctx: AssistantContext, country: str) -> BusinessHours | None:
    """The agents' hours for the country (else Denmark's, else none: always open)."""
    return ctx.business_hours.get(country) or ctx.business_hours.get("DK")


def _handoff_id(key: str) -> str:
    # Derived from the idempotency key: a re-run step makes the same id.
    return "H-" + uuid.uuid5(uuid.NAMESPACE_URL, f"budbringer:handoff:{key}").hex[:12].upper()


def _opening(io: TurnIO, opening: datetime | str) -> dict[str, str]:
    moment = datetime.fromisoformat(opening) if isinstance(opening, str) else opening
    return {"day": io.fmt.day(moment.astimezone(io.fmt.zone).date()), "time": io.fmt.clock(moment)}


def _minutes(wait: float) -> int:
    return max(1, round(wait))


def _action(reason: str, ok: bool, result: dict[str, Any]) -> dict[str, Any]:
    return {"tool": "handoff_to_agent", "arguments": {"reason": reason}, "ok": ok, "result": result}


def _hand_over(
    state: ConversationState, ctx: AssistantContext, io: TurnIO, task: Task
) -> dict[str, Any]:
    reason = task.get("reason") or "customer_request"
    offer = task.get("offer") or {}
    topic = task.get("topic") or offer.get("topic")
    turn = state.get("turn", 0)
    cid = state.get("conversation_id", "")
    stack = state.get("stack") or []
    if lead := _LEADS.get(reason):
        io.say(lead)
    record: dict[str, Any] = {"reason": reason, "topic": topic, "turn": turn}
    queue = ctx.handoffs
    if queue is None:
        # No queue configured (a bare engine, the terminal chat): the request is recorded only.
        io.say("handoff_started")
        io.actions.append(_action(reason, True, {"status": "requested"}))
        return {"handoff": {**record, "status": "requested"}, "stack": cancel_frames(stack)}
    now = ctx.clock.now()
    facts = summary_facts(state, reason, topic)
    value = facts.shipment.get("declared_value") if facts.shipment else None
    priority = priority_for(reason, declared_value_eur(value))
    country = _country(state)
    hours = _hours(ctx, country)
    agents_in = hours is None or hours.is_open(now)
    recent = queue.recent(now - _HISTORY)
    ahead = queue.waiting_count(priority)
    wait = estimate_wait(ahead + 1, recent, now)
    if agents_in and wait <= ctx.handoff_max_wait_minutes:
        key = f"{cid}:{turn}:live"
        handoff = queue.enqueue(
            Handoff(
                handoff_id=_handoff_id(key),
                conversation_id=cid,
                idempotency_key=key,
                created_at=now,
                priority=priority,
                language=state.get("language", "en"),
                reason=reason,  # type: ignore[arg-type]
                summary=build_summary(facts, ctx.agents_language, ctx.chat_model),
                mode="live",
                country=country,
            )
        )
        position = queue.position(handoff.handoff_id) or ahead + 1
        wait = estimate_wait(position, recent, now)
        io.say("handoff_started")
        io.say("handoff_queued", position=position, minutes=_minutes(wait))
        details = {
            "handoff_id": handoff.handoff_id,
            "status": handoff.status,
            "mode": "live",
            "priority": handoff.priority,
            "position": position,
            "wait_minutes": wait,
        }
        io.actions.append(_action(reason, True, details))
        return {"handoff": {**record, **details}, "stack": cancel_frames(stack)}

    # Agents away, or the wait too long: a callback or a case instead of an unanswered queue.
    opening = hours.next_opening(now) if hours is not None and not agents_in else None
    tracking_ids = _tracking_ids(state)
    case_possible = bool(tracking_ids)
    suffix = "" if case_possible else "_callback"
    if not agents_in and opening is not None:
        io.say(f"handoff_closed{suffix}", **_opening(io, opening))
    else:
        io.say(f"handoff_long_wait{suffix}", minutes=_minutes(wait))
    io.quick("qr_callback")
    if case_possible:
        io.quick("qr_case")
    category = next(
        (f["slots"].get("complaint_category") for f in reversed(stack) if f["flow"] == "complaint"),
        None,
    )
    why = "agents_away" if not agents_in else "wait_too_long"
    io.actions.append(_action(reason, False, {"reason": why, "wait_minutes": wait}))
    return {
        "handoff": {
            **record,
            "status": "offered",
            "offer": "alternatives" if case_possible else "callback_number",
            "why": why,
            "opens_at": opening.isoformat() if opening else None,
            "wait_minutes": wait,
            "case_possible": case_possible,
            "labels": [io.text("qr_callback"), io.text("qr_case")] if case_possible else [],
            "category": category,
            "tracking_id": tracking_ids[-1] if tracking_ids else None,
        }
    }


def _callback(
    state: ConversationState, ctx: AssistantContext, io: TurnIO, task: Task
) -> dict[str, Any]:
    offer = dict(task.get("offer") or {})
    reason = str(offer.get("reason") or task.get("reason") or "customer_request")
    nlu = state.get("nlu") or {}
    given = (nlu.get("slots") or {}).get("phone") or state.get("text", "")
    country = _country(state)
    try:
        phone = normalise_phone(given, country)
    except ValueError:
        if sum(c.isdigit() for c in given) >= _MIN_PHONE_DIGITS:
            io.say("handoff_invalid_phone", given=given.strip()[:40])
        else:
            io.say("handoff_ask_phone")
        return {"handoff": {**offer, "offer": "callback_number"}}
    turn = state.get("turn", 0)
    cid = state.get("conversation_id", "")
    record = {"reason": reason, "topic": offer.get("topic"), "turn": turn, "mode": "callback"}
    if offer.get("opens_at"):
        io.say("handoff_callback_booked_later", phone=phone, **_opening(io, offer["opens_at"]))
    else:
        io.say("handoff_callback_booked", phone=phone)
    if ctx.handoffs is None:
        io.actions.append(_action(reason, True, {"status": "requested", "mode": "callback"}))
        return {"handoff": {**record, "status": "callback"}}
    facts = summary_facts(state, reason, offer.get("topic"))
    value = facts.shipment.get("declared_value") if facts.shipment else None
    key = f"{cid}:{turn}:callback"
    handoff = ctx.handoffs.enqueue(
        Handoff(
            handoff_id=_handoff_id(key),
            conversation_id=cid,
            idempotency_key=key,
            created_at=ctx.clock.now(),
            priority=priority_for(reason, declared_value_eur(value)),
            language=state.get("language", "en"),
            reason=reason,  # type: ignore[arg-type]
            summary=build_summary(facts, ctx.agents_language, ctx.chat_model),
            mode="callback",
            country=country,
            callback_phone=phone,
        )
    )
    details = {"handoff_id": handoff.handoff_id, "mode": "callback", "priority": handoff.priority}
    io.actions.append(_action(reason, True, {**details, "status": handoff.status}))
    return {"handoff": {**record, **details, "status": "callback"}}


def _contact(state: ConversationState, country: str) -> dict[str, str] | None:
    """The email or phone the customer just gave (validated), as create_case arguments."""
    slots = (state.get("nlu") or {}).get("slots") or {}
    if slots.get("email"):
        return {"contact_email": str(slots["email"])}
    given = str(slots.get("phone") or state.get("text", "")).strip()
    if is_email(given):
        return {"contact_email": given}
    try:
        return {"contact_phone": normalise_phone(given, country)}
    except ValueError:
        return None


def _case(
    state: ConversationState, ctx: AssistantContext, io: TurnIO, task: Task
) -> dict[str, Any]:
    offer = dict(task.get("offer") or {})
    tracking_id = offer.get("tracking_id") or next(iter(_tracking_ids(state)[-1:]), None)
    if not tracking_id:
        return {"handoff": {**offer, "offer": "callback_number"}}
    contact = _contact(state, _country(state))
    if contact is None:
        if offer.get("offer") == "case_contact":
            io.say("invalid_contact", given=state.get("text", "").strip()[:60])
        else:
            io.say("ask_contact")
        return {"handoff": {**offer, "offer": "case_contact"}}
    labels = set(offer.get("labels", []))
    words = summary_facts(state, str(offer.get("reason", "customer_request"))).customer_messages
    # The customer's own account: not the button they pressed, not the contact just given.
    told = [m for m in words[:-1] if m not in labels and m != offer.get("asked_with")]
    description = redact(" / ".join(told[-3:]))[:2000]
    if len(description) < 3:
        description = io.text("qr_case")
    category = offer.get("category") or ("lost" if offer.get("topic") == "high_value" else "other")
    arguments = {
        "tracking_id": tracking_id,
        "category": category,
        "description": description,
        "language": io.language,
        **contact,
    }
    key = f"{state.get('conversation_id', '')}:{offer.get('turn', 0)}:handoff-case"
    action = io.call("create_case", arguments, idempotency_key=key)
    if not action.ok and action.result.get("reason") not in ("backend_unavailable",):
        # The category from the conversation did not hold (e.g. not delivered yet): "other" does.
        action = io.call(
            "create_case", {**arguments, "category": "other"}, idempotency_key=f"{key}:other"
        )
    if not action.ok:
        io.say("tool_failure")
        return {"handoff": None}
    result = action.result
    io.say(
        "handoff_case_opened",
        case_id=result["case_id"],
        tracking_id=result["tracking_id"],
        days=result.get("answer_within_working_days", 5),
    )
    return {
        "handoff": {
            "status": "case",
            "reason": offer.get("reason"),
            "topic": offer.get("topic"),
            "turn": state.get("turn", 0),
            "case_id": result["case_id"],
        }
    }
