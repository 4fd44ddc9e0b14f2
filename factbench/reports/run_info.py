"""Reading finished run directories for reports: one reader, tolerant of older summaries.

`read_run` turns run.json + summary.json into a `RunInfo`; every per-task number a report
needs comes through `task_result`, the one place that knows which summary fields exist in
which factbench version (and falls back where an older summary lacks one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from factbench.hashing import sha256_hex
from factbench.store.artefacts import Aggregate, RunSpec, RunSummary, TaskEntry

M = TypeVar("M", bound=BaseModel)

DEMO_MARK = "demo-quality"
_STEP_IN_LABEL = re.compile(r"\b(?:step|ckpt|checkpoint|iter)[\s=:_#-]*(\d+)\b", re.IGNORECASE)


class UnreadableRun(Exception):
    """A run directory whose run.json or summary.json is missing or not valid."""


@dataclass
class TaskResult:
    """One task (or `overall`) of one run, as the leaderboard and trackers need it."""

    n_answers: int
    n_scored: int
    n_claims: int
    judge_errors: int
    evidence: str
    version: str
    metrics: dict[str, dict[str, Any]]  # name -> {"mean", "ci95", "n"}

    @property
    def judge_error_rate(self) -> float:
        return self.judge_errors / self.n_claims if self.n_claims else 0.0


@dataclass
class RunInfo:
    run_dir: Path
    run_id: str
    model: str
    label: str
    kind: str  # "run" or "human-label-replay"
    judge: str  # the verifier's model
    judge_hosting: str  # "human", "provider API", "local server", "self-hosted server"
    judge_identity: dict[str, Any]  # what changes verdicts; endpoints left out
    date: str
    factbench_version: str
    step: int | None
    tasks: dict[str, TaskResult] = field(default_factory=dict)  # includes "overall"
    reward: tuple[str, float, float] = ("plain", 0.1, 1.0)  # (design, lambda, mu) the run's reward was composed with

    @property
    def demo(self) -> bool:
        return DEMO_MARK in self.label.lower()

    @property
    def judge_sha(self) -> str:
        return sha256_hex(self.judge_identity, 12)


def _strip_endpoints(judge: Any) -> Any:
    if not isinstance(judge, dict):
        return judge
    return {k: v for k, v in judge.items() if k not in ("endpoints", "base_urls", "replicas", "api_key_env")}


def judge_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """The claim judges (extractor, verifier), their templates and scoring settings: what
    changes a run's precision. Endpoints are provenance and left out; the relevance judge
    only changes relevance and reward, so it is not part of it either."""
    ident = spec.get("identity") or {}
    judges = {k: _strip_endpoints(v) for k, v in (ident.get("judges") or {}).items() if k != "relevance"}
    templates = {k: v for k, v in (ident.get("templates") or {}).items() if k != "relevance"}
    return {"judges": judges, "templates": templates, "scoring": ident.get("scoring")}


def endpoint_kind(endpoints: list[str]) -> str:
    if not endpoints:
        return "provider API"
    if all("127.0.0.1" in e or "localhost" in e or "[::1]" in e for e in endpoints):
        return "local server"
    return "self-hosted server"


def task_result(agg: Aggregate, entry: TaskEntry | None) -> TaskResult:
    """The one reader of per-task summary fields, with fallbacks for summaries that lack them."""
    metrics = {k: {"mean": v.mean, "ci95": v.ci95, "n": v.n} for k, v in agg.metrics.items()}
    n_scored = agg.n_scored
    if not n_scored and "n_scored" not in agg.model_fields_set:  # older summaries: the precision mean's n
        n_scored = agg.metrics["precision"].n if "precision" in agg.metrics else 0
    return TaskResult(n_answers=agg.n_answers, n_scored=n_scored, n_claims=agg.n_claims, judge_errors=agg.judge_errors,
                      evidence=str(agg.evidence or (entry.evidence if entry else None) or "?"),
                      version=str(agg.version or (entry.version if entry else None) or "?"), metrics=metrics)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UnreadableRun(f"{path}: missing") from None
    except OSError as exc:
        raise UnreadableRun(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableRun(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UnreadableRun(f"{path}: expected a JSON object")
    return data


def load_documents(run_dir: Path) -> tuple[RunSpec, RunSummary]:
    """run.json and summary.json as their typed models; UnreadableRun names the file that fails."""
    return _validated(run_dir / "run.json", RunSpec), _validated(run_dir / "summary.json", RunSummary)


def _validated(path: Path, model: type[M]) -> M:
    try:
        return model.model_validate(_load_json(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise UnreadableRun(f"{path}: not a valid {path.name} ({where}: {first.get('msg')})") from None


def _step(spec: RunSpec, label: str) -> int | None:
    for value in (getattr(spec, "step", None), spec.settings.get("step")):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    m = _STEP_IN_LABEL.search(label)
    return int(m.group(1)) if m else None


def read_run(run_dir: str | Path) -> RunInfo:
    """A finished run's RunInfo; raises UnreadableRun naming the file when it cannot be read."""
    run_dir = Path(run_dir)
    spec, summary = load_documents(run_dir)
    try:
        verifier = spec.roles.get("verifier") or {}
        tasks = {name: task_result(agg, spec.tasks.get(name)) for name, agg in summary.tasks.items()}
        overall = task_result(summary.overall, None)
        overall.evidence = ", ".join(sorted({t.evidence for t in tasks.values()}))
        overall.version = ""
        tasks["overall"] = overall
        human = spec.kind == "human-label-replay"
        return RunInfo(
            run_dir=run_dir, run_id=spec.run_id, model=spec.model_name(), label=spec.label, kind=spec.kind,
            judge=str(verifier.get("model", "?")),
            judge_hosting="human" if human else endpoint_kind(verifier.get("endpoints") or []),
            judge_identity=judge_identity({"identity": spec.identity}),
            date=str(spec.finished_at or spec.started_at or "")[:10], factbench_version=spec.factbench_version,
            step=_step(spec, spec.label), tasks=tasks,
            reward=_reward(summary, spec))
    except (AttributeError, TypeError, ValueError) as exc:
        raise UnreadableRun(f"{run_dir}: run.json or summary.json has an unexpected shape ({exc})") from None


