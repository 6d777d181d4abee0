"""The supervisor's request pipeline over a fake agent client: routing, dispatch, usage,
deadlines, caller mistakes and cards. Built by its composition root (``build_supervisor``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from switchboard.core import errors
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.settings import LimitSettings
from switchboard.core.types import AgentCard, Outcome
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import ROUTING_TOOL, Method
from tests.fakes.agents import FakeAgentClient
from tests.fakes.llm import ScriptedLLM
from tests.harness import apps

INVOICES = "Where can I download my invoices?"


@contextlib.asynccontextmanager
async def supervisor(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agents: Sequence[AgentEntry],
    client: FakeAgentClient,
    *,
    card_index: EmbeddingIndex | None = None,
    llm: ScriptedLLM | None = None,
    **values: Any,
) -> AsyncIterator[SupervisorApp]:
    """A supervisor over ``client``; ``values`` are SupervisorSettings values."""
    values.setdefault("limits", LimitSettings(max_text_chars=200))
    values.setdefault("describe_timeout_s", 1.0)
    async with apps.supervisor(
        tmp_path,
        agents,
        settings=apps.supervisor_settings(tmp_path, **values),
        embedder=embedder,
        card_index=card_index,  # the cards' embeddings, built once per session
        router_llm=llm,
        agent_client=client,
    ) as app:
        yield app


@pytest.fixture
def entries(agent_cards: list[AgentCard]) -> list[AgentEntry]:
    return apps.entries(agent_cards)


async def test_ask_routes_dispatches_and_sums_usage(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(tmp_path, embedder, entries, client, card_index=card_index) as app:
        result = await apps.ask(app, INVOICES, timeout=5.0)
    assert result.agent == "billing" and result.outcome == Outcome.ANSWERED
    assert re.fullmatch(r"[0-9a-f]{32}", result.request_id)
    assert result.usage.input_tokens == 10 and result.usage.output_tokens == 5
    agent, request, ctx, timeout = client.invocations[0]
    assert agent == "billing" and ctx.request_id == result.request_id
    # the routing embedding travels with the request; the deadline shrinks by the margin
    assert request.query_embedding is not None and len(request.query_embedding) == 384
    assert 4.0 < timeout <= 4.95
    assert client.describes == []  # inline cards need no Describe


async def test_request_id_is_echoed_and_validated(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(tmp_path, embedder, entries, client, card_index=card_index) as app:
        result = await apps.ask(app, "refund please", request_id="req-42", timeout=None)
        assert result.request_id == "req-42"
        with pytest.raises(errors.InvalidRequest, match="128"):
            await apps.ask(app, "refund", request_id="x" * 129, timeout=None)


async def test_caller_mistakes_are_invalid_or_not_found(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(tmp_path, embedder, entries, client, card_index=card_index) as app:
        with pytest.raises(errors.InvalidRequest, match="empty"):
            await apps.ask(app, " \n ", timeout=None)
        with pytest.raises(errors.InvalidRequest, match="limit is 200"):
            await apps.ask(app, "a" * 201, timeout=None)
        with pytest.raises(errors.NotFound, match="known agents: account, billing, support"):
            await apps.ask(app, "hi", agent="marketing", timeout=None)
    assert client.invocations == []


async def test_explicit_agent_skips_routing(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(tmp_path, embedder, entries, client, card_index=card_index) as app:
        result = await apps.ask(app, "What's up?", agent="support", timeout=None)
    assert result.agent == "support" and result.route.method == Method.EXPLICIT
    # no caller deadline: the configured default (less the few microseconds already spent)
    assert client.invocations[0][3] == pytest.approx(20.0, abs=0.5)
    assert client.invocations[0][3] <= 20.0


async def test_unsure_and_out_of_scope_do_not_call_agents(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(tmp_path, embedder, entries, client, card_index=card_index) as app:
        unsure = await apps.ask(app, "How much does SSO cost?", timeout=None)
        oos = await apps.ask(app, "Recommend a good pizza place in Rome", timeout=None)
    assert unsure.outcome == Outcome.NEEDS_CLARIFICATION and unsure.agent == ""
    assert {c.agent for c in unsure.route.candidates} >= {"account", "billing"}
    assert oos.outcome == Outcome.NEEDS_CLARIFICATION and oos.route.method == Method.OUT_OF_SCOPE
    assert "outside what I can help with" in oos.answer
    assert client.invocations == []


async def test_llm_routing_usage_is_added(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    llm = ScriptedLLM(model="claude-haiku-4-5").then_tool(
        ROUTING_TOOL, {"agent": "account", "confidence": 0.8, "reason": "login"}
    )
    client = FakeAgentClient()
    async with supervisor(
        tmp_path, embedder, entries, client, card_index=card_index, llm=llm
    ) as app:
        result = await apps.ask(app, "How much does SSO cost?", timeout=None)
    assert result.agent == "account" and result.route.method == Method.LLM
    by_agent = {u.agent: u for u in result.usage.breakdown}
    assert by_agent["supervisor"].input_tokens == 50
    assert by_agent["supervisor"].cost_usd == pytest.approx((50 * 1.0 + 10 * 5.0) / 1e6)
    assert result.usage.input_tokens == 60


async def test_agent_failures_surface_as_runtime_errors(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient(failures={"billing": errors.Unavailable("billing is down")})
    async with supervisor(
        tmp_path, embedder, entries, client, card_index=card_index, escalate_when_agent_down=False
    ) as app:
        with pytest.raises(errors.Unavailable):
            await apps.ask(app, INVOICES, timeout=None)
        with pytest.raises(errors.DeadlineExceeded):
            await apps.ask(app, INVOICES, timeout=0.01)


async def test_cards_come_from_describe_when_not_inline(
    tmp_path: Path, embedder: MiniLMEmbedder, agent_cards: list[AgentCard]
) -> None:
    billing = next(c for c in agent_cards if c.name == "billing")
    client = FakeAgentClient(cards={"billing": billing})
    entries = [AgentEntry(name=n, address="x") for n in ("billing", "support")]
    async with supervisor(tmp_path, embedder, entries, client) as app:
        sources = {a.entry.name: a.card_source for a in app.service.gateway.known()}
        assert sources == {"billing": "describe", "support": ""}
        decision = await app.service.route("Can I pay by SEPA direct debit?", apps.context(app))
        assert decision.agent == "billing"
        # the missing card is asked for again later, not on every request
        await app.service.route("Can I pay by SEPA direct debit?", apps.context(app))
    assert client.describes == ["billing", "support"]
