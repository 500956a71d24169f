"""Load: many conversations at once over HTTP against the real server, and a cross-talk check.

    python -m benchmarks.bench_load [--conversations 100] [--full]

Starts `budbringer serve` (one worker, embedded stores, temp data dir, clock frozen at the demo
seed's date, rate limits raised: every request comes from 127.0.0.1) through bench_api's
`start_server`; the server builds its help-centre index on first start (ten topics by default,
`--full` for all thirty). Then N conversations run at the same time, each ten turns in a row:

    track a parcel -> a help-centre question -> redirect a parcel to the door (ask, postcode,
    yes) -> complain about a damaged parcel (report, description, an e-mail of its own, yes)
    -> another help-centre question

Reported: p50/p95/p99 turn latency (HTTP round trip, client side, so it includes queueing
behind the other conversations), errors, flows completed, throughput, and cross-talk. A
conversation shows cross-talk when any reply, action or its transcript (GET) names a tracking
id it never sent, a case or redirect id created in another conversation, or another
conversation's e-mail address; and when its transcript is not exactly its own ten messages in
order. Target: 100 conversations x 10 turns, 0 errors, 0 cross-talk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._results import percentiles_ms, write_results
from benchmarks._server import copy_topics
from benchmarks.bench_api import (
    ASK_DOOR,
    ASK_WHERE,
    CONTENT,
    DOOR,
    LANGS,
    QUICK_TOPICS,
    TRACK,
    YES,
    questions,
    start_server,
)

# Parcels a complaint about damage is allowed for (delivered, or damaged in transit).
DAMAGED = [
    "00752604106995796886",
    "RR233572236SE",
    "00724403955078210104",
    "00725150341521928937",
    "RR905677345SE",
    "00744130867726351778",
    "00789219344454596765",
    "00776163931285725543",
    "RR703926680FI",
]
COMPLAIN = {
    "da": "min pakke {id} er kommet i stykker",
    "sv": "mitt paket {id} kom fram trasigt",
    "en": "my parcel {id} arrived damaged",
}
DESCRIBE = {
    "da": "kassen var knust og indholdet er ødelagt",
    "sv": "kartongen var krossad och innehållet är förstört",
    "en": "the box was crushed and the contents are broken",
}
TRACKING_ID = re.compile(r"\b(?:[A-Z]{2}\d{9}[A-Z]{2}|\d{20})\b")
CASE_OR_REDIRECT_ID = re.compile(r"\b(?:CS|RD)-[A-Z0-9]{4,}\b")
EMAIL = re.compile(r"\bkunde\d+@example\.com\b")


@dataclass
class Conversation:
    n: int
    language: str
    turns: list[str]
    sent_ids: set[str]
    email: str
    conversation_id: str = ""
    auth: dict[str, str] = field(default_factory=dict)
    replies: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    created_ids: set[str] = field(default_factory=set)


def script(n: int, by_language: dict[str, list[str]]) -> Conversation:
    language = LANGS[n % len(LANGS)]
    pool = by_language[language]
    track = TRACK[n % len(TRACK)]
    door, postcode = DOOR[n % len(DOOR)]
    damaged = DAMAGED[n % len(DAMAGED)]
    email = f"kunde{n}@example.com"
    turns = [
        ASK_WHERE[language].format(id=track),
        pool[n % len(pool)],
        ASK_DOOR[language].format(id=door),
        postcode,
        YES[language],
        COMPLAIN[language].format(id=damaged),
        DESCRIBE[language],
        email,
        YES[language],
        pool[(n + 11) % len(pool)],
    ]
    return Conversation(n, language, turns, {track, door, damaged}, email)


async def run_one(
    client: httpx.AsyncClient, conv: Conversation, latencies: list[float], errors: list[str]
) -> None:
    try:
        response = await client.post("/v1/conversations", json={"language": conv.language})
    except httpx.HTTPError as exc:
        errors.append(f"open: {type(exc).__name__}")
        return
    if response.status_code != 201:
        errors.append(f"open: {response.status_code}")
        return
    body = response.json()
    conv.conversation_id = body["conversation_id"]
    conv.auth = {"Authorization": f"Bearer {body['token']}"}
    path = f"/v1/conversations/{conv.conversation_id}"
    for text in conv.turns:
        started = time.perf_counter()
        try:
            response = await client.post(f"{path}/messages", json={"text": text}, headers=conv.auth)
        except httpx.HTTPError as exc:
            errors.append(f"turn: {type(exc).__name__}")
            continue
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            errors.append(f"turn: {response.status_code}")
            continue
        conv.replies.append(response.json())
    response = await client.get(path, headers=conv.auth)
    if response.status_code != 200:
        errors.append(f"transcript: {response.status_code}")
        return
    conv.transcript = response.json()["messages"]


def created_ids(turn: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for action in turn["actions"]:
        if action["tool"] in ("create_case", "redirect_delivery") and action["ok"]:
            result = action["result"]
            found.update(str(result[k]) for k in ("case_id", "redirect_id") if result.get(k))
    return found


def cross_talk(conversations: list[Conversation]) -> list[str]:
    """Every way a conversation could see another's data, as readable findings."""
    owner: dict[str, int] = {}
    findings: list[str] = []
    for conv in conversations:
        for turn in conv.replies:
            conv.created_ids |= created_ids(turn)
        for created in conv.created_ids:
            if created in owner:
                findings.append(f"{created} created by conversations {owner[created]} and {conv.n}")
            owner[created] = conv.n
    for conv in conversations:
        seen_text = json.dumps(conv.replies, ensure_ascii=False) + json.dumps(
            conv.transcript, ensure_ascii=False
        )
        for tracking_id in set(TRACKING_ID.findall(seen_text)) - conv.sent_ids:
            findings.append(f"conversation {conv.n} saw tracking id {tracking_id}")
        for other in set(CASE_OR_REDIRECT_ID.findall(seen_text)) - conv.created_ids:
            findings.append(f"conversation {conv.n} saw {other} of conversation {owner.get(other)}")
        for email in set(EMAIL.findall(seen_text)) - {conv.email}:
            findings.append(f"conversation {conv.n} saw the e-mail {email}")
        if any(turn["conversation_id"] != conv.conversation_id for turn in conv.replies):
            findings.append(f"conversation {conv.n} got a turn of another conversation")
        mine = [(m["turn"], m["text"]) for m in conv.transcript if m["role"] == "customer"]
        if conv.transcript and mine != list(enumerate(conv.turns, start=1)):
            findings.append(f"conversation {conv.n}: transcript is not its own ten messages")
    return findings


