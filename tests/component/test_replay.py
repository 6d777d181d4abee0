"""Idempotent Ask over a real SQLite store: one run per request id, stored replies, release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.core import errors
from switchboard.core.context import RequestContext
from switchboard.core.types import Outcome
from switchboard.store import Store
from switchboard.supervisor.ledger import RequestLedger, fingerprint
from switchboard.supervisor.results import AskResult
from tests.harness.store import open_sqlite_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path, idempotency_window_s=3600, idempotency_lease_s=30)
    yield s
    await s.close()


def fp(text: str) -> str:
    return fingerprint(text=text, session_id="", agent="", confirm_action="", metadata={})


def ctx(tenant: str = "acme", request_id: str = "r1") -> RequestContext:
    return RequestContext(request_id=request_id, tenant=tenant)


def reply(text: str, *, final: bool = True) -> AskResult:
    outcome = Outcome.ANSWERED if final else Outcome.ESCALATED
    return AskResult(request_id="r1", outcome=outcome, answer=text, final=final)


async def test_a_repeated_id_gets_the_stored_reply_without_a_second_run(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)
    runs = 0

    async def produce() -> AskResult:
        nonlocal runs
        runs += 1
        return reply(f"reply {runs}")

    first = await ledger.run(ctx(), fp("hi"), produce)
    again = await ledger.run(ctx(), fp("hi"), produce)
    assert first == (reply("reply 1"), False) and again == (reply("reply 1"), True)
    assert runs == 1
    # ids are per tenant
    assert await ledger.run(ctx("other"), fp("hi"), produce) == (reply("reply 2"), False)


async def test_same_id_for_another_request_is_a_conflict(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)

    async def produce() -> AskResult:
        return reply("x")

    await ledger.run(ctx(), fp("refund my invoice"), produce)
    with pytest.raises(errors.Conflict, match="different request"):
        await ledger.run(ctx(), fp("delete my account"), produce)


async def test_a_concurrent_repeat_is_told_to_retry(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow() -> AskResult:
        started.set()
        await finish.wait()
        return reply("done")

    first = asyncio.create_task(ledger.run(ctx(), fp("hi"), slow))
    await started.wait()
    with pytest.raises(errors.InProgress, match="retry shortly"):
        await ledger.run(ctx(), fp("hi"), slow)
    finish.set()
    assert await first == (reply("done"), False)
    assert await ledger.run(ctx(), fp("hi"), slow) == (reply("done"), True)


async def test_a_failed_or_cancelled_run_releases_the_id(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)

    async def fails() -> AskResult:
        raise errors.Unavailable("agent down")

    with pytest.raises(errors.Unavailable):
        await ledger.run(ctx(), fp("hi"), fails)

    async def hangs() -> AskResult:
        await asyncio.sleep(30)
        return reply("never")

    task = asyncio.create_task(ledger.run(ctx(), fp("hi"), hangs))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def works() -> AskResult:
        return reply("ok")

    # nothing was stored and the id is free again: the retry runs
    assert await ledger.run(ctx(), fp("hi"), works) == (reply("ok"), False)


async def test_an_outcome_that_is_not_final_is_not_kept(store: Store) -> None:
    """An escalation because the agent was down is given out but not stored: a retry with
    the same id, once the agent is back, is answered afresh (and that answer is kept)."""
    ledger = RequestLedger(store.idempotency)
    results = [reply("agent down: passed to a person", final=False), reply("answered")]

    async def produce() -> AskResult:
        return results.pop(0)

    down = await ledger.run(ctx(), fp("hi"), produce)
    assert down == (reply("agent down: passed to a person", final=False), False)
    assert await ledger.run(ctx(), fp("hi"), produce) == (reply("answered"), False)
    assert await ledger.run(ctx(), fp("hi"), produce) == (reply("answered"), True)
    assert results == []


async def test_a_broken_store_refuses_rather_than_risk_a_double_run(tmp_path: Path) -> None:
    s = await open_sqlite_store(tmp_path)
    await s.close()
    await s.engine.dispose()
    (tmp_path / "switchboard.db").unlink(missing_ok=True)
    (tmp_path / "switchboard.db").mkdir()  # the file is now a folder: every query fails
    ledger = RequestLedger(s.idempotency)
    called = False

    async def produce() -> AskResult:
        nonlocal called
        called = True
        return reply("x")

    with pytest.raises(errors.Unavailable, match="request store"):
        await ledger.run(ctx(), fp("hi"), produce)
    assert not called
