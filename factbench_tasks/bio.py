"""FActScore biographies (Min et al., 2023): the 183 human-labelled entities."""

from __future__ import annotations

from factbench.taskdata import DataFile, fetch_command
from factbench.tasks import DataContext, Prompt, Task, TaskDataUnavailable

SOURCE = "github:shmsw25/FActScore (labeled_data/prompt_entities.txt)"
REVISION = "f28272deffcf33efc1f1117d5479c10bb75221a9"
# FActScore's own repository ships no data files; the identical entity list is vendored, at a pinned
# commit, in google-deepmind/long-form-factuality (third_party/factscore/, MIT).
FILE = DataFile("github", "google-deepmind/long-form-factuality", "9d27158d198ced0a9d8271a80147cae580614601",
                "third_party/factscore/labeled_data/prompt_entities.txt", "factscore/labeled_data/prompt_entities.txt")


def load(ctx: DataContext) -> list[Prompt]:
    path = ctx.local("factscore", "labeled_data", "prompt_entities.txt")
    if path is None:
        raise TaskDataUnavailable(
            f"{FILE.hint()} (FActScore's 183 labelled entities) is missing; put it there, "
            f"or run {fetch_command('bio')}"
        )
    entities = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Prompt(id=entity, text=f"Tell me a bio of {entity}.", topic=entity) for entity in entities]


TASKS = [
    Task(
        name="bio",
        version="1",
        loader=load,
        description="Biographies of FActScore's 183 labelled entities; evidence from each entity's own Wikipedia page.",
        k=32,
        default_evidence="corpus:$FACTBENCH_WIKI_DB#topic",
        source=SOURCE,
        revision=REVISION,
        license="MIT",
        tags=("core", "bio", "factscore"),
        n_prompts=183,
        data_files=(FILE,),
    )
]
