"""CLI commands for content owners: `budbringer reindex [--full] [--check-only]` and `rollback`.

`api/cli.py` calls `register(app)`. The CLI never opens the live Edge shard: it builds a new
version, checks it and moves the pointer, and a running server follows by itself.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.embedding import E5Embedder
from assistant.settings import get_settings
from knowledge.reindex import NothingToRollBack, ReindexInProgress, ReindexReport, make_reindexer

__all__ = ["register", "report_table"]

_PHASES = {
    "read": "Reading articles",
    "split": "Splitting",
    "embed": "Embedding new and changed chunks",
    "write": "Writing the new version",
    "check": "Checking the new version",
    "switch": "Switching",
}


def report_table(report: ReindexReport) -> Table:
    """The reindex report as a two-column table."""
    table = Table(title="Reindex report", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("result", report.message)
    table.add_row("mode", report.mode)
    table.add_row(
        "version", f"{report.version or '-'} (previous: {report.previous_version or '-'})"
    )
    table.add_row("switched", "yes" if report.switched else "no")
    table.add_row("checks", "passed" if report.checks_passed else "FAILED")
    for failure in report.check_failures:
        table.add_row("", f"[red]{failure}[/red]")
    counts = ", ".join(f"{lang} {n}" for lang, n in sorted(report.counts.items()))
    table.add_row("chunks per language", counts or "-")
    table.add_row("articles", str(report.articles))
    table.add_row(
        "changes",
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.deleted)} deleted",
    )
    table.add_row(
        "chunks", f"{report.embedded_chunks} embedded, {report.reused_chunks} reused from cache"
    )
    table.add_row("duration", f"{report.duration_s:.1f} s")
    table.add_row("skipped files", str(len(report.skipped)) if report.skipped else "none")
    for skipped in report.skipped:
        table.add_row("", f"[yellow]{skipped.path}[/yellow]: {skipped.reason}")
    return table


def register(app: typer.Typer) -> None:
    """Add `reindex` and `rollback` to the main CLI."""

    @app.command()
    def reindex(
        full: Annotated[
            bool, typer.Option("--full", help="Rebuild from every article, not only changes.")
        ] = False,
        check_only: Annotated[
            bool, typer.Option("--check-only", help="Validate the content; index nothing.")
        ] = False,
    ) -> None:
        """Index the help centre into a new version and switch to it when it checks out."""
        console = Console()
        reindexer = make_reindexer(get_settings(), E5Embedder())
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("Starting", total=None)

                def progress(phase: str, done: int, total: int) -> None:
                    bar.update(
                        task, description=_PHASES.get(phase, phase), completed=done, total=total
                    )

                report = reindexer.run(full=full, check_only=check_only, progress=progress)
        except ReindexInProgress as exc:
            console.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(2) from None
        finally:
            reindexer.store.close()
        console.print(report_table(report))
        if report.failed:
            raise typer.Exit(1)

    @app.command()
    def rollback() -> None:
        """Switch the help centre back to the previous version."""
        console = Console()
        reindexer = make_reindexer(get_settings(), E5Embedder())
        try:
            now, was = reindexer.rollback()
        except (ReindexInProgress, NothingToRollBack) as exc:
            console.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(2) from None
        finally:
            reindexer.store.close()
        console.print(f"Rolled back: {now} is live (was {was or '-'}).")
