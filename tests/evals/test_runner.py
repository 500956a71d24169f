"""The eval end to end over tiny datasets: the real assistant (Container.build), a tiny help centre.

One run (module fixture) with the judge pointed at a closed local port and `--update-baseline`;
the tests read what it produced. The runner's own index and ETA caches are used, so the run
builds a five-article index (seconds) and reuses the shared ETA model.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.settings import Settings
from evals.pipeline import EvalOptions, EvalOutcome, evaluate
from evals.ragas_metrics import JudgeConfig

ARTICLES = {
    "da": (
        "Hvor længe venter min pakke?",
        "Din pakke venter 7 dage i en pakkeshop og 3 dage i en pakkeboks.",
    ),
    "sv": (
        "Hur länge väntar mitt paket?",
        "Ditt paket väntar 7 dagar hos ett ombud och 3 dagar i ett paketskåp.",
    ),
    "nb": (
        "Hvor lenge venter pakken min?",
        "Pakken venter 7 dager på et hentested og 3 dager i en pakkeautomat.",
    ),
    "fi": (
        "Kuinka kauan pakettini odottaa?",
        "Paketti odottaa noutopisteessä 7 päivää ja pakettiautomaatissa 3 päivää.",
    ),
    "en": (
        "How long does my parcel wait?",
        "Your parcel waits 7 days at a service point and 3 days in a parcel locker.",
    ),
}
SCENARIOS = [
    {
        "id": "en-redirect-1", "language": "en", "kind": "redirect", "title": "door",
        "turns": [
            {"say": "can RR361920561SE be left at my door", "expect": {"awaiting": "postcode"}},
            {"say": "8000", "expect": {"awaiting": "confirmation"}},
            {"say": "yes", "expect": {"flow_status": "completed"}},
        ],
        "expect": {"redirects": [{"tracking_id": "RR361920561SE", "option": "door"}]},
        "facts": ["RR361920561SE"],
        "reference_tool_calls": [
            {"name": "get_shipment_status", "args": {"tracking_id": "RR361920561SE"}},
            {"name": "verify_recipient", "args": {"postcode": "8000"}},
            {"name": "list_redirect_options"},
            {"name": "redirect_delivery", "args": {"option_id": "door"}},
        ],
    },
    {
        "id": "en-redirect-2", "language": "en", "kind": "redirect",
        "title": "same parcel again: the first scenario's redirect must not leak into this one",
        "turns": [{"say": "can RR361920561SE be left at my door"}, {"say": "8000"}, {"say": "no"}],
        "expect": {"redirects": []},
    },
    {
        "id": "da-handoff-1", "language": "da", "kind": "handoff", "title": "person",
        "turns": [{"say": "jeg vil gerne tale med et menneske"}],
        "expect": {}, "handoff": {"reason": "customer_request", "why": "asked for a person"},
    },
    {
        "id": "da-refusal-1", "language": "da", "kind": "refusal",
        "title": "a deliberately wrong expectation, so the report has a failing case",
        "turns": [{"say": "kan RR149592584DK leveres til en pakkeshop i stedet"}],
        "expect": {"redirects": [{"tracking_id": "RR149592584DK", "option": "door"}]},
    },
]  # fmt: skip


def _tiny_datasets(folder: Path) -> Path:
    datasets = folder / "datasets"
    datasets.mkdir()
    questions = [
        {"id": f"{lang}-pickup-deadline-1", "language": lang, "question": title.lower(),
         "reference": text, "article_ids": ["pickup-deadline"]}
        for lang, (title, text) in ARTICLES.items()
    ]  # fmt: skip
    (datasets / "knowledge.jsonl").write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in questions), encoding="utf-8"
    )
    (datasets / "scenarios.jsonl").write_text(
        "\n".join(json.dumps(s, ensure_ascii=False) for s in SCENARIOS), encoding="utf-8"
    )
    manifest = {
        "now": "2026-11-23T12:00:00+01:00",
        "datasets": {
            "knowledge": {"file": "knowledge.jsonl", "version": "0.1", "model": "KnowledgeCase"},
            "scenarios": {"file": "scenarios.jsonl", "version": "0.1", "model": "Scenario"},
        },
    }
    (datasets / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return datasets


def _tiny_help_centre(folder: Path) -> Path:
    content = folder / "content"
    for lang, (title, text) in ARTICLES.items():
        (content / lang).mkdir(parents=True)
        body = f"{text}\n\n## {title}\n\n{text} " * 2
        (content / lang / "pickup-deadline.md").write_text(
            f"---\nid: pickup-deadline\ntitle: {title}\nlanguage: {lang}\ntags: [pickup]\n"
            f"updated: 2026-10-01\n---\n{body}\n",
            encoding="utf-8",
        )
    return content


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvalOutcome, EvalOptions]:
    root = tmp_path_factory.mktemp("evalrun")
    settings = Settings(data_dir=root / "unused", knowledge_dir=_tiny_help_centre(root))
    (root / "thresholds.yaml").write_text(
        "version: 1\ngates:\n  scenario_success: {min: 0.95}\n  language_match: {min: 1.0}\n",
        encoding="utf-8",
    )
    options = EvalOptions(
        settings=settings,
        offline=True,
        gate=True,
        out=root / "report",
        judge=JudgeConfig(f"http://127.0.0.1:{_closed_port()}/v1", "judge"),
        update_baseline=True,
        datasets_dir=_tiny_datasets(root),
        thresholds=root / "thresholds.yaml",
        baseline=root / "baseline.json",
        cache_dir=root / "kb-index",
    )
    return evaluate(options), options


def test_scenarios_are_judged_by_the_carrier_end_state(
    outcome: tuple[EvalOutcome, EvalOptions],
) -> None:
    result, _ = outcome
    success = {r.scenario.id: r.success for r in result.result.scenarios}
    assert success == {
        "en-redirect-1": True,
        "en-redirect-2": True,  # declined: nothing changed, and the carrier was reset in between
        "da-handoff-1": True,
        "da-refusal-1": False,
    }
    assert result.scores.values["scenario_success"] == 0.75
    assert result.scores.values["handoff_precision"] == 1.0
    assert result.scores.values["tool_call_accuracy.redirect"] == pytest.approx(1.0)


def test_knowledge_questions_get_citations_and_ragas_context_scores(
    outcome: tuple[EvalOutcome, EvalOptions],
) -> None:
    values = outcome[0].scores.values
    assert values["citation_hit_at_1"] == 1.0
    assert values["context_recall"] == 1.0
    assert 0.0 < values["answer_rouge_l"] <= 1.0  # type: ignore[operator]
    assert values["language_match"] == 1.0


def test_the_gate_names_the_breach(outcome: tuple[EvalOutcome, EvalOptions]) -> None:
    result, _ = outcome
    assert [str(b) for b in result.breaches] == ["scenario_success = 0.75 (needs min 0.95)"]
    assert result.exit_code == 1


def test_an_unreachable_judge_is_reported_and_offline_metrics_still_run(
    outcome: tuple[EvalOutcome, EvalOptions],
) -> None:
    result, _ = outcome
    assert result.judge is not None and not result.judge.available
    assert "unreachable" in (result.judge.error or "")
    assert "faithfulness" not in result.scores.values
    assert "unreachable" in result.markdown
    assert "context_precision" in result.scores.values


def test_reports_are_written_with_charts_and_the_failing_transcript(
    outcome: tuple[EvalOutcome, EvalOptions],
) -> None:
    result, options = outcome
    html = result.html.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 3
    assert "da-refusal-1" in html and "customer: kan RR149592584DK" in html
    assert result.summary.read_text(encoding="utf-8") == result.markdown
    assert "| Scenario success" in result.markdown
    baseline = json.loads(options.baseline.read_text(encoding="utf-8"))
    assert baseline["scores"]["scenario_success"] == 0.75
    assert baseline["datasets"] == {"knowledge": "0.1", "scenarios": "0.1"}


def test_the_cli_refuses_a_bad_dataset_with_file_and_line(tmp_path: Path) -> None:
    import typer

    from evals.cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `eval` a named subcommand
    datasets = _tiny_datasets(tmp_path)
    with (datasets / "scenarios.jsonl").open("a", encoding="utf-8") as f:
        f.write('\n{"id": "en-x-9", "language": "en"}\n')
    result = CliRunner().invoke(app, ["eval", "--offline", "--datasets", str(datasets)])
    assert result.exit_code == 2
    assert "scenarios.jsonl:5:" in result.output and "Field required" in result.output
    assert "Traceback" not in result.output


def test_the_cli_refuses_an_unknown_language() -> None:
    import typer

    from evals.cli import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["eval", "--language", "de"])
    assert result.exit_code == 2 and "unknown language(s): de" in result.output


def test_with_an_llm_configured_each_scenario_runs_k_times_for_pass_hat_k(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The model endpoint is a closed local port: every turn falls back to the offline path."""
    root = tmp_path_factory.mktemp("llmrun")
    settings = Settings(
        data_dir=root / "unused",
        knowledge_dir=_tiny_help_centre(root),
        llm={"base_url": f"http://127.0.0.1:{_closed_port()}/v1", "model": "m", "timeout_s": 2},
    )
    result = evaluate(
        EvalOptions(
            settings=settings,
            k=2,
            languages=["en"],
            out=root / "report",
            datasets_dir=_tiny_datasets(root),
            baseline=root / "baseline.json",
            cache_dir=root / "kb-index",
        )
    )
    assert result.result.mode == "llm:m" and result.result.k == 2
    assert [(r.scenario.id, r.attempt) for r in result.result.scenarios] == [
        ("en-redirect-1", 1), ("en-redirect-2", 1), ("en-redirect-1", 2), ("en-redirect-2", 2),
    ]  # fmt: skip
    assert result.scores.values["pass_hat_k"] == 1.0
    assert result.breaches == []  # no --gate


