"""Stage 5 (optional): relevance — a pairwise judge of the answer against a reference answer.

Asked in both orders (answer as A, then as B) to cancel position bias; each order scores
1 for a win, 0.5 for a tie, 0 for a loss, and the answer's score is the mean of the orders
that parsed. A parse failure is an error, never a tie.
"""

from __future__ import annotations

from factbench.judges.parsing import ParseError, parse_winner
from factbench.judges.templates import RELEVANCE, relevance_messages
from factbench.llm.client import Completion, LLMClient
from factbench.store.records import RelevanceRecord

_POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def needs_completion(record: RelevanceRecord, max_attempts: int) -> bool:
    """An order without a parsed winner, and attempts left to ask it again."""
    return any(w is None for w in record.winners) and record.attempt < max_attempts


async def judge_relevance(client: LLMClient, task: str, sample_id: str, question: str, answer: str,
                          reference: str, reference_source: str,
                          previous: RelevanceRecord | None = None) -> RelevanceRecord:
    """Both orders; with `previous`, only the orders without a parsed winner are asked again."""
    outcomes: list[str | None] = list(previous.winners) if previous else [None, None]
    errors: list[str] = []
    for order, answer_first in enumerate((True, False)):
        if outcomes[order] is not None:
            continue
        a, b = (answer, reference) if answer_first else (reference, answer)
        completion = await client.complete(relevance_messages(question, a, b), template=RELEVANCE.id,
                                           schema=RELEVANCE.schema, schema_name="relevance", accept=_parses)
        try:
            winner = parse_winner(completion.text)
        except ParseError as exc:
            errors.append(exc.kind)
            continue
        ours = "A" if answer_first else "B"
        outcomes[order] = "tie" if winner == "tie" else ("win" if winner == ours else "loss")
    scored = [_POINTS[o] for o in outcomes if o is not None]
    return RelevanceRecord(task=task, id=sample_id, reference_source=reference_source, winners=outcomes,
                           score=sum(scored) / len(scored) if scored else None, errors=errors, judge=RELEVANCE.id,
                           attempt=previous.attempt + 1 if previous else 1)


def _parses(completion: Completion) -> bool:
    try:
        parse_winner(completion.text)
    except ParseError:
        return False
    return True
