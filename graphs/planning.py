"""Pure routing: from what the customer wrote and where the conversation stands, the turn's tasks.

No model, no I/O: unit-tested on its own (STYLE rule 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from assistant.understanding import Understanding
from graphs.state import FlowName, Frame, Task

__all__ = ["FLOW_OF_INTENT", "fills_awaited", "next_node", "plan"]

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