def _instance(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A minimal valid instance of a JSON schema: what a judge model with JSON output returns."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return _instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for combined in ("anyOf", "allOf", "oneOf"):
        if combined in schema:
            return _instance(schema[combined][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _instance(v, defs) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_instance(schema.get("items", {}), defs)]
    return {"integer": 1, "number": 1.0, "boolean": True}.get(str(kind), "the parcel waits 7 days")


def test_judged_metrics_run_against_an_openai_compatible_judge(
    outcome: tuple[EvalOutcome, EvalOptions],
) -> None:
    """Faithfulness, ResponseRelevancy and AgentGoalAccuracy over real HTTP to a scripted judge."""
    from assistant.embedding import HashingEmbedder
    from evals.ragas_metrics import judge_metrics
    from tests.scripted_llm import Json, Recorded, ScriptedLLM

    run = outcome[0].result
    with ScriptedLLM() as llm:

        def answer(request: Recorded) -> Json:
            # Ragas asks in JSON mode and puts the output's JSON Schema in the prompt.
            for message in request.body["messages"]:
                text = str(message.get("content") or "")
                at = text.find("JSON Schema:")
                if at >= 0:
                    schema, _ = json.JSONDecoder().raw_decode(
                        text[at + len("JSON Schema:") :].lstrip()
                    )
                    return Json(_instance(schema))
            return Json(_instance(request.schema or {}))

        llm.respond_with(answer)
        report = judge_metrics(
            JudgeConfig(llm.base_url, "judge", "sk-judge"),
            HashingEmbedder(),
            run.knowledge[:1],
            run.scenarios[:1],
        )
    assert report.available and report.error is None, report.failures
    knowledge = next(iter(report.knowledge.values()))
    assert set(knowledge) == {"faithfulness", "response_relevancy"}
    assert all(v is not None and 0.0 <= v <= 1.0 for v in knowledge.values())
    goal = next(iter(report.scenarios.values()))["agent_goal_accuracy"]
    assert goal is not None and 0.0 <= goal <= 1.0
