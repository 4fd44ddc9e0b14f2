"""`factbench.Scorer`: the training reward of arbitrary (prompt, response) pairs, no task or run needed.

    scorer = Scorer(judge="openai/judge", judge_base_url="http://gpu1:8000/v1")
    results = scorer.score_sync(prompts, responses)           # or: await scorer.score(...)
    rewards = [r.reward for r in results]                     # None where masked

Each answer goes through the same stages as a run (claims -> evidence -> verdicts -> relevance)
and the same call cache; its reward is :mod:`factbench.reward.definition`'s. A Scorer is
long-lived: all its work runs on a private event loop (:mod:`factbench.reward.loop`), so it can
be called from successive `asyncio.run` calls, from threads and from other event loops at once,
and concurrent batches share one judge pool fairly (:mod:`factbench.reward.fair`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from factbench.hashing import sha256_hex
from factbench.judges.registry import resolve_judges
from factbench.llm.client import LLMClient, LLMError, RoleSpec
from factbench.pipeline.options import RunOptions, UsageError
from factbench.reward.definition import ScoreResult, TrainingReward, empty_result, masked, outcome, reward_id
from factbench.reward.fair import FairGate
from factbench.reward.loop import LoopThread
from factbench.stages.base import RunContext, Sample, StageError
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.generate import complete_text, split_reasoning
from factbench.stages.relevance import RelevanceStage
from factbench.stages.verify import VerdictsStage
from factbench.stages.weights import WeightsStage
from factbench.store.records import AnswerRecord
from factbench.tasks import Prompt, Task

# Scored pairs go through the run's own stages, as samples of this task (references come with the pair).
TASK = Task(name="reward", version="1", loader=lambda ctx: [], has_references=True,
            description="(prompt, response) pairs scored by factbench.Scorer")
CLAIMS, EVIDENCE, VERDICTS, WEIGHTS, RELEVANCE = (ClaimsStage(), EvidenceStage(), VerdictsStage(), WeightsStage(),
                                                  RelevanceStage())
# RunOptions fields that only make sense for a whole run, not for scoring pairs.
_RUN_ONLY = {"model", "model_base_url", "model_api_key_env", "model_concurrency", "temperature", "max_tokens",
             "model_timeout", "responses", "run_id", "results_dir", "data_dir", "limit", "seed", "parallel",
             "fail_on_error", "progress", "display", "label", "shard", "relevance"}


class Scorer:
    """Scores (prompt, response[, reference]) batches with the training reward. Safe to share."""

    def __init__(self, judge: str | None = None, evidence: str = "none", *, reward_detail_cap: int = 64,
                 reward_relevance: str = "auto", reward_abstention: float = 0.0, records_dir: str | None = None,
                 max_in_flight: int | None = None, **options: Any):
        wrong = sorted(set(options) & _RUN_ONLY)
        if wrong:
            raise UsageError(f"not scoring options (they belong to a whole run): {', '.join(wrong)}")
        if evidence == "auto" or evidence.startswith("snapshot:") or "#topic" in evidence:
            raise UsageError(f"evidence {evidence!r} needs a task's prompts; a Scorer takes none, "
                             "corpus:PATH or serper")
        self.options = RunOptions(judge=judge, evidence=evidence, relevance=reward_relevance != "none", **options)
        o = self.options
        self.spec = TrainingReward(design=o.reward_design if o.weighting else "plain", lam=o.reward_lambda,
                                   mu=o.reward_mu, detail_cap=reward_detail_cap, relevance=reward_relevance,
                                   abstention=reward_abstention)
        self.roles = self.options.role_specs(with_model=False)
        if self.spec.relevance == "none":
            self.roles.pop("reference", None)
        if self.spec.relevance == "model" and "reference" not in self.roles:
            raise UsageError("reward_relevance='model' needs reference_model=PROVIDER/MODEL")
        for spec in self.roles.values():
            LLMClient(spec, None)  # a missing API-key variable is an error now, not at the first batch
        self.judges = resolve_judges(self.options.judges, self.options.settings("-").default_judges())
        self.cache = self.options.open_cache()
        from factbench.evidence.backends import open_backend

        self.backend = open_backend(evidence, self.cache)
        self.identity = self._identity()
        self.reward_id = reward_id(self.identity)
        self.max_in_flight = max_in_flight or max(16, 2 * role_capacity(self.roles["verifier"]))
        self.records_dir = Path(records_dir) if records_dir else None
        self._loop = LoopThread("factbench-scorer")
        self._clients: dict[str, LLMClient] = {}
        self._context: RunContext | None = None
        self._gate: FairGate | None = None
        self._references: dict[str, asyncio.Future] = {}
        self._batches = itertools.count()
        self._records_lock = threading.Lock()

    # ------------------------------------------------------------------ identity and records
    def _identity(self) -> dict[str, Any]:
        # Endpoints are provenance, not identity: replicas and load-balanced instances share one reward id.
        judges = {role: {k: v for k, v in spec.identity().items() if k != "endpoints"}
                  for role, spec in self.roles.items()}
        uses_evidence = getattr(self.backend, "uses_evidence", False)
        templates = {"claims": self.judges["extractor"].id,
                     "verify": self.judges["verifier"].template_for(uses_evidence).id}
        if "relevance" in self.roles:
            templates["relevance"] = self.judges["relevance"].id
        if "weighting" in self.judges and "weighting" in self.roles:
            templates["weighting"] = self.judges["weighting"].template_for(uses_evidence).id
        o = self.options
        scoring = {"verify_mode": self.judges["verifier"].mode, "sentences_per_call": o.sentences_per_call,
                   "claims_per_call": o.claims_per_call, "evidence_tokens": o.evidence_tokens,
                   "judges": {role: judge.name for role, judge in self.judges.items()}}
        return self.spec.identity(judges, templates, self.backend.name, scoring)

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
        """Calls, cache hits, retries, tokens and errors per judge role since this Scorer started."""
        return {role: client.stats.to_dict() for role, client in self._clients.items()}

    def warm_up(self) -> None:
        """Pay the one-off import costs (litellm, spaCy) now rather than in the first batch."""
        from factbench.llm.client import _litellm
        from factbench.stages.claims import split_sentences

        _litellm()
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
            self._clients = {role: LLMClient(spec, self.cache) for role, spec in self.roles.items()}
            self._context = RunContext(clients=self._clients, judges=self.judges,
                                       sentences_per_call=self.options.sentences_per_call,
                                       claims_per_call=self.options.claims_per_call,
                                       evidence_tokens=self.options.evidence_tokens,
                                       relevance=self.spec.relevance != "none")
            self._gate, self._references = None, {}
        return self._loop.submit(self._score_batch(prompts, responses, references))

    async def _score_batch(self, prompts: list[str], responses: list[str],
                           references: list[str | None]) -> list[ScoreResult]:
        if self._gate is None:
            self._gate = FairGate(self.max_in_flight)
        batch = next(self._batches)

        async def one(i: int) -> ScoreResult:
            async with self._gate.slot(batch):
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
        sample = Sample(TASK, Prompt(id=sid, text=prompt), self.backend, {"answers": record})
        run = self._context
        try:
            sample.records["claims"] = claims = await _stage("claims", CLAIMS.run(run, sample))
            if not claims.claims:
                return outcome(self.spec, claims, None, None, None, None)

            async def verdicts() -> None:
                sample.records["verdicts"] = await _stage("verdicts", VERDICTS.run(run, sample))

            async def weights() -> None:
                if WEIGHTS.wanted(run, sample):
                    sample.records["weights"] = await _stage("weights", WEIGHTS.run(run, sample))

            async def judged() -> None:  # evidence, then verdicts and weights together (one shared prefix)
                sample.records["evidence"] = await _stage("evidence", EVIDENCE.run(run, sample))
                await _all(verdicts(), weights())

            async def relevance() -> None:
                ref, source = await _stage("relevance", self._reference(prompt, reference))
                sample.prompt = Prompt(id=sid, text=prompt, reference=ref, meta={"reference_model": source})
                if RELEVANCE.wanted(run, sample):
                    sample.records["relevance"] = await _stage("relevance", RELEVANCE.run(run, sample))

            await _all(judged(), relevance())
        except _StageFailed as failed:
            return masked([failed.kind], sample.records.get("claims"))
        r = sample.records
        return outcome(self.spec, claims, r.get("evidence"), r.get("verdicts"), r.get("weights"), r.get("relevance"))

    async def _reference(self, prompt: str, given: str | None) -> tuple[str | None, str]:
        """The reference answer for relevance: given with the pair, or from the reference model."""
        if self.spec.relevance == "none" or "relevance" not in self._clients:
            return None, ""
        if given and self.spec.relevance in ("auto", "references"):
            return given, "given"
        client = self._clients.get("reference")
        if client is None:
            return None, ""
        # Rollouts of one prompt arrive together (GRPO groups): one reference call per prompt.
        pending = self._references.get(prompt)
        if pending is None:
            pending = asyncio.ensure_future(complete_text(client, TASK.render(Prompt(id="", text=prompt))))
            self._references[prompt] = pending
            pending.add_done_callback(lambda _: self._references.pop(prompt, None))
        try:
            text, _, _ = await asyncio.shield(pending)
        except LLMError as exc:
            raise LLMError(f"reference_{exc.kind}", exc.detail) from exc
        return text, f"model:{client.spec.model}"


class _StageFailed(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


async def _stage(stage: str, coro):
    """Await one stage; a failed call or a bug becomes `stage:kind` (the answer is masked, the batch goes on)."""
    try:
        return await coro
    except (LLMError, StageError) as exc:
        raise _StageFailed(f"{stage}:{exc.kind}") from exc
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise _StageFailed(f"{stage}:internal:{type(exc).__name__}") from exc


async def _all(*coros) -> None:
    """Run the stages together, let every one finish, then raise the first failure."""
    for result in await asyncio.gather(*coros, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result


def role_capacity(spec: RoleSpec) -> int:
    return spec.max_concurrency * max(1, len(spec.base_urls))
