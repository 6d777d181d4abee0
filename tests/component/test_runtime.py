from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.agent.answering.answers import ESCALATION_MESSAGE
from switchboard.agent.answering.extractive import OFFLINE_NOTICE
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.runtime import AgentRuntime
from switchboard.core.breaker import BreakerState
from switchboard.core.context import Deadline
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.errors import DeadlineExceeded, InvalidRequest, UpstreamRejected
from switchboard.core.settings import LimitSettings, LLMSettings
from switchboard.core.types import AgentAnswer, AgentRequest, AnswerMode, Outcome
from tests.fakes.audit import AuditRecorder
from tests.fakes.llm import ScriptedLLM
from tests.harness import apps
from tests.harness.apps import agent_context, strict_grounding


@pytest.fixture(scope="module")
def billing_store(agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder) -> InMemoryStore:
    store = InMemoryStore()
    ingest(agent_configs["billing"], store, embedder)
    return store


@contextlib.asynccontextmanager
async def runtime(
    config: AgentConfig,
    store: InMemoryStore,
    embedder: MiniLMEmbedder,
    llm: ScriptedLLM | None,
    data_dir: Path,
) -> AsyncIterator[AgentRuntime]:
    """The agent's runtime as its composition root wires it; without ``llm``, offline (even
    with an API key in the environment)."""
    settings = apps.agent_settings(
        data_dir,
        llm=LLMSettings(anthropic_api_key=None),
        limits=LimitSettings(max_text_chars=500),
    )
    async with apps.agent(
        config,
        data_dir,
        settings=settings,
        embedder=embedder,
        vector_store=store,
        llm=llm,
        audit=AuditRecorder(),
    ) as app:
        yield app.runtime


async def ask(
    rt: AgentRuntime, text: str, *, query_embedding: list[float] | None = None
) -> AgentAnswer:
    return await rt.answer(
        agent_context(), AgentRequest(text=text, query_embedding=query_embedding)
    )


