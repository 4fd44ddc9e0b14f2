"""Planning: which prompts of which task, with which evidence backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from factbench.evidence.backends import EvidenceBackend, EvidenceChoice, EvidenceUnavailable, open_backend
from factbench.llm.cache import CallCache
from factbench.pipeline.settings import RunSettings
from factbench.store.run_dir import RunStore
from factbench.tasks import DataContext, Prompt, Task, TaskDataUnavailable, sample_prompts


@dataclass
class PlannedTask:
    task: Task
    prompts: list[Prompt]
    evidence: EvidenceBackend
    evidence_chosen_by: str = "task default"  # or "--evidence" (named by the user)
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
    unavailable: list[str] = []
    for task in tasks:
        try:
            loaded = task.load(ctx)
            prompts = sample_prompts(loaded, settings.limit, settings.seed, task.name)
        except TaskDataUnavailable as exc:
            plan.skipped[task.name] = str(exc)
            continue
        if selection is not None:
            prompts = [p for p in prompts if p.id in selection.get(task.name, ())]
        choice = EvidenceChoice.parse(settings.evidence)
        by_default, spec = choice.by_default, choice.for_task(task.default_evidence)
        try:
            backend = open_backend(spec, cache)
        except EvidenceUnavailable as exc:
            if not by_default:
                raise
            unavailable.append(f"{task.name}: default evidence {spec!r} is unavailable: {exc}")
            continue
        plan.tasks.append(PlannedTask(task, prompts, backend, "task default" if by_default else "--evidence",
                                      frozenset(p.id for p in loaded)))
    if unavailable:
        # Never a silent downgrade to the judge's own knowledge: the user sets what is missing
        # or names the evidence explicitly.
        raise EvidenceUnavailable(
            "\n  ".join(["a task's default evidence is not available here:"] + unavailable) +
            "\nset the variable named above, or choose the evidence explicitly: --evidence none (the "
            "judge's own knowledge; recorded as such), --evidence corpus:PATH[#topic] or --evidence serper")
    return plan
