import asyncio
import re

from factbench.judges.builtin import VERIFY_TERNARY
from factbench.judges.templates import verify_template
from factbench.llm.client import LLMClient, RoleSpec
from factbench.stages.verify import batches, claim_evidence, claim_groups, verify_claims
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


def test_a_claims_own_passages_come_from_its_ranked_list_alone():
    passages = [Passage(text="w" * 400, title="A"), Passage(text="x " * 200, title="B"),
                Passage(text="short one", title="C"), Passage(text="short two", title="D")]
    # its best always (101 tokens), then each next one that still fits the allowance
    assert claim_evidence([0, 1, 2, 3], passages, allowance=150, max_passages=5) == [0, 2, 3]
    assert claim_evidence([0, 1, 2, 3], passages, allowance=150, max_passages=2) == [0, 2]
    assert claim_evidence([1, 0], passages, allowance=50) == [1]  # the best even over the allowance
    assert claim_evidence([], passages) == []


def test_a_lower_ranked_near_copy_of_a_claims_passage_is_skipped():
    quote = "Ada Lovelace wrote the first published algorithm for the Analytical Engine in 1843"
    passages = [Passage(text=f"{quote} (Wikipedia).", title="W"), Passage(text=f"{quote} (Britannica).", title="B"),
                Passage(text="Lovelace was the daughter of Lord Byron.", title="W")]
    assert claim_evidence([0, 1, 2], passages, allowance=10_000) == [0, 2]
    assert claim_evidence([1, 0], passages, allowance=10_000) == [1]


def test_claims_are_grouped_by_shared_passages_and_the_rest_in_one_group_when_it_fits():
    passages = [Passage(text="p" * 400, title=str(i)) for i in range(5)]  # 101 tokens each
    own = [[0], [1], [0, 2], [3], [0], [1, 4]]
    assert claim_groups(own, passages, 1000) == [list(range(6))]  # all fit: one group
    # 250 tokens: passage 0 serves three claims, so its claims come first (with passage 2), then
    # passage 1's; the remainder (passages 1, 3, 4) does not fit, so it is grouped again
    assert claim_groups(own, passages, 250) == [[0, 2, 4], [1, 5], [3]]
    assert claim_groups([[0, 1, 2], [3]], passages, 150) == [[1], [0]]  # over the budget alone: a group of its own
    assert claim_groups([[], [0], [1]], passages, 150) == [[0, 1], [2]]  # nothing retrieved: joins the first


def _verify_prompts(server) -> list[str]:
    return [b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "verify"]


def test_each_claim_names_its_own_passages_and_several_calls_share_one_block(server):
    passages = [Passage(text=f"Passage {i} " + "word " * 60, title=f"T{i}") for i in range(8)]
    per_claim = [[i % 8, (i + 1) % 8, (i + 2) % 8] for i in range(7)]
    claims, evidence = _records(7, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    rec = asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, claims_per_call=3,
                                    evidence_tokens=2000, question="Tell me about things."))
    assert rec.labels == ["supported", "supported", "supported", "unverifiable", "supported", "supported", "supported"]
    prompts = _verify_prompts(server)
    assert len(prompts) == 3  # 7 claims in calls of at most 3: 2, 2, 3
    # several calls judge against one block: it comes first, so all three share it as their prefix
    prefixes = {p.split("Claims:")[0] for p in prompts}
    assert len(prefixes) == 1 and all(p.startswith("Passages:\n<passages>") for p in prompts)
    block = prefixes.pop()
    assert "<question>\nTell me about things." in block
    numbers = dict(re.findall(r"\[(P\d+)\] T\d+: Passage (\d+) ", block))
    # every claim is numbered by its place in the answer and names its own passages: the best two
    # of its three (66 tokens each: the cap of two, not the token allowance, ends them)
    lines = [ln for p in prompts for ln in p.split("<claims>\n")[1].split("\n</claims>")[0].splitlines()]
    for line in lines:
        n, refs = re.fullmatch(r"(\d+)\. Fact .*\[(.*)\]", line).groups()
        assert [int(numbers[r]) for r in refs.split(", ")] == per_claim[int(n) - 1][:2]
    assert server.state.log[-1]["response_format"]["json_schema"]["schema"] == verify_template("ternary", True).schema
    # one call for all claims: question and claims first, the block last (the informativeness call
    # about these claims shares everything before the block)
    server.state.log.clear()
    asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, evidence_tokens=2000, question="Q?"))
    (single,) = _verify_prompts(server)
    assert single.startswith("<question>\nQ?") and single.index("</claims>") < single.index("<passages>")


