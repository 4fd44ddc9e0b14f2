import json

from factbench.hacks.variants import OFFTOPIC, TRIVIAL, derive
from factbench.judges.informativeness import INFORMATIVENESS, informativeness_messages
from factbench.judges.templates import verification_messages, verify_template
from factbench.testing.ground_truth import SLOTS, GroundTruthResponder, strip_hedge, world


def _verify(responder, claims):
    body = {"messages": verification_messages(verify_template("ternary", False), [], claims)}
    letters = {"S": "supported", "U": "unsupported", "N": "unverifiable"}
    return [letters[c] for c in json.loads(responder(body, "verify"))["labels"]]


def test_labels_follow_the_truth_whatever_the_batch():
    w = world()
    person = next(iter(w.people.values()))
    first, second, values = SLOTS["birthplace"]
    true, wrong = person.facts["birthplace"], next(v for v in values if v != person.facts["birthplace"])
    claims = [first.format(n=person.name, v=true), second.format(n=person.name, v=true),
              first.format(n=person.name, v=wrong), TRIVIAL[0].format(s=person.name), OFFTOPIC[0],
              f"{person.name} invented the telephone."]
    r = GroundTruthResponder(w)
    labels = _verify(r, claims)
    assert labels == ["supported", "supported", "unsupported", "supported", "supported", "unverifiable"]
    assert [_verify(r, [c])[0] for c in reversed(claims)] == labels[::-1]


def test_with_evidence_a_claim_is_judged_on_the_text_shown_for_it_alone():
    w = world()
    person = next(iter(w.people.values()))
    say = {slot: SLOTS[slot][0].format(n=person.name, v=v) for slot, v in person.facts.items()}
    first, _, values = SLOTS["birthplace"]
    wrong = first.format(n=person.name, v=next(v for v in values if v != person.facts["birthplace"]))
    second = SLOTS["profession"][1].format(n=person.name, v=person.facts["profession"])  # the other wording
    entries = [("P", say["birthplace"]), ("P", f"{say['profession']} {say['award']}")]
    claims = [say["birthplace"], wrong, second, say["award"], say["award"], say["mentor"], TRIVIAL[0].format(s=person.name)]
    refs = [[1], [1, 2], [2], [2], [1], [1, 2], []]
    body = {"messages": verification_messages(verify_template("ternary", True), entries, claims, refs=refs)}
    letters = json.loads(GroundTruthResponder(w)(body, "verify"))["labels"]
    # true and shown; contradicted by what is shown; the other wording of a shown fact; shown; the
    # same true fact, but its entry is not among the claim's; never shown; nothing shown at all
    assert letters == "SUSSNNN"


def test_answers_have_known_truth_and_hedges_keep_the_fact():
    w = world()
    person = next(iter(w.people.values()))
    answer = w.answer(person.name)
    assert answer.count(person.name) == len(person.answer)
    hedged = derive("hedge", answer, person.name, "x").split(". ")
    assert strip_hedge(hedged[0] + ".") is not None and strip_hedge("I think it rained.") is None


def test_informativeness_classes():
    w = world()
    name = next(iter(w.people))
    first, second, _ = SLOTS["profession"]
    fact = w.people[name].facts["profession"]
    claims = [(1, first.format(n=name, v=fact)), (2, second.format(n=name, v=fact)),
              (3, TRIVIAL[1].format(s=name)), (4, OFFTOPIC[2])]
    body = {"messages": informativeness_messages(INFORMATIVENESS, f"Tell me a bio of {name}.", claims, [])}
    out = json.loads(GroundTruthResponder(w)(body, "informativeness"))
    # claim 1 is informative (unlisted); 1 and 2 say the same: a pair each way
    assert out == {"t": [3], "r": [[1, 2], [2, 1]], "o": [4]}
    # the pairs are found when one claim is only in the context of a later span
    body = {"messages": informativeness_messages(INFORMATIVENESS, f"Tell me a bio of {name}.", claims[1:2], claims[:1])}
    assert json.loads(GroundTruthResponder(w)(body, "informativeness")) == {"r": [[1, 2], [2, 1]]}  # no empty class
