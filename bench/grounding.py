"""How many claims the grounding check drops, on real answers and on claims that are not in them.

    .venv/bin/python bench/grounding.py [--data-dir ../shared/data] [--show 10]

Real answers: FActScore's labelled biographies of InstructGPT and PerplexityAI, with the facts
human annotators extracted from each sentence and those the FActScore pipeline extracted
(`model-atomic-facts`). Every one of them is in its answer, so each drop is a false drop.
Stray claims: the extraction prompt's example claim added to every answer, and every human
fact of another, randomly paired biography moved into the answer (at the same sentence
index): each of these should be dropped.

Answers of other models, where the shared data has them: the claims VeriScore's and FaStfact's
pipelines extracted from answers of gpt-4o and DeepSeek-R1 (false drops; their files do not say
which sentence a claim came from, so each claim is checked at the sentence that grounds it best,
as an extractor names its source sentence), and FaStfact-Bench's answers of DeepSeek-R1,
DeepSeek-V3, gpt-4o and Qwen2.5-7B-Instruct and AlpacaEval's GPT-4 answers (no claims
extracted: stray claims only, the example claim and the sentences of another answer to a
question of the same source moved in, those of at least three content words). A data set that
is absent is named and skipped.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from factbench.stages.claims import split_sentences
from factbench.stages.grounding import CONTEXT_AFTER, CONTEXT_BEFORE, Terms, check, split_grounded, terms
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


VERISCORE = Path("veriscore") / "data" / "data_sample.jsonl"
FASTFACT_CLAIMS = Path("fastfact-bench") / "FaStfact-Bench" / "FastFact_annotation" / "annotation_tool" / "example" / "trial.jsonl"
FASTFACT_ANSWERS = Path("fastfact-bench") / "FaStfact-Bench" / "fastfact-bench_for_eval.jsonl"
ALPACA = Path("alpacafact") / "results" / "gpt4" / "model_outputs.json"
# Sentences moved in as stray claims have this many content words at least: claim-like ones, not
# headings, links or rule lines (a text without content words is never dropped).
MIN_CLAIM_WORDS = 3


def _merge(parts: list[Terms]) -> Terms:
    return Terms(*(frozenset().union(*(getattr(p, f) for p in parts)) for f in ("words", "numbers", "digits")))


def placed(claims: list[str], sentences: list[str], question: str) -> list[Claim]:
    """Each claim at the sentence whose context grounds it best (the first of equals), for claim
    files that do not record their source sentence."""
    per_sentence, asked = [terms(x) for x in sentences], terms(question)
    answer = _merge(per_sentence + [asked])
    windows = [_merge(per_sentence[max(0, i - CONTEXT_BEFORE):i + 1 + CONTEXT_AFTER] + [asked])
               for i in range(len(sentences))]
    out = []
    for text in claims:
        scores = [(check(text, w, answer).grounded, check(text, w, answer).share) for w in windows]
        out.append(Claim(text=text, sentence=max(range(len(windows)), key=lambda i: scores[i])))
    return out


def other_models_claims(data: Path) -> tuple[list[tuple[str, str, str, str, list[str]]], list[str]]:
    """(model, extractor, question, answer, claims) from VeriScore's and FaStfact's claim files; the
    files that are absent, named."""
    rows, absent = [], []
    if (data / VERISCORE).is_file():
        for line in (data / VERISCORE).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rows.append((r["model"], "VeriScore pipeline", r["question"], r["response"], r["all_claim_lst"]))
    else:
        absent.append(str(VERISCORE))
    if (data / FASTFACT_CLAIMS).is_file():
        for line in (data / FASTFACT_CLAIMS).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rows.append((r["model"], "FaStfact pipeline", r["question"], r["response"],
                         [c["claim"] for c in r["claims_lst"]]))
    else:
        absent.append(str(FASTFACT_CLAIMS))
    return rows, absent


def other_models_answers(data: Path) -> tuple[list[tuple[str, str, str, str]], list[str]]:
    """(model, source of the question, question, answer) from FaStfact-Bench and AlpacaEval."""
    rows, absent = [], []
    if (data / FASTFACT_ANSWERS).is_file():
        for line in (data / FASTFACT_ANSWERS).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            rows.append((r["model"], r["prompt_source"], r["question"], r["response"]))
    else:
        absent.append(str(FASTFACT_ANSWERS))
    if (data / ALPACA).is_file():
        rows += [("GPT-4 (AlpacaEval)", r["dataset"], r["instruction"], r["output"])
                 for r in json.loads((data / ALPACA).read_text(encoding="utf-8"))]
    else:
        absent.append(str(ALPACA))
    return rows, absent


def report_other_models(data: Path, rng: random.Random) -> None:
    claims, absent = other_models_claims(data)
    print("\n## Claims other pipelines extracted from answers of other models (false drops)\n")
    print("| answers of | claims extracted by | answers | claims | dropped | rate |\n|---|---|---|---|---|---|")
    groups: dict[tuple[str, str], list[int]] = {}
    dropped_texts = []
    for model, extractor, question, answer, texts in claims:
        sentences = split_sentences(answer)
        _, out = split_grounded(placed(texts, sentences, question), sentences, question)
        tally = groups.setdefault((model, extractor), [0, 0, 0])
        tally[0] += 1
        tally[1] += len(texts)
        tally[2] += len(out)
        dropped_texts += [c.text for c in out]
    for (model, extractor), (n, total, dropped) in groups.items():
        print(f"| {model} | {extractor} | {n} | {total} | {dropped} | {dropped / total:.2%} |")
    for text in dropped_texts:
        print(f"\n- dropped: {text}")
    answers, missing = other_models_answers(data)
    absent += missing
    print("\n## Claims not in answers of other models, dropped (should be all)\n")
    print("| answers of | answers | example claim dropped | claim-like sentences of another answer | dropped | rate |")
    print("|---|---|---|---|---|---|")
    split = [(model, source, question, split_sentences(answer)) for model, source, question, answer in answers]
    by_source: dict[tuple[str, str], list[list[str]]] = {}
    for model, source, _question, sentences in split:
        by_source.setdefault((model, source), []).append(sentences)
    per_model: dict[str, list[int]] = {}
    for model, source, question, sentences in split:
        if not sentences:
            continue
        tally = per_model.setdefault(model, [0, 0, 0, 0])
        _, out = split_grounded([Claim(text=STRAY, sentence=0)], sentences, question)
        tally[0] += 1
        tally[1] += len(out)
        others = [o for o in by_source[(model, source)] if o is not sentences and o]
        other = rng.choice(others)
        foreign = [Claim(text=t, sentence=min(i, len(sentences) - 1)) for i, t in enumerate(other)
                   if len(terms(t).words) >= MIN_CLAIM_WORDS]
        _, out = split_grounded(foreign, sentences, question)
        tally[2] += len(foreign)
        tally[3] += len(out)
    for model, (n, example, moved, moved_dropped) in per_model.items():
        print(f"| {model} | {n} | {example} of {n} | {moved} | {moved_dropped} | {moved_dropped / moved:.2%} |")
    for path in absent:
        print(f"\n(skipped: {data / path} is absent; see the SOURCE.md of its folder)")


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
    report_other_models(Path(args.data_dir), random.Random(0))
    print(f"\n(wall {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
