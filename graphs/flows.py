"""Guided flows as data plus one engine (STYLE rule 5).

A `FlowSpec` lists the slots a flow needs, in order, each with how to ask for it and how to
resolve it (the tool calls that check it); plus what to confirm before the side effect, the side
effect itself, and how to finish. `advance` runs any spec: it asks for the first missing slot,
resolves what was given, asks for an explicit yes before a side effect, and performs it once,
under an idempotency key tied to the flow instance. Every loop is bounded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from assistant.carrier.rules import case_refusal_for
from assistant.domain import CaseCategory, EventCode
from assistant.handoff.triggers import declared_value_eur
from assistant.tools import is_email, normalise_phone
from assistant.understanding import Understanding
from graphs.state import FlowName, Frame
from graphs.turn_io import TurnIO

__all__ = ["FLOWS", "FlowSpec", "SlotSpec", "advance", "apply_understanding", "new_frame"]

MAX_REASKS = 2
MAX_STEPS = 12

Resolver = Callable[[Frame, TurnIO, datetime], bool]


@dataclass(frozen=True)
class SlotSpec:
    """One thing a flow needs from the customer."""

    name: str
    ask: str
    reask: str
    resolve: Resolver | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowSpec:
    name: FlowName
    slots: tuple[SlotSpec, ...]
    confirm: Callable[[Frame, TurnIO], None] | None = None
    execute: Callable[[Frame, TurnIO], bool] | None = None
    finish: Callable[[Frame, TurnIO, datetime], None] = field(default=lambda f, io, now: None)


def new_frame(flow: FlowName) -> Frame:
    return Frame(
        id=uuid.uuid4().hex[:12],
        flow=flow,
        slots={},
        resolved=[],
        awaiting=None,
        reasks={},
        facts={},
        confirmed=False,
        status="active",
    )


# --- filling slots from what the customer wrote --------------------------------------------
def _tracking_id(nlu: Understanding) -> str | None:
    """The one valid id in the message; several different ones need a clarifying question."""
    valid = list(dict.fromkeys(m.normalized for m in nlu.slots.tracking_ids if m.valid))
    return valid[0] if len(valid) == 1 else None


def _contact(nlu: Understanding) -> str | None:
    return nlu.slots.email or nlu.slots.phone


def _forget(frame: Frame, spec: FlowSpec, slot: str) -> None:
    """Drop a slot's resolution and everything that depends on it (a corrected answer)."""
    dropped = {slot}
    for s in spec.slots:
        if set(s.depends_on) & dropped:
            dropped.add(s.name)
            frame["slots"].pop(s.name, None)
    frame["resolved"] = [r for r in frame["resolved"] if r not in dropped]
    frame["confirmed"] = False


def apply_understanding(
    frame: Frame, spec: FlowSpec, nlu: Understanding, *, first: bool, overwrite: bool = False
) -> list[str]:
    """Put what the message says into the frame's slots; return the names that changed.

    A filled slot changes only when it is the one asked for, when the customer corrects it, or
    with `overwrite` (before a confirmation, any new value is a change of mind).
    """
    values: dict[str, Any] = {}
    if (tid := _tracking_id(nlu)) is not None:
        values["tracking_id"] = tid
    else:
        several = list(dict.fromkeys(m.normalized for m in nlu.slots.tracking_ids if m.valid))
        if len(several) > 1:
            frame["facts"]["candidates"] = several
    if (
        nlu.slots.choice is not None
        and frame["facts"].get("candidates")
        and frame["awaiting"] == "tracking_id"
    ):
        candidates = frame["facts"]["candidates"]
        if 0 <= nlu.slots.choice < len(candidates):
            values["tracking_id"] = candidates[nlu.slots.choice]
    if nlu.slots.postcodes:
        values["postcode"] = nlu.slots.postcodes[0]
    if nlu.slots.choice is not None and frame["facts"].get("options"):
        values["redirect_option"] = nlu.slots.choice
    if nlu.slots.dates and frame["facts"].get("options"):
        days = [o.get("day") for o in frame["facts"]["options"]]
        wanted = nlu.slots.dates[0].isoformat()
        if wanted in days:
            values["redirect_option"] = days.index(wanted)
    for intent in nlu.intents:
        if intent.name == "complaint" and intent.category is not None:
            values["complaint_category"] = intent.category.value
        if intent.name == "redirect" and intent.redirect_kind and frame["facts"].get("options"):
            kinds = [o["kind"] for o in frame["facts"]["options"]]
            if kinds.count(intent.redirect_kind) == 1:
                values["redirect_option"] = kinds.index(intent.redirect_kind)
    if (contact := _contact(nlu)) is not None:
        values["contact"] = contact
    awaiting = frame["awaiting"]
    if awaiting == "description" and len(nlu.text.strip()) >= 3 and not _is_only_control(nlu):
        values["description"] = nlu.text.strip()
    if first and spec.name == "complaint" and _descriptive(nlu):
        values.setdefault("description", nlu.text.strip())
    if awaiting == "contact" and "contact" not in values and nlu.text.strip():
        values["contact"] = nlu.text.strip()  # resolved (validated) below; invalid text is re-asked

    correcting = overwrite or any(i.name == "correction" for i in nlu.intents)
    changed: list[str] = []
    names = {s.name for s in spec.slots}
    for name, value in values.items():
        if name not in names:
            continue
        current = frame["slots"].get(name)
        if current is None or name == awaiting or (correcting and current != value):
            if current is not None and current != value:
                _forget(frame, spec, name)
            if current != value:
                frame["slots"][name] = value
                if name in frame["resolved"]:
                    frame["resolved"].remove(name)
                changed.append(name)
    return changed


