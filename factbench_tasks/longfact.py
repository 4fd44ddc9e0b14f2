"""LongFact (Wei et al., 2024): 38 topics x 30 prompts, objects and concepts."""

from __future__ import annotations

from factbench.taskdata import DataFile, fetch_command
from factbench.tasks import DataContext, Prompt, Task, TaskDataUnavailable

from ._hub import jsonl_rows

REPO = "google-deepmind/long-form-factuality"
REVISION = "9d27158d198ced0a9d8271a80147cae580614601"
FOLDERS = {
    "objects": "longfact-objects_gpt4_01-12-2024_noduplicates",
    "concepts": "longfact-concepts_gpt4_01-10-2024_noduplicates",
}
# The 38 topics of both sets at REVISION (one file per topic, 30 prompts each).
TOPICS = (
    "20th-century-events", "US-foreign-policy", "accounting", "architecture", "astronomy", "biology",
    "business-ethics", "celebrities", "chemistry", "clinical-knowledge", "computer-science", "computer-security",
    "economics", "electrical-engineering", "gaming", "geography", "global-facts", "history", "immigration-law",
    "international-law", "jurisprudence", "machine-learning", "management", "marketing", "mathematics", "medicine",
    "moral-disputes", "movies", "music", "philosophy", "physics", "prehistory", "psychology", "public-relations",
    "sociology", "sports", "virology", "world-religions",
)


def data_files(kind: str) -> tuple[DataFile, ...]:
    folder = FOLDERS[kind]
    return tuple(DataFile("github", REPO, REVISION, f"longfact/{folder}/longfact-{kind}_{topic}.jsonl",
                          f"longfact/{folder}/longfact-{kind}_{topic}.jsonl") for topic in TOPICS)


# Our own detail-eliciting postamble (LongFact experiments append one to every prompt).
POSTAMBLE = " Be thorough and concrete: mention the specific people, places, dates, figures and events that matter."


def _loader(kind: str):
    def load(ctx: DataContext) -> list[Prompt]:
        folder = ctx.local("longfact", FOLDERS[kind])
        if folder is None:
            raise TaskDataUnavailable(
                f"<data-dir>/longfact/{FOLDERS[kind]}/ is missing (from {REPO}@{REVISION[:12]}, folder longfact/); "
                f"put it there, or run {fetch_command(f'longfact-{kind}')}"
            )
        prompts = []
        prefix = f"longfact-{kind}_"
        for file in sorted(folder.glob("*.jsonl")):
            topic = file.stem.removeprefix(prefix)
            for i, row in enumerate(jsonl_rows(file)):
                prompts.append(Prompt(id=f"{topic}-{i:02d}", text=row["prompt"], meta={"topic_area": topic}))
        return prompts

    return load


TASKS = [
    Task(
        name=f"longfact-{kind}",
        version="1",
        loader=_loader(kind),
        description=f"LongFact-{kind.capitalize()}: open-ended questions about {kind} in 38 topics.",
        template="{prompt}" + POSTAMBLE,
        k=64,
        default_evidence="serper",
        source=f"github:{REPO}/longfact",
        revision=REVISION,
        license="Apache-2.0 / CC-BY-4.0",
        tags=("core", "longfact", kind),
        n_prompts=1140,
        data_files=data_files(kind),
    )
    for kind in ("objects", "concepts")
]
