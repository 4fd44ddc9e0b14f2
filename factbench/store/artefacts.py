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

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

SPEC_SCHEMA_VERSION = 1
SUMMARY_SCHEMA_VERSION = 2  # 2: answer statuses, judge health, accounting over invocations, cost


class _Document(BaseModel):
    model_config = ConfigDict(extra="allow")


class MetricValue(_Document):
    """A metric over answers: mean, 95% CI and how many answers it is over."""

    mean: float | None = None
    ci95: list[float] | None = None  # [low, high], seeded percentile bootstrap over answers
    n: int = 0  # answers the mean is over


class Aggregate(_Document):
    """Counts and metrics over a set of answers (one task, or the whole run)."""

    n_answers: int = 0  # prompts with an answer; each has a row in scores.jsonl
    n_scored: int = 0  # answers with a reward: what the reward and F1@K means are over
    n_unscored: int = 0  # answers without a reward (judge_failed, pending, missing relevance term)
    n_abstained: int = 0
    n_no_claims: int = 0
    n_empty: int = 0
    n_think_only: int = 0
    n_incomplete: int = 0  # answers with sentences or claims still without a parsed judge answer
    answer_status: dict[str, int] = Field(default_factory=dict)  # status -> answers (docs/metrics.md)
    n_claims: int = 0
    labels: dict[str, int] = Field(default_factory=dict)
    judge_errors: int = 0  # claims without a label
    judge_error_rate: float = 0.0  # judge_errors / n_claims
    unscored_rate: float = 0.0  # n_unscored / n_answers
    extraction_errors: int = 0
    informativeness_errors: int = 0  # claims without an informativeness class
    ungrounded_claims: int = 0  # extracted claims the answer does not support, dropped before evidence
    abstention_rate: MetricValue | None = None
    mean_claims_per_answer: float | None = None
    metrics: dict[str, MetricValue] = Field(default_factory=dict)
    n_prompts: int | None = None
    n_no_answer: int | None = None  # n_prompts - n_answers
    k: int | None = None  # per task: F1@K's K
    version: str | None = None  # per task: task version
    evidence: str | None = None  # per task: the evidence backend used
    evidence_chosen_by: str | None = None  # per task: "task default" or "--evidence"
    judge: dict[str, Any] | None = None  # per task: judge roles, templates and scoring settings used
    judge_sha: str | None = None  # per task: 16 hex digits of `judge`; comparable rows share it


class ErrorSummary(_Document):
    """What failed and did not parse, by stage and kind (still failing at the end of the run)."""

    failed_samples: int = 0  # samples with a stage failure no later attempt resolved
    failed_sample_rate: float = 0.0
    stage_failures: dict[str, dict[str, int]] = Field(default_factory=dict)
    incomplete_samples: int = 0  # answers unscored, or with items still without a parsed judge answer
    gate_failures: int = 0  # failed or incomplete samples: what --fail-on-error compares
    gate_failure_rate: float = 0.0
    extraction_parse_errors: dict[str, int] = Field(default_factory=dict)
    verification_parse_errors: dict[str, int] = Field(default_factory=dict)
    relevance_parse_errors: dict[str, int] = Field(default_factory=dict)
    informativeness_parse_errors: dict[str, int] = Field(default_factory=dict, validation_alias=AliasChoices("informativeness_parse_errors", "weighting_parse_errors"))
    parse: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per judge stage: items, unparsed, rate
    truncated_answers: int = 0  # answers of the model under test cut at max tokens


class RunSummary(_Document):
    """summary.json: metrics per task and overall, errors, calls and provenance."""

    schema_version: int = SUMMARY_SCHEMA_VERSION
    run_id: str
    factbench_version: str
    wall_seconds: float = 0.0  # over all invocations of the run
    tasks: dict[str, Aggregate] = Field(default_factory=dict)
    overall: Aggregate = Field(default_factory=Aggregate)
    errors: ErrorSummary = Field(default_factory=ErrorSummary)
    invocations: int = 1  # invocations of `run`/`score` on this run directory (invocations.jsonl)
    calls: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per role, over all invocations
    cache: dict[str, int] = Field(default_factory=lambda: {"hits": 0, "calls": 0})
    cost_usd: float | None = 0.0  # over all roles and invocations; None when a role is unpriced
    last_invocation: dict[str, Any] = Field(default_factory=dict)  # the same figures, last invocation only
    budget: dict[str, Any] = Field(default_factory=dict)  # max_cost_usd, stopped_at_max_cost
    notes: list[str] = Field(default_factory=list)
    resumed: dict[str, int] = Field(default_factory=dict)  # per stage: samples done before this invocation
    judges: dict[str, Any] = Field(default_factory=dict)  # per judge role: model and parameters; templates
    answers_from: Any = None  # the model under test's identity, or the responses file
    reward: dict[str, Any] | None = None  # how `reward` was composed: design, lambda, mu, fallback, floor
    hacks: dict[str, Any] | None = None  # pointer to the run's hack report (hacks/hacks.json), once made
    memo: dict[str, int] | None = None  # the last invocation's verdict-memo counts (llm/memo.py); None: off


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
    evidence_chosen_by: str | None = None  # "task default" or "--evidence"


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
