"""A synthetic biography world for the throughput benchmark, where every fact's source is known.

Each person has an encyclopedia-style article of paragraphs (one passage each, 80-190 words,
like FActScore's <=256-token Wikipedia passages): facts written in article style, with
pronouns and connective prose. An answer about the person states ~25 facts in its own words
(one sentence each, the subject named in full), mostly from the first paragraphs, as
biographies do: 20 true facts, 3 with a wrong place ("Atlantis": the scripted judge calls
them unsupported) and 2 hedged facts absent from the article ("perhaps": unverifiable).
Places, years and organisations are drawn from small shared pools, so several paragraphs
share words with a claim and retrieval is not trivially exact.

A web-search stand-in serves the same world as Serper would: per query, the best-matching
pages (one per paragraph, on a handful of sites), each with a ~160-character snippet of its
best-matching sentences.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

SYLLABLES = "ka lo mi ren dal vor sen tu bri mar el cas nov ter ash wyn gal pe ro lin".split()
PLACES = ("Lisbon Utrecht Tampere Graz Lyon Turin Bergen Leeds Ghent Cork Aarhus Bilbao Kraków Porto Brno "
          "Basel Malmö Nantes Trieste Dundee Cádiz Riga Tartu Split Padua Bremen Zadar Lund Oulu Mons").split()
FIELDS = "chemistry law medicine philosophy music architecture botany economics physics history".split()
ORGS = ("Royal Society,National Theatre,Geological Survey,State Orchestra,Academy of Sciences,Public Library,"
        "Naval Observatory,City Council,Botanical Garden,Medical Association,Film Institute,Opera House").split(",")
ROLES = "director,president,secretary,chief curator,principal conductor,senior fellow,chair".split(",")
AWARDS = "Holberg,Lindqvist,Marlow,Castellan,Everard,Sorel,Brandt,Ivanko".split(",")
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
    answer: str  # as an answer states it, the subject named in full


@dataclass
class Person:
    name: str
    paragraphs: list[str]
    facts: list[Fact]
    answer: list[str]  # the answer's sentences
    sources: list[int | None]  # per answer sentence: the paragraph it comes from (None: nowhere)


def _name(rng: random.Random) -> str:
    def word(n: int) -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(n)).capitalize()
    return f"{word(2)} {word(3)}"


def _fact(rng: random.Random, name: str, he: str, his: str) -> tuple[str, str]:
    """(article sentence, answer sentence) of one random fact about `name`."""
    y, place = rng.randint(1850, 1990), rng.choice(PLACES)
    org, role = rng.choice(ORGS), rng.choice(ROLES)
    last = name.split()[-1]
    kind = rng.randrange(9)
    if kind == 0:
        return (f"{last} was born in {place} in {y}, the child of a {rng.choice(JOBS)}.",
                f"{name} was born in {place} in {y}.")
    if kind == 1:
        field = rng.choice(FIELDS)
        return (f"{he} studied {field} at the University of {place}, graduating in {y}.",
                f"{name} earned a degree in {field} from the University of {place} in {y}.")
    if kind == 2:
        return (f"In {y} {he.lower()} joined the {org} as its {role}.", f"{name} became {role} of the {org} in {y}.")
    if kind == 3:
        award = rng.choice(AWARDS)
        return (f"{he} was awarded the {award} Prize in {y} for {his.lower()} work in {place}.",
                f"{name} received the {award} Prize in {y}.")
    if kind == 4:
        spouse = _name(rng)
        return (f"In {y} {last} married {spouse}, whom {he.lower()} had met in {place}.",
                f"{name} married {spouse} in {y}.")
    if kind == 5:
        return (f"{he} settled in {place} in {y} and lived there for {rng.randint(3, 30)} years.",
                f"{name} moved to {place} in {y}.")
    if kind == 6:
        work = f"The {rng.choice(FIELDS).capitalize()} of {rng.choice(PLACES)}"
        return (f"{his} book {work} appeared in {y} and was widely translated.", f"{name} published {work} in {y}.")
    if kind == 7:
        y2 = y + rng.randint(2, 15)
        return (f"From {y} to {y2} {he.lower()} served as {role} of the {org} in {place}.",
                f"{name} was {role} of the {org} from {y} to {y2}.")
    return (f"{last} founded the {place} {org} in {y} with a group of former students.",
            f"{name} founded the {place} {org} in {y}.")


def person(i: int, n_claims: int = 25, n_paragraphs: int = 12) -> Person:
    rng = random.Random(i)
    name = _name(rng)
    he, his = rng.choice((("He", "His"), ("She", "Her")))
    paragraphs, facts = [], []
    for p in range(n_paragraphs):
        sentences = [f"{name} is a figure in the history of {rng.choice(FIELDS)}."] if p == 0 else []
        for _ in range(rng.randint(4, 8)):
            article, answer = _fact(rng, name, he, his)
            facts.append(Fact(p, article, answer))
            sentences.append(article)
            if rng.random() < 0.6:
                sentences.append(rng.choice(FILLER).rstrip(".") + ".")
        paragraphs.append(" ".join(sentences))
    # Answers follow the lead: paragraph p is drawn with weight 1/(p+1).
    weights = [1 / (f.paragraph + 1) for f in facts]
    n_true, n_wrong = n_claims - 5, 3
    chosen: list[int] = []
    pool = list(range(len(facts)))
    while len(chosen) < n_true + n_wrong:
        pick = rng.choices(pool, weights=weights)[0]
        if pick not in chosen:
            chosen.append(pick)
    wrong = set(rng.sample(chosen, n_wrong))
    answer, sources = [], []
    for f in sorted(chosen):
        text = facts[f].answer
        if f in wrong:
            text = re.sub("|".join(PLACES), "Atlantis", text, count=1) if any(p in text for p in PLACES) \
                else text.replace(" in ", " in Atlantis in ", 1)
        answer.append(text)
        sources.append(facts[f].paragraph)
    for k in range(n_claims - len(answer)):
        at = rng.randrange(len(answer) + 1)
        answer.insert(at, f"{name} perhaps also worked for a time in {rng.choice(PLACES)} as a {rng.choice(JOBS)}.")
        sources.insert(at, None)
    return Person(name, paragraphs, facts, answer, sources)


# ------------------------------------------------------------------ web-search stand-in

SITES = ("Wikipedia", "Britannica", "Oxford Reference", "Biography Index", "Prabook", "Find a Grave")
_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def _snippet(paragraph: str, query: set[str], chars: int = 160) -> str:
    sentences = re.split(r"(?<=\.) ", paragraph)
    best = max(range(len(sentences)), key=lambda i: (len(_words(sentences[i]) & query), -i))
    text = " ".join(sentences[best:best + 2])
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " ..."


def search_results(people: dict[str, Person], query: str, num: int) -> list[dict[str, str]]:
    """Serper-style organic results for `query`: pages of the person it names, best match first."""
    q = _words(query)
    who = next((p for n, p in people.items() if n.lower() in query.lower()), None)
    if who is None:
        return []
    scored = sorted(range(len(who.paragraphs)), key=lambda i: (-len(_words(who.paragraphs[i]) & q), i))
    return [{"title": f"{who.name} - {SITES[i % len(SITES)]}", "snippet": _snippet(who.paragraphs[i], q),
             "link": f"https://example.org/{who.name.replace(' ', '_')}/{i}"} for i in scored[:num]]
