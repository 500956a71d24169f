"""The graph's shape, its pure routing, where it pauses, and persistence across a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.tracking_ids import find_tracking_ids
from assistant.understanding import Intent, Slots, Understanding
from graphs.engine import ConversationEngine
from graphs.flows import new_frame
from graphs.graph import mermaid
from graphs.planning import fills_awaited, next_node, plan
from tests.graphs.conftest import Chat

SNAPSHOT = Path(__file__).parent / "snapshots" / "graph.mmd"
README = Path(__file__).parents[2] / "README.md"


def test_mermaid_diagram_matches_the_snapshot_and_the_readme() -> None:
    diagram = mermaid()
    assert diagram == SNAPSHOT.read_text(encoding="utf-8"), (
        "graph changed: update graphs snapshot and README"
    )
    assert diagram.strip() in README.read_text(encoding="utf-8")


def _nlu(text: str, *intents: Intent, **slots: object) -> Understanding:
    return Understanding(
        text=text,
        language="en",
        language_confidence=1.0,
        language_switched=False,
        intents=intents,
        slots=Slots(**slots),  # type: ignore[arg-type]
        sentiment=0.0,
        upset=False,
        shouting=False,
    )


def test_plan_orders_tasks_as_the_customer_asked() -> None:
    ids = tuple(find_tracking_ids("RR361920561SE"))
    tasks = plan(
        [],
        _nlu(
            "where is it and can it go to my door",
            Intent("track", 0.9),
            Intent("redirect", 0.9, redirect_kind="door"),
            tracking_ids=ids,
        ),
    )
    assert [(t["kind"], t.get("flow")) for t in tasks] == [
        ("start_flow", "track_parcel"),
        ("start_flow", "redirect_delivery"),
    ]
    assert tasks[1]["redirect_kind"] == "door"


def test_plan_a_human_request_wins_and_cancel_needs_a_flow() -> None:
    assert plan([], _nlu("person please", Intent("human", 0.9), Intent("track", 0.5))) == [
        {"kind": "handoff", "reason": "customer_request"}
    ]
    assert plan([], _nlu("cancel", Intent("cancel", 0.9))) == [
        {"kind": "smalltalk", "intent": "nothing_to_cancel"}
    ]
    frame = new_frame("redirect_delivery")
    assert plan([frame], _nlu("cancel", Intent("cancel", 0.9))) == [{"kind": "cancel"}]


def test_plan_side_question_then_resume() -> None:
    frame = new_frame("redirect_delivery")
    frame["awaiting"] = "postcode"
    tasks = plan([frame], _nlu("when are you open?", Intent("knowledge", 0.9)))
    assert [t["kind"] for t in tasks] == ["answer", "flow"]
    assert tasks[1]["intent"] == "resume"


def test_awaited_slot_detection() -> None:
    frame = new_frame("redirect_delivery")
    frame["awaiting"] = "postcode"
    assert fills_awaited(frame, _nlu("8000", postcodes=("8000",)))
    assert not fills_awaited(frame, _nlu("hmm"))
    frame["awaiting"] = "confirmation"
    assert fills_awaited(frame, _nlu("yes", Intent("yes", 0.9)))


@pytest.mark.parametrize(
    ("kind", "node"),
    [
        ("flow", "flow"),
        ("start_flow", "flow"),
        ("cancel", "flow"),
        ("answer", "answer"),
        ("handoff", "handoff"),
        ("smalltalk", "smalltalk"),
    ],
)
def test_next_node_for_each_task(kind: str, node: str) -> None:
    assert next_node([{"kind": kind}]) == node  # type: ignore[list-item, typeddict-item]
    assert next_node([]) == "respond"


def test_graph_pauses_before_the_side_effect(chat: Chat) -> None:
    chat.start("en")
    chat.say("can RR361920561SE be left at my door")
    result = chat.say("8000")
    assert result.paused_at == "confirm"
    snapshot = chat.engine.graph.get_state({"configurable": {"thread_id": chat.conversation_id}})
    assert snapshot.next == ("confirm",)
    assert snapshot.interrupts and snapshot.interrupts[0].value["awaiting"] == "confirmation"


def test_conversation_continues_at_the_same_step_after_a_restart(
    chat: Chat, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.db"
    first = ConversationEngine(
        chat.engine.context, SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    )
    first.start("c-restart", "da")
    first.turn("c-restart", "kan RR361920561SE stilles ved døren")
    assert first.turn("c-restart", "8000").awaiting == "confirmation"
    # A new process: a new engine over the same file.
    second = ConversationEngine(
        chat.engine.context, SqliteSaver(sqlite3.connect(path, check_same_thread=False))
    )
    done = second.turn("c-restart", "ja")
    assert (done.flow, done.flow_status) == ("redirect_delivery", "completed")
    assert chat.store.latest_redirect("RR361920561SE") is not None


def test_old_checkpoints_are_pruned(chat: Chat, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db", check_same_thread=False)
    engine = ConversationEngine(chat.engine.context, SqliteSaver(conn))
    engine.start("c-prune", "en")
    for _ in range(5):
        engine.turn("c-prune", "hi")
    count = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = 'c-prune'").fetchone()[
        0
    ]
    assert count == 1
    assert engine.state("c-prune")["turn"] == 5


def test_transcript_is_kept_in_order(chat: Chat) -> None:
    chat.start("en")
    chat.say("hi")
    transcript = chat.engine.state(chat.conversation_id)["transcript"]
    assert [m["role"] for m in transcript] == ["assistant", "customer", "assistant"]
