from __future__ import annotations

import pytest

from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import ROUTING_TOOL, Method, Router
from tests.fakes.llm import ScriptedLLM


def make_router(embedder: MiniLMEmbedder, llm: ScriptedLLM | None = None) -> Router:
    return Router(
        embedder,
        accept_confidence=0.7,
        min_similarity=0.3,
        out_of_scope_similarity=0.2,
        llm=llm,
    )


@pytest.fixture
async def router(embedder: MiniLMEmbedder, card_index: EmbeddingIndex) -> Router:
    r = make_router(embedder)
    r.use_index(card_index)
    return r


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Why did my card get charged twice this month?", "billing"),
        ("Can I pay by bank transfer instead of credit card?", "billing"),
        ("The desktop app won't sync my tasks", "support"),
        ("Our webhook deliveries keep failing with timeouts", "support"),
        ("I lost my phone with the authenticator app", "account"),
        ("How do I set up SAML single sign-on with Okta?", "account"),
    ],
)
async def test_plain_requests_go_to_their_agent(router: Router, text: str, agent: str) -> None:
    decision = await router.route(text)
    assert decision.agent == agent, decision
    # "webhook" is one of support's keywords: that request is decided by the rule
    assert decision.method == (Method.RULE if "webhook" in text else Method.EMBEDDING)
    assert decision.confidence >= 0.7
    assert decision.candidates[0].agent == agent
    assert decision.query_vector is not None and decision.query_vector.shape == (384,)


async def test_out_of_scope_is_not_forced_onto_an_agent(router: Router) -> None:
    for text in ("What's a good recipe for banana bread?", "Who won the world cup in 2018?"):
        decision = await router.route(text)
        assert decision.agent is None
        assert decision.method == Method.OUT_OF_SCOPE
        assert decision.candidates == []


async def test_close_calls_ask_for_clarification(router: Router) -> None:
    decision = await router.route("How much does SSO cost?")  # a price (billing) of SSO (account)
    assert decision.agent is None
    assert decision.method == Method.CLARIFY
    assert {c.agent for c in decision.candidates} >= {"billing", "account"}


async def test_unsure_routing_asks_claude_with_the_cards(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    llm = ScriptedLLM(model="claude-haiku-4-5").then_tool(
        ROUTING_TOOL, {"agent": "billing", "confidence": 0.9, "reason": "payment problem"}
    )
    router = make_router(embedder, llm)
    router.use_index(card_index)
    decision = await router.route("How much does SSO cost?")
    assert decision.agent == "billing" and decision.method == Method.LLM
    assert decision.confidence == pytest.approx(0.9)
    assert decision.llm_usage is not None and decision.llm_usage.input_tokens == 50
    call = llm.calls[0]
    assert call.force_tool == ROUTING_TOOL
    assert call.tools[0].input_schema["properties"]["agent"]["enum"] == [
        "account",
        "billing",
        "support",
        "none",
    ]
    assert "billing:" in call.system  # the cards are in the prompt


async def test_confident_routing_never_calls_claude(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    llm = ScriptedLLM()
    router = make_router(embedder, llm)
    router.use_index(card_index)
    assert (await router.route("How do I download last month's invoice?")).agent == "billing"
    assert llm.calls == []


async def test_claude_failure_or_nonsense_falls_back_to_clarify(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    llm = ScriptedLLM().then_fail().then_tool(ROUTING_TOOL, {"agent": "marketing"})
    router = make_router(embedder, llm)
    router.use_index(card_index)
    for _ in range(2):
        decision = await router.route("How much does SSO cost?")
        assert decision.agent is None and decision.method == Method.CLARIFY


async def test_router_without_cards_clarifies(embedder: MiniLMEmbedder) -> None:
    router = make_router(embedder)
    assert not router.ready
    decision = await router.route("anything")
    assert decision.agent is None and decision.method == Method.CLARIFY
    await router.fit([AgentCard(name="only", description="Only agent", examples=["hello"])])
    assert router.ready
