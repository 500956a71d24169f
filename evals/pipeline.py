"""One eval run end to end: datasets → assistant → scores → gate → report (+ baseline).

`budbringer eval` and `python -m evals` parse options into `EvalOptions` and call `evaluate`.
Exit codes: 0 gate passed (or not asked for), 1 gate breached, 2 unusable input (a dataset row
that does not fit its schema, a broken thresholds file): the message names file and line.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from assistant.settings import Settings
from evals.datasets import DATASETS, Datasets, load_datasets
from evals.gate import (
    BASELINE,
    THRESHOLDS,
    Breach,
    compare_baseline,
    evaluate_gate,
    load_baseline,
    load_thresholds,
    write_baseline,
)
from evals.index_cache import DEFAULT_CACHE
from evals.metrics import Scores, score_run
from evals.ragas_metrics import JudgeConfig, JudgeReport, judge_metrics, offline_metrics
from evals.report import Report, write_report
from evals.runner import RunResult, assistant_for_eval, run_datasets

__all__ = ["EvalOptions", "EvalOutcome", "evaluate"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class EvalOptions:
    settings: Settings
    offline: bool = False
    gate: bool = False
    out: Path = Path("eval-report")
    k: int = 1
    judge: JudgeConfig | None = None
    update_baseline: bool = False
    languages: list[str] = field(default_factory=list)
    limit: int | None = None
    datasets_dir: Path = DATASETS
    thresholds: Path = THRESHOLDS
    baseline: Path = BASELINE
    cache_dir: Path = DEFAULT_CACHE
    eta_cache: Path = DEFAULT_CACHE.parent / "eta"


@dataclass
class EvalOutcome:
    result: RunResult
    scores: Scores
    breaches: list[Breach]
    markdown: str
    html: Path
    summary: Path
    judge: JudgeReport | None

    @property
    def exit_code(self) -> int:
        return 1 if self.breaches else 0


def _aggregate(
    scores: Scores,
    name: str,
    per_item: Mapping[str, Mapping[str, float | None]],
    group_of: Mapping[str, str],
) -> None:
    overall: list[float] = []
    groups: defaultdict[str, list[float]] = defaultdict(list)
    for item, values in per_item.items():
        value = values.get(name)
        if value is None:
            continue
        overall.append(value)
        groups[group_of.get(item, "?")].append(value)
    if not overall:
        return
    scores.put(name, sum(overall) / len(overall))
    for group, data in sorted(groups.items()):
        scores.put(f"{name}.{group}", sum(data) / len(data))


def evaluate(
    options: EvalOptions, datasets: Datasets | None = None, progress: Progress | None = None
) -> EvalOutcome:
    """Run, score, gate and report; raises `DatasetError`/`ThresholdsError` for unusable input."""
    say = progress or (lambda phase, done, total: None)
    data = datasets or load_datasets(options.datasets_dir)
    if options.languages or options.limit:
        data = data.select(languages=options.languages or None, limit=options.limit)
    thresholds = (
        load_thresholds(options.thresholds) if options.gate or options.thresholds.exists() else None
    )
    llm = options.settings.llm
    offline = options.offline or not llm.configured
    mode = "offline" if offline else f"llm:{llm.model}"
    k = options.k if not offline else 1
    if options.k > 1 and offline:
        log.info("offline runs are deterministic: k=%d reduced to 1", options.k)
    now = datetime.fromisoformat(data.manifest.now)
    with assistant_for_eval(
        options.settings,
        now,
        offline=offline,
        cache_dir=options.cache_dir,
        eta_cache=options.eta_cache,
        progress=say,
    ) as assistant:
        result = run_datasets(assistant, data, k=k, progress=say, mode=mode)
        embedder = assistant.container.embedder
        scores = score_run(result)
        say("ragas metrics", 0, 1)
        ragas = offline_metrics(result.knowledge, result.scenarios)
        say("ragas metrics", 1, 1)
        language_of = {r.case.id: r.case.language for r in result.knowledge}
        kind_of = {r.scenario.id: r.scenario.kind for r in result.scenarios}
        for name in ("context_precision", "context_recall", "answer_similarity", "answer_rouge_l"):
            _aggregate(scores, name, ragas.knowledge, language_of)
        _aggregate(scores, "tool_call_accuracy", ragas.scenarios, kind_of)
        judge: JudgeReport | None = None
        judge_note = None
        if options.judge is not None:
            say("LLM judge", 0, 1)
            judge = judge_metrics(options.judge, embedder, result.knowledge, result.scenarios)
            say("LLM judge", 1, 1)
            if judge.available:
                for name in ("faithfulness", "response_relevancy"):
                    _aggregate(scores, name, judge.knowledge, language_of)
                _aggregate(scores, "agent_goal_accuracy", judge.scenarios, kind_of)
                judge_note = f"{options.judge.model} at {options.judge.base_url}" + (
                    f"; {len(judge.failures)} item(s) failed: {judge.failures[0]}"
                    if judge.failures
                    else ""
                )
            if judge.error:
                judge_note = f"{judge.error} — the offline metrics above are complete; judged metrics are missing."
    breaches = evaluate_gate(scores.values, thresholds) if (options.gate and thresholds) else []
    baseline = load_baseline(options.baseline)
    diff = compare_baseline(scores.values, baseline)
    report = Report(result, scores, thresholds, breaches, diff, judge_note=judge_note)
    html_path, md_path, markdown = write_report(report, options.out)
    if options.update_baseline:
        write_baseline(options.baseline, scores.values, mode=mode, versions=result.versions)
    return EvalOutcome(result, scores, breaches, markdown, html_path, md_path, judge)
