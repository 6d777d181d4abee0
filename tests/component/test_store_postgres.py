"""The durable store against a real PostgreSQL (127.0.0.1:5432 here and in CI).

Each test gets a database of its own, created from empty and dropped afterwards. Set
``SWITCHBOARD_TEST_POSTGRES_URL`` to use another server; the tests are skipped, with a
message, when none answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import JsonValue
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from switchboard.cli.main import main
from switchboard.store import (
    AuditEvent,
    AuditKind,
    ClaimOutcome,
    Store,
    StoreSettings,
    current_revision,
    head_revision,
    migrate,
    normalise_url,
)
from switchboard.store.migrate import alembic_config
from switchboard.store.models import Base
from tests.harness.store import postgres_database

pytestmark = pytest.mark.integration

#: A configured DATABASE_URL wins over the data dir (nothing is written there).
NO_DATA_DIR = Path("/nonexistent")
TABLES = {
    "review_items",
    "feedback",
    "knowledge_gaps",
    "audit_events",
    "request_results",
    "tool_effects",
    "session_state",
    "example_candidates",
    "conversations",
    "conversation_turns",
    "user_memories",
    "working_memory",
}


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    async with postgres_database() as url:
        yield url


async def open_store(pg_url: str, **values: Any) -> Store:
    """A replica's store: its own engine on the database ``pg_url`` names."""
    settings = StoreSettings(database_url=pg_url, **values)
    return await Store.open(settings, url=settings.url(NO_DATA_DIR))


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[Store]:
    s = await open_store(pg_url, idempotency_window_s=3600)
    yield s
    await s.close()


async def test_migrations_upgrade_from_empty_and_match_the_models(pg_url: str) -> None:
    assert await current_revision(pg_url) is None
    # Two replicas starting together: the advisory lock serialises them.
    await asyncio.gather(migrate(pg_url), migrate(pg_url))
    assert await current_revision(pg_url) == head_revision()

    engine = create_async_engine(normalise_url(pg_url))

    def check(sync: Connection) -> tuple[set[str], list[object], set[str]]:
        insp = inspect(sync)
        ctx = MigrationContext.configure(sync, opts={"compare_type": True})
        indexes = {i["name"] or "" for i in insp.get_indexes("audit_events")}
        return set(insp.get_table_names()), list(compare_metadata(ctx, Base.metadata)), indexes

    async with engine.connect() as conn:
        tables, diff, indexes = await conn.run_sync(check)
    assert tables >= TABLES
    assert diff == []
    assert {"ix_audit_events_tenant_time", "ix_audit_events_kind_time"} <= indexes

    def down(sync: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync
        command.downgrade(cfg, "base")

    async with engine.begin() as conn:
        await conn.run_sync(down)
    async with engine.connect() as conn:
        assert not (await conn.run_sync(lambda s: set(inspect(s).get_table_names()))) & TABLES
    await engine.dispose()
    await migrate(pg_url)
    assert await current_revision(pg_url) == head_revision()


async def test_audit_rows_are_written_and_read_back(store: Store) -> None:
    t0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
    events = [
        AuditEvent(
            kind=AuditKind.ROUTE_DECISION,
            request_id="req-1",
            trace_id="ab" * 16,
            tenant="acme",
            agent="billing",
            outcome="routed",
            detail={"confidence": 0.93, "candidates": ["billing"], "nested": {"a": [1, 2]}},
            time=t0,
        ),
        AuditEvent(kind=AuditKind.AGENT_CALL, request_id="req-1", tenant="acme", time=t0),
        AuditEvent(kind=AuditKind.AUTH_FAILURE, tenant="evil", time=t0 + timedelta(hours=1)),
        AuditEvent(kind=AuditKind.ESCALATION, request_id="req-2", time=t0 + timedelta(hours=2)),
    ]
    await store.audit.record_many(events)
    got = await store.audit.query(request_id="req-1", newest_first=False)
    assert [g.model_dump(exclude={"id"}) for g in got] == [e.model_dump() for e in events[:2]]
    assert got[0].time == t0 and got[0].time.tzinfo is not None
    assert [e.kind for e in await store.audit.query(since=t0 + timedelta(minutes=30))] == [
        AuditKind.ESCALATION,
        AuditKind.AUTH_FAILURE,
    ]
    assert len(await store.audit.query(tenant="evil", kind=AuditKind.AUTH_FAILURE)) == 1


async def test_concurrent_claims_have_exactly_one_winner(pg_url: str) -> None:
    """Two replicas (two engines, separate pools) race on the same ids."""
    a, b = await open_store(pg_url), await open_store(pg_url)
    try:
        for rid in ("r1", "r2", "r3"):
            claims = await asyncio.gather(
                *(s.idempotency.claim("acme", rid) for s in (a, b) for _ in range(8))
            )
            assert [c.outcome for c in claims].count(ClaimOutcome.ACQUIRED) == 1
        winner = await a.idempotency.claim("acme", "r4")
        assert await a.idempotency.complete(winner, b"\x00\x01stored", status="ANSWERED")
        replay = await b.idempotency.claim("acme", "r4")
        assert replay.outcome is ClaimOutcome.DONE and replay.response == b"\x00\x01stored"
    finally:
        await a.close()
        await b.close()


async def test_expiry_and_lease_takeover(store: Store) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    claim = await store.idempotency.claim("acme", "r1", now=t0)
    await store.idempotency.complete(claim, b"old")
    assert (
        await store.idempotency.claim("acme", "r1", now=t0 + timedelta(minutes=59))
    ).outcome is (ClaimOutcome.DONE)
    assert (await store.idempotency.claim("acme", "r1", now=t0 + timedelta(hours=2))).acquired

    stuck = await store.idempotency.claim("acme", "r2", lease_s=5, now=t0)
    taken = await store.idempotency.claim("acme", "r2", now=t0 + timedelta(seconds=6))
    assert taken.acquired
    assert not await store.idempotency.complete(stuck, b"late")


async def test_tool_effects_run_once_across_replicas(pg_url: str) -> None:
    a, b = await open_store(pg_url), await open_store(pg_url)
    calls = 0

    async def refund() -> JsonValue:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"refund_id": "rf-1"}

    try:
        results = await asyncio.gather(
            *(
                s.effects.run_once("req-9", 0, "refund", {"invoice": "in_1"}, refund)
                for s in (a, b)
                for _ in range(5)
            ),
            return_exceptions=True,
        )
        assert calls == 1
        assert await b.effects.get("req-9", 0) == {"refund_id": "rf-1"}
        later = await b.effects.run_once("req-9", 0, "refund", {"invoice": "in_1"}, refund)
        assert later.replayed and calls == 1
        assert sum(1 for r in results if not isinstance(r, BaseException) and not r.replayed) == 1
    finally:
        await a.close()
        await b.close()


