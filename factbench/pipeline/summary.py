"""summary.json: per-task and overall metrics, errors, calls."""

from __future__ import annotations

from collections import Counter
from typing import Any

from factbench import __version__
from factbench.pipeline.plan import PlannedTask
from factbench.pipeline.settings import RunSettings
from factbench.scoring.metrics import AnswerScore, aggregate, score_answer
from factbench.store.artefacts import RunSummary
from factbench.store.hacks_file import hacks_pointer
from factbench.store.records import Record, sample_key
from factbench.store.run_dir import RunStore

Latest = dict[str, dict[str, Record]]  # stage -> sample key -> its last record


def collect_scores(latest: Latest, planned: dict[str, PlannedTask], settings: RunSettings) -> list[AnswerScore]:
    claims, verdicts, relevance, weights = latest["claims"], latest["verdicts"], latest["relevance"], latest["weights"]
    reward = settings.reward
    scores = []
    for pt in planned.values():
        for p in pt.prompts:
            key = sample_key(pt.task.name, p.id)
            c = claims.get(key)
            unfinished = key not in verdicts or (settings.weighting and key not in weights)
            if c is None or (unfinished and not c.abstained and c.claims):
                continue  # not finished: counted under errors, not scored
            scores.append(score_answer(c, verdicts.get(key), relevance.get(key), pt.task.k, reward.lam, reward.mu,
                                       weights.get(key) if settings.weighting else None, reward.design))
    return scores


def build_summary(store: RunStore, latest: Latest, scores: list[AnswerScore], planned: dict[str, PlannedTask],
                  settings: RunSettings, role_stats: dict[str, dict], wall_s: float,
                  notes: list[str], *, resumed: dict[str, int], judges: dict[str, Any],
                  answers_from: Any) -> RunSummary:
    per_task = {}
    for name, pt in planned.items():
        agg = aggregate([s for s in scores if s.task == name], settings.seed)
        agg["n_prompts"] = len(pt.prompts)
        agg["k"] = pt.task.k
        agg["version"] = pt.task.version
        agg["evidence"] = pt.evidence.name
        per_task[name] = agg
    overall = aggregate(scores, settings.seed)
    overall["n_prompts"] = sum(len(pt.prompts) for pt in planned.values())
    errors_by_stage: dict[str, dict[str, int]] = {}
    latest_failures = {}
    for rec in store.iter_records("errors"):
        latest_failures[(rec.stage, rec.key)] = rec.kind
    done = {s: set(records) for s, records in latest.items()}
    for (stage, key), kind in latest_failures.items():
        if key not in done.get(stage, set()):  # still failing (not fixed by a later resume)
            errors_by_stage.setdefault(stage, {}).setdefault(kind, 0)
            errors_by_stage[stage][kind] += 1
    claim_errors: Counter[str] = Counter()
    for rec in latest["claims"].values():
        claim_errors.update(rec.errors)
    verdict_errors: Counter[str] = Counter()
    for rec in latest["verdicts"].values():
        verdict_errors.update(e for e in rec.errors if e)
    weighting_errors: Counter[str] = Counter()
    for rec in latest["weights"].values():
        weighting_errors.update(e for e in rec.errors if e)
    relevance_errors: Counter[str] = Counter()
    for rec in latest["relevance"].values():
        relevance_errors.update(rec.errors)
    failed_samples = len({key for (stage, key) in latest_failures if key not in done.get(stage, set())})
    return RunSummary.model_validate({
        "run_id": settings.run_id,
        "factbench_version": __version__,
        "wall_seconds": round(wall_s, 3),
        "tasks": per_task,
        "overall": overall,
        "errors": {
            "failed_samples": failed_samples,
            "failed_sample_rate": failed_samples / max(1, overall["n_prompts"]),
            "stage_failures": errors_by_stage,
            "extraction_parse_errors": dict(claim_errors),
            "verification_parse_errors": dict(verdict_errors),
            "relevance_parse_errors": dict(relevance_errors),
            "weighting_parse_errors": dict(weighting_errors),
        },
        "reward": settings.reward.describe(),
        "calls": role_stats,
        "cache": {"hits": sum(s["cache_hits"] for s in role_stats.values()),
                  "calls": sum(s["calls"] for s in role_stats.values())},
        "notes": notes,
        "resumed": resumed,
        "judges": judges,
        "answers_from": answers_from,
        "hacks": hacks_pointer(store.dir),
    })
