"""The `budbringer` command line: serve the API, work with the carrier, train the ETA model."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.container import Container
from api.knowledge_cli import register as register_knowledge_commands
from api.retention_cli import register as register_retention_commands
from assistant.domain import CaseCategory
from assistant.settings import get_settings
from assistant.tools import Action

app = typer.Typer(
    help="Budbringer: the customer-service assistant of a Nordic parcel carrier.",
    no_args_is_help=True,
)
carrier_app = typer.Typer(
    help="Look up, verify and change parcels in the carrier backend.", no_args_is_help=True
)
eta_app = typer.Typer(help="The ETA model (parcel predictor).", no_args_is_help=True)
app.add_typer(carrier_app, name="carrier")
app.add_typer(eta_app, name="eta")
register_knowledge_commands(app)
register_retention_commands(app)


def _register_plugins() -> None:
    """Add commands from installed `budbringer.commands` entry points (e.g. `eval` from evals/)."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="budbringer.commands"):
        try:
            register = entry.load()
        except ImportError as exc:  # an optional extra that is not installed
            logging.getLogger(__name__).debug("command %s unavailable: %s", entry.name, exc)
            continue
        register(app)


_register_plugins()

console = Console()
err = Console(stderr=True)

Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
TrackingId = Annotated[
    str, typer.Argument(help="Tracking id, as printed or typed (spaces and dashes are fine).")
]
Postcode = Annotated[
    str, typer.Option("--postcode", "-p", help="The recipient's postcode (verifies you).")
]


def _container() -> Container:
    logging.basicConfig(level=logging.WARNING)
    return Container.build(get_settings())


def _show(action: Action) -> None:
    """Print a tool call's outcome; exit 1 on refusal, with the reason code and explanation."""
    if action.ok:
        console.print_json(json.dumps(action.result, ensure_ascii=False))
        return
    reason = action.result.get("reason", "error")
    err.print(f"[bold red]{reason}[/]: {action.result.get('explanation', '')}")
    extra = {k: v for k, v in action.result.items() if k not in ("reason", "explanation")}
    if extra:
        err.print_json(json.dumps(extra, ensure_ascii=False))
    raise typer.Exit(1)


def _verify(container: Container, tracking_id: str, postcode: str) -> str:
    action = container.tools.run(
        "verify_recipient", {"tracking_id": tracking_id, "postcode": postcode}
    )
    if not action.ok:
        _show(action)
    return str(action.private["token"])


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error (JSON lines on stderr).")
    ] = "info",
) -> None:
    """Serve the API and web pages (builds the help-centre index on first start)."""
    import uvicorn

    from api.app import create_app
    from api.logs import configure_logging

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        err.print(f"unknown log level {log_level!r}: use debug, info, warning or error")
        raise typer.Exit(2)
    configure_logging(log_level)
    # log_config=None keeps our JSON logging; our middleware writes the access lines.
    uvicorn.run(
        create_app(get_settings()),
        host=host,
        port=port,
        log_level=log_level.lower(),
        log_config=None,
        access_log=False,
    )


@app.command()
def chat(
    language: Annotated[
        str, typer.Option(help="The language to greet in: da, sv, nb, fi or en.")
    ] = "en",
) -> None:
    """A terminal conversation with the assistant (the same engine the API uses)."""
    import uuid

    if language not in ("da", "sv", "nb", "fi", "en"):
        err.print(f"unknown language {language!r}: use da, sv, nb, fi or en")
        raise typer.Exit(2)
    container = _container()
    ensure_index(container)
    conversation_id = f"cli-{uuid.uuid4().hex[:12]}"
    result = container.conversations.start(conversation_id, language)
    _print_turn(result)
    try:
        while True:
            try:
                text = console.input("[bold cyan]you>[/] ")
            except EOFError:
                break
            if text.strip().lower() in ("/quit", "/exit"):
                break
            _print_turn(container.conversations.turn(conversation_id, text))
    except KeyboardInterrupt:
        pass
    finally:
        container.close()


def _print_turn(result: Any) -> None:
    for message in result.messages:
        console.print(f"[bold green]budbringer>[/] {message['text']}")
    for citation in result.citations:
        console.print(
            f"  [dim]source: {citation['title']} ({citation['article_id']}, {citation['language']})[/]"
        )
    if result.quick_replies:
        console.print("  [dim]" + " · ".join(result.quick_replies) + "[/]")
    handoff = result.handoff or {}
    if handoff.get("status") in ("waiting", "claimed"):
        # The assistant is silent from here on: say where the conversation went.
        console.print(
            f"  [dim]handed to a person ({handoff.get('reason', 'request')}): agents answer in the "
            "console at /agent of `budbringer serve`; your messages here are passed on[/]"
        )


def ensure_index(container: Container) -> None:
    """Build the help-centre index when none exists yet (first start)."""
    if container.reindexer.store.live_version() is not None:
        return
    with console.status("building the help-centre index (first start)…"):
        report = container.reindexer.run(full=True)
    if report.failed:
        err.print(f"[bold red]the help-centre index could not be built[/]: {report.message}")