async def test_cli_reads_the_audit_log(
    store: Store, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await store.audit.record(
        AuditEvent(kind=AuditKind.REFUSAL, request_id="cli-1", tenant="acme", outcome="blocked")
    )
    argv = ["audit", "--database-url", pg_url, "--request-id", "cli-1", "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["kind"] == "refusal" and row["outcome"] == "blocked"
    assert await asyncio.to_thread(main, ["db", "current", "--database-url", pg_url]) == 0
    assert "up to date" in capsys.readouterr().out


async def test_session_state_is_shared_by_replicas(pg_url: str) -> None:
    """Two replicas (two engines) write the same session at once: one row, every turn counted."""
    a, b = await open_store(pg_url), await open_store(pg_url)
    try:
        vector = bytes(range(256)) * 6
        await asyncio.gather(
            *(
                s.session_states.save("acme", "conv", agent, vector, ttl_s=600)
                for s, agent in ((a, "billing"), (b, "support")) * 5
            )
        )
        state = await b.session_states.get("acme", "conv")
        assert state is not None and state.turns == 10 and state.last_vector == vector
        assert state.agent in {"billing", "support"}
        assert await a.session_states.get("other", "conv") is None
        t0 = datetime.now(UTC)
        assert await a.session_states.purge_expired(now=t0 + timedelta(seconds=601)) == 1
    finally:
        await a.close()
        await b.close()


async def test_example_candidates_on_postgres(store: Store) -> None:
    from switchboard.core.errors import Conflict
    from switchboard.store import CandidateSource, CandidateStatus

    ex = store.examples
    assert await ex.propose("r1", "why two charges?", agent="billing",
                            source=CandidateSource.LLM, outcome="llm")  # fmt: skip
    assert not await ex.propose("r1", "again", outcome="clarify")
    assert await ex.propose("r2", "is it two-way?", outcome="clarify", tenant="acme")
    confirmed = await ex.confirm("r2", "support")
    assert (confirmed.status, confirmed.source) == (CandidateStatus.PENDING, CandidateSource.PERSON)
    ids = [c.id for c in await ex.query(status=CandidateStatus.PENDING)]
    assert len(ids) == 2
    await ex.review(ids[:1], accept=True)
    await ex.review(ids[1:], accept=False)
    assert await ex.mark_applied(ids) == 1  # only the accepted one
    with pytest.raises(Conflict):
        await ex.review(ids[:1], accept=False)  # applied: too late to reject
    later = datetime.now(UTC) + timedelta(days=31)
    assert await ex.purge(older_than_s=30 * 86400, now=later) == 2


async def test_two_replicas_never_both_claim_or_resolve_a_review_item(pg_url: str) -> None:
    from switchboard.store import ItemKind, ItemState, NewItem

    one, two = await open_store(pg_url), await open_store(pg_url)
    try:
        item = await one.review.add(
            NewItem(
                tenant="acme",
                request_id="r1",
                kind=ItemKind.ESCALATION,
                reason="no_knowledge",
                question="q",
                draft={"request_id": "r1", "outcome": "ESCALATED", "answer": "a"},
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
        assert item is not None
        again = NewItem(
            tenant="acme",
            request_id="r1",
            kind=ItemKind.ESCALATION,
            reason="x",
            question="q",
            draft={},
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        assert await two.review.add(again) is None  # one item per request
        claims = await asyncio.gather(
            one.review.claim(item.id, "acme/rita", lease_s=60),
            two.review.claim(item.id, "acme/gus", lease_s=60),
        )
        assert sum(c is not None for c in claims) == 1
        holder = next(c for c in claims if c is not None).claimed_by
        assert holder is not None
        finishes = await asyncio.gather(
            *(
                store.review.finish(
                    item.id, who, state=ItemState.RESOLVED, resolution={"a": who}, result={}
                )
                for store, who in ((one, holder), (two, holder))
            )
        )
        assert sum(f is not None for f in finishes) == 1
        done = await two.review.get(item.id)
        assert done is not None and done.state is ItemState.RESOLVED
    finally:
        await one.close()
        await two.close()
