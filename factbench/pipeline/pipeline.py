"""The one pipeline every path executes: `factbench run` / `evaluate()` and `factbench hacks`
(records to the run directory), the `Scorer` and the reward service (records in memory), and
`calibrate` (a declared subset of the stages).

A sample goes through the stages in their declared order, one stage at a time: the informativeness of an
answer are asked right after its verdicts, so on a prefix-caching server they find the prompt
they share already cached. A stage that is done (or has nothing to do) is skipped; one that
fails ends the sample here (its later stages need it) and is reported to the sink, which
decides what a failure means: an error record to retry on resume, or a masked reward.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from factbench.errors import RunAborted
from factbench.judges.judge import Judge
from factbench.judges.registry import UnknownJudge, resolve_judges
from factbench.llm.client import LLMError
from factbench.llm.cost import CURRENT_LEDGER, UsageLedger
from factbench.stages.base import RunContext, Sample, Stage, StageError
from factbench.stages.registry import judge_roles, registered_stages


class Sink(Protocol):
    """Where a pipeline's results go."""

    def may_start(self, stage: Stage, sample: Sample) -> bool:
        """False stops the sample before `stage` (a spent budget); it is taken up again later."""

    def stored(self, stage: Stage, sample: Sample, record) -> None:
        """The stage's record for the sample (its usage already attached)."""

    def failed(self, stage: Stage, sample: Sample, kind: str, detail: str, usage: dict) -> None:
        """The stage could not produce its record; `kind` is what the summary or the mask counts."""


def select_judges(names: tuple[str, ...] | list[str], defaults: dict[str, str],
                  stages: tuple[Stage, ...]) -> dict[str, Judge]:
    """One judge per role the stages call (the defaults, replaced by the named ones); a judge for a
    role no registered stage declares is refused."""
    judges = resolve_judges(names, defaults)
    known = {r.name for r in judge_roles()}
    stray = sorted({j.name for j in judges.values() if j.role not in known})
    if stray:
        raise UnknownJudge(f"judge(s) {', '.join(stray)} are for a role no registered stage calls "
                           f"(roles: {', '.join(sorted(known))}; see `factbench list stages`)")
    return judges


@dataclass
class Pipeline:
    """Stages in order, and what they share (clients, judges, options)."""

    stages: tuple[Stage, ...]
    context: RunContext
    stopping: Callable[[], bool] = lambda: False  # a run being stopped: an exception is then not the sample's
    # RunAborted (a judge endpoint that stays down) ends a run, which resumes later; in memory (the
    # Scorer, the reward service: aborts=False) it masks the sample, and the endpoint is probed again.
    aborts: bool = True

    @classmethod
    def registered(cls, context: RunContext, only: tuple[str, ...] | None = None) -> Pipeline:
        """Every registered stage (`only`: the stages named), in order."""
        stages = registered_stages()
        if only is not None:
            stages = tuple(s for s in stages if s.name in only)
        return cls(stages, context)

    async def process(self, sample: Sample, sink: Sink) -> bool:
        """Take the sample through every stage still to do; False when one failed or may not start."""
        for stage in self.stages:
            # A partial record (judge items left unparsed) is not done: the stage completes it.
            if stage.done(self.context, sample) or not stage.wanted(self.context, sample):
                continue
            if not sink.may_start(stage, sample):
                return False
            record = await self.attempt(stage, sample, sink)
            if record is None:
                return False  # later stages need this one
            sample.records[stage.name] = record
        return True

    async def attempt(self, stage: Stage, sample: Sample, sink: Sink):
        """One stage for one sample: its record, or None after telling the sink why not."""
        ledger = UsageLedger()  # the calls this (sample, stage) makes, stored on its record
        token = CURRENT_LEDGER.set(ledger)
        try:
            record = await stage.produce(self.context, sample)
        except (LLMError, StageError) as exc:
            sink.failed(stage, sample, exc.kind, exc.detail, ledger.to_dict())
            return None
        except asyncio.CancelledError:
            raise
        except RunAborted as exc:
            if self.aborts:
                raise
            sink.failed(stage, sample, type(exc).__name__, str(exc), ledger.to_dict())
            return None
        except Exception as exc:  # a bug or a bad input for this one sample: reported, the others go on
            if self.stopping():
                raise  # raised while the run is being stopped: not this sample's fault
            sink.failed(stage, sample, "internal", f"{type(exc).__name__}: {exc}", ledger.to_dict())
            return None
        finally:
            CURRENT_LEDGER.reset(token)
        record.usage = ledger.to_dict()
        sink.stored(stage, sample, record)
        return record
