"""Offline answers that answer (issue 17): the newcomer's questions, with the real embedder.

Each agent is built by its composition root over the document that answers and its closest
neighbours (the ones that used to be quoted instead), with no API key.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.agent.answering.extractive import OFFLINE_NOTICE
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.runtime import AgentRuntime
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.settings import LLMSettings
from switchboard.core.types import AgentAnswer, AgentRequest, AnswerMode, Outcome
from tests.fakes.audit import AuditRecorder
from tests.harness import apps
from tests.harness.apps import agent_context
from tests.harness.stack import small_store

BILLING_DOCS = (
    "payment-methods.md",
    "duplicate-or-unexpected-charges.md",
    "refund-policy.md",
    "currencies.md",
)
ACCOUNT_DOCS = (
    "password-requirements-and-reset.md",
    "enforcing-2fa-for-workspace.md",
    "two-factor-authentication.md",
    "account-lockout.md",
)


@contextlib.asynccontextmanager
async def offline_agent(
    config: AgentConfig, store: InMemoryStore, embedder: MiniLMEmbedder, data_dir: Path
) -> AsyncIterator[AgentRuntime]:
    settings = apps.agent_settings(data_dir, llm=LLMSettings(anthropic_api_key=None))
    async with apps.agent(
        config,
        data_dir,
        settings=settings,
        embedder=embedder,
        vector_store=store,
        audit=AuditRecorder(),
    ) as app:
        yield app.runtime


async def ask(
    config: AgentConfig, docs: tuple[str, ...], embedder: MiniLMEmbedder, tmp: Path, text: str
) -> AgentAnswer:
    store = small_store(config, embedder, tmp, docs)
    async with offline_agent(config, store, embedder, tmp) as rt:
        return await rt.answer(agent_context(), AgentRequest(text=text))


def quoted(answer: AgentAnswer, source: str) -> None:
    assert answer.outcome == Outcome.DEGRADED and answer.mode == AnswerMode.OFFLINE, answer.text
    assert answer.text.startswith(OFFLINE_NOTICE) and "quoted" in OFFLINE_NOTICE
    assert source in [c.source_id for c in answer.citations]


async def test_paypal_is_answered_with_the_sentence_that_says_no(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    answer = await ask(
        agent_configs["billing"], BILLING_DOCS, embedder, tmp_path, "Can I pay with PayPal?"
    )
    quoted(answer, "payment-methods.md")
    assert "We do not accept PayPal" in answer.text


async def test_charged_twice_gets_the_duplicate_charge_steps_in_order(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    answer = await ask(
        agent_configs["billing"], BILLING_DOCS, embedder, tmp_path, "I was charged twice"
    )
    quoted(answer, "duplicate-or-unexpected-charges.md")
    text = answer.text
    steps = ["1. Note the invoice number", "2. Email billing@brightlane.example", "3. Do not"]
    assert all(s in text for s in steps), text
    assert text.index(steps[0]) < text.index(steps[1]) < text.index(steps[2])
    assert "charged after cancelling" not in text


async def test_forgot_password_gets_the_reset_steps_not_the_change_steps(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    answer = await ask(
        agent_configs["account"], ACCOUNT_DOCS, embedder, tmp_path, "I forgot my password"
    )
    quoted(answer, "password-requirements-and-reset.md")
    assert "Forgot password?" in answer.text and "Send reset link" in answer.text
    assert "Enter your current password" not in answer.text


async def test_mandatory_2fa_says_how_not_only_that_it_is_possible(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    answer = await ask(
        agent_configs["account"],
        ACCOUNT_DOCS,
        embedder,
        tmp_path,
        "make 2FA mandatory for everyone",
    )
    quoted(answer, "enforcing-2fa-for-workspace.md")
    assert "Settings > Security > Authentication" in answer.text
    assert "Switch on Require two-factor authentication" in answer.text


@pytest.mark.parametrize("question", ["Can I pay with a gift card?"])
async def test_an_unlikely_quote_escalates_instead_of_going_out(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path, question: str
) -> None:
    """Retrieval clears min_score (paying is on topic), but no sentence answers it."""
    config = agent_configs["billing"]
    strict = config.model_copy(
        update={"retrieval": config.retrieval.model_copy(update={"min_answer_confidence": 0.999})}
    )
    answer = await ask(strict, BILLING_DOCS, embedder, tmp_path, question)
    assert answer.outcome == Outcome.ESCALATED and not answer.citations
    lenient = config.model_copy(
        update={"retrieval": config.retrieval.model_copy(update={"min_answer_confidence": 0.0})}
    )
    answer = await ask(lenient, BILLING_DOCS, embedder, tmp_path, question)
    assert answer.outcome == Outcome.DEGRADED and 0.0 < answer.confidence < 0.999


async def test_an_elliptical_follow_up_is_quoted_for_its_standalone_question(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    """Issue 13's example: the turn's own words pick no quote worth sending, so the quote is
    chosen for the turn completed from the conversation (alone, it escalates)."""
    from switchboard.core.conversation import ConversationTurn, ConversationWindow

    config = agent_configs["billing"]
    store = small_store(config, embedder, tmp_path, BILLING_DOCS)
    follow_up = "And what if it still isn't there after two weeks?"
    window = ConversationWindow(
        turns=[ConversationTurn(user="How long does a refund take?", agent="billing")],
        turns_total=1,
    )
    async with offline_agent(config, store, embedder, tmp_path) as rt:
        alone = await rt.answer(agent_context(), AgentRequest(text=follow_up))
        in_context = await rt.answer(
            agent_context(), AgentRequest(text=follow_up, conversation=window)
        )
    assert alone.outcome == Outcome.ESCALATED
    quoted(in_context, "refund-policy.md")
