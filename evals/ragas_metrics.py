"""Everything that touches Ragas (pinned ==0.4.3) lives here, so an API change touches one file.

Offline, always (no model needed):
- `context_precision` / `context_recall`: `IDBasedContextPrecision` / `IDBasedContextRecall`
  over the article ids the answer's retrieval returned vs the reference article ids;
- `answer_similarity`: `NonLLMStringSimilarity` (Levenshtein) of the answer vs the reference;
- `answer_rouge_l`: `RougeScore` (ROUGE-L F1) of the answer vs the reference;
- `tool_call_accuracy`: `ToolCallAccuracy` of the tool calls a scenario made vs its reference
  tool calls (order matters; only the reference's arguments are compared).

With a judge (any OpenAI-compatible endpoint; reported, never gating):
- `faithfulness` (`Faithfulness`): the answer's claims are supported by the retrieved passages;
- `response_relevancy` (`AnswerRelevancy`): the answer addresses the question (questions
  generated from the answer, compared with the real one through the project's e5 embedder);
- `agent_goal_accuracy` (`AgentGoalAccuracyWithReference`): the conversation reached the goal
  the scenario describes.

Ragas reads two environment variables at import time (DEPENDENCIES.md traps 3 and 4): telemetry
off, and tiktoken's cache pointed at the copy llama-index ships, so nothing is downloaded.
`_prepare_environment` sets both before the first import of ragas.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import warnings
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from assistant.ports import Embedder
    from evals.runner import KnowledgeRun, ScenarioRun

T = TypeVar("T")

__all__ = [
    "JudgeConfig",
    "JudgeReport",
    "judge_metrics",
    "judged_metric_objects",
    "offline_metrics",
    "probe_judge",
]

log = logging.getLogger(__name__)


def _prepare_environment() -> None:
    # ragas and tiktoken read these when imported; setting them here keeps the trap in one place.
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        import llama_index.core

        cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    from ragas import _analytics

    # Every Ragas event object reads a user id from a file it never closes (even with tracking
    # off); the id is cached, so reading it once here, quietly, keeps that ResourceWarning away.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _analytics.get_userid()


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


# -- offline -------------------------------------------------------------------------------------


@dataclass
class OfflineRagas:
    """Per-item values (None where a metric does not apply) keyed by item id."""

    knowledge: dict[str, dict[str, float | None]] = field(default_factory=dict)
    scenarios: dict[str, dict[str, float | None]] = field(default_factory=dict)


def _tool_calls(run: ScenarioRun) -> tuple[list[Any], list[Any]]:
    from ragas.messages import AIMessage, HumanMessage, ToolCall

    reference = [
        ToolCall(name=c.name, args=dict(c.args)) for c in run.scenario.reference_tool_calls
    ]
    messages: list[Any] = []
    position = 0
    for turn in run.turns[1:]:
        messages.append(HumanMessage(content=turn.customer or ""))
        calls = []
        for action in turn.actions:
            args = dict(action.get("arguments") or {})
            expected = reference[position] if position < len(reference) else None
            if expected is not None and expected.name == action.get("tool"):
                # Only the reference's arguments are compared (ToolCallAccuracy scores a call
                # with arguments against a reference without any as 0).
                args = {k: v for k, v in args.items() if k in expected.args}
            calls.append(ToolCall(name=str(action.get("tool")), args=args))
            position += 1
        messages.append(AIMessage(content=turn.text, tool_calls=calls or None))
    return messages, reference


async def _offline(
    knowledge: Sequence[KnowledgeRun], scenarios: Sequence[ScenarioRun]
) -> OfflineRagas:
    from ragas.dataset_schema import MultiTurnSample, SingleTurnSample
    from ragas.metrics._context_precision import IDBasedContextPrecision
    from ragas.metrics._context_recall import IDBasedContextRecall
    from ragas.metrics._rouge_score import RougeScore
    from ragas.metrics._string import NonLLMStringSimilarity
    from ragas.metrics._tool_call_accuracy import ToolCallAccuracy

    precision, recall = IDBasedContextPrecision(), IDBasedContextRecall()
    similarity, rouge = NonLLMStringSimilarity(), RougeScore(rouge_type="rougeL")
    tool_accuracy = ToolCallAccuracy()
    out = OfflineRagas()
    for run in knowledge:
        retrieved = list(dict.fromkeys(p.article_id for p in run.retrieved))
        answer = run.reply
        sample = SingleTurnSample(
            user_input=run.case.question,
            response=answer,
            reference=run.case.reference,
            retrieved_context_ids=retrieved,
            reference_context_ids=list(run.case.article_ids),
        )
        values: dict[str, float | None] = {}
        if retrieved:
            values["context_precision"] = _finite(await precision.single_turn_ascore(sample))
            values["context_recall"] = _finite(await recall.single_turn_ascore(sample))
        else:  # nothing retrieved: the answer had no context at all
            values["context_precision"] = 0.0
            values["context_recall"] = 0.0
        if answer:
            values["answer_similarity"] = _finite(await similarity.single_turn_ascore(sample))
            values["answer_rouge_l"] = _finite(await rouge.single_turn_ascore(sample))
        else:
            values["answer_similarity"] = values["answer_rouge_l"] = 0.0
        out.knowledge[run.case.id] = values
    for scenario_run in scenarios:
        if scenario_run.attempt != 1 or not scenario_run.scenario.reference_tool_calls:
            continue
        messages, reference = _tool_calls(scenario_run)
        sample_mt = MultiTurnSample(user_input=messages, reference_tool_calls=reference)
        value = _finite(await tool_accuracy.multi_turn_ascore(sample_mt))
        out.scenarios[scenario_run.scenario.id] = {"tool_call_accuracy": value}
    return out


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run Ragas' coroutines from sync code, also when the caller's thread already runs a loop
    (a notebook, or Playwright's sync API in the same test session)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragas") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def offline_metrics(
    knowledge: Sequence[KnowledgeRun], scenarios: Sequence[ScenarioRun]
) -> OfflineRagas:
    """The Ragas metrics that need no model, per knowledge question and per scenario."""
    _prepare_environment()
    with warnings.catch_warnings():
        # ToolCallAccuracy warns on every length mismatch, which its score already penalises.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"ragas\.")
        return _run(_offline(knowledge, scenarios))


# -- judged ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str
    model: str
    api_key: str = "not-needed"
    timeout_s: float = 60.0


@dataclass
class JudgeReport:
    """Judged values per item, or why there are none (`error`)."""

    available: bool
    error: str | None = None
    knowledge: dict[str, dict[str, float | None]] = field(default_factory=dict)
    scenarios: dict[str, dict[str, float | None]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _client(config: JudgeConfig, timeout_s: float | None = None) -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(
        base_url=config.base_url,
        api_key=config.api_key,
        timeout=timeout_s or config.timeout_s,
        max_retries=0 if timeout_s else 2,
    )


async def _probe(config: JudgeConfig) -> None:
    client = _client(config, timeout_s=5.0)
    try:
        await client.models.list()
    finally:
        await client.close()


def probe_judge(config: JudgeConfig) -> str | None:
    """None when the judge endpoint answers; otherwise a one-line reason.

    Any HTTP answer counts as reachable (not every OpenAI-compatible server lists models),
    except a refused key.
    """
    import openai

    try:
        _run(_probe(config))
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        return f"judge endpoint {config.base_url} refused the API key: {exc}"
    except openai.APIStatusError:
        return None
    except Exception as exc:
        return f"judge endpoint {config.base_url} is unreachable: {type(exc).__name__}: {exc}"
    return None


def _ragas_embeddings(embedder: Embedder) -> Any:
    """The project's e5 embedder as a Ragas embedding (`AnswerRelevancy` compares questions)."""
    from ragas.embeddings.base import BaseRagasEmbedding

    class ProjectEmbeddings(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return [float(x) for x in embedder.embed_query(text)]

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

    return ProjectEmbeddings()


def judged_metric_objects(client: Any, model: str, embedder: Embedder) -> tuple[Any, Any, Any]:
    """Faithfulness, AnswerRelevancy and AgentGoalAccuracyWithReference on one judge model."""
    from ragas.llms.base import llm_factory
    from ragas.metrics.collections import (
        AgentGoalAccuracyWithReference,
        AnswerRelevancy,
        Faithfulness,
    )

    llm = llm_factory(model, client=client)
    return (
        Faithfulness(llm=llm),
        AnswerRelevancy(llm=llm, embeddings=_ragas_embeddings(embedder)),
        AgentGoalAccuracyWithReference(llm=llm),
    )


def _goal(run: ScenarioRun) -> str:
    scenario = run.scenario
    parts = [scenario.title + "."]
    for redirect in scenario.expect.redirects:
        parts.append(f"Parcel {redirect.tracking_id} is redirected to option {redirect.option}.")
    for case in scenario.expect.cases:
        parts.append(f"A {case.category} case is opened for parcel {case.tracking_id}.")
    if not scenario.expect.redirects and not scenario.expect.cases:
        parts.append("Nothing is changed at the carrier.")
    if scenario.handoff:
        parts.append(f"The conversation is handed to a person ({scenario.handoff.reason}).")
    if scenario.facts:
        parts.append("The assistant states: " + "; ".join(scenario.facts) + ".")
    return " ".join(parts)


async def _judged(
    config: JudgeConfig,
    embedder: Embedder,
    knowledge: Sequence[KnowledgeRun],
    scenarios: Sequence[ScenarioRun],
    report: JudgeReport,
) -> None:
    from ragas.messages import AIMessage, HumanMessage

    client = _client(config)
    try:
        faithfulness, relevancy, goal = judged_metric_objects(client, config.model, embedder)
        for run in knowledge:
            values: dict[str, float | None] = {}
            contexts = [p.text for p in run.retrieved]
            try:
                if run.reply and contexts:
                    result = await faithfulness.ascore(
                        user_input=run.case.question,
                        response=run.reply,
                        retrieved_contexts=contexts,
                    )
                    values["faithfulness"] = _finite(result.value)
                if run.reply:
                    result = await relevancy.ascore(
                        user_input=run.case.question, response=run.reply
                    )
                    values["response_relevancy"] = _finite(result.value)
            except Exception as exc:
                report.failures.append(f"{run.case.id}: {type(exc).__name__}: {exc}")
            report.knowledge[run.case.id] = values
        for scenario_run in scenarios:
            if scenario_run.attempt != 1:
                continue
            messages: list[Any] = []
            for turn in scenario_run.turns[1:]:
                messages.append(HumanMessage(content=turn.customer or ""))
                messages.append(AIMessage(content=turn.text or "(no reply)"))
            try:
                result = await goal.ascore(user_input=messages, reference=_goal(scenario_run))
                report.scenarios[scenario_run.scenario.id] = {
                    "agent_goal_accuracy": _finite(result.value)
                }
            except Exception as exc:
                report.failures.append(f"{scenario_run.scenario.id}: {type(exc).__name__}: {exc}")
    finally:
        await client.close()


def judge_metrics(
    config: JudgeConfig,
    embedder: Embedder,
    knowledge: Sequence[KnowledgeRun],
    scenarios: Sequence[ScenarioRun],
) -> JudgeReport:
    """LLM-judged metrics; an unreachable judge gives a report with `error`, never an exception."""
    _prepare_environment()
    problem = probe_judge(config)
    if problem:
        log.warning(problem)
        return JudgeReport(available=False, error=problem)
    report = JudgeReport(available=True)
    try:
        _run(_judged(config, embedder, knowledge, scenarios, report))
    except Exception as exc:
        report.error = f"judged metrics stopped: {type(exc).__name__}: {exc}"
        log.warning(report.error)
    if report.failures and len(report.failures) == len(knowledge) + len(scenarios):
        report.error = f"every judged item failed, e.g. {report.failures[0]}"
    return report
