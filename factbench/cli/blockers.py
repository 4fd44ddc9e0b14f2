"""A first run's blockers, found together and cheaply before anything slow (endpoint probes, the
price list) or anything written: every missing key variable, task data that is absent, and
evidence that cannot be opened, in one message, so a new user fixes them in one go."""

from __future__ import annotations

from factbench.evidence.backends import EvidenceChoice, EvidenceUnavailable, open_backend
from factbench.llm.client import RoleSpec
from factbench.llm.preflight import missing_key
from factbench.tasks import DataContext, Task, TaskDataUnavailable


def key_blockers(roles: dict[str, RoleSpec]) -> list[str]:
    needs: dict[str, list[str]] = {}
    for role, spec in roles.items():
        var = missing_key(spec)
        if var:
            needs.setdefault(var, []).append(f"{role} ({spec.model})")
    return [f"the environment variable {var} is not set; roles {', '.join(users)} need it (export {var}=..., "
            "or name another variable with --ROLE-api-key-env)" for var, users in needs.items()]


def data_and_evidence_blockers(tasks: list[Task], data_dir: str | None, evidence: str) -> list[str]:
    """Task data that no selected task has, and evidence backends that cannot open (no cache is opened)."""
    ctx = DataContext.from_env(data_dir)
    present, absent = [], []
    for task in tasks:
        try:
            task.load(ctx)
            present.append(task)
        except TaskDataUnavailable as exc:
            absent.append(f"no selected task has data here: {task.name}: skipped ({exc})")
    problems = absent if not present else []  # some tasks with data: the others are skipped with a note
    choice = EvidenceChoice.parse(evidence)
    if choice.spec is not None:
        try:
            open_backend(choice.spec, None)
        except EvidenceUnavailable as exc:
            problems.append(f"--evidence {evidence!r}: {exc}")
        return problems
    for task in present:
        try:
            open_backend(task.default_evidence, None)
        except EvidenceUnavailable as exc:
            problems.append(f"{task.name}: default evidence {task.default_evidence!r} is unavailable: {exc}; set "
                            "what it needs, or choose the evidence explicitly (--evidence none: the judge's own "
                            "knowledge, recorded as such)")
    return problems
