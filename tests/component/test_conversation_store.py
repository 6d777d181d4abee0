"""Conversation turns in the durable store, on SQLite and PostgreSQL (skipped when absent,
a failure under CI=true): per tenant and session, capped, expired, erased."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from switchboard.store import Store, StoredTurn
from switchboard.store._common import utcnow
from tests.harness.store import open_sqlite_store, postgres_database, sqlite_settings


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            s = await open_sqlite_store(tmp_path)
        else:
            url = await stack.enter_async_context(postgres_database())
            s = await Store.open(sqlite_settings(tmp_path), url=url)
        try:
            yield s
        finally:
            await s.close()


def _turn(i: int, agent: str = "billing") -> StoredTurn:
    return StoredTurn(
        seq=0,
        user_text=f"question {i}",
        answer=f"answer {i}",
        agent=agent,
        sources=[f"doc-{i}"],
        status="ANSWERED",
        request_id=f"r{i}",
        input_tokens=10,
        output_tokens=5,
    )


async def _append(store: Store, tenant: str, session: str, i: int, **kw: object) -> int:
    return await store.conversations.append(
        tenant,
        session,
        str(kw.get("user", "u1")),
        _turn(i),
        summary=str(kw.get("summary", "")),
        summarized=int(kw.get("summarized", 0)),  # type: ignore[call-overload]
        ttl_s=float(kw.get("ttl", 600)),  # type: ignore[arg-type]
        max_turns=int(kw.get("cap", 50)),  # type: ignore[call-overload]
        now=kw.get("now"),  # type: ignore[arg-type]
    )


async def test_turns_are_numbered_and_the_recent_ones_read_back_in_order(store: Store) -> None:
    for i in range(1, 6):
        assert await _append(store, "acme", "s1", i, summary=f"sum{i}") == i
    got = await store.conversations.load("acme", "s1", recent=3)
    assert got is not None and got.live
    assert got.turns == 5 and got.summary == "sum5"
    assert [t.user_text for t in got.recent] == ["question 3", "question 4", "question 5"]
    assert got.recent[-1].sources == ["doc-5"] and got.recent[-1].agent == "billing"


async def test_another_tenant_never_sees_the_session(store: Store) -> None:
    await _append(store, "acme", "s1", 1)
    assert await store.conversations.load("globex", "s1", recent=3) is None
    assert await _append(store, "globex", "s1", 1) == 1  # its own conversation, numbered anew
    acme = await store.conversations.load("acme", "s1", recent=3)
    assert acme is not None and acme.turns == 1


async def test_the_cap_keeps_the_last_turns_only(store: Store) -> None:
    for i in range(1, 9):
        await _append(store, "acme", "s1", i, cap=3)
    listed = await store.conversations.list_user("acme", "u1", recent=100)
    assert [t.seq for t in listed[0].recent] == [6, 7, 8]
    assert listed[0].turns == 8


async def test_an_expired_conversation_starts_afresh(store: Store) -> None:
    past = utcnow() - timedelta(hours=2)
    await _append(store, "acme", "s1", 1, ttl=60, now=past, summary="old")
    got = await store.conversations.load("acme", "s1", recent=3)
    assert got is not None and not got.live and got.turns == 0 and got.recent == []
    assert got.summary == ""
    assert await _append(store, "acme", "s1", 2, summary="new") == 1
    got = await store.conversations.load("acme", "s1", recent=3)
    assert got is not None and got.live and [t.user_text for t in got.recent] == ["question 2"]
    assert got.summary == "new"


async def test_forget_user_erases_every_session_of_that_user_only(store: Store) -> None:
    await _append(store, "acme", "s1", 1, user="alice")
    await _append(store, "acme", "s2", 2, user="alice")
    await _append(store, "acme", "s3", 3, user="bob")
    await _append(store, "globex", "s4", 4, user="alice")
    assert await store.conversations.count_user("acme", "alice") == 4
    assert await store.conversations.forget_user("acme", "alice") == 4
    assert await store.conversations.count_user("acme", "alice") == 0
    assert await store.conversations.load("acme", "s1", recent=3) is None
    assert await store.conversations.load("acme", "s3", recent=3) is not None
    assert await store.conversations.count_user("globex", "alice") == 2


async def test_forget_session_and_purge(store: Store) -> None:
    await _append(store, "acme", "s1", 1)
    assert await store.conversations.forget_session("acme", "s1") == 2
    assert await store.conversations.load("acme", "s1", recent=3) is None
    await _append(store, "acme", "old", 1, ttl=1, now=utcnow() - timedelta(minutes=5))
    purged = await store.purge()
    assert purged["conversations"] == 2


async def test_user_facts_are_per_tenant_and_user_expire_and_are_forgotten(store: Store) -> None:
    facts = store.user_memories
    fact = [("We're on the annual Pro plan.", b"\x00\x00\x80?")]
    await facts.remember("acme", "alice", fact, session_id="s1", request_id="r1", ttl_s=600)
    await facts.remember("acme", "alice", fact, session_id="s2", request_id="r2", ttl_s=600)
    [got] = await facts.recall("acme", "alice")  # stated twice: one fact, the later source
    assert (got.fact, got.source_session, got.source_request) == (fact[0][0], "s2", "r2")
    assert await facts.recall("globex", "alice") == []
    assert await facts.recall("acme", "bob") == []
    old = utcnow() - timedelta(hours=1)
    await facts.remember("acme", "carol", fact, session_id="s", request_id="r", ttl_s=60, now=old)
    assert await facts.recall("acme", "carol") == []
    assert (await store.purge())["user_memories"] == 1
    assert await facts.forget_session("acme", "s2") == 1
    await facts.remember("acme", "alice", fact, session_id="s3", request_id="r3", ttl_s=600)
    assert await facts.forget_user("acme", "alice") == 1
    assert await facts.count_user("acme", "alice") == 0
