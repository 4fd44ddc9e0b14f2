"""A run keeps the cyclic collector off the objects that outlive it, and gives them back after."""

from __future__ import annotations

import gc
import threading

from conftest import write_longfact_fixture

from factbench.llm.client import RoleSpec
from factbench.pipeline import runner as runner_module
from factbench.pipeline import warmup
from factbench.pipeline.heap import long_lived_heap
from factbench.pipeline.runner import Runner, RunSettings
from factbench.tasks import resolve_tasks


def _settled() -> None:
    """No warm-up thread of an earlier run is left to freeze the heap while a test looks at it."""
    for thread in threading.enumerate():
        if thread.name == "factbench-warm-up":
            thread.join(60)
    gc.unfreeze()


def test_the_heap_is_frozen_inside_the_block_and_back_after_it() -> None:
    _settled()
    assert gc.get_freeze_count() == 0
    kept = [object() for _ in range(10)]
    with long_lived_heap():
        # everything tracked before the block (here at least the list above) is out of the collector's reach
        assert gc.get_freeze_count() > 0
        assert not any(o is kept for o in gc.get_objects())
    assert gc.get_freeze_count() == 0
    assert any(o is kept for o in gc.get_objects())


def test_a_run_does_its_work_on_a_frozen_heap(server, tmp_path, monkeypatch) -> None:
    _settled()
    seen: list[int] = []
    real = runner_module.run_interruptible

    def watched(work, stop):  # type: ignore[no-untyped-def]
        seen.append(gc.get_freeze_count())
        return real(work, stop)

    monkeypatch.setattr(runner_module, "run_interruptible", watched)
    monkeypatch.setattr(warmup, "freeze_loaded", lambda: None)  # only the run's own freeze is looked at
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    settings = RunSettings(run_id="r", results_dir=str(tmp_path), data_dir=str(data), evidence="none",
                           relevance=False, progress=False)
    roles = {role: RoleSpec(role=role, model="openai/judge", base_urls=(server.base_url,), max_retries=0)
             for role in ("model", "extractor", "verifier")}
    summary = Runner(settings, roles, resolve_tasks("longfact-objects"), cache=None).run()
    assert summary.overall.n_scored == 2
    assert len(seen) == 1 and seen[0] > 1000  # the modules and records loaded before the work began
    assert gc.get_freeze_count() == 0  # and given back to the collector when it ended


def test_a_warm_up_that_ends_after_its_run_leaves_the_heap_unfrozen() -> None:
    from factbench.pipeline.heap import freeze_loaded

    _settled()
    freeze_loaded()  # no run is working
    assert gc.get_freeze_count() == 0
    with long_lived_heap():
        gc.unfreeze()
        freeze_loaded()  # during a run: what was loaded joins the frozen objects
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
