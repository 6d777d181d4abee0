"""Idempotent Ask over a real SQLite store: one run per request id, stored replies, release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.core import errors
from switchboard.store import Store
from switchboard.supervisor.ledger import RequestLedger, fingerprint
from tests.store_support import open_sqlite_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path, idempotency_window_s=3600, idempotency_lease_s=30)
    yield s
    await s.close()


def fp(text: str) -> str:
    return fingerprint(text=text, session_id="", agent="", confirm_action="", metadata={})


async def test_a_repeated_id_gets_the_stored_reply_without_a_second_run(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)
    runs = 0

    async def produce() -> tuple[bytes, str]:
        nonlocal runs
        runs += 1
        return f"reply {runs}".encode(), "ANSWERED"

    first = await ledger.run("acme", "r1", fp("hi"), produce)
    again = await ledger.run("acme", "r1", fp("hi"), produce)
    assert first == (b"reply 1", False) and again == (b"reply 1", True)
    assert runs == 1
    # ids are per tenant
    assert await ledger.run("other", "r1", fp("hi"), produce) == (b"reply 2", False)


async def test_same_id_for_another_request_is_a_conflict(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)

    async def produce() -> tuple[bytes, str]:
        return b"x", "ANSWERED"

    await ledger.run("acme", "r1", fp("refund my invoice"), produce)
    with pytest.raises(errors.Conflict, match="different request"):
        await ledger.run("acme", "r1", fp("delete my account"), produce)


async def test_a_concurrent_repeat_is_told_to_retry(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow() -> tuple[bytes, str]:
        started.set()
        await finish.wait()
        return b"done", "ANSWERED"

    first = asyncio.create_task(ledger.run("acme", "r1", fp("hi"), slow))
    await started.wait()
    with pytest.raises(errors.InProgress, match="retry shortly"):
        await ledger.run("acme", "r1", fp("hi"), slow)
    finish.set()
    assert await first == (b"done", False)
    assert await ledger.run("acme", "r1", fp("hi"), slow) == (b"done", True)


async def test_a_failed_or_cancelled_run_releases_the_id(store: Store) -> None:
    ledger = RequestLedger(store.idempotency)

    async def fails() -> tuple[bytes, str]:
        raise errors.Unavailable("agent down")

    with pytest.raises(errors.Unavailable):
        await ledger.run("acme", "r1", fp("hi"), fails)

    async def hangs() -> tuple[bytes, str]:
        await asyncio.sleep(30)
        return b"never", "ANSWERED"

    task = asyncio.create_task(ledger.run("acme", "r1", fp("hi"), hangs))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def works() -> tuple[bytes, str]:
        return b"ok", "ANSWERED"

    # nothing was stored and the id is free again: the retry runs
    assert await ledger.run("acme", "r1", fp("hi"), works) == (b"ok", False)


async def test_a_broken_store_refuses_rather_than_risk_a_double_run(tmp_path: Path) -> None:
    s = await open_sqlite_store(tmp_path)
    await s.close()
    await s.engine.dispose()
    (tmp_path / "switchboard.db").unlink(missing_ok=True)
    (tmp_path / "switchboard.db").mkdir()  # the file is now a folder: every query fails
    ledger = RequestLedger(s.idempotency)
    called = False

    async def produce() -> tuple[bytes, str]:
        nonlocal called
        called = True
        return b"x", "ANSWERED"

    with pytest.raises(errors.Unavailable, match="request store"):
        await ledger.run("acme", "r1", fp("hi"), produce)
    assert not called
