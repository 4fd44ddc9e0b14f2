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
import time
from pathlib import Path
from typing import Any

from factbench import __version__
from factbench.hashing import sha256_hex
from factbench.llm.cache import CallCache
from factbench.llm.client import LLMClient, LLMError, RoleSpec, redact
from factbench.llm.cost import CURRENT_LEDGER, UsageLedger
from factbench.pipeline import accounting
from factbench.pipeline.identity import diff, run_identity, with_served_models
from factbench.pipeline.plan import PlannedTask, plan_tasks
from factbench.pipeline.progress import Progress
from factbench.pipeline.settings import RunSettings
from factbench.pipeline.summary import build_summary, collect_scores, read_run, unresolved_failures
from factbench.scoring.metrics import as_rows
from factbench.stages import claims as claims_stage
from factbench.stages import relevance as relevance_stage
from factbench.stages import verify as verify_stage
from factbench.stages.claims import extract_claims
from factbench.stages.evidence import retrieve_evidence
from factbench.stages.generate import (
    GENERATION_TEMPLATE,
    answer_from_response,
    generate_answer,
    load_responses,
    split_reasoning,
)
from factbench.stages.relevance import judge_relevance
from factbench.stages.verify import verify_claims
from factbench.store.records import STAGES, ErrorRecord, Record, sample_key
from factbench.store.run_dir import RunMismatch, RunStore
from factbench.tasks import Prompt, Task, TaskDataUnavailable

__all__ = ["Runner", "RunSettings"]


