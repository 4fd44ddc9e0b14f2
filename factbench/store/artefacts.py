"""The two documents of a run directory, typed: run.json (:class:`RunSpec`, what was asked
and how) and summary.json (:class:`RunSummary`, what came out).

These models are the only writer and reader of both files (through :class:`RunStore`); the
CLI, the reports, the Python API and the human-label replay all use them. Fields a newer
version adds are kept when an older one rewrites a file (``extra="allow"``). The field
reference is docs/summary-schema.md; a test checks it names every field defined here.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SPEC_SCHEMA_VERSION = 1
SUMMARY_SCHEMA_VERSION = 1


class _Document(BaseModel):
    model_config = ConfigDict(extra="allow")


class MetricValue(_Document):
    """A metric over answers: mean, 95% CI and how many answers it is over."""

    mean: float | None = None
    ci95: list[float] | None = None  # [low, high], seeded percentile bootstrap over answers
    n: int = 0  # answers the mean is over


class Aggregate(_Document):
    """Counts and metrics over a set of answers (one task, or the whole run)."""

    n_answers: int = 0
    n_abstained: int = 0
    n_scored: int = 0
    n_claims: int = 0
    labels: dict[str, int] = Field(default_factory=dict)
    judge_errors: int = 0
    extraction_errors: int = 0
    weighting_errors: int = 0  # claims without an informativeness class
    abstention_rate: MetricValue | None = None
    mean_claims_per_answer: float | None = None
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    n_prompts: int | None = None
    k: int | None = None  # per task: F1@K's K
    version: str | None = None  # per task: task version
    evidence: str | None = None  # per task: the evidence backend used


class ErrorSummary(_Document):
    """What failed and did not parse, by stage and kind (still failing at the end of the run)."""

    failed_samples: int = 0
    failed_sample_rate: float = 0.0
    stage_failures: dict[str, dict[str, int]] = Field(default_factory=dict)
    extraction_parse_errors: dict[str, int] = Field(default_factory=dict)
    verification_parse_errors: dict[str, int] = Field(default_factory=dict)
    relevance_parse_errors: dict[str, int] = Field(default_factory=dict)
    weighting_parse_errors: dict[str, int] = Field(default_factory=dict)


class RunSummary(_Document):
    """summary.json: metrics per task and overall, errors, calls and provenance."""

    schema_version: int = SUMMARY_SCHEMA_VERSION
    run_id: str
    factbench_version: str
    wall_seconds: float = 0.0
    tasks: dict[str, Aggregate] = Field(default_factory=dict)
    overall: Aggregate = Field(default_factory=Aggregate)
    errors: ErrorSummary = Field(default_factory=ErrorSummary)
    calls: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per role: calls, cache hits, tokens, ...
    cache: dict[str, int] = Field(default_factory=lambda: {"hits": 0, "calls": 0})
    notes: list[str] = Field(default_factory=list)
    resumed: dict[str, int] = Field(default_factory=dict)  # per stage: samples done before this invocation
    judges: dict[str, Any] = Field(default_factory=dict)  # per judge role: model and parameters; templates
    answers_from: Any = None  # the model under test's identity, or the responses file
    reward: dict[str, Any] | None = None  # how `reward` was composed: design, lambda, mu, fallback, floor
    hacks: dict[str, Any] | None = None  # pointer to the run's hack report (hacks/hacks.json), once made


class TaskEntry(_Document):
    """One task of a run, as run.json records it."""

    name: str
    version: str
    template_sha: str | None = None
    k: int | None = None
    source: str | None = None
    revision: str | None = None
    license: str | None = None
    evidence: str | None = None
    tags: list[str] = Field(default_factory=list)
    n_prompts: int = 0
    prompt_ids: list[str] = Field(default_factory=list)
    evidence_note: str | None = None


class RunSpec(_Document):
    """run.json: the run's identity, roles, settings and tasks (written at start, finished at the end)."""

    schema_version: int = SPEC_SCHEMA_VERSION
    run_id: str
    kind: str = "run"  # or "human-label-replay"
    label: str = ""
    factbench_version: str
    identity: dict[str, Any] = Field(default_factory=dict)  # what changes scores; a resume must match it
    identity_sha: str | None = None
    roles: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per role: model, params, endpoints, ...
    settings: dict[str, Any] = Field(default_factory=dict)
    tasks: dict[str, TaskEntry] = Field(default_factory=dict)
    skipped_tasks: dict[str, str] = Field(default_factory=dict)
    generation_template: str | None = None
    source: dict[str, Any] | None = None  # human-label replay: the labels file
    started_at: str | None = None
    resumed_at: list[str] = Field(default_factory=list)
    finished_at: str | None = None

    def model_name(self) -> str:
        """Who produced the answers: the model under test, else the answers' source."""
        return (self.roles.get("model") or {}).get("model") or str(self.identity.get("answers", "?"))


DOCUMENTS: tuple[type[BaseModel], ...] = (RunSpec, TaskEntry, RunSummary, Aggregate, MetricValue, ErrorSummary)


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if getattr(annotation, "__args__", None) is None else None
    text = text or re.sub(r"\b\w+(?:\.\w+)*\.(?=\w)", "", str(annotation))  # drop module prefixes
    return text.replace("|", "\\|")  # a pipe inside a markdown table cell


def field_reference() -> str:
    """The markdown field tables of docs/summary-schema.md (regenerate with
    `python -m factbench.store.artefacts`; a test fails when the doc and the models differ)."""
    out = []
    for model in DOCUMENTS:
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        out.append(f"### `{model.__name__}`" + (f" — {doc}" if doc else ""))
        out.append("")
        out.append("| field | type |")
        out.append("|---|---|")
        for name, info in model.model_fields.items():
            out.append(f"| `{name}` | `{_type_name(info.annotation)}` |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(field_reference(), end="")
