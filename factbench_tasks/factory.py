"""FACTORY (Chen et al., 2025): human-verified long-form prompts, all and hard subsets."""

from __future__ import annotations

from factbench.taskdata import DataFile
from factbench.tasks import DataContext, Prompt, Task

from ._hub import hub_rows, jsonl_rows

HF_REPO = "facebook/FACTORY"
REVISION = "c820453a0c8637ad0eea2692b7e03e79acc591d1"
FILES = {"factory": "prompts/all_prompts.jsonl", "factory-hard": "prompts/hard_prompts.jsonl"}
DATA = {name: DataFile("hf", HF_REPO, REVISION, file, f"factory/{file}") for name, file in FILES.items()}


def _loader(name: str):
    def load(ctx: DataContext) -> list[Prompt]:
        local = ctx.local("factory", *FILES[name].split("/"))
        rows = jsonl_rows(local) if local else hub_rows(ctx, DATA[name], name)
        prompts = []
        for i, row in enumerate(rows):
            pid = str(row.get("id", f"{name}-{i:05d}"))
            prompts.append(Prompt(id=pid, text=row["question"]))
        return prompts

    return load


TASKS = [
    Task(
        name=name,
        version="1",
        loader=_loader(name),
        description=("FACTORY: human-verified fact-seeking prompts" + (" (hard subset)." if "hard" in name else ".")),
        k=64,
        default_evidence="serper",
        source=f"hf:{HF_REPO} ({FILES[name]})",
        revision=REVISION,
        license="CC-BY-NC-4.0 (non-commercial)",
        tags=("core", "factory", "noncommercial") + (("hard",) if "hard" in name else ()),
        data_files=(DATA[name],),
    )
    for name in FILES
]
