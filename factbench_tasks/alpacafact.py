"""AlpacaFact: the fact-seeking subset of AlpacaEval's 805 instructions.

The published subset list is not available, so the subset is chosen by a documented,
versioned rule (`RULE_VERSION`). The rule is deterministic: the decision for an
instruction depends only on its text, and the selected ids are recorded in run.json.

Rule (v1): keep an instruction when it asks for knowledge about the world
(a wh-question, "explain/describe/tell me about/what is", a request to list or name
real things, history, differences between real things) and drop it when it is
chiefly creative writing, rewriting text it supplies, code, arithmetic, role play,
personal advice/opinion, or brainstorming.
"""

from __future__ import annotations

import re

from factbench.store.jsonl import read_json
from factbench.taskdata import DataFile
from factbench.tasks import DataContext, Prompt, Task

from ._hub import hub_rows

HF_REPO = "tatsu-lab/alpaca_eval"
REVISION = "cd543a149df89434d8a54582c0151c0b945c3d20"
RULE_VERSION = "alpacafact-rule-1"
# The pinned revision is a commit of the GitHub repository, so the file comes from there.
FILE = DataFile("github", HF_REPO, REVISION, "results/gpt4/model_outputs.json",
                "alpacafact/results/gpt4/model_outputs.json")

_EXCLUDE = re.compile(
    r"\b(write|rewrite|compose|draft|paraphrase|translate|summari[sz]e|edit|proofread|correct the|"
    r"poem|haiku|story|lyrics|song|joke|riddle|slogan|tweet|essay|script|screenplay|dialogue|"
    r"code|python|javascript|java|c\+\+|sql|regex|function|program|algorithm|html|css|latex|bash|"
    r"calculate|compute|solve|equation|integral|derivative|how much is|\d+\s*[-+*/x]\s*\d+|"
    r"pretend|act as|role-?play|imagine|you are a|"
    r"brainstorm|ideas?|suggest|recommend|should i|do you think|your opinion|how do i|how can i|help me|"
    r"recipe|make a list of ways|generate|create|design|plan|what if|math|puzzle|crossword|"
    r"based on (the|this)|the following|given (text|article|paragraph|statement)|if it takes)\b",
    re.IGNORECASE,
)
_INCLUDE = re.compile(
    r"^(is|are|does|did|was|were|can|could) .+\?$|"
    r"^(who|what|when|where|which|why|how (many|much|did|does|do|is|are|was|were|old|long|far|big))\b|"
    r"\b(explain|describe|tell me (about|what|who|when|where|why|how)|what (is|are|was|were)|who (is|was|were)|"
    r"history of|difference between|list (the|some|all)|name (the|some|a few)|famous|facts? about|origin of)\b",
    re.IGNORECASE,
)


def is_fact_seeking(instruction: str) -> bool:
    """The v1 selection rule (see module docstring)."""
    text = " ".join(instruction.split())
    return bool(_INCLUDE.search(text)) and not _EXCLUDE.search(text)


def load(ctx: DataContext) -> list[Prompt]:
    local = ctx.local("alpacafact", "results", "gpt4", "model_outputs.json")
    rows = read_json(local) if local else hub_rows(ctx, FILE, "alpacafact")
    return [
        Prompt(id=f"alpaca-{i:03d}", text=row["instruction"], reference=row.get("output"),
               meta={"reference_model": row.get("generator"), "selection_rule": RULE_VERSION})
        for i, row in enumerate(rows)
        if is_fact_seeking(row["instruction"])
    ]


TASKS = [
    Task(
        name="alpacafact",
        version=f"1+{RULE_VERSION}",
        loader=load,
        description="AlpacaFact: fact-seeking AlpacaEval instructions (rule-selected), GPT-4 references for relevance.",
        k=32,
        default_evidence="serper",
        source=f"github:{HF_REPO} (results/gpt4/model_outputs.json)",
        revision=REVISION,
        license="CC-BY-NC-4.0 (non-commercial)",
        tags=("core", "alpacafact", "noncommercial"),
        has_references=True,
        data_files=(FILE,),
    )
]
