"""A TEST DOUBLE with ground truth: a synthetic world of people whose facts are known, and a
responder for the scripted server that answers every factbench request from that truth.

- generation: a biography of `SENTENCES` facts; fact i is false with probability
  FALSE_BASE + FALSE_SLOPE * i, so an answer's first sentences are more often true, as in
  real answers (what makes precision alone hackable by truncation). The facts of each pair
  in COMPOUND are one sentence, "A, and B", when both are true (so splitting that sentence
  changes how many claims carry its facts, not which of them are true);
- extraction: one claim per sentence, hedges removed ("It is possible that X" -> X); a
  sentence starting "I think" is an opinion and gives no claim. A compound sentence gives
  one compound claim, as an extractor that decomposes long sentences coarsely does (what
  makes the claim count hackable by splitting sentences);
- verification: without evidence, supported iff every fact the claim states is a person's true
  fact (in either wording), a trivial fact or an off-topic world fact; a wrong value is
  unsupported; anything else is unverifiable. With evidence, a claim is judged on the text shown
  for it alone (the entries it names): a fact is supported when that text states the person's
  value for it and the values agree, unsupported when it states another value, unverifiable when
  it says nothing of it (so is a claim shown nothing). A claim keeps its label whatever batch it
  is in; answered as one letter per claim, `{"labels": "SUN"}`;
- informativeness: off_topic (another subject), trivial, restates (only earlier claims' facts,
  in any wording), else informative;
- paraphrase: the world's other wording of a fact; "In other words, ..." for anything else;
- relevance: the response with the larger share of informative sentences about the subject wins.

The prompts are the built-in `groundtruth` task. Serve it by hand with
`python -m factbench.testing.ground_truth --port 8012`.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from factbench.evidence.excerpts import split_sentences
from factbench.hacks.variants import HEDGES, OFFTOPIC, TRIVIAL
from factbench.testing.extra_kinds import (
    block,
    claims_with_refs,
    numbered,
    passages_of,
    sections,
    system_and_user,
)
from factbench.testing.scripted_server import LETTERS, ScriptedServer, ScriptedState, serve_until_interrupted

N_PEOPLE = 50
SENTENCES = 12
COMPOUND = ((1, 2), (5, 6), (9, 10))  # facts (by position) said in one sentence
JOIN = ", and "
FALSE_BASE, FALSE_SLOPE = 0.10, 0.015

_FIRST = ("Orla", "Bram", "Ceri", "Dov", "Esme", "Finn", "Greta", "Hale", "Ines", "Joss", "Kaia", "Lorne", "Mira",
          "Nils", "Odile", "Pim", "Quill", "Rhea", "Soren", "Tova", "Ulla", "Vero", "Wynn", "Yara", "Zeno")
_LAST = ("Ashdown", "Brevik", "Calloway", "Dunmore", "Elsworth", "Fenwick", "Galloway", "Hartigan", "Ilsley",
         "Jarrow", "Kestrel", "Lindqvist", "Marlowe", "Northam", "Oakridge", "Penhallow", "Quarrie", "Rosslyn")
_CITIES = ("Porto", "Ghent", "Tallinn", "Bergen", "Lyon", "Krakow", "Turin", "Utrecht", "Graz", "Aarhus", "Cork", "Bilbao")
_PEERS = ("Ada Morrow", "Tomas Reyne", "Lise Harker", "Owen Stroud", "Petra Vale", "Ivo Lanning", "Maud Keswick",
          "Rafe Tennant", "Selma Orrin", "Gil Ashby")
# slot -> (sentence, the same fact in other words, possible values)
SLOTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "birthplace": ("{n} was born in {v}.", "{v} is the birthplace of {n}.", _CITIES),
    "birth_year": ("{n} was born in the year {v}.", "The birth year of {n} is {v}.",
                   tuple(str(y) for y in range(1921, 1961, 3))),
    "profession": ("{n} worked as a {v}.", "By profession, {n} was a {v}.",
                   ("botanist", "cartographer", "violinist", "civil engineer", "journalist", "architect", "chemist",
                    "translator", "surgeon", "geologist")),
    "university": ("{n} studied at {v}.", "{n} received an education at {v}.",
                   ("Brightwater University", "Calder Institute", "Dunmere College", "Easton Polytechnic",
                    "Fairholm University", "Glenrock Academy", "Harrowgate College", "Ivel University")),
    "award": ("{n} received the {v}.", "The {v} was awarded to {n}.",
              ("Orrin Medal", "Vessel Prize", "Kestrel Award", "Lantern Prize", "Marrow Medal", "Aster Prize")),
    "book": ("{n} wrote a book called {v}.", "A book called {v} was written by {n}.",
             ("The Quiet Harbour", "Salt and Iron", "A Map of Small Rivers", "The Glass Orchard", "Winter Ledger",
              "Paper Bridges")),
    "spouse": ("{n} married {v}.", "{v} was the spouse of {n}.", _PEERS),
    "residence": ("{n} lived for many years in {v}.", "For many years, the home of {n} was {v}.", _CITIES),
    "instrument": ("{n} played the {v}.", "The {v} was an instrument played by {n}.",
                   ("cello", "oboe", "harp", "clarinet", "viola", "bassoon", "lute", "accordion")),
    "death_year": ("{n} died in the year {v}.", "The death of {n} took place in {v}.",
                   tuple(str(y) for y in range(1990, 2021, 3))),
    "company": ("{n} founded a company named {v}.", "A company named {v} was founded by {n}.",
                ("Nordlys Works", "Brackwater Tools", "Silverfen Press", "Oakhollow Labs", "Marren Textiles",
                 "Quayside Optics")),
    "mentor": ("{n} trained under {v}.", "{v} was a teacher of {n}.", _PEERS),
}
_PREFIX = "In other words, "
_WORD = re.compile(r"[a-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _template_regex(template: str, slot: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(template).replace(re.escape("{" + slot + "}"), "(.+?)") + "$")


_HEDGE_RES = [(_template_regex(h, "x") if "{x}" in h else _template_regex(h, "y"), h) for h in HEDGES]
_TRIVIAL_RES = [_template_regex(t, "s") for t in TRIVIAL]
_OFFTOPIC = {_norm(t) for t in OFFTOPIC}


def strip_hedge(sentence: str, opinions: bool = False) -> str | None:
    """The fact inside a hedged sentence; None for an opinion ("I think ...") unless `opinions`."""
    for pattern, hedge in _HEDGE_RES:
        m = pattern.match(sentence)
        if m:
            if hedge.startswith("I think") and not opinions:
                return None
            inner = m.group(1)
            inner = inner[:1].upper() + inner[1:]
            return inner if inner.endswith((".", "!", "?")) else inner + "."
    return sentence


@dataclass(frozen=True)
class Person:
    name: str
    facts: dict[str, str]  # slot -> true value
    answer: tuple[tuple[str, str], ...]  # (slot, stated value) per sentence, in order


class World:
    """People, their true facts, their answers, and every wording of every possible fact."""

    def __init__(self, n_people: int = N_PEOPLE, seed: int = 0, sentences: int = SENTENCES):
        rng = random.Random(f"groundtruth:{seed}")
        names = [f"{f} {last}" for f in _FIRST for last in _LAST]
        self.people: dict[str, Person] = {}
        for name in rng.sample(names, n_people):
            facts = {slot: rng.choice(values) for slot, (_, _, values) in SLOTS.items()}
            order = rng.sample(list(SLOTS), min(sentences, len(SLOTS)))
            stated = []
            for i, slot in enumerate(order):
                value = facts[slot]
                if rng.random() < FALSE_BASE + FALSE_SLOPE * i:
                    value = rng.choice([v for v in SLOTS[slot][2] if v != facts[slot]])
                stated.append((slot, value))
            self.people[name] = Person(name, facts, tuple(stated))
        self.index: dict[str, tuple[str, str, str]] = {}  # normalised wording -> (person, slot, value)
        self.other_wording: dict[str, str] = {}
        for name in self.people:
            for slot, (first, second, values) in SLOTS.items():
                for v in values:
                    a, b = first.format(n=name, v=v), second.format(n=name, v=v)
                    self.index[_norm(a)] = self.index[_norm(b)] = (name, slot, v)
                    self.other_wording[_norm(a)], self.other_wording[_norm(b)] = b, a

    def answer(self, name: str) -> str:
        person = self.people[name]
        facts = [SLOTS[slot][0].format(n=name, v=v) for slot, v in person.answer]
        true = [person.facts[slot] == v for slot, v in person.answer]
        for a, b in reversed(COMPOUND):
            if b < len(facts) and true[a] and true[b]:
                facts[a:b + 1] = [facts[a].rstrip(".") + JOIN + facts[b]]
        return " ".join(facts)

    def reference(self, name: str) -> str:
        return " ".join(SLOTS[slot][0].format(n=name, v=v) for slot, v in self.people[name].facts.items())

    def subject(self, text: str) -> str | None:
        return next((name for name in self.people if name in text), None)

    def fact(self, claim: str) -> tuple[str, str, str] | None:
        """The one fact a claim states (None for a compound claim or an unknown one)."""
        facts = self.facts(claim)
        return facts[0] if facts and len(facts) == 1 else None

    def facts(self, claim: str) -> list[tuple[str, str, str]] | None:
        """Every fact a claim states (one, or two for a compound claim); None if one is unknown."""
        inner = strip_hedge(claim.removeprefix(_PREFIX), opinions=True) or ""
        found = [self.index.get(_norm(part)) for part in inner.split(JOIN)]
        return None if any(f is None for f in found) else found  # type: ignore[return-value]

    def label_on(self, claim: str, shown: str) -> str:
        """The label of a reader of `shown` alone: a fact the claim states is supported when `shown`
        states that person's value for it and the values agree, unsupported when it states another
        value, unverifiable when it says nothing of it; trivial and off-topic claims go by their
        words, as without evidence, once anything is shown."""
        facts = self.facts(claim)
        if facts is None:
            return self.label(claim) if shown.strip() else "unverifiable"
        stated = {}
        for sentence in split_sentences(shown):
            found = self.index.get(_norm(sentence))
            if found is not None:
                stated[found[:2]] = found[2]
        labels = ["unverifiable" if (n, s) not in stated else "supported" if stated[n, s] == v else "unsupported"
                  for n, s, v in facts]
        return "unsupported" if "unsupported" in labels else "supported" if set(labels) == {"supported"} \
            else "unverifiable"

    def label(self, claim: str) -> str:
        facts = self.facts(claim)
        if facts is not None:
            return "supported" if all(self.people[n].facts[s] == v for n, s, v in facts) else "unsupported"
        if self.is_trivial(claim) or _norm(claim) in _OFFTOPIC:
            return "supported"
        return "unverifiable"

    def reword(self, sentence: str) -> str | None:
        """The sentence in the world's other wording, part by part; None when a part is unknown."""
        found = [self.other_wording.get(_norm(p)) for p in sentence.split(JOIN)]
        parts = [p for p in found if p is not None]
        if len(parts) < len(found):
            return None
        return JOIN.join(p.rstrip(".") for p in parts[:-1]) + (JOIN if len(parts) > 1 else "") + parts[-1]

    @staticmethod
    def is_trivial(claim: str) -> bool:
        return any(p.match(claim) for p in _TRIVIAL_RES)

    def classify(self, subject: str | None, claims: list[tuple[int, str]], earlier: list[tuple[int, str]]) -> list[dict]:
        seen: dict[tuple[str, str, str], int] = {}
        for i, text in earlier:
            for fact in self.facts(text) or []:
                seen.setdefault(fact, i)
        out = []
        for i, text in claims:
            facts, same_as = self.facts(text), None
            if _norm(text) in _OFFTOPIC or (facts is not None and any(f[0] != subject for f in facts)) or \
                    (facts is None and (subject is None or subject not in text)):
                cls = "off_topic"
            elif self.is_trivial(text):
                cls = "trivial"
            elif facts is not None and all(f in seen for f in facts):
                cls, same_as = "restates", seen[facts[0]]
            else:
                cls = "informative"
            for fact in facts or []:
                seen.setdefault(fact, i)
            out.append({"id": i, "class": cls, "same_as": same_as})
        return out

    def sort(self, subject: str | None, claims: list[tuple[int, str]], context: list[tuple[int, str]]) -> dict:
        """A book call's answer: the trivial and off-topic claims, and every pair [a, b] (one of them
        to sort) where a's facts are all b's."""
        classes = self.classify(subject, claims, [])
        facts = {i: set(f) for i, text in [*context, *claims] if (f := self.facts(text)) is not None}
        sorting = {i for i, _ in claims}
        pairs = [[a, b] for a in facts for b in facts
                 if a != b and (a in sorting or b in sorting) and facts[a] <= facts[b]]
        return {"t": [c["id"] for c in classes if c["class"] == "trivial"],
                "o": [c["id"] for c in classes if c["class"] == "off_topic"], "r": pairs}

    def relevance_share(self, subject: str | None, response: str) -> float:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", response.strip()) if s]
        good = sum(1 for s in sentences if (f := self.facts(s)) is not None and all(x[0] == subject for x in f))
        return good / len(sentences) if sentences else 0.0


