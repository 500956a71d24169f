"""Heading- and sentence-aware splitting of articles into chunks of roughly 60-200 words.

Sections (`## ` headings) come first: a section is a chunk of its own unless it is shorter than
`min_words`, then it is merged with the next one. A section longer than `max_words` is cut at
sentence boundaries (its heading repeated on each piece). The article title is not part of the
chunk text; it is prepended to the *embedded* text by the node's template.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, NodeRelationship, TextNode

from retrieval.text import count_words, split_sentences, strip_markup

__all__ = ["NODE_NAMESPACE", "HeadingSentenceSplitter", "chunk_id", "split_article"]

# Fixed namespace: the same article, language and chunk index always give the same point id.
NODE_NAMESPACE = uuid.UUID("6f1b5a0e-3c1d-5b8e-9a52-b0db0d6e4a11")
SPLITTER_VERSION = "hs1"


def chunk_id(article_id: str, language: str, chunk_index: int) -> str:
    """Deterministic UUID for a chunk (Qdrant needs UUID or integer ids)."""
    return str(uuid.uuid5(NODE_NAMESPACE, f"{article_id}\x1f{language}\x1f{chunk_index}"))


def _sections(body: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith(("## ", "# ")):
            sections.append((strip_markup(stripped), []))
        elif stripped:
            sections[-1][1].append(stripped)
    return [(h, lines) for h, lines in sections if h or lines]


def _render(heading: str, lines: Sequence[str]) -> str:
    text = "\n".join(lines)
    return f"{heading}\n{text}".strip() if heading else text


def _cut(heading: str, lines: Sequence[str], max_words: int) -> list[str]:
    """A long section as pieces of whole sentences, each at most `max_words` where possible."""
    units: list[str] = []
    for line in lines:
        parts = split_sentences(line)
        bullet = line.lstrip().startswith(("-", "*", "•"))
        units.extend(f"- {p}" if bullet else p for p in parts)
    budget = max_words - count_words(heading)
    total = sum(count_words(u) for u in units)
    pieces_needed = max(1, -(-total // max(budget, 1)))
    target = total / pieces_needed
    pieces: list[list[str]] = [[]]
    words = 0
    for unit in units:
        n = count_words(unit)
        if pieces[-1] and (words + n > budget or words >= target):
            pieces.append([])
            words = 0
        pieces[-1].append(unit)
        words += n
    return [_render(heading, piece) for piece in pieces if piece]


def split_article(body: str, min_words: int = 60, max_words: int = 200) -> list[str]:
    """Chunk texts of one article body, in order."""
    chunks: list[str] = []
    pending = ""
    for heading, lines in _sections(body):
        text = _render(heading, lines)
        n = count_words(text)
        if n > max_words:
            if pending:
                chunks.append(pending)
                pending = ""
            chunks.extend(_cut(heading, lines, max_words))
            continue
        if pending and count_words(pending) + n <= max_words:
            pending = f"{pending}\n{text}"
        else:
            if pending:
                chunks.append(pending)
            pending = text
        if count_words(pending) >= min_words:
            chunks.append(pending)
            pending = ""
    if pending:
        if chunks and count_words(chunks[-1]) + count_words(pending) <= max_words:
            chunks[-1] = f"{chunks[-1]}\n{pending}"
        else:
            chunks.append(pending)
    return chunks


_EMBED_KEYS = ("title",)


class HeadingSentenceSplitter(NodeParser):
    """llama-index node parser: one `TextNode` per chunk with a deterministic id.

    Expects documents whose metadata holds `article_id`, `language` and `title`; every node
    carries that metadata plus `chunk_index`, and embeds as "<title>\\n<chunk>".
    """

    min_words: int = 60
    max_words: int = 200

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for document in nodes:
            meta = dict(document.metadata)
            texts = split_article(document.get_content(), self.min_words, self.max_words)
            for index, text in enumerate(texts):
                metadata = {**meta, "chunk_index": index}
                node = TextNode(
                    id_=chunk_id(str(meta["article_id"]), str(meta["language"]), index),
                    text=text,
                    metadata=metadata,
                    excluded_embed_metadata_keys=[k for k in metadata if k not in _EMBED_KEYS],
                    excluded_llm_metadata_keys=[k for k in metadata if k not in _EMBED_KEYS],
                    metadata_template="{value}",
                    text_template="{metadata_str}\n{content}",
                )
                node.relationships[NodeRelationship.SOURCE] = document.as_related_node_info()
                out.append(node)
        return out
