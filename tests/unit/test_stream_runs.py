"""Stream runs: listeners get every event in order, late listeners catch up, a listener
whose events are gone is told so, and a run nobody listens to stops (or waits its grace)."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.core import errors
from switchboard.core.streaming import TextDelta
from switchboard.supervisor.streaming.events import Numbered, PartEvent
from switchboard.supervisor.streaming.runs import StreamHub, StreamRun


def delta(seq: int) -> Numbered:
    return Numbered(seq, PartEvent("billing", 0, TextDelta(f"t{seq} ")))


async def test_listeners_get_every_event_in_order_and_late_ones_catch_up() -> None:
    hub = StreamHub(resume_window_s=60, max_events=100, detach_grace_s=0)
    gate = asyncio.Event()

    async def produce(run: StreamRun) -> None:
        for i in range(1, 4):
            await run.deliver(delta(i))
        await gate.wait()
        await run.deliver(delta(4))

    run = hub.start(("acme", "r1"), "fp", produce)
    first = asyncio.create_task(_collect(run, 0))
    await asyncio.sleep(0.01)
    late = asyncio.create_task(_collect(run, 2))
    await asyncio.sleep(0.01)
    gate.set()
    assert [e.sequence for e in await first] == [1, 2, 3, 4]
    assert [e.sequence for e in await late] == [3, 4]
    assert hub.get(("acme", "r1")) is run and run.done and run.error is None
    await hub.close()


async def test_events_no_longer_held_are_a_failed_precondition() -> None:
    hub = StreamHub(resume_window_s=60, max_events=16, detach_grace_s=0)

    async def produce(run: StreamRun) -> None:
        for i in range(1, 41):
            await run.deliver(delta(i))

    run = hub.start(("acme", "r2"), "fp", produce)
    assert run.task is not None
    await run.task
    assert [e.sequence for e in await _collect(run, 30)] == list(range(31, 41))
    with pytest.raises(errors.FailedPrecondition, match="no longer held"):
        await _collect(run, 3)
    await hub.close()


@pytest.mark.parametrize("grace", [0.0, 0.3])
async def test_a_run_nobody_listens_to_stops(grace: float) -> None:
    hub = StreamHub(resume_window_s=60, max_events=100, detach_grace_s=grace)
    started = asyncio.Event()

    async def produce(run: StreamRun) -> None:
        await run.deliver(delta(1))
        started.set()
        await asyncio.sleep(30)

    run = hub.start(("acme", "r3"), "fp", produce)
    listener = asyncio.create_task(_collect(run, 0))
    await started.wait()
    await asyncio.sleep(0.01)
    listener.cancel()
    await asyncio.sleep(0.05)
    assert run.task is not None
    assert run.task.done() is (grace == 0)  # with a grace period it waits for a re-attach
    await asyncio.sleep(grace + 0.1)
    assert run.task.done() and isinstance(run.error, errors.Unavailable)
    await hub.close()


async def _collect(run: StreamRun, after: int) -> list[Numbered]:
    return [e async for e in run.listen(after)]
