"""Calibration: run a judge on human-labelled claims and measure how well it agrees.

Reports claim-level agreement and Cohen's kappa (supported vs not supported, the human
labels' granularity) over the claims the judge labelled, and the aggregate error: the
judge's mean precision minus the human mean precision over the same answers, in points.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

from factbench.evidence.backends import EvidenceBackend
from factbench.judges.builtin import VERIFY_BINARY
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.pipeline.pipeline import Pipeline
from factbench.scoring.human_labels import labelled_records
from factbench.scoring.metrics import score_answer
from factbench.stages.base import RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS, VerdictsStage
from factbench.store.records import Record
from factbench.tasks import Prompt, Task

# The claims come from the human labels: calibration runs the stages after them that judge claims.
CALIBRATION_STAGES = (EvidenceStage(), VerdictsStage())
# Its default evidence (what --evidence auto or default means for calibration) is none.
CALIBRATION_TASK = Task(name="labels", version="1", loader=lambda ctx: [], default_evidence="none",
                        description="human-labelled claims judged by the verifier")


def cohens_kappa(a: list[bool], b: list[bool]) -> float | None:
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


class _Failures:
    """The pipeline's sink for calibration: records stay on the sample; the first failure is kept."""

    def __init__(self) -> None:
        self.kind: str | None = None

    def may_start(self, stage: Stage, sample: Sample) -> bool:
        return True

    def stored(self, stage: Stage, sample: Sample, record: Record) -> None:
        pass

    def failed(self, stage: Stage, sample: Sample, kind: str, detail: str, usage: dict) -> None:
        self.kind = self.kind or kind


async def _judge_all(client: LLMClient, backend: EvidenceBackend, records, judge: Judge, claims_per_call: int,
                     evidence_tokens: int, parallel: int):
    """The run's evidence and verdicts stages (a declared subset of its pipeline) on the labelled claims."""
    context = RunContext(clients={"verifier": client}, judges={"verifier": judge}, sentences_per_call=1,
                         claims_per_call=claims_per_call, evidence_tokens=evidence_tokens, relevance=False)
    pipeline = Pipeline(CALIBRATION_STAGES, context)
    sem = asyncio.Semaphore(parallel)

    async def one(claims_rec, human):
        async with sem:
            prompt = Prompt(id=claims_rec.id, text=f"Tell me a bio of {claims_rec.id}.", topic=claims_rec.id)
            sample = Sample(CALIBRATION_TASK, prompt, backend, {ClaimsStage.name: claims_rec})
            sink = _Failures()
            if not await pipeline.process(sample, sink):
                return claims_rec, human, None, sink.kind
            return claims_rec, human, sample.need(VerdictsStage), None

    return await asyncio.gather(*(one(c, h) for c, h in records))


def calibrate(labels_path: str, client: LLMClient, backend: EvidenceBackend, *, limit: int | None = None,
              seed: int = 0, judge: Judge = VERIFY_BINARY, claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
              evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS,
              parallel: int = 32) -> dict[str, Any]:
    records = [(c, v) for c, v in labelled_records(labels_path) if not c.abstained and c.claims]
    if limit is not None and limit < len(records):
        records = random.Random(seed).sample(records, limit)
    results = asyncio.run(_judge_all(client, backend, records, judge, claims_per_call, evidence_tokens, parallel))
    human_flags, judge_flags = [], []
    human_prec, judge_prec = [], []
    failures: Counter[str] = Counter()
    unlabelled = 0
    for claims_rec, human, judged, error in results:
        if judged is None:
            failures[error] += 1
            continue
        for h, j in zip(human.labels, judged.labels):
            if j is None:
                unlabelled += 1
                continue
            human_flags.append(h == "supported")
            judge_flags.append(j == "supported")
        js = score_answer(claims_rec, judged, None, k=32)
        hs = score_answer(claims_rec, human, None, k=32)
        if js.precision is not None and hs.precision is not None:
            judge_prec.append(js.precision)
            human_prec.append(hs.precision)
    n = len(human_flags)
    human_mean = 100 * sum(human_prec) / len(human_prec) if human_prec else None
    judge_mean = 100 * sum(judge_prec) / len(judge_prec) if judge_prec else None
    return {
        "answers": len(records), "answers_failed": dict(failures), "claims_compared": n, "claims_unlabelled": unlabelled,
        "agreement": sum(x == y for x, y in zip(human_flags, judge_flags)) / n if n else None,
        "cohens_kappa": cohens_kappa(human_flags, judge_flags),
        "human_precision": human_mean, "judge_precision": judge_mean,
        "aggregate_error": None if human_mean is None or judge_mean is None else judge_mean - human_mean,
        "judge": client.spec.model, "judge_name": judge.name, "evidence": backend.name, "mode": judge.mode,
    }
