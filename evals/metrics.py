"""Our own measures over a `RunResult`: the scenario checks, the rubric, grounding and language.

Definitions (the report's glossary repeats them for content owners):

- **scenario success**: every check of the scenario holds: the carrier holds exactly the
  expected redirects and cases (so "nothing changed" is checked too), the handoff happened with
  the expected reason (or none happened), every expected fact appears in some reply, and every
  per-turn expectation (what the assistant asks for, flow status, phrases) holds.
- **pass^k**: the share of scenarios that succeeded in all `k` runs (τ-bench); offline k is 1.
- **handoff precision / recall**: over scenarios, "a handoff happened" against "a handoff was
  expected" (the reason is checked by scenario success, not here).
- **citation hit@1**: the first cited article of a help-centre answer is one of the reference
  articles.
- **language match**: each turn's reply, identified with the product's own language
  identification (`assistant.understanding.language`), is in the conversation's language.
  Replies with fewer than three words are not judged (no identifier can tell them apart).
- **grounding violations**: figures, dates, amounts, ids and place names in a reply that no
  tool result of the conversation, retrieved passage, customer message or the catalogue's own
  template text contains (`assistant.grounding.grounding_check`).
- **rubric** (good dialogue), per applicable turn: the conversation opens with a greeting; a
  turn where the customer is upset (gold label or detected) shows understanding (an empathy
  line this turn or within the two turns before, as the product paces it); a flow that ends
  completed names the parcel and, for a case, the case number (a summary of what was agreed),
  and a side effect was restated in a confirmation before it happened; a customer who closes
  the chat gets a polite close (thanks or goodbye).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from assistant.grounding import grounding_check
from assistant.replies import Catalogue
from assistant.understanding.language import LanguageIdentifier
from evals.runner import Check, KnowledgeRun, RunResult, ScenarioRun, TurnLog
from evals.schema import Scenario

__all__ = [
    "GroundingViolation",
    "RubricItem",
    "Scores",
    "check_scenario",
    "grounding_violations",
    "language_mismatches",
    "rubric_items",
    "score_run",
]

_SPACE = re.compile(r"[\s\u00a0\u202f]+")
_WORD = re.compile(r"[^\W\d_]{2,}")
_SIDE_EFFECTS = {"redirect_delivery", "create_case"}
_CLOSE_KEYS = {"thanks", "goodbye"}
_EMPATHY_KEYS = {"empathy"}


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


# -- scenario checks ----------------------------------------------------------------------------


def check_scenario(run: ScenarioRun) -> list[Check]:
    """The checks that decide a scenario's success (also stored on `run.checks`)."""
    scenario = run.scenario
    checks: list[Check] = []
    expected_redirects = sorted((r.tracking_id, r.option) for r in scenario.expect.redirects)
    actual_redirects = sorted((r["tracking_id"], r["option"]) for r in run.redirects)
    checks.append(
        Check(
            "end state: redirects",
            expected_redirects == actual_redirects,
            f"expected {expected_redirects or 'none'}, carrier holds {actual_redirects or 'none'}",
        )
    )
    expected_cases = sorted((c.tracking_id, c.category) for c in scenario.expect.cases)
    actual_cases = sorted((c["tracking_id"], c["category"]) for c in run.cases)
    checks.append(
        Check(
            "end state: cases",
            expected_cases == actual_cases,
            f"expected {expected_cases or 'none'}, carrier holds {actual_cases or 'none'}",
        )
    )
    last = run.turns[-1]
    if scenario.expect.flow is not None or scenario.expect.flow_status is not None:
        want = (scenario.expect.flow, scenario.expect.flow_status)
        got = (last.flow, last.flow_status)
        ok = all(w is None or w == g for w, g in zip(want, got, strict=True))
        checks.append(Check("end state: flow", ok, f"expected {want}, last turn {got}"))
    handoff = run.handoff
    if scenario.handoff is None:
        checks.append(
            Check(
                "handoff: none",
                handoff is None,
                "no handoff" if handoff is None else f"handed off ({handoff.get('reason')})",
            )
        )
    else:
        reason = handoff.get("reason") if handoff else None
        checks.append(
            Check(
                f"handoff: {scenario.handoff.reason}",
                reason == scenario.handoff.reason,
                f"expected {scenario.handoff.reason} ({scenario.handoff.why}); got {reason or 'no handoff'}",
            )
        )
    said = _norm(" ".join(t.text for t in run.turns))
    for fact in scenario.facts:
        checks.append(Check(f"states: {fact}", _norm(fact) in said, ""))
    for turn, spec in zip(run.turns[1:], scenario.turns, strict=False):
        expect = spec.expect
        if expect is None:
            continue
        where = f"turn {turn.index}"
        if expect.awaiting is not None:
            asked = turn.awaiting or "none"
            checks.append(
                Check(
                    f"{where}: asks for {expect.awaiting}",
                    asked == expect.awaiting,
                    f"asked for {asked}",
                )
            )
        if expect.flow is not None:
            checks.append(
                Check(f"{where}: flow {expect.flow}", turn.flow == expect.flow, f"flow {turn.flow}")
            )
        if expect.flow_status is not None:
            checks.append(
                Check(
                    f"{where}: {expect.flow_status}",
                    turn.flow_status == expect.flow_status,
                    f"status {turn.flow_status}",
                )
            )
        for phrase in expect.says:
            checks.append(Check(f"{where}: says {phrase!r}", _norm(phrase) in _norm(turn.text), ""))
    if run.error:
        checks.append(Check("no crash", False, run.error))
    return checks


