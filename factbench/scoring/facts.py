"""Precision and detail measured on merged facts: how much an answer's supported informative
claims say, and what share of its content is supported, whatever the number of claims it is
cut into.

Counting supported claims pays an answer for cutting its facts finer: "A was born in Lyon in
1950" is one claim for an extractor that keeps a sentence's facts together, and two once the
answer says it in two sentences. Here the content of every supported informative claim is
merged into one set of content words and numbers (:func:`factbench.stages.grounding.terms`:
stems, stop words left out), the question's own words are taken out (the subject's name is
in every claim), and the size of that set is divided by TERMS_PER_FACT, the new content words
one human-extracted atomic fact adds on FActScore's labelled answers (`bench/grounding.py`
prints it), so the value reads as a number of facts. Merged precision is the share of the
content of the claims precision is taken over (informative and off-topic ones) that is in
supported claims. The same facts give the same values in one sentence or several, said once or
restated.
"""

from __future__ import annotations

from dataclasses import dataclass

from factbench.scoring.weighting import CLASS_WEIGHTS
from factbench.stages.grounding import terms

TERMS_PER_FACT = 1.83


@dataclass(frozen=True)
class MergedTerms:
    precision: float | None  # supported content / content of the claims precision is taken over
    detail: float  # supported content, in facts


def merged_terms(claims: list[str], labels: list[str | None], classes: list[str | None] | None,
                 question: str | None) -> MergedTerms:
    """Precision and detail on the answer's merged content. Claims count with their class's
    informativeness (:data:`factbench.scoring.weighting.CLASS_WEIGHTS`; all informative without classes):
    the content of supported claims of numerator weight over that of labelled claims of
    denominator weight."""
    asked = terms(question or "")
    known = asked.words | asked.numbers
    supported: set[str] = set()
    judged: set[str] = set()
    for i, (text, label) in enumerate(zip(claims, labels)):
        cls = classes[i] if classes is not None and i < len(classes) else "informative"
        if label is None or cls not in CLASS_WEIGHTS:
            continue
        num_w, den_w = CLASS_WEIGHTS[cls]
        own = terms(text)
        content = (own.words | own.numbers) - known
        if den_w > 0:
            judged |= content
        if label == "supported" and num_w > 0:
            supported |= content
    return MergedTerms(len(supported) / len(judged) if judged else None, len(supported) / TERMS_PER_FACT)
