"""Readers for help-centre content: Markdown with front matter, HTML and plain text.

Every file under the content folder becomes an `Article` or a `SkippedFile` that says what is
wrong with it, so one bad file never stops the others from being indexed:

- Markdown (`.md`): front matter with `id`, `title`, `language` (and `tags`, `updated`, and
  `questions`: search phrases, the ways customers ask for what the article answers).
- HTML (`.html`, `.htm`): title from `<title>` or the first `<h1>`; id from the file name;
  language from the folder (`da/`, `sv/`, ...) or `<html lang>`.
- Plain text (`.txt`): id from the file name, title from the first line, language from the folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from retrieval.lexical import LANGUAGES

__all__ = [
    "MAX_FILE_BYTES",
    "Article",
    "ReadResult",
    "SkippedFile",
    "read_content",
    "read_file",
]

MAX_FILE_BYTES = 1_000_000
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_FRONT_MATTER = re.compile(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)(.*)$", re.S)
_LANG_ALIASES = {
    "no": "nb",
    "nn": "nb",
    "nob": "nb",
    "dan": "da",
    "swe": "sv",
    "fin": "fi",
    "eng": "en",
}
_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


@dataclass(frozen=True)
class Article:
    """One help-centre article in one language; body is Markdown-like text (`## ` headings)."""

    id: str
    language: str
    title: str
    body: str
    source_path: str
    tags: tuple[str, ...] = ()
    updated: date | None = None
    questions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.language}/{self.id}"

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that ends up in the index changes."""
        canonical = json.dumps(
            [self.id, self.language, self.title, self.body, list(self.tags),
             self.updated.isoformat() if self.updated else None, self.source_path,
             list(self.questions)],
            ensure_ascii=False,
        )  # fmt: skip
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class ReadResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


class _Invalid(Exception):
    """A file that cannot become an article; the message is the reason shown to content owners."""


def normalise_language(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    code = _LANG_ALIASES.get(code, code)
    return code if code in LANGUAGES else None


def _folder_language(relative: Path) -> str | None:
    for part in relative.parts[:-1]:
        language = normalise_language(part) if len(part) <= 3 else None
        if language:
            return language
    return None


_FOLD = str.maketrans({"æ": "ae", "ø": "o", "ß": "ss", "œ": "oe", "đ": "d", "ð": "d", "þ": "th"})


def _id_from_name(path: Path) -> str:
    """A citation-safe id from a file name: `Öppettider Kundtjänst` -> `oppettider-kundtjanst`."""
    folded = unicodedata.normalize("NFKD", path.stem.lower().translate(_FOLD))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9_-]+", "-", ascii_only).strip("-")


