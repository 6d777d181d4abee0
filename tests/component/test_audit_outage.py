"""Finding 5 (medium): audit events were dropped during a database outage.

The store's audit log is made to fail (as during the outage the attacker caused); events go
to the bounded local-disk spool and reach the database once it answers again, also after a
crash of the process that spooled them. Nothing is dropped silently: what does not fit is
counted by kind, and actions that must be audited are refused meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from switchboard.agent.tools import DemoBackend, brightlane_tools
from switchboard.agent.tools.registry import ToolContext
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.audit import AuditEvent, AuditKind
from switchboard.core.errors import Unavailable
from switchboard.store import AuditLog, AuditSpool, AuditWriter, Store, StoreError
from tests.harness.stack import Credentials
from tests.harness.store import open_sqlite_store


class FlakyAudit(AuditLog):
    """The store's audit log, failing while ``down``."""

    def __init__(self, inner: AuditLog) -> None:
        self._inner = inner
        self.down = False

    async def record_many(self, events: Sequence[AuditEvent]) -> None:
        if self.down:
            raise StoreError("connection refused (database down)")
        await self._inner.record_many(events)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = await open_sqlite_store(tmp_path)
    yield db
    await db.close()


def events(n: int, kind: AuditKind = AuditKind.AGENT_CALL) -> list[AuditEvent]:
    return [AuditEvent(kind=kind, request_id=f"r{i}", tenant="acme") for i in range(n)]


async def rows(store: Store) -> int:
    return len(await store.audit.query(limit=10_000))


async def until(check: Callable[[], Awaitable[bool]], tries: int = 500) -> None:
    """Polls ``check`` (the writer works in the background) for up to ~10 s."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_events_during_an_outage_are_spooled_then_written(
    store: Store, tmp_path: Path
) -> None:
    flaky = FlakyAudit(store.audit)
    spool = AuditSpool(tmp_path / "spool", max_bytes=10_000_000)
    writer = AuditWriter(flaky, spool=spool, flush_interval_s=0.01, retry_interval_s=0.05)
    writer.start()
    flaky.down = True
    for e in events(170):  # the attacker's 25 s of answered requests
        writer.submit(e)
    await until(lambda: _true(writer.spooled == 170))
    assert await rows(store) == 0 and writer.backlog == 170 and writer.dropped == 0
    assert writer.accepting()  # the spool has room: nothing is refused
    flaky.down = False  # the database is back: the writer retries on its own
    await until(lambda: _true(writer.backlog == 0))
    assert await rows(store) == 170
    await writer.close()
    assert writer.dropped == 0
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # emptied and removed


async def test_a_full_spool_drops_loudly_and_refuses_actions(store: Store, tmp_path: Path) -> None:
    flaky = FlakyAudit(store.audit)
    flaky.down = True
    spool = AuditSpool(tmp_path / "spool", max_bytes=4096 + 2_000)
    writer = AuditWriter(flaky, spool=spool, flush_interval_s=0.01, retry_interval_s=0.05)
    writer.start()
    for e in events(50, AuditKind.TOOL_CALL):
        writer.submit(e)
    await until(lambda: _true(writer.spooled + writer.dropped == 50))
    assert 0 < writer.spooled < 50 and writer.dropped == 50 - writer.spooled
    assert not writer.accepting()
    # A confirmed refund is refused rather than carried out unaudited.
    backend = DemoBackend.load()
    creds = Credentials()
    runner = ToolRunner(
        brightlane_tools(backend).select(["request_refund"]),
        agent="billing",
        signer=creds.signer(),
        audit=writer,
        effects=store.effects,
    )
    token = creds.signer().sign(
        agent="billing",
        tool="request_refund",
        args={"invoice_id": "BL-2025-004218", "reason": "charged twice"},
        tenant="acme",
        customer_id="cus_demo_acme",
        step=1,
    )
    with pytest.raises(Unavailable, match="audit log cannot record"):
        await runner.confirm(
            token, ToolContext("r1", "acme", "cus_demo_acme", "billing"), timeout=5
        )
    assert backend.effects == []
    flaky.down = False
    await until(lambda: _rows_are(store, writer.spooled))
    assert writer.accepting()
    await writer.close()


async def test_a_crashed_process_spool_is_replayed_by_the_next(
    store: Store, tmp_path: Path
) -> None:
    flaky = FlakyAudit(store.audit)
    flaky.down = True
    first = AuditWriter(
        flaky, spool=AuditSpool(tmp_path / "spool", max_bytes=10**7), flush_interval_s=0.01
    )
    first.start()
    for e in events(30):
        first.submit(e)
    await first.close()  # stops with 30 events still spooled (as a crash would leave them)
    assert len(list((tmp_path / "spool").glob("*.jsonl"))) == 1 and await rows(store) == 0
    second = AuditWriter(store.audit, spool=AuditSpool(tmp_path / "spool", max_bytes=10**7))
    second.start()  # adopts the orphaned file at start
    await until(lambda: _rows_are(store, 30))
    await second.close()
    assert not list((tmp_path / "spool").glob("*.jsonl"))


async def _true(value: bool) -> bool:
    return value


async def _rows_are(store: Store, n: int) -> bool:
    return await rows(store) == n
