"""The eval report: one self-contained HTML file (charts embedded as PNG) and a Markdown summary.

Written for two readers. A developer looks at the gate table and the failing cases with their
transcripts; a content owner looks at the help-centre section: which questions did not get the
right article first, what the assistant answered, and what the reference answer says.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.gate import Breach, Thresholds
from evals.metrics import Scores
from evals.runner import KnowledgeRun, RunResult, ScenarioRun

__all__ = ["Report", "render_html", "render_markdown", "write_report"]

LANGUAGES = ("da", "sv", "nb", "fi", "en")
HEADLINE = (
    ("scenario_success", "Scenario success (end state, handoff, facts)"),
    ("pass_hat_k", "pass^k (succeeded in every one of k runs)"),
    ("citation_hit_at_1", "Citation hit@1 (help-centre answers)"),
    ("language_match", "Reply in the customer's language"),
    ("grounding_violations", "Grounding violations (count)"),
    ("rubric", "Good-dialogue rubric"),
    ("handoff_precision", "Handoff precision"),
    ("handoff_recall", "Handoff recall"),
    ("tool_call_accuracy", "Tool-call accuracy (Ragas)"),
    ("context_precision", "Context precision (Ragas, id-based)"),
    ("context_recall", "Context recall (Ragas, id-based)"),
    ("answer_similarity", "Answer similarity to reference (Ragas, Levenshtein)"),
    ("answer_rouge_l", "Answer ROUGE-L to reference (Ragas)"),
    ("faithfulness", "Faithfulness (Ragas, LLM judge)"),
    ("response_relevancy", "Response relevancy (Ragas, LLM judge)"),
    ("agent_goal_accuracy", "Agent goal accuracy (Ragas, LLM judge)"),
)
GLOSSARY = """
- **Scenario success**: a whole conversation ends with exactly the expected change at the carrier
  (a redirect to the expected option, a case of the expected category, or nothing at all when
  the customer declined or was not eligible), the expected handoff (or none), the facts the
  replies must state, and the per-turn expectations.
- **Citation hit@1**: the first article the assistant cites is one a help-centre editor marked
  as the answer. A miss means a customer was sent to the wrong article.
- **Context precision / recall**: of the articles retrieved for an answer, the share that are
  reference articles / of the reference articles, the share that were retrieved.
- **Answer similarity / ROUGE-L**: how close the answer's wording is to the reference answer
  (0-1). Extractive answers quote the article, so expect moderate values; a drop means the
  answer moved away from what the editor wrote.
- **Grounding violations**: a figure, date, amount, id or place in a reply that no tool result,
  cited passage, customer message or catalogue text supports.
- **Rubric**: the conversation opens with a greeting, an upset customer hears understanding,
  a finished flow is summed up (parcel, case number), a side effect is confirmed first, and a
  customer who says goodbye gets a polite close.
- **Handoff precision / recall**: of the conversations handed to a person, the share that
  should have been / of those that should have been, the share that were.
