"""Graph nodes. Each takes the state and `Runtime[AssistantContext]` and returns an update."""

from __future__ import annotations

import copy
import unicodedata
from typing import Any, cast

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from assistant.understanding import Lang
from graphs.context import AssistantContext
from graphs.flows import FLOWS, advance, apply_understanding, new_frame, offered_labels
from graphs.llm_replies import add_knowledge_answer, rewrite_replies
from graphs.nlu_codec import nlu_from_dict, nlu_to_dict
from graphs.planning import plan
from graphs.state import ConversationState, Frame
from graphs.turn_io import TurnIO

__all__ = ["answer", "confirm", "flow", "handoff", "respond", "smalltalk", "understand"]

ENDED = ("completed", "refused", "cancelled")


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
    nlu = ctx.understander.understand(
        text,
        conversation_language=cast("Lang | None", state.get("language")),
        country=state.get("country"),
        now=ctx.clock.now(),
        offered=offered,
        expecting=top["awaiting"] if top else None,
    )
    turn = state.get("turn", 0) + 1
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
        "tasks": plan(stack, nlu),
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
    """Start, continue, resume or cancel a guided flow."""
    ctx = runtime.context
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
    vector = ctx.embedder.embed_query(state["text"]) if ctx.embedder else None
    result = ctx.retriever.search(state["text"], language, limit=3, query_vector=vector)
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
        io.say("kb_dont_know")
        io.quick("qr_human")
        failures = state.get("failures", 0) + 1
        return _merge(state, io, abstained=True, failures=failures)
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
    """The customer asked for a person: honoured at once."""
    io = _io(state, runtime.context)
    task = state["tasks"][0]
    io.say("handoff_started")
    request = {"reason": task.get("reason", "customer_request"), "turn": state.get("turn", 0)}
    return _merge(state, io, handoff=request)


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
    if ctx.chat_model is not None:
        replies = rewrite_replies(
            ctx.chat_model,
            replies,
            language=io.language,
            awaiting=awaiting,
            customer_text=state.get("text", ""),
            actions=[*state.get("actions", []), *io.actions],
        )
    return {
        "out": replies,
        "actions": [*state.get("actions", []), *io.actions],
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