@carrier_app.command("serve")
def carrier_serve(host: Host = "127.0.0.1", port: Port = 8100) -> None:
    """Serve the embedded carrier simulator over the carrier REST shape (assistant/carrier/REST.md)."""
    import uvicorn

    from api.carrier_server import build_simulator, create_carrier_app

    settings = get_settings()
    uvicorn.run(
        create_carrier_app(build_simulator(settings), settings.agent_keys), host=host, port=port
    )


@carrier_app.command("status")
def carrier_status(
    tracking_id: TrackingId,
    postcode: Annotated[str | None, typer.Option("--postcode", "-p")] = None,
) -> None:
    """Show a parcel's status; with --postcode also the recipient's details."""
    container = _container()
    token = _verify(container, tracking_id, postcode) if postcode else None
    _show(
        container.tools.run("get_shipment_status", {"tracking_id": tracking_id}, verification=token)
    )


@carrier_app.command("verify")
def carrier_verify(tracking_id: TrackingId, postcode: Annotated[str, typer.Argument()]) -> None:
    """Check a recipient postcode (three wrong tries within 15 minutes lock the parcel)."""
    container = _container()
    _show(
        container.tools.run("verify_recipient", {"tracking_id": tracking_id, "postcode": postcode})
    )


@carrier_app.command("eta")
def carrier_eta(tracking_id: TrackingId) -> None:
    """Predict the delivery date with an 80% interval."""
    _show(_container().tools.run("predict_eta", {"tracking_id": tracking_id}))


@carrier_app.command("options")
def carrier_options(tracking_id: TrackingId, postcode: Postcode) -> None:
    """List the redirect options this parcel allows."""
    container = _container()
    token = _verify(container, tracking_id, postcode)
    action = container.tools.run(
        "list_redirect_options", {"tracking_id": tracking_id}, verification=token
    )
    if not action.ok:
        _show(action)
    table = Table(
        "option_id", "what", title=f"Delivery options for {action.arguments['tracking_id']}"
    )
    for option in action.result["options"]:
        point = option["service_point"]
        what = (
            f"{point['name']}, {point['street']}, {point['postcode']} {point['city']}"
            if point
            else option["day"] or "leave at the door"
        )
        table.add_row(option["option_id"], what)
    console.print(table)


@carrier_app.command("redirect")
def carrier_redirect(
    tracking_id: TrackingId,
    option_id: Annotated[
        str, typer.Argument(help="An option_id from `budbringer carrier options`.")
    ],
    postcode: Postcode,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key; the same key never redirects twice.")
    ] = None,
) -> None:
    """Redirect a parcel to one of its options."""
    container = _container()
    token = _verify(container, tracking_id, postcode)
    arguments: dict[str, Any] = {"tracking_id": tracking_id, "option_id": option_id}
    _show(
        container.tools.run(
            "redirect_delivery",
            arguments,
            verification=token,
            idempotency_key=key or f"cli-{secrets.token_hex(8)}",
        )
    )


@carrier_app.command("case")
def carrier_case(
    tracking_id: TrackingId,
    category: Annotated[CaseCategory, typer.Option(help="What kind of complaint.")],
    description: Annotated[str, typer.Option(help="What happened.")],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    phone: Annotated[str | None, typer.Option(help="Contact phone.")] = None,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key; the same key never opens two cases.")
    ] = None,
) -> None:
    """Open a complaint case."""
    arguments: dict[str, Any] = {
        "tracking_id": tracking_id,
        "category": category.value,
        "description": description,
        "contact_email": email,
        "contact_phone": phone,
    }
    _show(
        _container().tools.run(
            "create_case", arguments, idempotency_key=key or f"cli-{secrets.token_hex(8)}"
        )
    )


@carrier_app.command("cases")
def carrier_cases(
    tracking_id: Annotated[str | None, typer.Option(help="Only this parcel's cases.")] = None,
) -> None:
    """List cases, newest first."""
    table = Table("case_id", "tracking_id", "category", "priority", "status", "created_at")
    for case in _container().carrier.list_cases(tracking_id):
        table.add_row(
            case.case_id,
            case.tracking_id,
            case.category.value,
            case.priority,
            case.status.value,
            case.created_at.isoformat(timespec="minutes"),
        )
    console.print(table)


@eta_app.command("train")
def eta_train(
    history: Annotated[
        Path | None,
        typer.Option(
            help="A shipments.jsonl of delivered parcels (seed format); default: synthetic data."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the model; default: the data dir's model file."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed, for reproducible training.")] = 7,
) -> None:
    """Train the ETA model on a carrier's own history (or on synthetic data) and report its accuracy."""
    import tempfile

    from assistant.carrier.seed import shipment_to_dict
    from assistant.eta.model import train_from_history
    from assistant.eta.synthetic import generate_shipments

    target = out or get_settings().data_dir / "models" / "eta.joblib"
    target.parent.mkdir(parents=True, exist_ok=True)
    with console.status("training the ETA model…"), tempfile.TemporaryDirectory() as scratch:
        if history is None:
            history = Path(scratch) / "synthetic.jsonl"
            lines = (json.dumps(shipment_to_dict(s)) for s in generate_shipments(10_000, seed=seed))
            history.write_text("\n".join(lines) + "\n", encoding="utf-8")
        figures = train_from_history(history, target, seed=seed)
    console.print_json(json.dumps(figures))
    console.print(f"model written to {target}")


def main() -> None:  # pragma: no cover - console-script entry point
    app()
