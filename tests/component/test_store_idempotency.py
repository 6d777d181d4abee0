"""Idempotency on SQLite: one winner per request id, stored results, expiry and leases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from switchboard.store import ClaimOutcome, Store
from tests.harness.store import open_sqlite_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path, idempotency_window_s=3600, idempotency_lease_s=30)
    yield s
    await s.close()


async def test_concurrent_claims_have_exactly_one_winner(store: Store) -> None:
    claims = await asyncio.gather(*(store.idempotency.claim("acme", "r1") for _ in range(25)))
    outcomes = [c.outcome for c in claims]
    assert outcomes.count(ClaimOutcome.ACQUIRED) == 1
    assert outcomes.count(ClaimOutcome.IN_PROGRESS) == 24


async def test_claims_from_two_store_objects_race_too(tmp_path: Path) -> None:
    """Two replicas on one database file: still one winner."""
    a, b = await open_sqlite_store(tmp_path), await open_sqlite_store(tmp_path)
    try:
        claims = await asyncio.gather(
            *(s.idempotency.claim("acme", "shared") for s in (a, b) for _ in range(10))
        )
    finally:
        await a.close()
        await b.close()
    assert [c.acquired for c in claims].count(True) == 1


async def test_a_completed_request_returns_the_stored_response(store: Store) -> None:
    claim = await store.idempotency.claim("acme", "r1")
    assert claim.acquired and claim.token
    assert await store.idempotency.complete(claim, b"\x08\x01proto", status="ANSWERED")

    again = await store.idempotency.claim("acme", "r1")
    assert again.outcome is ClaimOutcome.DONE
    assert again.response == b"\x08\x01proto" and again.status == "ANSWERED"
    assert again.token is None

    stored = await store.idempotency.get("acme", "r1")
    assert stored is not None and stored.state == "done" and stored.response == b"\x08\x01proto"
    assert not await store.idempotency.complete(claim, b"other")  # only once


async def test_ids_are_scoped_per_tenant(store: Store) -> None:
    assert (await store.idempotency.claim("acme", "same")).acquired
    assert (await store.idempotency.claim("globex", "same")).acquired


async def test_a_result_expires_after_the_window(store: Store) -> None:
    claim = await store.idempotency.claim("acme", "r1", now=T0)
    await store.idempotency.complete(claim, b"old")
    within = await store.idempotency.claim("acme", "r1", now=T0 + timedelta(minutes=59))
    assert within.outcome is ClaimOutcome.DONE
    assert await store.idempotency.get("acme", "r1", now=T0 + timedelta(minutes=61)) is None

    after = await store.idempotency.claim("acme", "r1", now=T0 + timedelta(minutes=61))
    assert after.acquired
    assert await store.idempotency.complete(after, b"new")
    final = await store.idempotency.claim("acme", "r1", now=T0 + timedelta(minutes=62))
    assert final.response == b"new"


async def test_an_abandoned_claim_is_taken_over_after_its_lease(store: Store) -> None:
    first = await store.idempotency.claim("acme", "r1", now=T0)
    blocked = await store.idempotency.claim("acme", "r1", now=T0 + timedelta(seconds=29))
    assert blocked.outcome is ClaimOutcome.IN_PROGRESS
    second = await store.idempotency.claim("acme", "r1", now=T0 + timedelta(seconds=31))
    assert second.acquired and second.token != first.token
    assert not await store.idempotency.complete(first, b"late")  # the first holder lost it
    assert await store.idempotency.complete(second, b"ok")


async def test_a_short_lease_can_follow_the_callers_deadline(store: Store) -> None:
    await store.idempotency.claim("acme", "r1", lease_s=2, now=T0)
    retry = await store.idempotency.claim("acme", "r1", now=T0 + timedelta(seconds=3))
    assert retry.acquired


async def test_release_lets_the_caller_retry(store: Store) -> None:
    claim = await store.idempotency.claim("acme", "r1")
    assert await store.idempotency.release(claim)
    assert await store.idempotency.get("acme", "r1") is None
    assert (await store.idempotency.claim("acme", "r1")).acquired
    assert not await store.idempotency.release(claim)  # no longer held


async def test_the_same_id_for_a_different_request_is_a_conflict(store: Store) -> None:
    claim = await store.idempotency.claim("acme", "r1", fingerprint="aaa")
    await store.idempotency.complete(claim, b"x")
    assert (await store.idempotency.claim("acme", "r1", fingerprint="bbb")).outcome is (
        ClaimOutcome.CONFLICT
    )
    assert (await store.idempotency.claim("acme", "r1", fingerprint="aaa")).outcome is (
        ClaimOutcome.DONE
    )


async def test_complete_needs_an_acquired_claim(store: Store) -> None:
    await store.idempotency.claim("acme", "r1")
    in_progress = await store.idempotency.claim("acme", "r1")
    with pytest.raises(ValueError):
        await store.idempotency.complete(in_progress, b"x")


async def test_purge_removes_expired_and_abandoned_records(store: Store) -> None:
    done = await store.idempotency.claim("acme", "done", now=T0)
    await store.idempotency.complete(done, b"x")
    await store.idempotency.claim("acme", "abandoned", now=T0)
    await store.idempotency.claim("acme", "live")
    assert await store.idempotency.purge_expired(now=T0 + timedelta(hours=2)) == 2
    assert await store.idempotency.get("acme", "live") is not None
