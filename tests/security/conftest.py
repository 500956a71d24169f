"""The assistant under attack: the real graph, understander, simulator and a real (hashing)
knowledge index that holds the poisoned articles of attacks.yaml, offline or with a model."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.carrier.memory import InMemoryCarrierStore
from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.clock import FrozenClock
from assistant.embedding import HashingEmbedder
from assistant.eta.model import EtaModel
from assistant.eta.synthetic import generate_shipments
from assistant.llm import OpenAIChatModel
from assistant.ports import Retriever
from assistant.replies import Catalogue
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from graphs.context import AssistantContext, UnderstandingPort
from graphs.engine import ConversationEngine, TurnResult
from graphs.llm_understanding import LLMUnderstander
from knowledge.reindex import Reindexer
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.retriever import HybridRetriever, Thresholds
from tests.graphs.conftest import NOW
from tests.kb_index import CONTENT
from tests.scripted_llm import ScriptedLLM

ATTACKS_FILE = Path(__file__).with_name("attacks.yaml")
CLEAN_TOPICS = ("contact-customer-service", "customs-and-vat", "leave-at-door", "parcel-locker")
LANGUAGES = ("da", "sv", "nb", "fi", "en")


@dataclass(frozen=True)
class Attack:
    id: str
    language: str
    channel: str
    turns: tuple[str, ...]
    canaries: tuple[str, ...]
    target: str
    article: dict[str, str] | None = None
    field: str | None = None
    payload: str | None = None
    model: str | None = None


def load_attacks() -> list[Attack]:
    raw = yaml.safe_load(ATTACKS_FILE.read_text(encoding="utf-8"))
    targets: dict[str, str] = {k: str(v) for k, v in raw["targets"].items()}
    attacks = []
    for item in raw["attacks"]:
        target = targets[item["language"]]
        article = item.get("article")
        if article:
            article = {k: str(v).replace("{tid}", target) for k, v in article.items()}
        attacks.append(
            Attack(
                id=item["id"],
                language=item["language"],
                channel=item["channel"],
                turns=tuple(t.replace("{tid}", target) for t in item["turns"]),
                canaries=tuple(item.get("canaries", ())),
                target=target,
                article=article,
                field=item.get("field"),
                payload=item.get("payload"),
                model=item.get("model"),
            )
        )
    return attacks


ATTACKS = load_attacks()


def recipient_of(tracking_id: str) -> dict[str, str]:
    for line in (DEMO_SEED / "shipments.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["tracking_id"] == tracking_id:
            return {k: str(v) for k, v in record["recipient"].items()}
    raise KeyError(tracking_id)


def poisoned_seed(attack: Attack, root: Path) -> Path:
    """The demo seed with the attack's payload in the target's sender name or every event place."""
    seed = root / f"seed-{attack.id}"
    shutil.copytree(DEMO_SEED, seed)
    lines = (seed / "shipments.jsonl").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        record = json.loads(line)
        if record["tracking_id"] != attack.target:
            continue
        if attack.field == "sender_name":
            record["sender"]["name"] = attack.payload
        elif attack.field == "event_location":
            for event in record["events"]:
                event["location"] = attack.payload
        else:
            raise ValueError(f"{attack.id}: unknown field {attack.field!r}")
        lines[n] = json.dumps(record, ensure_ascii=False)
    (seed / "shipments.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return seed


@pytest.fixture(scope="session")
def security_eta() -> EtaModel:
    return EtaModel.train(generate_shipments(300, seed=5), seed=5)


@pytest.fixture(scope="session")
def security_understander() -> Understander:
    return Understander()


@pytest.fixture(scope="session")
def poisoned_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HybridRetriever]:
    """A few real topics in five languages plus every poisoned article, indexed for real."""
    root = tmp_path_factory.mktemp("poisoned-kb")
    content = root / "content"
    for language in LANGUAGES:
        (content / language).mkdir(parents=True)
        for topic in CLEAN_TOPICS:
            shutil.copy(CONTENT / language / f"{topic}.md", content / language / f"{topic}.md")
    for attack in ATTACKS:
        if attack.article is None:
            continue
        article_id = f"poison-{attack.id}"
        (content / attack.language / f"{article_id}.md").write_text(
            f"---\nid: {article_id}\ntitle: {attack.article['title']}\n"
            f"language: {attack.language}\ntags: [poison]\nupdated: 2026-10-01\n---\n\n"
            f"# {attack.article['title']}\n\n{attack.article['body']}\n",
            encoding="utf-8",
        )
    embedder = HashingEmbedder(dimension=64)
    store = EdgeKnowledgeStore(root / "state")
    report = Reindexer(store, embedder, content, root / "state").run(full=True)
    assert report.switched, report.message
    # Hashed trigrams score lower than e5: a low bar, so the poisoned passages do get used.
    yield HybridRetriever(store, embedder, thresholds={"default": Thresholds(min_score=0.2)})
    store.close()


@pytest.fixture(scope="module")
def llm_server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@dataclass
class Bot:
    engine: ConversationEngine
    store: InMemoryCarrierStore
    results: list[TurnResult] = field(default_factory=list)
    conversation_id: str = "attack"

    def start(self, language: str) -> TurnResult:
        result = self.engine.start(self.conversation_id, language)
        self.results.append(result)
        return result

    def say(self, text: str) -> TurnResult:
        result = self.engine.turn(self.conversation_id, text)
        self.results.append(result)
        return result

    def replies(self) -> list[str]:
        return [m["text"] for r in self.results for m in r.messages]


def build_bot(
    *,
    seed: Path,
    eta: EtaModel,
    understander: Understander,
    retriever: Retriever,
    llm: ScriptedLLM | None,
    timeout_s: float = 5.0,
) -> tuple[Bot, sqlite3.Connection]:
    clock = FrozenClock(NOW)
    store = InMemoryCarrierStore()
    simulator = CarrierSimulator(
        load_seed(seed), cases=store, redirects=store, verifications=store, clock=clock
    )
    understanding: UnderstandingPort = understander
    model = None
    if llm is not None:
        model = OpenAIChatModel(llm.settings(timeout_s=timeout_s))
        understanding = LLMUnderstander(understander, model)
    context = AssistantContext(
        tools=CarrierTools(simulator, eta, clock),
        retriever=retriever,
        understander=understanding,
        catalogue=Catalogue(),
        clock=clock,
        chat_model=model,
    )
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    return Bot(ConversationEngine(context, SqliteSaver(conn)), store), conn


def as_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
