"""Agents answer with their label's prompt version: read at request time through a TTL cache,
moved on every replica within the TTL without a restart, split by canary per session, kept
when the registry is down; the version is on the answer, the span and the AskResponse."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from switchboard.agent.app import AgentApp
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.settings import PromptsSettings
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.llm import Completion, Message, TokenUsage, ToolSpec
from switchboard.core.settings import LLMSettings
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest
from switchboard.store import Store, StoreError
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.audit import AuditRecorder
from tests.fakes.clock import FakeClock
from tests.harness import apps
from tests.harness.apps import agent_context
from tests.harness.stack import Credentials, cached_guard, served_agent, served_supervisor
from tests.harness.stack import small_store as build_small_store
from tests.harness.store import open_sqlite_store

TTL_S = 10.0
DOCS = ("refund-policy.md", "invoices-and-receipts.md")
QUESTION = "How long do I have to get a refund on an annual plan?"


@dataclass
class EchoLLM:
    """Answers citing [1]; records the system prompt and output cap of every call."""

    model: str = "claude-sonnet-4-6"
    systems: list[str] = field(default_factory=list)
    max_tokens: list[int] = field(default_factory=list)

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[Message],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        force_tool: str | None = None,
        timeout: float | None = None,
    ) -> Completion:
        self.systems.append(system)
        self.max_tokens.append(max_tokens)
        return Completion("Refunds are possible within 30 days [1].", self.model, "end_turn",
                          TokenUsage(100, 10))  # fmt: skip


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_sqlite_store(tmp_path)
    yield store
    await store.close()


@pytest.fixture(scope="module")
def vectors(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path_factory: Any
) -> InMemoryStore:
    return build_small_store(
        agent_configs["billing"], embedder, tmp_path_factory.mktemp("kb"), DOCS
    )


@contextlib.asynccontextmanager
async def replica(
    config: AgentConfig,
    workdir: Path,
    db: Store,
    vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    clock: FakeClock,
    llm: EchoLLM,
    **prompts: Any,
) -> AsyncIterator[AgentApp]:
    """One agent replica; every replica shares ``db`` (the registry) and nothing else."""
    settings = apps.agent_settings(
        workdir,
        llm=LLMSettings(anthropic_api_key=None),
        prompts=PromptsSettings(cache_ttl_s=TTL_S, **prompts),
    )
    async with apps.agent(
        config,
        workdir,
        settings=settings,
        embedder=embedder,
        vector_store=vectors,
        llm=llm,
        store=db,
        audit=AuditRecorder(),
        prompt_clock=clock,
    ) as app:
        yield app


async def ask(app: AgentApp, session: str = "s1") -> AgentAnswer:
    ctx = agent_context(request_id=f"r-{session}", session_id=session)
    return await app.runtime.answer(ctx, AgentRequest(text=QUESTION))


async def test_replicas_follow_a_label_move_within_the_ttl_without_restart(
    agent_configs: dict[str, AgentConfig],
    db: Store,
    vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    billing, clock, llm = agent_configs["billing"], FakeClock(), EchoLLM()
    async with (
        replica(billing, tmp_path / "a", db, vectors, embedder, clock, llm) as a,
        replica(billing, tmp_path / "b", db, vectors, embedder, clock, llm) as b,
    ):
        # Start-up seeded v1 from prompt.md and labelled it production (once, not twice).
        assert [v.number for v in await db.prompts.versions("billing")] == [1]
        assert [(await ask(r)).prompt_version for r in (a, b)] == ["billing@v1"] * 2
        assert billing.system_prompt_text().strip() in llm.systems[-1]

        v2, _ = await db.prompts.create(
            agent="billing",
            system_prompt="You are Brightlane's billing desk. VERSION-TWO.",
            rules=(await db.prompts.get("billing", 1)).rules,
            model="claude-sonnet-4-6",
            params={"max_tokens": 333},
            author="alice",
            note="shorter",
        )
        await db.prompts.move("billing", "production", to=v2.number, expect_revision=1, actor="a")
        clock.advance(TTL_S / 2)  # within the TTL: replicas still use what they read
        assert (await ask(a)).prompt_version == "billing@v1"
        clock.advance(TTL_S / 2 + 0.1)  # past it: every replica has the move
        for r in (a, b):
            answer = await ask(r)
            assert answer.prompt_version == "billing@v2"
            assert "VERSION-TWO" in llm.systems[-1] and llm.max_tokens[-1] == 333

        # Rollback reaches every replica within the TTL too.
        await db.prompts.move(
            "billing", "production", to=1, expect_revision=2, actor="a", action="rollback"
        )
        clock.advance(TTL_S + 0.1)
        assert [(await ask(r)).prompt_version for r in (a, b)] == ["billing@v1"] * 2


async def test_a_canary_splits_sessions_and_each_session_keeps_its_version(
    agent_configs: dict[str, AgentConfig],
    db: Store,
    vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    billing, clock, llm = agent_configs["billing"], FakeClock(), EchoLLM()
    async with (
        replica(billing, tmp_path / "a", db, vectors, embedder, clock, llm) as a,
        replica(billing, tmp_path / "b", db, vectors, embedder, clock, llm) as b,
    ):
        v1 = await db.prompts.get("billing", 1)
        await db.prompts.create(
            agent="billing", system_prompt="Canary prompt.", rules=v1.rules,
            model=v1.model, params=v1.params, author="alice", note="canary",
        )  # fmt: skip
        await db.prompts.move(
            "billing", "production", to=1, expect_revision=1, actor="a", canary=2, canary_percent=50
        )
        clock.advance(TTL_S + 0.1)
        sessions = [f"conversation-{i}" for i in range(40)]
        first = {s: (await ask(a, s)).prompt_version for s in sessions}
        again = {s: (await ask(b, s)).prompt_version for s in sessions}  # the other replica
        assert first == again  # sticky per session, whichever replica answers
        counts = {v: list(first.values()).count(v) for v in set(first.values())}
        assert set(counts) == {"billing@v1", "billing@v2"}
        assert 10 <= counts["billing@v2"] <= 30, counts


async def test_registry_down_keeps_answering_with_the_cached_version(
    agent_configs: dict[str, AgentConfig],
    db: Store,
    vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    billing, clock, llm = agent_configs["billing"], FakeClock(), EchoLLM()
    async with replica(billing, tmp_path / "a", db, vectors, embedder, clock, llm) as a:
        assert (await ask(a)).prompt_version == "billing@v1"

        async def down(*_: Any, **__: Any) -> None:
            raise StoreError("connection refused")

        async def hangs(*_: Any, **__: Any) -> None:
            await asyncio.sleep(60)

        for broken in (down, hangs):
            monkeypatch.setattr(db.prompts, "resolve", broken)
            clock.advance(TTL_S + 0.1)
            answer = await ask(a)
            assert answer.prompt_version == "billing@v1" and answer.text
        assert a.runtime.prompts is not None and a.runtime.prompts.fallbacks == 2
        assert "prompt registry unreadable" in caplog.text

        # Unreachable from the very start: the agent answers with its prompt.md.
        monkeypatch.setattr(db.prompts, "seed", down)
        async with replica(billing, tmp_path / "b", db, vectors, embedder, clock, llm) as b:
            answer = await ask(b)
            assert answer.prompt_version.startswith("billing@file:") and answer.text


async def test_a_pinned_version_ignores_the_label(
    agent_configs: dict[str, AgentConfig],
    db: Store,
    vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    billing, clock, llm = agent_configs["billing"], FakeClock(), EchoLLM()
    async with replica(billing, tmp_path / "a", db, vectors, embedder, clock, llm):
        v1 = await db.prompts.get("billing", 1)
        await db.prompts.create(
            agent="billing", system_prompt="Pinned.", rules=v1.rules,
            model=v1.model, params=v1.params, author="a", note="",
        )  # fmt: skip
    async with replica(billing, tmp_path / "b", db, vectors, embedder, clock, llm, pin=2) as b:
        assert (await ask(b)).prompt_version == "billing@v2"
        assert "Pinned." in llm.systems[-1]


async def test_ask_response_and_audit_carry_the_prompt_version(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
    db: Store,
) -> None:
    from switchboard.agent.tools import DemoBackend
    from switchboard.core.audit import AuditKind

    creds = Credentials()
    billing = agent_configs["billing"]
    guard = cached_guard(embedder)
    async with (
        served_agent(
            billing, build_small_store(billing, embedder, tmp_path, DOCS),
            workdir=tmp_path / "billing", embedder=embedder, guard=guard,
            backend=DemoBackend.load(), db=db, creds=creds,
        ) as agent,
        served_supervisor(
            agent_cards, {"billing": agent.address}, workdir=tmp_path / "sup",
            embedder=embedder, index=card_index, guard=guard, db=db, creds=creds,
        ) as supervisor,
        grpc.aio.insecure_channel(supervisor.address) as channel,
    ):  # fmt: skip
        reply = await supervisor_pb2_grpc.SupervisorStub(channel).Ask(
            supervisor_pb2.AskRequest(text=QUESTION, agent="billing", request_id="pv-1"),
            metadata=[("authorization", f"Bearer {creds.token}")],
            timeout=30,
        )
        assert reply.prompt_version == "billing@v1"
        # The caller's feedback on it is joined to the version (the request id makes the
        # result kept for replay), so feedback can be compared per version.
        stub = supervisor_pb2_grpc.SupervisorStub(channel)
        auth = [("authorization", f"Bearer {creds.token}")]
        await stub.Feedback(
            supervisor_pb2.FeedbackRequest(request_id="pv-1", thumb=supervisor_pb2.THUMB_UP),
            metadata=auth,
            timeout=30,
        )
        # Without a request id nothing is kept for replay: the audit rows give the version.
        unkept = await stub.Ask(
            supervisor_pb2.AskRequest(text=QUESTION, agent="billing"), metadata=auth, timeout=30
        )
        for _ in range(50):  # until the audit writer's batch reaches the store
            if await db.audit.query(request_id=unkept.request_id, limit=5):
                break
            await asyncio.sleep(0.1)
        await stub.Feedback(
            supervisor_pb2.FeedbackRequest(request_id=unkept.request_id, score=2),
            metadata=auth,
            timeout=30,
        )
    for request_id in ("pv-1", unkept.request_id):
        rating = await db.feedback.get(creds.tenant, request_id)
        assert rating is not None and rating.prompt_version == "billing@v1"
    by_version = await db.prompts.feedback("billing")
    assert by_version["billing@v1"].count == 2 and by_version["billing@v1"].rate == 0.5
    rows = await db.audit.query(request_id="pv-1", limit=20)
    calls = [r for r in rows if r.kind is AuditKind.AGENT_CALL]
    assert calls and calls[0].detail["prompt_version"] == "billing@v1"