def _descriptive(nlu: Understanding) -> bool:
    """A first complaint message long enough to be the case description itself."""
    text = nlu.text
    for match in nlu.slots.tracking_ids:
        text = text.replace(match.raw, " ")
    return len(text.split()) >= 10


def _is_only_control(nlu: Understanding) -> bool:
    names = {i.name for i in nlu.intents}
    return bool(names) and names <= {"yes", "no", "cancel", "thanks", "greeting", "human"}


# --- the engine -----------------------------------------------------------------------------
def advance(spec: FlowSpec, frame: Frame, io: TurnIO, now: datetime, *, answered: bool) -> None:
    """Move the flow as far as it can go this turn.

    `answered` says whether this message was addressed to the flow's open question; if the
    question is still open afterwards, that counts as a re-ask (at most two, then a person is offered).
    """
    for _ in range(MAX_STEPS):
        if frame["status"] != "active":
            return
        pending = _next_slot(spec, frame)
        if pending is not None:
            slot, filled = pending
            if not filled:
                _ask(slot, frame, io, reask=answered and frame["awaiting"] == slot.name)
                return
            assert slot.resolve is not None
            if not slot.resolve(frame, io, now):
                if frame["status"] != "active":
                    return
                frame["slots"].pop(slot.name, None)
                _ask(slot, frame, io, reask=True, quiet=True)
                return
            frame["resolved"].append(slot.name)
            continue
        if spec.confirm and not frame["confirmed"]:
            spec.confirm(frame, io)
            frame["awaiting"] = "confirmation"
            io.quick("qr_yes", "qr_no")
            return
        if spec.execute and not spec.execute(frame, io):
            return
        spec.finish(frame, io, now)
        if frame["status"] == "active":
            frame["status"] = "completed"
        frame["awaiting"] = None
        return


def _next_slot(spec: FlowSpec, frame: Frame) -> tuple[SlotSpec, bool] | None:
    for slot in spec.slots:
        if slot.name not in frame["slots"]:
            return slot, False
        if slot.resolve is not None and slot.name not in frame["resolved"]:
            return slot, True
    return None


def _ask(slot: SlotSpec, frame: Frame, io: TurnIO, *, reask: bool, quiet: bool = False) -> None:
    """Ask for a slot; after two failed answers in a row offer a person, after three hand over.

    The node turns `facts["offer_human"]` into a standing offer and `facts["handoff"]` into a
    handoff (reason `repeated_failure`, assistant/handoff/triggers.py).
    """
    if reask:
        count = frame["reasks"].get(slot.name, 0) + 1
        frame["reasks"][slot.name] = count
        if count > MAX_REASKS:
            frame["facts"]["handoff"] = {"reason": "repeated_failure"}
            frame["awaiting"] = slot.name
            return
        if count == MAX_REASKS:
            frame["facts"]["offer_human"] = "repeated_failure"
            io.say("offer_human")
            io.quick("qr_yes", "qr_no")
            frame["awaiting"] = slot.name
            return
    frame["awaiting"] = slot.name
    if slot.name == "redirect_option":
        _show_options(frame, io, reask=reask)
    elif slot.name == "tracking_id" and frame["facts"].get("candidates") and not quiet:
        candidates = frame["facts"]["candidates"]
        io.say("which_parcel", ids=", ".join(candidates))
        io.quick_labels(candidates)
    elif not quiet:
        io.say(slot.reask if reask else slot.ask)


