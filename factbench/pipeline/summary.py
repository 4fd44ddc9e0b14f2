"""summary.json: per-task and overall metrics, judge health, errors, accounting (docs/summary-schema.md)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from factbench import __version__
from factbench.hashing import sha256_hex
from factbench.llm.cost import add_up, total_cost
from factbench.pipeline.plan import PlannedTask
from factbench.pipeline.settings import RunSettings
from factbench.scoring.metrics import AnswerScore, aggregate, score_answer
from factbench.stages.base import R, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.generate import AnswerStage
from factbench.stages.informativeness import InformativenessStage
from factbench.stages.relevance import RelevanceStage
from factbench.stages.verify import VerdictsStage
from factbench.store.artefacts import RunSummary
from factbench.store.hacks_file import hacks_pointer
from factbench.store.records import ErrorRecord, Record, sample_key
from factbench.store.run_dir import RunStore

Latest = dict[str, dict[str, Record]]  # stage -> sample key -> its last record
Usage = dict[str, dict[str, dict[str, Any]]]  # sample key -> role -> usage over every record of it


def read_run(store: RunStore, stages: tuple[Stage, ...]) -> tuple[Latest, Usage]:
    """Each stage file read once: the latest record per sample, and usage summed over all records
    (superseded attempts and failures cost tokens too)."""
    latest: Latest = {}
    parts: dict[str, list[dict]] = {}
    for stage in (*(s.name for s in stages), "errors"):
        latest[stage] = {}
        for rec in store.iter_records(stage):
            if stage != "errors":
                latest[stage][rec.key] = rec
            if rec.usage:
                parts.setdefault(rec.key, []).append(rec.usage)
    return latest, {key: add_up(p) for key, p in parts.items()}


def record_of(latest: Latest, stage: type[Stage[R]], key: str) -> R | None:
    """A sample's latest record of `stage`, typed."""
    return latest.get(stage.name, {}).get(key)  # type: ignore[return-value]


def records_of(latest: Latest, stage: type[Stage[R]]) -> dict[str, R]:
    """Every sample's latest record of `stage`, typed."""
    return latest.get(stage.name, {})  # type: ignore[return-value]


def unresolved_failures(store: RunStore) -> dict[tuple[str, str], ErrorRecord]:
    """(stage, sample key) -> its last failure, for failures no later `resolved` line follows."""
    last: dict[tuple[str, str], ErrorRecord] = {}
    for rec in store.iter_records("errors"):
        assert isinstance(rec, ErrorRecord)
        last[(rec.stage, rec.key)] = rec
    return {k: rec for k, rec in last.items() if not rec.resolved}


def collect_scores(latest: Latest, usage: Usage, planned: dict[str, PlannedTask], settings: RunSettings,
                   relevance_tasks: set[str], failed: set[str]) -> list[AnswerScore]:
    """A score for every prompt that has an answer (a judge failure is an unscored row, never a
    gap). An answer whose judging stopped without a recorded failure (--max-cost, a kill) is
    `pending` rather than `judge_failed`; `failed` holds the keys with an unresolved failure."""
    reward = settings.reward
    scores = []
    for pt in planned.values():
        for p in pt.prompts:
            key = sample_key(pt.task.name, p.id)
            answer = record_of(latest, AnswerStage, key)
            if answer is None:
                continue  # no answer to score: counted as n_prompts - n_answers
            claims = record_of(latest, ClaimsStage, key)
            score = score_answer(claims, record_of(latest, VerdictsStage, key), record_of(latest, RelevanceStage, key),
                                 pt.task.k, reward.lam, reward.mu,
                                 record_of(latest, InformativenessStage, key) if settings.informativeness else None,
                                 reward.design, answer=answer, relevance_measured=pt.task.name in relevance_tasks)
            missing = key not in latest["verdicts"] or (settings.informativeness and key not in latest["informativeness"])
            unfinished = claims is None or (missing and not claims.abstained and bool(claims.claims))
            if score.status == "judge_failed" and unfinished and key not in failed:
                score.status = "pending"
            score.usage = usage.get(key, {})
            score.cost_usd = total_cost(score.usage)
            scores.append(score)
    return scores


