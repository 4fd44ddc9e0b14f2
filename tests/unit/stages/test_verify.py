import asyncio
import re

from factbench.judges.builtin import VERIFY_TERNARY
from factbench.judges.templates import verify_template
from factbench.llm.client import LLMClient, RoleSpec
from factbench.stages.verify import batches, claim_groups, pool_evidence, verify_claims
from factbench.store.records import Claim, ClaimsRecord, EvidenceRecord, Passage
from factbench.testing.scripted_server import request_kind


def _records(n_claims: int, per_claim: list[list[int]], passages: list[Passage]):
    claims = ClaimsRecord(task="t", id="x", abstained=False, sentences=[], extractor="e",
                          claims=[Claim(text=f"Fact {i} perhaps." if i % 4 == 3 else f"Fact {i}.", sentence=i)
                                  for i in range(n_claims)])
    return claims, EvidenceRecord(task="t", id="x", backend="b", passages=passages, per_claim=per_claim)


def test_batches_are_even_and_cover_the_group():
    assert [len(b) for b in batches(range(0, 31), 30)] == [15, 16]
    assert [len(b) for b in batches(range(5, 12), 30)] == [7]
    assert batches(range(0, 0), 30) == []


def test_claims_split_into_groups_only_when_their_best_passages_exceed_the_budget():
    passages = [Passage(text="p" * 400, title=str(i)) for i in range(4)]  # 101 tokens each
    assert claim_groups([[0, 1], [0, 2], [1], [3]], passages, 1000) == [range(0, 4)]
    assert claim_groups([[0, 1], [0, 2], [1], [3]], passages, 150) == [range(0, 2), range(2, 3), range(3, 4)]


def test_an_answers_calls_show_one_evidence_block_and_every_claim_keeps_its_best_passage(server):
    passages = [Passage(text=f"Passage {i} " + "word " * 60, title=f"T{i}") for i in range(8)]
    per_claim = [[i % 8, (i + 1) % 8, (i + 2) % 8] for i in range(7)]
    claims, evidence = _records(7, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    rec = asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, claims_per_call=3,
                                    evidence_tokens=2000, question="Tell me about things."))
    assert rec.labels == ["supported", "supported", "supported", "unverifiable", "supported", "supported", "supported"]
    prompts = [b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "verify"]
    assert len(prompts) == 3  # 7 claims in calls of at most 3: 2, 2, 3
    # several calls judge against one block: it comes first, so all three share it as their prefix
    prefixes = {p.split("Claims:")[0] for p in prompts}
    assert len(prefixes) == 1 and all(p.startswith("Passages:\n<passages>") for p in prompts)
    block = prefixes.pop()
    assert "<question>\nTell me about things." in block
    assert all(f"Passage {ids[0]} " in block for ids in per_claim)
    # claims are numbered by their place in the answer: the third call judges claims 5 to 7
    assert sorted(p[p.index("<claims>"):].split("\n")[1] for p in prompts)[-1].startswith("5. ")
    assert server.state.log[-1]["response_format"]["json_schema"]["schema"] == verify_template("ternary", True).schema
    # one call for all claims: question and claims first, the block last (the informativeness call
    # about these claims shares everything before the block)
    server.state.log.clear()
    asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, evidence_tokens=2000, question="Q?"))
    (single,) = [b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "verify"]
    assert single.startswith("<question>\nQ?") and single.index("</claims>") < single.index("<passages>")


def test_new_template_ids():
    assert verify_template("ternary", True).id.startswith("verify-ternary-evidence-v3+")


def test_a_block_holds_every_claims_best_passage_before_any_second_and_caps_passages():
    passages = [Passage(text=f"snippet {i}", title="T") for i in range(20)]
    per_claim = [[0, 10, 11], [1, 12, 13], [0, 14, 15]]
    texts = [t for _, t in pool_evidence(per_claim, passages, budget_tokens=10_000, max_passages=4)]
    assert texts == ["snippet 0", "snippet 1", "snippet 10", "snippet 12"]  # both best ones, then rank 2
    assert len(pool_evidence(per_claim, passages, budget_tokens=10_000)) == 8  # no cap: all, deduplicated


def test_a_lower_ranked_near_copy_of_a_passage_in_the_block_is_skipped():
    quote = "Ada Lovelace wrote the first published algorithm for the Analytical Engine in 1843"
    passages = [Passage(text=f"{quote} (Wikipedia).", title="W"), Passage(text=f"{quote} (Britannica).", title="B"),
                Passage(text="Lovelace was the daughter of Lord Byron.", title="W"),
                Passage(text=f"{quote}.", title="C")]
    texts = [t for _, t in pool_evidence([[0, 1, 2], [3, 1]], passages, budget_tokens=10_000)]
    # both claims keep their best passage, even the near copy that is claim 2's best; the copy at rank 2 is skipped
    assert texts == [passages[0].text, passages[3].text, passages[2].text]


def test_with_item_counts_each_verification_call_fixes_its_label_count(server):
    passages = [Passage(text=f"Passage {i}.", title=f"T{i}") for i in range(3)]
    claims, evidence = _records(7, [[i % 3] for i in range(7)], passages)
    spec = RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,), schema_item_counts=True)
    rec = asyncio.run(verify_claims(LLMClient(spec, None), claims, evidence, judge=VERIFY_TERNARY, claims_per_call=3,
                                    evidence_tokens=2000))
    assert all(rec.labels)
    sent = []
    for body in server.state.log:
        if request_kind(body) == "verify":
            n = len(re.findall(r"^\d+\. ", body["messages"][1]["content"].split("<claims>")[1], re.MULTILINE))
            labels = body["response_format"]["json_schema"]["schema"]["properties"]["labels"]
            sent.append((n, labels["minItems"], labels["maxItems"]))
    assert sorted(sent) == [(2, 2, 2), (2, 2, 2), (3, 3, 3)]  # 7 claims in calls of at most 3