# --- resolvers ------------------------------------------------------------------------------
def _status(frame: Frame, io: TurnIO, now: datetime) -> bool:
    """Look the parcel up; explain an unknown id (typo, label only, another carrier)."""
    tid = frame["slots"]["tracking_id"]
    action = io.call(
        "get_shipment_status", {"tracking_id": tid}, verification=frame["facts"].get("token")
    )
    if not action.ok:
        reason = action.result.get("reason")
        if reason == "not_found":
            corrections = action.result.get("corrections") or []
            if len(corrections) == 1:
                io.say("tracking_id_typo", given=tid, suggestion=corrections[0])
            else:
                io.say("not_found", tracking_id=tid)
            return False
        _tool_failure(frame, io, action.result)
        return False
    frame["facts"]["status"] = action.result
    return True


def _tool_failure(frame: Frame, io: TurnIO, result: dict[str, Any]) -> None:
    frame["facts"]["tool_failure"] = result.get("reason")
    io.say("tool_failure")
    io.quick("qr_human")
    if result.get("reason") == "backend_unavailable":
        # Passing: the flow stays where it was, so answering again retries the step; a side
        # effect that failed needs a new yes (its idempotency key keeps it from happening twice).
        frame["confirmed"] = False
        return
    frame["status"] = "refused"


def _redirect_status(frame: Frame, io: TurnIO, now: datetime) -> bool:
    if not _status(frame, io, now):
        return False
    status = frame["facts"]["status"]
    if not status["redirect_possible"]:
        _refuse_redirect(frame, io, status["redirect_refusal"], "")
        return False
    return True


def _refuse_redirect(frame: Frame, io: TurnIO, reason: str, explanation: str) -> None:
    key = f"refused_{reason}"
    tid = frame["slots"]["tracking_id"]
    if io.catalogue.has(key):
        io.say(key, tracking_id=tid)
    else:
        io.say("refused_other", tracking_id=tid, explanation=explanation or reason)
    frame["facts"]["refusal"] = reason
    frame["status"] = "refused"


def _verify(frame: Frame, io: TurnIO, now: datetime) -> bool:
    tid = frame["slots"]["tracking_id"]
    given = frame["slots"]["postcode"]
    action = io.call("verify_recipient", {"tracking_id": tid, "postcode": given})
    if not action.ok:
        reason = action.result["reason"]
        if reason == "postcode_mismatch":
            left = action.result.get("attempts_left", 0)
            if left <= 0 and action.result.get("locked_until"):
                # The last try failed: changes are locked now, not "one more try".
                io.say("verification_locked", until=io.fmt.clock(action.result["locked_until"]))
                frame["facts"]["refusal"] = "verification_locked"
            else:
                io.say(
                    "postcode_mismatch" if left > 1 else "postcode_mismatch_last",
                    attempts_left=left,
                )
            if left <= 0:
                frame["status"] = "refused"
            return False
        if reason == "verification_locked":
            io.say("verification_locked", until=io.fmt.clock(action.result["locked_until"]))
            frame["facts"]["refusal"] = reason
            frame["status"] = "refused"
            return False
        if reason in ("invalid_postcode", "invalid_arguments"):
            country = frame["facts"].get("status", {}).get("destination_country", "")
            io.say(
                "invalid_postcode",
                given=given,
                country=country,
                expected=action.result.get("expected", "digits"),
            )
            return False
        _tool_failure(frame, io, action.result)
        return False
    frame["facts"]["token"] = action.private.get("token")
    options = io.call(
        "list_redirect_options", {"tracking_id": tid}, verification=frame["facts"]["token"]
    )
    if not options.ok:
        _refuse_redirect(frame, io, options.result["reason"], options.result.get("explanation", ""))
        return False
    frame["facts"]["options"] = options.result["options"]
    wanted = frame["facts"].get("wanted_kind")
    kinds = [o["kind"] for o in frame["facts"]["options"]]
    if kinds.count(wanted) == 1 and "redirect_option" not in frame["slots"]:
        # "can it go to my door?": one option of that kind, so the customer already chose it
        # (still confirmed explicitly below). "to a service point" leaves the choice open.
        frame["slots"]["redirect_option"] = kinds.index(wanted)
    return True