def judge_health(stages: tuple[Stage, ...], latest: Latest, keys: set[str]) -> dict[str, dict[str, Any]]:
    """Per judge stage: items it was asked about, how many are still without a parsed answer, by kind."""
    out = {}
    for stage in stages:
        if not stage.roles:
            continue
        items = missing = 0
        kinds: Counter[str] = Counter()
        for key, record in latest.get(stage.name, {}).items():
            if key not in keys:
                continue
            n, unparsed, by_kind = stage.unparsed(record, {s.name: latest[s.name][key] for s in stages
                                                           if key in latest.get(s.name, {})})
            items, missing = items + n, missing + unparsed
            kinds.update(by_kind)
        out[stage.name] = {"items": items, "unparsed": missing, "rate": missing / items if items else 0.0,
                           "by_kind": dict(kinds)}
    return out


def task_block(pt: PlannedTask, scores: list[AnswerScore], judge: dict[str, Any], settings: RunSettings,
               agg: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task's block of the summary; `agg`: its scores' `aggregate`, when already computed."""
    agg = aggregate(scores, settings.seed) if agg is None else agg
    agg.update({"n_prompts": len(pt.prompts), "n_no_answer": len(pt.prompts) - agg["n_answers"],
                "k": pt.task.k, "version": pt.task.version, "evidence": pt.evidence.name,
                "evidence_chosen_by": pt.evidence_chosen_by, "judge": judge, "judge_sha": sha256_hex(judge, 16)})
    return agg


def build_summary(store: RunStore, stages: tuple[Stage, ...], latest: Latest, scores: list[AnswerScore],
                  planned: dict[str, PlannedTask],
                  settings: RunSettings, accounting: dict[str, Any], notes: list[str], *,
                  task_judges: dict[str, dict[str, Any]], resumed: dict[str, int], judges: dict[str, Any],
                  answers_from: Any, budget: dict[str, Any], memo: dict[str, int] | None = None) -> RunSummary:
    overall = aggregate(scores, settings.seed)
    per_task = {}
    for name, pt in planned.items():
        own = [s for s in scores if s.task == name]
        # A run of one task: its aggregate is the overall one (same answers, same seed), not bootstrapped twice.
        same = len(own) == len(scores)
        per_task[name] = task_block(pt, own, task_judges[name], settings, copy.deepcopy(overall) if same else None)
    overall["n_prompts"] = sum(len(pt.prompts) for pt in planned.values())
    overall["n_no_answer"] = overall["n_prompts"] - overall["n_answers"]
    keys = {sample_key(pt.task.name, p.id) for pt in planned.values() for p in pt.prompts}
    failures = {k: rec for k, rec in unresolved_failures(store).items() if k[1] in keys}
    stage_failures: dict[str, dict[str, int]] = {}
    for (stage, _), rec in failures.items():
        stage_failures.setdefault(stage, {}).setdefault(rec.kind, 0)
        stage_failures[stage][rec.kind] += 1
    failed = {key for _, key in failures}
    incomplete = {sample_key(s.task, s.id) for s in scores if s.incomplete or s.unscored}
    health = judge_health(stages, latest, keys)
    informativeness_health = health.pop("informativeness", None)  # reported on its own line (all of the run's records)
    truncated = sum(1 for k, a in records_of(latest, AnswerStage).items() if k in keys and a.finish_reason == "length")
    n_prompts = max(1, overall["n_prompts"])
    return RunSummary.model_validate({
        "run_id": settings.run_id,
        "factbench_version": __version__,
        "wall_seconds": accounting["wall_seconds"],
        "tasks": per_task,
        "overall": overall,
        "errors": {
            "failed_samples": len(failed),
            "failed_sample_rate": len(failed) / n_prompts,
            "stage_failures": stage_failures,
            "incomplete_samples": len(incomplete),
            "gate_failures": len(failed | incomplete),
            "gate_failure_rate": len(failed | incomplete) / n_prompts,
            "extraction_parse_errors": health.get("claims", {}).get("by_kind", {}),
            "verification_parse_errors": health.get("verdicts", {}).get("by_kind", {}),
            "relevance_parse_errors": health.get("relevance", {}).get("by_kind", {}),
            "informativeness_parse_errors": dict(Counter(e for r in records_of(latest, InformativenessStage).values()
                                                   for e in r.errors if e)) if informativeness_health is not None else {},
            "parse": health,
            "truncated_answers": truncated,
        },
        **accounting,
        "reward": settings.reward.describe(),
        "hacks": hacks_pointer(store.dir),
        "budget": budget,
        "notes": notes,
        "resumed": resumed,
        "judges": judges,
        "answers_from": answers_from,
        # This invocation's claim judgements taken from the verdict memo (hits), awaited from another
        # answer judging them at the same time (waits), and sent to the judge (misses); None: memo off.
        "memo": memo,
    })
