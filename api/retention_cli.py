"""`budbringer purge [--dry-run]`: delete conversations inactive longer than the retention period."""

from __future__ import annotations

from typing import Annotated

import typer

from api.container import Container
from api.retention import Retention
from assistant.settings import get_settings

__all__ = ["register"]


def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete every conversation inactive for longer than BUDBRINGER_RETENTION_DAYS, with its
    transcript, token, feedback and handoff records (cases stay: they are the carrier's)."""
    settings = get_settings()
    container = Container.build(settings)
    try:
        report = Retention.from_container(container).purge(dry_run=dry_run)
    finally:
        container.close()
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {report.count} conversation(s) inactive since before "
        f"{report.cutoff.isoformat(timespec='seconds')} "
        f"(retention {settings.retention_days} days)"
    )
    for conversation_id in report.conversation_ids:
        typer.echo(f"  {conversation_id}")
    if report.failed:
        typer.echo(f"failed, still due: {', '.join(report.failed)}", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(purge)