"""


@dataclass
class Report:
    result: RunResult
    scores: Scores
    thresholds: Thresholds | None
    breaches: list[Breach]
    diff: dict[str, float | None]
    per_item: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    judge_note: str | None = None


def _fmt(value: float | None, count: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0f}" if count else f"{value:.3f}"


def _delta(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) < 5e-4:
        return "±0"
    return f"{value:+.3f}"


def _bound(report: Report, name: str) -> str:
    if report.thresholds is None:
        return ""
    import fnmatch

    for pattern, bound in report.thresholds.gates.items():
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(f"{name}.x", pattern):
            parts = []
            if bound.min is not None:
                parts.append(f"≥ {bound.min:g}")
            if bound.max is not None:
                parts.append(f"≤ {bound.max:g}")
            if bound.target is not None:
                parts.append(f"(target {bound.target:g})")
            return " ".join(parts)
    return ""


def _breached(report: Report, name: str) -> bool:
    return any(b.score == name or b.score.startswith(f"{name}.") for b in report.breaches)


def _headline_rows(report: Report) -> list[tuple[str, str, str, str, str, bool]]:
    values = report.scores.values
    rows = []
    for name, label in HEADLINE:
        if name not in values:
            continue
        count = name == "grounding_violations"
        rows.append(
            (
                label,
                name,
                _fmt(values[name], count),
                _bound(report, name),
                _delta(report.diff.get(name)),
                _breached(report, name),
            )
        )
    return rows


def failing_scenarios(result: RunResult) -> list[ScenarioRun]:
    return [r for r in result.scenarios if not r.success]


def knowledge_misses(result: RunResult) -> list[KnowledgeRun]:
    return [r for r in result.knowledge if not (r.cited and r.cited[0] in r.case.article_ids)]


# -- Markdown -------------------------------------------------------------------------------------


def render_markdown(report: Report) -> str:
    result, values = report.result, report.scores.values
    status = "FAILED" if report.breaches else "passed"
    lines = [
        "# Budbringer eval report",
        "",
        f"Mode: **{result.mode}**, k={result.k}; datasets "
        + ", ".join(f"{n} v{v}" for n, v in result.versions.items())
        + f"; {len(result.knowledge)} questions, {len({r.scenario.id for r in result.scenarios})} scenarios"
        + f"; {result.duration_s:.1f} s. Gate: **{status}**.",
        "",
        "| score | value | threshold | vs baseline |",
        "|---|---|---|---|",
    ]
    for label, _name, value, bound, delta, breached in _headline_rows(report):
        mark = " ❌" if breached else ""
        lines.append(f"| {label} | {value}{mark} | {bound} | {delta} |")
    lines += [
        "",
        "| language | hit@1 | scenario success | language match | rubric |",
        "|---|---|---|---|---|",
    ]
    for lang in LANGUAGES:
        if not any(k.endswith(f".{lang}") for k in values):
            continue
        lines.append(
            f"| {lang} | {_fmt(values.get(f'citation_hit_at_1.{lang}'))} "
            f"| {_fmt(values.get(f'scenario_success.{lang}'))} "
            f"| {_fmt(values.get(f'language_match.{lang}'))} "
            f"| {_fmt(values.get(f'rubric_by_language.{lang}'))} |"
        )
    if report.breaches:
        lines += ["", "Gate breaches:", *[f"- {b}" for b in report.breaches]]
    failing = failing_scenarios(result)
    if failing:
        lines += ["", f"Failing scenarios ({len(failing)}):"]
        for run in failing:
            why = "; ".join(
                f"{c.name} ({c.detail})" if c.detail else c.name for c in run.checks if not c.ok
            )
            lines.append(f"- `{run.scenario.id}` (run {run.attempt}): {why}")
    if report.scores.grounding:
        lines += ["", f"Grounding violations ({len(report.scores.grounding)}):"]
        lines += [f"- {g.where}: {', '.join(g.unsupported)}" for g in report.scores.grounding[:20]]
    if report.judge_note:
        lines += ["", f"LLM judge: {report.judge_note}"]
    return "\n".join(lines) + "\n"


# -- charts ---------------------------------------------------------------------------------------


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bars(
    title: str,
    groups: list[str],
    series: dict[str, list[float | None]],
    threshold: float | None = None,
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    width = 0.8 / max(1, len(series))
    for i, (name, data) in enumerate(series.items()):
        xs = [g + i * width - 0.4 + width / 2 for g in range(len(groups))]
        heights = [0.0 if v is None else v for v in data]
        bars = ax.bar(xs, heights, width, label=name)
        for bar, value in zip(bars, data, strict=True):
            if value is not None:
                ax.annotate(
                    f"{value:.2f}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7,
                )  # fmt: skip
    if threshold is not None:
        ax.axhline(
            threshold, color="#b00020", linestyle="--", linewidth=1, label=f"gate {threshold:g}"
        )
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.12)
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=5, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _charts(report: Report) -> list[tuple[str, str]]:
    values = report.scores.values
    languages = [lang for lang in LANGUAGES if any(k.endswith(f".{lang}") for k in values)]
    charts = []
    if languages:
        charts.append(
            (
                "Per language",
                _bars(
                    "Per language",
                    languages,
                    {
                        "citation hit@1": [values.get(f"citation_hit_at_1.{g}") for g in languages],
                        "scenario success": [
                            values.get(f"scenario_success.{g}") for g in languages
                        ],
                        "language match": [values.get(f"language_match.{g}") for g in languages],
                        "rubric": [values.get(f"rubric_by_language.{g}") for g in languages],
                    },
                ),
            )
        )
        charts.append(
            (
                "Help-centre answers per language (Ragas)",
                _bars(
                    "Help-centre answers per language (Ragas, offline)",
                    languages,
                    {
                        name: [values.get(f"{name}.{g}") for g in languages]
                        for name in (
                            "context_precision",
                            "context_recall",
                            "answer_similarity",
                            "answer_rouge_l",
                        )
                    },
                ),
            )
        )
    for prefix, title in (
        ("scenario_success_by_flow", "Scenario success per flow"),
        ("scenario_success_by_kind", "Scenario success per kind"),
        ("rubric", "Rubric per criterion"),
    ):
        groups = sorted(
            k.split(".", 1)[1] for k in values if k.startswith(f"{prefix}.") and k.count(".") == 1
        )
        if prefix == "rubric":
            groups = [g for g in groups if g not in LANGUAGES]
        if groups:
            charts.append(
                (
                    title,
                    _bars(title, groups, {title: [values.get(f"{prefix}.{g}") for g in groups]}),
                )
            )
    return charts


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f8}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b;font-weight:600}
.pill{display:inline-block;padding:.1em .6em;border-radius:1em;color:#fff}.pass{background:#1b7f3b}.fail{background:#b00020}
details{margin:.5em 0;border:1px solid #e3e3ea;border-radius:6px;padding:.4em .8em}summary{cursor:pointer}
.t{font-family:ui-monospace,monospace;font-size:12.5px;white-space:pre-wrap;background:#fafafd;padding:.5em}
.c{color:#0b57d0}.meta{color:#777;font-size:12px}img{max-width:100%}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _transcript(turns: list[Any]) -> str:
    out = []
    for turn in turns:
        if turn.customer is not None:
            out.append(f'<span class="c">customer: {_e(turn.customer)}</span>')
        for reply in turn.replies:
            out.append(f"assistant: {_e(reply)}")
        tools = ", ".join(
            f"{a.get('tool')}{'' if a.get('ok') else '!' + str((a.get('result') or {}).get('reason', 'failed'))}"
            for a in turn.actions
        )
        meta = (
            f"[{turn.language} flow={turn.flow} status={turn.flow_status} awaiting={turn.awaiting}"
            + (f" tools={tools}" if tools else "")
            + (f" handoff={turn.handoff.get('reason')}" if turn.handoff else "")
            + (f" ERROR {turn.error}" if turn.error else "")
            + "]"
        )
        out.append(f'<span class="meta">  {_e(meta)}</span>')
    return '<div class="t">' + "\n".join(out) + "</div>"


def render_html(report: Report) -> str:
    result, values = report.result, report.scores.values
    passed = not report.breaches
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Budbringer eval report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Budbringer eval report</h1>",
        f"<p><span class='pill {'pass' if passed else 'fail'}'>gate {'passed' if passed else 'FAILED'}</span> "
        f"mode <b>{_e(result.mode)}</b>, k={result.k}, started {_e(result.started.isoformat(timespec='seconds'))}, "
        f"{result.duration_s:.1f} s; datasets "
        + _e(", ".join(f"{n} v{v}" for n, v in result.versions.items()))
        + f"; {len(result.knowledge)} questions, {len({r.scenario.id for r in result.scenarios})} scenarios.</p>",
        "<h2>Scores</h2><table><tr><th>score</th><th>value</th><th>threshold</th><th>vs baseline</th></tr>",
    ]
    for label, name, value, bound, delta, breached in _headline_rows(report):
        cls = "bad" if breached else ("ok" if bound else "")
        parts.append(
            f"<tr><td>{_e(label)}<br><span class='meta'>{_e(name)}</span></td>"
            f"<td class='{cls}'>{_e(value)}</td><td>{_e(bound)}</td><td>{_e(delta)}</td></tr>"
        )
    parts.append("</table>")
    if report.breaches:
        parts.append("<p class='bad'>Gate breaches:</p><ul>")
        parts += [f"<li>{_e(b)}</li>" for b in report.breaches]
        parts.append("</ul>")
    if report.judge_note:
        parts.append(f"<p><b>LLM judge:</b> {_e(report.judge_note)}</p>")
    parts.append("<h2>Charts</h2>")
    for title, png in _charts(report):
        parts.append(
            f"<h3>{_e(title)}</h3><img alt='{_e(title)}' src='data:image/png;base64,{png}'>"
        )
    # every score, grouped
    parts.append("<h2>All scores</h2><details><summary>every score and its change</summary><table>")
    parts.append("<tr><th>score</th><th>value</th><th>vs baseline</th></tr>")
    for name in sorted(values):
        parts.append(
            f"<tr><td>{_e(name)}</td><td>{_e(_fmt(values[name], name == 'grounding_violations'))}</td>"
            f"<td>{_e(_delta(report.diff.get(name)))}</td></tr>"
        )
    parts.append("</table></details>")
    failing = failing_scenarios(result)
    parts.append(f"<h2>Failing scenarios ({len(failing)})</h2>")
    if not failing:
        parts.append("<p>None.</p>")
    for run in failing:
        failed = "".join(
            f"<li>{_e(c.name)}{': ' + _e(c.detail) if c.detail else ''}</li>"
            for c in run.checks
            if not c.ok
        )
        parts.append(
            f"<details open><summary><b>{_e(run.scenario.id)}</b> (run {run.attempt}, {_e(run.scenario.kind)}): "
            f"{_e(run.scenario.title)}</summary><ul class='bad'>{failed}</ul>{_transcript(run.turns)}</details>"
        )
    misses = knowledge_misses(result)
    parts.append(
        f"<h2>Help-centre questions without the right article first ({len(misses)})</h2>"
        "<p>For content owners: the question, the article(s) an editor marked as the answer, what the "
        "assistant cited and said. Adding the customer's wording to the right article (or its search "
        "phrases) usually fixes a miss.</p>"
    )
    per_lang: defaultdict[str, list[KnowledgeRun]] = defaultdict(list)
    for miss in misses:
        per_lang[miss.case.language].append(miss)
    for lang in LANGUAGES:
        if not per_lang.get(lang):
            continue
        parts.append(f"<h3>{lang} ({len(per_lang[lang])})</h3><table>")
        parts.append(
            "<tr><th>question</th><th>expected</th><th>cited / retrieved</th><th>answer</th><th>reference</th></tr>"
        )
        for miss in per_lang[lang]:
            retrieved = ", ".join(dict.fromkeys(p.article_id for p in miss.retrieved)) or "nothing"
            parts.append(
                f"<tr><td>{_e(miss.case.question)}<br><span class='meta'>{_e(miss.case.id)}</span></td>"
                f"<td>{_e(', '.join(miss.case.article_ids))}</td>"
                f"<td>{_e(', '.join(miss.cited) or 'no citation')}<br><span class='meta'>{_e(retrieved)}</span></td>"
                f"<td>{_e(miss.reply or miss.error or '')}</td><td>{_e(miss.case.reference)}</td></tr>"
            )
        parts.append("</table>")
    grounding = report.scores.grounding
    parts.append(f"<h2>Grounding violations ({len(grounding)})</h2>")
    if grounding:
        parts.append("<table><tr><th>where</th><th>unsupported</th><th>reply</th></tr>")
        parts += [
            f"<tr><td>{_e(g.where)}</td><td>{_e(', '.join(g.unsupported))}</td><td>{_e(g.reply)}</td></tr>"
            for g in grounding
        ]
        parts.append("</table>")
    mismatches = [j for j in report.scores.language if not j.ok]
    parts.append(f"<h2>Replies in the wrong language ({len(mismatches)})</h2>")
    if mismatches:
        parts.append(
            "<table><tr><th>where</th><th>expected</th><th>detected</th><th>reply</th></tr>"
        )
        parts += [
            f"<tr><td>{_e(j.where)}</td><td>{j.expected}</td><td>{j.detected}</td><td>{_e(j.text)}</td></tr>"
            for j in mismatches
        ]
        parts.append("</table>")
    rubric_fail = [i for i in report.scores.rubric if not i.ok]
    parts.append(f"<h2>Rubric misses ({len(rubric_fail)})</h2>")
    if rubric_fail:
        parts.append(
            "<table><tr><th>scenario</th><th>turn</th><th>criterion</th><th>detail</th></tr>"
        )
        parts += [
            f"<tr><td>{_e(i.scenario_id)}</td><td>{i.turn}</td><td>{_e(i.criterion)}</td><td>{_e(i.detail)}</td></tr>"
            for i in rubric_fail
        ]
        parts.append("</table>")
    passing = [r for r in result.scenarios if r.success]
    parts.append(f"<h2>Passing scenarios ({len(passing)})</h2>")
    for run in passing:
        parts.append(
            f"<details><summary>{_e(run.scenario.id)}: {_e(run.scenario.title)}</summary>{_transcript(run.turns)}</details>"
        )
    from markdown_it import MarkdownIt

    parts.append("<h2>What the scores mean</h2>" + MarkdownIt().render(GLOSSARY))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: Report, folder: Path) -> tuple[Path, Path, str]:
    """Write `report.html` and `summary.md` into `folder`; returns both paths and the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    html_path = folder / "report.html"
    md_path = folder / "summary.md"
    html_path.write_text(render_html(report), encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    return html_path, md_path, markdown
