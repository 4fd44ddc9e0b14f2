"""A synthetic biography world for the throughput benchmark, where every fact's source is known.

Each person has an encyclopedia-style article of paragraphs (one passage each, 80-190 words,
like FActScore's <=256-token Wikipedia passages): facts written in article style, with
pronouns and connective prose. An answer about the person is written as atomic facts, one
sentence each, the subject named in full (so the scripted extractor's one claim per sentence
gives FActScore-like claims of ~48 characters, close to FActScore's human-written atomic
facts): two or three facts from each of ~10 article facts, drawn mostly from the first
paragraphs, as biographies are; 3 of them with a wrong place ("Atlantis": the scripted judge
calls them unsupported) and 2 hedged facts absent from the article ("perhaps": unverifiable).
Places, awards, organisations and surnames are many and each rare, as named entities are in an
encyclopedia; first names, years and fields are few and shared, so several paragraphs match a
claim.

The realistic world (`realistic_person`) has Wikipedia-sized pages: 10-12 paragraphs, each packed
with article sentences to 880-1,000 characters (~220-250 tokens at 4 characters a token, never
over FActScore's 256), and answers of 24 facts in the fuller wording of atomic facts, ~12 words
each; the same facts, drawn the same way.

A web-search stand-in serves the same world as Serper would. Each of six sites has its own
page per paragraph: the same facts, but other prose between them. Per query it returns the
best-matching pages (ties broken per query, so the sites mix), each with a ~160-character
snippet: the best-matching sentence and the one after it on that page. So results differ
from site to site, a fact is usually stated by several of them, and claims about the same
fact get largely the same results, as they would from a search engine.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

SYLLABLES = "ka lo mi ren dal vor sen tu bri mar el cas nov ter ash wyn gal pe ro lin".split()
_PLACE_SYLLABLES = "ber lan tor vik mal sud gra nes por kel dun ros tam var lis ock ham bur zel kor".split()
PLACES = sorted({"".join(random.Random(k).choices(_PLACE_SYLLABLES, k=2 + k % 2)).capitalize() + ("a", "en", "o", "")[k % 4]
                 for k in range(600)})
AWARDS = sorted({"".join(random.Random(-k).choices(SYLLABLES, k=3)).capitalize() for k in range(300)})
FIELDS = "chemistry law medicine philosophy music architecture botany economics physics history".split()
ORGS = "Academy Society Observatory Orchestra Institute Library Museum Theatre Council Hospital".split()
ROLES = "director,president,secretary,chief curator,principal conductor,senior fellow,chair".split(",")
JOBS = "teacher,carpenter,physician,merchant,printer,engineer,pharmacist,sailor".split(",")
FILLER = ("The period is described in several later accounts, which differ on minor details. Contemporary "
          "reviews were mixed, although later critics have been more generous. Much of the surviving "
          "correspondence from these years is held in regional archives. Colleagues remembered a careful "
          "and demanding manner, and a habit of revising work many times. The decade brought considerable "
          "change to the institutions involved, and some of the records were lost. Historians have since "
          "returned to this part of the story with new sources.").split(". ")


@dataclass
class Fact:
    paragraph: int
    article: str  # as the encyclopedia states it
    atoms: list[str]  # the atomic facts an answer states, the subject named in full


@dataclass
class Person:
    name: str
    paragraphs: list[str]
    facts: list[Fact]
    answer: list[str]  # the answer's sentences, one atomic fact each
    sources: list[Fact | None]  # per answer sentence: the article fact it states (None: a wrong or absent one)


# First names are common, shared by many people, as real ones are; surnames are rare.
FIRST_NAMES = sorted({"".join(random.Random(f"first{k}").choices(SYLLABLES, k=2)).capitalize() for k in range(60)})


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {''.join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()}"


def _draw(rng: random.Random) -> dict:
    """The random parts of one fact (its kind and names), drawn in a fixed order."""
    d = {"y": rng.randint(1850, 1990), "place": rng.choice(PLACES)}
    d["org"], d["role"] = f"{rng.choice(PLACES)} {rng.choice(ORGS)}", rng.choice(ROLES)
    d["kind"] = kind = rng.randrange(9)
    if kind == 0:
        d["job"] = rng.choice(JOBS)
    elif kind == 1:
        d["field"] = rng.choice(FIELDS)
    elif kind == 3:
        d["award"] = rng.choice(AWARDS)
    elif kind == 4:
        d["spouse"] = _name(rng)
    elif kind == 5:
        d["span"] = rng.randint(3, 30)
    elif kind == 6:
        d["work"] = f"The {rng.choice(FIELDS).capitalize()} of {rng.choice(PLACES)}"
    elif kind == 7:
        d["y2"] = d["y"] + rng.randint(2, 15)
    return d


def _article(d: dict, name: str, he: str, his: str) -> str:
    """The encyclopedia's sentence for a drawn fact."""
    y, place, org, role, last = d["y"], d["place"], d["org"], d["role"], name.split()[-1]
    return [
        lambda: f"{last} was born in {place} in {y}, the child of a {d['job']}.",
        lambda: f"{he} studied {d['field']} at the University of {place}, graduating in {y}.",
        lambda: f"In {y} {he.lower()} joined the {org} as its {role}.",
        lambda: f"{he} was awarded the {d['award']} Prize in {y} for {his.lower()} work in {place}.",
        lambda: f"In {y} {last} married {d['spouse']}, whom {he.lower()} had met in {place}.",
        lambda: f"{he} settled in {place} in {y} and lived there for {d['span']} years.",
        lambda: f"{his} book {d['work']} appeared in {y} and was widely translated.",
        lambda: f"From {y} to {d['y2']} {he.lower()} served as {role} of the {org}.",
        lambda: f"{last} founded the {org} in {y} with a group of former students.",
    ][d["kind"]]()


