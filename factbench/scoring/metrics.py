"""Stage 6: metrics per answer, aggregated per task and overall with seeded bootstrap CIs.

Definitions (see docs/metrics.md):
- precision = S / (S + U + V) over the claims that got a label; unverifiable counts as not
  supported (the claim could not be confirmed). Binary mode has no V.
- hallucination_rate = 1 - precision; detail = S (supported claims).
- f1_at_k: recall@K = min(S / K, 1), F1 = 2PR / (P + R) (0 when S = 0); K fixed per task version.
- factscore: precision x exp(1 - gamma / n) when n < gamma claims (gamma = 10), else precision.
- relevance: win rate against the reference (ties 0.5), both orders averaged.
- weighted_precision / weighted_supported / on_topic: from the informativeness classes of the
  claims (:mod:`factbench.scoring.weighting`); None when the run has no claim weights.
- merged_precision / merged_detail: precision and detail on the claims' merged content
  (:mod:`factbench.scoring.facts`): the same whether the facts come in one claim or several.
- reward: composed in one place, :mod:`factbench.scoring.reward`.
Every answer has a status (STATUSES) and every status but `judge_failed` and `pending` has a
reward: answers without a labelled claim (empty, think-only, no verifiable claims, abstained)
get the floor, and F1@K = 0. Claims without a label (judge errors) are excluded from S, U, V
and counted as errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from factbench.scoring.facts import merged_terms
from factbench.scoring.reward import DEFAULT_DESIGN, DEFAULT_LAMBDA, DEFAULT_MU, RewardSpec, compose_reward
from factbench.scoring.weighting import weighted_terms
from factbench.store.records import (
    AnswerRecord,
    ClaimsRecord,
    InformativenessRecord,
    RelevanceRecord,
    VerdictsRecord,
)

GAMMA = 10
BOOTSTRAP_SAMPLES = 1000
# Per-answer status, in the order they are decided (docs/metrics.md has the values of each).
STATUSES = ("empty", "think_only", "judge_failed", "pending", "abstained", "no_claims", "scored")
METRICS = ("precision", "hallucination_rate", "supported", "claims", "f1_at_k", "factscore", "relevance",
           "weighted_precision", "weighted_supported", "on_topic", "merged_precision", "merged_detail",
           "reward")


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
    MetricInfo("weighted_precision", "w.precision", True, True,
               "precision over informative and off-topic claims (trivial facts and restatements left out)"),
    MetricInfo("weighted_supported", "w.supported", False, True, "supported informative claims per answer"),
    MetricInfo("on_topic", "on topic", True, True, "share of claims the informativeness judge finds on topic"),
    MetricInfo("merged_precision", "m.precision", True, True,
               "share of the answer's merged claim content that is in supported claims"),
    MetricInfo("merged_detail", "m.detail", False, True,
               "distinct content of the supported informative claims, in facts (however many claims carry it)"),
    MetricInfo("reward", "run reward", False, True,
               "P + lambda * log(1 + D) + mu * relevance (docs/metrics.md); not bounded by 1, unlike the [0, 1] "
               "training reward of Scorer (docs/reward.md)"),
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
    weighted_precision: float | None = None
    weighted_supported: float | None = None
    on_topic: float | None = None
    merged_precision: float | None = None  # factbench/scoring/facts.py
    merged_detail: float | None = None
    informativeness_errors: int = 0
    ungrounded: int = 0  # claims dropped because the answer does not support them (stages/grounding.py)
    status: str = "scored"  # one of STATUSES
    unscored: bool = False  # no reward (judge failed or pending, or a term missing): counted, never dropped
    incomplete: bool = False  # some sentences or claims were left without a parsed judge answer
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)  # per role, over all attempts
    cost_usd: float | None = 0.0  # over every role; None when a role's calls have no price


def f1_at_k(precision: float, supported: int, k: int) -> float:
    if supported <= 0 or precision <= 0:
        return 0.0
    recall = min(supported / k, 1.0)
    return 2 * precision * recall / (precision + recall)


def length_penalised(precision: float, n_claims: int, gamma: int = GAMMA) -> float:
    if n_claims <= 0:
        return 0.0
    return precision * (math.exp(1 - gamma / n_claims) if n_claims < gamma else 1.0)


def answer_status(answer: AnswerRecord | None, claims: ClaimsRecord | None, judged: int) -> str:
    if answer is not None and not answer.answer.strip():
        return "think_only" if (answer.reasoning or "").strip() else "empty"
    if claims is None:
        return "judge_failed"  # extraction never produced a record
    if claims.abstained:
        return "abstained"
    if not claims.claims:
        return "judge_failed" if claims.missing_sentences else "no_claims"
    return "scored" if judged else "judge_failed"


def score_answer(claims: ClaimsRecord | None, verdicts: VerdictsRecord | None, relevance: RelevanceRecord | None,
                 k: int, lam: float = DEFAULT_LAMBDA, mu: float = DEFAULT_MU,
                 informativeness: InformativenessRecord | None = None, design: str | None = None, *,
                 answer: AnswerRecord | None = None, relevance_measured: bool = False,
                 question: str | None = None) -> AnswerScore:
    """One answer's values (docs/metrics.md, "Every answer has a value"). `design` defaults to
    the default design when claim weights are given, else "plain". `relevance_measured`: the task
    judges relevance, so an answer with nothing to judge (no sentence) loses to the reference (0).
    `question` (else the answer record's prompt) is left out of the merged facts' content."""
    labels = verdicts.labels if verdicts else []
    s = labels.count("supported")
    u = labels.count("unsupported")
    v = labels.count("unverifiable")
    judged = s + u + v
    n_claims = len(claims.claims) if claims else 0
    status = answer_status(answer, claims, judged)
    rel = relevance.score if relevance else None
    if rel is None and relevance_measured and (status in ("empty", "think_only") or (claims and not claims.sentences)):
        rel = 0.0
    precision = s / judged if status == "scored" else None
    # A labelled claim without a class (an informativeness answer that never parsed) leaves the weighted
    # terms unknown: never a value over part of the claims.
    unweighted = informativeness is not None and any(
        label is not None and (i >= len(informativeness.classes) or informativeness.classes[i] is None) for i, label in enumerate(labels))
    terms = weighted_terms(labels, informativeness.classes) if informativeness is not None and not unweighted else None
    merged = merged_terms([c.text for c in claims.claims], labels, informativeness.classes if informativeness else None,
                          question if question is not None else answer.prompt if answer else None) \
        if claims and status == "scored" and not unweighted else None
    spec = RewardSpec(design or (DEFAULT_DESIGN if informativeness is not None else "plain"), lam, mu)
    # A judge failure is never a value: no reward rather than the floor. So is a scored answer
    # whose reward would miss a term (its claim weights, or a measured relevance that failed).
    missing_term = status == "scored" and ((spec.weighted and (terms is None or terms.unclassified > 0)) or
                                           (relevance_measured and rel is None and mu != 0))
    if status in ("judge_failed", "pending") or missing_term:
        reward = None
    else:
        reward = compose_reward(spec, abstained=status == "abstained", precision=precision, supported=s,
                                weighted_precision=terms.precision if terms else None,
                                weighted_supported=terms.supported if terms else None, relevance=rel,
                                merged_precision=merged.precision if merged else None,
                                merged_detail=merged.detail if merged else None)
    failed = status in ("judge_failed", "pending")
    scored = precision is not None
    source = claims or answer
    if source is None:
        raise ValueError("score_answer needs the claims record or the answer record")
    return AnswerScore(
        task=source.task, id=source.id,
        abstained=bool(claims and claims.abstained), claims=n_claims, supported=s, unsupported=u, unverifiable=v,
        judge_errors=n_claims - judged if claims and not claims.abstained else 0,
        extraction_errors=len(claims.errors) if claims else 0,
        precision=precision, hallucination_rate=None if precision is None else 1 - precision,
        f1_at_k=None if failed else f1_at_k(precision or 0.0, s, k),
        # FActScore conditions on answering: abstentions are excluded, as in the published numbers.
        factscore=None if failed or status == "abstained" else length_penalised(precision or 0.0, n_claims),
        relevance=rel, reward=reward,
        weighted_precision=terms.precision if terms and scored else None,
        weighted_supported=terms.supported if terms and scored else None,
        on_topic=terms.on_topic if terms and scored else None,
        merged_precision=merged.precision if merged else None,
        merged_detail=merged.detail if merged else None,
        informativeness_errors=sum(1 for e in informativeness.errors[:n_claims] if e) + max(0, n_claims - len(informativeness.errors))
        if informativeness is not None else 0,
        ungrounded=len(claims.ungrounded) if claims else 0,
        status=status, unscored=reward is None,
        incomplete=bool((claims and claims.missing_sentences) or judged < n_claims or unweighted),
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
    """Counts and every metric's mean with a 95% bootstrap CI (answers resampled, seeded).

    `n_scored` answers have a reward (every status but judge_failed and pending); each metric's
    `n` says how many answers its mean is over."""
    status = {name: sum(1 for s in scores if s.status == name) for name in STATUSES}
    known = [s for s in scores if s.status not in ("judge_failed", "pending")]
    answered = [s for s in known if not s.abstained]
    claimed = [s for s in scores if not s.abstained]
    n_claims = sum(s.claims for s in claimed)
    judge_errors = sum(s.judge_errors for s in scores)
    unscored = sum(1 for s in scores if s.reward is None)
    out: dict[str, Any] = {
        "n_answers": len(scores),
        "n_scored": len(scores) - unscored,
        "n_unscored": unscored,
        "n_abstained": status["abstained"],
        "n_no_claims": status["no_claims"],
        "n_empty": status["empty"],
        "n_think_only": status["think_only"],
        "n_incomplete": sum(1 for s in scores if s.incomplete),
        "answer_status": status,
        "n_claims": n_claims,
        "labels": {"supported": sum(s.supported for s in claimed),
                   "unsupported": sum(s.unsupported for s in claimed),
                   "unverifiable": sum(s.unverifiable for s in claimed)},
        "judge_errors": judge_errors,
        "judge_error_rate": judge_errors / n_claims if n_claims else 0.0,
        "unscored_rate": unscored / len(scores) if scores else 0.0,
        "extraction_errors": sum(s.extraction_errors for s in scores),
        "informativeness_errors": sum(s.informativeness_errors for s in scores),
        "ungrounded_claims": sum(s.ungrounded for s in scores),
        "abstention_rate": _metric([float(s.abstained) for s in known], seed),
    }
    metrics: dict[str, Any] = {}
    for name in METRICS:
        if name in ("supported", "claims"):
            vals = [float(getattr(s, name)) for s in answered]
        else:
            vals = [getattr(s, name) for s in scores if getattr(s, name) is not None]
        metrics[name] = _metric(vals, seed)
    out["mean_claims_per_answer"] = metrics["claims"]["mean"]
    out["metrics"] = metrics
    return out


def as_rows(scores: list[AnswerScore]) -> list[dict[str, Any]]:
    """Each score as a dict of its fields (what `dataclasses.asdict` gives, without its generic deep copy:
    the only nested field, `usage`, holds dicts and numbers)."""
    names = [f.name for f in fields(AnswerScore)]
    return [{name: _copied(getattr(s, name)) for name in names} for s in scores]


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copied(v) for v in value)
    return value
