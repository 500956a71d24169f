"""`budbringer chat` says where the conversation went once a person has it."""

from __future__ import annotations

import pytest

from api import cli
from graphs.engine import TurnResult


def _turn(handoff: dict[str, object] | None) -> TurnResult:
    return TurnResult(
        conversation_id="c",
        turn=1,
        language="en",
        messages=[{"role": "assistant", "text": "I'm passing you to a colleague."}],
        flow=None,
        flow_status=None,
        awaiting=None,
        handoff=handoff,
    )


@pytest.mark.parametrize("status", ["waiting", "claimed"])
def test_a_live_handoff_is_announced(status: str, capsys: pytest.CaptureFixture[str]) -> None:
    cli._print_turn(_turn({"reason": "customer_request", "status": status}))
    out = capsys.readouterr().out
    assert "handed to a person (customer_request)" in out
    assert "/agent" in out


@pytest.mark.parametrize("handoff", [None, {"reason": "frustration", "status": "offered"}])
def test_no_announcement_without_a_live_handoff(
    handoff: dict[str, object] | None, capsys: pytest.CaptureFixture[str]
) -> None:
    cli._print_turn(_turn(handoff))
    assert "handed to a person" not in capsys.readouterr().out
