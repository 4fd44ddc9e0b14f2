import asyncio
import re

from factbench.judges.builtin import VERIFY_TERNARY
from factbench.judges.templates import verify_template
from factbench.llm.client import LLMClient, RoleSpec
from factbench.stages.verify import (
    batches,
    claim_evidence,
    claim_excerpts,
    claim_groups,
    passage_tokens,
    verification_calls,
    verify_claims,
)
from factbench.store.records import Claim, ClaimsRecord, EvidenceRecord, Passage
from factbench.testing.extra_kinds import claims_with_refs, passages_of
from factbench.testing.scripted_server import request_kind


def _records(n_claims: int | list[str], per_claim: list[list[int]], passages: list[Passage]):
    texts = n_claims if isinstance(n_claims, list) else \
        [f"Fact {i} perhaps." if i % 4 == 3 else f"Fact {i}." for i in range(n_claims)]
    claims = ClaimsRecord(task="t", id="x", abstained=False, sentences=[], extractor="e",
                          claims=[Claim(text=t, sentence=i) for i, t in enumerate(texts)])
    return claims, EvidenceRecord(task="t", id="x", backend="b", passages=passages, per_claim=per_claim)


def _items(i: int) -> Passage:
    """A passage of three sentences about item i: when it was made, a filler, where it is kept."""
    return Passage(text=f"Item {i} was made in {1900 + i}. The weather was mild that spring. "
                        f"Item {i} is kept in hall {20 + i}.", title=f"T{i}")


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


def test_claims_are_grouped_by_shared_units_and_the_rest_in_one_group_when_it_fits():
    passages = [Passage(text="p" * 400, title=str(i)) for i in range(5)]  # 101 tokens each

    def cost(p: int) -> int:
        return passage_tokens(passages[p])

    own = [[0], [1], [0, 2], [3], [0], [1, 4]]
    assert claim_groups(own, cost, 1000) == [list(range(6))]  # all fit: one group
    # 250 tokens: passage 0 serves three claims, so its claims come first (with passage 2), then
    # passage 1's; the remainder (passages 1, 3, 4) does not fit, so it is grouped again
    assert claim_groups(own, cost, 250) == [[0, 2, 4], [1, 5], [3]]
    assert claim_groups([[0, 1, 2], [3]], cost, 150) == [[1], [0]]  # over the budget alone: a group of its own
    assert claim_groups([[], [0], [1]], cost, 150) == [[0, 1], [2]]  # nothing retrieved: joins the first


def _verify_prompts(server) -> list[str]:
    return [b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "verify"]


def _shown(prompt: str) -> dict[str, list[str]]:
    """Claim text -> the texts of the entries it names, read back from a verification prompt."""
    entries = passages_of(prompt)
    return {claim: [entries[r] for r in refs or []] for _, claim, refs in claims_with_refs(prompt)}


def test_each_claim_is_shown_excerpts_of_its_own_passages_and_several_calls_share_one_block(server):
    passages = [_items(i) for i in range(8)]
    per_claim = [[i % 8, (i + 1) % 8, (i + 2) % 8] for i in range(7)]
    texts = [f"Item {i} was made in {1900 + i}." for i in range(7)]
    claims, evidence = _records(texts, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    rec = asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, claims_per_call=3,
                                    evidence_tokens=2000, question="Tell me about things."))
    assert rec.labels == ["supported"] * 7
    prompts = _verify_prompts(server)
    assert len(prompts) == 3  # 7 claims in calls of at most 3: 2, 2, 3
    # several calls judge against one block: it comes first, so all three share it as their prefix
    prefixes = {p.split("Claims:")[0] for p in prompts}
    assert len(prefixes) == 1 and all(p.startswith("Evidence:\n<passages>\nFrom T") for p in prompts)
    assert "<question>\nTell me about things." in prefixes.pop()
    shown = {claim: entries for p in prompts for claim, entries in _shown(p).items()}
    assert list(shown) == texts or sorted(shown) == sorted(texts)
    for i, claim in enumerate(texts):
        own = {s for p in per_claim[i] for s in split(passages[p].text)}
        # its own fact's sentence first, then at most one more, from its own passages only, never
        # the sentence that shares no word with it
        assert shown[claim][0] == claim and len(shown[claim]) == 2 and set(shown[claim]) <= own
        assert "The weather was mild that spring." not in shown[claim]
    # each sentence appears once in the block, however many claims name it
    block = prompts[0].split("<passages>\n")[1].split("\n</passages>")[0].splitlines()
    entries = [line.split("] ", 1)[1] for line in block if line.startswith("[P")]
    assert len(entries) == len(set(entries))
    assert sum(line.startswith("From T") for line in block) == len({line for line in block if line.startswith("From")})


def split(text: str) -> list[str]:
    from factbench.evidence.excerpts import split_sentences

    return split_sentences(text)


