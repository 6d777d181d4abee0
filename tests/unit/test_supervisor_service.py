from __future__ import annotations

import re
from typing import Any

import pytest

from switchboard.core import errors
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.pricing import DEFAULT_PRICES
from switchboard.core.types import AgentCard, Outcome
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.routing.router import ROUTING_TOOL, EmbeddingIndex, Method, Router
from switchboard.supervisor.service import AskInput, BreakerPolicy, SupervisorService
from tests.fakes.agents import FakeAgentClient
from tests.fakes.llm import ScriptedLLM


def make_service(
    embedder: MiniLMEmbedder,
    client: FakeAgentClient,
    entries: list[AgentEntry],
    llm: ScriptedLLM | None = None,
    index: EmbeddingIndex | None = None,
    **options: Any,
) -> SupervisorService:
    router = Router(
        embedder, accept_confidence=0.7, min_similarity=0.3, out_of_scope_similarity=0.2, llm=llm
    )
    if index is not None:
        router.use_index(index)  # the cards' embeddings, built once per session
    return SupervisorService(
        entries,
        client=client,
        router=router,
        prices=DEFAULT_PRICES,
        max_text_chars=200,
        agent_timeout_s=20.0,
        deadline_margin_s=0.05,
        describe_timeout_s=1.0,
        **options,
    )


@pytest.fixture
def entries(agent_cards: list[AgentCard]) -> list[AgentEntry]:
    return [
        AgentEntry(name=c.name, address=f"127.0.0.1:{i}", **c.model_dump(exclude={"name"}))
        for i, c in enumerate(agent_cards, start=1)
    ]


async def test_ask_routes_dispatches_and_sums_usage(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    service = make_service(embedder, client, entries, index=card_index)
    await service.load_cards()
    result = await service.ask(AskInput(text="Where can I download my invoices?"), timeout=5.0)
    assert result.agent == "billing" and result.outcome == Outcome.ANSWERED
    assert re.fullmatch(r"[0-9a-f]{32}", result.request_id)
    assert result.usage.input_tokens == 10 and result.usage.output_tokens == 5
    agent, request, timeout = client.invocations[0]
    assert agent == "billing" and request.request_id == result.request_id
    # the routing embedding travels with the request; the deadline shrinks by the margin
    assert request.query_embedding is not None and len(request.query_embedding) == 384
    assert 4.0 < timeout <= 4.95
    assert client.describes == []  # inline cards need no Describe


async def test_request_id_is_echoed_and_validated(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    service = make_service(embedder, FakeAgentClient(), entries, index=card_index)
    await service.load_cards()
    result = await service.ask(AskInput(text="refund please", request_id="req-42"), timeout=None)
    assert result.request_id == "req-42"
    with pytest.raises(errors.InvalidRequest, match="128"):
        await service.ask(AskInput(text="refund", request_id="x" * 129), timeout=None)


async def test_caller_mistakes_are_invalid_or_not_found(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    service = make_service(embedder, client, entries, index=card_index)
    await service.load_cards()
    with pytest.raises(errors.InvalidRequest, match="empty"):
        await service.ask(AskInput(text=" \n "), timeout=None)
    with pytest.raises(errors.InvalidRequest, match="limit is 200"):
        await service.ask(AskInput(text="a" * 201), timeout=None)
    with pytest.raises(errors.NotFound, match="known agents: account, billing, support"):
        await service.ask(AskInput(text="hi", agent="marketing"), timeout=None)
    assert client.invocations == []


async def test_explicit_agent_skips_routing(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    service = make_service(embedder, client, entries, index=card_index)
    await service.load_cards()
    result = await service.ask(AskInput(text="What's up?", agent="support"), timeout=None)
    assert result.agent == "support" and result.route.method == Method.EXPLICIT
    assert client.invocations[0][2] == 20.0  # no caller deadline: the configured default


async def test_unsure_and_out_of_scope_do_not_call_agents(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    service = make_service(embedder, client, entries, index=card_index)
    await service.load_cards()
    unsure = await service.ask(AskInput(text="Which plan includes SSO?"), timeout=None)
    assert unsure.outcome == Outcome.NEEDS_CLARIFICATION and unsure.agent == ""
    assert {c.agent for c in unsure.route.candidates} >= {"account", "billing"}
    oos = await service.ask(AskInput(text="Recommend a good pizza place in Rome"), timeout=None)
    assert oos.outcome == Outcome.NEEDS_CLARIFICATION and oos.route.method == Method.OUT_OF_SCOPE
    assert "outside what I can help with" in oos.answer
    assert client.invocations == []


async def test_llm_routing_usage_is_added(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    llm = ScriptedLLM(model="claude-haiku-4-5").then_tool(
        ROUTING_TOOL, {"agent": "account", "confidence": 0.8, "reason": "login"}
    )
    service = make_service(embedder, FakeAgentClient(), entries, llm, index=card_index)
    await service.load_cards()
    result = await service.ask(AskInput(text="Which plan includes SSO?"), timeout=None)
    assert result.agent == "account" and result.route.method == Method.LLM
    by_agent = {u.agent: u for u in result.usage.breakdown}
    assert by_agent["supervisor"].input_tokens == 50
    assert by_agent["supervisor"].cost_usd == pytest.approx((50 * 1.0 + 10 * 5.0) / 1e6)
    assert result.usage.input_tokens == 60


async def test_agent_failures_surface_as_runtime_errors(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient(failures={"billing": errors.Unavailable("billing is down")})
    policy = BreakerPolicy(escalate_when_down=False)
    service = make_service(embedder, client, entries, index=card_index, breaker_policy=policy)
    await service.load_cards()
    with pytest.raises(errors.Unavailable):
        await service.ask(AskInput(text="Where can I download my invoices?"), timeout=None)
    with pytest.raises(errors.DeadlineExceeded):
        await service.ask(AskInput(text="Where can I download my invoices?"), timeout=0.01)


async def test_cards_come_from_describe_when_not_inline(
    embedder: MiniLMEmbedder, agent_cards: list[AgentCard]
) -> None:
    client = FakeAgentClient(cards={"billing": agent_cards[1]})
    entries = [AgentEntry(name=n, address="x") for n in ("billing", "support")]
    service = make_service(embedder, client, entries)
    await service.load_cards()
    sources = {a.entry.name: a.card_source for a in service.agents()}
    assert sources == {"billing": "describe", "support": ""}
    decision = await service.route("Can I pay by SEPA direct debit?")
    assert decision.agent == "billing"
    # the missing card is asked for again later, not on every request
    await service.route("Can I pay by SEPA direct debit?")
    assert client.describes == ["billing", "support"]
