"""The verdict memo against the scripted judge over real HTTP: the rollouts of one prompt judge each
distinct claim once, judgements are reused across evaluate() calls and between a run and a Scorer,
a changed judge or evidence never reuses one, a killed writer leaves no torn entry, and two
processes scoring one group agree."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import traceback
from collections import Counter
from pathlib import Path

from conftest import role_args, write_longfact_fixture

import factbench
from factbench.cli.main import main
from factbench.evidence.corpus import PassageStore
from factbench.llm.cache import check_cache_file
from factbench.llm.memo import VerdictMemo, memo_path, normalise_claim
from factbench.reward import Scorer
from factbench.testing.extra_kinds import block, blocks, numbered
from factbench.testing.scripted_server import ScriptedServer, ScriptedState, request_kind, scripted_content

QUESTION = "Tell me about Ada Quill."
SENTENCES = [
    "Ada Quill was born in Tarrow in 1901.",
    "Ada Quill studied chemistry at Lenfield College.",
    "Records from Atlantis mention Ada Quill as a sailor.",
    "Ada Quill married Tomas Brinn in 1930.",
    "Perhaps Ada Quill kept a diary of her travels.",
    "Ada Quill founded the Tarrow Glass Works in 1934.",
    "Ada Quill won the Merrit Prize in 1951.",
    "Ada Quill died in Lenfield in 1977.",
    "Ada Quill wrote three books on glass making.",
    "Ada Quill taught at Lenfield College for twenty years.",
]


def rollouts(n: int = 8, seed: int = 3) -> list[str]:
    """A GRPO group: each rollout a subset (6 of 10) of one biography's sentences, reordered; two of
    them differ from others only in case and punctuation, which the memo ignores."""
    rng = random.Random(seed)
    out = [" ".join(rng.sample(SENTENCES, 6)) for _ in range(n)]
    out[-1] = out[-1].replace("Ada Quill was born", "ADA QUILL was born").replace("in 1901.", "in 1901 !")
    return out


def judged_claims(server, kind: str = "verify") -> Counter[str]:
    """Each claim text the judge was asked about in requests of `kind`, counted."""
    asked: Counter[str] = Counter()
    for body in server.state.log:
        if request_kind(body) != kind:
            continue
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        asked.update(text for _, text in numbered(blocks(user, "claims")))
    return asked


def labels_and_rewards(results) -> list:
    return [(r.status, r.reward, [(c.text, c.label, c.informativeness) for c in r.claims]) for r in results]


def test_a_group_verifies_and_classifies_each_distinct_claim_once(server, tmp_path):
    group = rollouts()
    with Scorer(judge="openai/judge", judge_base_url=server.base_url) as scorer:
        together = scorer.score_sync([QUESTION] * len(group), group)
        stats = scorer.stats()["memo"]
    verified, classified = judged_claims(server), judged_claims(server, "informativeness")
    distinct = {normalise_claim(c.text) for r in together for c in r.claims}
    # Every distinct claim (after normalisation) reached the verifier and the classifier exactly once.
    assert all(n == 1 for n in verified.values()) and {normalise_claim(c) for c in verified} == distinct, verified
    assert len(verified) == len(distinct)
    occurrences = sum(len(r.claims) for r in together)
    assert occurrences == 6 * len(group) and len(distinct) < occurrences / 3
    assert stats["verdicts_misses"] == len(distinct)
    # Classes by content: each distinct claim sorted once too (no claim says nothing beyond another here, so
    # no answer needs a restatement call of its own).
    assert all(n == 1 for n in classified.values()) and {normalise_claim(c) for c in classified} == distinct
    assert stats["classes_misses"] == len(distinct)
    assert stats["classes_hits"] + stats["classes_waits"] + stats["classes_misses"] == occurrences
    assert stats["verdicts_hits"] + stats["verdicts_waits"] + stats["verdicts_misses"] == occurrences
    # The same rewards and labels as scoring each rollout alone, without the memo.
    server.state.log.clear()
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, memo=False, use_cache=False) as alone:
        separately = [alone.score_sync([QUESTION], [r])[0] for r in group]
        assert "memo" not in alone.stats()
    assert labels_and_rewards(together) == labels_and_rewards(separately)
    assert sum(judged_claims(server).values()) == occurrences  # without the memo: every occurrence


def _evaluate(server, data, res, run_id, **extra):
    return factbench.evaluate("longfact-objects", model="openai/test-model", model_base_url=server.base_url,
                              judge="openai/judge", judge_base_url=server.base_url, data_dir=str(data),
                              results_dir=str(res), run_id=run_id, evidence="none", progress=False, **extra)


def test_memo_hits_across_two_evaluate_calls_and_between_a_run_and_a_scorer(server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=3)
    _evaluate(server, data, tmp_path / "res", "first")
    first = json.loads((tmp_path / "res" / "first" / "summary.json").read_text())
    assert first["memo"]["verdicts_misses"] > 0 and first["memo"]["verdicts_hits"] == 0
    server.state.log.clear()
    # A second run under a new run id over the same answers: no claim reaches the judge again.
    _evaluate(server, data, tmp_path / "res", "second")
    second = json.loads((tmp_path / "res" / "second" / "summary.json").read_text())
    assert second["memo"]["verdicts_hits"] == first["memo"]["verdicts_misses"] and second["memo"]["verdicts_misses"] == 0
    assert second["memo"]["classes_misses"] == 0 and second["memo"]["classes_hits"] == first["memo"]["classes_misses"] > 0
    assert not judged_claims(server) and not judged_claims(server, "informativeness")
    assert second["overall"]["metrics"] == first["overall"]["metrics"]
    # The Scorer on the same cache takes the run's verdicts for the same question and answer.
    answers = [json.loads(line) for line in (tmp_path / "res" / "first" / "answers.jsonl").read_text().splitlines()]
    with Scorer(judge="openai/judge", judge_base_url=server.base_url) as scorer:
        results = scorer.score_sync([a["prompt"] for a in answers], [a["answer"] for a in answers])
        stats = scorer.stats()["memo"]
    assert stats["verdicts_hits"] == sum(r.n_claims for r in results) > 0 and stats["verdicts_misses"] == 0
    assert not judged_claims(server)
    # The CLI's --no-memo judges every claim again and reports no memo.
    cli = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path / "res"),
           "--run-id", "third", "--no-memo", "--no-cache"] + role_args(server.base_url)
    assert main(cli) == 0
    third = json.loads((tmp_path / "res" / "third" / "summary.json").read_text())
    assert third["memo"] is None and sum(judged_claims(server).values()) == first["memo"]["verdicts_misses"]


def _corpus(path: Path, text: str) -> str:
    PassageStore.build(path, [("Ada Quill", [text])])
    return f"corpus:{path}"


def test_a_changed_judge_template_model_or_evidence_never_reuses_a_verdict(server, tmp_path):
    answer = [" ".join(SENTENCES[:4])]
    first_corpus = _corpus(tmp_path / "a.db", "Ada Quill was born in Tarrow in 1901 and studied chemistry.")
    other_corpus = _corpus(tmp_path / "b.db", "Ada Quill was born in Tarrow in 1901; she studied chemistry.")
    settings = [dict(judge="openai/judge"), dict(judge="openai/judge"),       # the second: all from the memo
                dict(judge="openai/other-judge"),                            # another model
                dict(judge="openai/judge", verify_mode="binary"),            # another template and label set
                dict(judge="openai/judge", judge_max_tokens=999),            # other decoding
                dict(judge="openai/judge", evidence=first_corpus),           # evidence
                dict(judge="openai/judge", evidence=first_corpus),           # the same evidence: reused
                dict(judge="openai/judge", evidence=other_corpus)]           # other passages
    asked, sorted_ = [], []
    for options in settings:
        server.state.log.clear()
        with Scorer(judge_base_url=server.base_url, preflight=False, **options) as scorer:
            result = scorer.score_sync([QUESTION], answer)[0]
        assert result.status == "scored"
        asked.append(sum(judged_claims(server).values()))
        sorted_.append(sum(judged_claims(server, "informativeness").values()))
    assert asked == [4, 0, 4, 4, 4, 4, 0, 4]
    # Classes are by content: another model or decoding sorts again, and so does evidence (the judge's own
    # template differs with it); the verifier's label set and the passages do not change them.
    assert sorted_ == [4, 0, 4, 0, 4, 4, 0, 0]


_WRITER = textwrap.dedent("""
    import sys
    from factbench.llm.memo import VerdictMemo
    memo = VerdictMemo(sys.argv[1])
    batch = 0
    while True:
        memo.put_many("verdicts", {f"b{batch}-{i}": {"label": "supported", "batch": batch, "pad": "x" * 2000}
                                   for i in range(50)})
        batch += 1
        if batch == 3:
            print("writing", flush=True)
