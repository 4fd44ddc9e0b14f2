"""Planning: which prompts of which task, with which evidence backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from factbench.evidence.backends import EvidenceBackend, EvidenceUnavailable, open_backend
from factbench.llm.cache import CallCache
from factbench.pipeline.settings import RunSettings
from factbench.store.run_dir import RunStore
from factbench.tasks import DataContext, Prompt, Task, TaskDataUnavailable, sample_prompts


@dataclass
class PlannedTask:
    task: Task
    prompts: list[Prompt]
    evidence: EvidenceBackend
    evidence_note: str | None = None
    all_ids: frozenset[str] = frozenset()  # every prompt id of the task, sampled or not (checks responses files)


@dataclass
class Plan:
    tasks: list[PlannedTask]
    skipped: dict[str, str] = field(default_factory=dict)


def plan_tasks(tasks: list[Task], settings: RunSettings, cache: CallCache | None) -> Plan:
    """Load prompts, take the seeded sample and open each task's evidence backend."""
    ctx = DataContext.from_env(settings.data_dir)
    selection = None
    if settings.select_from_run:
        source = RunStore(settings.select_from_run).read_spec()
        selection = {name: set(t.prompt_ids) for name, t in source.tasks.items()} if source else {}
    plan = Plan(tasks=[])
    for task in tasks:
        try:
            loaded = task.load(ctx)
            prompts = sample_prompts(loaded, settings.limit, settings.seed, task.name)
        except TaskDataUnavailable as exc:
            plan.skipped[task.name] = str(exc)
            continue
        if selection is not None:
            prompts = [p for p in prompts if p.id in selection.get(task.name, ())]
        spec = task.default_evidence if settings.evidence in ("auto", "default") else settings.evidence
        note = None
        try:
            backend = open_backend(spec, cache)
        except EvidenceUnavailable as exc:
            if settings.evidence != "auto":
                raise
            backend = open_backend("none", cache)
            note = f"default evidence {spec!r} unavailable ({exc}); using the judge's own knowledge"
        plan.tasks.append(PlannedTask(task, prompts, backend, note, frozenset(p.id for p in loaded)))
    return plan
