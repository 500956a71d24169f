"""Runs the assistant in-process over the eval datasets and records what it did, turn by turn.

The assistant is built by the composition root (`api.container.Container.build`) exactly as
`budbringer serve` builds it, with three differences that make a run reproducible:

- the data dir is a fresh folder of the run (SQLite carrier records, checkpoints), with the
  help-centre index and the ETA model copied in from the build cache (`evals.index_cache`);
- the clock is frozen at the datasets' `now` and the carrier is the demo-seed simulator, because
  the scenarios are written against those parcels on that day;
- the carrier's records (redirects, cases, verification attempts) are emptied before every
  scenario, so no scenario sees another's redirect or postcode lock-out.

The retriever is wrapped in a pass-through recorder so the run knows which passages each
answer was built from (for context metrics and the grounding check); nothing else is replaced.
Scoring lives in `evals.metrics` and `evals.ragas_metrics`; this module only observes.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, delete

from api.container import Container
from assistant.embedding import E5_MODEL_ID, E5Embedder
from assistant.ports import Passage, RetrievalResult, Retriever
from assistant.settings import Settings
from evals.datasets import Datasets
from evals.index_cache import DEFAULT_CACHE, checkout, ensure_eta_model, ensure_index
from evals.schema import KnowledgeCase, Scenario
from graphs.engine import ConversationEngine, TurnResult

__all__ = [
    "Check",
    "KnowledgeRun",
    "RecordingRetriever",
    "RunResult",
    "ScenarioRun",
    "TurnLog",
    "assistant_for_eval",
    "is_handoff",
    "run_datasets",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


class RecordingRetriever:
    """The real retriever, with every result kept for the eval (a pass-through, not a fake)."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.results: list[RetrievalResult] = []

    def search(
        self, query: str, language: str, *, limit: int = 3, query_vector: Any = None
    ) -> RetrievalResult:
        result = self.inner.search(query, language, limit=limit, query_vector=query_vector)
        self.results.append(result)
        return result


@dataclass
class TurnLog:
    """One customer message (None for the opening) and everything the assistant did with it."""

    index: int
    customer: str | None
    replies: list[str]
    keys: list[str]
    language: str
    flow: str | None
    flow_status: str | None
    awaiting: str | None
    citations: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    handoff: dict[str, Any] | None
    passages: list[Passage]
    upset_detected: bool
    paused_at: str | None
    ms: float
    error: str | None = None
    # What the flow engine knows besides the logged actions (slots as understood, facts a flow
    # keeps from tool calls): grounding sources, never shown as replies.
    known: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.replies)


def is_handoff(handoff: dict[str, Any] | None) -> bool:
    return bool(handoff) and (handoff or {}).get("status") != "offered"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class ScenarioRun:
    scenario: Scenario
    attempt: int
    turns: list[TurnLog]
    redirects: list[dict[str, str]]
    cases: list[dict[str, str]]
    checks: list[Check] = field(default_factory=list)
    error: str | None = None

    @property
    def handoff(self) -> dict[str, Any] | None:
        """The first real handoff; an offer of a person the customer has not taken is none."""
        return next((t.handoff for t in self.turns if is_handoff(t.handoff)), None)

    @property
    def success(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks)


@dataclass
class KnowledgeRun:
    case: KnowledgeCase
    turns: list[TurnLog]
    error: str | None = None

    @property
    def answer_turn(self) -> TurnLog | None:
        return self.turns[-1] if len(self.turns) > 1 else None

    @property
    def reply(self) -> str:
        turn = self.answer_turn
        return turn.text if turn else ""

    @property
    def cited(self) -> list[str]:
        turn = self.answer_turn
        return [str(c.get("article_id")) for c in turn.citations] if turn else []

    @property
    def retrieved(self) -> list[Passage]:
        turn = self.answer_turn
        return list(turn.passages) if turn else []


@dataclass
class RunResult:
    knowledge: list[KnowledgeRun]
    scenarios: list[ScenarioRun]
    mode: str  # "offline" or "llm:<model>"
    k: int
    started: datetime
    duration_s: float
    versions: dict[str, str]


@dataclass
class EvalAssistant:
    container: Container
    engine: ConversationEngine
    retriever: RecordingRetriever

    def reset_carrier(self) -> None:
        """Empty every table of the run's own database: redirects, cases, verification attempts,
        the handoff queue. The seed itself is read-only; conversations live elsewhere."""
        tables = MetaData()
        tables.reflect(bind=self.container.engine)
        with self.container.engine.begin() as conn:
            for table in reversed(tables.sorted_tables):
                conn.execute(delete(table))


