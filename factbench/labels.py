"""Human-label replay: score pre-extracted, human-labelled claims (FActScore annotation format).

Each line: {"input", "output", "topic", "annotations": null | [sentence, ...]} where a sentence
has "is-relevant", "human-atomic-facts" ([{"text", "label": S|NS|IR}] or null) and
"model-atomic-facts". Conventions (those of the published human FActScore):
- `annotations: null` is an abstention (excluded from precision);
- S is supported; NS and IR (irrelevant) are not supported;
- a sentence without human facts (irrelevant sentence) contributes its model-extracted facts
  as not supported.
"""

from __future__ import annotations

from pathlib import Path

from factbench.jsonl import InputFileError, read_jsonl
from factbench.metrics import AnswerScore, score_answer
from factbench.records import Claim, ClaimsRecord, VerdictsRecord

HUMAN_LABELS = {"S": "supported", "NS": "unsupported", "IR": "unsupported"}


def labelled_records(path: str | Path) -> list[tuple[ClaimsRecord, VerdictsRecord | None]]:
    out = []
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        sid = str(row.get("topic") or row.get("input") or lineno)
        anns = row.get("annotations")
        if anns is None:
            out.append((ClaimsRecord(task="labels", id=sid, abstained=True, sentences=[], claims=[],
                                     extractor="human"), None))
            continue
        if not isinstance(anns, list):
            raise InputFileError(f"{where}: 'annotations' must be a list or null")
        claims: list[Claim] = []
        labels: list[str | None] = []
        sentences: list[str] = []
        for si, sent in enumerate(anns):
            if not isinstance(sent, dict):
                raise InputFileError(f"{where}: sentence {si} is not an object")
            sentences.append(str(sent.get("text", "")))
            human = sent.get("human-atomic-facts")
            if human is None:
                for fact in sent.get("model-atomic-facts") or []:
                    claims.append(Claim(text=str(fact.get("text", "")), sentence=si))
                    labels.append("unsupported")
                continue
            for fact in human:
                label = HUMAN_LABELS.get(fact.get("label")) if isinstance(fact, dict) else None
                if label is None:
                    raise InputFileError(f"{where}: sentence {si}: fact label must be S, NS or IR, got {fact!r:.60}")
                claims.append(Claim(text=str(fact.get("text", "")), sentence=si))
                labels.append(label)
        rec = ClaimsRecord(task="labels", id=sid, abstained=False, sentences=sentences, claims=claims,
                           extractor="human")
        out.append((rec, VerdictsRecord(task="labels", id=sid, labels=labels, errors=[None] * len(labels),
                                        verifier="human", evidence_backend="human")))
    return out


def replay(path: str | Path, k: int = 32) -> list[AnswerScore]:
    return [score_answer(c, v, None, k) for c, v in labelled_records(path)]
