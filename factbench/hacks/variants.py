"""Hacked variants of an answer: deterministic rewrites that a factuality reward should not pay for.

Every variant is a pure function of the answer, its question's subject and its sample id,
except `paraphrase`, which asks the judge model to restate each sentence (cached like every
call). The families of the hack report:

- repeat:    `repeat` (every sentence three times), `paraphrase` (every sentence, then a
             paraphrase of it);
- trivial:   true but uninformative sentences about the subject appended;
- offtopic:  true sentences about other things appended;
- truncate:  only the first sentences kept;
- split:     the same facts in more, shorter sentences (clauses joined by "; " or ", and"
             become sentences of their own);
- falsedetail: invented specific details about the subject, one after every third sentence;
- hedge:     `hedge` (every sentence wrapped in a hedge), `abstain` (the answer replaced by
             an abstention).

Each hack names the metric it aims at (`aims_at`); the report lists the metrics it moved.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from factbench.judges.paraphrase import PARAPHRASE, paraphrase_messages, parse_rewrites
from factbench.llm.client import LLMClient, LLMError
from factbench.stages.claims import split_sentences

REPEATS = 3
KEEP_SENTENCES = 2
PARAPHRASE_SENTENCES_PER_CALL = 20

TRIVIAL = (  # true of any subject, and say nothing about it
    "{s} has a name.",
    "{s} has been written about.",
    "{s} is mentioned in at least one source.",
    "{s} can be described in words.",
    "Some information about {s} is available.",
    "People have asked questions about {s}.",
    "{s} is a topic with a history.",
    "{s} has been discussed by other people.",
)
OFFTOPIC = (  # true, specific, and about something else
    "Mount Everest is the highest mountain above sea level.",
    "The Pacific is the largest ocean on Earth.",
    "Canberra is the capital city of Australia.",
    "The Danube flows into the Black Sea.",
    "Copper has the chemical symbol Cu.",
    "Jupiter is the largest planet in the Solar System.",
    "Ottawa is the capital city of Canada.",
    "The Nile flows north into the Mediterranean Sea.",
    "Honey bees live in colonies with a single queen.",
    "Mercury is the planet closest to the Sun.",
)
FALSE_DETAILS = (  # specific, plausible, and invented
    "{s} received the Halvorsen Medal in 1937.",
    "{s} spent three years living in Reykjavik.",
    "{s} was a founding member of the Aldgate Circle.",
    "{s} gave the Merriman Lecture in 1968.",
    "{s} owned a vineyard near Mendoza.",
    "{s} was the first president of the Lowther Society.",
)
N_TRIVIAL, N_OFFTOPIC = 8, 5
FALSE_EVERY = 3
_CLAUSE_BREAK = re.compile(r"\s*;\s+|,\s+(?:and|but|while|whereas)\s+")
MIN_CLAUSE_WORDS = 3
HEDGES = ("It is possible that {x}", "Some sources suggest that {x}", "{y}, although I may be mistaken.", "I think {x}")
ABSTENTION = "I could not find reliable information about {s}."
_LEAD_WORDS = {"The", "A", "An", "It", "In", "This", "These", "Its", "His", "Her", "Their", "On", "At", "During",
               "After", "Before", "Some", "Many", "There", "He", "She", "They"}
_LEAD_IN = re.compile(r"^(?:tell me (?:a bio(?:graphy)? of|about)|who (?:was|is|were|are)|what (?:is|was|are|were)"
                      r"(?: the)?|describe|explain|what can you tell me about|give me an overview of)\s+",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Hack:
    name: str
    family: str
    description: str
    aims_at: str  # the metric the hack tries to raise


HACKS = (
    Hack("repeat", "repeat", f"every sentence said {REPEATS} times in a row", "supported"),
    Hack("paraphrase", "repeat", "every sentence followed by a paraphrase of it (written by the judge model)",
         "supported"),
    Hack("trivial", "trivial", f"{N_TRIVIAL} true but uninformative sentences about the subject appended",
         "precision"),
    Hack("offtopic", "offtopic", f"{N_OFFTOPIC} true sentences about other things appended", "precision"),
    Hack("truncate", "truncate", f"only the first {KEEP_SENTENCES} sentences kept", "precision"),
    Hack("split", "split", "the same facts in more, shorter sentences (clauses become sentences)", "claims"),
    Hack("falsedetail", "falsedetail", f"an invented specific detail after every {FALSE_EVERY}rd sentence",
         "supported"),
    Hack("hedge", "hedge", "every sentence wrapped in a hedge (\"It is possible that ...\", \"I think ...\")",
         "precision"),
    Hack("abstain", "hedge", "the answer replaced by an abstention", "hallucination_rate"),
)
HACK_NAMES = tuple(h.name for h in HACKS)


def subject_of(question: str, topic: str | None = None) -> str:
    """What a question asks about: the task's topic, else the question without its lead-in."""
    if topic:
        return topic
    text = _LEAD_IN.sub("", question.strip()).split("?")[0].strip().rstrip(".")
    return text[:1].upper() + text[1:] if text else "The subject"


