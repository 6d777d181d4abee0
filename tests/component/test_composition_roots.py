"""The composition roots: a failure half-way through start-up closes what was opened."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.core.embeddings import DIMENSION, Matrix
from switchboard.core.types import AgentCard
from switchboard.store import Store
from tests.fakes.agents import FakeAgentClient
from tests.harness import apps
from tests.harness.store import open_sqlite_store


class BrokenEmbedder:
    """Fails on first use: the router cannot be fitted, so the supervisor cannot start."""

    model_id = "broken"
    dimension = DIMENSION

    def embed(self, texts: Sequence[str]) -> Matrix:
        raise RuntimeError("embedding model failed to load")


def _background_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_a_supervisor_that_fails_to_start_closes_what_it_opened(
    agent_cards: list[AgentCard], tmp_path: Path
) -> None:
    client = FakeAgentClient()
    before = _background_tasks()
    with pytest.raises(RuntimeError, match="embedding model failed"):
        async with apps.supervisor(
            tmp_path, apps.entries(agent_cards), embedder=BrokenEmbedder(), agent_client=client
        ):
            pytest.fail("the supervisor started with a broken embedder")
    assert client.closed  # the agent channels
    assert _background_tasks() <= before  # the audit writer's task is gone
    # The store was closed too: the SQLite file can be opened (and migrated) again at once.
    store: Store = await open_sqlite_store(tmp_path)
    await store.close()


async def test_an_agent_that_fails_to_start_closes_what_it_opened(
    agent_configs: dict[str, AgentConfig], tmp_path: Path
) -> None:
    def refuse(servicer: object) -> object:
        raise RuntimeError("the servicer wrapper failed")

    before = _background_tasks()
    vectors = InMemoryStore()
    vectors.upsert([], np.zeros((0, DIMENSION), np.float32))
    with pytest.raises(RuntimeError, match="wrapper failed"):
        async with apps.agent(
            agent_configs["billing"],
            tmp_path,
            embedder=BrokenEmbedder(),
            vector_store=vectors,
            wrap=refuse,
        ):
            pytest.fail("the agent started")
    assert _background_tasks() <= before  # the audit writer stopped
