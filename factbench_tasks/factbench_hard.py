"""FactBench (Bayat et al., 2024), Hard tier: 532 in-the-wild prompts from LMSYS-Chat-1M."""

from __future__ import annotations

from factbench.taskdata import DataFile, read_rows
from factbench.tasks import DataContext, Prompt, Task

from ._hub import hub_rows, jsonl_rows

HF_REPO = "launch/FactBench"
REVISION = "67d807e76651f4649a971b3eeaeb95f72b6cba40"
FILE = DataFile("hf", HF_REPO, REVISION, "tier_1.csv", "factbench/tier_1.csv")


def load(ctx: DataContext) -> list[Prompt]:
    path = ctx.local("factbench", "prompts_hard.jsonl")
    if path is not None:
        return [Prompt(id=r["id"], text=r["question"], meta={"topic_area": r.get("topic")}) for r in jsonl_rows(path)]
    csv_file = ctx.local(*FILE.path.split("/"))
    rows = read_rows(csv_file) if csv_file else hub_rows(ctx, FILE, "factbench-hard")
    return [
        Prompt(id=f"fb_hard_{i:03d}", text=r["user_prompts"], meta={"topic_area": r.get("topic_description")})
        for i, r in enumerate(rows)
    ]


TASKS = [
    Task(
        name="factbench-hard",
        version="1",
        loader=load,
        description="FactBench Hard tier: real user prompts on which models hallucinate most.",
        k=32,
        default_evidence="serper",
        source=f"hf:{HF_REPO} (tier_1.csv)",
        revision=REVISION,
        license="CC-BY-4.0",
        tags=("core", "factbench", "in-the-wild"),
        n_prompts=532,
        data_files=(FILE,),
    )
]