def _option_label(option: dict[str, Any], n: int, io: TurnIO) -> str:
    point = option.get("service_point")
    if option["kind"] in ("service_point", "locker") and point:
        key = "option_locker" if option["kind"] == "locker" else "option_service_point"
        return io.text(key, n=n, name=point["name"], street=point["street"], city=point["city"])
    if option["kind"] == "door":
        return io.text("option_door", n=n)
    return io.text("option_day", n=n, day=io.fmt.day(option["day"]))


def offered_labels(frame: Frame, io: TurnIO) -> list[str]:
    return [_option_label(o, i + 1, io) for i, o in enumerate(frame["facts"].get("options", []))]


def _show_options(frame: Frame, io: TurnIO, *, reask: bool) -> None:
    lines = [
        io.text("options_intro"),
        *offered_labels(frame, io),
        io.text("reask_option" if reask else "ask_option"),
    ]
    io.say_lines("options", lines)


def _choose_option(frame: Frame, io: TurnIO, now: datetime) -> bool:
    options = frame["facts"].get("options", [])
    choice = frame["slots"]["redirect_option"]
    if not isinstance(choice, int) or not 0 <= choice < len(options):
        io.say("option_not_available")
        return False
    frame["facts"]["option"] = options[choice]
    return True


def _target(option: dict[str, Any], io: TurnIO) -> str:
    point = option.get("service_point")
    if point:
        return f"{point['name']}, {point['street']}, {point['postcode']} {point['city']}"
    if option["kind"] == "day":
        return io.fmt.day(option["day"])
    return ""


def _confirm_redirect(frame: Frame, io: TurnIO) -> None:
    option = frame["facts"]["option"]
    kind = {"service_point": "point", "locker": "point"}.get(option["kind"], option["kind"])
    io.say(
        f"confirm_redirect_{kind}",
        tracking_id=frame["slots"]["tracking_id"],
        target=_target(option, io),
    )


def _execute_redirect(frame: Frame, io: TurnIO) -> bool:
    option = frame["facts"]["option"]
    action = io.call(
        "redirect_delivery",
        {"tracking_id": frame["slots"]["tracking_id"], "option_id": option["option_id"]},
        verification=frame["facts"].get("token"),
        idempotency_key=f"{io.conversation_id}:{frame['id']}:redirect",
    )
    if not action.ok:
        if action.result.get("reason") == "backend_unavailable":
            _tool_failure(frame, io, action.result)
            return False
        _refuse_redirect(frame, io, action.result["reason"], action.result.get("explanation", ""))
        return False
    frame["facts"]["result"] = action.result
    return True


def _finish_redirect(frame: Frame, io: TurnIO, now: datetime) -> None:
    option = frame["facts"]["option"]
    kind = {"service_point": "point", "locker": "point"}.get(option["kind"], option["kind"])
    io.say(
        f"redirect_done_{kind}",
        tracking_id=frame["slots"]["tracking_id"],
        target=_target(option, io),
    )


