"""The orchestrator: the only place that knows the order of stages.

    prompt -> answer -> claims -> evidence -> verdicts (-> relevance) -> metrics

Samples stream through the stages on a pool of asyncio workers: one answer's claims are
being verified while others are still generating; there is no barrier between stages.
Each finished (sample, stage) is appended to the run directory at once, so a re-run with
the same run id does only what is missing. A stage that fails for a sample writes an error
record and leaves that stage missing (the next resume retries it); the run goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from tqdm import tqdm

from factbench import __version__
from factbench.cache import CallCache
from factbench.claims import DEFAULT_SENTENCES_PER_CALL, extract_claims
from factbench.evidence import EvidenceBackend, EvidenceUnavailable, open_backend, retrieve_evidence
from factbench.generate import (
    GENERATION_TEMPLATE,
    answer_from_response,
    generate_answer,
    load_responses,
    split_reasoning,
)
from factbench.hashing import sha256_hex
from factbench.llm import LLMClient, LLMError, RoleSpec, redact
from factbench.metrics import AnswerScore, aggregate, as_rows, score_answer
from factbench.prompts import EXTRACT, RELEVANCE, verify_template
from factbench.records import STAGES, ErrorRecord, Record, sample_key
from factbench.relevance import judge_relevance
from factbench.store import RunMismatch, RunStore
from factbench.tasks import DataContext, Prompt, Task, TaskDataUnavailable, sample_prompts
from factbench.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS, verify_claims


class RunSettings(BaseModel):
    """What the user asked for, besides the roles. Frozen and serialised into run.json."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    results_dir: str = "results"
    limit: int | None = None
    seed: int = 0
    evidence: str = "auto"
    verify_mode: str = "ternary"
    sentences_per_call: int = DEFAULT_SENTENCES_PER_CALL
    claims_per_call: int = DEFAULT_CLAIMS_PER_CALL
    evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS
    relevance: bool = True
    reward_lambda: float = 0.1
    reward_mu: float = 1.0
    responses: str | None = None
    max_parallel_samples: int = 0  # 0: derived from the judges' concurrency
    fail_on_error: float = 0.05
    progress: bool = True
    cache_path: str | None = None
    data_dir: str | None = None
    select_from_run: str | None = None  # re-scoring: take exactly that run's prompt selection
    label: str = ""  # shown on the leaderboard, e.g. "demo-quality judge"

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / self.run_id


@dataclass
class PlannedTask:
    task: Task
    prompts: list[Prompt]
    evidence: EvidenceBackend
    evidence_note: str | None = None


@dataclass
class Plan:
    tasks: list[PlannedTask]
    skipped: dict[str, str] = field(default_factory=dict)


def plan_tasks(tasks: list[Task], settings: RunSettings, cache: CallCache | None) -> Plan:
    """Load prompts, take the seeded sample and open each task's evidence backend."""
    ctx = DataContext.from_env(settings.data_dir)
    selection = None
    if settings.select_from_run:
        source = RunStore(settings.select_from_run).read_json("run.json") or {}
        selection = {name: set(t["prompt_ids"]) for name, t in source.get("tasks", {}).items()}
    plan = Plan(tasks=[])
    for task in tasks:
        try:
            prompts = sample_prompts(task.load(ctx), settings.limit, settings.seed, task.name)
        except TaskDataUnavailable as exc:
            plan.skipped[task.name] = str(exc)
            continue
        if selection is not None:
            prompts = [p for p in prompts if p.id in selection.get(task.name, ())]
        spec = task.default_evidence if settings.evidence in ("auto", "default") else settings.evidence
        note = None
        try:
            backend = open_backend(spec, cache)
        except EvidenceUnavailable as exc:
            if settings.evidence != "auto":
                raise
            backend = open_backend("none", cache)
            note = f"default evidence {spec!r} unavailable ({exc}); using the judge's own knowledge"
        plan.tasks.append(PlannedTask(task, prompts, backend, note))
    return plan


