"""The composition root: every client and adapter is built here, once, from settings (STYLE rule 1).

The FastAPI lifespan keeps one `Container` on `app.state`; the CLI builds its own. No other
module constructs clients or reads settings on its own.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine

from api.feedback import FeedbackStore
from api.locks import conversation_locks, schema_lock
from api.retention import SqlConversationActivity
from api.security import TokenStore
from assistant.carrier.http import HttpCarrierBackend
from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import Clock
from assistant.domain import Shipment
from assistant.embedding import E5Embedder
from assistant.eta.model import EtaModel, EtaPrediction, load_or_train
from assistant.handoff.hours import parse_all
from assistant.handoff.queue import SqlHandoffQueue
from assistant.llm import ChatModel, OpenAIChatModel
from assistant.ports import CarrierBackend
from assistant.replies import Catalogue
from assistant.settings import Settings
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from graphs.context import AssistantContext, UnderstandingPort
from graphs.engine import ConversationEngine
from graphs.llm_understanding import LLMUnderstander
from knowledge.reindex import Reindexer, make_reindexer
from retrieval.retriever import HybridRetriever, make_store

__all__ = ["Container", "LazyEta"]

log = logging.getLogger(__name__)


class LazyEta:
    """The ETA model, trained or loaded on the first prediction so start-up stays fast."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._model: EtaModel | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> EtaModel:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_or_train(self._path)
        return self._model

    def predict(self, shipment: Shipment, now: datetime) -> EtaPrediction:
        return self.model.predict(shipment, now)


def build_carrier(settings: Settings, clock: Clock, store: SqlCarrierStore) -> CarrierBackend:
    """The simulator over the seed, or the HTTP adapter when `BUDBRINGER_CARRIER_URL` is set."""
    if settings.carrier_url:
        key = settings.carrier_api_key.get_secret_value() if settings.carrier_api_key else None
        return HttpCarrierBackend(
            settings.carrier_url, api_key=key, timeout_s=settings.carrier_timeout_s
        )
    return CarrierSimulator(
        load_seed(settings.carrier_seed),
        cases=store,
        redirects=store,
        verifications=store,
        clock=clock,
        max_attempts=settings.verify_max_attempts,
        lock_minutes=settings.verify_lock_minutes,
    )


def build_checkpointer(settings: Settings) -> tuple[BaseCheckpointSaver[Any], Any]:
    """LangGraph's SQLite checkpointer in the data dir, or its PostgreSQL twin by URL.

    Returns the saver and the connection (or pool) to close at shutdown.
    """
    url = settings.database_url or ""
    if url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        )
        postgres = PostgresSaver(pool)  # type: ignore[arg-type]
        postgres.setup()
        return postgres, pool
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = settings.data_dir / "conversations.db"
    conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL: a commit survives a process crash (not a power cut) and costs
    # no fsync, which keeps a turn's checkpoint write well under a millisecond.
    conn.execute("PRAGMA synchronous=NORMAL")
    # A deleted conversation (api/retention.py) is overwritten, not left in free pages.
    conn.execute("PRAGMA secure_delete=ON")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver, conn


@dataclass
class Container:
    settings: Settings
    clock: Clock
    engine: Engine
    carrier_store: SqlCarrierStore
    carrier: CarrierBackend
    eta: LazyEta
    tools: CarrierTools
    embedder: E5Embedder
    retriever: HybridRetriever
    reindexer: Reindexer
    conversations: ConversationEngine
    conversation_tokens: TokenStore
    feedback: FeedbackStore
    handoffs: SqlHandoffQueue
    _resources: list[Any] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.sql_url)
        # Every store creates its tables here: workers starting together on one PostgreSQL
        # database take turns (api/locks.py), or one dies of a catalogue race.
        with schema_lock(engine):
            return cls._build(settings, engine)

    @classmethod
    def _build(cls, settings: Settings, engine: Engine) -> Container:
        clock = settings.make_clock()
        store = SqlCarrierStore(engine)
        carrier = build_carrier(settings, clock, store)
        eta = LazyEta(settings.data_dir / "models" / "eta.joblib")
        tools = CarrierTools(carrier, eta, clock)
        embedder = E5Embedder()
        knowledge_store = make_store(settings)
        retriever = HybridRetriever(knowledge_store, embedder)
        reindexer = make_reindexer(settings, embedder, knowledge_store)
        checkpointer, resource = build_checkpointer(settings)
        understander: UnderstandingPort = Understander(embedder)
        chat_model: ChatModel | None = None
        if settings.llm.configured:
            chat_model = OpenAIChatModel(settings.llm)
            understander = LLMUnderstander(understander, chat_model)
        handoffs = SqlHandoffQueue(engine)
        context = AssistantContext(
            tools=tools,
            retriever=retriever,
            understander=understander,
            catalogue=Catalogue(),
            clock=clock,
            embedder=embedder,
            chat_model=chat_model,
            handoffs=handoffs,
            business_hours=parse_all(settings.business_hours),
            agents_language=settings.agents_language,
            handoff_value_limit_eur=settings.handoff_value_limit_eur,
            handoff_max_wait_minutes=settings.handoff_max_wait_minutes,
        )
        log.info(
            "container built",
            extra={"carrier": type(carrier).__name__, "database": engine.url.get_backend_name()},
        )
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            carrier_store=store,
            carrier=carrier,
            eta=eta,
            tools=tools,
            embedder=embedder,
            retriever=retriever,
            reindexer=reindexer,
            conversations=ConversationEngine(
                context,
                checkpointer,
                activity=SqlConversationActivity(engine),
                shared_lock=conversation_locks(engine),
            ),
            conversation_tokens=TokenStore(engine),
            feedback=FeedbackStore(engine),
            handoffs=handoffs,
            _resources=[resource, knowledge_store],
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for resource in (self.carrier, *self._resources):
            close = getattr(resource, "close", None)
            if callable(close):
                close()
        self.engine.dispose()
