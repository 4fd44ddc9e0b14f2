"""FAVA (Mishra et al., 2024): prompts of the annotated FAVABench passages."""

from __future__ import annotations

from factbench.store.jsonl import read_json
from factbench.taskdata import DataFile
from factbench.tasks import DataContext, Prompt, Task

from ._hub import hub_rows

HF_REPO = "fava-uw/fava-data"
REVISION = "main"  # the Hub card publishes no tagged revision; results record what was loaded
FILE = DataFile("hf", HF_REPO, REVISION, "annotations.json", "fava/annotations.json")


def load(ctx: DataContext) -> list[Prompt]:
    local = ctx.local("fava", "annotations.json")
    rows = read_json(local) if local else hub_rows(ctx, FILE, "fava")
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for row in rows:
        text = (row.get("prompt") or "").strip()
        if not text or text in seen:  # several annotated outputs share one prompt: keep it once
            continue
        seen.add(text)
        prompts.append(Prompt(id=f"fava-{len(prompts):04d}", text=text, meta={"source_model": row.get("model")}))
    return prompts


TASKS = [
    Task(
        name="fava",
        version="1",
        loader=load,
        description="FAVA: the distinct prompts behind FAVABench's annotated passages.",
        k=32,
        default_evidence="serper",
        source=f"hf:{HF_REPO} (annotations.json)",
        revision=REVISION,
        license="CC-BY-4.0",
        tags=("core", "fava"),
        data_files=(FILE,),
    )
]
