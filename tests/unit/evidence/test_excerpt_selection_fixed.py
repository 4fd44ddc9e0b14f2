"""What each claim is shown, pinned, and the same under any hash seed: the excerpts chosen for the benchmark's realistic biographies
(topic pages, and the same pages quoted again under other titles, whose repeated sentences count
once) hash to the digest recorded when the selection rule was written. Work on the speed of the
selection must leave every claim's excerpts byte-identical; a deliberate change of the rule
bumps EXCERPT_LAYOUT and records the new digest here."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import bio_world  # noqa: E402

from factbench.stages import verify  # noqa: E402
from factbench.store.records import Passage  # noqa: E402

RULE_1_DIGEST = "f170c207666d71ac45f3a802321d7ee11fd012419abc844dee94745db40b6e76"


def _selections() -> list[list[tuple[str, str]]]:
    out = []
    for i in range(12):
        person = bio_world.realistic_person(i)
        passages = [Passage(title=person.name, text=p) for p in person.paragraphs]
        passages += [Passage(title=f"{person.name} - site {k}", text=p) for k, p in enumerate(person.paragraphs[:4])]
        for k, claim in enumerate(person.answer):
            ranked = list(range(len(passages)))
            random.Random(f"{i}-{k}").shuffle(ranked)
            out.append(verify.claim_excerpts(claim, ranked, passages))
            out.append(verify.claim_excerpts(claim, ranked[:5], passages, allowance=200, max_excerpts=4))
    return out


def test_every_claims_excerpts_are_those_of_rule_1() -> None:
    assert verify.EXCERPT_LAYOUT == "1"
    selections = _selections()
    assert sum(len(s) for s in selections) > len(selections)  # claims are shown more than one excerpt
    assert hashlib.sha256(repr(selections).encode()).hexdigest() == RULE_1_DIGEST


def test_excerpts_do_not_depend_on_the_hash_seed() -> None:
    """A claim's excerpts key its memoised verdict across runs, so they must not follow the order
    a process happens to iterate a set of terms in (scores summed in another order tie differently)."""
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import hashlib; "
              "import test_excerpt_selection_fixed as t; "
              "print(hashlib.sha256(repr(t._selections()).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2", "3")}
    assert digests == {RULE_1_DIGEST}
