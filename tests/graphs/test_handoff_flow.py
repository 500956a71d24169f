"""Handoff to a person over the real graph: every trigger, silence while a person has the
conversation, hand-back, and the callback / case path when agents are away (issue 6)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.carrier.memory import InMemoryCarrierStore
from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.clock import FrozenClock
from assistant.domain import (
    Case,
    CaseRequest,
    Redirect,
    RedirectOption,
    ServicePoint,
    ShipmentView,
    Verification,
)
from assistant.errors import ToolFailed
from assistant.eta.model import EtaModel
from assistant.handoff.hours import parse_all
from assistant.handoff.models import Handoff
from assistant.handoff.queue import InMemoryHandoffQueue
from assistant.replies import Catalogue
from assistant.settings import DEMO_SEED, Settings
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from graphs.context import AssistantContext
from graphs.engine import ConversationEngine, TurnResult
from tests.graphs.conftest import NOW, OPENING_HOURS, Chat, ScriptedRetriever

SUNDAY = datetime(2026, 11, 22, 12, 0, tzinfo=timezone(timedelta(hours=1)))
CATALOGUE = Catalogue()


class FlakyCarrier:
    """The simulator, or a carrier system that is down (`down = True`): every call fails."""

    def __init__(self, inner: CarrierSimulator) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ToolFailed("backend_unavailable", "the carrier system does not answer")

    def get_shipment(self, tracking_id: str, verification: str | None = None) -> ShipmentView:
        self._check()
        return self.inner.get_shipment(tracking_id, verification)

    def verify_recipient(self, tracking_id: str, postcode: str) -> Verification:
        self._check()
        return self.inner.verify_recipient(tracking_id, postcode)

    def list_redirect_options(
        self, tracking_id: str, verification: str
    ) -> Sequence[RedirectOption]:
        self._check()
        return self.inner.list_redirect_options(tracking_id, verification)

    def redirect_delivery(
        self, tracking_id: str, option_id: str, verification: str, idempotency_key: str
    ) -> Redirect:
        self._check()
        return self.inner.redirect_delivery(tracking_id, option_id, verification, idempotency_key)

    def create_case(self, request: CaseRequest, idempotency_key: str) -> Case:
        self._check()
        return self.inner.create_case(request, idempotency_key)

    def get_case(self, case_id: str) -> Case:
        return self.inner.get_case(case_id)

    def list_cases(self, tracking_id: str | None = None, limit: int = 100) -> Sequence[Case]:
        return self.inner.list_cases(tracking_id, limit)

    def service_points(self, country: str) -> Sequence[ServicePoint]:
        return self.inner.service_points(country)


@dataclass
class Desk:
    """A conversation with a handoff queue behind it."""

    chat: Chat
    queue: InMemoryHandoffQueue
    carrier: FlakyCarrier

    @property
    def engine(self) -> ConversationEngine:
        return self.chat.engine

    def say(self, text: str) -> TurnResult:
        return self.chat.say(text)

    def only_handoff(self) -> Handoff:
        items = self.queue.list_handoffs()
        assert len(items) == 1, items
        return items[0]


def _desk(
    eta_model: EtaModel, understander: Understander, now: datetime, **context: Any
) -> Iterator[Desk]:
    clock = FrozenClock(now)
    store = InMemoryCarrierStore()
    counter = iter(range(1, 10_000))
    simulator = CarrierSimulator(
        load_seed(DEMO_SEED),
        cases=store,
        redirects=store,
        verifications=store,
        clock=clock,
        new_id=lambda prefix: f"{prefix}-TEST{next(counter):04d}",
    )
    carrier = FlakyCarrier(simulator)
    queue = InMemoryHandoffQueue()
    retriever = ScriptedRetriever(OPENING_HOURS)
    ctx = AssistantContext(
        tools=CarrierTools(carrier, eta_model, clock),
        retriever=retriever,
        understander=understander,
        catalogue=CATALOGUE,
        clock=clock,
        handoffs=queue,
        business_hours=parse_all(Settings().business_hours),
        **context,
    )
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    engine = ConversationEngine(ctx, SqliteSaver(conn))
    yield Desk(Chat(engine, store, clock, retriever), queue, carrier)
    conn.close()


@pytest.fixture
def desk(eta_model: EtaModel, understander: Understander) -> Iterator[Desk]:
    yield from _desk(eta_model, understander, NOW, handoff_value_limit_eur=300.0)


@pytest.fixture
def closed_desk(eta_model: EtaModel, understander: Understander) -> Iterator[Desk]:
    yield from _desk(eta_model, understander, SUNDAY)


def text(key: str, language: str, **values: Any) -> str:
    return CATALOGUE.render(key, language, **values)


def said(result: TurnResult) -> list[str]:
    return [m["text"] for m in result.messages]


def _queued(result: TurnResult, reason: str) -> dict[str, Any]:
    handoff = result.handoff
    assert handoff is not None and handoff["reason"] == reason, result
    assert handoff["status"] == "waiting" and handoff["handoff_id"].startswith("H-")
    action = next(a for a in result.actions if a["tool"] == "handoff_to_agent")
    assert action["ok"] and action["result"]["handoff_id"] == handoff["handoff_id"]
    return handoff


# --- customer_request: honoured at once ------------------------------------------------------
ASK_FOR_A_PERSON = {
    "da": "jeg vil gerne tale med et menneske",
    "sv": "jag vill prata med en människa",
    "nb": "jeg vil snakke med et menneske",
    "fi": "haluan puhua ihmisen kanssa",
    "en": "I want to talk to a human",
}


@pytest.mark.parametrize("language", sorted(ASK_FOR_A_PERSON))
def test_a_request_for_a_person_is_honoured_at_once(desk: Desk, language: str) -> None:
    desk.chat.start(language)
    result = desk.say(ASK_FOR_A_PERSON[language])
    handoff = _queued(result, "customer_request")
    assert handoff["position"] == 1 and handoff["wait_minutes"] == 6.0
    assert said(result) == [
        text("handoff_started", language),
        text("handoff_queued", language, position=1, minutes=6),
    ]
    queued = desk.only_handoff()
    assert (queued.handoff_id, queued.language, queued.mode) == (
        handoff["handoff_id"],
        language,
        "live",
    )
    assert queued.summary["reason"] == "customer_request"
    assert queued.summary["customer_request"] == ASK_FOR_A_PERSON[language]


def test_the_summary_carries_what_the_conversation_already_found(desk: Desk) -> None:
    desk.chat.start("da")
    desk.say("hvor er RR361920561SE")
    result = desk.say("kan jeg tale med en medarbejder")
    _queued(result, "customer_request")
    summary = desk.only_handoff().summary
    assert summary["intent"] == "track_parcel"
    assert summary["tracking_ids"] == ["RR361920561SE"]
    assert summary["shipment"]["status"] == "INFORMATION_RECEIVED"
    assert [s["tool"] for s in summary["steps_taken"]] == ["get_shipment_status", "predict_eta"]
    assert summary["text"].startswith("Customer asked for a person. Customer writes in Danish")
    desk.chat.snapshot("handoff_customer_request_da")


# --- frustration: offered, then yes / still upset / no ---------------------------------------
FURIOUS = {
    "da": ("Det her er fuldstændig uacceptabelt, jeres service er elendig!!!", "ja"),
    "sv": ("Det här är helt oacceptabelt, er service är värdelös och usel!!!", "ja tack"),
    "en": ("This is completely unacceptable, your service is useless!!!", "yes please"),
}


@pytest.mark.parametrize("language", sorted(FURIOUS))
def test_a_frustrated_customer_is_offered_a_person_and_yes_hands_over(
    desk: Desk, language: str
) -> None:
    outburst, yes = FURIOUS[language]
    desk.chat.start(language)
    offered = desk.say(outburst)
    assert offered.handoff == {
        "status": "offered",
        "offer": "person",
        "reason": "frustration",
        "turn": 1,
    }
    assert said(offered)[-1] == text("offer_human_frustrated", language)
    assert offered.quick_replies[-2:] == [text("qr_yes", language), text("qr_no", language)]
    assert desk.queue.list_handoffs() == []  # offered, not forced
    _queued(desk.say(yes), "frustration")
    assert desk.only_handoff().priority == 30
    desk.chat.snapshot(f"handoff_frustration_{language}")


def test_still_upset_right_after_the_offer_hands_over(desk: Desk) -> None:
    desk.chat.start("en")
    desk.say(FURIOUS["en"][0])
    result = desk.say("STILL NOTHING, THIS IS RIDICULOUS")
    _queued(result, "frustration")


def test_declining_the_offer_carries_on_without_offering_again_at_once(desk: Desk) -> None:
    desk.chat.start("da")
    desk.say(FURIOUS["da"][0])
    declined = desk.say("nej tak")
    assert text("handoff_declined", "da") in said(declined)
    assert declined.handoff is None
    again = desk.say("det er stadig helt uacceptabelt og elendigt!!!")
    assert again.handoff is None and desk.queue.list_handoffs() == []


# --- repeated_failure: two "I don't know" in a row -------------------------------------------
UNANSWERABLE = {
    "da": ("hvad er meningen med livet?", "hvem vandt fodbold-VM i 1966?"),
    "sv": ("vad är meningen med livet?", "vem vann fotbolls-VM 1966?"),
    "en": ("what is the meaning of life?", "who won the football world cup in 1966?"),
}


@pytest.mark.parametrize("language", sorted(UNANSWERABLE))
def test_two_dont_knows_in_a_row_hand_over(desk: Desk, language: str) -> None:
    first, second = UNANSWERABLE[language]
    desk.chat.start(language)
    offered = desk.say(first)
    assert said(offered) == [text("kb_dont_know", language)]
    assert offered.handoff is not None and offered.handoff["reason"] == "out_of_scope"
    result = desk.say(second)
    _queued(result, "repeated_failure")
    assert said(result)[0] == text("handoff_reason_failure", language)


def test_yes_after_i_dont_know_hands_over_as_out_of_scope(desk: Desk) -> None:
    desk.chat.start("sv")
    desk.say(UNANSWERABLE["sv"][0])
    _queued(desk.say("ja"), "out_of_scope")


# --- policy: legal threat, fraud report, data-protection request, valuable lost parcel ------
POLICY = [
    ("da", "Jeg går til min advokat, hvis I ikke finder min pakke", "legal"),
    ("sv", "Jag ska anmäla er till Allmänna reklamationsnämnden", "legal"),
    ("en", "I will take legal action against you", "legal"),
    ("da", "Jeg har klikket på linket i en falsk sms fra jer og betalt 30 kr", "fraud"),
    ("sv", "Jag har fått ett falskt sms i ert namn och klickade på länken", "fraud"),
    ("en", "I clicked a link in a fake text from you and paid", "fraud"),
    ("nb", "Jeg vil melde fra om svindel, noen utgir seg for å være dere", "fraud"),
    ("da", "Jeg vil gerne have slettet mine oplysninger", "data_protection"),
    ("sv", "Jag vill att ni raderar mina personuppgifter enligt GDPR", "data_protection"),
    ("en", "Please delete my personal data", "data_protection"),
    ("fi", "Poistakaa tietoni järjestelmästänne", "data_protection"),
]


@pytest.mark.parametrize(("language", "message", "topic"), POLICY)
def test_policy_matters_go_to_a_person_at_once(
    desk: Desk, language: str, message: str, topic: str
) -> None:
    desk.chat.start(language)
    result = desk.say(message)
    _queued(result, "policy")
    assert said(result)[0] == text("handoff_reason_policy", language)
    assert result.flow is None  # no flow left asking questions nobody will use
    queued = desk.only_handoff()
    assert queued.summary["policy_topic"] == topic and queued.priority == 50


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("da", "min pakke RR703455124NO er forsvundet, jeg vil klage"),
        ("en", "my parcel RR703455124NO is lost, I want to complain"),
    ],
)
def test_a_lost_parcel_worth_more_than_the_limit_goes_to_a_person(
    desk: Desk, language: str, message: str
) -> None:
    desk.chat.start(language)
    result = desk.say(message)
    _queued(result, "policy")
    assert (result.flow, result.flow_status) == ("complaint", "refused")
    queued = desk.only_handoff()
    assert queued.summary["policy_topic"] == "high_value"
    assert queued.summary["declared_value_eur"] == pytest.approx(424.92)
    assert queued.priority == 54  # policy 50, raised by the parcel's value


def test_a_lost_parcel_below_the_limit_stays_with_the_assistant(desk: Desk) -> None:
    desk.chat.start("da")
    result = desk.say("min pakke RR804566230DK er forsvundet, jeg vil klage")
    assert result.handoff is None and result.awaiting == "description"


# --- tool_failure: the carrier system fails twice in a row ----------------------------------
WHERE = {"da": "hvor er {}", "sv": "var är {}", "en": "where is {}"}


@pytest.mark.parametrize("language", sorted(WHERE))
def test_a_carrier_system_failing_twice_hands_over(desk: Desk, language: str) -> None:
    desk.chat.start(language)
    desk.carrier.down = True
    first = desk.say(WHERE[language].format("RR727623343DK"))
    assert text("tool_failure", language) in said(first)
    assert first.handoff is not None and first.handoff["reason"] == "tool_failure"
    assert desk.queue.list_handoffs() == []
    second = desk.say(WHERE[language].format("RR776955364DK"))
    _queued(second, "tool_failure")
    assert desk.only_handoff().summary["steps_taken"][-1]["outcome"] == "backend_unavailable"


def test_one_failure_then_success_does_not_hand_over(desk: Desk) -> None:
    desk.chat.start("da")
    desk.carrier.down = True
    desk.say("hvor er RR727623343DK")
    desk.carrier.down = False
    result = desk.say("hvor er RR776955364DK")
    assert result.handoff is None and desk.queue.list_handoffs() == []
    desk.carrier.down = True
    again = desk.say("hvor er RR727623343DK")
    assert again.handoff is not None and again.handoff["status"] == "offered"


# --- while a person has the conversation, and the hand-back ---------------------------------
def test_the_assistant_is_silent_while_a_person_has_the_conversation(desk: Desk) -> None:
    desk.chat.start("da")
    desk.say("hvor er RR361920561SE")
    handoff = _queued(desk.say("jeg vil tale med et menneske"), "customer_request")
    waiting = desk.say("hallo, er der nogen?")
    assert waiting.messages == [] and waiting.actions == []
    assert waiting.handoff is not None and waiting.handoff["status"] == "waiting"
    now = desk.chat.clock.now()
    claimed = desk.queue.claim(handoff["handoff_id"], "agent-mette", now)
    desk.engine.handoff_changed("conv-1", claimed)
    desk.queue.add_message(claimed.handoff_id, "agent", "Hej, det er Mette.", now)
    desk.engine.agent_message("conv-1", "Hej, det er Mette.")
    # Even a request the assistant would act on goes to the agent.
    during = desk.say("kan I sende den til døren i stedet?")
    assert during.messages == [] and during.handoff["status"] == "claimed"  # type: ignore[index]
    log = desk.queue.messages(handoff_id=claimed.handoff_id)
    assert [(m.role, m.text) for m in log] == [
        ("customer", "hallo, er der nogen?"),
        ("agent", "Hej, det er Mette."),
        ("customer", "kan I sende den til døren i stedet?"),
    ]
    transcript = desk.engine.state("conv-1")["transcript"]
    assert [m["role"] for m in transcript[-3:]] == ["customer", "agent", "customer"]

    desk.queue.resolve(claimed.handoff_id, now, note="redirect explained", return_to_bot=True)
    back = desk.engine.hand_back("conv-1", return_to_bot=True)
    assert back == text("handoff_back", "da")
    assert desk.engine.live_handoff("conv-1") is None
    # The assistant continues with the context: the language and the last parcel.
    after = desk.say("hvornår kommer den?")
    assert after.messages and after.language == "da"
    looked_up = [a for a in after.actions if a["tool"] == "get_shipment_status"]
    assert looked_up[0]["arguments"] == {"tracking_id": "RR361920561SE"}
    desk.chat.snapshot("handoff_silent_and_back_da")


def test_a_resolved_handoff_never_silences_the_assistant(desk: Desk) -> None:
    """The queue says resolved but the hand-back never reached the conversation state."""
    desk.chat.start("en")
    handoff = _queued(desk.say(ASK_FOR_A_PERSON["en"]), "customer_request")
    desk.queue.resolve(handoff["handoff_id"], desk.chat.clock.now())
    result = desk.say("where is RR361920561SE")
    assert result.messages and result.flow == "track_parcel"


# --- agents away or a long queue: callback or case ------------------------------------------
def test_outside_hours_a_callback_is_offered_and_the_number_validated(
    closed_desk: Desk,
) -> None:
    closed_desk.chat.start("sv")
    offered = closed_desk.say(ASK_FOR_A_PERSON["sv"])
    assert offered.handoff is not None and offered.handoff["offer"] == "callback_number"
    assert offered.awaiting == "contact"
    assert said(offered) == [
        text("handoff_closed_callback", "sv", day="måndag den 23 november", time="08:00")
    ]
    action = offered.actions[-1]
    assert action["tool"] == "handoff_to_agent" and action["result"]["reason"] == "agents_away"
    invalid = closed_desk.say("+46 12345678901234")
    assert said(invalid) == [text("handoff_invalid_phone", "sv", given="+46 12345678901234")]
    assert closed_desk.queue.list_handoffs() == []
    booked = closed_desk.say("070 123 45 67")
    assert booked.handoff is not None and booked.handoff["status"] == "callback"
    queued = closed_desk.only_handoff()
    assert (queued.mode, queued.callback_phone, queued.status) == (
        "callback",
        "+46701234567",
        "waiting",
    )
    # A callback does not silence the assistant: nobody is in the chat.
    assert closed_desk.say("tack").messages
    closed_desk.chat.snapshot("handoff_closed_callback_sv")


def test_outside_hours_a_case_can_be_opened_instead(closed_desk: Desk) -> None:
    closed_desk.chat.start("en")
    closed_desk.say("where is RR361920561SE")
    offered = closed_desk.say(ASK_FOR_A_PERSON["en"])
    assert offered.quick_replies == [text("qr_callback", "en"), text("qr_case", "en")]
    asked = closed_desk.say(text("qr_case", "en"))
    assert said(asked) == [text("ask_contact", "en")]
    invalid = closed_desk.say("my mail is me@example")
    assert said(invalid)[0].startswith("my mail is me@example")
    result = closed_desk.say("me@example.com")
    assert result.handoff is not None and result.handoff["status"] == "case"
    case = closed_desk.chat.store.get_case(result.handoff["case_id"])
    assert case is not None and case.category.value == "other"
    assert case.contact_email == "me@example.com" and "RR361920561SE" in case.description
    assert closed_desk.queue.list_handoffs() == []


def test_a_long_queue_offers_a_callback_instead(desk: Desk) -> None:
    for n in range(3):  # three customers ahead: about 24 minutes at 6 minutes each
        desk.chat.conversation_id = f"other-{n}"
        desk.chat.start("da")
        desk.say(ASK_FOR_A_PERSON["da"])
    desk.chat.conversation_id = "conv-1"
    desk.chat.start("da")
    result = desk.say(ASK_FOR_A_PERSON["da"])
    assert said(result) == [text("handoff_long_wait_callback", "da", minutes=24)]
    assert result.actions[-1]["result"]["reason"] == "wait_too_long"
    assert len(desk.queue.list_handoffs("waiting")) == 3


def test_no_callback_without_a_valid_number_and_no_to_the_offer_declines(
    closed_desk: Desk,
) -> None:
    closed_desk.chat.start("da")
    closed_desk.say(ASK_FOR_A_PERSON["da"])
    assert said(closed_desk.say("123")) == [text("handoff_ask_phone", "da")]
    declined = closed_desk.say("nej")
    assert said(declined) == [text("handoff_declined", "da")]
    assert closed_desk.queue.list_handoffs() == []


def test_a_rerun_handoff_step_never_queues_twice(desk: Desk) -> None:
    from graphs.handoff_node import handoff_step
    from graphs.turn_io import TurnIO

    desk.chat.start("en")
    desk.say(ASK_FOR_A_PERSON["en"])
    state: Any = {
        **desk.engine.state("conv-1"),
        "tasks": [{"kind": "handoff", "reason": "customer_request", "mode": "force"}],
    }
    ctx = desk.engine.context
    io = TurnIO(
        ctx.catalogue, ctx.tools, language="en", country=None, turn=1, conversation_id="conv-1"
    )
    again = handoff_step(state, ctx, io)
    assert again["handoff"]["handoff_id"] == desk.only_handoff().handoff_id


def test_two_triggers_in_one_turn_make_one_offer_for_the_weightier_reason(desk: Desk) -> None:
    desk.chat.start("en")
    for message in ("where is RR518377785SE", "can it go to my door instead", "2100"):
        desk.say(message)
    result = desk.say("This is completely unacceptable, the postcode IS 2100!!!")
    offers = [m for m in said(result) if "colleagues" in m]
    assert offers == [text("offer_human", "en")]  # asked once
    assert result.handoff is not None and result.handoff["reason"] == "frustration"
    _queued(desk.say("yes please"), "frustration")
    summary = desk.only_handoff().summary
    assert summary["intent"] == "redirect_delivery" and summary["sentiment"] == "negative"
