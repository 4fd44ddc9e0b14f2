"""Concurrent batches are admitted in turn, so a small batch is not stuck behind a large one."""

import asyncio

from factbench.reward.fair import FairGate


def test_slots_alternate_between_waiting_batches():
    async def main():
        gate = FairGate(2)
        order: list[str] = []
        release = asyncio.Event()

        async def item(batch: int, name: str):
            async with gate.slot(batch):
                order.append(name)
                await release.wait()

        big = [asyncio.create_task(item(0, f"big{i}")) for i in range(6)]
        await asyncio.sleep(0)
        small = [asyncio.create_task(item(1, f"small{i}")) for i in range(2)]
        await asyncio.sleep(0)
        assert order == ["big0", "big1"] and gate.waiting == 6
        release.set()
        await asyncio.gather(*big, *small)
        return order

    order = asyncio.run(main())
    # After the first two, slots go big, small, big, small: the small batch is done by the 6th admission.
    assert order[:6] == ["big0", "big1", "big2", "small0", "big3", "small1"]


def test_a_cancelled_waiter_gives_its_turn_away():
    async def main():
        gate = FairGate(1)
        await gate.acquire(0)
        waiter = asyncio.create_task(gate.acquire(1))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        gate.release()
        assert gate.in_use == 0 and gate.waiting == 0
        await asyncio.wait_for(gate.acquire(2), 1)  # the slot is free again
        assert gate.in_use == 1

    asyncio.run(main())