""")


def test_the_memo_survives_sigkill_without_a_torn_entry(tmp_path):
    path = tmp_path / "cache.sqlite.memo.sqlite"
    for trial in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        time.sleep(0.2 + 0.1 * trial)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert check_cache_file(path) is None  # sound: no damaged page or header
        conn = sqlite3.connect(path)
        rows = conn.execute("SELECT key, value FROM memo").fetchall()
        conn.close()
        per_batch = Counter(json.loads(value)["batch"] for _, value in rows)
        assert per_batch and set(per_batch.values()) == {50}, per_batch  # every batch whole, or absent
        reopened = VerdictMemo(path)
        assert reopened.get_many(["b0-0"])["b0-0"]["label"] == "supported"
        reopened.close()


def _score_group(url: str, cache: str, out: str, start: float) -> None:
    os.environ["FACTBENCH_CACHE"] = cache
    try:
        with Scorer(judge="openai/judge", judge_base_url=url) as scorer:
            scorer.warm_up()
            time.sleep(max(0.0, start - time.time()))  # both processes begin at once
            results = scorer.score_sync([QUESTION] * 8, rollouts())
        Path(out).write_text(json.dumps(labels_and_rewards(results)))
    except Exception:
        Path(out).write_text(json.dumps({"error": traceback.format_exc()}))
        raise


def test_two_processes_scoring_one_group_verify_each_claim_at_most_twice(server, tmp_path):
    cache = str(tmp_path / "shared-cache.sqlite")
    start = time.time() + 6
    context = mp.get_context("spawn")
    procs = [context.Process(target=_score_group, args=(server.base_url, cache, str(tmp_path / f"out{i}.json"), start))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)  # spawning imports factbench and spaCy: slow on a loaded machine
    first, second = (json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2))
    assert [p.exitcode for p in procs] == [0, 0], (first, second)
    assert first == second
    verified = judged_claims(server)
    assert verified and max(verified.values()) <= 2, verified
    assert Path(memo_path(Path(cache))).exists()


BORN, CAME_FROM, PRIZE = SENTENCES[0], "Ada Quill came from Tarrow.", SENTENCES[6]


def _restating_judge(body: dict, kind: str) -> str:
    """The scripted judge, except that its classifier says CAME_FROM says nothing beyond BORN
    whenever it sees both (among the claims or the context)."""
    if kind != "informativeness":
        return scripted_content(body, ScriptedState())
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    seen = dict((text, number) for number, text in numbered(block(user, "context")) + numbered(block(user, "claims")))
    return json.dumps({"r": [[seen[CAME_FROM], seen[BORN]]]} if CAME_FROM in seen and BORN in seen else {})


def test_restatement_stays_per_answer_when_verdicts_come_from_the_memo():
    with ScriptedServer(ScriptedState(responder=_restating_judge)) as server:
        with Scorer(judge="openai/judge", judge_base_url=server.base_url) as scorer:
            first = scorer.score_sync([QUESTION], [f"{BORN} {CAME_FROM}"])[0]
            assert [c.informativeness for c in first.claims] == ["informative", "restates"]
            server.state.log.clear()
            # Alone, the claim restates nothing: informative, its verdict from the memo.
            alone = scorer.score_sync([QUESTION], [CAME_FROM])[0]
            assert [c.informativeness for c in alone.claims] == ["informative"] and not judged_claims(server)
            assert not judged_claims(server, "informativeness")  # its class by content came from the book
            # After BORN in another answer it is a restatement again: classes are judged per answer.
            again = scorer.score_sync([QUESTION], [f"{PRIZE} {BORN} {CAME_FROM}"])[0]
            assert [c.informativeness for c in again.claims] == ["informative", "informative", "restates"]
            assert list(judged_claims(server)) == [PRIZE]
            stats = scorer.stats()["memo"]
            assert stats["verdicts_hits"] == 3
            # The book holds the pair (CAME_FROM says nothing beyond BORN), so the restatement needs no call:
            # only PRIZE, new, is sorted (with BORN shown as context: they share a year? no: nothing).
            assert judged_claims(server, "informativeness") == Counter({PRIZE: 1})


OTHER_QUESTIONS = {"Tell me about Ben Orrin.": ["Ben Orrin was born in Sallow in 1899.", "Ben Orrin built boats.",
                                                "Ben Orrin sailed to Atlantis in 1920.", "Ben Orrin died in 1960."],
                   "Tell me about Cora Vane.": ["Cora Vane painted the Harrow murals.", "Cora Vane was born in 1912.",
                                                "Perhaps Cora Vane lived in Tarrow.", "Cora Vane died in 1990."]}


def test_within_a_window_the_claims_of_several_questions_share_their_calls(server, tmp_path):
    rng = random.Random(5)
    prompts, answers = [], []
    for question, sentences in [(QUESTION, SENTENCES), *OTHER_QUESTIONS.items()]:
        for _ in range(4):
            prompts.append(question)
            answers.append(" ".join(rng.sample(sentences, 3)))
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, memo_window=0.3, use_cache=False) as scorer:
        together = scorer.score_sync(prompts, answers)
        stats = scorer.stats()["memo"]
    distinct = {normalise_claim(c.text) for r in together for c in r.claims}
    assert stats["verdicts_misses"] == stats["classes_misses"] == len(distinct)
    for kind in ("verify", "informativeness"):
        asked = judged_claims(server, kind)
        assert {normalise_claim(c) for c in asked} == distinct and max(asked.values()) == 1, (kind, asked)
        questions = [len(re.findall("<question>", next(m["content"] for m in body["messages"] if m["role"] == "user")))
                     for body in server.state.log if request_kind(body) == kind]
        assert max(questions) >= 2, (kind, questions)  # one call held claims of several questions
    server.state.log.clear()
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, memo=False, use_cache=False) as alone:
        separately = [alone.score_sync([p], [a])[0] for p, a in zip(prompts, answers)]
    assert labels_and_rewards(together) == labels_and_rewards(separately)


def test_cache_stats_shows_the_memo_and_cache_clear_empties_it(tmp_path, capsys):
    cache = tmp_path / "cache.sqlite"
    memo = VerdictMemo(memo_path(cache))
    memo.put_many("verdicts", {"k1": {"label": "supported"}, "k2": {"label": "unsupported"}})
    memo.close()
    assert main(["cache", "stats", "--cache", str(cache)]) == 0
    assert json.loads(capsys.readouterr().out)["memo"]["entries"] == 2
    assert main(["cache", "clear", "--cache", str(cache)]) == 0
    assert "removed 2 claim judgements" in capsys.readouterr().out
    assert VerdictMemo(memo_path(cache)).entries() == 0
