"""The Edge reader follows the `CURRENT` pointer without failing a query in flight."""

from __future__ import annotations

import threading
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

from assistant.embedding import HashingEmbedder
from retrieval.edge_store import EdgeKnowledgeStore
from retrieval.lexical import encode_document, encode_query
from retrieval.store import ChunkPoint

EMBEDDER = HashingEmbedder(dimension=32)


def _build(writer: EdgeKnowledgeStore, marker: str) -> str:
    version = writer.create_version(EMBEDDER.dimension)
    text = f"Parcel lockers open with a code. Version {marker}."
    writer.upsert(
        version,
        [
            ChunkPoint(
                id=str(uuid5(NAMESPACE_URL, marker)),
                dense=EMBEDDER.embed_passages([text])[0],
                lexical=encode_document(text, "en"),
                payload={"article_id": f"locker-{marker}", "language": "en", "text": text},
            )
        ],
    )
    writer.finish_version(version)
    return version


def _ask(reader: EdgeKnowledgeStore) -> str:
    hits = reader.query(
        EMBEDDER.embed_query("locker code"), encode_query("locker code", "en"), "en", limit=1
    )
    return str(hits[0].payload["article_id"]) if hits else ""


def test_reader_follows_the_pointer_and_closes_the_old_shard_after_its_last_query(
    tmp_path: Path,
) -> None:
    root = tmp_path / "knowledge"
    writer = EdgeKnowledgeStore(root)
    reader = EdgeKnowledgeStore(root)
    assert _ask(reader) == ""  # nothing live yet: no error, no answer
    first = _build(writer, "a")
    writer.activate(first)
    assert _ask(reader) == "locker-a"

    in_flight = reader._acquire_live()  # a query that started before the switch
    assert in_flight is not None and in_flight.version == first
    writer.activate(_build(writer, "b"))
    assert _ask(reader) == "locker-b"
    assert in_flight.retired and in_flight.users == 1
    assert in_flight.shard.info().points_count == 1  # still usable by the old query
    reader._release(in_flight)
    assert in_flight.users == 0
    reader.close()
    writer.close()


def test_many_switches_under_load_fail_no_query(tmp_path: Path) -> None:
    root = tmp_path / "knowledge"
    writer = EdgeKnowledgeStore(root)
    versions = [_build(writer, "a"), _build(writer, "b")]
    writer.activate(versions[0])
    reader = EdgeKnowledgeStore(root)
    errors: list[BaseException] = []
    answers: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answer = _ask(reader)
                assert answer in ("locker-a", "locker-b"), answer
                answers.add(answer)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for i in range(30):
            writer.activate(versions[i % 2])
            stop.wait(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        reader.close()
        writer.close()
    assert errors == []
    assert answers == {"locker-a", "locker-b"}
