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
from factbench.pipeline.identity import diff, run_identity
from factbench.pipeline.plan import PlannedTask, plan_tasks
from factbench.pipeline.progress import Progress
from factbench.pipeline.settings import RunSettings
from factbench.pipeline.summary import build_summary, collect_scores
from factbench.pipeline.warmup import start as start_warm_up
from factbench.scoring.metrics import as_rows
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
        start_warm_up(self.roles)  # spaCy (and litellm, where a role needs it), concurrently with the work
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

