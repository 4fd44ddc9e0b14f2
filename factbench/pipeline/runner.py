"""A whole run: the :class:`Pipeline` of the registered stages, with a run directory.

    prompt -> answer -> claims -> evidence -> verdicts -> informativeness (-> relevance) -> metrics

Samples stream through the pipeline on a pool of asyncio workers: one answer's claims are
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

from factbench import __version__
from factbench.hashing import sha256_hex
from factbench.llm.cache import CallCache
from factbench.llm.client import LLMClient, RoleSpec, redact
from factbench.llm.memo import VerdictMemo
from factbench.pipeline import accounting
from factbench.pipeline.heap import long_lived_heap
from factbench.pipeline.identity import diff, run_identity, task_judges, with_served_models
from factbench.pipeline.interrupt import Stop, gather_or_stop, run_interruptible
from factbench.pipeline.pipeline import Pipeline, select_judges
from factbench.pipeline.plan import PlannedTask, plan_tasks
from factbench.pipeline.progress import Progress
from factbench.pipeline.settings import RunSettings
from factbench.pipeline.shards import shard_plan
from factbench.pipeline.summary import build_summary, collect_scores, read_run, unresolved_failures
from factbench.pipeline.warmup import start as start_warm_up
from factbench.scoring.metrics import as_rows
from factbench.stages.base import RunContext, Sample, Stage
from factbench.stages.generate import GENERATION_TEMPLATE, check_response_ids, load_responses
from factbench.stages.registry import registered_stages, stage_files
from factbench.store.artefacts import RunSpec, RunSummary, TaskEntry
from factbench.store.records import ErrorRecord, Record, sample_key
from factbench.store.run_dir import RunMismatch, RunStore
from factbench.tasks import Prompt, Task, TaskDataUnavailable

__all__ = ["Runner", "RunSettings"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Runner:
    def __init__(self, settings: RunSettings, roles: dict[str, RoleSpec], tasks: list[Task],
                 cache: CallCache | None, stages: tuple[Stage, ...] | None = None):
        self.settings = settings
        if settings.informativeness and "informativeness" not in roles and "verifier" in roles:  # --judge is every judge's default
            roles = {**roles, "informativeness": roles["verifier"].model_copy(update={"role": "informativeness"})}
        self.stages = registered_stages() if stages is None else stages
        # Every stage file the run directory has: the registered stages' and any given here.
        self.known = tuple({s.name: s for s in (*registered_stages(), *self.stages)}.values())
        self.plan = shard_plan(plan_tasks(tasks, settings, cache), settings.shard)
        roles = with_served_models(roles) if settings.probe_served_models else roles  # identity, once per run
        self.roles = roles
        responses, source = None, "generated"
        response_notes: list[str] = []
        if settings.responses:
            responses, digest = load_responses(settings.responses, [pt.task.name for pt in self.plan.tasks])
            response_notes = check_response_ids(responses, {pt.task.name: pt.all_ids for pt in self.plan.tasks},
                                                settings.responses)
            source = f"responses:{Path(settings.responses).name}@{digest}"
        self.source = source
        self.cache = cache  # closed when the run ends: its connections never outlive the run
        self.clients = {role: LLMClient(spec, cache) for role, spec in roles.items()}
        self.judges = select_judges(settings.judges, settings.default_judges(), self.stages)
        self.context = RunContext(
            clients=self.clients, judges=self.judges, sentences_per_call=settings.sentences_per_call,
            claims_per_call=settings.claims_per_call, evidence_tokens=settings.evidence_tokens,
            relevance=settings.relevance, responses=responses, answers_source=source,
            max_judge_attempts=settings.max_judge_attempts, options=settings.stage_options_of(self.stages),
            memo=VerdictMemo.beside(cache) if settings.memo else None)
        self.pipeline = Pipeline(self.stages, self.context, stopping=lambda: self.stop.requested)
        self.store = RunStore(settings.run_dir, stage_files(self.known))
        self.identity = run_identity(settings, roles, self.plan, self.source, self.judges, self.known)
        self.notes: list[str] = [f"{name}: skipped ({why})" for name, why in self.plan.skipped.items()]
        self.notes += response_notes
        if settings.reward.design != settings.reward_design:
            self.notes.append("informativeness is off: the reward uses the plain design (unweighted precision and detail)")
        self.budget_stopped = False
        self.stop = Stop()  # before run(): a caller in another thread may cancel at any time

    # ------------------------------------------------------------------ run.json
    def _write_spec(self) -> None:
        old = self.store.read_spec()
        if old is not None:
            diffs = diff(old.identity, self.identity)
            if diffs:
                raise RunMismatch(
                    f"run {self.settings.run_id!r} already exists with a different configuration; "
                    "results are never mixed. Use a new --run-id (or `factbench score` to re-score its answers). "
                    "Differences:\n  " + "\n  ".join(diffs[:20]))
        now = _now()
        self.spec = RunSpec(
            run_id=self.settings.run_id, label=self.settings.label, factbench_version=__version__,
            identity=self.identity, identity_sha=sha256_hex(self.identity, 16),
            roles={role: spec.public() for role, spec in self.roles.items()},
            settings=self.settings.model_dump(mode="json"),
            tasks={pt.task.name: TaskEntry(**pt.task.identity(), evidence=pt.evidence.name, tags=list(pt.task.tags),
                                           n_prompts=len(pt.prompts), prompt_ids=[p.id for p in pt.prompts],
                                           evidence_chosen_by=pt.evidence_chosen_by)
                   for pt in self.plan.tasks},
            skipped_tasks=self.plan.skipped, generation_template=GENERATION_TEMPLATE,
            started_at=old.started_at if old else now,
            resumed_at=(old.resumed_at + [now]) if old else [])
        self.store.write_spec(self.spec)

    # ------------------------------------------------------------------ per sample (the pipeline's sink)
    def may_start(self, stage: Stage, sample: Sample) -> bool:
        if self._over_budget():  # --max-cost reached: no new stage starts; a resume goes on from here
            self.budget_stopped = True
            return False
        return True

    def stored(self, stage: Stage, sample: Sample, record: Record) -> None:
        self.store.append(stage.name, record)
        self._resolve(stage.name, record.key)
        self.progress.done(stage.name)

    def failed(self, stage: Stage, sample: Sample, kind: str, detail: str, usage: dict) -> None:
        self._fail(stage.name, sample.task.name, sample.prompt.id, kind, detail, usage)

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

    def _sample(self, pt: PlannedTask, prompt: Prompt) -> Sample:
        """The sample with the records earlier attempts left."""
        key = sample_key(pt.task.name, prompt.id)
        return Sample(pt.task, prompt, pt.evidence,
                      {s.name: self.existing[s.name][key] for s in self.stages if key in self.existing[s.name]})

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
                await self.pipeline.process(self._sample(pt, prompt), self)  # a failure is retried on resume

        try:
            await gather_or_stop(self.stop, [worker() for _ in range(min(self._parallelism(), max(1, len(work))))])
        finally:
            for pt in self.plan.tasks:
                await pt.evidence.aclose()

    def _totals(self, work: list[tuple[PlannedTask, Prompt]]) -> dict[str, int]:
        """Samples each stage will see (relevance may stop short: abstentions have nothing to judge)."""
        totals = {}
        for stage in self.stages:
            n = sum(1 for pt, _ in work if stage.applies(self.context, pt.task))
            if n:
                totals[stage.name] = n
        return totals

    def run(self) -> RunSummary:
        if not self.plan.tasks:
            raise TaskDataUnavailable("no selected task has data here:\n  " + "\n  ".join(self.notes))
        start_warm_up(self.roles)  # spaCy (and litellm, where a role needs it), concurrently with the work
        with self.store:
            self._write_spec()
            accounting.import_legacy(self.store.dir)
            self.spent_before = accounting.spent_usd(accounting.read_invocations(self.store.dir), self.roles)
            self.existing = {s.name: self.store.load_latest(s.name) for s in self.stages}
            self.unresolved = unresolved_failures(self.store)
            for stage, key in [k for k in self.unresolved if k[1] in self.existing.get(k[0], {})]:
                self._resolve(stage, key)  # fixed by an attempt that predates resolution lines
            work = [(pt, p) for pt in self.plan.tasks for p in pt.prompts]
            totals = self._totals(work)
            roles = {s.name: s.role for s in self.stages if s.role}
            self.progress = Progress(totals, self.settings.progress, self.clients, roles)
            resumed = {name: sum(1 for pt, p in work if self._done(name, pt, p)) for name in totals}
            for name, n in resumed.items():  # samples finished in an earlier attempt count as done
                self.progress.bars[name].update(n)
            started, started_at = time.monotonic(), _now()
            journal = accounting.CallJournal(self.store.dir)  # spend counted as calls complete
            with long_lived_heap():  # the summary too: it reads every record back
                try:
                    run_interruptible(self._run_all(work), self.stop)
                finally:
                    self.progress.close()
                    if self.cache is not None:
                        self.cache.close()
                    if self.context.memo is not None:
                        self.context.memo.close()
                    accounting.append_invocation(self.store.dir, {
                        "started_at": started_at, "finished_at": _now(), "factbench_version": __version__,
                        "wall_seconds": round(time.monotonic() - started, 3),
                        "calls": {r: c.stats.to_dict() for r, c in self.clients.items()},
                        "stopped_at_max_cost": self.budget_stopped}, journal)
                summary = self._summarise(resumed)
            self.store.write_spec(self.spec.model_copy(update={"finished_at": None if self.budget_stopped else _now()}))
            self.store.write_summary(summary)
        return summary

    def _done(self, stage_name: str, pt: PlannedTask, prompt: Prompt) -> bool:
        """A sample's stage finished in an earlier attempt (a partial record is not finished)."""
        stage = next(s for s in self.stages if s.name == stage_name)
        return stage.done(self.context, self._sample(pt, prompt))

    def _summarise(self, resumed: dict[str, int]) -> RunSummary:
        latest, usage = read_run(self.store, self.known)  # each stage file read once
        planned = {pt.task.name: pt for pt in self.plan.tasks}
        relevance = next((s for s in self.stages if s.name == "relevance"), None)
        relevance_tasks = {pt.task.name for pt in self.plan.tasks
                           if relevance is not None and relevance.applies(self.context, pt.task)}
        failed = {key for _, key in unresolved_failures(self.store)}
        scores = collect_scores(latest, usage, planned, self.settings, relevance_tasks, failed)
        self.store.write_scores(as_rows(scores))
        return build_summary(
            self.store, self.known, latest, scores, planned, self.settings,
            accounting.totals(accounting.read_invocations(self.store.dir)), self.notes,
            task_judges=task_judges(self.identity, self.plan, self.judges, self.known, relevance_tasks),
            resumed=resumed, budget={"max_cost_usd": self.settings.max_cost, "stopped_at_max_cost": self.budget_stopped},
            # Who judged, with which templates: in every summary, not only in run.json.
            judges={**self.identity["judges"], "templates": self.identity["templates"]},
            answers_from=self.identity["model"] or self.identity["answers"],
            memo=self.context.memo.stats() if self.context.memo is not None else None)
