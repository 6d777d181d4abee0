"""Working memory in the durable store (``store/working_memory.py``), on SQLite and on a real
PostgreSQL (skipped when none answers): save per step, find by the awaited action, delete,
purge, erasure (with the Memory service's desk), and the v0009 migration up and down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from switchboard.core.auth import Principal, PrincipalKind
from switchboard.core.llm import Message, ToolCall, ToolResult
from switchboard.store import ScratchPad, Store, StoreSettings, current_revision, migrate
from switchboard.store.migrate import alembic_config
from switchboard.store.working_types import (
    AWAITING,
    RUNNING,
    Awaiting,
    Passage,
    StoredMessage,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from switchboard.supervisor.memory.erasure import MemoryDesk
from tests.fakes.audit import AuditRecorder
from tests.harness.store import open_sqlite_store, postgres_database, sqlite_url

LATER = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = await open_sqlite_store(tmp_path)
        yield s
        await s.close()
        return
    async with postgres_database() as url:
        settings = StoreSettings(database_url=url)
        s = await Store.open(settings, url=settings.url(Path("/nonexistent")))
        yield s
        await s.close()


def pad(
    request_id: str = "r1",
    *,
    tenant: str = "acme",
    session_id: str = "s1",
    user_id: str = "u1",
    action_id: str | None = "act-1",
) -> ScratchPad:
    """A loop that read invoices, then proposed a refund (awaiting ``action_id``)."""
    messages = [
        Message("user", "<question>refund my duplicate charge</question>"),
        Message("assistant", ("Let me look.", ToolCall("toolu_a", "list_invoices", {}))),
        Message("user", (ToolResult("toolu_a", '{"invoices": ["BL-2025-004218"]}'),)),
        Message(
            "assistant",
            (
                ToolCall("toolu_b", "request_refund", {"invoice_id": "BL-2025-004218"}),
                ToolCall("toolu_c", "get_invoice", {"invoice_id": "BL-2025-004218"}),
            ),
        ),
    ]
    awaiting = (
        None
        if action_id is None
        else Awaiting(
            action_id=action_id,
            tool_use_id="toolu_b",
            tool="request_refund",
            remaining=[
                ToolUseBlock(id="toolu_c", name="get_invoice", input={"invoice_id": "BL-1"})
            ],
            next_index=1,
        )
    )
    return ScratchPad(
        request_id=request_id,
        tenant=tenant,
        agent="billing",
        customer_id="cus_demo_acme",
        session_id=session_id,
        user_id=user_id,
        prompt_version="billing@v2",
        system="You answer billing questions.",
        max_tokens=1024,
        passages=[Passage(id="p1", text="Refunds take 5-10 days.", score=0.71, metadata={"n": 1})],
        messages=[StoredMessage.of(m) for m in messages],
        turns=2,
        step=2,
        usage=Usage(model="claude-sonnet-4-6", input_tokens=2100, output_tokens=60, calls=2),
        awaiting=awaiting,
    )


async def test_a_saved_step_is_found_by_the_action_it_awaits(store: Store) -> None:
    wm = store.working_memory
    await wm.save(pad(), expires_at=LATER)
    found = await wm.load("acme", "act-1")
    assert found is not None
    assert found.model_dump(exclude={"created_at", "updated_at", "expires_at"}) == (
        pad().model_dump(exclude={"created_at", "updated_at", "expires_at"})
    )
    assert found.state == AWAITING and found.expires_at is not None
    assert abs((found.expires_at - LATER).total_seconds()) < 1
    # The messages come back as the model saw them, tool calls and results included.
    assert [m.message() for m in found.messages][2].content == (
        ToolResult("toolu_a", '{"invoices": ["BL-2025-004218"]}'),
    )
    assert [(s.tool, s.result) for s in found.steps] == [
        ("list_invoices", '{"invoices": ["BL-2025-004218"]}'),
        ("request_refund", None),  # awaiting confirmation
        ("get_invoice", None),  # still to do
    ]
    assert await wm.load("other-tenant", "act-1") is None  # the tenant is part of the key
    assert await wm.load("acme", "act-2") is None


async def test_each_step_replaces_the_last_one_of_its_request(store: Store) -> None:
    wm = store.working_memory
    running = pad(action_id=None)
    await wm.save(running, expires_at=LATER)
    got = await wm.get("acme", "r1")
    assert got is not None and got.state == RUNNING and got.awaiting is None
    await wm.save(pad(), expires_at=LATER)  # the next step: a proposal
    assert (await wm.load("acme", "act-1")) is not None
    done = pad(action_id=None).model_copy(
        update={"turns": 3, "awaiting": None, "usage": Usage(input_tokens=1, calls=3)}
    )
    await wm.save(done, expires_at=LATER)  # resumed past the action
    assert await wm.load("acme", "act-1") is None
    got = await wm.get("acme", "r1")
    assert got is not None and got.turns == 3 and got.usage.calls == 3
    assert await wm.delete("acme", "r1") == 1
    assert await wm.get("acme", "r1") is None


async def test_expired_pads_are_not_resumed_and_db_purge_removes_them(store: Store) -> None:
    wm = store.working_memory
    past = datetime.now(UTC) - timedelta(seconds=1)
    await wm.save(pad("old", action_id="act-old"), expires_at=past)
    await wm.save(pad("live", action_id="act-live"), expires_at=LATER)
    assert await wm.load("acme", "act-old") is None
    assert (await store.purge())["working_memory"] == 1
    assert await wm.load("acme", "act-live") is not None


async def test_erasure_of_a_session_or_user_takes_their_scratch_pads(store: Store) -> None:
    wm = store.working_memory
    await wm.save(pad("r1", session_id="s1", user_id="u1", action_id="a1"), expires_at=LATER)
    await wm.save(pad("r2", session_id="s2", user_id="u1", action_id="a2"), expires_at=LATER)
    await wm.save(pad("r3", session_id="", user_id="u2", action_id="a3"), expires_at=LATER)
    await wm.save(pad("r4", session_id="", user_id="", action_id="a4"), expires_at=LATER)
    await wm.save(
        pad("r1", tenant="globex", session_id="s1", user_id="u1", action_id="g1"),
        expires_at=LATER,
    )
    desk = MemoryDesk(
        store.conversations,
        store.session_states,
        store.examples,
        AuditRecorder(),
        facts=store.user_memories,
        working=store.working_memory,
    )
    admin = Principal(PrincipalKind.ANONYMOUS, "anonymous")
    erased = await desk.forget_session(admin, "acme", "s1")
    assert erased.rows == 1
    assert await wm.load("acme", "a1") is None and await wm.load("acme", "a2") is not None
    await desk.forget_user(admin, "acme", "u1")
    assert await wm.load("acme", "a2") is None
    assert await wm.load("acme", "a3") is not None  # another user
    assert await wm.forget("acme", request_ids=["r4"]) == 1  # a request of no session
    assert await wm.load("globex", "g1") is not None  # another tenant's is never touched


async def _tables(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    def names(sync: Connection) -> tuple[set[str], set[str]]:
        insp = inspect(sync)
        tables = set(insp.get_table_names())
        if "working_memory" not in tables:
            return tables, set()
        return tables, {i["name"] or "" for i in insp.get_indexes("working_memory")}

    async with engine.connect() as conn:
        return await conn.run_sync(names)


async def test_migration_0009_up_down_and_up_again(store: Store) -> None:
    engine = store.engine
    tables, indexes = await _tables(engine)
    assert "working_memory" in tables
    assert indexes >= {
        "ix_working_memory_tenant_action_id",
        "ix_working_memory_tenant_session_id",
        "ix_working_memory_tenant_user_id",
        "ix_working_memory_expires_at",
    }

    def down(sync: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync
        command.downgrade(cfg, "0008")

    async with engine.begin() as conn:
        await conn.run_sync(down)
    assert await current_revision(engine) == "0008"
    tables, _ = await _tables(engine)
    assert "working_memory" not in tables and "prompt_versions" in tables
    await migrate(engine)
    assert await current_revision(engine) == "0009"
    await store.working_memory.save(pad(), expires_at=LATER)
    assert await store.working_memory.load("acme", "act-1") is not None


async def test_migration_0009_from_empty_on_sqlite(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await migrate(url)
    engine = create_async_engine(url)
    try:
        tables, _ = await _tables(engine)
    finally:
        await engine.dispose()
    assert "working_memory" in tables


def test_tool_result_blocks_keep_their_error_flag() -> None:
    stored = StoredMessage.of(Message("user", (ToolResult("t1", "no such invoice", True),)))
    assert stored.content == [
        ToolResultBlock(tool_use_id="t1", content="no such invoice", is_error=True)
    ]
    assert stored.message().to_api()["content"][0]["is_error"] is True
