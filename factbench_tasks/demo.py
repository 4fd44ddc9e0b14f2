"""A tiny built-in prompt set for the offline demo and smoke tests (written for factbench)."""

from __future__ import annotations

from factbench.tasks import DataContext, Prompt, Task

PROMPTS = [
    ("marie-curie", "Tell me about the scientific career of Marie Curie."),
    ("panama-canal", "What is the history of the Panama Canal?"),
    ("mount-kilimanjaro", "What can you tell me about Mount Kilimanjaro?"),
    ("ada-lovelace", "Who was Ada Lovelace and what is she known for?"),
    ("great-barrier-reef", "Describe the Great Barrier Reef."),
    ("printing-press", "How did Johannes Gutenberg's printing press change Europe?"),
]


def load(ctx: DataContext) -> list[Prompt]:
    return [Prompt(id=pid, text=text) for pid, text in PROMPTS]


TASKS = [
    Task(
        name="demo",
        version="1",
        loader=load,
        description="Six general-knowledge prompts shipped with factbench for demos and smoke tests.",
        k=16,
        default_evidence="none",
        source="factbench (built in)",
        license="Apache-2.0",
        tags=("demo",),
        n_prompts=len(PROMPTS),
    )
]