def _finish_track(frame: Frame, io: TurnIO, now: datetime) -> None:
    """Status in plain words, what happens next, the ETA, and a redirect offer when possible."""
    status = frame["facts"]["status"]
    tid = status["tracking_id"]
    code = status["status"]
    event = status["last_event"]
    io.say(
        f"status_{code}",
        tracking_id=tid,
        event_place=event["location"],
        event_time=io.fmt.moment(event["at"]),
    )
    point = status.get("service_point")
    if code == EventCode.AVAILABLE_FOR_PICKUP and point and status.get("pickup_deadline"):
        where = f"{point['name']}, {point['street']}, {point['city']}"
        key = "next_locker" if point.get("type") == "locker" else "next_pickup"
        io.say(key, point=where, deadline=io.fmt.day(status["pickup_deadline"]))
    elif (
        code == EventCode.CUSTOMS_HOLD
        and status.get("customs")
        and status["customs"].get("amount_due")
    ):
        due = status["customs"]["amount_due"]
        io.say("next_customs", amount=io.fmt.money(due["amount"], due["currency"]))
    elif code == EventCode.INFORMATION_RECEIVED:
        io.say("next_label_only")
    elif code == EventCode.DELIVERY_ATTEMPTED:
        io.say("next_attempted")
    elif code == EventCode.RETURNED_TO_SENDER:
        io.say("next_returned")
    elif code == EventCode.DAMAGED_IN_TRANSIT:
        io.say("next_damaged")
    if code not in (
        EventCode.DELIVERED,
        EventCode.RETURNED_TO_SENDER,
        EventCode.DAMAGED_IN_TRANSIT,
        EventCode.AVAILABLE_FOR_PICKUP,
    ):
        _say_eta(frame, io)
        if status.get("days_since_last_scan", 0) >= 5 and code != EventCode.INFORMATION_RECEIVED:
            io.say("next_stalled", days=status["days_since_last_scan"])
    if status.get("signature_required") and code not in (
        EventCode.DELIVERED,
        EventCode.RETURNED_TO_SENDER,
    ):
        io.say("next_signature")
    if status.get("redirect_possible"):
        io.say("offer_redirect")
        io.quick("qr_redirect")


def _say_eta(frame: Frame, io: TurnIO) -> None:
    tid = frame["slots"]["tracking_id"]
    action = io.call("predict_eta", {"tracking_id": tid})
    if not action.ok:
        return
    eta = action.result
    frame["facts"]["eta"] = eta
    if eta.get("window_start") and eta.get("window_end"):
        io.say(
            "eta_window",
            start=io.fmt.clock(eta["window_start"]),
            end=io.fmt.clock(eta["window_end"]),
        )
    elif eta["latest"] != eta["most_likely"]:
        io.say(
            "eta_range",
            most_likely=io.fmt.day(eta["most_likely"]),
            latest=io.fmt.day(eta["latest"]),
        )
    else:
        io.say("eta_day", most_likely=io.fmt.day(eta["most_likely"]))
    promised = eta.get("promised_date")
    if promised and eta["most_likely"] > promised:
        io.say("eta_late", promised=io.fmt.day(promised))


def _category_ok(frame: Frame, io: TurnIO, now: datetime) -> bool:
    raw = frame["slots"]["complaint_category"]
    try:
        category = CaseCategory(raw)
    except ValueError:
        return False
    status = frame["facts"]["status"]
    refusal = case_refusal_for(
        category,
        now=now,
        country=status["destination_country"],
        status=EventCode(status["status"]),
        delivered=datetime.fromisoformat(status["delivered_at"])
        if status.get("delivered_at")
        else None,
        last_scan=datetime.fromisoformat(status["last_event"]["at"]),
        promised=date.fromisoformat(status["promised_date"])
        if status.get("promised_date")
        else None,
        damaged_in_transit=bool(status.get("damaged_in_transit")),
    )
    if refusal is None:
        return not _needs_person(frame, category, status)
    name = io.text(f"category_{category.value}")
    tid = frame["slots"]["tracking_id"]
    if refusal.reason == "not_eligible_yet":
        io.say(
            "ineligible_not_eligible_yet",
            category=name,
            tracking_id=tid,
            explanation=refusal.explanation,
        )
        if refusal.details.get("eligible_from"):
            io.say("ineligible_from", date=io.fmt.day(refusal.details["eligible_from"]))
    elif refusal.reason == "not_lost":
        io.say(
            "ineligible_not_lost",
            tracking_id=tid,
            status=io.text(
                f"status_{status['status']}",
                tracking_id=tid,
                event_place=status["last_event"]["location"],
                event_time=io.fmt.moment(status["last_event"]["at"]),
            ),
        )
    else:
        io.say(f"ineligible_{refusal.reason}", category=name, tracking_id=tid)
    io.say("ineligible_contact_sender")
    frame["facts"]["refusal"] = refusal.reason
    frame["status"] = "refused"
    return False


