"""Faults at the conversation level: the customer hears what happened in their language and what
to do (try again, a colleague); the conversation stays where it was; nothing escapes `turn`."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore
from assistant.embedding import HashingEmbedder
from assistant.llm import OpenAIChatModel
from assistant.settings import DEMO_SEED
from graphs.llm_understanding import LLMUnderstander
from retrieval.retriever import HybridRetriever
from retrieval.server_store import ServerKnowledgeStore
from tests.faults.conftest import CATALOGUE, LANGUAGES, World, said
from tests.scripted_llm import Delay, ScriptedLLM, Status, Text

HOME_DK = "RR361920561SE"  # home delivery to 8000 Aarhus C, redirect allowed
WHERE = {
    "da": f"hvor er min pakke {HOME_DK}",
    "sv": f"var är mitt paket {HOME_DK}",
    "nb": f"hvor er pakken min {HOME_DK}",
    "fi": f"missä on pakettini {HOME_DK}",
    "en": f"where is my parcel {HOME_DK}",
}
CARRIER_FAULTS = ["slow", "500", "html", "bad_json", "reset"]


# --- the carrier API ---------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "language"), list(zip(CARRIER_FAULTS, LANGUAGES, strict=True)))
def test_carrier_failing_on_a_lookup_is_explained_and_the_retry_works(
    world: World, fault: str, language: str
) -> None:
    proxy = world.proxy()
    bot = world.bot(backend=world.http_backend(proxy))
    bot.start(language)

    proxy.fault = fault
    started = time.monotonic()
    failed = bot.say(WHERE[language])
    # Two attempts of at most 0.3 s each, and nothing that waits for the slow server.
    assert time.monotonic() - started < 3
    assert CATALOGUE.render("tool_failure", language) in said(failed)
    assert failed.language == language
    assert (failed.flow, failed.flow_status, failed.awaiting) == (
        "track_parcel",
        "active",
        "tracking_id",
    )
    assert [a["result"]["reason"] for a in failed.actions if not a["ok"]] == ["backend_unavailable"]

    proxy.fault = None
    again = bot.say(HOME_DK)
    assert (again.flow, again.flow_status) == ("track_parcel", "completed")
    assert HOME_DK in said(again)


def test_carrier_failing_mid_redirect_keeps_the_flow_at_the_postcode(world: World) -> None:
    proxy = world.proxy()
    bot = world.bot(backend=world.http_backend(proxy))
    bot.start("da")
    asked = bot.say(f"kan {HOME_DK} stilles ved døren")
    assert (asked.flow, asked.awaiting) == ("redirect_delivery", "postcode")

    proxy.fault = "500"
    failed = bot.say("8000")
    assert CATALOGUE.render("tool_failure", "da") in said(failed)
    assert (failed.flow, failed.flow_status, failed.awaiting) == (
        "redirect_delivery",
        "active",
        "postcode",
    )

    proxy.fault = None
    confirming = bot.say("8000")
    assert confirming.awaiting == "confirmation" and confirming.paused_at == "confirm"
    done = bot.say("ja")
    assert (done.flow, done.flow_status) == ("redirect_delivery", "completed")
    assert world.store.latest_redirect(HOME_DK) is not None


def test_carrier_failing_at_the_redirect_asks_again_and_never_redirects_twice(
    world: World,
) -> None:
    proxy = world.proxy()
    bot = world.bot(backend=world.http_backend(proxy))
    bot.start("en")
    bot.say(f"can {HOME_DK} be left at my door")
    assert bot.say("8000").awaiting == "confirmation"

    proxy.fault = "reset"
    failed = bot.say("yes")
    assert CATALOGUE.render("tool_failure", "en") in said(failed)
    assert world.store.latest_redirect(HOME_DK) is None
    assert (failed.flow, failed.flow_status) == ("redirect_delivery", "active")

    proxy.fault = None
    again = bot.say("please try again")
    assert again.awaiting == "confirmation", "a new yes is asked for, not assumed"
    assert world.store.latest_redirect(HOME_DK) is None
    done = bot.say("yes")
    assert (done.flow, done.flow_status) == ("redirect_delivery", "completed")
    assert len([r for r in world.store._redirects if r.tracking_id == HOME_DK]) == 1


# --- the knowledge store -----------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_knowledge_store_unreachable_is_explained_and_the_flow_continues(
    world: World, language: str
) -> None:
    from qdrant_client import QdrantClient

    client = QdrantClient(
        url=f"http://127.0.0.1:{_closed_port()}", timeout=1, check_compatibility=False
    )
    world.closers.append(client.close)
    retriever = HybridRetriever(ServerKnowledgeStore(client), HashingEmbedder())
    bot = world.bot(retriever=retriever)
    bot.start(language)
    question = {"sv": "när har ni öppet?", "fi": "milloin asiakaspalvelu on auki?"}[language]

    failed = bot.say(question)
    assert CATALOGUE.render("kb_unavailable", language) in said(failed)
    assert failed.language == language
    search = [a for a in failed.actions if a["tool"] == "search_knowledge"]
    assert search and search[0]["ok"] is False
    assert search[0]["result"]["reason"] == "knowledge_unavailable"

    tracked = bot.say(WHERE[language])
    assert (tracked.flow, tracked.flow_status) == ("track_parcel", "completed")


# --- the database ------------------------------------------------------------------------------
def _lock(path: Path) -> sqlite3.Connection:
    """Another connection holding a write transaction on the database."""
    holder = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_conversation_database_locked_is_explained_and_nothing_is_lost(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.db"
    bot = world.bot(checkpointer_path=path)
    bot.start("nb")
    asked = bot.say(f"kan {HOME_DK} leveres på døren")
    assert (asked.flow, asked.awaiting) == ("redirect_delivery", "postcode")
    before = bot.state()

    holder = _lock(path)
    try:
        failed = bot.say("8000")
    finally:
        holder.rollback()
        holder.close()
    assert CATALOGUE.render("turn_failed", "nb") in said(failed)
    assert failed.language == "nb"
    assert (failed.flow, failed.awaiting) == ("redirect_delivery", "postcode")
    assert bot.state()["turn"] == before["turn"], "the failed turn left no trace"

    retried = bot.say("8000")
    assert retried.awaiting == "confirmation"


def test_carrier_database_locked_is_explained_and_the_retry_works(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "carrier.db"
    # The embedded carrier's own SQL store, with a short busy timeout instead of 10 s.
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    world.closers.append(engine.dispose)
    store = SqlCarrierStore(engine)
    simulator = CarrierSimulator(
        load_seed(DEMO_SEED), cases=store, redirects=store, verifications=store, clock=world.clock
    )
    bot = world.bot(backend=simulator)
    bot.start("sv")
    bot.say(f"kan {HOME_DK} lämnas vid dörren")

    holder = _lock(path)
    try:
        failed = bot.say("8000")  # verification writes to the locked database
    finally:
        holder.rollback()
        holder.close()
    assert CATALOGUE.render("turn_failed", "sv") in said(failed)
    assert failed.language == "sv"
    assert (failed.flow, failed.awaiting) == ("redirect_delivery", "postcode")

    assert bot.say("8000").awaiting == "confirmation"


# --- the language model ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def llm_server() -> ScriptedLLM:
    with ScriptedLLM() as server:
        yield server


@pytest.mark.parametrize("failure", ["500", "slow"])
def test_model_failing_or_slow_falls_back_to_the_offline_assistant(
    world: World, llm_server: ScriptedLLM, failure: str
) -> None:
    llm_server.reset()
    llm_server.respond_with(
        lambda request: Status(500) if failure == "500" else Delay(1.0, Text("too late"))
    )
    model = OpenAIChatModel(llm_server.settings(timeout_s=0.3))
    bot = world.bot(understander=LLMUnderstander(world.understander, model), chat_model=model)
    offline = world.bot()
    offline.conversation_id = "offline"
    for b in (bot, offline):
        b.start("fi")

    for text in (f"voiko {HOME_DK} jättää ovelle", "8000"):
        started = time.monotonic()
        result = bot.say(text)
        assert time.monotonic() - started < 5
        expected = offline.say(text)
        assert result.messages == expected.messages
        assert (result.flow, result.awaiting) == (expected.flow, expected.awaiting)
    assert result.awaiting == "confirmation"
    assert llm_server.requests, "the model was tried"