def test_a_claims_label_depends_on_its_own_passages_not_on_the_claims_beside_it(server):
    passages = [Passage(text=f"Passage {i} " + "word " * 60, title=f"T{i}") for i in range(4)]
    # claim 2 retrieved nothing: it has no passage of its own, whatever its neighbours retrieved
    per_claim = [[0, 1], [1, 2], [], [3]]
    claims, evidence = _records(4, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    together = asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, question="Q?"))
    assert together.labels == ["supported", "supported", "unverifiable", "unverifiable"]  # 3 "perhaps"; 2 [none]
    assert "3. Fact 2. [none]" in _verify_prompts(server)[-1]
    alone = []
    for i in range(4):  # each claim judged in an answer of its own: the same passages, the same label
        one, ev = _records(4, per_claim, passages)
        one.claims[:] = [one.claims[i]]
        ev.per_claim[:] = [per_claim[i]]
        alone.append(asyncio.run(verify_claims(client, one, ev, judge=VERIFY_TERNARY, question="Q?")).labels[0])
    assert alone == together.labels


def test_new_template_and_parser_versions():
    assert verify_template("ternary", True).id.startswith("verify-ternary-evidence-v4+")
    assert VERIFY_TERNARY.id.endswith("+parser2")


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
            sent.append((n, labels["pattern"]))
    assert sorted(sent) == [(2, "^[SUN]{2}$"), (2, "^[SUN]{2}$"), (3, "^[SUN]{3}$")]  # 7 claims, calls of <= 3


def test_the_informativeness_calls_share_each_verification_prompt_up_to_the_claims(server):
    from factbench.stages.informativeness import weigh_claims

    passages = [Passage(text=f"Passage {i} " + "word " * 80, title=f"T{i}") for i in range(4)]
    per_claim = [[0], [1], [0], [2], [1], [3]]  # 105 tokens each: 250 tokens hold two passages
    claims, evidence = _records(6, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, evidence_tokens=250, question="Q?"))
    informativeness = asyncio.run(weigh_claims(client, "Q?", claims, evidence, evidence_tokens=250))
    assert informativeness.classes == ["informative"] * 6
    verify = sorted(_verify_prompts(server))
    classify = sorted(b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "informativeness")
    assert len(verify) == len(classify) == 2
    # the groups follow the passages that serve most claims: claims 1, 3 (passage 0) with 2, 5
    # (passage 1); then the rest, whose passages fit
    assert "<claims>\n1. Fact 0. [P1]\n2. Fact 1. [P2]\n3. Fact 2. [P1]\n5. Fact 4. [P2]\n</claims>" in verify[0]
    assert "<claims>\n4. Fact 3 perhaps. [P1]\n6. Fact 5. [P2]\n</claims>" in verify[1]
    for v, c in zip(verify, classify):
        shared = v[:v.index("</claims>") + len("</claims>")]
        assert c.startswith(shared) and "<passages>" not in c
    # the second call classifies claims 4 and 6 with the earlier claims it does not hold as context
    context = classify[1].split("Earlier claims")[1]
    assert "3. Fact 2." in context and "5. Fact 4." in context and "4. Fact 3" not in context
