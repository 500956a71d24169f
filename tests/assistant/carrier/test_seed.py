"""The seed format: the demo seed loads and covers what the demo needs; bad seeds are refused whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.carrier.seed import load_seed, parse_shipment, read_shipments, shipment_to_dict
from assistant.domain import EventCode, ServiceType
from assistant.errors import SeedError
from assistant.settings import DEMO_SEED


def test_demo_seed_covers_the_demo() -> None:
    seed = load_seed(DEMO_SEED)
    shipments = list(seed.shipments.values())
    assert len(shipments) >= 60
    assert {s.recipient.country for s in shipments} == {"DK", "SE", "NO", "FI"}
    assert {e.code for s in shipments for e in s.events} == set(EventCode)
    assert {s.service for s in shipments} == set(ServiceType)
    assert any(s.customs and s.customs.status == "awaiting_payment" for s in shipments)
    assert any(not s.redirect_allowed for s in shipments)
    assert any(s.signature_required for s in shipments)
    stalled = [
        s
        for s in shipments
        if s.status in (EventCode.IN_TRANSIT, EventCode.ARRIVED_AT_TERMINAL)
        and s.last_event.at.date().isoformat() <= "2026-11-18"
    ]
    assert len(stalled) >= 2


def test_demo_seed_does_not_depend_on_shared_folder() -> None:
    assert "shared" not in DEMO_SEED.parts
    assert (DEMO_SEED / "shipments.jsonl").is_file()


def test_shipment_round_trips_through_the_seed_format() -> None:
    seed = load_seed(DEMO_SEED)
    for shipment in seed.shipments.values():
        assert parse_shipment(shipment_to_dict(shipment)) == shipment


def _copy_seed(tmp_path: Path) -> Path:
    folder = tmp_path / "seed"
    shutil.copytree(DEMO_SEED, folder)
    return folder


def test_bad_lines_are_all_listed_with_file_line_and_reason(tmp_path: Path) -> None:
    folder = _copy_seed(tmp_path)
    lines = (folder / "shipments.jsonl").read_text(encoding="utf-8").splitlines()
    good = json.loads(lines[0])
    broken_check = dict(good, tracking_id="RR361920562SE")
    missing_field = {k: v for k, v in json.loads(lines[1]).items() if k != "service"}
    unknown_code = json.loads(lines[2])
    unknown_code["events"][0]["code"] = "TELEPORTED"
    lines[3] = '{"tracking_id": "RR361920561SE", '  # broken JSON
    lines[4] = json.dumps(broken_check)
    lines[5] = json.dumps(missing_field)
    lines[6] = json.dumps(unknown_code)
    (folder / "shipments.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(SeedError) as caught:
        load_seed(folder)
    message = str(caught.value)
    assert len(caught.value.problems) == 4
    assert "shipments.jsonl:4: broken JSON" in message
    assert "shipments.jsonl:5: tracking_id" in message and "check digit" in message
    assert "shipments.jsonl:6: service: Field required" in message
    assert "shipments.jsonl:7: events.0.code" in message


def test_duplicate_ids_and_unknown_service_points_are_refused(tmp_path: Path) -> None:
    folder = _copy_seed(tmp_path)
    path = folder / "shipments.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    stray = json.loads(lines[1])
    stray["service_point_id"] = "SE-00000-999"
    lines[1] = json.dumps(stray)
    lines.append(lines[0])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SeedError) as caught:
        load_seed(folder)
    text = str(caught.value)
    assert "unknown service_point_id SE-00000-999" in text
    assert "duplicate tracking_id RR361920561SE (first on line 1)" in text


def test_events_out_of_order_and_naive_times_are_refused(tmp_path: Path) -> None:
    folder = _copy_seed(tmp_path)
    path = folder / "shipments.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    shipment = json.loads(lines[10])
    shipment["events"] = list(reversed(shipment["events"]))
    lines[10] = json.dumps(shipment)
    naive = json.loads(lines[11])
    naive["events"][0]["at"] = "2026-11-20T10:00"
    lines[11] = json.dumps(naive)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SeedError) as caught:
        load_seed(folder)
    text = str(caught.value)
    assert "shipments.jsonl:11: events are not in chronological order" in text
    assert "shipments.jsonl:12: events.0.at: event time needs an offset" in text


def test_missing_files_and_non_utf8_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "shipments.jsonl").write_bytes(b'{"tracking_id": "\xff"}\n')
    with pytest.raises(SeedError) as caught:
        load_seed(folder)
    text = str(caught.value)
    assert "service_points.jsonl:0: file is missing" in text
    assert "shipments.jsonl:1: not UTF-8" in text


def test_read_shipments_reads_a_history_file() -> None:
    shipments = read_shipments(DEMO_SEED / "shipments.jsonl")
    assert len(shipments) == len(load_seed(DEMO_SEED).shipments)
