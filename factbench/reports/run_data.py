"""A run directory read once for the per-answer reports (export, viewer, diff): the last
record of every sample in each stage, its unresolved failures and its per-answer scores."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from factbench.reports.run_info import UnreadableRun, load_documents
from factbench.stages.registry import stage_files
from factbench.store.artefacts import RunSpec, RunSummary
from factbench.store.records import (
    AnswerRecord,
    ClaimsRecord,
    ErrorRecord,
    EvidenceRecord,
    InformativenessRecord,
    Record,
    RelevanceRecord,
    VerdictsRecord,
)
from factbench.store.run_dir import RunStore


@dataclass
class RunData:
    dir: Path
    spec: RunSpec
    summary: RunSummary
    answers: dict[str, AnswerRecord] = field(default_factory=dict)
    claims: dict[str, ClaimsRecord] = field(default_factory=dict)
    evidence: dict[str, EvidenceRecord] = field(default_factory=dict)
    verdicts: dict[str, VerdictsRecord] = field(default_factory=dict)
    relevance: dict[str, RelevanceRecord] = field(default_factory=dict)
    informativeness: dict[str, InformativenessRecord] = field(default_factory=dict)  # informativeness class per claim
    failures: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> stage -> error kind (unresolved)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> scores.jsonl row

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    @property
    def has_claims(self) -> bool:
        return bool(self.claims)

    def keys(self) -> list[str]:
        """Every sample key that has an answer, a score or a failure, in a stable order."""
        seen = dict.fromkeys(list(self.answers) + list(self.claims) + list(self.scores) + list(self.failures))
        return list(seen)


def _latest(store: RunStore, stage: str) -> dict:
    try:
        return store.load_latest(stage)
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableRun(f"{store.path(stage)}: a line is not a valid {stage} record ({str(exc)[:200]})") from None
    except OSError as exc:
        raise UnreadableRun(f"{store.path(stage)}: cannot read: {exc.strerror or exc}") from None


def _scores(path: Path) -> dict[str, dict[str, Any]]:
    from factbench.store.records import sample_key

    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    try:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict) or "task" not in row or "id" not in row:
                    raise UnreadableRun(f"{path}:{lineno}: expected an object with task and id")
                out[sample_key(str(row["task"]), str(row["id"]))] = row
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableRun(f"{path}: not valid JSON lines ({exc})") from None
    return out


def load_run_data(run_dir: str | Path) -> RunData:
    """Read a run directory; raises UnreadableRun naming the file that cannot be read."""
    run_dir = Path(run_dir)
    store = RunStore(run_dir, stage_files())
    data = RunData(run_dir, *load_documents(run_dir))
    data.answers = _latest(store, "answers")
    data.claims = _latest(store, "claims")
    data.evidence = _latest(store, "evidence")
    data.verdicts = _latest(store, "verdicts")
    data.relevance = _latest(store, "relevance")
    data.informativeness = _latest(store, "informativeness")
    done: dict[str, Mapping[str, Record]] = {"answers": data.answers, "claims": data.claims, "evidence": data.evidence,
                                             "verdicts": data.verdicts, "relevance": data.relevance,
                                             "informativeness": data.informativeness}
    for (stage, sample), kind in _latest_errors(store).items():
        if sample not in done.get(stage, {}):
            data.failures.setdefault(sample, {})[stage] = kind
    data.scores = _scores(run_dir / "scores.jsonl")
    return data


def _latest_errors(store: RunStore) -> dict[tuple[str, str], str]:
    """(stage, sample key) -> the kind of that pair's last recorded failure."""
    out: dict[tuple[str, str], str] = {}
    try:
        for rec in store.iter_records("errors"):
            if isinstance(rec, ErrorRecord):
                out[(rec.stage, rec.key)] = rec.kind
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableRun(f"{store.path('errors')}: a line is not a valid error record ({str(exc)[:200]})") from None
    return out