def _decode(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _Invalid(f"file is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")
    raw = path.read_bytes()
    if not raw.strip():
        raise _Invalid("file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Invalid(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from exc
    return text.replace("\r\n", "\n")


def _read_markdown(text: str, relative: Path) -> Article:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise _Invalid("no front matter: start the file with --- and id, title, language")
    try:
        meta: Any = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise _Invalid(f"front matter is not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise _Invalid("front matter is not a set of key: value lines")
    missing = [k for k in ("id", "title", "language") if not meta.get(k)]
    if missing:
        raise _Invalid(f"front matter lacks {', '.join(missing)}")
    language = normalise_language(meta["language"])
    if language is None:
        raise _Invalid(f"unknown language {meta['language']!r}; use one of {', '.join(LANGUAGES)}")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, list):
        raise _Invalid("tags must be a list, e.g. [customs, vat]")
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(
        isinstance(q, str) and q.strip() for q in questions
    ):
        raise _Invalid('questions must be a list of search phrases, e.g. ["where is my parcel"]')
    updated = meta.get("updated")
    if updated is not None and not isinstance(updated, date):
        try:
            updated = date.fromisoformat(str(updated))
        except ValueError as exc:
            raise _Invalid(f"updated {updated!r} is not a date (YYYY-MM-DD)") from exc
    return Article(
        id=str(meta["id"]).strip(),
        language=language,
        title=str(meta["title"]).strip(),
        body=match.group(2).strip(),
        source_path=relative.as_posix(),
        tags=tuple(str(t) for t in tags),
        updated=updated,
        questions=tuple(q.strip() for q in questions),
    )


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "section", "article", "ul", "ol", "table"})
    _SKIP = frozenset({"script", "style", "nav", "footer", "head", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.h1 = ""
        self.parts: list[str] = []
        self._stack: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in self._SKIP and tag != "head":
            self._skip += 1
        self._stack.append(tag)
        if tag in ("h2", "h3", "h4"):
            self.parts.append("\n## ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and tag != "head" and self._skip:
            self._skip -= 1
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass
        if tag in ("h1", "h2", "h3", "h4", "p", "li", "div"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        current = self._stack[-1] if self._stack else ""
        if current == "title":
            self.title += data
        elif self._skip or "head" in self._stack:
            return
        elif current == "h1":
            self.h1 += data
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def _read_html(text: str, relative: Path) -> Article:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    title = " ".join((parser.title or parser.h1).split())
    if not title:
        raise _Invalid("no <title> or <h1> to take the title from")
    language = _folder_language(relative) or normalise_language(parser.lang)
    if language is None:
        raise _Invalid(
            "unknown language: put the file in a da/sv/nb/fi/en folder or set <html lang>"
        )
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    body = "\n".join(line for line in lines if line and line not in ("-", "##"))
    return Article(
        id=_id_from_name(relative), language=language, title=title, body=body,
        source_path=relative.as_posix(),
    )  # fmt: skip


def _read_text(text: str, relative: Path) -> Article:
    language = _folder_language(relative)
    if language is None:
        raise _Invalid("unknown language: put the file in a da/sv/nb/fi/en folder")
    first, _, rest = text.strip().partition("\n")
    title = first.strip().lstrip("#").strip()
    body = rest.strip()
    if not body:
        # One paragraph only: it is both the title (shortened) and the body.
        body = title
        title = re.split(r"(?<=[.!?])\s", title, maxsplit=1)[0][:120]
    return Article(
        id=_id_from_name(relative), language=language, title=title, body=body,
        source_path=relative.as_posix(),
    )  # fmt: skip


def read_file(path: Path, root: Path) -> Article:
    """Read one file; raises `ValueError` with the reason when it cannot be indexed."""
    relative = path.relative_to(root)
    kind = _SUFFIXES.get(path.suffix.lower())
    try:
        if kind is None:
            raise _Invalid(
                f"unsupported file type {path.suffix or '(none)'}; use .md, .html or .txt"
            )
        text = _decode(path)
        reader = {"markdown": _read_markdown, "html": _read_html, "text": _read_text}[kind]
        article = reader(text, relative)
        if not _ID_RE.match(article.id):
            raise _Invalid(f"id {article.id!r} must be lower-case letters, digits and dashes")
        if not article.body.strip():
            raise _Invalid("no text besides the title")
    except _Invalid as exc:
        raise ValueError(str(exc)) from None
    return article


def _content_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith((".", "_")) for part in rel.parts):
            yield path


def read_content(root: Path) -> ReadResult:
    """Every article under `root`, in path order; bad files and duplicates are listed, not read.

    When two files claim the same id and language, the one named after the id wins (else the
    first in path order) and the other is reported as a duplicate.
    """
    result = ReadResult()
    if not root.is_dir():
        result.skipped.append(SkippedFile(str(root), "content folder does not exist"))
        return result
    found: list[Article] = []
    for path in _content_files(root):
        relative = path.relative_to(root).as_posix()
        if path.name.lower() in ("readme.md", "readme.txt"):
            continue
        try:
            found.append(read_file(path, root))
        except (ValueError, OSError) as exc:
            result.skipped.append(SkippedFile(relative, str(exc)))
    winners: dict[str, Article] = {}
    for article in found:
        current = winners.get(article.key)
        if current is None or (
            Path(article.source_path).stem == article.id
            and Path(current.source_path).stem != current.id
        ):
            winners[article.key] = article
    for article in found:
        winner = winners[article.key]
        if winner is article:
            result.articles.append(article)
        else:
            result.skipped.append(
                SkippedFile(
                    article.source_path,
                    f"duplicate id {article.id!r} in language {article.language} "
                    f"(already in {winner.source_path})",
                )
            )
    result.skipped.sort(key=lambda s: s.path)
    return result
