"""The ETA model: predictions, refusals, reproducibility, persistence and a small accuracy check.

One model is trained per module (on 1500 synthetic shipments) and shared by the tests.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import joblib
import numpy as np
import pytest

from assistant.carrier.seed import shipment_to_dict
from assistant.domain import COUNTRY_TIMEZONE, Event, EventCode, ServiceType, Shipment
from assistant.errors import ConfigurationError, ToolFailed
from assistant.eta import EtaModel, evaluate, generate_shipments, load_or_train, train_from_history
from assistant.eta.features import build_examples, state_at
from assistant.eta.forest import one_thread
from assistant.eta.workdays import is_working_day


@pytest.fixture(scope="module")
def model() -> EtaModel:
    return EtaModel.train(generate_shipments(1500, seed=7), seed=7)


@pytest.fixture(scope="module")
def held_out() -> list[Shipment]:
    return generate_shipments(400, seed=8)


def _upto(shipment: Shipment, code: EventCode) -> Shipment:
    """The shipment as it stood right after its first `code` event."""
    index = next(i for i, e in enumerate(shipment.events) if e.code is code)
    return replace(shipment, events=shipment.events[: index + 1])


def _open_states(shipments: list[Shipment]) -> list[tuple[Shipment, datetime]]:
    """Every shipment cut after each event before its delivery, with `now` a little later."""
    states = []
    for shipment in shipments:
        for index in range(len(shipment.events) - 1):
            at = shipment.events[index].at
            states.append((replace(shipment, events=shipment.events[: index + 1]), at))
            states.append(
                (replace(shipment, events=shipment.events[: index + 1]), at + timedelta(hours=7))
            )
    return states


def _home(shipments: list[Shipment]) -> Shipment:
    return next(
        s
        for s in shipments
        if s.service is ServiceType.HOME
        and s.promised_date is not None
        and all(e.code is not EventCode.DELIVERY_ATTEMPTED for e in s.events)
    )


def test_interval_is_ordered_and_on_working_days(model: EtaModel, held_out: list[Shipment]) -> None:
    for shipment, now in _open_states(held_out[:60]):
        prediction = model.predict(shipment, now)
        country = shipment.recipient.country
        today = now.astimezone(ZoneInfo(COUNTRY_TIMEZONE[country])).date()
        assert today <= prediction.earliest <= prediction.most_likely <= prediction.latest
        for day in (prediction.earliest, prediction.most_likely, prediction.latest):
            assert is_working_day(day, country), (shipment.tracking_id, day)
        assert prediction.model_version == model.model_version


def test_out_for_delivery_is_predicted_no_later_than_at_acceptance(
    model: EtaModel, held_out: list[Shipment]
) -> None:
    checked = 0
    for shipment in held_out:
        if not any(e.code is EventCode.OUT_FOR_DELIVERY for e in shipment.events):
            continue
        out = _upto(shipment, EventCode.OUT_FOR_DELIVERY)
        now = out.last_event.at
        at_acceptance = model.predict(_upto(shipment, EventCode.ACCEPTED), now)
        assert model.predict(out, now).most_likely <= at_acceptance.most_likely
        checked += 1
    assert checked > 50


def test_out_for_delivery_today_gets_a_two_hour_window(
    model: EtaModel, held_out: list[Shipment]
) -> None:
    out = _upto(_home(held_out), EventCode.OUT_FOR_DELIVERY)
    prediction = model.predict(out, out.last_event.at + timedelta(minutes=30))
    assert prediction.window_start is not None
    assert prediction.window_end is not None
    assert prediction.window_end - prediction.window_start == timedelta(hours=2)
    assert prediction.window_start.date() == prediction.most_likely
    assert prediction.window_start.time() >= time(8, 0)
    assert prediction.window_end.time() <= time(21, 0)
    assert prediction.window_start >= out.last_event.at
    zone = ZoneInfo(COUNTRY_TIMEZONE[out.recipient.country])
    assert (
        prediction.window_start.utcoffset() == prediction.window_start.astimezone(zone).utcoffset()
    )


def test_no_window_before_the_parcel_is_out_for_delivery(
    model: EtaModel, held_out: list[Shipment]
) -> None:
    accepted = _upto(_home(held_out), EventCode.ACCEPTED)
    prediction = model.predict(accepted, accepted.last_event.at)
    assert prediction.window_start is None
    assert prediction.window_end is None


def test_chance_of_the_promised_date_is_a_probability_that_grows_with_the_date(
    model: EtaModel, held_out: list[Shipment]
) -> None:
    accepted = _upto(_home(held_out), EventCode.ACCEPTED)
    now = accepted.last_event.at
    far = model.predict(replace(accepted, promised_date=now.date() + timedelta(days=30)), now)
    past = model.predict(replace(accepted, promised_date=now.date() - timedelta(days=2)), now)
    none = model.predict(replace(accepted, promised_date=None), now)
    assert far.p_by_promised is not None and past.p_by_promised is not None
    assert 0.0 <= past.p_by_promised < far.p_by_promised <= 1.0
    assert far.p_by_promised > 0.95
    assert past.p_by_promised == 0.0
    assert none.p_by_promised is None


def test_a_parcel_stuck_for_weeks_is_predicted_from_now_on(
    model: EtaModel, held_out: list[Shipment]
) -> None:
    accepted = _upto(held_out[0], EventCode.ACCEPTED)
    now = accepted.last_event.at + timedelta(days=30)
    prediction = model.predict(accepted, now)
    today = now.astimezone(ZoneInfo(COUNTRY_TIMEZONE[accepted.recipient.country])).date()
    assert today <= prediction.earliest <= prediction.latest <= today + timedelta(days=30)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (EventCode.DELIVERED, "already_delivered"),
        (EventCode.RETURNED_TO_SENDER, "already_delivered"),
        (EventCode.DAMAGED_IN_TRANSIT, "no_eta"),
        (EventCode.AVAILABLE_FOR_PICKUP, "already_at_pickup"),
    ],
)
def test_finished_parcels_are_refused_with_a_reason(
    model: EtaModel, held_out: list[Shipment], code: EventCode, reason: str
) -> None:
    shipment = held_out[1]
    last = shipment.events[-2]
    final = Event(last.at + timedelta(hours=3), code, "Aarhus C", shipment.recipient.country)
    finished = replace(shipment, events=(*shipment.events[:-1], final))
    with pytest.raises(ToolFailed) as refused:
        model.predict(finished, final.at + timedelta(hours=1))
    assert refused.value.reason == reason
    assert refused.value.explanation.endswith(".")
    assert len(refused.value.explanation.split()) > 6


def test_a_naive_now_is_a_programming_error(model: EtaModel, held_out: list[Shipment]) -> None:
    with pytest.raises(ValueError, match="timezone"):
        model.predict(_upto(held_out[0], EventCode.ACCEPTED), datetime(2026, 11, 23, 9, 0))


def test_same_seed_gives_identical_predictions(held_out: list[Shipment]) -> None:
    history = generate_shipments(300, seed=21)
    first = EtaModel.train(history, seed=5)
    second = EtaModel.train(list(reversed(history)), seed=5)
    assert first.model_version == second.model_version
    for shipment, now in _open_states(held_out[:30]):
        assert first.predict(shipment, now) == second.predict(shipment, now)


def test_fast_path_matches_scikit_learn(model: EtaModel, held_out: list[Shipment]) -> None:
    rows = build_examples(held_out[:50]).X
    assert model._forest is not None
    with one_thread():
        expected = np.column_stack([e.predict(rows) for e in model._estimators])
    got = np.vstack([model._forest.predict_one(row) for row in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-6)


def test_save_and_load_give_the_same_predictions(
    model: EtaModel, held_out: list[Shipment], tmp_path: Path
) -> None:
    path = tmp_path / "models" / "eta.joblib"
    model.save(path)
    loaded = EtaModel.load(path)
    assert loaded.model_version == model.model_version
    for shipment, now in _open_states(held_out[:20]):
        assert loaded.predict(shipment, now) == model.predict(shipment, now)


def test_load_or_train_uses_a_valid_file_as_it_is(model: EtaModel, tmp_path: Path) -> None:
    path = tmp_path / "eta.joblib"
    model.save(path)
    assert load_or_train(path, n_shipments=0).model_version == model.model_version


def test_load_or_train_rebuilds_a_corrupt_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "eta.joblib"
    path.write_bytes(b"this is not a model")
    with caplog.at_level(logging.WARNING, logger="assistant.eta.model"):
        rebuilt = load_or_train(path, seed=3, n_shipments=300)
    assert any("rebuilding the ETA model" in r.getMessage() for r in caplog.records)
    assert EtaModel.load(path).model_version == rebuilt.model_version


def test_load_refuses_a_file_of_another_format(tmp_path: Path) -> None:
    path = tmp_path / "eta.joblib"
    joblib.dump({"format": 0}, path)
    with pytest.raises(ConfigurationError, match="format"):
        EtaModel.load(path)


def test_training_needs_enough_delivered_shipments() -> None:
    with pytest.raises(ConfigurationError, match="at least"):
        EtaModel.train(generate_shipments(20, seed=1))


def test_accuracy_on_held_out_shipments(model: EtaModel) -> None:
    figures = evaluate(model, generate_shipments(600, seed=8))
    assert figures["mae_days"] <= 0.6
    assert 0.74 <= figures["coverage_80"] <= 0.86
    assert figures["n"] > 2000
    assert 0.0 <= figures["p_by_promised_brier"] <= 0.1


def test_train_from_history_reports_held_out_figures(tmp_path: Path) -> None:
    history = tmp_path / "shipments.jsonl"
    lines = [json.dumps(shipment_to_dict(s)) for s in generate_shipments(400, seed=31)]
    history.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "eta.joblib"
    figures = train_from_history(history, out, seed=2)
    assert figures["train_shipments"] == 320
    assert figures["test_shipments"] == 80
    assert figures["mae_days"] is not None
    assert 0.0 <= figures["coverage_80"] <= 1.0
    assert EtaModel.load(out).model_version == figures["model_version"]


def test_states_use_the_destination_clock(held_out: list[Shipment]) -> None:
    shipment = held_out[2]
    state = state_at(shipment, 0)
    zone = ZoneInfo(COUNTRY_TIMEZONE[shipment.recipient.country])
    assert state.anchor == shipment.events[0].at
    assert state.anchor.utcoffset() == shipment.events[0].at.astimezone(zone).utcoffset()