def run_identity(settings: RunSettings, roles: dict[str, RoleSpec], plan: Plan, source: str) -> dict[str, Any]:
    """Everything that changes scores. A resume with a different identity is refused."""
    judges = {}
    for role in ("extractor", "verifier", "relevance"):
        if role in roles:
            judges[role] = roles[role].identity()
    templates = {"claims": EXTRACT.id, "relevance": RELEVANCE.id}
    for pt in plan.tasks:
        t = verify_template(settings.verify_mode, pt.evidence.uses_evidence)
        templates[t.name] = t.id
    return {
        "answers": source,
        "model": roles["model"].identity() if "model" in roles else None,
        "reference": roles["reference"].identity() if "reference" in roles else None,
        "judges": judges,
        "templates": templates,
        "tasks": {pt.task.name: {**pt.task.identity(), "evidence": pt.evidence.name,
                                 "prompt_ids_sha": sha256_hex([p.id for p in pt.prompts], 16)}
                  for pt in plan.tasks},
        "scoring": {"verify_mode": settings.verify_mode, "sentences_per_call": settings.sentences_per_call,
                    "claims_per_call": settings.claims_per_call, "evidence_tokens": settings.evidence_tokens,
                    "relevance": settings.relevance},
    }


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


class Progress:
    """One tqdm bar per stage with done/errors/cache-hit counts."""

    def __init__(self, totals: dict[str, int], enabled: bool, clients: dict[str, LLMClient]):
        self.clients = clients
        self.errors: Counter[str] = Counter()
        self.bars = {s: tqdm(total=n, desc=f"{s:<9}", position=i, leave=True, disable=not enabled,
                             file=sys.stderr, dynamic_ncols=True) for i, (s, n) in enumerate(totals.items())}

    def done(self, stage: str) -> None:
        bar = self.bars.get(stage)
        if bar is not None:
            bar.update(1)
            role = {"answers": "model", "claims": "extractor", "verdicts": "verifier", "relevance": "relevance"}.get(stage)
            client = self.clients.get(role) if role else None
            postfix = {"errors": self.errors[stage]}
            if client is not None:
                postfix["cache_hits"] = client.stats.cache_hits
            bar.set_postfix(postfix, refresh=False)

    def failed(self, stage: str) -> None:
        self.errors[stage] += 1
        bar = self.bars.get(stage)
        if bar is not None:
            bar.set_postfix({"errors": self.errors[stage]}, refresh=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


class Runner:
    def __init__(self, settings: RunSettings, roles: dict[str, RoleSpec], tasks: list[Task],
                 cache: CallCache | None):
        self.settings = settings
        self.roles = roles
        self.cache = cache
        self.plan = plan_tasks(tasks, settings, cache)
        self.responses: dict[str, dict] = {}
        self.source = "generated"
        if settings.responses:
            self.responses, digest = load_responses(settings.responses, [pt.task.name for pt in self.plan.tasks])
            self.source = f"responses:{Path(settings.responses).name}@{digest}"
        self.clients = {role: LLMClient(spec, cache) for role, spec in roles.items()}
        self.store = RunStore(settings.run_dir)
        self.identity = run_identity(settings, roles, self.plan, self.source)
        self.notes: list[str] = [f"{name}: skipped ({why})" for name, why in self.plan.skipped.items()]
        self.notes += [f"{pt.task.name}: {pt.evidence_note}" for pt in self.plan.tasks if pt.evidence_note]

    # ------------------------------------------------------------------ run.json
    def _write_spec(self) -> None:
        identity = self.identity
        old = self.store.read_json("run.json")
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        if old is not None:
            diffs = _diff(old.get("identity"), identity)
            if diffs:
                raise RunMismatch(
                    f"run {self.settings.run_id!r} already exists with a different configuration; "
                    "results are never mixed. Use a new --run-id (or `factbench score` to re-score its answers). "
                    "Differences:\n  " + "\n  ".join(diffs[:20]))
        spec = {
            "run_id": self.settings.run_id,
            "label": self.settings.label,
            "factbench_version": __version__,
            "identity": identity,
            "identity_sha": sha256_hex(identity, 16),
            "roles": {role: spec.public() for role, spec in self.roles.items()},
            "settings": self.settings.model_dump(),
            "tasks": {pt.task.name: {**pt.task.identity(), "evidence": pt.evidence.name, "tags": list(pt.task.tags),
                                     "n_prompts": len(pt.prompts), "prompt_ids": [p.id for p in pt.prompts],
                                     "evidence_note": pt.evidence_note}
                      for pt in self.plan.tasks},
            "skipped_tasks": self.plan.skipped,
            "generation_template": GENERATION_TEMPLATE,
            "started_at": (old or {}).get("started_at", now),
            "resumed_at": (old or {}).get("resumed_at", []) + ([now] if old else []),
            "finished_at": None,
        }
        self.store.write_json("run.json", spec)

    # ------------------------------------------------------------------ per sample
    async def _stage(self, stage: str, task: str, sid: str, coro) -> Record | None:
        try:
            record = await coro
        except LLMError as exc:
            self._fail(stage, task, sid, exc.kind, exc.detail)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a bad input for this one sample: recorded, the run goes on
            self._fail(stage, task, sid, "internal", f"{type(exc).__name__}: {exc}")
            return None
        self.store.append(stage, record)
        self.progress.done(stage)
        return record

    def _fail(self, stage: str, task: str, sid: str, kind: str, detail: str) -> None:
        self.store.append("errors", ErrorRecord(task=task, id=sid, stage=stage, kind=kind, detail=redact(detail)[:500]))
        self.progress.failed(stage)

    async def _process(self, pt: PlannedTask, prompt: Prompt) -> None:
        task, sid = pt.task.name, prompt.id
        key = sample_key(task, sid)
        answer = self.existing["answers"].get(key)
        if answer is None:
            if self.settings.responses:
                row = self.responses.get(key)
                if row is None:
                    self._fail("answers", task, sid, "no_response", "the responses file has no answer for this prompt")
                    return
                answer = await self._stage("answers", task, sid, _ready(answer_from_response(pt.task, prompt, row, self.source)))
            else:
                answer = await self._stage("answers", task, sid, generate_answer(self.clients["model"], pt.task, prompt))
            if answer is None:
                return
        claims = self.existing["claims"].get(key)
        if claims is None:
            claims = await self._stage("claims", task, sid, extract_claims(
                self.clients["extractor"], task, sid, prompt.text, answer.answer, self.settings.sentences_per_call))
            if claims is None:
                return
        evidence = self.existing["evidence"].get(key)
        if evidence is None:
            evidence = await self._stage("evidence", task, sid, retrieve_evidence(
                pt.evidence, task, prompt, [c.text for c in claims.claims]))
            if evidence is None:
                return
        if key not in self.existing["verdicts"]:
            verdicts = await self._stage("verdicts", task, sid, verify_claims(
                self.clients["verifier"], claims, evidence, mode=self.settings.verify_mode,
                uses_evidence=pt.evidence.uses_evidence, claims_per_call=self.settings.claims_per_call,
                evidence_tokens=self.settings.evidence_tokens))
            if verdicts is None:
                return
        if self._wants_relevance(pt) and key not in self.existing["relevance"] and not claims.abstained:
            reference, ref_source = await self._reference(pt, prompt)
            if reference is not None:
                await self._stage("relevance", task, sid, judge_relevance(
                    self.clients["relevance"], task, sid, prompt.text, answer.answer, reference, ref_source))

    def _wants_relevance(self, pt: PlannedTask) -> bool:
        return self.settings.relevance and "relevance" in self.clients and (
            pt.task.has_references or "reference" in self.clients)

    async def _reference(self, pt: PlannedTask, prompt: Prompt) -> tuple[str | None, str]:
        if prompt.reference:
            return prompt.reference, f"task:{prompt.meta.get('reference_model') or 'reference'}"
        client = self.clients.get("reference")
        if client is None:
            return None, ""
        try:
            completion = await client.complete([{"role": "user", "content": pt.task.render(prompt)}],
                                               template=GENERATION_TEMPLATE)
        except LLMError as exc:
            self._fail("relevance", pt.task.name, prompt.id, f"reference_{exc.kind}", exc.detail)
            return None, ""
        return split_reasoning(completion.text)[0], f"model:{client.spec.model}"

    # ------------------------------------------------------------------ whole run
    def _parallelism(self) -> int:
        if self.settings.max_parallel_samples > 0:
            return self.settings.max_parallel_samples
        caps = [c.spec.max_concurrency * max(1, len(c.spec.base_urls)) for c in self.clients.values()]
        return max(4, 2 * max(caps, default=8))

    async def _run_all(self, work: list[tuple[PlannedTask, Prompt]]) -> None:
        queue: asyncio.Queue = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)

        async def worker() -> None:
            while True:
                try:
                    pt, prompt = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self._process(pt, prompt)

        await asyncio.gather(*(worker() for _ in range(min(self._parallelism(), max(1, len(work))))))

    def run(self) -> dict[str, Any]:
        if not self.plan.tasks:
            raise TaskDataUnavailable("no selected task has data here:\n  " + "\n  ".join(self.notes))
        with self.store:
            self._write_spec()
            self.existing = {s: self.store.load_latest(s) for s in STAGES}
            work = [(pt, p) for pt in self.plan.tasks for p in pt.prompts]
            totals = {s: len(work) for s in STAGES if s != "relevance"}
            with_relevance = sum(len(pt.prompts) for pt in self.plan.tasks if self._wants_relevance(pt))
            if with_relevance:
                totals["relevance"] = with_relevance  # abstentions have nothing to judge: the bar may stop short
            stages = list(totals)
            self.progress = Progress(totals, self.settings.progress, self.clients)
            self.resumed = {stage: sum(1 for pt, p in work if sample_key(pt.task.name, p.id) in self.existing[stage])
                            for stage in stages}
            for stage in stages:  # samples finished in an earlier attempt count as done
                self.progress.bars[stage].update(self.resumed[stage])
            started = time.monotonic()
            try:
                asyncio.run(self._run_all(work))
            finally:
                self.progress.close()
            latest = {s: self.store.load_latest(s) for s in STAGES}  # read each stage file once
            planned = {pt.task.name: pt for pt in self.plan.tasks}
            scores = collect_scores(latest, planned, self.settings)
            summary = build_summary(self.store, latest, scores, planned, self.settings,
                                    {r: c.stats.to_dict() for r, c in self.clients.items()},
                                    time.monotonic() - started, self.notes)
            summary["resumed"] = self.resumed
            # Who judged, with which templates: in every summary, not only in run.json.
            summary["judges"] = {**self.identity["judges"], "templates": self.identity["templates"]}
            summary["answers_from"] = self.identity["model"] or self.identity["answers"]
            self.store.write_scores(as_rows(scores))
            spec = self.store.read_json("run.json") or {}
            spec["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            self.store.write_json("run.json", spec)
            self.store.write_json("summary.json", summary)
        return summary


async def _ready(value):
    return value


Latest = dict[str, dict[str, Record]]  # stage -> sample key -> its last record


def collect_scores(latest: Latest, planned: dict[str, PlannedTask], settings: RunSettings) -> list[AnswerScore]:
    claims, verdicts, relevance = latest["claims"], latest["verdicts"], latest["relevance"]
    scores = []
    for pt in planned.values():
        for p in pt.prompts:
            key = sample_key(pt.task.name, p.id)
            c = claims.get(key)
            if c is None or (key not in verdicts and not c.abstained and c.claims):
                continue  # not finished: counted under errors, not scored
            scores.append(score_answer(c, verdicts.get(key), relevance.get(key), pt.task.k,
                                       settings.reward_lambda, settings.reward_mu))
    return scores


def build_summary(store: RunStore, latest: Latest, scores: list[AnswerScore], planned: dict[str, PlannedTask],
                  settings: RunSettings, role_stats: dict[str, dict], wall_s: float,
                  notes: list[str]) -> dict[str, Any]:
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
    relevance_errors: Counter[str] = Counter()
    for rec in latest["relevance"].values():
        relevance_errors.update(rec.errors)
    failed_samples = len({key for (stage, key) in latest_failures if key not in done.get(stage, set())})
    return {
        "schema_version": 1,
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
        },
        "calls": role_stats,
        "cache": {"hits": sum(s["cache_hits"] for s in role_stats.values()),
                  "calls": sum(s["calls"] for s in role_stats.values())},
        "notes": notes,
    }
