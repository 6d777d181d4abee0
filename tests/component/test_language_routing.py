"""Requests not in English through the supervisor: offline they get the English-only reply
(in their language, route method unsupported_language, counted); with Claude configured,
Claude routes them and the agent answers."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from switchboard.core.context import Deadline
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard, Outcome
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.language import LanguagePolicy
from switchboard.supervisor.routing.router import ROUTING_TOOL, Method, Router
from tests.fakes.agents import FakeAgentClient
from tests.fakes.llm import ScriptedLLM
from tests.harness import apps

SPANISH = "¿Puedo pagar con PayPal? Me cobraron dos veces este mes."


async def test_offline_a_request_not_in_english_is_told_english_only(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:
    """In its language where we have the reply. Russian or Japanese share no word with any
    list: they used to be read as English and told "outside what I can help with"."""
    client = FakeAgentClient()
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        embedder=embedder,
        card_index=card_index,
        agent_client=client,
    ) as app:
        spanish = await apps.ask(app, SPANISH, timeout=None)
        russian = await apps.ask(app, "Как отменить подписку?", timeout=None)
        japanese = await apps.ask(app, "パスワードを忘れてしまいました。", timeout=None)
        english = await apps.ask(app, "Where can I download my invoices?", timeout=None)
    for result in (spanish, russian, japanese):
        assert result.outcome == Outcome.NEEDS_CLARIFICATION
        assert result.route.method == Method.UNSUPPORTED_LANGUAGE
    assert "inglés" in spanish.answer and "English only" in spanish.answer
    assert "Spanish" in spanish.route.reason
    assert "only answer questions written in English" in russian.answer
    assert "Cyrillic-script" in russian.route.reason
    assert "英語" in japanese.answer and "Japanese" in japanese.route.reason
    assert english.route.method != Method.UNSUPPORTED_LANGUAGE
    assert [i[0] for i in client.invocations] == [english.agent]  # no agent saw the others


async def test_with_claude_a_french_request_is_routed_by_claude(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:
    llm = ScriptedLLM(model="claude-haiku-4-5").then_tool(
        ROUTING_TOOL, {"agent": "account", "confidence": 0.9, "reason": "password reset"}
    )
    client = FakeAgentClient()
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        embedder=embedder,
        card_index=card_index,
        agent_client=client,
        router_llm=llm,
    ) as app:
        result = await apps.ask(app, "J'ai oublié mon mot de passe, que dois-je faire ?")
    assert result.agent == "account" and result.route.method == Method.LLM
    assert result.route.reason.startswith("French request, routed by Claude")
    assert len(llm.calls) == 1  # Claude was asked although nothing was "unsure"


async def test_a_failing_claude_falls_back_to_the_english_only_reply(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:
    llm = ScriptedLLM(model="claude-haiku-4-5").then_tool(ROUTING_TOOL, {"agent": "nobody"})
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        embedder=embedder,
        card_index=card_index,
        agent_client=FakeAgentClient(),
        router_llm=llm,
    ) as app:
        result = await apps.ask(app, "Ich habe mein Passwort vergessen.", timeout=None)
    assert result.route.method == Method.UNSUPPORTED_LANGUAGE
    assert "Englisch" in result.answer


async def test_non_english_requests_are_counted(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:

    reader = InMemoryMetricReader()
    metrics = SupervisorMetrics(MeterProvider(metric_readers=[reader]).get_meter("t"))
    router = Router(
        embedder, accept_confidence=0.7, min_similarity=0.3, out_of_scope_similarity=0.2
    )
    router.use_index(card_index)
    policy = LanguagePolicy(router, metrics)
    guess = policy.detect("Olá, esqueci minha senha.")
    assert guess.language == "pt"
    decision = await policy.route(
        "Olá, esqueci minha senha.", await router.embed("x"), guess, Deadline.after(None)
    )
    assert decision.method == Method.UNSUPPORTED_LANGUAGE and decision.language == "pt"
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "switchboard.requests.language"
        for p in m.data.data_points
        if isinstance(p, NumberDataPoint)
    ]
    assert [(dict(p.attributes or {}), p.value) for p in points] == [
        ({"switchboard.language": "pt", "handling": "english_only"}, 1)
    ]


async def test_detection_can_be_switched_off(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> None:
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        settings=apps.supervisor_settings(tmp_path, language_detection=False),
        embedder=embedder,
        card_index=card_index,
        agent_client=FakeAgentClient(),
    ) as app:
        result = await apps.ask(app, SPANISH, timeout=None)
    assert result.route.method != Method.UNSUPPORTED_LANGUAGE
