"""The FAQ corpus: one YAML file per section of the store's FAQ, validated by a schema.

Each file is a list of entries. A bad entry fails loading with a message that names the
file, the entry and the field, so whoever edits the corpus knows what to fix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

# The C loader is several times faster; fall back to the pure-Python one where missing.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$")]


M = TypeVar("M", bound=BaseModel)


class CorpusError(ValueError):
    """The corpus cannot be used as it is; the message says where and what to fix."""


class FollowUp(BaseModel):
    """A button shown under the answer that starts a flow the bot can do."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: NonEmpty
    payload: Annotated[str, StringConstraints(pattern=r"^/[a-z_]+")]


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: EntryId
    section: NonEmpty
    question: NonEmpty
    paraphrases: list[NonEmpty]
    answer: NonEmpty
    follow_up: FollowUp | None = None

    @property
    def texts(self) -> list[str]:
        """What shoppers may type for this entry: the question and every paraphrase."""
        return [self.question, *self.paraphrases]


class OutOfScopeTopic(BaseModel):
    """Questions shoppers ask that the FAQ does not answer (retrieval abstains on them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    topic: NonEmpty
    examples: list[NonEmpty]
    off_topic: bool = False  # not about the store at all (small talk, homework, ...)


OUT_OF_SCOPE_FILE = "out_of_scope.yml"


@dataclass(frozen=True)
class Corpus:
    entries: tuple[FaqEntry, ...]
    out_of_scope: tuple[OutOfScopeTopic, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entry_id: str) -> FaqEntry:
        by_id: dict[str, FaqEntry] = self._by_id  # type: ignore[attr-defined]
        return by_id[entry_id]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]

    @property
    def fingerprint(self) -> str:
        """A hash of the whole corpus: caches built from it are valid while it stays."""
        payload = json.dumps(
            [[e.model_dump() for e in self.entries], [t.model_dump() for t in self.out_of_scope]],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _describe(err: dict[str, Any], model: type[BaseModel]) -> str:
    loc = [str(p) for p in err["loc"]]
    field = ".".join(loc) if loc else "(entry)"
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        msg = f"unknown key (allowed: {', '.join(model.model_fields)})"
    elif err["type"] == "missing":
        msg = "missing"
    return f"field '{field}': {msg}"


def _load_list(path: Path, model: type[M], name_key: str) -> list[M]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise CorpusError(f"{path}: expected a list of entries at the top level")
    items = []
    for index, item in enumerate(raw, start=1):
        name = item.get(name_key) if isinstance(item, dict) else None
        where = f"{path}: entry {index}" + (f" ('{name}')" if name else "")
        if not isinstance(item, dict):
            raise CorpusError(f"{where}: expected a mapping of keys to values")
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(_describe(dict(e), model) for e in exc.errors())
            raise CorpusError(f"{where}: {problems}") from None
    return items


def load_file(path: Path) -> list[FaqEntry]:
    return _load_list(path, FaqEntry, "id")


def load_corpus(folder: Path) -> Corpus:
    """Load and validate every `*.yml` file of the corpus folder, in name order.

    `out_of_scope.yml`, if present, holds questions the FAQ does not answer.
    """
    files = [p for p in sorted(folder.glob("*.yml")) if p.name != OUT_OF_SCOPE_FILE]
    if not files:
        raise CorpusError(f"{folder}: no FAQ files (*.yml) found; is FAQ_CORPUS_DIR right?")
    seen: dict[str, Path] = {}
    entries: list[FaqEntry] = []
    for path in files:
        for entry in load_file(path):
            if entry.id in seen:
                raise CorpusError(
                    f"{path}: entry '{entry.id}': field 'id': duplicate id "
                    f"(already used in {seen[entry.id]})"
                )
            seen[entry.id] = path
            entries.append(entry)
    oos_path = folder / OUT_OF_SCOPE_FILE
    oos = _load_list(oos_path, OutOfScopeTopic, "topic") if oos_path.is_file() else []
    return Corpus(tuple(entries), tuple(oos))
