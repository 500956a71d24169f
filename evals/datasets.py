"""Loading the eval datasets: every row validated, every bad row named by file and line.

A run never scores a partly valid dataset: `load_jsonl` collects every problem in a file and
raises one `DatasetError` listing them (`knowledge.jsonl:12: reference: Field required`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from evals.schema import KnowledgeCase, Manifest, Scenario

__all__ = ["DATASETS", "DatasetError", "Datasets", "load_datasets", "load_jsonl"]

DATASETS = Path(__file__).resolve().parent / "datasets"
_MAX_PROBLEMS = 20

Row = TypeVar("Row", bound=BaseModel)


class DatasetError(ValueError):
    """A dataset file that does not fit its schema; the message names each bad line."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "row"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def load_jsonl(path: Path, model: type[Row]) -> list[Row]:
    """Every row of `path` as `model`; raises `DatasetError` naming each bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the dataset ({exc})") from None
    rows: list[Row] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}:{number}: broken JSON ({exc.msg}, column {exc.colno})")
            continue
        try:
            row = model.model_validate(raw)
        except ValidationError as exc:
            problems.append(f"{path.name}:{number}: {_describe(exc)}")
            continue
        row_id = str(getattr(row, "id", number))
        if row_id in seen:
            problems.append(
                f"{path.name}:{number}: id {row_id!r} already used on line {seen[row_id]}"
            )
            continue
        seen[row_id] = number
        rows.append(row)
    if problems:
        shown = problems[:_MAX_PROBLEMS]
        more = len(problems) - len(shown)
        raise DatasetError(
            f"dataset {path} has {len(problems)} bad row(s):\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
    if not rows:
        raise DatasetError(f"dataset {path} has no rows")
    return rows


@dataclass(frozen=True)
class Datasets:
    manifest: Manifest
    knowledge: list[KnowledgeCase]
    scenarios: list[Scenario]

    @property
    def versions(self) -> dict[str, str]:
        return {name: entry.version for name, entry in self.manifest.datasets.items()}

    def select(
        self, *, languages: Iterable[str] | None = None, limit: int | None = None
    ) -> Datasets:
        """A subset: only these languages, and at most `limit` rows of each set per language."""
        wanted = set(languages) if languages else None

        def pick(rows: list[Row]) -> list[Row]:
            counts: dict[str, int] = {}
            chosen = []
            for row in rows:
                language = str(getattr(row, "language", ""))
                if wanted is not None and language not in wanted:
                    continue
                if limit is not None and counts.get(language, 0) >= limit:
                    continue
                counts[language] = counts.get(language, 0) + 1
                chosen.append(row)
            return chosen

        return Datasets(self.manifest, pick(self.knowledge), pick(self.scenarios))


def load_datasets(folder: Path = DATASETS) -> Datasets:
    """The manifest and the datasets it names, all validated."""
    manifest_path = folder / "manifest.json"
    try:
        manifest = Manifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{manifest_path}: cannot read the manifest ({exc})") from None
    except ValidationError as exc:
        raise DatasetError(f"{manifest_path}: {_describe(exc)}") from None
    knowledge: list[KnowledgeCase] = []
    scenarios: list[Scenario] = []
    for entry in manifest.datasets.values():
        path = folder / entry.file
        if entry.model == "KnowledgeCase":
            knowledge += load_jsonl(path, KnowledgeCase)
        else:
            scenarios += load_jsonl(path, Scenario)
    return Datasets(manifest, knowledge, scenarios)
