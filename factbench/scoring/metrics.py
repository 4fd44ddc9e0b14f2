"""Stage 6: metrics per answer, aggregated per task and overall with seeded bootstrap CIs.

Definitions (see docs/metrics.md):
- precision = S / (S + U + V) over the claims that got a label; unverifiable counts as not
  supported (the claim could not be confirmed). Binary mode has no V.
- hallucination_rate = 1 - precision; detail = S (supported claims).
- f1_at_k: recall@K = min(S / K, 1), F1 = 2PR / (P + R) (0 when S = 0); K fixed per task version.
- factscore: precision x exp(1 - gamma / n) when n < gamma claims (gamma = 10), else precision.
- relevance: win rate against the reference (ties 0.5), both orders averaged.
- reward: precision + lambda * log(1 + S) + mu * relevance (relevance term only when measured).
Abstentions are excluded from every per-answer mean except abstention_rate; claims without a
label (judge errors) are excluded from S, U, V and counted as errors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from factbench.store.records import ClaimsRecord, RelevanceRecord, VerdictsRecord

GAMMA = 10
BOOTSTRAP_SAMPLES = 1000
METRICS = ("precision", "hallucination_rate", "supported", "claims", "f1_at_k", "factscore", "relevance", "reward")


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is shown and compared: the one table every report reads."""

    name: str
    label: str
    percent: bool  # a rate in [0, 1], shown x100 (differences in percentage points)
    higher_is_better: bool
    description: str


METRIC_INFO: dict[str, MetricInfo] = {m.name: m for m in (
    MetricInfo("precision", "precision", True, True, "supported / labelled claims"),
    MetricInfo("hallucination_rate", "halluc.", True, False, "1 - precision"),
    MetricInfo("supported", "supported", False, True, "supported claims per answer (detail)"),
    MetricInfo("claims", "claims", False, True, "claims per answer"),
    MetricInfo("f1_at_k", "F1@K", True, True, "harmonic mean of precision and min(S/K, 1)"),
    MetricInfo("factscore", "FActScore", True, True, "precision with FActScore's length penalty (gamma = 10)"),
    MetricInfo("relevance", "relevance", True, True, "win rate against the reference answer (ties 0.5)"),
    MetricInfo("reward", "reward", False, True, "precision + lambda * log(1 + S) + mu * relevance"),
)}


@dataclass
class AnswerScore:
    task: str
    id: str
    abstained: bool
    claims: int
    supported: int
    unsupported: int
    unverifiable: int
    judge_errors: int
    extraction_errors: int
    precision: float | None
    hallucination_rate: float | None
    f1_at_k: float | None
    factscore: float | None
    relevance: float | None
    reward: float | None


def f1_at_k(precision: float, supported: int, k: int) -> float:
    if supported <= 0 or precision <= 0:
        return 0.0
    recall = min(supported / k, 1.0)
    return 2 * precision * recall / (precision + recall)


def length_penalised(precision: float, n_claims: int, gamma: int = GAMMA) -> float:
    if n_claims <= 0:
        return 0.0
    return precision * (math.exp(1 - gamma / n_claims) if n_claims < gamma else 1.0)


def reward_value(precision: float, supported: int, relevance: float | None, lam: float, mu: float) -> float:
    """precision + lambda * log(1 + S) + mu * relevance (the relevance term only when measured)."""
    return precision + lam * math.log1p(supported) + (mu * relevance if relevance is not None else 0.0)


def score_answer(claims: ClaimsRecord, verdicts: VerdictsRecord | None, relevance: RelevanceRecord | None,
                 k: int, lam: float = 0.1, mu: float = 1.0) -> AnswerScore:
    labels = verdicts.labels if verdicts else []
    s = labels.count("supported")
    u = labels.count("unsupported")
    v = labels.count("unverifiable")
    judged = s + u + v
    precision = s / judged if judged and not claims.abstained else None
    rel = relevance.score if relevance else None
    reward = None if precision is None else reward_value(precision, s, rel, lam, mu)
    return AnswerScore(
        task=claims.task, id=claims.id, abstained=claims.abstained, claims=len(claims.claims),
        supported=s, unsupported=u, unverifiable=v,
        judge_errors=sum(1 for e in (verdicts.errors if verdicts else []) if e),
        extraction_errors=len(claims.errors),
        precision=precision,
        hallucination_rate=None if precision is None else 1 - precision,
        f1_at_k=None if precision is None else f1_at_k(precision, s, k),
        factscore=None if precision is None else length_penalised(precision, len(claims.claims)),
        relevance=rel, reward=reward,
    )


def bootstrap_ci(values: np.ndarray, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean, resampling answers with replacement."""
    n = len(values)
    if n == 0:
        return None
    if n == 1:
        return (float(values[0]), float(values[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    chunk = max(1, 2_000_000 // n)  # bound memory for large runs
    for start in range(0, samples, chunk):
        stop = min(samples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def _metric(values: list[float], seed: int) -> dict[str, Any]:
    arr = np.asarray(values, dtype=float)
    ci = bootstrap_ci(arr, seed)
    return {"mean": float(arr.mean()) if len(arr) else None, "ci95": list(ci) if ci else None, "n": len(arr)}


def aggregate(scores: list[AnswerScore], seed: int = 0) -> dict[str, Any]:
    """Counts and every metric's mean with a 95% bootstrap CI (answers resampled, seeded)."""
    answered = [s for s in scores if not s.abstained]
    out: dict[str, Any] = {
        "n_answers": len(scores),
        "n_abstained": len(scores) - len(answered),
        "n_scored": sum(1 for s in answered if s.precision is not None),
        "n_claims": sum(s.claims for s in answered),
        "labels": {"supported": sum(s.supported for s in answered),
                   "unsupported": sum(s.unsupported for s in answered),
                   "unverifiable": sum(s.unverifiable for s in answered)},
        "judge_errors": sum(s.judge_errors for s in scores),
        "extraction_errors": sum(s.extraction_errors for s in scores),
        "abstention_rate": _metric([float(s.abstained) for s in scores], seed),
    }
    metrics: dict[str, Any] = {}
    for name in METRICS:
        if name in ("supported", "claims"):
            vals = [float(getattr(s, name)) for s in answered]
        else:
            vals = [getattr(s, name) for s in answered if getattr(s, name) is not None]
        metrics[name] = _metric(vals, seed)
    out["mean_claims_per_answer"] = metrics["claims"]["mean"]
    out["metrics"] = metrics
    return out


def as_rows(scores: list[AnswerScore]) -> list[dict[str, Any]]:
    return [asdict(s) for s in scores]