@contextmanager
def assistant_for_eval(
    settings: Settings,
    now: datetime,
    *,
    offline: bool,
    cache_dir: Path = DEFAULT_CACHE,
    eta_cache: Path = DEFAULT_CACHE.parent / "eta",
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> Iterator[EvalAssistant]:
    """The assistant as `serve` builds it, over a fresh data dir with the cached index copied in."""
    with tempfile.TemporaryDirectory(prefix="budbringer-eval-", dir=workdir) as tmp:
        data_dir = Path(tmp) / "data"
        say = progress or (lambda phase, done, total: None)
        cached = ensure_index(
            settings.resolved_knowledge_dir,
            E5_MODEL_ID,
            E5Embedder,
            cache_dir=cache_dir,
            progress=lambda phase, done, total: say(f"index: {phase}", done, total),
        )
        checkout(cached, data_dir / "knowledge")
        eta = ensure_eta_model(eta_cache)
        (data_dir / "models").mkdir(parents=True)
        (data_dir / "models" / "eta.joblib").write_bytes(eta.read_bytes())
        update: dict[str, Any] = {
            "data_dir": data_dir,
            "now": now,
            "database_url": None,
            "qdrant_url": None,
            "carrier_url": None,
            "knowledge_dir": settings.resolved_knowledge_dir,
        }
        if offline:
            update["llm"] = settings.llm.model_copy(update={"base_url": None, "model": None})
        container = Container.build(settings.model_copy(update=update))
        try:
            recorder = RecordingRetriever(container.retriever)
            context = dataclasses.replace(container.conversations.context, retriever=recorder)
            engine = ConversationEngine(context, container.conversations.checkpointer)
            yield EvalAssistant(container, engine, recorder)
        finally:
            container.close()


def _turn(
    assistant: EvalAssistant, cid: str, index: int, text: str | None, language: str
) -> TurnLog:
    assistant.retriever.results.clear()
    started = time.perf_counter()
    error = None
    try:
        if text is None:
            result = assistant.engine.start(cid, language)
        else:
            result = assistant.engine.turn(cid, text)
    except Exception as exc:  # a crash is a finding: record it, keep evaluating the rest
        log.warning("turn %d of %s raised %s", index, cid, exc)
        error = "".join(traceback.format_exception_only(exc)).strip()
        result = TurnResult(cid, index, language, [], None, None, None)
    ms = (time.perf_counter() - started) * 1000
    state = assistant.engine.state(cid) if error is None else {}
    out = state.get("out", [])
    nlu = state.get("nlu") or {}
    passages = [p for r in assistant.retriever.results for p in r.passages]
    known: list[Any] = [nlu.get("slots") or {}]
    known += [frame.get("facts") or {} for frame in state.get("stack") or []]
    known += [frame.get("slots") or {} for frame in state.get("stack") or []]
    return TurnLog(
        index=index,
        customer=text,
        replies=[m["text"] for m in result.messages],
        keys=[str(r.get("key", "")) for r in out],
        language=result.language,
        flow=result.flow,
        flow_status=result.flow_status,
        awaiting=result.awaiting,
        citations=list(result.citations),
        actions=list(result.actions),
        handoff=result.handoff,
        passages=passages,
        upset_detected=bool(nlu.get("upset")),
        paused_at=result.paused_at,
        ms=ms,
        error=error,
        known=known,
    )


def run_knowledge(assistant: EvalAssistant, case: KnowledgeCase, run_id: str) -> KnowledgeRun:
    cid = f"eval-{run_id}-kb-{case.id}"
    turns = [_turn(assistant, cid, 0, None, case.language)]
    turns.append(_turn(assistant, cid, 1, case.question, case.language))
    error = next((t.error for t in turns if t.error), None)
    return KnowledgeRun(case, turns, error)


def run_scenario(
    assistant: EvalAssistant, scenario: Scenario, run_id: str, attempt: int = 1
) -> ScenarioRun:
    assistant.reset_carrier()
    cid = f"eval-{run_id}-sc-{scenario.id}-{attempt}"
    turns = [_turn(assistant, cid, 0, None, scenario.language)]
    for index, spec in enumerate(scenario.turns, start=1):
        turns.append(_turn(assistant, cid, index, spec.say, scenario.language))
        if turns[-1].error:
            break
    store = assistant.container.carrier_store
    ids = {
        str(a["arguments"].get("tracking_id"))
        for t in turns
        for a in t.actions
        if isinstance(a.get("arguments"), dict) and a["arguments"].get("tracking_id")
    }
    ids |= {r.tracking_id for r in scenario.expect.redirects}
    ids |= {c.tracking_id for c in scenario.expect.cases}
    redirects = []
    for tracking_id in sorted(ids):
        redirect = store.latest_redirect(tracking_id)
        if redirect is not None:
            redirects.append({"tracking_id": tracking_id, "option": redirect.option.option_id})
    cases = [
        {"tracking_id": c.tracking_id, "category": str(c.category.value), "case_id": c.case_id}
        for c in store.list_cases(limit=1000)
    ]
    error = next((t.error for t in turns if t.error), None)
    return ScenarioRun(scenario, attempt, turns, redirects, cases, error=error)


def run_datasets(
    assistant: EvalAssistant,
    datasets: Datasets,
    *,
    k: int = 1,
    progress: Progress | None = None,
    mode: str = "offline",
) -> RunResult:
    """Every knowledge case once and every scenario `k` times; checks are added by `evals.metrics`."""
    say = progress or (lambda phase, done, total: None)
    started = datetime.now().astimezone()
    clock = time.perf_counter()
    run_id = started.strftime("%H%M%S")
    knowledge = []
    total = len(datasets.knowledge)
    for done, case in enumerate(datasets.knowledge, start=1):
        knowledge.append(run_knowledge(assistant, case, run_id))
        say("knowledge questions", done, total)
    scenarios = []
    total = len(datasets.scenarios) * k
    done = 0
    for attempt in range(1, k + 1):
        for scenario in datasets.scenarios:
            scenarios.append(run_scenario(assistant, scenario, run_id, attempt))
            done += 1
            say("scenarios", done, total)
    return RunResult(
        knowledge=knowledge,
        scenarios=scenarios,
        mode=mode,
        k=k,
        started=started,
        duration_s=time.perf_counter() - clock,
        versions=datasets.versions,
    )
