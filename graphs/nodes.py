"""Graph nodes. Each takes the state and `Runtime[AssistantContext]` and returns an update."""

from __future__ import annotations

import copy
import logging
import unicodedata
from typing import Any, cast

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from assistant.handoff.triggers import policy_topic
from assistant.understanding import Lang
from graphs.context import AssistantContext
from graphs.flows import FLOWS, advance, apply_understanding, new_frame, offered_labels
from graphs.handoff_node import handoff_step, offer_person
from graphs.llm_replies import add_knowledge_answer, rewrite_replies
from graphs.nlu_codec import nlu_from_dict, nlu_to_dict
from graphs.planning import handoff_tasks, plan
from graphs.state import ConversationState, Frame, Task
from graphs.turn_io import TurnIO

log = logging.getLogger(__name__)

__all__ = ["answer", "confirm", "flow", "handoff", "respond", "smalltalk", "understand"]

ENDED = ("completed", "refused", "cancelled")
MOODS_KEPT = 3
STEPS_KEPT = 24


def _clean(text: str, limit: int) -> tuple[str, bool]:
    """Control characters out, whitespace folded, at most `limit` characters."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    cleaned = " ".join(cleaned.split())
    return cleaned[:limit], len(cleaned) > limit


def _io(state: ConversationState, ctx: AssistantContext) -> TurnIO:
    top = state.get("stack") or []
    country = state.get("country")
    if top and top[-1]["facts"].get("status"):
        country = top[-1]["facts"]["status"].get("destination_country", country)
    return TurnIO(
        ctx.catalogue,
        ctx.tools,
        language=state.get("language", "en"),
        country=country,
        turn=state.get("turn", 0),
        conversation_id=state.get("conversation_id", ""),
    )


def _merge(state: ConversationState, io: TurnIO, **extra: Any) -> dict[str, Any]:
    update: dict[str, Any] = {
        "out": [*state.get("out", []), *io.replies],
        "actions": [*state.get("actions", []), *io.actions],
        "quick_replies": [
            *state.get("quick_replies", []),
            *[q for q in io.quick_replies if q not in state.get("quick_replies", [])],
        ],
        "tasks": state.get("tasks", [])[1:],
    }
    update.update(extra)
    return update


def understand(state: ConversationState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Start of a turn: clean the text, understand it, plan the turn's tasks."""
    ctx = runtime.context
    text, truncated = _clean(state.get("text", ""), ctx.max_message_chars)
    stack = state.get("stack") or []
    top = stack[-1] if stack else None
    offered: list[str] = []
    if (
        top
        and top["awaiting"] in ("redirect_option", "confirmation")
        and top["facts"].get("options")
    ):
        probe = TurnIO(
            ctx.catalogue,
            ctx.tools,
            language=state.get("language", "en"),
            country=None,
            turn=0,
            conversation_id="",
        )
        offered = offered_labels(top, probe)
    elif top and top["awaiting"] == "tracking_id" and top["facts"].get("candidates"):
        offered = list(top["facts"]["candidates"])
    expecting = top["awaiting"] if top else None
    previous = state.get("handoff") or {}
    offer = previous if previous.get("status") == "offered" else None
    if offer is not None and offer.get("offer") == "alternatives":
        offered, expecting = list(offer.get("labels", [])), None
    elif offer is not None and offer.get("offer") == "callback_number":
        offered, expecting = [], "contact"
    nlu = ctx.understander.understand(
        text,
        conversation_language=cast("Lang | None", state.get("language")),
        country=state.get("country"),
        now=ctx.clock.now(),
        offered=offered,
        expecting=expecting,
    )
    turn = state.get("turn", 0) + 1
    mood = {"sentiment": nlu.sentiment, "upset": nlu.upset, "shouting": nlu.shouting}
    moods = [*state.get("moods", []), mood][-MOODS_KEPT:]
    tasks = handoff_tasks(
        plan(stack, nlu),
        nlu,
        stack=stack,
        offer=offer,
        moods=moods,
        topic=policy_topic(
            text,
            asking=text.rstrip().endswith("?") or any(i.name == "knowledge" for i in nlu.intents),
        ),
        turn=turn,
        declined_turn=state.get("handoff_declined_turn"),
    )
    out = []
    if truncated:
        out.append(
            {"key": "long_message", "text": ctx.catalogue.render("long_message", nlu.language)}
        )
    return {
        "text": text,
        "turn": turn,
        "language": nlu.language,
        "nlu": nlu_to_dict(nlu),
        "tasks": tasks,
        "moods": moods,
        "handoff": None,
        "out": out,
        "actions": [],
        "citations": [],
        "quick_replies": [],
        "flow_event": None,
        "abstained": False,
        "transcript": [{"role": "customer", "text": text, "turn": turn}],
    }


