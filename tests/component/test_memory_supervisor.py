"""Conversation memory in the supervisor: turns stored per tenant and session, the window
and handoff brief the agent gets, the state the caller is told, and a store that fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from switchboard.core.auth import Principal, PrincipalKind
from switchboard.core.conversation import ConversationStatus
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.errors import InvalidRequest, PermissionDenied
from switchboard.core.settings import MemorySettings
from switchboard.core.types import AgentCard
from switchboard.store import Store, StoreError
from switchboard.store._common import utcnow
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.routing.index import EmbeddingIndex
from tests.fakes.agents import FakeAgentClient
from tests.harness import apps
from tests.harness.store import open_sqlite_store

ACME = Principal(PrincipalKind.TENANT, "acme")
GLOBEX = Principal(PrincipalKind.TENANT, "globex")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_sqlite_store(tmp_path)
    yield s
    await s.close()


@pytest.fixture
async def app(
    tmp_path: Path,
    store: Store,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> AsyncIterator[tuple[SupervisorApp, FakeAgentClient]]:
    client = FakeAgentClient()
    settings = apps.supervisor_settings(tmp_path, memory=MemorySettings(recent_turns=2))
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        settings=settings,
        embedder=embedder,
        card_index=card_index,
        agent_client=client,
        store=store,
    ) as a:
        yield a, client


async def _ask(app: SupervisorApp, text: str, agent: str = "billing", **kw: Any) -> Any:
    kw.setdefault("principal", ACME)
    kw.setdefault("session_id", "s1")
    return await apps.ask(app, text, agent=agent, timeout=None, **kw)


async def _settled(app: SupervisorApp) -> None:
    """Turns are written after their answer: lets the pending writes land."""
    assert app.service._memory is not None
    await app.service._memory.flush()


async def test_turns_reach_the_next_agent_call_and_the_caller_is_told(
    app: tuple[SupervisorApp, FakeAgentClient], store: Store
) -> None:
    sup, client = app
    first = await _ask(sup, "How long does a refund take? We are on the annual Pro plan.")
    assert first.conversation is not None and first.conversation.status == ConversationStatus.NEW
    assert client.invocations[0][1].conversation is None
    second = await _ask(sup, "And what if it still isn't there after two weeks?")
    assert second.conversation is not None
    assert (second.conversation.status, second.conversation.turns) == ("continued", 1)
    window = client.invocations[1][1].conversation
    assert window is not None and window.turns_total == 1
    assert window.turns[0].user.startswith("How long does a refund take")
    assert window.turns[0].agent == "billing" and window.turns[0].sources == ["doc.md"]
    # Turn 4: the first turn left the two-turn window and lives on in the summary.
    await _ask(sup, "Can I get it back to my card?")
    await _ask(sup, "Thanks, and the invoice?")
    window = client.invocations[3][1].conversation
    assert window is not None and [t.user for t in window.turns] == [
        "And what if it still isn't there after two weeks?",
        "Can I get it back to my card?",
    ]
    assert "We are on the annual Pro plan." in window.summary
    assert "How long does a refund take?" in window.summary
    await _settled(sup)
    stored = await store.conversations.load("acme", "s1", recent=10)
    assert stored is not None and stored.turns == 4 and stored.summarized == 2
    assert stored.recent[0].status == "ANSWERED" and stored.recent[0].input_tokens == 10


async def test_a_move_to_another_agent_carries_a_brief_not_the_history(
    app: tuple[SupervisorApp, FakeAgentClient],
) -> None:
    sup, client = app
    await _ask(sup, "Our workspace is acme-eu. How do refunds work?")
    await _ask(sup, "How do I enforce 2FA for everyone?", agent="account")
    request = client.invocations[1][1]
    assert request.conversation is None
    brief = request.handoff
    assert brief is not None and brief.from_agent == "billing" and brief.turns == 1
    assert "Our workspace is acme-eu." in brief.facts
    assert brief.customer_wants.startswith("Our workspace is acme-eu")


async def test_sessions_are_per_tenant_and_per_user(
    app: tuple[SupervisorApp, FakeAgentClient],
) -> None:
    sup, client = app
    await _ask(sup, "How do refunds work?", metadata={"user_id": "alice"})
    other = await _ask(sup, "And the invoice?", principal=GLOBEX, metadata={"user_id": "alice"})
    assert other.conversation.status == ConversationStatus.NEW
    assert client.invocations[1][1].conversation is None
    with pytest.raises(PermissionDenied, match="another user_id"):
        await _ask(sup, "And the invoice?", metadata={"user_id": "mallory"})


async def test_bad_ids_are_refused_and_an_expired_session_starts_afresh(
    app: tuple[SupervisorApp, FakeAgentClient], store: Store
) -> None:
    sup, client = app
    with pytest.raises(InvalidRequest, match="session_id is longer than 128"):
        await _ask(sup, "hello", session_id="x" * 129)
    with pytest.raises(InvalidRequest, match="session_id must be printable"):
        await _ask(sup, "hello", session_id="bad\nid")
    await store.conversations.append(
        "acme",
        "old",
        "",
        _stored_turn(),
        summary="",
        summarized=0,
        ttl_s=1,
        max_turns=10,
        now=utcnow() - timedelta(hours=1),
    )
    fresh = await _ask(sup, "How do refunds work?", session_id="old")
    assert fresh.conversation.status == ConversationStatus.EXPIRED
    assert "fresh conversation" in fresh.conversation.note
    assert client.invocations[-1][1].conversation is None
    await _settled(sup)
    stored = await store.conversations.load("acme", "old", recent=5)
    assert stored is not None and stored.turns == 1
    assert [t.user_text for t in stored.recent] == ["How do refunds work?"]


async def test_a_failing_store_never_blocks_the_answer(
    app: tuple[SupervisorApp, FakeAgentClient], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup, _ = app
    memory = sup.service._memory
    assert memory is not None

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("database is locked")

    monkeypatch.setattr(store.conversations, "load", broken)
    monkeypatch.setattr(store.conversations, "append", broken)
    result = await _ask(sup, "How do refunds work?")
    assert result.answer == "billing answer to How do refunds work?"
    assert result.conversation.status == ConversationStatus.UNAVAILABLE
    assert memory.failures == 1  # the read; nothing written for an unknown conversation
    monkeypatch.undo()
    monkeypatch.setattr(store.conversations, "append", broken)
    again = await _ask(sup, "How do refunds work?", session_id="s2")
    await _settled(sup)
    assert again.conversation.status == ConversationStatus.NEW and memory.failures == 2


async def test_the_turn_is_written_after_the_answer_and_never_outlives_an_erasure(
    app: tuple[SupervisorApp, FakeAgentClient], store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer does not wait for its turn to be stored; the session's next turn and an
    erasure do (in this replica), so neither misses the turn nor is overtaken by it."""
    sup, client = app
    held = asyncio.Event()
    append = store.conversations.append

    async def slow_append(*args: Any, **kwargs: Any) -> Any:
        await held.wait()
        return await append(*args, **kwargs)

    monkeypatch.setattr(store.conversations, "append", slow_append)
    first = await _ask(sup, "How long does a refund take?")  # answered while the write waits
    assert first.conversation.status == ConversationStatus.NEW
    assert await store.conversations.load("acme", "s1", recent=5) is None

    async def release_soon() -> None:
        await asyncio.sleep(0.05)
        held.set()

    async with asyncio.TaskGroup() as group:
        group.create_task(release_soon())
        second = await _ask(sup, "And what if it still isn't there after two weeks?")
    assert (second.conversation.status, second.conversation.turns) == ("continued", 1)
    assert client.invocations[1][1].conversation is not None

    held.clear()
    await _ask(sup, "Can it go to another card?")  # its write is held again
    desk = sup.memory._desk
    async with asyncio.TaskGroup() as group:
        group.create_task(release_soon())
        erased = await desk.forget_session(ACME, "acme", "s1")
    assert erased.rows > 0
    await _settled(sup)
    assert await store.conversations.load("acme", "s1", recent=5) is None


def _stored_turn() -> Any:
    from switchboard.store import StoredTurn

    return StoredTurn(0, "an old question", "an old answer", "billing", [], "ANSWERED")


async def test_facts_a_user_stated_are_recalled_in_a_later_conversation_of_theirs_only(
    app: tuple[SupervisorApp, FakeAgentClient], store: Store
) -> None:
    sup, client = app
    alice = {"user_id": "alice"}
    await _ask(sup, "We're on the annual Business plan. How do refunds work?", metadata=alice)
    await _settled(sup)
    assert await store.user_memories.count_user("acme", "alice") == 1
    await _ask(sup, "Can I get my money back for our plan?", session_id="s2", metadata=alice)
    assert client.invocations[-1][1].memories == ["We're on the annual Business plan."]
    await _ask(sup, "Can I get my money back for our plan?", session_id="s3")  # no user
    assert client.invocations[-1][1].memories == []
    await _ask(
        sup, "Can I get my money back for our plan?", session_id="s4", metadata={"user_id": "bob"}
    )
    assert client.invocations[-1][1].memories == []
    await _ask(sup, "Can I get my money back for our plan?", principal=GLOBEX, metadata=alice)
    assert client.invocations[-1][1].memories == []  # another tenant's alice
