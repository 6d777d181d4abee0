"""The group-commit writer: concurrent writes share transactions, each caller gets its own
result after the commit, and one failing write never fails its neighbours."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from switchboard.store import AuditEvent, AuditKind, ClaimOutcome, StoreError
from tests.harness.store import open_sqlite_store


async def test_concurrent_claims_share_transactions_and_each_gets_its_outcome(
    tmp_path: Path,
) -> None:
    store = await open_sqlite_store(tmp_path)
    try:
        claims = await asyncio.gather(
            *(store.idempotency.claim("t", f"r{i % 50}", fingerprint="f") for i in range(100))
        )
        outcomes = [c.outcome for c in claims]
        # one winner per id, the repeats see it in progress (even within one transaction)
        assert outcomes.count(ClaimOutcome.ACQUIRED) == 50
        assert outcomes.count(ClaimOutcome.IN_PROGRESS) == 50
        assert store.writer.operations == 100
        assert store.writer.transactions < 100  # grouped
        done = await asyncio.gather(
            *(store.idempotency.complete(c, b"x", status="ANSWERED") for c in claims if c.acquired)
        )
        assert all(done)
        again = await store.idempotency.claim("t", "r7", fingerprint="f")
        assert again.outcome is ClaimOutcome.DONE and again.response == b"x"
    finally:
        await store.close()


async def test_a_failing_write_fails_alone(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path)

    async def broken(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    try:
        results = await asyncio.gather(
            store.audit.record(AuditEvent(kind=AuditKind.REPLAY, request_id="a")),
            store.writer.write("a broken write", broken),
            store.audit.record(AuditEvent(kind=AuditKind.REPLAY, request_id="b")),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], StoreError) and "a broken write" in str(results[1])
        stored = {r.request_id for r in await store.audit.query(kind=AuditKind.REPLAY)}
        assert stored == {"a", "b"}
    finally:
        await store.close()


async def test_writes_after_close_still_commit(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path)
    await store.audit.record(AuditEvent(kind=AuditKind.REPLAY, request_id="before"))
    await store.writer.close()
    await store.audit.record(AuditEvent(kind=AuditKind.REPLAY, request_id="after"))
    stored = {r.request_id for r in await store.audit.query(kind=AuditKind.REPLAY)}
    await store.close()
    assert stored == {"before", "after"}


async def test_a_lone_write_is_one_transaction(tmp_path: Path) -> None:
    store = await open_sqlite_store(tmp_path)
    try:
        await store.session_states.save("t", "s", "billing", None, ttl_s=60)
        assert (store.writer.transactions, store.writer.operations) == (1, 1)
    finally:
        await store.close()


class _Interrupt(BaseException):
    """Not an ``Exception``: what a stray cancellation or a test runner's timeout raised
    inside the writer task looks like to it."""


async def test_a_writer_ended_by_something_else_than_an_exception_is_replaced(
    tmp_path: Path,
) -> None:
    """Its callers get a StoreError instead of waiting for ever, and later writes (and the
    ones queued meanwhile) still commit: before, one such interruption left every claim of
    the process waiting until its timeout."""
    store = await open_sqlite_store(tmp_path)

    async def interrupted(session: AsyncSession) -> None:
        raise _Interrupt

    try:
        async with asyncio.timeout(10):
            with pytest.raises(StoreError, match="an interrupted write"):
                await store.writer.write("an interrupted write", interrupted)
            await asyncio.sleep(0)  # the writer task has ended
            await asyncio.gather(
                *(
                    store.audit.record(AuditEvent(kind=AuditKind.REPLAY, request_id=f"r{i}"))
                    for i in range(5)
                )
            )
        stored = {r.request_id for r in await store.audit.query(kind=AuditKind.REPLAY)}
        assert stored == {f"r{i}" for i in range(5)}
    finally:
        await store.close()