def _needs_person(frame: Frame, category: CaseCategory, status: dict[str, Any]) -> bool:
    """A lost parcel worth more than the limit goes to a person (handoff reason `policy`)."""
    limit = frame["facts"].get("value_limit_eur")
    value = declared_value_eur(status.get("declared_value"))
    if category is not CaseCategory.LOST or limit is None or value is None or value <= limit:
        return False
    frame["facts"]["handoff"] = {"reason": "policy", "topic": "high_value"}
    frame["facts"]["refusal"] = "needs_person"
    frame["status"] = "refused"
    frame["awaiting"] = None
    return True


def _contact_ok(frame: Frame, io: TurnIO, now: datetime) -> bool:
    given = str(frame["slots"]["contact"]).strip()
    if is_email(given):
        frame["facts"]["contact"] = {"contact_email": given}
        return True
    try:
        phone = normalise_phone(
            given, frame["facts"].get("status", {}).get("destination_country", "DK")
        )
    except ValueError:
        io.say("invalid_contact", given=given[:60])
        return False
    frame["slots"]["contact"] = phone
    frame["facts"]["contact"] = {"contact_phone": phone}
    return True


def _confirm_case(frame: Frame, io: TurnIO) -> None:
    io.say(
        "confirm_case",
        category=io.text(f"category_{frame['slots']['complaint_category']}"),
        tracking_id=frame["slots"]["tracking_id"],
        contact=frame["slots"]["contact"],
    )


def _execute_case(frame: Frame, io: TurnIO) -> bool:
    arguments = {
        "tracking_id": frame["slots"]["tracking_id"],
        "category": frame["slots"]["complaint_category"],
        "description": str(frame["slots"]["description"])[:2000],
        "language": io.language,
        **frame["facts"]["contact"],
    }
    action = io.call(
        "create_case", arguments, idempotency_key=f"{io.conversation_id}:{frame['id']}:case"
    )
    if not action.ok:
        if action.result.get("reason") == "backend_unavailable":
            _tool_failure(frame, io, action.result)
        else:
            io.say(
                "refused_other",
                tracking_id=frame["slots"]["tracking_id"],
                explanation=action.result.get("explanation", ""),
            )
            frame["status"] = "refused"
        return False
    frame["facts"]["result"] = action.result
    return True


def _finish_case(frame: Frame, io: TurnIO, now: datetime) -> None:
    result = frame["facts"]["result"]
    io.say(
        "case_done",
        case_id=result["case_id"],
        contact=frame["slots"]["contact"],
        tracking_id=frame["slots"]["tracking_id"],
    )
    if frame["slots"]["complaint_category"] == CaseCategory.DAMAGED:
        io.say("case_advice_damaged")


TRACKING_ID = "tracking_id"
FLOWS: dict[str, FlowSpec] = {
    "track_parcel": FlowSpec(
        name="track_parcel",
        slots=(SlotSpec(TRACKING_ID, "ask_tracking_id", "reask_tracking_id", _status),),
        finish=_finish_track,
    ),
    "redirect_delivery": FlowSpec(
        name="redirect_delivery",
        slots=(
            SlotSpec(TRACKING_ID, "ask_tracking_id", "reask_tracking_id", _redirect_status),
            SlotSpec(
                "postcode", "ask_postcode", "reask_postcode", _verify, depends_on=(TRACKING_ID,)
            ),
            SlotSpec(
                "redirect_option",
                "ask_option",
                "reask_option",
                _choose_option,
                depends_on=("postcode",),
            ),
        ),
        confirm=_confirm_redirect,
        execute=_execute_redirect,
        finish=_finish_redirect,
    ),
    "complaint": FlowSpec(
        name="complaint",
        slots=(
            SlotSpec(TRACKING_ID, "ask_tracking_id", "reask_tracking_id", _status),
            SlotSpec(
                "complaint_category",
                "ask_category",
                "reask_category",
                _category_ok,
                depends_on=(TRACKING_ID,),
            ),
            SlotSpec("description", "ask_description", "reask_description"),
            SlotSpec("contact", "ask_contact", "reask_contact", _contact_ok),
        ),
        confirm=_confirm_case,
        execute=_execute_case,
        finish=_finish_case,
    ),
}