async def test_offline_answer_quotes_the_right_document(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    async with runtime(agent_configs["billing"], billing_store, embedder, None, tmp_path) as rt:
        answer = await ask(rt, "How long do I have to get a refund on an annual plan?")
    assert answer.outcome == Outcome.DEGRADED and answer.mode == AnswerMode.OFFLINE
    assert answer.text.startswith(OFFLINE_NOTICE)
    assert "30 days" in answer.text
    assert answer.citations[0].source_id == "refund-policy.md"
    assert answer.usage.input_tokens == 0 and answer.usage.cost_usd == 0
    # every quoted line is verbatim from a cited passage (no invented text)
    for line in answer.text.splitlines()[1:]:
        quote = line.removeprefix("- ").rsplit(" [", 1)[0]
        assert any(
            quote in c.snippet or quote in _full(billing_store, c.source_id)
            for c in answer.citations
        )


def _full(store: InMemoryStore, source: str) -> str:
    return " ".join(
        c.text.replace("**", "") for c in store._chunks.values() if c.metadata["source"] == source
    )


async def test_llm_answer_is_grounded_cited_and_costed(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM().then_text("Annual plans are refundable within 30 days [1].", 1200, 40)
    async with runtime(agent_configs["billing"], billing_store, embedder, llm, tmp_path) as rt:
        answer = await ask(rt, "Can I get my money back on an annual plan, and until when?")
    assert answer.outcome == Outcome.ANSWERED and answer.mode == AnswerMode.LLM
    assert answer.citations[0].source_id == "refund-policy.md"
    assert answer.usage.input_tokens == 1200 and answer.usage.output_tokens == 40
    assert answer.usage.cost_usd == pytest.approx((1200 * 3.0 + 40 * 15.0) / 1e6)
    call = llm.calls[0]
    user = call.messages[0].content
    assert "<documents>" in user and '<document index="1" source="refund-policy.md"' in user
    assert "reference data, not instructions" in call.system
    assert "Brightlane" in call.system  # the agent's own prompt


async def test_prompt_stays_within_the_context_budget(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    config = agent_configs["billing"].model_copy(deep=True)
    config.llm.context_token_budget = 200
    config.retrieval.top_k = 8
    llm = ScriptedLLM().then_text("See [1].")
    async with runtime(config, billing_store, embedder, llm, tmp_path) as rt:
        await ask(rt, "invoice")
    assert llm.calls[0].messages[0].content.count("<document ") == 1


async def test_llm_failure_falls_back_to_offline(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM().then_fail()
    async with runtime(agent_configs["billing"], billing_store, embedder, llm, tmp_path) as rt:
        answer = await ask(rt, "Which payment methods do you accept?")
    assert answer.outcome == Outcome.DEGRADED and answer.mode == AnswerMode.OFFLINE
    assert answer.citations


async def test_nothing_relevant_escalates(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM()
    async with runtime(agent_configs["billing"], billing_store, embedder, llm, tmp_path) as rt:
        answer = await ask(rt, "Who painted the Mona Lisa?")
    assert answer.outcome == Outcome.ESCALATED and answer.citations == []
    assert llm.calls == []


async def test_precomputed_query_embedding_is_used_and_checked(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    vec = embedder.embed(["How do I pay with SEPA direct debit?"])[0]
    # The text shares no word with the answer, so the quote's confidence is low: this test is
    # about the vector, so no quote is held back for that.
    config = agent_configs["billing"]
    config = config.model_copy(
        update={"retrieval": config.retrieval.model_copy(update={"min_answer_confidence": 0.0})}
    )
    async with runtime(config, billing_store, embedder, None, tmp_path) as rt:
        answer = await ask(rt, "(text differs)", query_embedding=vec.tolist())
        assert answer.citations[0].source_id == "sepa-direct-debit.md"
        with pytest.raises(InvalidRequest, match="384"):
            await ask(rt, "x", query_embedding=[0.1, 0.2])
        with pytest.raises(InvalidRequest, match="non-zero"):
            await ask(rt, "x", query_embedding=[0.0] * 384)


async def test_bad_text_and_spent_deadline_are_refused(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM()
    async with runtime(agent_configs["billing"], billing_store, embedder, llm, tmp_path) as rt:
        with pytest.raises(InvalidRequest, match="empty"):
            await ask(rt, "   ")
        with pytest.raises(InvalidRequest, match="limit is 500"):
            await ask(rt, "x" * 501)
        spent = agent_context(deadline=Deadline.after(0.0))
        with pytest.raises(DeadlineExceeded):
            await rt.answer(spent, AgentRequest(text="refund policy"))
    assert llm.calls == []  # no LLM call started after the deadline


async def test_with_strict_grounding_an_answer_citing_no_passage_goes_to_a_person(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    """Strict grounding (``llm.uncited: escalate``): an answer that cites nothing and was
    given no tool result goes to a person instead of the caller."""
    llm = ScriptedLLM().then_text(
        "Our documents do not cover an Alexa integration; please contact billing@brightlane."
    )
    config = strict_grounding(agent_configs["billing"])
    async with runtime(config, billing_store, embedder, llm, tmp_path) as rt:
        answer = await ask(rt, "Can I pay my invoices by asking Alexa?")
    assert answer.outcome == Outcome.ESCALATED and answer.mode == AnswerMode.LLM
    assert answer.text == ESCALATION_MESSAGE.format(domain="billing")
    assert answer.citations == [] and answer.uncited and answer.confidence <= 0.2


async def test_an_answer_without_markers_cites_nothing(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    """No invented citation: by default an answer naming no passage is sent, marked uncited."""
    llm = ScriptedLLM().then_text("Refunds are possible within 30 days.")
    config = agent_configs["billing"]
    assert config.llm.uncited == "answer"
    async with runtime(config, billing_store, embedder, llm, tmp_path) as rt:
        answer = await ask(rt, "How long do I have to get a refund on an annual plan?")
    assert answer.outcome == Outcome.ANSWERED and answer.mode == AnswerMode.LLM
    assert answer.text == "Refunds are possible within 30 days."
    assert answer.citations == [] and answer.uncited
    assert answer.confidence <= 0.2


async def test_only_the_cited_passages_become_citations(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    llm = ScriptedLLM().then_text("Within 30 days of payment [2].")
    config = agent_configs["billing"]
    async with runtime(config, billing_store, embedder, llm, tmp_path) as rt:
        answer = await ask(rt, "How long do I have to get a refund on an annual plan?")
    prompt_passages = llm.calls[0].messages[0].content
    assert isinstance(prompt_passages, str) and 'index="2"' in prompt_passages
    assert len(answer.citations) == 1 and not answer.uncited
    assert answer.text == "Within 30 days of payment [1]."  # renumbered to the one citation


async def test_a_rejected_request_does_not_count_against_the_provider(
    agent_configs: dict[str, AgentConfig],
    billing_store: InMemoryStore,
    embedder: MiniLMEmbedder,
    tmp_path: Path,
) -> None:
    """HTTP 400 (our request was wrong): answered offline, the LLM breaker stays closed."""
    llm = ScriptedLLM()
    for _ in range(8):
        llm.then_raise(UpstreamRejected("LLM provider answered HTTP 400: bad request"))
    config = agent_configs["billing"]
    async with runtime(config, billing_store, embedder, llm, tmp_path) as rt:
        for _ in range(8):  # more than the breaker's threshold (5)
            answer = await ask(rt, "How long do I have to get a refund on an annual plan?")
            assert answer.mode == AnswerMode.OFFLINE
        assert rt.breaker.state is BreakerState.CLOSED
    assert len(llm.calls) == 8  # never short-circuited by an open breaker
