"""The conversation graph: understand → route → flow | answer | handoff | smalltalk → respond.

```
START → understand ─route→ flow | answer | handoff | smalltalk ─route→ … → respond ─→ END
                                                                             └─ awaiting a yes → confirm (interrupt) → understand
```
Handlers loop back through `route` until the turn's tasks are done (at most `planning.MAX_TASKS`).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs import nodes
from graphs.context import AssistantContext
from graphs.state import ConversationState

__all__ = ["build_graph", "mermaid"]

HANDLERS = ("flow", "answer", "handoff", "smalltalk")


def build_graph(
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(
        ConversationState, context_schema=AssistantContext
    )
    builder.add_node("understand", nodes.understand)
    builder.add_node("flow", nodes.flow)
    builder.add_node("answer", nodes.answer)
    builder.add_node("handoff", nodes.handoff)
    builder.add_node("smalltalk", nodes.smalltalk)
    builder.add_node("respond", nodes.respond)
    builder.add_node("confirm", nodes.confirm)
    routes: dict[Hashable, str] = {name: name for name in (*HANDLERS, "respond")}
    builder.add_edge(START, "understand")
    builder.add_conditional_edges("understand", nodes.route, routes)
    for handler in HANDLERS:
        builder.add_conditional_edges(handler, nodes.route, routes)
    builder.add_conditional_edges(
        "respond", nodes.after_respond, {"confirm": "confirm", "__end__": END}
    )
    builder.add_edge("confirm", "understand")
    return builder.compile(checkpointer=checkpointer)


def mermaid() -> str:
    """The graph as a Mermaid diagram (snapshot-tested, shown in the README)."""
    return build_graph().get_graph().draw_mermaid()
