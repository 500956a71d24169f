"""The worst moment to crash: after the carrier applied a redirect, before the turn's checkpoint
was written. The process dies (simulated by an exception nothing may catch), a new process opens
the same checkpoint file, the customer's app sends the same "yes" again: the redirect must not be
applied twice (the flow's idempotency key per conversation and step finds the first one).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import FrozenClock
from assistant.eta.model import EtaModel
from assistant.replies import Catalogue
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools
from assistant.understanding import Understander
from graphs.context import AssistantContext
from graphs.engine import ConversationEngine
from tests.api.conftest import NOW, Template

TRACKING_ID = "RR361920561SE"


class ProcessDied(BaseException):
    """Stands for SIGKILL: a BaseException, so no `except Exception` in the product absorbs it."""


class DiesAfterRedirect:
    """The simulator, except that the process dies right after a redirect is applied (once)."""

    def __init__(self, inner: CarrierSimulator) -> None:
        self.inner = inner
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def redirect_delivery(self, *args: Any, **kwargs: Any) -> Any:
        applied = self.inner.redirect_delivery(*args, **kwargs)
        if self.armed:
            self.armed = False
            raise ProcessDied
        return applied


def engine_on(path: Path, carrier: Any, eta: EtaModel, clock: FrozenClock) -> ConversationEngine:
    context = AssistantContext(
        tools=CarrierTools(carrier, eta, clock),
        retriever=None,  # type: ignore[arg-type]  # a redirect needs no help centre
        understander=Understander(),
        catalogue=Catalogue(),
        clock=clock,
    )
    return ConversationEngine(context, SqliteSaver(sqlite3.connect(path, check_same_thread=False)))


def test_a_crash_between_the_redirect_and_the_checkpoint_never_redirects_twice(
    reliability_template: Template, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime.fromisoformat(NOW))
    eta = EtaModel.load(reliability_template.data_dir / "models" / "eta.joblib")
    # The carrier's own database: it survives our crash.
    store = SqlCarrierStore(make_engine(f"sqlite:///{tmp_path / 'carrier.db'}"))
    simulator = CarrierSimulator(
        load_seed(DEMO_SEED), cases=store, redirects=store, verifications=store, clock=clock
    )
    checkpoints = tmp_path / "conversations.db"
    first = engine_on(checkpoints, DiesAfterRedirect(simulator), eta, clock)
    first.start("c_crash", "da")
    first.turn("c_crash", f"kan {TRACKING_ID} stilles ved døren")
    assert first.turn("c_crash", "8000").awaiting == "confirmation"
    with pytest.raises(ProcessDied):
        first.turn("c_crash", "ja")
    assert store.latest_redirect(TRACKING_ID) is not None, "the carrier applied it"

    second = engine_on(checkpoints, simulator, eta, clock)
    assert second.state("c_crash")["awaiting"] == "confirmation", "the yes was never checkpointed"
    again = second.turn("c_crash", "ja")
    assert (again.flow, again.flow_status) == ("redirect_delivery", "completed")
    applied = [a for a in again.actions if a["tool"] == "redirect_delivery" and a["ok"]]
    assert len(applied) == 1
    latest = store.latest_redirect(TRACKING_ID)
    assert latest is not None and applied[0]["result"]["redirect_id"] == latest.redirect_id
    with sqlite3.connect(tmp_path / "carrier.db") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM carrier_redirects").fetchone()
    assert count == 1, "one redirect, not two"
