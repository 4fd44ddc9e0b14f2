"""Informative-claim weighting: how much each claim counts in the weighted precision and detail.

The informativeness judge (:mod:`factbench.judges.informativeness`) puts every claim of an
answer in one class. Each class has a weight in the numerator (a supported claim adds it to
the weighted detail) and in the denominator (the claims a weighted precision is taken over):

| class       | numerator | denominator | why |
|-------------|-----------|-------------|-----|
| informative | 1         | 1           | a specific fact the question asks for, not said before |
| trivial     | 0         | 0           | true of almost anything: it neither helps nor hurts |
| restates    | 0         | 0           | said before in other words: counted once, like a merged duplicate |
| off_topic   | 0         | 1           | about something else: never credited, and it dilutes precision |

So padding an answer with trivial facts or restatements changes nothing, and padding it
with off-topic facts, true or not, lowers the weighted precision. Claims without a label
or without a class (judge errors) are left out of these terms, as unlabelled claims are left
out of precision; but an answer with a labelled claim left without a class has no weighted
reward at all (`unclassified`): it is unscored in a run and masked by the Scorer, never
rewarded on the claims that happened to be classified.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSES = ("informative", "trivial", "restates", "off_topic")
CLASS_WEIGHTS: dict[str, tuple[float, float]] = {  # class -> (numerator weight, denominator weight)
    "informative": (1.0, 1.0),
    "trivial": (0.0, 0.0),
    "restates": (0.0, 0.0),
    "off_topic": (0.0, 1.0),
}


@dataclass(frozen=True)
class WeightedTerms:
    precision: float | None  # None when no claim carries denominator weight
    supported: float  # weighted detail: the numerator weights of supported claims
    on_topic: float | None  # share of classified claims that are not off topic
    classified: int  # claims with both a label and a class
    unclassified: int = 0  # claims with a label but no class (the informativeness judge failed on them)


def weighted_terms(labels: list[str | None], classes: list[str | None]) -> WeightedTerms:
    """Weighted precision and detail of one answer from its claims' labels and classes."""
    numerator = denominator = 0.0
    classified = off_topic = 0
    unclassified = sum(1 for i, label in enumerate(labels)
                       if label is not None and (i >= len(classes) or classes[i] not in CLASS_WEIGHTS))
    for label, cls in zip(labels, classes):
        if label is None or cls not in CLASS_WEIGHTS:
            continue
        num_w, den_w = CLASS_WEIGHTS[cls]
        classified += 1
        off_topic += cls == "off_topic"
        denominator += den_w
        if label == "supported":
            numerator += num_w
    return WeightedTerms(
        precision=numerator / denominator if denominator > 0 else None,
        supported=numerator,
        on_topic=1 - off_topic / classified if classified else None,
        classified=classified,
        unclassified=unclassified,
    )
