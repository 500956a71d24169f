"""Scenario checks, the dialogue rubric and the grounding measure, on hand-made turn logs."""

from __future__ import annotations

from typing import Any

from evals.metrics import check_scenario, grounding_violations, rubric_items
from evals.runner import ScenarioRun, TurnLog
from evals.schema import Scenario

TID = "RR361920561SE"


def turn(
    index: int,
    customer: str | None,
    replies: list[str],
    keys: list[str],
    *,
    flow: str | None = None,
    status: str | None = None,
    awaiting: str | None = None,
    actions: list[dict[str, Any]] | None = None,
    handoff: dict[str, Any] | None = None,
    upset: bool = False,
) -> TurnLog:
    return TurnLog(
        index=index, customer=customer, replies=replies, keys=keys, language="en", flow=flow,
        flow_status=status, awaiting=awaiting, citations=[], actions=actions or [],
        handoff=handoff, passages=[], upset_detected=upset, paused_at=None, ms=1.0,
    )  # fmt: skip


def scenario(**overrides: Any) -> Scenario:
    row: dict[str, Any] = {
        "id": "en-test-1",
        "language": "en",
        "kind": "redirect",
        "title": "door",
        "turns": [{"say": f"leave {TID} at the door"}, {"say": "8000"}, {"say": "yes"}],
        "expect": {"redirects": [{"tracking_id": TID, "option": "door"}]},
        "facts": [TID],
    }
    row.update(overrides)
    return Scenario.model_validate(row)


def redirect_run(
    redirects: list[dict[str, str]], *, handoff: dict[str, Any] | None = None
) -> ScenarioRun:
    status = {
        "tool": "get_shipment_status",
        "arguments": {"tracking_id": TID},
        "ok": True,
        "result": {},
    }
    done = {
        "tool": "redirect_delivery",
        "arguments": {"tracking_id": TID, "option_id": "door"},
        "ok": True,
        "result": {},
    }
    turns = [
        turn(0, None, ["Hi! How can I help?"], ["greeting"]),
        turn(1, f"leave {TID} at the door", ["What's the postcode?"], ["ask_postcode"],
             flow="redirect_delivery", status="active", awaiting="postcode", actions=[status]),
        turn(2, "8000", [f"Just to confirm: {TID} at your door?"], ["confirm_redirect_door"],
             flow="redirect_delivery", status="active", awaiting="confirmation", handoff=handoff),
        turn(3, "yes", [f"Done! Parcel {TID} will be left at your door."], ["redirect_done_door"],
             flow="redirect_delivery", status="completed", actions=[done]),
    ]  # fmt: skip
    return ScenarioRun(scenario(), 1, turns, redirects, [])


def test_the_expected_redirect_and_nothing_else_is_success() -> None:
    run = redirect_run([{"tracking_id": TID, "option": "door"}])
    run.checks = check_scenario(run)
    assert run.success, [c for c in run.checks if not c.ok]


def test_a_different_option_or_a_case_too_is_failure() -> None:
    run = redirect_run([{"tracking_id": TID, "option": "sp:DK-8000-001"}])
    run.cases = [{"tracking_id": TID, "category": "damaged", "case_id": "CS-1"}]
    failed = {c.name for c in check_scenario(run) if not c.ok}
    assert failed == {"end state: redirects", "end state: cases"}


def test_an_offer_of_a_person_is_not_a_handoff_but_a_handoff_is() -> None:
    offered = redirect_run(
        [{"tracking_id": TID, "option": "door"}],
        handoff={"status": "offered", "reason": "frustration"},
    )
    assert offered.handoff is None
    assert all(c.ok for c in check_scenario(offered))
    handed = redirect_run(
        [{"tracking_id": TID, "option": "door"}],
        handoff={"status": "requested", "reason": "frustration"},
    )
    failed = [c for c in check_scenario(handed) if not c.ok]
    assert [c.name for c in failed] == ["handoff: none"]


def test_a_missing_fact_and_a_wrong_turn_expectation_fail() -> None:
    run = redirect_run([{"tracking_id": TID, "option": "door"}])
    run.scenario = scenario(
        facts=["Meny Vestergade"],
        turns=[
            {"say": "leave it"},
            {"say": "8000", "expect": {"awaiting": "redirect_option", "says": ["confirm"]}},
            {"say": "yes"},
        ],
    )
    failed = {c.name for c in check_scenario(run) if not c.ok}
    assert failed == {"states: Meny Vestergade", "turn 2: asks for redirect_option"}


def test_rubric_greeting_summary_confirmation_and_missing_empathy() -> None:
    run = redirect_run([{"tracking_id": TID, "option": "door"}])
    run.scenario = scenario(
        turns=[{"say": "leave it", "upset": True}, {"say": "8000"}, {"say": "yes", "closing": True}]
    )
    items = {(i.criterion, i.ok) for i in rubric_items(run)}
    assert items == {
        ("greeting", True),
        ("summary", True),
        ("confirmation", True),
        ("empathy", False),  # upset, and no empathy line
        ("close", False),  # "yes" was the last word, and no goodbye came
    }


def test_a_side_effect_without_a_confirmation_turn_is_a_rubric_miss() -> None:
    run = redirect_run([{"tracking_id": TID, "option": "door"}])
    run.turns[2].awaiting = None
    misses = [i for i in rubric_items(run) if not i.ok]
    assert [(i.criterion, i.turn) for i in misses] == [("confirmation", 3)]


def test_grounding_flags_a_figure_no_source_holds_and_accepts_catalogue_wording() -> None:
    turns = [
        turn(0, None, ["Hi!"], ["greeting"]),
        turn(1, "how long is it kept", ["It waits 7 days at Meny Vestergade."], ["kb_answer"]),
        turn(2, "thanks", ["You're welcome! Is there anything else I can help with?"], ["thanks"]),
    ]
    found = grounding_violations("x", "en", turns)
    assert [v.where for v in found] == ["x turn 1"]
    assert {"7", "Meny", "Vestergade"} <= {u.split("'")[1] for u in found[0].unsupported}
    turns[1].customer = "is it kept 7 days at Meny Vestergade"
    assert grounding_violations("x", "en", turns) == []


def test_the_judged_ragas_metrics_build_on_any_openai_compatible_client() -> None:
    """Construction only (no request is sent): the Ragas API and our embedding adapter fit."""
    import asyncio

    from assistant.embedding import HashingEmbedder
    from evals.ragas_metrics import (
        JudgeConfig,
        _client,
        _prepare_environment,
        judged_metric_objects,
    )

    _prepare_environment()
    client = _client(JudgeConfig("http://127.0.0.1:9/v1", "judge"))
    try:
        faithfulness, relevancy, goal = judged_metric_objects(client, "judge", HashingEmbedder())
        assert len(relevancy.embeddings.embed_text("hvor er min pakke")) > 0
        assert {faithfulness.name, goal.name} == {"faithfulness", "agent_goal_accuracy"}
    finally:
        asyncio.run(client.close())