# -- dialogue rubric ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RubricItem:
    scenario_id: str
    language: str
    turn: int
    criterion: str  # greeting | empathy | summary | confirmation | close
    ok: bool
    detail: str = ""


def _flow_tracking_id(turns: Sequence[TurnLog], upto: int) -> str | None:
    for turn in reversed(turns[: upto + 1]):
        for action in reversed(turn.actions):
            args = action.get("arguments") or {}
            if isinstance(args, dict) and args.get("tracking_id"):
                return str(args["tracking_id"])
    return None


def rubric_items(run: ScenarioRun) -> list[RubricItem]:
    scenario = run.scenario
    items: list[RubricItem] = []

    def add(turn: int, criterion: str, ok: bool, detail: str = "") -> None:
        items.append(RubricItem(scenario.id, scenario.language, turn, criterion, ok, detail))

    turns = run.turns
    if turns:
        add(0, "greeting", "greeting" in turns[0].keys, f"opening keys {turns[0].keys}")
    for position, (turn, spec) in enumerate(zip(turns[1:], scenario.turns, strict=False), start=1):
        if spec.upset or turn.upset_detected:
            recent = turns[max(1, position - 2) : position + 1]
            shown = any(_EMPATHY_KEYS & set(t.keys) for t in recent)
            add(position, "empathy", shown, "no empathy line" if not shown else "")
        if spec.closing:
            closed = bool(_CLOSE_KEYS & set(turn.keys))
            add(position, "close", closed, f"reply keys {turn.keys}")
        if turn.flow_status == "completed" and turn.flow is not None:
            tracking_id = _flow_tracking_id(turns, position)
            text = turn.text
            missing = []
            if tracking_id and tracking_id not in text:
                missing.append(tracking_id)
            for action in turn.actions:
                if action.get("tool") == "create_case" and action.get("ok"):
                    case_id = str((action.get("result") or {}).get("case_id", ""))
                    if case_id and case_id not in text:
                        missing.append(case_id)
            add(
                position,
                "summary",
                not missing,
                f"completion does not name {', '.join(missing)}" if missing else "",
            )
        for action in turn.actions:
            if action.get("tool") in _SIDE_EFFECTS and action.get("ok"):
                before = turns[position - 1] if position > 0 else None
                confirmed = before is not None and before.awaiting == "confirmation"
                add(
                    position,
                    "confirmation",
                    confirmed,
                    "" if confirmed else f"{action.get('tool')} ran without a confirmation turn",
                )
    return items


# -- grounding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroundingViolation:
    where: str  # "<scenario or question id> turn <n>"
    language: str
    reply: str
    unsupported: tuple[str, ...]


@cache
def _catalogue() -> Catalogue:
    return Catalogue()


@cache
def _template_texts(key: str, language: str) -> tuple[str, ...]:
    """The catalogue's own wording for `key` (every variant, placeholders left empty)."""
    catalogue = _catalogue()
    if not catalogue.has(key):
        return ()
    try:
        blanks = dict.fromkeys(catalogue.placeholders(key, language), "")
    except KeyError:
        return ()
    return tuple({catalogue.render(key, language, variant=v, **blanks) for v in range(4)})


def _sources(turns: Sequence[TurnLog], upto: int, language: str) -> list[Any]:
    sources: list[Any] = []
    for turn in turns[: upto + 1]:
        if turn.customer:
            sources.append(turn.customer)
        for action in turn.actions:
            sources.append(action.get("arguments") or {})
            sources.append(action.get("result") or {})
        for passage in turn.passages:
            sources.append(passage.text)
            sources.append(passage.title)
        for citation in turn.citations:
            sources.append(citation)
        sources.extend(turn.known)
    for key in turns[upto].keys:
        sources.extend(_template_texts(key, language))
    return sources


def grounding_violations(
    where: str, language: str, turns: Sequence[TurnLog]
) -> list[GroundingViolation]:
    found = []
    for position, turn in enumerate(turns):
        for reply in turn.replies:
            unsupported = grounding_check(reply, _sources(turns, position, language))
            if unsupported:
                found.append(
                    GroundingViolation(
                        f"{where} turn {turn.index}", language, reply, tuple(map(str, unsupported))
                    )
                )
    return found


# -- language -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageJudgement:
    where: str
    expected: str
    detected: str
    text: str

    @property
    def ok(self) -> bool:
        return self.expected == self.detected


_IDENTIFIER = LanguageIdentifier()