class Runner:
    def __init__(self, settings: RunSettings, roles: dict[str, RoleSpec], tasks: list[Task],
                 cache: CallCache | None):
        self.settings = settings
        self.cache = cache
        self.plan = plan_tasks(tasks, settings, cache)
        roles = with_served_models(roles) if settings.probe_served_models else roles  # identity, once per run
        self.roles = roles
        self.responses: dict[str, dict] = {}
        self.source = "generated"
        if settings.responses:
            self.responses, digest = load_responses(settings.responses, [pt.task.name for pt in self.plan.tasks])
            self.source = f"responses:{Path(settings.responses).name}@{digest}"
        self.clients = {role: LLMClient(spec, cache) for role, spec in roles.items()}
        self.store = RunStore(settings.run_dir)
        self.identity = run_identity(settings, roles, self.plan, self.source)
        self.notes: list[str] = [f"{name}: skipped ({why})" for name, why in self.plan.skipped.items()]
        self.budget_stopped = False

    # ------------------------------------------------------------------ run.json
    def _write_spec(self) -> None:
        identity = self.identity
        old = self.store.read_json("run.json")
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        if old is not None:
            diffs = diff(old.get("identity"), identity)
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
                                     "evidence_chosen_by": pt.evidence_chosen_by}
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
        if self._over_budget():  # --max-cost reached: no new stage starts; a resume goes on from here
            self.budget_stopped = True
            coro.close()
            return None
        ledger = UsageLedger()  # the calls this (sample, stage) makes, stored on its record
        token = CURRENT_LEDGER.set(ledger)
        try:
            record = await coro
        except LLMError as exc:
            self._fail(stage, task, sid, exc.kind, exc.detail, ledger.to_dict())
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a bad input for this one sample: recorded, the run goes on
            self._fail(stage, task, sid, "internal", f"{type(exc).__name__}: {exc}", ledger.to_dict())
            return None
        finally:
            CURRENT_LEDGER.reset(token)
        record.usage = ledger.to_dict()
        self.store.append(stage, record)
        self._resolve(stage, sample_key(task, sid))
        self.progress.done(stage)
        return record

    def _fail(self, stage: str, task: str, sid: str, kind: str, detail: str, usage: dict | None = None) -> None:
        rec = ErrorRecord(task=task, id=sid, stage=stage, kind=kind, detail=redact(detail)[:500], usage=usage or {})
        self.store.append("errors", rec)
        self.unresolved[(stage, rec.key)] = rec
        self.progress.failed(stage)

    def _resolve(self, stage: str, key: str) -> None:
        """A later attempt fixed a recorded failure: say so in errors.jsonl (a new line)."""
        failure = self.unresolved.pop((stage, key), None)
        if failure is not None:
            self.store.append("errors", failure.model_copy(update={
                "resolved": True, "usage": {}, "detail": f"resolved: a later attempt produced the {stage} record"}))

    def _over_budget(self) -> bool:
        limit = self.settings.max_cost
        spent = self.spent_before + sum(c.stats.cost_usd or 0.0 for c in self.clients.values())
        return limit is not None and spent >= limit

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
        # A stage whose record is partial (items the judge's output did not cover) is completed
        # for exactly those items, up to max_judge_attempts per sample and stage across resumes.
        attempts = self.settings.max_judge_attempts
        claims = self.existing["claims"].get(key)
        if claims is None or claims_stage.needs_completion(claims, attempts):
            claims = await self._stage("claims", task, sid, extract_claims(
                self.clients["extractor"], task, sid, prompt.text, answer.answer, self.settings.sentences_per_call,
                previous=claims)) or claims
            if claims is None:
                return
        evidence = self.existing["evidence"].get(key)
        if evidence is None or len(evidence.per_claim) < len(claims.claims):
            evidence = await self._stage("evidence", task, sid, retrieve_evidence(
                pt.evidence, task, prompt, [c.text for c in claims.claims], previous=evidence))
            if evidence is None:
                return
        verdicts = self.existing["verdicts"].get(key)
        if verdicts is None or verify_stage.needs_completion(verdicts, len(claims.claims), attempts):
            verdicts = await self._stage("verdicts", task, sid, verify_claims(
                self.clients["verifier"], claims, evidence, mode=self.settings.verify_mode,
                uses_evidence=pt.evidence.uses_evidence, claims_per_call=self.settings.claims_per_call,
                evidence_tokens=self.settings.evidence_tokens, previous=verdicts)) or verdicts
            if verdicts is None:
                return
        relevance = self.existing["relevance"].get(key)
        if self._wants_relevance(pt) and not claims.abstained and claims.sentences and (
                relevance is None or relevance_stage.needs_completion(relevance, attempts)):
            reference, ref_source = await self._reference(pt, prompt)
            if reference is not None:
                await self._stage("relevance", task, sid, judge_relevance(
                    self.clients["relevance"], task, sid, prompt.text, answer.answer, reference, ref_source,
                    previous=relevance))

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

    def _finished(self, stage: str, key: str) -> bool:
        """A sample's stage needs nothing more (exists, and nothing in it is left to complete)."""
        rec, attempts = self.existing[stage].get(key), self.settings.max_judge_attempts
        if rec is None:
            return False
        if stage == "claims":
            return not claims_stage.needs_completion(rec, attempts)
        claims = self.existing["claims"].get(key)
        n_claims = len(claims.claims) if claims else 0
        if stage == "evidence":
            return len(rec.per_claim) >= n_claims
        if stage == "verdicts":
            return not verify_stage.needs_completion(rec, n_claims, attempts)
        if stage == "relevance":
            return not relevance_stage.needs_completion(rec, attempts)
        return True

    def run(self) -> dict[str, Any]:
        if not self.plan.tasks:
            raise TaskDataUnavailable("no selected task has data here:\n  " + "\n  ".join(self.notes))
        with self.store:
            self._write_spec()
            accounting.import_legacy(self.store.dir)
            self.spent_before = accounting.spent_usd(accounting.read_invocations(self.store.dir), self.roles)
            self.existing = {s: self.store.load_latest(s) for s in STAGES}
            self.unresolved = unresolved_failures(self.store)
            for stage, key in [k for k in self.unresolved if k[1] in self.existing.get(k[0], {})]:
                self._resolve(stage, key)  # fixed by an attempt that predates resolution lines
            work = [(pt, p) for pt in self.plan.tasks for p in pt.prompts]
            totals = {s: len(work) for s in STAGES if s != "relevance"}
            with_relevance = sum(len(pt.prompts) for pt in self.plan.tasks if self._wants_relevance(pt))
            if with_relevance:
                totals["relevance"] = with_relevance  # abstentions have nothing to judge: the bar may stop short
            stages = list(totals)
            self.progress = Progress(totals, self.settings.progress, self.clients)
            self.resumed = {stage: sum(1 for pt, p in work if self._finished(stage, sample_key(pt.task.name, p.id)))
                            for stage in stages}
            for stage in stages:  # samples finished in an earlier attempt count as done
                self.progress.bars[stage].update(self.resumed[stage])
            started, started_at = time.monotonic(), _now()
            try:
                asyncio.run(self._run_all(work))
            finally:
                self.progress.close()
                accounting.append_invocation(self.store.dir, {
                    "started_at": started_at, "finished_at": _now(), "factbench_version": __version__,
                    "wall_seconds": round(time.monotonic() - started, 3),
                    "calls": {r: c.stats.to_dict() for r, c in self.clients.items()},
                    "stopped_at_max_cost": self.budget_stopped})
            latest, usage = read_run(self.store)  # each stage file read once
            planned = {pt.task.name: pt for pt in self.plan.tasks}
            relevance_tasks = {pt.task.name for pt in self.plan.tasks if self._wants_relevance(pt)}
            failed = {key for _, key in unresolved_failures(self.store)}
            scores = collect_scores(latest, usage, planned, self.settings, relevance_tasks, failed)
            summary = build_summary(self.store, latest, scores, planned, self.settings, self.identity,
                                    accounting.totals(accounting.read_invocations(self.store.dir)), self.notes,
                                    relevance_tasks)
            summary["resumed"] = self.resumed
            summary["budget"] = {"max_cost_usd": self.settings.max_cost, "stopped_at_max_cost": self.budget_stopped}
            # Who judged, with which templates: in every summary, not only in run.json.
            summary["judges"] = {**self.identity["judges"], "templates": self.identity["templates"]}
            summary["answers_from"] = self.identity["model"] or self.identity["answers"]
            self.store.write_scores(as_rows(scores))
            spec = self.store.read_json("run.json") or {}
            spec["finished_at"] = None if self.budget_stopped else _now()
            self.store.write_json("run.json", spec)
            self.store.write_json("summary.json", summary)
        return summary


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


async def _ready(value):
    return value

