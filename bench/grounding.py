"""How many claims the grounding check drops, on real answers and on claims that are not in them.

    .venv/bin/python bench/grounding.py [--data-dir ../shared/data] [--show 10]

Real answers: FActScore's labelled biographies of InstructGPT and PerplexityAI, with the facts
human annotators extracted from each sentence and those the FActScore pipeline extracted
(`model-atomic-facts`). Every one of them is in its answer, so each drop is a false drop.
Stray claims: the extraction prompt's example claim added to every answer, and every human
fact of another, randomly paired biography moved into the answer (at the same sentence
index): each of these should be dropped.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from factbench.stages.grounding import split_grounded, terms
from factbench.store.records import Claim

SOURCES = ("InstructGPT", "PerplexityAI")
KINDS = (("human-atomic-facts", "human"), ("model-atomic-facts", "FActScore pipeline"))
STRAY = "The Mariana Trench is in the western Pacific Ocean."


def load(path: Path) -> list[tuple[str, list[str], dict[str, list[Claim]]]]:
    """(question, sentences, claims per kind) of each answered prompt."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        notes = row.get("annotations")
        if not notes:
            continue
        sentences = [a["text"] for a in notes]
        claims = {kind: [Claim(text=f["text"], sentence=i) for i, a in enumerate(notes) for f in a.get(kind) or []]
                  for kind, _ in KINDS}
        out.append((row["input"].removeprefix("Question: "), sentences, claims))
    return out


def terms_per_fact(answers: list[tuple[str, list[str], dict[str, list[Claim]]]]) -> float:
    """Distinct content terms beyond the question's over all human facts of an answer, per fact."""
    n_terms = n_facts = 0
    for question, _, claims in answers:
        asked = terms(question)
        merged: set[str] = set()
        for claim in claims[KINDS[0][0]]:
            own = terms(claim.text)
            merged |= (own.words | own.numbers) - asked.words - asked.numbers
        n_terms += len(merged)
        n_facts += len(claims[KINDS[0][0]])
    return n_terms / n_facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--show", type=int, default=0, help="print this many dropped real facts")
    args = parser.parse_args()
    root = Path(args.data_dir) / "factscore" / "labeled_data"
    if not all((root / f"{s}.jsonl").is_file() for s in SOURCES):
        print(f"no FActScore labelled data under {root} (InstructGPT.jsonl, PerplexityAI.jsonl)", file=sys.stderr)
        return 2
    started = time.monotonic()
    print("## Real facts dropped (false drops)\n\n| answers of | facts extracted by | answers | facts | dropped | rate |")
    print("|---|---|---|---|---|---|")
    everything, false_drops = [], []
    for source in SOURCES:
        answers = load(root / f"{source}.jsonl")
        everything += answers
        for kind, who in KINDS:
            n = dropped = 0
            for question, sentences, claims in answers:
                _, out = split_grounded(claims[kind], sentences, question)
                n += len(claims[kind])
                dropped += len(out)
                false_drops += [(c.text, sentences[c.sentence]) for c in out]
            print(f"| {source} | {who} | {len(answers)} | {n} | {dropped} | {dropped / n:.2%} |")
    print(f"\n{terms_per_fact(everything):.2f} distinct new content terms per human-extracted fact "
          "(merged over each answer's facts: factbench.scoring.facts.TERMS_PER_FACT)")
    rng = random.Random(0)
    example = moved = moved_dropped = 0
    for question, sentences, _ in everything:
        _, out = split_grounded([Claim(text=STRAY, sentence=0)], sentences, question)
        example += len(out)
        other = rng.choice([a for a in everything if a[0] != question])
        foreign = [Claim(text=c.text, sentence=min(c.sentence, len(sentences) - 1)) for c in other[2][KINDS[0][0]]]
        _, out = split_grounded(foreign, sentences, question)
        moved += len(foreign)
        moved_dropped += len(out)
    print("\n## Claims not in the answer, dropped (should be all)\n\n| stray claim | answers | claims | dropped | rate |")
    print("|---|---|---|---|---|")
    print(f"| the extraction prompt's example claim | {len(everything)} | {len(everything)} | {example} | "
          f"{example / len(everything):.2%} |")
    print(f"| the human facts of another biography | {len(everything)} | {moved} | {moved_dropped} | "
          f"{moved_dropped / moved:.2%} |")
    for text, sentence in false_drops[:args.show]:
        print(f"\n- dropped: {text}\n  sentence: {sentence}")
    print(f"\n(wall {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
