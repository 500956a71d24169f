"""Carrier tools over the simulator: argument validation, recorded actions, private tokens."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assistant.carrier.seed import load_seed
from assistant.carrier.simulator import CarrierSimulator
from assistant.carrier.store import SqlCarrierStore, make_engine
from assistant.clock import FrozenClock
from assistant.eta.model import EtaModel
from assistant.eta.synthetic import generate_shipments
from assistant.settings import DEMO_SEED
from assistant.tools import CarrierTools, normalise_phone

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))


@pytest.fixture(scope="module")
def eta_model() -> EtaModel:
    return EtaModel.train(generate_shipments(1500, seed=3), seed=3)


@pytest.fixture
def tools(tmp_path: Path, eta_model: EtaModel) -> CarrierTools:
    store = SqlCarrierStore(make_engine(f"sqlite:///{tmp_path / 'carrier.db'}"))
    clock = FrozenClock(NOW)
    simulator = CarrierSimulator(
        load_seed(DEMO_SEED), cases=store, redirects=store, verifications=store, clock=clock
    )
    return CarrierTools(simulator, eta_model, clock)


def test_status_is_public_until_verified(tools: CarrierTools) -> None:
    action = tools.run("get_shipment_status", {"tracking_id": "rr 361 920 561 se"})
    assert action.ok
    assert action.arguments == {"tracking_id": "RR361920561SE"}
    assert action.result["status"] == "INFORMATION_RECEIVED"
    assert action.result["redirect_possible"] is True
    assert "recipient" not in action.result
    verify = tools.run("verify_recipient", {"tracking_id": "RR361920561SE", "postcode": "8000"})
    token = verify.private["token"]
    detailed = tools.run(
        "get_shipment_status", {"tracking_id": "RR361920561SE"}, verification=token
    )
    assert detailed.result["recipient"]["name"] == "Ida Larsen"


def test_verification_token_never_appears_in_the_serialised_action(tools: CarrierTools) -> None:
    action = tools.run("verify_recipient", {"tracking_id": "RR361920561SE", "postcode": "8000"})
    assert action.ok and action.private["token"]
    dumped = action.model_dump_json()
    assert action.private["token"] not in dumped
    assert "_token" not in action.result


def test_pickup_deadline_for_a_parcel_waiting_at_a_service_point(tools: CarrierTools) -> None:
    action = tools.run("get_shipment_status", {"tracking_id": "RR776955364DK"})
    assert action.result["status"] == "AVAILABLE_FOR_PICKUP"
    assert action.result["pickup_deadline"] == "2026-11-30"
    assert action.result["service_point"]["city"]


def test_customs_amount_is_reported(tools: CarrierTools) -> None:
    action = tools.run("get_shipment_status", {"tracking_id": "00796366196126716354"})
    assert action.result["customs"] == {
        "status": "awaiting_payment",
        "amount_due": {"amount": 160.0, "currency": "DKK"},
    }
    assert action.result["redirect_refusal"] == "customs_hold"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"tracking_id": "RR361920562SE"}, "wrong check digit"),
        ({"tracking_id": "hello"}, "does not look like a tracking id"),
        ({"tracking_id": "1Z999AA10123456784"}, "UPS"),
        ({}, "Field required"),
        ({"tracking_id": "RR361920561SE", "extra": 1}, "Extra inputs"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(
    tools: CarrierTools, arguments: dict[str, object], fragment: str
) -> None:
    action = tools.run("get_shipment_status", arguments)
    assert not action.ok
    assert action.result["reason"] == "invalid_arguments"
    assert fragment in action.result["explanation"]


def test_unknown_tool_and_unknown_parcel(tools: CarrierTools) -> None:
    assert tools.run("launch_rocket", {}).result["reason"] == "unknown_tool"
    missing = tools.run("get_shipment_status", {"tracking_id": "RR000000005SE"})
    assert not missing.ok and missing.result["reason"] == "not_found"


def test_redirect_needs_verification_and_a_key(tools: CarrierTools) -> None:
    args = {"tracking_id": "RR361920561SE", "option_id": "door"}
    refused = tools.run("redirect_delivery", args, verification="bogus", idempotency_key="k1")
    assert refused.result["reason"] == "not_verified"
    token = tools.run(
        "verify_recipient", {"tracking_id": "RR361920561SE", "postcode": "8000"}
    ).private["token"]
    no_key = tools.run("redirect_delivery", args, verification=token)
    assert no_key.result["reason"] == "idempotency_key_missing"
    done = tools.run("redirect_delivery", args, verification=token, idempotency_key="k1")
    again = tools.run("redirect_delivery", args, verification=token, idempotency_key="k1")
    assert done.ok and again.ok
    assert done.result["redirect_id"] == again.result["redirect_id"]


def test_case_contact_details_are_validated(tools: CarrierTools) -> None:
    base = {
        "tracking_id": "RR905677345SE",
        "category": "damaged",
        "description": "the box was crushed",
    }
    bad_mail = tools.run(
        "create_case", {**base, "contact_email": "not-an-email"}, idempotency_key="c1"
    )
    assert bad_mail.result["reason"] == "invalid_arguments"
    bad_phone = tools.run("create_case", {**base, "contact_phone": "12"}, idempotency_key="c1")
    assert bad_phone.result["reason"] == "invalid_arguments"
    ok = tools.run(
        "create_case", {**base, "contact_phone": "+46 73 123 45 67"}, idempotency_key="c1"
    )
    assert ok.ok and ok.result["priority"] == "high"
    assert ok.arguments["contact_phone"] == "+46731234567"


def test_eta_for_a_parcel_in_transit_and_refusal_when_delivered(tools: CarrierTools) -> None:
    action = tools.run("predict_eta", {"tracking_id": "RR301061494SE"})
    assert action.ok
    assert action.result["earliest"] <= action.result["most_likely"] <= action.result["latest"]
    assert 0.0 <= action.result["p_by_promised"] <= 1.0
    delivered = tools.run("predict_eta", {"tracking_id": "RR905677345SE"})
    assert not delivered.ok and delivered.result["reason"] == "already_delivered"


def test_tool_schemas_carry_docstrings_for_a_model(tools: CarrierTools) -> None:
    for name in tools.names:
        schema = tools.schema(name)
        assert schema["description"]
        assert "tracking_id" in schema["parameters"]["properties"]


def test_phone_numbers_normalise_to_e164() -> None:
    assert normalise_phone("+45 50 43 24 59") == "+4550432459"
    assert normalise_phone("50432459") == "+4550432459"
    with pytest.raises(ValueError, match="phone number"):
        normalise_phone("+45 1")