def test_what_a_claim_is_shown_does_not_depend_on_the_claims_beside_it():
    passages = [_items(i) for i in range(6)]
    texts = [f"Item {i} is kept in hall {20 + i}." for i in range(6)]
    per_claim = [[i, (i + 3) % 6, (i + 1) % 6] for i in range(6)]
    _, evidence = _records(texts, per_claim, passages)

    def shown(todo: list[int], claims: list[str], budget: int) -> dict[int, list[tuple[str, str]]]:
        out = {}
        for call in verification_calls(todo, evidence, True, 2, budget, claims=claims):
            for i, refs in zip(call.claims, call.refs or []):
                out[i] = [call.passages[r - 1] for r in refs]
        return out

    alone = {i: claim_excerpts(texts[i], per_claim[i], passages) for i in range(6)}
    assert all(alone.values())
    for budget in (2500, 60):  # one group, or many
        assert shown(list(range(6)), texts, budget) == alone
        # with other claims beside them (and only some of them), the same
        others = [f"Item {i} was made in {1900 + i}." if i % 2 else texts[i] for i in range(6)]
        assert {i: v for i, v in shown(list(range(6)), others, budget).items() if i % 2 == 0} == \
            {i: alone[i] for i in range(0, 6, 2)}
        assert shown([4], texts, budget) == {4: alone[4]}


def test_a_plugin_layout_that_takes_them_gets_each_claims_entries_and_numbers(server):
    import dataclasses

    from factbench.judges.templates import verification_messages

    seen = []

    def layout(template, passages, claims, question="", first=1, passages_first=False, refs=None, numbers=None):
        seen.append((refs, numbers))
        return verification_messages(template, passages, claims, question, passages_first=passages_first, refs=refs,
                                     numbers=numbers)

    def old_layout(template, passages, claims, question="", first=1, passages_first=False):
        seen.append("old")
        return verification_messages(template, passages, claims, question, first=first, passages_first=passages_first)

    passages = [_items(i) for i in range(2)]
    claims, evidence = _records(["Item 0 was made in 1900.", "Item 1 was made in 1901."], [[0], [1]], passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    for fn in (layout, old_layout):
        judge = dataclasses.replace(VERIFY_TERNARY, messages=fn)
        assert asyncio.run(verify_claims(client, claims, evidence, judge=judge)).labels == ["supported"] * 2
    refs, numbers = seen[0]
    assert numbers == [1, 2] and len(refs) == 2 and all(refs) and seen[1] == "old"


def test_a_claims_label_depends_on_its_own_passages_not_on_the_claims_beside_it(server):
    passages = [_items(i) for i in range(4)]
    texts = ["Item 0 was made in 1900.", "Item 1 was made in 1901.", "Item 2 was made in 1902.",
             "Item 3 was perhaps made in 1903."]
    # claim 3 retrieved nothing: it has no passage of its own, whatever its neighbours retrieved
    per_claim = [[0, 1], [1, 2], [], [3]]
    claims, evidence = _records(texts, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    together = asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, question="Q?"))
    assert together.labels == ["supported", "supported", "unverifiable", "unverifiable"]  # 3 [none]; 4 "perhaps"
    assert "3. Item 2 was made in 1902. [none]" in _verify_prompts(server)[-1]
    alone = []
    for i in range(4):  # each claim judged in an answer of its own: the same passages, the same label
        one, ev = _records(texts, per_claim, passages)
        one.claims[:] = [one.claims[i]]
        ev.per_claim[:] = [per_claim[i]]
        alone.append(asyncio.run(verify_claims(client, one, ev, judge=VERIFY_TERNARY, question="Q?")).labels[0])
    assert alone == together.labels


def test_new_template_and_parser_versions():
    assert verify_template("ternary", True).id.startswith("verify-ternary-evidence-v6+")
    assert verify_template("ternary", False).id.startswith("verify-ternary-knowledge-v5+")  # classification in pairs
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


def test_classification_prompts_from_the_same_calls_share_each_verification_prompt_up_to_the_claims(server):
    """The informativeness stage builds its prompts from `verification_calls` with the claims'
    texts: the calls, groups and each claim's entry numbers are the verification's, so its prompt
    repeats the verification prompt up to the claims."""
    from factbench.judges.informativeness import INFORMATIVENESS, informativeness_messages

    passages = [_items(i) for i in range(4)]
    texts = [f"Item {p} was made in {1900 + p}." for p in (0, 1, 0, 2, 1, 3)]
    texts[2], texts[4] = "Item 0 is kept in hall 20.", "Item 1 is kept in hall 21."
    per_claim = [[0], [1], [0], [2], [1], [3]]
    claims, evidence = _records(texts, per_claim, passages)
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,)), None)
    budget = 50  # each entry costs 8 or 9 tokens: the block cannot hold all the claims' excerpts
    asyncio.run(verify_claims(client, claims, evidence, judge=VERIFY_TERNARY, evidence_tokens=budget, question="Q?"))
    verify = _verify_prompts(server)
    calls = verification_calls(list(range(6)), evidence, True, 30, budget, claims=texts)
    assert len(verify) == len(calls) == 2
    # the groups follow the excerpts that serve most claims: passages 0 and 1's first, then the rest
    assert [c.claims for c in calls] == [[0, 1, 2, 4], [3, 5]]
    for v, call in zip(verify, calls):
        messages = informativeness_messages(INFORMATIVENESS, "Q?", [(i + 1, texts[i]) for i in call.claims], [],
                                            refs=call.refs)
        c = messages[1]["content"]
        assert messages[0]["content"] == verify_template("ternary", True).system
        assert c.startswith(v[:v.index("</claims>") + len("</claims>")]) and "<passages>" not in c
