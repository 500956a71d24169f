"""A conversation engine over the demo seed, the real understander and a frozen clock."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.carrier.memory import InMemoryCarrierStore
from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.clock import FrozenClock
from assistant.eta.model import EtaModel
from assistant.eta.synthetic import generate_shipments
from assistant.ports import Passage, RetrievalResult
from assistant.replies import Catalogue
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from graphs.context import AssistantContext
from graphs.engine import ConversationEngine, TurnResult

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
SNAPSHOTS = Path(__file__).parent / "snapshots"


class ScriptedRetriever:
    """A Retriever twin that answers from a fixed table of passages (the real one is tested in tests/retrieval)."""

    def __init__(self, answers: dict[str, Passage]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def search(
        self, query: str, language: str, *, limit: int = 3, query_vector: object = None
    ) -> RetrievalResult:
        self.calls.append((query, language))
        for needle, passage in self.answers.items():
            if needle in query.lower():
                return RetrievalResult(
                    query=query,
                    language=passage.language,
                    passages=(passage,),
                    abstained=False,
                    fell_back=passage.language != language,
                    top_score=0.9,
                )
        return RetrievalResult(query=query, language=language, passages=(), abstained=True)


OPENING_HOURS = {
    "åbent": Passage(
        "contact-customer-service",
        "da",
        "Sådan kontakter du kundeservice",
        "...",
        "Du kan ringe til os mandag til fredag kl. 08.00-20.00.",
        0.9,
    ),
    "öppet": Passage(
        "contact-customer-service",
        "sv",
        "Så kontaktar du kundtjänst",
        "...",
        "Du kan ringa oss måndag till fredag kl. 08.00–20.00.",
        0.9,
    ),
    "open": Passage(
        "contact-customer-service",
        "en",
        "How to contact customer service",
        "...",
        "You can call us Monday to Friday, 08:00-20:00.",
        0.9,
    ),
}


@pytest.fixture(scope="session")
def eta_model() -> EtaModel:
    return EtaModel.train(generate_shipments(1500, seed=3), seed=3)


@pytest.fixture(scope="session")
def understander() -> Understander:
    return Understander()


@dataclass
class Chat:
    engine: ConversationEngine
    store: InMemoryCarrierStore
    clock: FrozenClock
    retriever: ScriptedRetriever
    conversation_id: str = "conv-1"
    lines: list[str] = field(default_factory=list)
    results: list[TurnResult] = field(default_factory=list)

    def start(self, language: str) -> TurnResult:
        result = self.engine.start(self.conversation_id, language)
        self._log(None, result)
        return result

    def say(self, text: str) -> TurnResult:
        result = self.engine.turn(self.conversation_id, text)
        self._log(text, result)
        return result

    def _log(self, text: str | None, result: TurnResult) -> None:
        self.results.append(result)
        if text is not None:
            self.lines.append(f"customer: {text}")
        for message in result.messages:
            self.lines.append(f"assistant: {message['text']}")
        tools = ", ".join(
            f"{a['tool']}{'' if a['ok'] else '!' + str(a['result'].get('reason'))}"
            for a in result.actions
        )
        self.lines.append(
            f"  [{result.language} flow={result.flow} status={result.flow_status} awaiting={result.awaiting}"
            + (f" tools={tools}" if tools else "")
            + (f" handoff={result.handoff['reason']}" if result.handoff else "")
            + "]"
        )

    def transcript(self) -> str:
        return "\n".join(self.lines) + "\n"

    def snapshot(self, name: str) -> None:
        """Compare the transcript with `snapshots/<name>.txt`; UPDATE_SNAPSHOTS=1 rewrites it."""
        path = SNAPSHOTS / f"{name}.txt"
        text = self.transcript()
        if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
            path.write_text(text, encoding="utf-8")
            return
        assert text == path.read_text(encoding="utf-8"), (
            f"transcript {name} changed; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
        )


@pytest.fixture
def chat(eta_model: EtaModel, understander: Understander) -> Iterator[Chat]:
    clock = FrozenClock(NOW)
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
    retriever = ScriptedRetriever(OPENING_HOURS)
    context = AssistantContext(
        tools=CarrierTools(simulator, eta_model, clock),
        retriever=retriever,
        understander=understander,
        catalogue=Catalogue(),
        clock=clock,
    )
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    engine = ConversationEngine(context, SqliteSaver(conn))
    yield Chat(engine, store, clock, retriever)
    conn.close()
