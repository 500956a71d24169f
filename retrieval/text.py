"""Plain-text helpers shared by the splitter (write side) and the snippets (read side)."""

from __future__ import annotations

import re

__all__ = ["count_words", "split_sentences", "strip_markup"]

_WORD = re.compile(r"\w+")
# A sentence ends at . ! ? (or …) followed by space and something that can start a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'“”«(\[]?[A-ZÆØÅÄÖÜÉ0-9])")
_BULLET = re.compile(r"^\s*(?:[-*+•]|#{1,6})\s+")


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def strip_markup(line: str) -> str:
    """A Markdown line without its bullet or heading marker and emphasis."""
    line = _BULLET.sub("", line)
    return line.replace("**", "").replace("__", "").strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`; every non-empty line (a bullet, a heading) is at least one sentence."""
    sentences: list[str] = []
    for raw in text.splitlines():
        line = strip_markup(raw)
        if not line:
            continue
        sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences
