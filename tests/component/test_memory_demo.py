"""The demo's three-turn conversation over real gRPC, offline: the follow-ups are answered
from the conversation ("Can it go back to a different card instead?" is about refunds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.devtools.demo_conversation import demo_conversation
from switchboard.devtools.inprocess import InProcessAgentClient
from tests.harness import apps
from tests.harness.stack import small_store
from tests.harness.store import open_sqlite_store

DOCS = ("refund-policy.md", "payment-methods.md", "invoices-and-receipts.md")


async def test_the_demo_conversation_is_answered_in_context(
    tmp_path: Path,
    agent_configs: dict[str, AgentConfig],
    embedder: MiniLMEmbedder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = agent_configs["billing"]
    db = await open_sqlite_store(tmp_path)
    try:
        async with apps.agent(
            config,
            tmp_path,
            embedder=embedder,
            vector_store=small_store(config, embedder, tmp_path / "kb", DOCS),
            store=db,
        ) as agent:
            client = InProcessAgentClient({"billing": agent}, {"billing": config.card()})
            async with apps.supervisor(
                tmp_path,
                apps.entries([config.card()]),
                serve=True,
                embedder=embedder,
                agent_client=client,
                store=db,
            ) as sup:
                await demo_conversation(sup.address, None)
    finally:
        await db.close()
    out = capsys.readouterr().out
    assert "conversation: new (0 earlier turn(s))" in out
    assert "conversation: continued (2 earlier turn(s))" in out
    assert "we cannot refund to a different card" in out
    assert len(client.requests) == 3 and client.requests[2][1].conversation is not None