def _atoms(d: dict, n: str) -> list[str]:
    """The answer's atomic facts for a drawn fact, the subject named in full (~8 words each)."""
    y, place, org, role = d["y"], d["place"], d["org"], d["role"]
    return [
        lambda: [f"{n} was born in {place}.", f"{n} was born in {y}."],
        lambda: [f"{n} studied {d['field']}.", f"{n} studied at the University of {place}.", f"{n} graduated in {y}."],
        lambda: [f"{n} joined the {org} in {y}.", f"{n} was {role} of the {org}."],
        lambda: [f"{n} received the {d['award']} Prize.", f"{n} received the {d['award']} Prize in {y}."],
        lambda: [f"{n} married {d['spouse']}.", f"{n} married {d['spouse']} in {y}."],
        lambda: [f"{n} moved to {place}.", f"{n} moved to {place} in {y}."],
        lambda: [f"{n} wrote {d['work']}.", f"{n} published {d['work']} in {y}."],
        lambda: [f"{n} was {role} of the {org}.", f"{n} served the {org} from {y} to {d['y2']}."],
        lambda: [f"{n} founded the {org}.", f"{n} founded the {org} in {y}."],
    ][d["kind"]]()


def _long_atoms(d: dict, n: str, he: str, his: str) -> list[str]:
    """The same facts in the fuller wording of FActScore-style atomic facts: ~12 words each."""
    y, place, org, role, he, his = d["y"], d["place"], d["org"], d["role"], he.lower(), his.lower()
    return [
        lambda: [f"{n} was born in {place} to the family of a {d['job']}.",
                 f"{n} was born in the year {y}, the child of a {d['job']}."],
        lambda: [f"{n} studied {d['field']} as a student at the University of {place}.",
                 f"{n} studied {d['field']} and took a university degree in {y}.",
                 f"{n} graduated from the University of {place} in the year {y}."],
        lambda: [f"{n} joined the {org} as a member of its staff in {y}.",
                 f"{n} held the position of {role} at the {org} for some years."],
        lambda: [f"{n} was awarded the {d['award']} Prize for {his} work in {place}.",
                 f"{n} received the {d['award']} Prize in the year {y} for {his} work."],
        lambda: [f"{n} married {d['spouse']}, whom {he} had first met in {place}.",
                 f"{n} and {d['spouse']} were married in the year {y}."],
        lambda: [f"{n} moved to {place} and lived there for {d['span']} years in all.",
                 f"{n} settled in the town of {place} in the year {y}."],
        lambda: [f"{n} wrote the widely translated book {d['work']}.",
                 f"{n} published the book {d['work']} in {y}."],
        lambda: [f"{n} served as the {role} of the {org} for several years.",
                 f"{n} served the {org} from {y} until the year {d['y2']}."],
        lambda: [f"{n} founded the {org} with a group of former students.",
                 f"{n} founded the {org} in the year {y} with former students."],
    ][d["kind"]]()


def _fact(rng: random.Random, name: str, he: str, his: str) -> tuple[str, list[str]]:
    """(article sentence, atomic facts) of one random fact about `name`."""
    d = _draw(rng)
    return _article(d, name, he, his), _atoms(d, name)


def person(i: int, n_claims: int = 25, n_paragraphs: int = 12) -> Person:
    rng = random.Random(i)
    name = _name(rng)
    he, his = rng.choice((("He", "His"), ("She", "Her")))
    paragraphs, facts = [], []
    for p in range(n_paragraphs):
        sentences = [f"{name} is a figure in the history of {rng.choice(FIELDS)}."] if p == 0 else []
        for _ in range(rng.randint(4, 8)):
            article, atoms = _fact(rng, name, he, his)
            facts.append(Fact(p, article, atoms))
            sentences.append(article)
            if rng.random() < 0.6:
                sentences.append(rng.choice(FILLER).rstrip(".") + ".")
        paragraphs.append(" ".join(sentences))
    return _answer(rng, name, paragraphs, facts, n_claims)


# ------------------------------------------------------------------ web-search stand-in

