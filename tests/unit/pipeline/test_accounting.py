"""The call journal: a killed invocation is counted from its calls; a finished one from its own line."""

from __future__ import annotations

import asyncio
import signal

import pytest

from factbench.llm.client import RoleSpec
from factbench.llm.cost import CURRENT_JOURNAL, charge
from factbench.pipeline import accounting
from factbench.pipeline.interrupt import Interrupted, Stop, run_interruptible

SPEC = RoleSpec(role="verifier", model="openai/j", base_urls=("http://h/v1",), price_per_1k=(1.0, 2.0))


def test_a_killed_invocation_is_counted_from_its_journal(tmp_path):
    journal = accounting.CallJournal(tmp_path)
    assert CURRENT_JOURNAL.get() is journal
    charge(SPEC, False, 1000, 500)  # every call a client accounts goes through charge()
    charge(SPEC, True, 1000, 500)
    # killed here: no invocation line, and the file descriptor is never closed properly
    (tmp_path / accounting.CALLS).open("ab").write(b'{"inv": "' + journal.id.encode() + b'", "role": "verif')
    [killed] = accounting.read_invocations(tmp_path)
    assert killed["killed"] and killed["invocation"] == journal.id
    assert killed["calls"]["verifier"] == {"calls": 2, "cache_hits": 1, "prompt_tokens": 1000,
                                           "completion_tokens": 500, "cost_usd": 2.0}
    assert accounting.spent_usd([killed], {}) == 2.0
    journal.close()
    assert CURRENT_JOURNAL.get() is None


def test_a_finished_invocation_counts_once_and_order_is_by_start(tmp_path):
    killed = accounting.CallJournal(tmp_path)
    charge(SPEC, False, 10, 5)
    killed.close()  # and no invocation line: as a kill leaves it
    finished = accounting.CallJournal(tmp_path)
    charge(SPEC, False, 100, 50)
    accounting.append_invocation(tmp_path, {"started_at": "9999", "calls": {"verifier": {"calls": 1}}}, finished)
    lines = accounting.read_invocations(tmp_path)
    assert [line.get("killed", False) for line in lines] == [True, False]
    assert lines[1]["invocation"] == finished.id and lines[1]["calls"] == {"verifier": {"calls": 1}}
    assert accounting.totals(lines)["calls"]["verifier"]["calls"] == 2


def test_a_run_cancelled_before_it_starts_never_starts():
    stop = Stop()
    stop.cancel()
    started = []

    async def run() -> None:
        started.append(True)

    with pytest.raises(Interrupted) as info:
        run_interruptible(run(), stop)
    assert info.value.signum == signal.SIGINT and started == []


def test_cancel_from_another_thread_stops_a_running_loop():
    import threading

    stop = Stop()

    async def forever() -> None:
        threading.Timer(0.2, stop.cancel).start()
        await asyncio.sleep(60)

    with pytest.raises(Interrupted):
        run_interruptible(forever(), stop)
