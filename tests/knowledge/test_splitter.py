"""Heading- and sentence-aware splitting, deterministic node ids, title in the embedded text."""

from __future__ import annotations

import uuid
from pathlib import Path

from llama_index.core.schema import Document, MetadataMode

from knowledge.readers import read_content
from knowledge.splitter import HeadingSentenceSplitter, chunk_id, split_article
from retrieval.text import count_words

SOURCE = Path(__file__).resolve().parents[2] / "knowledge" / "content"


def test_every_real_article_splits_into_60_to_200_word_chunks() -> None:
    for article in read_content(SOURCE).articles:
        chunks = split_article(article.body)
        assert chunks, article.key
        for chunk in chunks:
            assert 60 <= count_words(chunk) <= 200, (article.key, count_words(chunk))


def test_sections_stay_whole_and_short_ones_merge() -> None:
    intro = "Intro sentence number one. " * 15
    body = f"{intro}\n\n## Short\nTiny section.\n\n## Long\n" + "Word " * 70 + "end."
    chunks = split_article(body)
    assert len(chunks) == 2
    assert chunks[0].startswith("Intro") and "Short" not in chunks[0]
    # The short section travels with the one after it.
    assert chunks[1].startswith("Short\nTiny section.\nLong\n")


def test_a_long_section_is_cut_at_sentence_boundaries_with_its_heading() -> None:
    sentence = "This sentence has exactly eight words in it. "
    body = "## Rules\n" + sentence * 60
    chunks = split_article(body)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.startswith("Rules\n")
        assert chunk.rstrip().endswith(".")
        assert count_words(chunk) <= 200


def test_node_ids_are_deterministic_uuids_per_article_language_and_index() -> None:
    assert chunk_id("returns", "da", 0) == chunk_id("returns", "da", 0)
    ids = {chunk_id("returns", "da", 0), chunk_id("returns", "sv", 0), chunk_id("returns", "da", 1)}
    assert len(ids) == 3
    assert uuid.UUID(chunk_id("returns", "da", 0)).version == 5


def test_nodes_embed_the_title_before_the_chunk() -> None:
    document = Document(
        id_="da/returns",
        text="Første afsnit med nok ord til at stå alene. " * 12,
        metadata={"article_id": "returns", "language": "da", "title": "Retur", "tags": []},
    )
    nodes = HeadingSentenceSplitter().get_nodes_from_documents([document])
    assert [n.node_id for n in nodes] == [chunk_id("returns", "da", 0)]
    embedded = nodes[0].get_content(metadata_mode=MetadataMode.EMBED)
    assert embedded.startswith("Retur\n")
    assert nodes[0].get_content(metadata_mode=MetadataMode.NONE).startswith("Første")
    assert nodes[0].metadata["chunk_index"] == 0
