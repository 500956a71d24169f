"""In-process offline turn latency through the whole engine (issue targets in the output).

Flow turns that need no retrieval (a postcode, a yes): p50 <= 10 ms. Turns that embed the
message (a help-centre question; the embedding is ~22 ms and is computed once per turn, shared
by understanding and retrieval): p50 <= 35 ms, p95 <= 60 ms. Real stores: the simulator over
SQLite, the SQLite checkpointer, Qdrant Edge with the full help centre.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import FrozenClock
from assistant.embedding import E5Embedder
from assistant.eta.model import load_or_train
from assistant.replies import Catalogue
from assistant.settings import DEMO_SEED, Settings
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from benchmarks._results import percentiles_ms, write_results
from graphs.context import AssistantContext
from graphs.engine import ConversationEngine
from knowledge.reindex import make_reindexer
from retrieval.retriever import HybridRetriever, make_store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
QUESTIONS = Path(__file__).resolve().parents[1] / "evals" / "datasets" / "retrieval_questions.jsonl"
REDIRECT = {
    "da": "kan RR361920561SE stilles ved døren",
    "sv": "kan RR361920561SE lämnas vid dörren",
    "en": "can RR361920561SE be left at my door",
}
YES = {"da": "ja", "sv": "ja", "en": "yes"}


def main(argv: list[str] | None = None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data)
        clock = FrozenClock(NOW)
        store = SqlCarrierStore(make_engine(f"sqlite:///{data / 'carrier.db'}"))
        simulator = CarrierSimulator(
            load_seed(DEMO_SEED), cases=store, redirects=store, verifications=store, clock=clock
        )
        embedder = E5Embedder(num_threads=1)
        knowledge = make_store(settings)
        started = time.perf_counter()
        report = make_reindexer(settings, embedder, knowledge).run(full=True)
        index_s = time.perf_counter() - started
        context = AssistantContext(
            tools=CarrierTools(simulator, load_or_train(data / "eta.joblib"), clock),
            retriever=HybridRetriever(knowledge, embedder),
            understander=Understander(embedder),
            catalogue=Catalogue(),
            clock=clock,
            embedder=embedder,
        )
        conn = sqlite3.connect(data / "conversations.db", check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # as api/container.py configures it
        engine = ConversationEngine(context, SqliteSaver(conn))

        flow_turns: list[float] = []
        first_turns: list[float] = []
        for i in range(60):
            language = ("da", "sv", "en")[i % 3]
            cid = f"flow-{i}"
            engine.start(cid, language)
            t0 = time.perf_counter()
            engine.turn(cid, REDIRECT[language])
            first_turns.append(time.perf_counter() - t0)
            for text in ("8000", YES[language]):
                t0 = time.perf_counter()
                engine.turn(cid, text)
                flow_turns.append(time.perf_counter() - t0)
            simulator_reset(store)

        questions = [
            json.loads(line)
            for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        knowledge_turns: list[float] = []
        for i, row in enumerate(q for q in questions if q.get("article_id")):
            if i >= 150:
                break
            cid = f"kb-{i}"
            engine.start(cid, row["language"])
            t0 = time.perf_counter()
            engine.turn(cid, row["question"])
            knowledge_turns.append(time.perf_counter() - t0)
        conn.close()
        knowledge.close()

    figures: dict[str, object] = {
        "flow_turn_without_retrieval": percentiles_ms(flow_turns),
        "flow_turn_target": "p50 <= 10 ms",
        "first_turn_lookup_and_eta": percentiles_ms(first_turns),
        "knowledge_turn_with_embedding": percentiles_ms(knowledge_turns),
        "knowledge_turn_target": "p50 <= 35 ms, p95 <= 60 ms",
        "index_build_s": round(index_s, 1),
        "index_switched": report.switched,
    }
    write_results("conversation", figures)
    return figures


def simulator_reset(store: SqlCarrierStore) -> None:
    """Forget redirects so the next conversation can redirect the same parcel again."""
    from assistant.carrier.store import redirects

    with store.engine.begin() as conn:
        conn.execute(redirects.delete())


if __name__ == "__main__":
    main()