def language_judgements(
    where: str, language: str, turns: Iterable[TurnLog]
) -> list[LanguageJudgement]:
    judged = []
    for turn in turns:
        text = turn.text
        if len(_WORD.findall(text)) < 3:
            continue
        detected = _IDENTIFIER.detect(text).language
        judged.append(LanguageJudgement(f"{where} turn {turn.index}", language, detected, text))
    return judged


def language_mismatches(judgements: Iterable[LanguageJudgement]) -> list[LanguageJudgement]:
    return [j for j in judgements if not j.ok]


# -- all together -------------------------------------------------------------------------------


def _mean(values: Iterable[float]) -> float | None:
    data = list(values)
    return round(statistics.fmean(data), 4) if data else None


@dataclass
class Scores:
    """Flat scores (`name` or `name.<group>`) plus the evidence the report shows."""

    values: dict[str, float | None] = field(default_factory=dict)
    grounding: list[GroundingViolation] = field(default_factory=list)
    language: list[LanguageJudgement] = field(default_factory=list)
    rubric: list[RubricItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def put(self, name: str, value: float | None) -> None:
        self.values[name] = None if value is None else round(float(value), 4)


def _hit_at_1(run: KnowledgeRun) -> bool:
    return bool(run.cited) and run.cited[0] in run.case.article_ids


def _grouped(
    scores: Scores, name: str, items: Iterable[tuple[str, float]], overall: bool = True
) -> None:
    groups: defaultdict[str, list[float]] = defaultdict(list)
    everything = []
    for group, value in items:
        groups[group].append(value)
        everything.append(value)
    if overall:
        scores.put(name, _mean(everything))
    for group in sorted(groups):
        scores.put(f"{name}.{group}", _mean(groups[group]))


def _flows(scenario: Scenario, run: ScenarioRun) -> set[str]:
    flows = {t.flow for t in run.turns if t.flow}
    flows |= {s.expect.flow for s in scenario.turns if s.expect and s.expect.flow}
    if scenario.expect.flow:
        flows.add(scenario.expect.flow)
    return {str(f) for f in flows} or {"none"}


def score_run(result: RunResult) -> Scores:
    """Fill in every scenario's checks and compute the flat scores of our own metrics."""
    scores = Scores()
    # knowledge
    kb = result.knowledge
    _grouped(scores, "citation_hit_at_1", ((r.case.language, float(_hit_at_1(r))) for r in kb))
    _grouped(
        scores,
        "knowledge_answered",
        ((r.case.language, float(bool(r.cited))) for r in kb),
    )
    # scenarios
    by_id: defaultdict[str, list[ScenarioRun]] = defaultdict(list)
    for run in result.scenarios:
        run.checks = check_scenario(run)
        by_id[run.scenario.id].append(run)
    first = [runs[0] for runs in by_id.values()]
    _grouped(scores, "scenario_success", ((r.scenario.language, float(r.success)) for r in first))
    _grouped(
        scores,
        "scenario_success_by_kind",
        ((r.scenario.kind, float(r.success)) for r in first),
        overall=False,
    )
    _grouped(
        scores,
        "scenario_success_by_flow",
        ((flow, float(r.success)) for r in first for flow in _flows(r.scenario, r)),
        overall=False,
    )
    scores.put("pass_hat_k", _mean(float(all(r.success for r in runs)) for runs in by_id.values()))
    expected = [r.scenario.handoff is not None for r in first]
    happened = [r.handoff is not None for r in first]  # offers not taken are not handoffs
    tp = sum(e and h for e, h in zip(expected, happened, strict=True))
    scores.put("handoff_precision", tp / sum(happened) if any(happened) else None)
    scores.put("handoff_recall", tp / sum(expected) if any(expected) else None)
    # rubric, grounding, language over everything the assistant said
    for run in first:
        scores.rubric += rubric_items(run)
        scores.grounding += grounding_violations(run.scenario.id, run.scenario.language, run.turns)
        scores.language += language_judgements(run.scenario.id, run.scenario.language, run.turns)
    for kb_run in kb:
        scores.grounding += grounding_violations(kb_run.case.id, kb_run.case.language, kb_run.turns)
        scores.language += language_judgements(kb_run.case.id, kb_run.case.language, kb_run.turns)
    _grouped(scores, "rubric", ((i.criterion, float(i.ok)) for i in scores.rubric))
    _grouped(
        scores,
        "rubric_by_language",
        ((i.language, float(i.ok)) for i in scores.rubric),
        overall=False,
    )
    _grouped(scores, "language_match", ((j.expected, float(j.ok)) for j in scores.language))
    scores.put("grounding_violations", float(len(scores.grounding)))
    turns = [t for r in first for t in r.turns[1:]] + [t for r in kb for t in r.turns[1:]]
    if turns:
        latencies = sorted(t.ms for t in turns)
        scores.put("turn_ms_p50", latencies[len(latencies) // 2])
        scores.put("turn_ms_p95", latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))])
    return scores
