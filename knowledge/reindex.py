"""Zero-downtime, versioned reindex of the help centre, and rollback.

A reindex always builds a *new* version (an Edge shard folder or a server collection), never
touching the live one, checks it, and only then switches readers to it atomically (the Edge
`CURRENT` pointer or the server alias). The previous version is kept for `rollback()`; older
ones are deleted. Incremental runs (the default when a live version exists) embed only new and
changed articles and reuse cached embeddings for the rest, so they are cheap too.

A lock file makes a second concurrent reindex fail at once with `ReindexInProgress`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from assistant.errors import Conflict
from assistant.ports import Embedder
from assistant.settings import Settings
from knowledge.embedding_cache import EmbeddingCache
from knowledge.ingest import Progress, build_points
from knowledge.readers import Article, SkippedFile, read_content
from retrieval.lexical import encode_query
from retrieval.retriever import make_store
from retrieval.store import KnowledgeStore

__all__ = [
    "NothingToRollBack",
    "ReindexInProgress",
    "ReindexReport",
    "Reindexer",
    "make_reindexer",
]

log = logging.getLogger(__name__)


@dataclass
class ReindexInProgress(Conflict):
    code: str = "reindex_in_progress"


@dataclass
class NothingToRollBack(Conflict):
    code: str = "nothing_to_roll_back"


@dataclass
class ReindexReport:
    """What a reindex did; `switched` says whether readers now see `version`."""

    version: str | None
    mode: Literal["full", "incremental", "check-only"]
    previous_version: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    articles: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    reused_chunks: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    duration_s: float = 0.0
    checks_passed: bool = False
    check_failures: list[str] = field(default_factory=list)
    switched: bool = False
    message: str = ""

    @property
    def failed(self) -> bool:
        """Nothing was switched because of errors (not because nothing changed)."""
        if self.mode == "check-only":
            return bool(self.skipped) or self.articles == 0
        return not self.switched and not self.checks_passed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        return data


def _diff(
    current: Mapping[str, str], previous: Mapping[str, str]
) -> tuple[list[str], list[str], list[str]]:
    added = sorted(k for k in current if k not in previous)
    changed = sorted(k for k in current if k in previous and previous[k] != current[k])
    deleted = sorted(k for k in previous if k not in current)
    return added, changed, deleted


class Reindexer:
    """Builds, checks and switches knowledge versions in a `KnowledgeStore`.

    Args:
        store: where versions live.
        embedder: passage and query embeddings.
        content_dir: the help-centre folder (`<lang>/<article-id>.md` and friends).
        state_dir: where the lock, the manifests and the embedding cache live
            (`<data_dir>/knowledge`).
        smoke_questions: per language, a (question, expected article id) pair for the check;
            by default the title of the language's first article must find that article.
    """

    def __init__(
        self,
        store: KnowledgeStore,
        embedder: Embedder,
        content_dir: Path,
        state_dir: Path,
        *,
        smoke_questions: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.content_dir = Path(content_dir)
        self.state_dir = Path(state_dir)
        self.smoke_questions = dict(smoke_questions or {})
        self.cache = EmbeddingCache(self.state_dir / "embeddings")

    # -- state files ------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / "reindex.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ReindexInProgress(
                    "another reindex or rollback is running; try again when it has finished"
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)

    def _manifest_path(self, version: str) -> Path:
        return self.state_dir / "manifests" / f"{version}.json"

    def read_manifest(self, version: str | None) -> dict[str, str] | None:
        """Article key -> content hash of a version, or None when unknown."""
        if version is None:
            return None
        try:
            data = json.loads(self._manifest_path(version).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        articles = data.get("articles")
        return dict(articles) if isinstance(articles, dict) else None

    def _write_manifest(
        self, version: str, articles: Mapping[str, str], counts: dict[str, int]
    ) -> None:
        path = self._manifest_path(version)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        payload = {"version": version, "articles": dict(articles), "counts": counts}
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    # -- reindex ----------------------------------------------------------------------------

    def run(
        self, *, full: bool = False, check_only: bool = False, progress: Progress | None = None
    ) -> ReindexReport:
        """Reindex the content folder; see the module docstring. Never raises for bad content."""
        started = time.perf_counter()
        say: Progress = progress or (lambda phase, done, total: None)
        with self._locked():
            report = self._run(full=full, check_only=check_only, say=say)
        report.duration_s = round(time.perf_counter() - started, 3)
        log.info("reindex: %s", report.message)
        return report

    def _run(self, *, full: bool, check_only: bool, say: Progress) -> ReindexReport:
        say("read", 0, 1)
        read = read_content(self.content_dir)
        say("read", 1, 1)
        live = self.store.live_version()
        previous = self.read_manifest(live)
        hashes = {a.key: a.content_hash for a in read.articles}
        mode: Literal["full", "incremental", "check-only"] = (
            "check-only" if check_only else "full" if full or previous is None else "incremental"
        )
        added, changed, deleted = _diff(hashes, previous or {})
        report = ReindexReport(
            version=live, mode=mode, previous_version=live, articles=len(read.articles),
            added=added, changed=changed, deleted=deleted, skipped=list(read.skipped),
        )  # fmt: skip
        for skipped in read.skipped:
            log.info("reindex skipped %s", skipped)
        if not read.articles:
            report.message = "no valid articles found: nothing indexed" + (
                f"; {live} keeps serving" if live else ""
            )
            return report
        if check_only:
            report.checks_passed = not read.skipped
            report.message = (
                f"{len(read.articles)} valid article(s), {len(read.skipped)} file(s) with problems; "
                f"a reindex would add {len(added)}, change {len(changed)}, delete {len(deleted)}"
            )
            return report
        if mode == "incremental" and not (added or changed or deleted):
            report.checks_passed = True
            report.message = f"nothing changed; {live} keeps serving"
            return report
        return self._build(read.articles, hashes, report, say)

    def _build(
        self,
        articles: list[Article],
        hashes: dict[str, str],
        report: ReindexReport,
        say: Progress,
    ) -> ReindexReport:
        live = report.previous_version
        # Leftovers of an interrupted build (never live, no manifest) are of no use.
        for leftover in self.store.versions():
            if leftover != live and not self._manifest_path(leftover).exists():
                self.store.drop_version(leftover)
        version = self.store.create_version(self.embedder.dimension)
        report.version = version
        try:
            ingest = build_points(articles, self.embedder, self.cache, progress=say)
            report.embedded_chunks = ingest.embedded_chunks
            report.reused_chunks = ingest.reused_chunks
            # Embeddings are valid whatever the checks say: keep them for the next run.
            self.cache.save(keep=ingest.cache_keys)
            total = len(ingest.points)
            for start in range(0, total, 256):
                self.store.upsert(version, ingest.points[start : start + 256])
                say("write", min(start + 256, total), total)
            self.store.finish_version(version)
            say("check", 0, 1)
            report.counts = self.store.count_by_language(version)
            report.check_failures = self._check(version, articles, ingest.points, report.counts)
            say("check", 1, 1)
        except Exception as exc:
            log.exception("reindex failed while building %s", version)
            report.check_failures.append(f"build failed: {type(exc).__name__}: {exc}")
        report.checks_passed = not report.check_failures
        if not report.checks_passed:
            self.store.drop_version(version)
            report.version = live
            report.message = (
                f"checks failed, {version} discarded"
                + (f"; {live} keeps serving" if live else "; nothing is serving yet")
                + ": " + "; ".join(report.check_failures)
            )  # fmt: skip
            return report
        say("switch", 0, 1)
        self.store.activate(version)
        self._write_manifest(version, hashes, report.counts)
        report.switched = True
        self._prune(keep={version, *([live] if live else [])})
        say("switch", 1, 1)
        report.message = f"{version} is live" + (f" (previous: {live})" if live else "")
        return report

    def _check(
        self,
        version: str,
        articles: list[Article],
        points: list[Any],
        counts: dict[str, int],
    ) -> list[str]:
        failures: list[str] = []
        expected: dict[str, int] = {}
        for point in points:
            language = str(point.payload["language"])
            expected[language] = expected.get(language, 0) + 1
        first: dict[str, Article] = {}
        for article in sorted(articles, key=lambda a: a.key):
            first.setdefault(article.language, article)
        for language in sorted(expected):
            if counts.get(language, 0) != expected[language]:
                failures.append(
                    f"{language}: {counts.get(language, 0)} chunks stored, {expected[language]} written"
                )
                continue
            question, article_id = self.smoke_questions.get(
                language, (first[language].title, first[language].id)
            )
            hits = self.store.query(
                self.embedder.embed_query(question), encode_query(question, language), language,
                limit=3, version=version,
            )  # fmt: skip
            found = [str(h.payload.get("article_id")) for h in hits]
            wrong_language = [h for h in hits if h.payload.get("language") != language]
            if article_id not in found or wrong_language:
                failures.append(
                    f"{language}: smoke query {question!r} did not find {article_id} "
                    f"(got {', '.join(found) or 'nothing'})"
                )
        return failures

    def _prune(self, keep: set[str]) -> None:
        for version in self.store.versions():
            if version in keep:
                continue
            try:
                self.store.drop_version(version)
                self._manifest_path(version).unlink(missing_ok=True)
                log.info("dropped old knowledge version %s", version)
            except Exception:
                log.exception("could not drop old knowledge version %s", version)

    # -- rollback ---------------------------------------------------------------------------

    def rollback(self) -> tuple[str, str | None]:
        """Switch back to the previous version; returns (now live, was live)."""
        with self._locked():
            live = self.store.live_version()
            # Only versions that were once live have a manifest: never a half-built leftover.
            candidates = [
                v for v in self.store.versions() if v != live and self._manifest_path(v).exists()
            ]
            if not candidates:
                raise NothingToRollBack("there is no previous knowledge version to roll back to")
            target = candidates[-1]
            self.store.activate(target)
            log.info("rolled back knowledge from %s to %s", live, target)
            return target, live

    def status(self) -> dict[str, Any]:
        live = self.store.live_version()
        return {
            "live": live,
            "versions": self.store.versions(),
            "articles": len(self.read_manifest(live) or {}),
        }


def make_reindexer(
    settings: Settings, embedder: Embedder, store: KnowledgeStore | None = None
) -> Reindexer:
    """A reindexer for the configured store, content folder and data dir."""
    return Reindexer(
        store if store is not None else make_store(settings),
        embedder,
        settings.resolved_knowledge_dir,
        settings.data_dir / "knowledge",
    )