SITES = ("Wikipedia", "Britannica", "Oxford Reference", "Biography Index", "Prabook", "Find a Grave")
_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def _page(paragraph: str, site: int) -> list[str]:
    """A site's version of a paragraph: its sentences, with that site's prose after some of them."""
    rng = random.Random(f"{site}:{paragraph[:40]}")
    out = []
    for sentence in re.split(r"(?<=\.) ", paragraph):
        out.append(sentence)
        if rng.random() < 0.5:
            out.append(rng.choice(FILLER).rstrip(".") + ".")
    return out


def _snippet(sentences: list[str], weight: dict[str, float], chars: int = 160) -> str:
    best = max(range(len(sentences)), key=lambda i: (math.fsum(weight.get(w, 0) for w in _words(sentences[i])), -i))
    text = " ".join(sentences[best:best + 2])
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


def search_results(people: dict[str, Person], query: str, num: int) -> list[dict[str, str]]:
    """Serper-style organic results for `query`: pages about the person it names, best match first."""
    q = _words(query)
    who = next((p for n, p in people.items() if n.lower() in query.lower()), None)
    if who is None:
        return []
    words = [_words(f"{who.name} {p}") for p in who.paragraphs]  # a page carries its title
    # Rare words weigh most, as in any search engine: the person's name is on every page.
    weight = {w: 1 / sum(w in ws for ws in words) for w in q if any(w in ws for ws in words)}
    score = [math.fsum(weight.get(w, 0) for w in ws) for ws in words]  # exact: no set-order effects
    pages = sorted(((site, i) for site in range(len(SITES)) for i in range(len(who.paragraphs))),
                   key=lambda sp: (-score[sp[1]], random.Random(f"{query}|{sp[0]}").random(), sp[1]))
    return [{"title": f"{who.name} - {SITES[site]}", "snippet": _snippet(_page(who.paragraphs[i], site), weight),
             "link": f"https://example.org/{SITES[site].replace(' ', '_')}/{who.name.replace(' ', '_')}/{i}"}
            for site, i in pages[:num]]


# ------------------------------------------------------------------ the realistic world

PASSAGE_CHARS = 1000  # ~250 tokens at 4 characters each: FActScore's passages are at most 256 tokens


def realistic_person(i: int, n_claims: int = 24) -> Person:
    """A person with a Wikipedia-sized page: 10-12 paragraphs, each packed to 880-1,000 characters
    (~220-250 tokens, one passage each), and an answer of `n_claims` facts of ~12 words."""
    rng = random.Random(f"realistic{i}")
    name = _name(rng)
    he, his = rng.choice((("He", "His"), ("She", "Her")))
    paragraphs, facts = [], []
    for p in range(rng.randint(10, 12)):
        sentences = [f"{name} is a figure in the history of {rng.choice(FIELDS)}."] if p == 0 else []
        target = rng.randint(880, PASSAGE_CHARS)
        while True:
            d = _draw(rng)
            article, atoms = _article(d, name, he, his), _long_atoms(d, name, he, his)
            extra = [rng.choice(FILLER).rstrip(".") + "."] if rng.random() < 0.6 else []
            if len(" ".join(sentences + [article] + extra)) > PASSAGE_CHARS:
                break
            facts.append(Fact(p, article, atoms))
            sentences += [article, *extra]
            if len(" ".join(sentences)) >= target:
                break
        paragraphs.append(" ".join(sentences))
    return _answer(rng, name, paragraphs, facts, n_claims, long=True)


def _answer(rng: random.Random, name: str, paragraphs: list[str], facts: list[Fact], n_claims: int,
            long: bool = False) -> Person:
    """An answer of `n_claims` sentences: facts drawn from the lead (paragraph p with weight
    1/(p+1)), three of them with a wrong place, and hedged facts absent from the article."""
    weights = [1 / (f.paragraph + 1) for f in facts]
    n_stated = max(0, n_claims - 2)
    chosen: list[int] = []
    while sum(len(facts[f].atoms) for f in chosen) < n_stated:
        pick = rng.choices(range(len(facts)), weights=weights)[0]
        if pick not in chosen:
            chosen.append(pick)
    stated = [(a, facts[f]) for f in sorted(chosen) for a in facts[f].atoms][:n_stated]
    answer, sources = [a for a, _ in stated], [f for _, f in stated]
    for k in rng.sample(range(len(answer)), min(3, len(answer))):
        wrong = next((p for p in PLACES if p in answer[k]), None)
        answer[k] = answer[k].replace(wrong, "Atlantis") if wrong else answer[k][:-1] + " in Atlantis."
        sources[k] = None
    for _ in range(n_claims - len(answer)):
        at = rng.randrange(len(answer) + 1)
        hedge = f"{name} perhaps also worked in {rng.choice(PLACES)} as a {rng.choice(JOBS)}"
        answer.insert(at, f"{hedge} for some years after {rng.randint(1850, 1990)}." if long else f"{hedge}.")
        sources.insert(at, None)
    return Person(name, paragraphs, facts, answer, sources)
