"""How reports show metrics: one table of names, units and decimals, used by every page,
markdown file and CSV so that a number is rounded the same way everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from factbench.scoring.metrics import METRIC_INFO
from factbench.scoring.reward import DEFAULT_DESIGN, DEFAULT_LAMBDA, DEFAULT_MU, formula


@dataclass(frozen=True)
class MetricFormat:
    key: str  # the name in summary.json and scores.jsonl
    header: str
    scale: float  # shown value = stored value * scale
    decimals: int
    unit: str = ""


def _shown(key: str, decimals: int) -> MetricFormat:
    info = METRIC_INFO[key]  # names, units and direction come from the one metric table
    return MetricFormat(key, info.label[:1].upper() + info.label[1:], 100 if info.percent else 1, decimals,
                        "%" if info.percent else "")


SHOWN_METRICS = tuple(_shown(k, d) for k, d in (("precision", 1), ("hallucination_rate", 1), ("supported", 1),
                                                ("f1_at_k", 1), ("relevance", 1), ("reward", 3)))
BY_KEY = {m.key: m for m in SHOWN_METRICS}
HEADLINE = "precision"  # the metric the leaderboard ranks by


def reward_formulas(rewards: set[tuple[str, float, float]]) -> str:
    """The reward formula(s) of the runs shown, each with its parameters (one name: `reward`)."""
    return "; ".join(formula(*r) for r in sorted(rewards)) or formula(DEFAULT_DESIGN, DEFAULT_LAMBDA, DEFAULT_MU)


def fmt(value: float | None, key: str) -> str:
    """A stored value as shown ('' when there is none)."""
    if value is None:
        return ""
    m = BY_KEY[key]
    return f"{value * m.scale:.{m.decimals}f}"


def fmt_ci(metric: dict[str, Any] | None, key: str) -> str:
    """'mean [low, high]' on one line, or '-' when the metric has no value."""
    if not metric or metric.get("mean") is None:
        return "-"
    ci = metric.get("ci95") or [metric["mean"], metric["mean"]]
    return f"{fmt(metric['mean'], key)} [{fmt(ci[0], key)}, {fmt(ci[1], key)}]"


def shown_triplet(metric: dict[str, Any] | None, key: str) -> tuple[str, str, str]:
    """(mean, low, high) as shown; empty strings where missing."""
    if not metric or metric.get("mean") is None:
        return "", "", ""
    ci = metric.get("ci95") or [None, None]
    return fmt(metric["mean"], key), fmt(ci[0], key), fmt(ci[1], key)