def flows(conversations: list[Conversation]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for conv in conversations:
        for turn in conv.replies:
            if turn["flow_status"] in ("completed", "refused"):
                counts[f"{turn['flow']}:{turn['flow_status']}"] += 1
            if turn["citations"]:
                counts["knowledge_answers_with_citations"] += 1
    return dict(sorted(counts.items()))


async def load(
    base: str, conversations: list[Conversation]
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    n = len(conversations)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(run_one(client, conv, latencies, errors) for conv in conversations))
        wall = time.perf_counter() - started
    return latencies, errors, wall


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="index the whole help centre")
    args = parser.parse_args(argv)
    topics = None if args.full else QUICK_TOPICS
    by_language = questions(topics)
    conversations = [script(n, by_language) for n in range(args.conversations)]

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        root = Path(tmp)
        content_dir = CONTENT if topics is None else copy_topics(root / "content", topics)
        server, ready_s = start_server(root / "data", content_dir, root / "server.log")
        try:
            latencies, errors, wall = asyncio.run(load(server.base_url, conversations))
        finally:
            server.stop()
            log_lines = (root / "server.log").read_text(encoding="utf-8", errors="replace")
        server_errors = [line for line in log_lines.splitlines() if '"level": "ERROR"' in line]

    findings = cross_talk(conversations)
    figures: dict[str, Any] = {
        "help_centre": f"{len(topics)} topics x 5 languages" if topics else "full (30 x 5)",
        "first_start_to_ready_s": round(ready_s, 1),
        "conversations": args.conversations,
        "turns_per_conversation": 10,
        "turns": len(latencies),
        "wall_s": round(wall, 2),
        "turns_per_s": round(len(latencies) / wall, 1) if wall else None,
        "turn_latency": percentiles_ms(latencies),
        "errors": len(errors),
        "error_kinds": dict(Counter(errors)),
        "server_error_log_lines": len(server_errors),
        "flows_ended": flows(conversations),
        "cross_talk": len(findings),
        "cross_talk_findings": findings[:20],
        "target": "100 conversations x 10 turns, 0 errors, 0 cross-talk",
        "target_met": args.conversations >= 100 and not errors and not findings,
        "note": "one worker; latency is client-side and includes queueing behind the other "
        "conversations (the server takes 4 turns at a time on 2 cores)",
    }
    write_results("load", figures)
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