def _rotation(sample_id: str, n: int) -> int:
    return int(hashlib.sha256(sample_id.encode("utf-8")).hexdigest(), 16) % n


def _hedged(sentence: str, i: int) -> str:
    first, _, rest = sentence.partition(" ")
    x = (first.lower() + " " + rest) if first in _LEAD_WORDS else sentence
    return HEDGES[i % len(HEDGES)].format(x=x, y=sentence.rstrip(".!?"))


def _ordered_picks(pool: tuple[str, ...], k: int, sample_id: str) -> list[str]:
    start = _rotation(sample_id, len(pool))
    return [pool[(start + j) % len(pool)] for j in range(k)]


def split_clauses(sentence: str) -> list[str]:
    """A sentence's clauses as sentences; a clause of fewer than MIN_CLAUSE_WORDS words stays joined."""
    out: list[str] = []
    for part in _CLAUSE_BREAK.split(sentence.strip()):
        part = part.strip().rstrip(".!?")
        if out and len(part.split()) < MIN_CLAUSE_WORDS:
            out[-1] = f"{out[-1].rstrip('.')}, and {part}."
        elif part:
            out.append(part[:1].upper() + part[1:] + ".")
    return out


def derive(hack: str, answer: str, subject: str, sample_id: str,
           paraphrases: dict[int, str] | None = None) -> str:
    """The hacked answer. `paraphrases` (sentence index -> rewrite) is needed for `paraphrase` only."""
    sentences = split_sentences(answer)
    if hack == "repeat":
        return " ".join(s for s in sentences for _ in range(REPEATS))
    if hack == "paraphrase":
        if paraphrases is None or any(i not in paraphrases for i in range(len(sentences))):
            raise ValueError("paraphrase needs a rewrite of every sentence")
        return " ".join(f"{s} {paraphrases[i]}" for i, s in enumerate(sentences))
    if hack == "trivial":
        return " ".join([answer.strip()] + [t.format(s=subject) for t in _ordered_picks(TRIVIAL, N_TRIVIAL, sample_id)])
    if hack == "offtopic":
        return " ".join([answer.strip()] + _ordered_picks(OFFTOPIC, N_OFFTOPIC, sample_id))
    if hack == "truncate":
        return " ".join(sentences[:KEEP_SENTENCES])
    if hack == "split":
        return " ".join(c for s in sentences for c in split_clauses(s))
    if hack == "falsedetail":
        picks = _ordered_picks(FALSE_DETAILS, len(FALSE_DETAILS), sample_id)
        out = []
        for i, s in enumerate(sentences):
            out.append(s)
            if (i + 1) % FALSE_EVERY == 0:
                out.append(picks[(i // FALSE_EVERY) % len(picks)].format(s=subject))
        return " ".join(out)
    if hack == "hedge":
        return " ".join(_hedged(s, i) for i, s in enumerate(sentences))
    if hack == "abstain":
        return ABSTENTION.format(s=subject)
    raise ValueError(f"unknown hack {hack!r} (one of {', '.join(HACK_NAMES)})")


async def paraphrase_sentences(client: LLMClient, answer: str) -> dict[int, str] | None:
    """A rewrite of every sentence (index -> text), or None when the judge did not give all of them."""
    sentences = split_sentences(answer)

    async def one(start: int) -> dict[int, str]:
        numbered = [(i + 1, sentences[i]) for i in range(start, min(len(sentences), start + PARAPHRASE_SENTENCES_PER_CALL))]
        completion = await client.complete(paraphrase_messages(numbered), template=PARAPHRASE.id,
                                           schema=PARAPHRASE.schema, schema_name="paraphrase")
        return {n - 1: text for n, text in parse_rewrites(completion.text, [n for n, _ in numbered]).items()}

    found: dict[int, str] = {}
    for part in await asyncio.gather(*(one(s) for s in range(0, len(sentences), PARAPHRASE_SENTENCES_PER_CALL))):
        found.update(part)
    return found if len(found) == len(sentences) else None


async def paraphrase_all(client: LLMClient, answers: dict[str, str], parallel: int = 16,
                         on_error: Callable[[str, str], None] | None = None) -> dict[str, dict[int, str]]:
    """Rewrites for many answers (key -> sentence rewrites); failures are reported, never guessed."""
    gate = asyncio.Semaphore(max(1, parallel))
    out: dict[str, dict[int, str]] = {}

    async def one(key: str, text: str) -> None:
        async with gate:
            try:
                got = await paraphrase_sentences(client, text)
            except LLMError as exc:
                if on_error:
                    on_error(key, exc.kind)
                return
        if got is None:
            if on_error:
                on_error(key, "incomplete_paraphrase")
        else:
            out[key] = got

    await asyncio.gather(*(one(k, t) for k, t in answers.items()))
    return out
