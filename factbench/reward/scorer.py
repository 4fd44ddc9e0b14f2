"""`factbench.Scorer`: the training reward of arbitrary (prompt, response) pairs, no task or run needed.

    scorer = Scorer(judge="openai/judge", judge_base_url="http://gpu1:8000/v1")
    results = scorer.score_sync(prompts, responses)           # or: await scorer.score(...)
    rewards = [r.reward for r in results]                     # None where masked

Each answer goes through the same :class:`~factbench.pipeline.pipeline.Pipeline` as a run (every
registered stage after the answer, in order, plug-in stages included) and the same call cache,
with its records kept in memory; its reward is :mod:`factbench.reward.definition`'s. A Scorer is
long-lived: all its work runs on a private event loop (:mod:`factbench.reward.loop`), so it can
be called from successive `asyncio.run` calls, from threads and from other event loops at once,
and concurrent batches share one judge pool fairly (:mod:`factbench.reward.fair`).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from factbench.evidence.backends import EvidenceChoice, open_backend
from factbench.hashing import sha256_hex
from factbench.llm.client import LLMClient, RoleSpec
from factbench.llm.memo import VerdictMemo
from factbench.pipeline.identity import judge_identity, role_templates
from factbench.pipeline.options import RunOptions, UsageError
from factbench.pipeline.pipeline import Pipeline, select_judges
from factbench.reward.definition import ScoreResult, empty_result, masked, outcome, reward_id, reward_identity
from factbench.reward.fair import FairGate
from factbench.reward.loop import LoopThread
from factbench.scoring.reward import DEFAULT_DETAIL_CAP, RewardSpec
from factbench.stages.base import RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.generate import AnswerStage, split_reasoning
from factbench.stages.informativeness import InformativenessStage
from factbench.stages.registry import registered_stages
from factbench.stages.relevance import RelevanceStage
from factbench.stages.verify import VerdictsStage
from factbench.store.records import AnswerRecord, Record
from factbench.tasks import Prompt, Task

# Scored pairs go through the run's own stages, as samples of this task (references come with the pair).
# Its default evidence (what evidence="auto" or "default" means for a Scorer) is none.
TASK = Task(name="reward", version="1", loader=lambda ctx: [], has_references=True, default_evidence="none",
            description="(prompt, response) pairs scored by factbench.Scorer")
# How long the first answer of a prompt with claims to judge waits for the other answers of that
# prompt in flight, so their new claims go out in one call (llm/memo.py: VerdictMemo.together).
# Off by default: a judge failure in a shared call masks every answer in it (docs/reward.md).
DEFAULT_MEMO_WINDOW_S = 0.0
# RunOptions fields that only make sense for a whole run, not for scoring pairs.
_RUN_ONLY = {"model", "model_base_url", "model_api_key_env", "model_concurrency", "temperature", "max_tokens",
             "model_timeout", "responses", "run_id", "results_dir", "data_dir", "limit", "seed", "parallel",
             "fail_on_error", "progress", "display", "label", "shard", "relevance", "log_to"}


class Scorer:
    """Scores (prompt, response[, reference]) batches with the training reward. Safe to share."""

    def __init__(self, judge: str | None = None, evidence: str = "none", *, reward_detail_cap: int = DEFAULT_DETAIL_CAP,
                 reward_relevance: str = "auto", reward_abstention: float = 0.0, records_dir: str | None = None,
                 max_in_flight: int | None = None, preflight: bool = True, memo_window: float = DEFAULT_MEMO_WINDOW_S,
                 **options: Any):
        # What a pickled copy is rebuilt from (verl ships reward functions to other processes).
        self._settings = {"judge": judge, "evidence": evidence, "reward_detail_cap": reward_detail_cap,
                          "reward_relevance": reward_relevance, "reward_abstention": reward_abstention,
                          "records_dir": records_dir, "max_in_flight": max_in_flight, "preflight": preflight,
                          "memo_window": memo_window, **options}
        wrong = sorted(set(options) & _RUN_ONLY)
        if wrong:
            raise UsageError(f"not scoring options (they belong to a whole run): {', '.join(wrong)}")
        evidence_spec = EvidenceChoice.parse(evidence).for_task(TASK.default_evidence)  # auto/default: TASK's
        if evidence_spec.startswith("snapshot:") or "#topic" in evidence_spec:
            raise UsageError(f"evidence {evidence!r} needs a task's prompts; a Scorer takes none, "
                             "corpus:PATH or serper")
        self.options = RunOptions.of(judge=judge, evidence=evidence, relevance=reward_relevance != "none", **options)
        o = self.options
        self.spec = RewardSpec(o.reward_design, o.reward_lambda, o.reward_mu, detail_cap=reward_detail_cap,
                               relevance=reward_relevance, abstention=reward_abstention).with_informativeness(o.informativeness)
        self.roles = self.options.role_specs(with_model=False)
        if self.spec.relevance == "none":
            self.roles.pop("reference", None)
        if self.spec.relevance == "model" and "reference" not in self.roles:
            raise UsageError("reward_relevance='model' needs reference_model=PROVIDER/MODEL")
        for spec in self.roles.values():
            LLMClient(spec, None)  # a missing API-key variable is an error now, not at the first batch
        if preflight:  # a wrong URL or model name too (llm/preflight.py)
            from factbench.llm.preflight import preflight as check

            check(self.roles, skip_hint="preflight=False")
        # Every registered stage after the answer (which comes with the pair).
        self.stages = tuple(s for s in registered_stages() if s.name != AnswerStage.name)
        self.judges = select_judges(self.options.judges, self.options.settings("-").default_judges(), self.stages)
        self.cache = self.options.open_cache()
        self.backend = open_backend(evidence_spec, self.cache)
        self.identity = self._identity()
        self.reward_id = reward_id(self.identity)
        self.max_in_flight = max_in_flight or max(16, 2 * role_capacity(self.roles["verifier"]))
        self.records_dir = Path(records_dir) if records_dir else None
        if memo_window < 0:
            raise UsageError(f"memo_window must be >= 0 seconds, got {memo_window}")
        self.memo_window = memo_window
        self._loop = LoopThread("factbench-scorer")
        self._clients: dict[str, LLMClient] = {}
        self._context: RunContext | None = None
        self._gate: FairGate | None = None
        self._pipeline: Pipeline | None = None
        self._batches = itertools.count()
        self._records_lock = threading.Lock()

    # ------------------------------------------------------------------ identity and records
    def _identity(self) -> dict[str, Any]:
        # Endpoints are provenance, not identity: replicas and load-balanced instances share one reward id.
        uses_evidence = getattr(self.backend, "uses_evidence", False)
        o = self.options
        plugin_options: dict[str, Any] = {"stage_options": o.stage_options()} if o.stage_options() else {}
        ident = judge_identity(self.roles, self.judges, self.stages, include=("reference",),
                               sentences_per_call=o.sentences_per_call,
                               claims_per_call=o.claims_per_call, evidence_tokens=o.evidence_tokens, **plugin_options,
                               judges={role: judge.name for role, judge in self.judges.items()})
        templates = role_templates(self.stages, self.judges, uses_evidence, set(self.roles))
        return reward_identity(self.spec, ident["models"], templates, self.backend.name, ident["scoring"])

    def _write_records(self, rows: list[dict[str, Any]]) -> None:
        if self.records_dir is None:
            return
        with self._records_lock:
            self.records_dir.mkdir(parents=True, exist_ok=True)
            ident = self.records_dir / f"reward-{self.reward_id}.json"
            if not ident.exists():
                ident.write_text(json.dumps(self.identity, indent=2) + "\n", encoding="utf-8")
            # One file per process: several scorers (or service instances) never share a file.
            path = self.records_dir / f"rewards-{socket.gethostname()}-{os.getpid()}.jsonl"
            with path.open("a", encoding="utf-8") as fh:
                fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    # ------------------------------------------------------------------ public API
    async def score(self, prompts: Sequence[str], responses: Sequence[str],
                    references: Sequence[str | None] | None = None) -> list[ScoreResult]:
        """One ScoreResult per response, in order. Awaitable from any event loop."""
        batch = self._check(prompts, responses, references)
        return await asyncio.wrap_future(self._submit(*batch))

    def score_sync(self, prompts: Sequence[str], responses: Sequence[str],
                   references: Sequence[str | None] | None = None) -> list[ScoreResult]:
        """The same, blocking: from plain code, threads, or code running inside another event loop."""
        if self._loop.in_loop_thread():
            raise RuntimeError("score_sync() called from the scorer's own loop; use `await scorer.score(...)`")
        future = self._submit(*self._check(prompts, responses, references))
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def stats(self) -> dict[str, dict[str, Any]]:
        """Calls, cache hits, retries, tokens and errors per judge role since this Scorer started, and
        under "memo" the claim judgements taken from the verdict memo (hits), awaited from another
        answer (waits) and sent to the judge (misses), per kind (absent with `memo=False`)."""
        out = {role: client.stats.to_dict() for role, client in self._clients.items()}
        memo = self._context.memo if self._context is not None else None
        if memo is not None:
            out["memo"] = memo.stats()
        return out

    def degraded(self) -> dict[str, dict[str, Any]]:
        """Judge roles with an endpoint down or cooling down (empty when all are up). A down endpoint is
        probed after its cool-down, so the Scorer recovers once the judge answers again (llm/pool.py)."""
        states = {role: client.degraded() for role, client in list(self._clients.items())}
        return {role: state for role, state in states.items() if state}

    def warm_up(self) -> None:
        """Pay the one-off import costs (litellm, spaCy) now rather than in the first batch."""
        from factbench.llm.litellm_lib import litellm
        from factbench.stages.claims import split_sentences

        litellm()
        split_sentences("Warm up the sentence splitter. Twice.")

    def load(self) -> dict[str, int]:
        """Answers being scored now, and answers waiting for a slot."""
        gate = self._gate
        return {"in_flight": gate.in_use if gate else 0, "waiting": gate.waiting if gate else 0}

    @classmethod
    def from_options(cls, options: RunOptions, **kwargs: Any) -> Scorer:
        """A Scorer from run options (the CLI's flags); run-only options are left out."""
        values = {k: v for k, v in options.model_dump(exclude_defaults=True).items() if k not in _RUN_ONLY}
        return cls(**{**values, **kwargs})

    def close(self) -> None:
        if self._loop.started:
            try:
                self._loop.submit(self.backend.aclose()).result(10)
            except Exception:  # closing is best effort; the loop stops either way
                pass
        self._loop.stop()
        if self._context is not None and self._context.memo is not None:
            self._context.memo.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its settings: the copy opens its own loop, judge clients and cache connection."""
        return (functools.partial(Scorer, **self._settings), ())

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ inside the scorer's loop
    def _check(self, prompts, responses, references) -> tuple[list[str], list[str], list[str | None]]:
        for name, values in (("prompts", prompts), ("responses", responses)):
            if isinstance(values, str) or not isinstance(values, Sequence):
                raise UsageError(f"{name} must be a list of strings")
            bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
            if bad is not None:
                raise UsageError(f"{name}[{bad}] must be a string, got {type(values[bad]).__name__}")
        if len(prompts) != len(responses):
            raise UsageError(f"{len(prompts)} prompts but {len(responses)} responses")
        refs: list[str | None] = [None] * len(prompts)
        if references is not None:
            if isinstance(references, str) or len(references) != len(prompts):
                raise UsageError(f"references must be a list of {len(prompts)} strings (or nulls)")
            bad = next((i for i, v in enumerate(references) if v is not None and not isinstance(v, str)), None)
            if bad is not None:
                raise UsageError(f"references[{bad}] must be a string or null")
            refs = list(references)
        if self.spec.relevance == "references" and not all(refs):
            raise UsageError("reward_relevance='references' needs a reference for every prompt")
        return list(prompts), list(responses), refs

    def _submit(self, prompts, responses, references):
        if self._loop.ensure():  # a fresh loop (first use, or a forked child): fresh clients and gate
            self._clients = {role: LLMClient(spec, self.cache, recover=True) for role, spec in self.roles.items()}
            self._context = RunContext(clients=self._clients, judges=self.judges,
                                       sentences_per_call=self.options.sentences_per_call,
                                       claims_per_call=self.options.claims_per_call,
                                       evidence_tokens=self.options.evidence_tokens,
                                       relevance=self.spec.relevance != "none",
                                       options=self.options.settings("-").stage_options_of(self.stages),
                                       memo=VerdictMemo.beside(self.cache, self.memo_window) if self.options.memo else None)
            self._pipeline = Pipeline(self.stages, self._context, aborts=False)
            self._gate = None
        return self._loop.submit(self._score_batch(prompts, responses, references))

    async def _score_batch(self, prompts: list[str], responses: list[str],
                           references: list[str | None]) -> list[ScoreResult]:
        if self._gate is None:
            self._gate = FairGate(self.max_in_flight)
        gate, batch = self._gate, next(self._batches)

        async def one(i: int) -> ScoreResult:
            async with gate.slot(batch):
                return await self._score_one(prompts[i], responses[i], references[i])

        results = await asyncio.gather(*(one(i) for i in range(len(prompts))))
        if self.records_dir is not None:
            at = time.time()
            self._write_records([{"reward_id": self.reward_id, "at": at, "prompt": p, "response": r, "reference": ref,
                                  **res.model_dump()} for p, r, ref, res in zip(prompts, responses, references, results)])
        return list(results)

    async def _score_one(self, prompt: str, response: str, reference: str | None) -> ScoreResult:
        answer, reasoning = split_reasoning(response)
        if not answer:
            return empty_result(self.spec)
        sid = sha256_hex([prompt, answer], 16)
        record = AnswerRecord(task=TASK.name, id=sid, prompt_sha=sha256_hex(prompt, 16), prompt=prompt,
                              answer=answer, reasoning=reasoning, source="reward")
        given = reference if reference and self.spec.relevance in ("auto", "references") else None
        sample = Sample(TASK, Prompt(id=sid, text=prompt, reference=given, meta={"reference_model": "given"}),
                        self.backend, {AnswerStage.name: record})
        sink = _Outcome()
        assert self._pipeline is not None  # made with the loop (_submit)
        if not await self._pipeline.process(sample, sink):
            return masked(sink.failures, sample.get(ClaimsStage))
        claims = sample.need(ClaimsStage)
        return outcome(self.spec, claims, sample.get(EvidenceStage), sample.get(VerdictsStage),
                       sample.get(InformativenessStage), sample.get(RelevanceStage), question=prompt)


class _Outcome:
    """The pipeline's sink for one scored pair: records stay on the sample, a failure masks it."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def may_start(self, stage: Stage, sample: Sample) -> bool:
        return True

    def stored(self, stage: Stage, sample: Sample, record: Record) -> None:
        pass

    def failed(self, stage: Stage, sample: Sample, kind: str, detail: str, usage: dict) -> None:
        self.failures.append(f"{stage.name}:{kind}")


def role_capacity(spec: RoleSpec) -> int:
    return spec.max_concurrency * max(1, len(spec.base_urls))
