import asyncio
import json
import os

from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.judges.templates import extraction_messages, verification_messages, verify_template
from factbench.testing.gpu_model import GpuModel, LatencyModel, approx_tokens, render_prompt
from factbench.testing.scripted_server import ScriptedServer, ScriptedState, scripted_content

# The scripted judge's labels on the answers it writes for six LongFact-style prompts, recorded
# before the judge formats became compact: they must not change.
PINNED = [["topic0-00", ["unverifiable", "supported", "unsupported", "supported", "supported", "unverifiable", "unsupported", "supported"]], ["topic0-01", ["supported", "supported", "supported", "supported", "supported", "supported", "supported", "supported"]], ["topic0-02", ["supported", "supported", "supported", "unverifiable", "unsupported", "supported", "unverifiable", "supported"]], ["topic1-00", ["supported", "supported", "supported", "supported", "supported", "supported", "unverifiable", "unsupported"]], ["topic1-01", ["supported", "supported", "supported", "supported", "supported", "supported", "supported", "supported"]], ["topic1-02", ["supported", "supported", "unverifiable", "supported", "supported", "supported", "supported", "unverifiable"]]]


def test_labels_on_the_scripted_answers_are_pinned(tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=3)
    with ScriptedServer(ScriptedState(answer_sentences=8)) as srv:
        assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                     "--run-id", "p", "--no-relevance"] + role_args(srv.base_url)) == 0
    rows = [json.loads(x) for x in (tmp_path / "p" / "verdicts.jsonl").read_text().splitlines()]
    assert sorted([r["id"], r["labels"]] for r in rows) == PINNED


def test_scripted_judge_answers_in_the_compact_formats():
    claims = ["Records from Atlantis mention X in entry 0.", "Perhaps X was noted by scholars in period 1.",
              "X is documented in source 2 of the archive.", "X was perhaps born in Atlantis.", "I think X is great."]
    verify = {"messages": verification_messages(verify_template("ternary", True), [("T", "text")], claims)}
    assert json.loads(scripted_content(verify, ScriptedState())) == {"labels": "UNSUS"}  # one letter per claim
    # judged on its own passages only: a claim with none, or whose passages do not state it, is unverifiable
    own = {"messages": verification_messages(verify_template("ternary", True), [("T", "text"), ("U", "other")],
                                             claims[1:], refs=[[1], [2], [1, 2], []])}
    assert json.loads(scripted_content(own, ScriptedState())) == {"labels": "NSUN"}
    picky = ScriptedState(supports=lambda claim, texts: "other" in texts)  # the texts shown for the claim
    assert json.loads(scripted_content(own, picky)) == {"labels": "NSUN"}
    assert json.loads(scripted_content({"messages": verification_messages(
        verify_template("ternary", True), [("T", "text"), ("U", "other")], claims[2:3], refs=[[1]])}, picky)) == \
        {"labels": "N"}
    extract = {"messages": extraction_messages("Q?", [], [(i + 1, c) for i, c in enumerate(claims)], [])}
    # a sentence that is its own one claim is written "=", not copied
    assert json.loads(scripted_content(extract, ScriptedState())) == {"claims": ["="] * 4 + [[]]}


def _serve(gpu: GpuModel, *requests: tuple[str, str, int]) -> None:
    async def go():
        for kind, prompt, out in requests:
            await gpu.serve(kind, prompt, out)
    asyncio.run(go())


def test_gpu_model_prefill_decode_and_floor():
    gpu = GpuModel(LatencyModel(prefill_tokens_per_s=1000, decode_tokens_per_s=100, max_seqs=2, speed=1e9))
    prompt = "x" * 4000  # 1,000 tokens
    _serve(gpu, ("a", prompt, 50), ("b", "y" * 400, 300))
    assert gpu.prefill_s == gpu.prefill_s_uncached == 1.1  # 1,000 + 100 tokens at 1,000 tokens/s
    assert gpu.decode_s == 3.5  # 350 tokens at 100 tokens/s per sequence
    assert gpu.floor_s() == max(1.1, (1.1 + 3.5) / 2)  # here the two slots are the limit


def test_prefix_cache_counts_whole_16_token_blocks_seen_before():
    gpu = GpuModel(LatencyModel(prefill_tokens_per_s=1000, speed=1e9))
    shared = [{"role": "system", "content": "s" * 1000}, {"role": "user", "content": "passages " * 100}]
    first = render_prompt(shared + [{"role": "user", "content": "claim one"}])
    second = render_prompt(shared + [{"role": "user", "content": "claim two, longer"}])
    _serve(gpu, ("verify", first, 10), ("verify", second, 10))
    common = len(os.path.commonprefix([first, second]))
    assert gpu.by_kind["verify"].cached_tokens == (common // 64) * 16  # full 64-character blocks only
    assert gpu.prefill_s < gpu.prefill_s_uncached
    assert gpu.prefill_s_uncached == (approx_tokens(first) + approx_tokens(second)) / 1000
    off = GpuModel(LatencyModel(prefill_tokens_per_s=1000, prefix_cache=False, speed=1e9))
    _serve(off, ("verify", first, 10), ("verify", second, 10))
    assert off.by_kind["verify"].cached_tokens == 0 and off.prefill_s == off.prefill_s_uncached