@lru_cache(maxsize=4)
def world(n_people: int = N_PEOPLE, seed: int = 0) -> World:
    return World(n_people, seed)


def verify_labels(w: World, user: str) -> str:
    """The letters for a verification prompt: each claim on the text shown for it (with evidence)."""
    entries = passages_of(user)
    labels = [w.label(claim) if refs is None else w.label_on(claim, " ".join(entries.get(r, "") for r in refs))
              for _, claim, refs in claims_with_refs(user)]
    return "".join(LETTERS[label] for label in labels)


class GroundTruthResponder:
    """`ScriptedState(responder=GroundTruthResponder())`: every reply follows the world's truth."""

    def __init__(self, truth: World | None = None):
        self.world = truth or world()
        self.requests: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any], kind: str) -> str:
        self.requests[kind] += 1
        _, user = system_and_user(body)
        w = self.world
        if kind == "extract":
            return json.dumps({"sentences": [{"id": i, "claims": [c] if (c := strip_hedge(s)) else []}
                                             for i, s in numbered(block(user, "sentences"), sentences=True)]})
        if kind == "verify":
            return json.dumps({"labels": verify_labels(w, user)})
        if kind == "informativeness":  # per answer or by question: one section per question
            out: dict[str, list] = {"t": [], "o": [], "r": []}
            for part in sections(user):
                got = w.sort(w.subject(block(part, "question")), numbered(block(part, "claims")),
                             numbered(block(part, "context")))
                for key in out:
                    out[key] += got[key]
            return json.dumps({key: ids for key, ids in out.items() if ids})
        if kind == "paraphrase":
            return json.dumps({"sentences": [{"id": i, "text": w.reword(s) or _PREFIX + s}
                                             for i, s in numbered(block(user, "sentences"), sentences=True)]})
        if kind == "relevance":
            subject = w.subject(block(user, "question"))
            a = w.relevance_share(subject, block(user, "response_a"))
            b = w.relevance_share(subject, block(user, "response_b"))
            return json.dumps({"winner": "A" if a > b + 1e-9 else "B" if b > a + 1e-9 else "tie"})
        name = w.subject(user)
        return w.answer(name) if name else "I could not find reliable information about that."


def main() -> None:
    """`python -m factbench.testing.ground_truth --port 8012`: the double as a stand-alone server."""
    import argparse

    parser = argparse.ArgumentParser(description="ground-truth judge double (test double, never a scorer)")
    parser.add_argument("--port", type=int, default=8012)
    args = parser.parse_args()
    server = ScriptedServer(ScriptedState(responder=GroundTruthResponder(), keep_log=False), port=args.port).start()
    print(f"ground-truth double on {server.base_url} (test double)", flush=True)
    serve_until_interrupted(server)


if __name__ == "__main__":
    main()
