"""Tool side effects on SQLite: once per request step, whatever the retries."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import JsonValue
from sqlalchemy.engine import make_url

from switchboard.store import EffectMismatch, EffectPending, Store, StoreError
from tests.harness.store import open_sqlite_store, sqlite_url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path, idempotency_lease_s=30)
    yield s
    await s.close()


class Refunds:
    """A tool with a visible side effect: it counts its calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> JsonValue:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return {"refund_id": f"rf-{self.calls}", "amount": 120}


async def test_a_step_runs_once_and_replays_its_result(store: Store) -> None:
    tool = Refunds()
    first = await store.effects.run_once("r1", 0, "refund", {"invoice": "in_1"}, tool)
    again = await store.effects.run_once("r1", 0, "refund", {"invoice": "in_1"}, tool)
    assert tool.calls == 1
    assert not first.replayed and again.replayed
    assert first.result == again.result == {"refund_id": "rf-1", "amount": 120}
    assert await store.effects.get("r1", 0) == {"refund_id": "rf-1", "amount": 120}
    assert await store.effects.count("r1") == 1


async def test_other_steps_and_requests_run_separately(store: Store) -> None:
    tool = Refunds()
    await store.effects.run_once("r1", 0, "refund", {"invoice": "in_1"}, tool)
    await store.effects.run_once("r1", 1, "refund", {"invoice": "in_1"}, tool)
    await store.effects.run_once("r2", 0, "refund", {"invoice": "in_1"}, tool)
    await store.effects.run_once("r1", 0, "refund", {"invoice": "in_1"}, tool, tenant="other")
    assert tool.calls == 4


async def test_concurrent_replays_never_run_the_tool_twice(store: Store) -> None:
    tool = Refunds(delay=0.05)
    results = await asyncio.gather(
        *(store.effects.run_once("r1", "s", "refund", {"n": 1}, tool) for _ in range(10)),
        return_exceptions=True,
    )
    assert tool.calls == 1
    fresh = [r for r in results if not isinstance(r, BaseException) and not r.replayed]
    assert len(fresh) == 1
    for r in results:
        assert not isinstance(r, BaseException) or isinstance(r, EffectPending)


async def test_argument_order_does_not_matter_but_values_do(store: Store) -> None:
    tool = Refunds()
    await store.effects.run_once("r1", 0, "refund", {"a": 1, "b": 2}, tool)
    assert (await store.effects.run_once("r1", 0, "refund", {"b": 2, "a": 1}, tool)).replayed
    with pytest.raises(EffectMismatch):
        await store.effects.run_once("r1", 0, "refund", {"a": 1, "b": 3}, tool)
    with pytest.raises(EffectMismatch):
        await store.effects.run_once("r1", 0, "cancel_plan", {"a": 1, "b": 2}, tool)
    assert tool.calls == 1


async def test_a_failed_tool_releases_its_step(store: Store) -> None:
    async def boom() -> JsonValue:
        raise RuntimeError("payment provider down")

    with pytest.raises(RuntimeError):
        await store.effects.run_once("r1", 0, "refund", {}, boom)
    tool = Refunds()
    result = await store.effects.run_once("r1", 0, "refund", {}, tool)
    assert tool.calls == 1 and not result.replayed


async def test_a_cancelled_tool_releases_its_step(store: Store) -> None:
    task = asyncio.create_task(store.effects.run_once("r1", 0, "refund", {}, Refunds(delay=10)))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not (await store.effects.run_once("r1", 0, "refund", {}, Refunds())).replayed


async def test_a_step_left_running_is_taken_over_after_its_lease(store: Store) -> None:
    past = datetime.now(UTC) - timedelta(seconds=31)
    stuck = asyncio.Event()

    async def hangs() -> JsonValue:
        await stuck.wait()
        return None

    task = asyncio.create_task(store.effects.run_once("r1", 0, "refund", {}, hangs, now=past))
    await asyncio.sleep(0.1)
    tool = Refunds()
    result = await store.effects.run_once("r1", 0, "refund", {}, tool)
    assert tool.calls == 1 and not result.replayed
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.effects.get("r1", 0) == result.result  # the late holder changed nothing


async def test_results_must_be_json(store: Store) -> None:
    async def not_json() -> JsonValue:
        return {"when": datetime.now(UTC)}  # type: ignore[dict-item]

    with pytest.raises(StoreError):
        await store.effects.run_once("r1", 0, "refund", {}, not_json)


def hold_write_lock(path: str, seconds: float, locked: threading.Event) -> None:
    """Another process's long write transaction on the store's SQLite file."""
    conn = sqlite3.connect(path, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.rollback()
    finally:
        conn.close()


async def test_a_result_is_stored_even_if_the_database_is_locked_as_the_tool_returns(
    tmp_path: Path,
) -> None:
    """The refund happened, so its record must land (the store retries until the step's
    lease ends), or a retry after the lease would refund again."""
    store = await open_sqlite_store(tmp_path, db_timeout_s=0.2)
    path = make_url(sqlite_url(tmp_path)).database
    assert path is not None
    locked = threading.Event()
    holders: list[asyncio.Task[None]] = []

    async def refund_then_lock() -> JsonValue:
        holders.append(asyncio.create_task(asyncio.to_thread(hold_write_lock, path, 1.0, locked)))
        assert await asyncio.to_thread(locked.wait, 5)
        return {"refund_id": "rf-1"}

    try:
        first = await store.effects.run_once("r1", 0, "refund", {}, refund_then_lock)
        await asyncio.gather(*holders)
        tool = Refunds()
        again = await store.effects.run_once("r1", 0, "refund", {}, tool)
        assert not first.replayed and again.replayed and tool.calls == 0
        assert await store.effects.get("r1", 0) == {"refund_id": "rf-1"}
    finally:
        await store.close()