def _reward(summary: RunSummary, spec: RunSpec) -> tuple[str, float, float]:
    """How the run's reward was composed: from summary.json, else (older runs) the settings' λ and μ."""
    if summary.reward:
        return (str(summary.reward.get("design", "plain")), float(summary.reward.get("lambda", 0.1)),
                float(summary.reward.get("mu", 1.0)))
    return ("plain", float(spec.settings.get("reward_lambda", 0.1)), float(spec.settings.get("reward_mu", 1.0)))


def find_run_dirs(roots: list[Path]) -> list[Path]:
    """Run directories (holding a run.json) given directly or found below the given folders.
    A run directory's own subfolders are not searched; symlinked folders are not followed."""
    found: list[Path] = []
    for root in roots:
        if (root / "run.json").is_file():
            found.append(root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            if "run.json" in filenames:
                found.append(Path(dirpath))
                dirnames.clear()
            else:
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    seen, unique = set(), []
    for d in found:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_stem(run_id: str, taken: set[str]) -> str:
    """A file name stem derived from a run id that stays one plain name inside its folder:
    only [A-Za-z0-9._-], no leading dot, at most 80 characters; altered or colliding ids get
    a short hash of the original so two runs never share a page. Adds the stem to `taken`."""
    stem = _UNSAFE.sub("-", run_id).strip(".-")[:80] or "run"
    if stem != run_id or stem.lower() in taken:
        stem = f"{stem[:70]}-{hashlib.sha256(run_id.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    n = 2
    base = stem
    while stem.lower() in taken:
        stem = f"{base}-{n}"
        n += 1
    taken.add(stem.lower())
    return stem
