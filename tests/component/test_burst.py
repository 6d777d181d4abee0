"""A burst of 300 concurrent Asks with request ids, on SQLite and on PostgreSQL.

Every request must be answered, or explicitly shed (RESOURCE_EXHAUSTED with retry-after);
none may be refused UNAVAILABLE because the request store could not keep up. Each answered
request ran exactly once and its result is stored (a repeat is replayed). Not timed: the
speed of a burst is measured by ``make bench``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from switchboard.core.context import RequestContext
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.settings import LimitSettings
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest
from switchboard.store import StoreSettings
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import common_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.agents import FakeAgentClient
from tests.harness import apps
from tests.harness.store import postgres_database

BURST = 300


class SlowAgents(FakeAgentClient):
    """Answers after a short pause, so the burst's requests overlap in flight."""

    pause_s: float = 0.005

    async def invoke(
        self, agent: str, request: AgentRequest, ctx: RequestContext, *, timeout: float
    ) -> AgentAnswer:
        await asyncio.sleep(self.pause_s)
        return await super().invoke(agent, request, ctx, timeout=timeout)


@contextlib.asynccontextmanager
async def served(
    tmp_path: Path,
    cards: list[AgentCard],
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    client: FakeAgentClient,
    *,
    store: StoreSettings,
    limits: LimitSettings | None = None,
) -> AsyncIterator[SupervisorApp]:
    settings = apps.supervisor_settings(tmp_path, store=store, limits=limits or LimitSettings())
    async with apps.supervisor(
        tmp_path,
        apps.entries(cards),
        settings=settings,
        serve=True,
        embedder=embedder,
        agent_client=client,
        card_index=card_index,
    ) as app:
        yield app


async def burst(address: str, cards: list[AgentCard], prefix: str) -> list[tuple[str, str, str]]:
    """(request id, status code, retry-after) of each of BURST concurrent Asks."""
    names = [c.name for c in cards]
    async with grpc.aio.insecure_channel(address) as channel:
        stub = supervisor_pb2_grpc.SupervisorStub(channel)

        async def one(i: int) -> tuple[str, str, str]:
            rid = f"{prefix}-{i}"
            request = supervisor_pb2.AskRequest(
                text=f"question {i} about my account", request_id=rid, agent=names[i % len(names)]
            )
            try:
                reply = await stub.Ask(request, timeout=60)
            except grpc.aio.AioRpcError as exc:
                retry = dict(exc.trailing_metadata() or ()).get("retry-after", "")
                return rid, exc.code().name, str(retry)
            assert reply.request_id == rid and reply.status == common_pb2.ANSWERED
            return rid, "OK", ""

        return await asyncio.gather(*(one(i) for i in range(BURST)))


async def check_exactly_once(
    app: SupervisorApp, client: FakeAgentClient, results: list[tuple[str, str, str]]
) -> None:
    answered = [rid for rid, code, _ in results if code == "OK"]
    assert len(client.invocations) == len(answered)  # each ran once; shed ones never ran
    for rid in answered[:: max(1, len(answered) // 10)]:
        stored = await app.store.idempotency.get("", rid)
        assert stored is not None and stored.state == "done", rid
    # a repeat of an answered id is replayed from the store, not run again
    async with grpc.aio.insecure_channel(app.address) as channel:
        stub = supervisor_pb2_grpc.SupervisorStub(channel)
        first = answered[0]
        i = int(first.rsplit("-", 1)[1])
        agent = next(a for a, r, c, _ in client.invocations if c.request_id == first)
        reply = await stub.Ask(
            supervisor_pb2.AskRequest(
                text=f"question {i} about my account", request_id=first, agent=agent
            ),
            timeout=30,
        )
        assert reply.request_id == first
    assert len(client.invocations) == len(answered)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_300_burst_with_request_ids_is_answered_without_refusals(
    backend: str,
    tmp_path: Path,
    agent_cards: list[AgentCard],
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if backend == "postgresql":
            url = await stack.enter_async_context(postgres_database())
            store = StoreSettings(database_url=url)
        else:
            store = StoreSettings(database_url=None)
        client = SlowAgents(cards={c.name: c for c in agent_cards})
        app = await stack.enter_async_context(
            served(tmp_path, agent_cards, embedder, card_index, client, store=store)
        )
        results = await burst(app.address, agent_cards, f"burst-{uuid.uuid4().hex[:6]}")
        codes = Counter(code for _, code, _ in results)
        assert codes == {"OK": BURST}, codes  # default limits: nothing refused, nothing shed
        await check_exactly_once(app, client, results)


async def test_beyond_capacity_calls_are_shed_explicitly_never_unavailable(
    tmp_path: Path,
    agent_cards: list[AgentCard],
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
) -> None:
    client = SlowAgents(cards={c.name: c for c in agent_cards})
    client.pause_s = 0.05
    limits = LimitSettings(max_in_flight=4, max_queue=8, shed_retry_after_s=2.0)
    async with served(
        tmp_path,
        agent_cards,
        embedder,
        card_index,
        client,
        store=StoreSettings(database_url=None),
        limits=limits,
    ) as app:
        results = await burst(app.address, agent_cards, f"shed-{uuid.uuid4().hex[:6]}")
        codes = Counter(code for _, code, _ in results)
        assert set(codes) == {"OK", "RESOURCE_EXHAUSTED"}, codes
        assert codes["OK"] >= 4 + 8  # the slots and the queue were served
        assert all(retry == "2.000" for _, code, retry in results if code != "OK")
        await check_exactly_once(app, client, results)
