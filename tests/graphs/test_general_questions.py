"""Questions about how things work get a help-centre answer, also when they name a flow's topic.

Regression found by the knowledge evals (evals/datasets/knowledge.jsonl): "when can I open a case
for a late parcel" started the complaint flow and only asked for a tracking number, so the
customer never got the answer; a third wrong postcode said "this is your last try" although
changes were already locked.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from assistant.understanding import Understander
from graphs.planning import plan
from tests.graphs.conftest import NOW, Chat


def _kinds(understander: Understander, text: str, language: str) -> list[tuple[str, str | None]]:
    nlu = understander.understand(text, conversation_language=language, now=NOW)  # type: ignore[arg-type]
    return [(t["kind"], t.get("flow")) for t in plan([], nlu)]


@pytest.mark.parametrize(
    ("language", "text", "flow"),
    [
        ("en", "when can i open a case for a parcel that is late", "complaint"),
        ("da", "koster det noget at ændre leveringen", "redirect_delivery"),
        ("sv", "när kan jag anmäla ett försenat paket", "complaint"),
        ("nb", "hvor lenge tar dere vare på sporingsdataene", "track_parcel"),
        ("fi", "maksaako toimituksen muuttaminen jotain", "redirect_delivery"),
        ("en", "after how many days without a scan is a parcel lost", "complaint"),
    ],
)
def test_a_general_question_is_answered_before_the_flow_starts(
    understander: Understander, language: str, text: str, flow: str
) -> None:
    assert _kinds(understander, text, language) == [("answer", None), ("start_flow", flow)]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "where is my parcel"),
        ("da", "kan RR361920561SE blive stillet ved døren"),
        ("en", "when will RR361920561SE arrive"),  # names the parcel: about that parcel
        ("sv", "jag vill ändra leveransen"),
    ],
)
def test_a_request_about_a_parcel_starts_the_flow_without_an_answer(
    understander: Understander, language: str, text: str
) -> None:
    assert ("answer", None) not in _kinds(understander, text, language)


def test_the_last_wrong_postcode_says_changes_are_locked(chat: Chat) -> None:
    chat.start("en")
    assert chat.say("I'd like to change the delivery of RR361920561SE").awaiting == "postcode"
    chat.say("8200")
    chat.say("8210")
    result = chat.say("8300")
    text = " ".join(m["text"] for m in result.messages)
    assert "locked until 12:15" in text and "last try" not in text
    assert (result.flow, result.flow_status) == ("redirect_delivery", "refused")
    failure = result.actions[-1]["result"]
    assert datetime.fromisoformat(failure["locked_until"]) == datetime.fromisoformat(
        "2026-11-23T12:15:00+01:00"
    )
