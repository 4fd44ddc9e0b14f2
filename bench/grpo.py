"""GRPO benchmark: what the verdict memo saves when a trainer scores groups of rollouts.

Workload (bench/bio_world.py): 10 prompts ("Tell me a bio of NAME."), 8 rollouts each; every
rollout is a subset (18 to 22 of 25) of one biography's sentences in a new order, scored through
`Scorer.score_sync` in one call of 80 answers, as GRPO does, against the scripted judge over real
HTTP with the GPU model of bench/throughput.py (70B-class judge on one H100, prefix caching).

Scenarios, each with knowledge-only judging (the Scorer's default) and with corpus evidence
(`corpus:DB`, whole-corpus BM25 over the ten people's articles):

- **group**: with the memo against without it (each answer judged on its own): judge tokens
  spent on verification and classification (input + output) per claim occurrence (target: at
  least 3x lower with the memo), extraction tokens, requests and GPU-s per rollout;
- **paraphrase**: the rollouts word each sentence in one of three ways, so the group shares
  facts but few claim texts (reported, no target: the memo matches claims after normalising case,
  whitespace and punctuation only);
- **checkpoints**: two consecutive checkpoints whose rollouts draw on pools sharing 70% of their
  sentences, scored one after the other on one memo: the second's verification and
  classification tokens against the first's (target: at most 40%).

Every rollout's reward with the memo is compared with its reward scored without it (the scripted
judge is deterministic): they must be identical.

    python bench/grpo.py                 # part of `make bench`
    python bench/grpo.py --evidence none # knowledge-only judging alone
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bio_world  # noqa: E402

from factbench.reward import Scorer  # noqa: E402
from factbench.testing.gpu_model import LatencyModel  # noqa: E402
from factbench.testing.scripted_server import ScriptedServer, ScriptedState  # noqa: E402

JUDGING = ("verify", "informativeness")
MEMO_WINDOW_S = 0.5  # the new claims of answers in flight share calls (the Scorer's default is 0: docs/reward.md)
WORDINGS = ("{s}", "Records show that {l}", "It is documented that {l}")


def _lower_first(sentence: str) -> str:
    return sentence[0].lower() + sentence[1:] if sentence[:2].isupper() is False else sentence


def groups(people: list, pools: list[list[str]], n: int, seed: int, paraphrase: bool = False,
           sentences: list | None = None) -> tuple[list, list]:
    """(prompts, rollouts): `n` rollouts per person, each a reordered subset of its pool (each
    rollout's sentences appended to `sentences` when given)."""
    rng = random.Random(seed)
    prompts, rollouts = [], []
    for person, pool in zip(people, pools):
        for _ in range(n):
            picked = rng.sample(pool, min(len(pool), rng.randint(18, 22)))
            if paraphrase:
                picked = [rng.choice(WORDINGS).format(s=s, l=s) for s in picked]
            prompts.append(f"Tell me a bio of {person.name}.")
            rollouts.append(" ".join(picked))
            if sentences is not None:
                sentences.append(picked)
    return prompts, rollouts


def block_against_own(people: list, prompts: list[str], sentences: list[list[str]], evidence: str) -> dict:
    """Whether each claim's source sentence is in the evidence block of its verification call (the
    excerpts of all the claims of its group) and among the claim's own excerpts (what it is told to
    judge it on, and what the memo's key holds): a judge that read the whole block would label a
    true claim supported whenever its source is there, so the claims where the two differ are the
    labels a sibling claim's evidence could move."""
    import asyncio

    from factbench.evidence.backends import open_backend
    from factbench.stages.evidence import retrieve_evidence
    from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS, verification_calls
    from factbench.tasks import Prompt

    sources = {s: f.article for p in people for s, f in zip(p.answer, p.sources) if f is not None}

    async def measure() -> dict:
        backend = open_backend(evidence, None)
        counts = {"claims": 0, "block": 0, "own": 0, "only_block": 0, "only_own": 0}
        try:
            for k, (question, claims) in enumerate(zip(prompts, sentences)):
                ev = await retrieve_evidence(backend, "reward", Prompt(id=f"r{k}", text=question), claims)
                for call in verification_calls(list(range(len(claims))), ev, True, DEFAULT_CLAIMS_PER_CALL,
                                               DEFAULT_EVIDENCE_TOKENS, claims=claims):
                    shown = " ".join(text for _, text in call.passages)
                    for k, i in enumerate(call.claims):
                        source = sources.get(claims[i])
                        if source is None:
                            continue  # a wrong or hedged fact: not supported whatever is shown
                        own = source in " ".join(call.passages[r - 1][1] for r in (call.refs or [[]] * len(call.claims))[k])
                        block = source in shown
                        counts["claims"] += 1
                        counts["block"] += block
                        counts["own"] += own
                        counts["only_block"] += block and not own
                        counts["only_own"] += own and not block
        finally:
            await backend.aclose()
        return counts

    return asyncio.run(measure())


def second_pools(people: list, pools: list[list[str]], share: float, seed: int) -> list[list[str]]:
    """Each pool with (1 - share) of its sentences replaced by other facts of the same person."""
    rng = random.Random(seed)
    out = []
    for person, pool in zip(people, pools):
        keep = rng.sample(pool, round(share * len(pool)))
        spare = [a for f in person.facts for a in f.atoms if a not in pool]
        out.append(keep + rng.sample(spare, len(pool) - len(keep)))
    return out


def score(url: str, cache: Path, evidence: str, prompts: list[str], rollouts: list[str], memo: bool) -> list:
    with Scorer(judge="openai/judge", judge_base_url=url, evidence=evidence, cache=str(cache), memo=memo,
                memo_window=MEMO_WINDOW_S, preflight=False) as scorer:
        results = scorer.score_sync(prompts, rollouts)
        stats = scorer.stats().get("memo")
    return [results, stats]


def measured(state: ScriptedState, results: list, rollouts: int) -> dict:
    assert state.gpu is not None
    stats = state.gpu.stats()
    kinds = stats["by_kind"]
    occurrences = sum(r.n_claims for r in results)
    tokens = lambda names: sum(kinds[k]["input_tokens"] + kinds[k]["output_tokens"] for k in names if k in kinds)  # noqa: E731
    prefilled = sum(kinds[k]["input_tokens"] - kinds[k]["cached_tokens"] + kinds[k]["output_tokens"]
                    for k in JUDGING if k in kinds)
    return {"occurrences": occurrences, "judging_tokens": tokens(JUDGING), "judging_prefilled": prefilled,
            "judging_requests": sum(kinds[k]["requests"] for k in JUDGING if k in kinds),
            "judging_per_claim": tokens(JUDGING) / max(1, occurrences),
            "verify_per_claim": tokens(("verify",)) / max(1, occurrences),
            "extract_per_rollout": tokens(("extract",)) / rollouts,
            "requests_per_rollout": sum(k["requests"] for k in kinds.values()) / rollouts,
            "judging_requests_per_rollout": sum(kinds[k]["requests"] for k in JUDGING if k in kinds) / rollouts,
            "gpu_s_per_rollout": stats["floor_s"] / rollouts,
            "gpu_s_uncached_per_rollout": stats["floor_s_uncached"] / rollouts}


def run(latency: LatencyModel, cache: Path, evidence: str, prompts: list[str], rollouts: list[str],
        memo: bool) -> tuple[dict, list, dict | None]:
    """One scoring pass on a fresh simulated GPU; its figures, results and memo counts."""
    with ScriptedServer(ScriptedState(latency=latency, keep_log=False)) as server:
        t0 = time.perf_counter()
        results, stats = score(server.base_url, cache, evidence, prompts, rollouts, memo)
        figures = measured(server.state, results, len(rollouts))
        figures["wall_s"] = time.perf_counter() - t0
    return figures, results, stats


def same_rewards(a: list, b: list) -> int:
    """How many rollouts differ in reward, status or claim labels and classes."""
    key = lambda r: (r.status, r.reward, [(c.label, c.informativeness) for c in r.claims])  # noqa: E731
    return sum(1 for x, y in zip(a, b) if key(x) != key(y))


def _line(name: str, f: dict) -> str:
    return (f"  {name:<34} {f['judging_per_claim']:7.1f} tok/claim  extraction {f['extract_per_rollout']:6.0f} tok  "
            f"requests {f['requests_per_rollout']:4.2f} (judging {f['judging_requests_per_rollout']:4.2f})  "
            f"GPU-s {f['gpu_s_per_rollout']:.3f} ({f['gpu_s_uncached_per_rollout']:.3f} uncached)  per rollout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--evidence", choices=("none", "corpus", "both"), default="both")
    parser.add_argument("--share", type=float, default=0.7, help="sentences the two checkpoints share")
    parser.add_argument("--speed", type=float, default=200.0, help="divide simulated latency by this (tokens and "
                                                                   "GPU-s do not depend on it)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args()
    latency = LatencyModel(prefill_tokens_per_s=5000.0, decode_tokens_per_s=50.0, max_seqs=64, prefix_cache=True,
                           speed=args.speed)
    people = [bio_world.person(i, 25) for i in range(args.prompts)]
    pools = [list(p.answer) for p in people]
    sentences: list = []
    prompts, rollouts = groups(people, pools, args.rollouts, seed=1, sentences=sentences)
    para_prompts, para_rollouts = groups(people, pools, args.rollouts, seed=1, paraphrase=True)
    later_prompts, later_rollouts = groups(people, second_pools(people, pools, args.share, seed=2), args.rollouts, seed=3)
    print(f"\nfactbench GRPO benchmark: {args.prompts} prompts x {args.rollouts} rollouts, each 18-22 of one biography's "
          f"25 sentences reordered; simulated 70B judge on one H100 (bench/throughput.py's GPU model)")
    failures = []
    kinds = ("none", "corpus") if args.evidence == "both" else (args.evidence,)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        from factbench.evidence.corpus import PassageStore

        PassageStore.build(root / "corpus.db", ((p.name, p.paragraphs) for p in people))
        for kind in kinds:
            evidence = "none" if kind == "none" else f"corpus:{root / 'corpus.db'}"
            print(f"\nevidence: {evidence if kind == 'none' else 'corpus:DB (whole-corpus BM25)'}")
            alone, alone_results, _ = run(latency, root / f"{kind}-alone.sqlite", evidence, prompts, rollouts, False)
            group, group_results, stats = run(latency, root / f"{kind}-group.sqlite", evidence, prompts, rollouts, True)
            ratio = alone["judging_per_claim"] / group["judging_per_claim"]
            differ = same_rewards(alone_results, group_results)
            print(f"  {'claim occurrences':<34} {group['occurrences']}  (distinct claims judged: "
                  f"{stats['verdicts_misses']} verified; "
                  f"memo hits {stats['verdicts_hits']}, waits {stats['verdicts_waits']})")
            print(_line("each answer alone (no memo)", alone))
            print(_line("the group, with the memo", group))
            print(f"  verification tokens per claim occurrence: {alone['verify_per_claim']:.1f} -> "
                  f"{group['verify_per_claim']:.1f} ({alone['verify_per_claim'] / group['verify_per_claim']:.2f}x lower)")
            print(f"  verification + classification tokens per claim occurrence: {ratio:.2f}x lower "
                  f"(target >= 3x: {'met' if ratio >= 3 else 'NOT met'}); rollouts whose reward or labels differ "
                  f"from scoring them alone: {differ} of {len(rollouts)}")
            if ratio < 3:
                failures.append(f"{kind}: group saving {ratio:.2f}x < 3x")
            if differ:
                failures.append(f"{kind}: {differ} rollouts differ from scoring alone")

            if kind == "corpus":
                c = block_against_own(people, prompts, sentences, evidence)
                print(f"  soundness: of {c['claims']} occurrences of true claims, the source sentence is in the "
                      f"evidence block of the claim's call for {c['block']} and among the claim's own excerpts for "
                      f"{c['own']}: {c['only_block']} are shown their source only through a sibling claim's "
                      f"excerpts (a judge reading the whole block would call them supported)")

            p_alone, _, _ = run(latency, root / f"{kind}-p-alone.sqlite", evidence, para_prompts, para_rollouts, False)
            p_group, _, p_stats = run(latency, root / f"{kind}-p-group.sqlite", evidence, para_prompts, para_rollouts,
                                      True)
            print(_line("paraphrases, each alone", p_alone))
            print(_line("paraphrases, the group with the memo", p_group))
            print(f"  paraphrases: {p_alone['judging_per_claim'] / p_group['judging_per_claim']:.2f}x lower "
                  f"({p_stats['verdicts_misses']} claims verified of {p_group['occurrences']} occurrences; no target)")

            memo_cache = root / f"{kind}-checkpoints.sqlite"
            first, _, _ = run(latency, memo_cache, evidence, prompts, rollouts, True)
            second, _, c_stats = run(latency, memo_cache, evidence, later_prompts, later_rollouts, True)
            share = second["judging_tokens"] / first["judging_tokens"]
            verify_share = second["verify_per_claim"] * second["occurrences"] / (first["verify_per_claim"] *
                                                                                 first["occurrences"])
            print(_line("checkpoint 1", first))
            print(_line(f"checkpoint 2 ({args.share:.0%} of sentences shared)", second))
            print(f"  checkpoint 2's verification + classification tokens: {share:.1%} of checkpoint 1's "
                  f"(target <= 40%: {'met' if share <= 0.4 else 'NOT met'}; memo hits {c_stats['verdicts_hits']}, "
                  f"misses {c_stats['verdicts_misses']}; {second['judging_requests']} judging requests against "
                  f"{first['judging_requests']}); prefilled with prefix caching (input less the cached prefix, "
                  f"+ output): {second['judging_prefilled'] / first['judging_prefilled']:.1%}; verification "
                  f"tokens alone: {verify_share:.1%}")
            if share > 0.4:
                failures.append(f"{kind}: second checkpoint {share:.1%} > 40%")
    if failures:
        print("\ntargets not met: " + "; ".join(failures))
        if args.strict:
            sys.exit(1)


if __name__ == "__main__":
    main()
