"""Pure routing: from what the customer wrote and where the conversation stands, the turn's tasks.

No model, no I/O: unit-tested on its own (STYLE rule 4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from assistant.handoff.triggers import frustration
from assistant.understanding import Understanding
from graphs.state import FlowName, Frame, Task

__all__ = ["FLOW_OF_INTENT", "fills_awaited", "handoff_tasks", "next_node", "plan"]

FLOW_OF_INTENT: dict[str, FlowName] = {
    "track": "track_parcel",
    "redirect": "redirect_delivery",
    "complaint": "complaint",
}
MAX_TASKS = 4


def fills_awaited(frame: Frame, nlu: Understanding) -> bool:
    """Whether the message answers the question the flow just asked."""
    awaiting = frame["awaiting"]
    names = {i.name for i in nlu.intents}
    slots = nlu.slots
    if awaiting == "tracking_id":
        return bool(slots.tracking_ids) or (
            bool(frame["facts"].get("suggestion")) and "yes" in names
        )
    if awaiting == "postcode":
        return bool(slots.postcodes)
    if awaiting == "redirect_option":
        kinds = {i.redirect_kind for i in nlu.intents if i.redirect_kind}
        return slots.choice is not None or bool(slots.dates) or bool(kinds)
    if awaiting == "confirmation":
        return bool(names & {"yes", "no"})
    if awaiting == "complaint_category":
        return any(i.name == "complaint" and i.category for i in nlu.intents)
    if awaiting == "description":
        question = "knowledge" in names and nlu.text.rstrip().endswith("?")
        return bool(nlu.text.strip()) and not question and not names & {"cancel", "human"}
    if awaiting == "contact":
        return bool(slots.email or slots.phone) or not (names - {"correction"})
    return False


def plan(stack: list[Frame], nlu: Understanding) -> list[Task]:
    """The tasks of this turn, in the order the customer asked for them."""
    top = stack[-1] if stack else None
    names = [i.name for i in nlu.intents]
    if not nlu.text.strip():
        return [Task(kind="smalltalk", intent="empty")]
    if "human" in names:
        return [Task(kind="handoff", reason="customer_request")]
    if "cancel" in names:
        return (
            [Task(kind="cancel")] if top else [Task(kind="smalltalk", intent="nothing_to_cancel")]
        )

    tasks: list[Task] = []
    continuing = top is not None and (fills_awaited(top, nlu) or "correction" in names)
    if continuing:
        tasks.append(Task(kind="flow"))
    for intent in nlu.intents:
        flow = FLOW_OF_INTENT.get(intent.name)
        if flow is not None:
            if top is not None and top["flow"] == flow:
                if not continuing:
                    tasks.append(Task(kind="flow"))
                    continuing = True
                continue
            ids = _valid_ids(nlu)
            if flow == "track_parcel" and len(ids) > 1:
                # "where are X and Y?": one tracking per parcel, in the order given.
                tasks.extend(Task(kind="start_flow", flow=flow, tracking_id=i) for i in ids)
                continue
            if not ids and _general_question(nlu):
                # "When can I open a case for a late parcel?" asks how things work: answer from
                # the help centre first, then the flow asks for the parcel as usual.
                tasks.append(Task(kind="answer"))
            tasks.append(
                Task(
                    kind="start_flow",
                    flow=flow,
                    category=intent.category.value if intent.category else None,
                    redirect_kind=intent.redirect_kind,
                )
            )
        elif intent.name == "knowledge":
            tasks.append(Task(kind="answer"))
    if not tasks:
        tasks = _smalltalk(top, names)
        if tasks == [Task(kind="smalltalk", intent="unknown")] and _looks_like_a_question(nlu):
            # Not one of ours by the rules: let the help centre try (it abstains when off-topic).
            tasks = [Task(kind="answer")]
    elif top is not None and not continuing:
        tasks.append(Task(kind="flow", intent="resume"))
    return _dedupe(tasks)[:MAX_TASKS]


_DIGITS = re.compile(r"\d")
_MIN_PHONE_DIGITS = 6
_NO_REOFFER_TURNS = 3
_POLITE = frozenset({"thanks", "greeting"})


def handoff_tasks(
    tasks: list[Task],
    nlu: Understanding,
    *,
    stack: list[Frame],
    offer: dict[str, Any] | None,
    moods: Sequence[dict[str, Any]],
    topic: str | None,
    turn: int,
    declined_turn: int | None = None,
) -> list[Task]:
    """The turn's tasks with the handoff triggers applied (assistant/handoff/triggers.py).

    A standing offer is answered first: yes (or "a person") hands over for the offer's reason,
    no declines it; a phone number or a pick from the offered callback/case options takes that
    path. Then policy topics hand over at once (after what else the customer asked), and a
    frustrated customer is offered a person, or handed over when still upset right after an offer.
    """
    names = {i.name for i in nlu.intents}
    resume = [Task(kind="flow", intent="resume")] if stack else []
    if offer is not None:
        kind = offer.get("offer")
        reason = str(offer.get("reason", "customer_request"))
        declined = [Task(kind="smalltalk", intent="handoff_declined"), *resume]
        if kind == "person":
            if names & {"yes", "human"} and not names - {"yes", "human"} - _POLITE:
                return [Task(kind="handoff", reason=reason, mode="force", offer=offer)]
            if "no" in names and not names - {"no"} - _POLITE:
                return declined
        elif kind in ("alternatives", "callback_number", "case_contact"):
            digits = len(_DIGITS.findall(nlu.text))
            if names & {"no", "cancel"} and not digits:
                return declined
            if kind == "case_contact" and (nlu.slots.email or "@" in nlu.text or digits):
                return [Task(kind="handoff", reason=reason, step="case", offer=offer)]
            if kind == "callback_number" and digits:
                return [Task(kind="handoff", reason=reason, step="callback", offer=offer)]
            if kind == "alternatives":
                if nlu.slots.phone or digits >= _MIN_PHONE_DIGITS:
                    return [Task(kind="handoff", reason=reason, step="callback", offer=offer)]
                if nlu.slots.choice == 1 and offer.get("case_possible"):
                    return [Task(kind="handoff", reason=reason, step="case", offer=offer)]
                if nlu.slots.choice == 0 or "human" in names:
                    return [Task(kind="handoff", reason=reason, step="callback", offer=offer)]
    if topic is not None:
        # A person takes the matter over: help-centre answers still help, flows would only ask
        # questions nobody will use (and "delete my data, put me through" is still policy).
        kept = [t for t in tasks if t["kind"] == "answer"]
        return [*kept, Task(kind="handoff", reason="policy", topic=topic, mode="force")]
    if any(t["kind"] == "handoff" for t in tasks):
        return tasks
    if frustration(moods):
        if offer is not None and offer.get("reason") == "frustration":
            return [*tasks, Task(kind="handoff", reason="frustration", mode="force")]
        if declined_turn is None or turn - declined_turn > _NO_REOFFER_TURNS:
            return [*tasks, Task(kind="handoff", reason="frustration", mode="offer")]
    return tasks


def _smalltalk(top: Frame | None, names: Sequence[str]) -> list[Task]:
    if top is not None:
        # Addressed to the open question but not answering it: the flow re-asks (and counts).
        if "greeting" in names or "thanks" in names:
            return [Task(kind="smalltalk", intent=names[0]), Task(kind="flow", intent="resume")]
        return [Task(kind="flow")]
    for name, intent in (
        ("greeting", "greeting"),
        ("thanks", "thanks"),
        ("yes", "nothing_to_confirm"),
        ("no", "nothing_to_decline"),
        ("correction", "nothing_to_correct"),
    ):
        if name in names:
            return [Task(kind="smalltalk", intent=intent)]
    return [Task(kind="smalltalk", intent="unknown")]


# Words that open a question about how things work ("how", "when", "what does it cost"), not a
# request about one parcel ("can you", "where is"), in the five languages.
_GENERAL_QUESTION = re.compile(
    r"^(?:(?:after|within|efter|etter|inom|innen) )?"
    r"(?:what|how|why|when|which|does|do|hvad|hvordan|hvorfor|hvornår|hvilke|hvilken|koster"
    r"|hvor (?:mange|længe|lang|meget|lenge|mye)|where (?:do|can|should) i"
    r"|hvor (?:finder|finner|kan) jeg|var (?:hittar|kan) jag"
    r"|vad|hur|varför|när|vilka|vilken|kostar|hva|når|mikä|mitkä|mitä|miten|kuinka|miksi"
    r"|milloin|paljonko|kauanko|montako|monenko|maksaako|mistä)\b",
    re.IGNORECASE,
)


def _general_question(nlu: Understanding) -> bool:
    return bool(_GENERAL_QUESTION.match(nlu.text.strip()))


def _looks_like_a_question(nlu: Understanding) -> bool:
    text = nlu.text.strip()
    return text.endswith("?") or len(text.split()) >= 4


def _valid_ids(nlu: Understanding) -> list[str]:
    return list(dict.fromkeys(m.normalized for m in nlu.slots.tracking_ids if m.valid))


def _dedupe(tasks: list[Task]) -> list[Task]:
    seen: set[tuple[str | None, ...]] = set()
    unique: list[Task] = []
    for task in tasks:
        key = (task.get("kind"), task.get("flow"), task.get("tracking_id"))
        if key not in seen:
            seen.add(key)
            unique.append(task)
    return unique


def next_node(tasks: list[Task]) -> Literal["flow", "answer", "handoff", "smalltalk", "respond"]:
    """The node that handles the first task, or `respond` when the turn's work is done."""
    if not tasks:
        return "respond"
    kind = tasks[0]["kind"]
    if kind in ("flow", "start_flow", "cancel"):
        return "flow"
    if kind == "answer":
        return "answer"
    if kind == "handoff":
        return "handoff"
    return "smalltalk"
