"""The audit log on SQLite: rows written and read back, filters, batching, retention."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import text

from switchboard.store import AuditEvent, AuditKind, AuditWriter, Store, StoreError
from switchboard.store.audit import MAX_DETAIL_CHARS
from tests.harness.store import open_sqlite_store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path)
    yield s
    await s.close()


def _event(kind: AuditKind, minutes: int, **kw: object) -> AuditEvent:
    return AuditEvent(kind=kind, time=T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


async def test_every_field_round_trips(store: Store) -> None:
    event = AuditEvent(
        kind=AuditKind.ROUTE_DECISION,
        request_id="req-1",
        trace_id="0" * 31 + "1",
        tenant="acme",
        agent="billing",
        outcome="routed",
        detail={"confidence": 0.93, "candidates": ["billing", "support"], "llm": False},
        time=T0,
    )
    await store.audit.record(event)
    [got] = await store.audit.query(request_id="req-1")
    assert got.id > 0
    assert got.model_dump(exclude={"id"}) == event.model_dump()
    assert got.time.tzinfo is not None
    assert got.time == T0


async def test_filters_combine(store: Store) -> None:
    await store.audit.record_many(
        [
            _event(AuditKind.ROUTE_DECISION, 0, request_id="a", tenant="acme", agent="billing"),
            _event(AuditKind.AGENT_CALL, 1, request_id="a", tenant="acme", agent="billing"),
            _event(AuditKind.REFUSAL, 2, request_id="b", tenant="acme"),
            _event(AuditKind.AUTH_FAILURE, 3, tenant="globex", outcome="UNAUTHENTICATED"),
            _event(AuditKind.ESCALATION, 4, request_id="c", tenant="globex", agent="support"),
        ]
    )
    assert [e.kind for e in await store.audit.query(request_id="a", newest_first=False)] == [
        AuditKind.ROUTE_DECISION,
        AuditKind.AGENT_CALL,
    ]
    assert {e.request_id for e in await store.audit.query(tenant="acme")} == {"a", "b"}
    [auth] = await store.audit.query(kind="auth_failure")
    assert auth.request_id is None and auth.outcome == "UNAUTHENTICATED"
    assert len(await store.audit.query(tenant="globex", kind=AuditKind.ESCALATION)) == 1
    assert len(await store.audit.query(agent="billing")) == 2
    window = await store.audit.query(
        since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)
    )
    assert [e.kind for e in window] == [AuditKind.REFUSAL, AuditKind.AGENT_CALL]
    newest = await store.audit.query(limit=2)
    assert [e.kind for e in newest] == [AuditKind.ESCALATION, AuditKind.AUTH_FAILURE]


async def test_naive_and_offset_times_are_stored_as_utc(store: Store) -> None:
    plus_two = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    await store.audit.record(AuditEvent(kind=AuditKind.ERROR, request_id="tz", time=plus_two))
    await store.audit.record(
        AuditEvent(kind=AuditKind.ERROR, request_id="naive", time=datetime(2026, 1, 1, 12, 0))
    )
    [tz] = await store.audit.query(request_id="tz")
    [naive] = await store.audit.query(request_id="naive")
    assert tz.time == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert naive.time == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_trace_id_comes_from_the_active_span(store: Store) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("ask") as span:
        await store.audit.record(AuditEvent(kind=AuditKind.AGENT_CALL, request_id="t1"))
        expected = format(span.get_span_context().trace_id, "032x")
    [got] = await store.audit.query(request_id="t1")
    assert got.trace_id == expected


async def test_oversized_detail_is_truncated_not_refused(store: Store) -> None:
    big = {"text": "x" * (MAX_DETAIL_CHARS + 10)}
    await store.audit.record(AuditEvent(kind=AuditKind.TOOL_CALL, request_id="big", detail=big))
    [got] = await store.audit.query(request_id="big")
    assert got.detail["truncated"] is True
    assert got.detail["keys"] == ["text"]


async def test_unknown_kinds_are_refused_before_the_database() -> None:
    with pytest.raises(ValueError):
        AuditEvent(kind="made_up")  # type: ignore[arg-type]


async def test_purge_removes_rows_past_retention(store: Store) -> None:
    now = datetime.now(UTC)
    await store.audit.record_many(
        [
            AuditEvent(kind=AuditKind.ERROR, request_id="old", time=now - timedelta(days=100)),
            AuditEvent(kind=AuditKind.ERROR, request_id="new", time=now - timedelta(days=1)),
        ]
    )
    assert await store.audit.purge(older_than_s=90 * 86400) == 1
    assert [e.request_id for e in await store.audit.query()] == ["new"]


async def test_database_failures_raise_store_error(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE audit_events"))
    with pytest.raises(StoreError):
        await store.audit.record(AuditEvent(kind=AuditKind.ERROR))
    with pytest.raises(StoreError):
        await store.audit.query()


async def test_writer_batches_in_the_background_and_flushes_on_close(store: Store) -> None:
    writer = AuditWriter(store.audit, batch_size=7, flush_interval_s=0.01)
    writer.start()
    for i in range(50):
        assert writer.submit(AuditEvent(kind=AuditKind.AGENT_CALL, request_id=f"w{i}"))
    await writer.close()
    assert writer.written == 50 and writer.dropped == 0
    assert len(await store.audit.query(kind=AuditKind.AGENT_CALL, limit=1000)) == 50
    assert not writer.submit(AuditEvent(kind=AuditKind.AGENT_CALL))  # closed


class _Interrupt(BaseException):
    """Not an ``Exception``: a stray cancellation or a test runner's timeout, as the writer
    task sees it."""


async def test_a_writer_task_ended_by_something_else_than_an_exception_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch it held is lost; the next events are written, not queued until dropped."""
    writer = AuditWriter(store.audit, flush_interval_s=0.01)
    record_many = store.audit.record_many

    async def once(events: list[AuditEvent]) -> None:
        monkeypatch.setattr(store.audit, "record_many", record_many)
        raise _Interrupt

    monkeypatch.setattr(store.audit, "record_many", once)
    writer.start()
    writer.submit(AuditEvent(kind=AuditKind.AGENT_CALL, request_id="lost"))
    for _ in range(100):  # until the writer task has taken the batch and ended
        await asyncio.sleep(0.01)
        if store.audit.record_many is record_many:
            break
    await asyncio.sleep(0.01)
    for i in range(3):
        assert writer.submit(AuditEvent(kind=AuditKind.AGENT_CALL, request_id=f"after{i}"))
    await writer.close()
    stored = {e.request_id for e in await store.audit.query(kind=AuditKind.AGENT_CALL)}
    assert stored == {"after0", "after1", "after2"} and writer.written == 3


async def test_writer_drops_instead_of_blocking_or_raising(store: Store) -> None:
    writer = AuditWriter(store.audit, max_queue=3)
    results = [writer.submit(AuditEvent(kind=AuditKind.ERROR)) for _ in range(5)]
    assert results == [True, True, True, False, False]
    async with store.engine.begin() as conn:
        await conn.execute(text("DROP TABLE audit_events"))
    await writer.close()  # the write fails: counted and logged, not raised
    assert writer.dropped == 5 and writer.written == 0