def route(state: ConversationState) -> str:
    from graphs.planning import next_node

    return next_node(state.get("tasks", []))


def flow(state: ConversationState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Start, continue, resume or cancel a guided flow; then the handoff triggers it raised."""
    update = _flow_step(state, runtime.context)
    return _flow_triggers(state, runtime.context, update)


def _flow_triggers(
    state: ConversationState, ctx: AssistantContext, update: dict[str, Any]
) -> dict[str, Any]:
    """Turn what the flow noticed into a handoff (forced) or a standing offer of a person.

    The flow marks a slot failed twice (`offer_human`) or three times, or a lost parcel above the
    value limit (`handoff`); a carrier-system failure is offered a person the first time and
    handed over when it fails again on the next turn (assistant/handoff/triggers.py).
    """
    forced: dict[str, Any] | None = None
    offered: str | None = None
    for frame in update.get("stack") or []:
        forced = frame["facts"].pop("handoff", None) or forced
        offered = frame["facts"].pop("offer_human", None) or offered
    new_actions = update["actions"][len(state.get("actions", [])) :]
    if any(not a["ok"] and a["result"].get("reason") == "backend_unavailable" for a in new_actions):
        if state.get("tool_failures", 0) >= 1:
            forced = forced or {"reason": "tool_failure"}
        else:
            offered = offered or "tool_failure"
    if forced is not None:
        task = Task(kind="handoff", reason=forced["reason"], mode="force")
        if forced.get("topic"):
            task["topic"] = forced["topic"]
        update["tasks"] = [task, *[t for t in update["tasks"] if t["kind"] != "handoff"]]
    elif offered is not None:
        io = _io(state, ctx)
        now = cast(ConversationState, {**state, **update})  # the stack as the flow left it
        update.update(offer_person(now, io, offered, said=True))
        update["quick_replies"] = [
            *[q for q in update["quick_replies"] if q != io.text("qr_human")],
            *[q for q in io.quick_replies if q not in update["quick_replies"]],
        ]
    return update


def _flow_step(state: ConversationState, ctx: AssistantContext) -> dict[str, Any]:
    io = _io(state, ctx)
    task = state["tasks"][0]
    nlu = nlu_from_dict(state["nlu"])
    stack: list[Frame] = copy.deepcopy(state.get("stack") or [])
    now = ctx.clock.now()
    last_id = state.get("last_tracking_id")

    if task["kind"] == "cancel":
        frame = stack[-1]
        frame["status"] = "cancelled"
        frame["awaiting"] = None
        io.say("cancelled")
        return _merge(state, io, stack=stack)

    first = task["kind"] == "start_flow"
    if first:
        frame = new_frame(task["flow"])
        if task.get("category"):
            frame["slots"]["complaint_category"] = task["category"]
        if task.get("tracking_id"):
            frame["slots"]["tracking_id"] = task["tracking_id"]
        elif last_id and not any(m.valid for m in nlu.slots.tracking_ids):
            frame["slots"]["tracking_id"] = last_id
        frame["facts"]["value_limit_eur"] = ctx.handoff_value_limit_eur
        if task.get("redirect_kind"):
            frame["facts"]["wanted_kind"] = task["redirect_kind"]
        stack.append(frame)
    frame = stack[-1]
    spec = FLOWS[frame["flow"]]

    resuming = task.get("intent") == "resume"
    if resuming:
        io.say("back_to_flow", flow_name=io.text(f"flow_name_{frame['flow']}"))
        frame_awaiting = frame["awaiting"]
        frame["awaiting"] = None
        if frame_awaiting == "confirmation" and spec.confirm is not None:
            spec.confirm(frame, io)
            frame["awaiting"] = "confirmation"
            io.quick("qr_yes", "qr_no")
            return _merge(state, io, stack=stack)
        advance(spec, frame, io, now, answered=False)
        return _merge(state, io, stack=stack)

    answered = frame["awaiting"] is not None and not first
    if frame["awaiting"] == "confirmation" and not first:
        names = {i.name for i in nlu.intents}
        changed = apply_understanding(frame, spec, nlu, first=False, overwrite=True)
        if changed:
            advance(spec, frame, io, now, answered=False)
        elif "yes" in names and "no" not in names:
            frame["confirmed"] = True
            frame["awaiting"] = None
            advance(spec, frame, io, now, answered=False)
        elif "no" in names:
            frame["status"] = "cancelled"
            frame["awaiting"] = None
            io.say("declined")
        else:
            frame["reasks"]["confirmation"] = frame["reasks"].get("confirmation", 0) + 1
            io.say("reask_confirmation")
            io.quick("qr_yes", "qr_no")
        return _merge(state, io, stack=stack)

    if (
        frame["awaiting"] == "tracking_id"
        and frame["facts"].get("suggestion")
        and any(i.name == "yes" for i in nlu.intents)
    ):
        frame["slots"]["tracking_id"] = frame["facts"].pop("suggestion")
    changed = [] if task.get("tracking_id") else apply_understanding(frame, spec, nlu, first=first)
    if "tracking_id" not in frame["slots"] and _explain_tracking_ids(frame, nlu, io):
        frame["awaiting"] = "tracking_id"
        return _merge(state, io, stack=stack)
    if changed and not first and any(i.name == "correction" for i in nlu.intents):
        shown = frame["slots"][changed[0]]
        io.say("updated_value", value=shown if not isinstance(shown, int) else shown + 1)
    advance(spec, frame, io, now, answered=answered and not changed)
    extra: dict[str, Any] = {"stack": stack}
    if frame["slots"].get("tracking_id"):
        extra["last_tracking_id"] = frame["slots"]["tracking_id"]
    return _merge(state, io, **extra)


def _explain_tracking_ids(frame: Frame, nlu: Any, io: TurnIO) -> bool:
    """Say what is wrong with an id the customer gave that we cannot use; True if we said something."""
    for match in nlu.slots.tracking_ids:
        if match.valid:
            continue
        if match.kind == "foreign":
            io.say("tracking_id_foreign", given=match.normalized, carrier=match.carrier or "")
            return True
        existing = io.tools.existing(list(match.corrections))
        if len(existing) == 1:
            frame["facts"]["suggestion"] = existing[0]
            io.say("tracking_id_typo", given=match.normalized, suggestion=existing[0])
            io.quick("qr_yes", "qr_no")
        else:
            io.say("tracking_id_invalid", given=match.normalized)
        return True
    return False


def answer(state: ConversationState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """A help-centre answer: the best passages in the customer's language, cited; or an honest "I don't know"."""
    ctx = runtime.context
    io = _io(state, ctx)
    language = state.get("language", "en")
    try:
        vector = ctx.embedder.embed_query(state["text"]) if ctx.embedder else None
        result = ctx.retriever.search(state["text"], language, limit=3, query_vector=vector)
    except Exception:
        # The knowledge store is down (a Qdrant server gone, a broken index): say so, offer a
        # person, and let the rest of the conversation go on.
        log.exception("knowledge search failed")
        io.actions.append(
            {
                "tool": "search_knowledge",
                "arguments": {"query": state["text"], "language": language},
                "ok": False,
                "result": {"reason": "knowledge_unavailable"},
            }
        )
        io.say("kb_unavailable")
        io.quick("qr_human")
        return _merge(state, io)
    io.actions.append(
        {
            "tool": "search_knowledge",
            "arguments": {"query": state["text"], "language": language},
            "ok": not result.abstained,
            "result": {
                "abstained": result.abstained,
                "language": result.language,
                "articles": [p.article_id for p in result.passages],
                **({"reason": "below_threshold"} if result.abstained else {}),
            },
        }
    )
    if result.abstained or not result.passages:
        if state["tasks"][1:]:
            # Something else handles this turn (a flow, or a person takes over): no "I don't
            # know" in front of it, and no failure counted towards a handoff.
            return _merge(state, io, abstained=True)
        failures = state.get("failures", 0) + 1
        if failures >= 2:
            # The second "I don't know" in a row, after a person was offered: hand over.
            update = _merge(state, io, abstained=True, failures=0)
            task = Task(kind="handoff", reason="repeated_failure", mode="force")
            update["tasks"] = [task, *[t for t in update["tasks"] if t["kind"] != "handoff"]]
            return update
        io.say("kb_dont_know")
        offer = offer_person(state, io, "out_of_scope", said=True)
        return _merge(state, io, abstained=True, failures=failures, **offer)
    if ctx.chat_model is not None and (
        generated := add_knowledge_answer(ctx.chat_model, io, state["text"], result)
    ):
        return _merge(state, io, citations=[*state.get("citations", []), *generated], failures=0)
    best = result.passages[0]
    io.say("kb_answer", answer=best.snippet)
    io.say("kb_source_english" if result.fell_back else "kb_source", title=best.title)
    citation = {"article_id": best.article_id, "title": best.title, "language": best.language}
    return _merge(state, io, citations=[*state.get("citations", []), citation], failures=0)


def handoff(state: ConversationState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Offer a person, hand over (queue and summary), or the callback / case path."""
    io = _io(state, runtime.context)
    update = handoff_step(state, runtime.context, io)
    return _merge(state, io, **update)


def smalltalk(state: ConversationState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """Greetings, thanks, and polite answers to messages that ask nothing."""
    io = _io(state, runtime.context)
    intent = state["tasks"][0].get("intent", "unknown")
    if intent == "greeting":
        io.say("greeting_again" if state.get("greeted") else "greeting")
    elif intent == "thanks":
        io.say("thanks")
        io.quick("qr_nothing_else")
    elif intent == "empty":
        io.say("empty_message")
    elif intent == "handoff_declined":
        io.say("handoff_declined")
        return _merge(state, io, greeted=True, handoff_declined_turn=state.get("turn", 0))
    elif intent in (
        "nothing_to_confirm",
        "nothing_to_decline",
        "nothing_to_cancel",
        "nothing_to_correct",
    ):
        io.say(intent)
    else:
        io.say("unknown")
        io.quick("qr_track", "qr_redirect", "qr_complaint", "qr_human")
    return _merge(state, io, greeted=True)


def respond(state: ConversationState, runtime: Runtime[AssistantContext]) -> dict[str, Any]:
    """End of a turn: empathy when upset, ended flows popped, the resumed flow's question, the transcript."""
    ctx = runtime.context
    io = _io(state, ctx)
    nlu = state.get("nlu") or {}
    stack = copy.deepcopy(state.get("stack") or [])
    replies = list(state.get("out", []))
    if nlu.get("upset") and state.get("empathy_shown_turn", -10) < state.get("turn", 0) - 2:
        replies.insert(0, {"key": "empathy", "text": io.text("empathy")})
        empathy_turn = state.get("turn", 0)
    else:
        empathy_turn = state.get("empathy_shown_turn", -10)
    flow_event = None
    while stack and stack[-1]["status"] in ENDED:
        ended = stack.pop()
        flow_event = flow_event or {"flow": ended["flow"], "status": ended["status"]}
    if stack and flow_event is not None:
        top = stack[-1]
        io.say("back_to_flow", flow_name=io.text(f"flow_name_{top['flow']}"))
        spec = FLOWS[top["flow"]]
        top["awaiting"] = None
        advance(spec, top, io, ctx.clock.now(), answered=False)
    if stack and flow_event is None:
        flow_event = {"flow": stack[-1]["flow"], "status": "active"}
    replies += io.replies
    awaiting = stack[-1]["awaiting"] if stack else None
    if awaiting is None and (state.get("handoff") or {}).get("offer") in (
        "callback_number",
        "case_contact",
    ):
        awaiting = "contact"  # the phone number for a callback, the contact for a case
    if ctx.chat_model is not None:
        replies = rewrite_replies(
            ctx.chat_model,
            replies,
            language=io.language,
            awaiting=awaiting,
            customer_text=state.get("text", ""),
            actions=[*state.get("actions", []), *io.actions],
        )
    actions = [*state.get("actions", []), *io.actions]
    turn = state.get("turn", 0)
    backend_failed = any(
        not a["ok"] and a["result"].get("reason") == "backend_unavailable" for a in actions
    )
    tool_failures = state.get("tool_failures", 0) + 1 if backend_failed else 0
    return {
        "steps": [*state.get("steps", []), *({**a, "turn": turn} for a in actions)][-STEPS_KEPT:],
        "tool_failures": tool_failures
        if actions or backend_failed
        else state.get("tool_failures", 0),
        "out": replies,
        "actions": actions,
        "quick_replies": [*state.get("quick_replies", []), *io.quick_replies],
        "stack": stack,
        "flow_event": flow_event,
        "awaiting": awaiting,
        "empathy_shown_turn": empathy_turn,
        "transcript": [
            {"role": "assistant", "text": r["text"], "turn": state.get("turn", 0)} for r in replies
        ],
    }


def after_respond(state: ConversationState) -> str:
    return "confirm" if state.get("awaiting") == "confirmation" else "__end__"


def confirm(state: ConversationState) -> dict[str, Any]:
    """Pause before a side effect until the customer answers (LangGraph `interrupt`).

    Nothing happens in this node before `interrupt()`: LangGraph re-runs it from the top on resume.
    The answer becomes the next turn's text and goes through `understand` like any message.
    """
    answer_text = interrupt({"awaiting": "confirmation", "turn": state.get("turn", 0)})
    return {"text": str(answer_text)}
