"""Admission control: slots, a bounded queue in arrival order, explicit shedding."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.core.admission import Admission
from switchboard.core.audit import AuditKind
from switchboard.core.errors import ResourceExhausted
from tests.fakes.audit import AuditRecorder


def _admission(audit: AuditRecorder, **values: float) -> Admission:
    params = {"max_in_flight": 2, "max_queue": 1, "max_wait_s": 30.0, **values}
    return Admission(
        service="test",
        max_in_flight=int(params["max_in_flight"]),
        max_queue=int(params["max_queue"]),
        max_wait_s=params["max_wait_s"],
        retry_after_s=2.5,
        audit=audit,
    )


async def _hold(admission: Admission, release: asyncio.Event, log: list[str], name: str) -> None:
    async with admission.slot():
        log.append(name)
        await release.wait()


async def test_beyond_slots_and_queue_calls_are_shed_with_retry_after_and_audited_once() -> None:
    audit = AuditRecorder()
    admission = _admission(audit)
    release = asyncio.Event()
    ran: list[str] = []
    holders = [asyncio.create_task(_hold(admission, release, ran, n)) for n in ("a", "b", "c")]
    await asyncio.sleep(0.01)
    assert ran == ["a", "b"] and admission.in_flight == 2 and admission.queued == 1
    for _ in range(3):  # a burst of refusals: each explicit, one audit event
        with pytest.raises(ResourceExhausted) as refused:
            await admission.acquire()
        assert refused.value.retry_after_s == 2.5
    assert admission.shed_total == 3
    events = [e for e in audit.events if e.kind == AuditKind.LIMIT_EXCEEDED]
    assert len(events) == 1 and events[0].detail["reason"] == "overloaded"
    release.set()
    await asyncio.gather(*holders)
    assert ran == ["a", "b", "c"]  # the queued call ran once a slot was free
    assert admission.in_flight == 0 and admission.queued == 0


async def test_a_call_waiting_past_its_deadline_is_shed_and_frees_its_place() -> None:
    admission = _admission(AuditRecorder(), max_in_flight=1, max_queue=4)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(admission, release, [], "a"))
    await asyncio.sleep(0.01)
    with pytest.raises(ResourceExhausted):
        await admission.acquire(time_remaining=0.01)
    assert admission.queued == 0
    release.set()
    await holder
    assert admission.in_flight == 0


async def test_a_cancelled_waiter_leaks_no_slot() -> None:
    admission = _admission(AuditRecorder(), max_in_flight=1, max_queue=4)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(admission, release, [], "a"))
    await asyncio.sleep(0.01)
    waiter = asyncio.create_task(admission.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert admission.in_flight == 0 and admission.queued == 0
    async with admission.slot():
        assert admission.in_flight == 1
