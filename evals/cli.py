"""`budbringer eval` (through the `budbringer.commands` entry point) and `python -m evals`.

Imports stay light at module level: the `budbringer` CLI loads this module on every start.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from evals.pipeline import EvalOptions, EvalOutcome

__all__ = ["eval_command", "main", "register"]

LANGUAGE_CODES = ("da", "sv", "nb", "fi", "en")


def eval_command(
    offline: Annotated[
        bool, typer.Option("--offline", help="Ignore a configured LLM: deterministic offline run.")
    ] = False,
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when a score breaks evals/thresholds.yaml.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder for report.html and summary.md.")] = Path(
        "eval-report"
    ),
    k: Annotated[
        int, typer.Option(min=1, max=20, help="Runs per scenario for pass^k (with an LLM).")
    ] = 1,
    judge_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible base URL of a judge model for the LLM-judged metrics."
        ),
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="Judge model name.")] = None,
    judge_key: Annotated[
        str, typer.Option(envvar="BUDBRINGER_JUDGE_API_KEY", help="Judge API key.")
    ] = "not-needed",
    update_baseline: Annotated[
        bool,
        typer.Option("--update-baseline", help="Accept this run's scores as evals/baseline.json."),
    ] = False,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", "-l", help="Only these languages (repeatable)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many rows per language and dataset.")
    ] = None,
    datasets: Annotated[
        Path | None, typer.Option(help="Folder with manifest.json and the datasets.")
    ] = None,
    thresholds: Annotated[Path | None, typer.Option(help="Thresholds file.")] = None,
    baseline: Annotated[Path | None, typer.Option(help="Baseline file.")] = None,
    write_schema: Annotated[
        bool, typer.Option("--write-schema", help="Write the datasets' JSON Schema files and stop.")
    ] = False,
) -> None:
    """Answer-quality evals: help-centre answers and whole conversations, scored and gated."""
    from rich.console import Console

    console = Console(stderr=True)
    if write_schema:
        _write_schema(console)
        return
    unknown = sorted(set(language or []) - set(LANGUAGE_CODES))
    if unknown:
        console.print(
            f"[red]unknown language(s): {', '.join(unknown)}; use {', '.join(LANGUAGE_CODES)}"
        )
        raise typer.Exit(2)
    if bool(judge_url) != bool(judge_model):
        console.print("[red]--judge-url and --judge-model go together")
        raise typer.Exit(2)
    from assistant.settings import get_settings
    from evals.datasets import DATASETS, DatasetError
    from evals.gate import BASELINE, THRESHOLDS, ThresholdsError
    from evals.pipeline import EvalOptions
    from evals.ragas_metrics import JudgeConfig

    options = EvalOptions(
        settings=get_settings(),
        offline=offline,
        gate=gate,
        out=out,
        k=k,
        judge=JudgeConfig(judge_url, judge_model, judge_key) if judge_url and judge_model else None,
        update_baseline=update_baseline,
        languages=list(language or []),
        limit=limit,
        datasets_dir=datasets or DATASETS,
        thresholds=thresholds or THRESHOLDS,
        baseline=baseline or BASELINE,
    )
    logging.getLogger("evals").setLevel(logging.INFO)
    try:
        outcome = _run_with_progress(options, console)
    except (DatasetError, ThresholdsError) as exc:
        console.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    typer.echo(outcome.markdown)
    console.print(f"report: {outcome.html}  summary: {outcome.summary}", highlight=False)
    if update_baseline:
        console.print(f"baseline updated: {options.baseline}", highlight=False)
    if outcome.judge is not None and outcome.judge.error:
        console.print(outcome.judge.error, style="yellow", markup=False, soft_wrap=True)
    if gate and outcome.breaches:
        console.print(f"[red]eval gate failed: {len(outcome.breaches)} threshold(s) breached")
        raise typer.Exit(1)


def _run_with_progress(options: EvalOptions, console: Console) -> EvalOutcome:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from evals.pipeline import evaluate

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def say(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=max(total, 1))
            progress.update(tasks[phase], completed=done, total=max(total, 1))

        return evaluate(options, progress=say)


def _write_schema(console: Console) -> None:
    from evals.datasets import DATASETS
    from evals.schema import json_schemas

    folder = DATASETS / "schema"
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"wrote {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `eval` to the `budbringer` app (entry point `budbringer.commands: eval`)."""
    app.command("eval")(eval_command)


def main() -> None:
    """`python -m evals`."""
    app = typer.Typer(add_completion=False)
    app.command()(eval_command)
    app()
