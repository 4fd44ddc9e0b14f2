"""Synthetic biographies whose facts are known: the prompts of the ground-truth test double.

Scored against `factbench.testing.ground_truth` (a scripted judge that follows the known
truth), they make the hack report testable offline. Not a benchmark: its numbers say
nothing about any model. Each prompt carries a reference answer (the person's true facts).
"""

from __future__ import annotations

from factbench.tasks import DataContext, Prompt, Task


def load(ctx: DataContext) -> list[Prompt]:
    from factbench.testing.ground_truth import world

    w = world()
    return [Prompt(id=name.lower().replace(" ", "-"), text=f"Tell me a bio of {name}.", topic=name,
                   reference=w.reference(name), meta={"reference_model": "ground truth"})
            for name in w.people]


TASKS = [
    Task(
        name="groundtruth",
        version="1",
        loader=load,
        description="50 synthetic biographies with known facts, for the ground-truth test double (not a benchmark).",
        k=32,
        default_evidence="none",
        source="factbench (built in, synthetic)",
        license="Apache-2.0",
        tags=("testing",),
        n_prompts=50,
        has_references=True,
    )
]
