"""Compound requests: splitting, routing of the parts, and parallel dispatch in the service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import numpy as np
import pytest
import yaml

from switchboard.core import errors
from switchboard.core.audit import AuditKind
from switchboard.core.budget import Budget
from switchboard.core.context import RequestContext
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.settings import LimitSettings
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest, Outcome
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.compound.planner import CompoundPlanner, split_clauses
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import Method, Router
from tests.fakes.agents import FakeAgentClient
from tests.fakes.audit import AuditRecorder
from tests.harness import apps

DATA = Path(__file__).resolve().parents[1] / "data" / "compound.yaml"


def make_router(embedder: MiniLMEmbedder, index: EmbeddingIndex, accept: float = 0.7) -> Router:
    router = Router(
        embedder, accept_confidence=accept, min_similarity=0.3, out_of_scope_similarity=0.2
    )
    router.use_index(index)
    return router


@pytest.fixture
def planner(embedder: MiniLMEmbedder, card_index: EmbeddingIndex) -> CompoundPlanner:
    return CompoundPlanner(make_router(embedder, card_index))


# -- splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        (
            "refund my last invoice and turn on two-factor login",
            ["refund my last invoice", "turn on two-factor login"],
        ),
        (
            "How do I add a VAT number? Also, the desktop app crashes.",
            ["How do I add a VAT number?", "the desktop app crashes."],
        ),
        ("- cancel our plan\n- delete my account", ["cancel our plan", "delete my account"]),
        ("1. export my tasks 2. refund me", ["export my tasks", "refund me"]),
        (
            "change my card, how do I reset my password",
            ["change my card", "how do I reset my password"],
        ),
        ("I lost my phone; also my payment failed", ["I lost my phone", "my payment failed"]),
        # "or" and "but" join alternatives inside one request: no cut
        (
            "remove them but keep their tasks or archive them",
            ["remove them but keep their tasks or archive them"],
        ),
        # a number that is not a list ("12.") is not taken for a list marker
        ("Team costs 12. What about Business?", ["Team costs 12.", "What about Business?"]),
    ],
)
def test_clauses_are_cut_at_conjunctions_sentences_and_list_items(
    text: str, clauses: list[str]
) -> None:
    got = split_clauses(text)
    assert [c.text for c in got] == clauses
    assert all(text[c.start : c.end] == c.text for c in got)  # spans of the original text


def test_very_long_requests_keep_their_tail_in_the_last_clause() -> None:
    text = " and ".join(f"question number {i}" for i in range(12))
    clauses = split_clauses(text, max_clauses=4)
    assert len(clauses) == 4
    assert clauses[-1].text.startswith("question number 3") and clauses[-1].text.endswith("11")


# -- planning ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "refund my last invoice and turn on two-factor login",
            [("billing", "refund my last invoice"), ("account", "turn on two-factor login")],
        ),
        (
            "Our Slack notifications stopped arriving and I need a copy of last month's invoice",
            [
                ("support", "Our Slack notifications stopped arriving"),
                ("billing", "I need a copy of last month's invoice"),
            ],
        ),
        (
            "The API keeps returning 429 errors. Also how do I remove a former employee?",
            [
                ("support", "The API keeps returning 429 errors."),
                ("account", "how do I remove a former employee?"),
            ],
        ),
        (
            "Refund the duplicate charge. Change my login email to my new work address. "
            "Fix the desktop sync error SYNC-409.",
            [
                ("billing", "Refund the duplicate charge."),
                ("account", "Change my login email to my new work address."),
                ("support", "Fix the desktop sync error SYNC-409."),
            ],
        ),
        (  # an unsure greeting stays with the part after it; "thanks" with the one before
            "Hi there! Can I pay by SEPA direct debit? And how do I set up SAML SSO with Okta? "
            "Thanks",
            [
                ("billing", "Hi there! Can I pay by SEPA direct debit?"),
                ("account", "how do I set up SAML SSO with Okta? Thanks"),
            ],
        ),
    ],
)
async def test_compound_requests_split_into_their_agents(
    planner: CompoundPlanner, text: str, parts: list[tuple[str, str]]
) -> None:
    plan = await planner.plan(text)
    assert plan is not None, text
    assert plan.method == Method.COMPOUND and plan.agent is None
    assert [(p.agent, p.text) for p in plan.parts] == parts
    assert all(p.confidence >= 0.7 for p in plan.parts)
    assert plan.confidence == min(p.confidence for p in plan.parts)
    assert [c.agent for c in plan.candidates] == [a for a, _ in parts]


async def test_each_part_carries_its_own_embedding(
    planner: CompoundPlanner, embedder: MiniLMEmbedder
) -> None:
    text = "Hi! Refund my last invoice. And turn on two-factor login"
    whole = embedder.embed([text])[0]
    plan = await planner.plan(text, whole)
    assert plan is not None and plan.query_vector is whole
    expected = embedder.embed([p.text for p in plan.parts])
    for part, vector in zip(plan.parts, expected, strict=True):
        assert part.query_vector is not None
        assert float(np.dot(part.query_vector, vector)) > 0.999


async def test_the_whole_text_routing_to_one_agent_does_not_hide_a_second_request(
    planner: CompoundPlanner, embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    text = "What does the Business plan cost per user? Also how do I enforce 2FA for everyone?"
    whole = await make_router(embedder, card_index).route(text)
    assert whole.agent == "billing" and whole.method == Method.EMBEDDING  # confidently
    plan = await planner.plan(text)
    assert plan is not None and {p.agent for p in plan.parts} == {"billing", "account"}


@pytest.mark.parametrize(
    "text",
    [
        "how do I export invoices and change the billing email",
        "I forgot my password and the reset link has expired",
        "The desktop app won't sync and shows error SYNC-409",
        "Cancel my subscription and downgrade us to the Free plan at renewal",
        "I was charged twice. Can you refund one of the charges?",
        "What's the difference between annual and monthly billing?",
        "How much is the Business plan per user?",  # nothing to split
    ],
)
async def test_multi_clause_requests_for_one_agent_stay_single(
    planner: CompoundPlanner, text: str
) -> None:
    assert await planner.plan(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Refund my last invoice please, and thanks a lot!",  # "thanks" routes nowhere
        "What's a good recipe for banana bread and how long do I bake it?",  # out of scope
        "Enable SSO and SCIM",  # "SCIM" is a keyword, but one word is no request of its own
    ],
)
async def test_unsure_parts_do_not_make_a_compound(planner: CompoundPlanner, text: str) -> None:
    assert await planner.plan(text) is None


async def test_parts_must_pass_the_routers_own_threshold(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    text = "refund my last invoice and turn on two-factor login"
    strict = CompoundPlanner(make_router(embedder, card_index, accept=1.01))  # never sure
    assert await strict.plan(text) is None


async def test_parts_are_capped_and_one_turns_splitting_off(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex
) -> None:
    text = (
        "Refund the duplicate charge. Change my login email to my new work address. "
        "Fix the desktop sync error SYNC-409."
    )
    router = make_router(embedder, card_index)
    capped = await CompoundPlanner(router, max_parts=2).plan(text)
    assert capped is not None and len(capped.parts) == 2
    assert "not asked" in capped.reason
    assert await CompoundPlanner(router, max_parts=1).plan(text) is None


def _labelled() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return data


async def test_split_precision_and_recall_on_the_labelled_set(
    planner: CompoundPlanner, capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/data/compound.yaml: ~30 compound and ~30 single requests over the demo agents."""
    data = _labelled()
    assert len(data["compound"]) >= 30 and len(data["single"]) >= 30
    found = exact = 0
    for case in data["compound"]:
        plan = await planner.plan(case["text"])
        if plan is not None:
            found += 1
            exact += [p.agent for p in plan.parts] == case["parts"]
    false_splits = [c["text"] for c in data["single"] if await planner.plan(c["text"])]
    precision = found / (found + len(false_splits))
    recall = found / len(data["compound"])
    with capsys.disabled():
        print(
            f"\ncompound split: precision {precision:.3f}, recall {recall:.3f}, "
            f"right agents in order {exact}/{len(data['compound'])}, "
            f"false splits {len(false_splits)}/{len(data['single'])}"
        )
    assert precision >= 0.85 and recall >= 0.9
    assert exact >= 0.9 * len(data["compound"])


# -- the service: parallel dispatch, failures, audit -------------------------------------------


class TogetherClient(FakeAgentClient):
    """Answers only once two calls are in flight: a sequential dispatch would time out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.barrier = asyncio.Barrier(2)

    async def invoke(
        self, agent: str, request: AgentRequest, ctx: RequestContext, *, timeout: float
    ) -> AgentAnswer:
        await asyncio.wait_for(self.barrier.wait(), timeout=10)
        return await super().invoke(agent, request, ctx, timeout=timeout)


@contextlib.asynccontextmanager
async def supervisor(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
    client: FakeAgentClient,
    audit: AuditRecorder,
    **values: Any,
) -> AsyncIterator[SupervisorApp]:
    """A supervisor over ``client``; ``values`` are SupervisorSettings values."""
    async with apps.supervisor(
        tmp_path,
        apps.entries(agent_cards),
        settings=apps.supervisor_settings(
            tmp_path, limits=LimitSettings(max_text_chars=500), **values
        ),
        embedder=embedder,
        card_index=card_index,
        agent_client=client,
        audit=audit,
    ) as app:
        yield app


COMPOUND = "refund my last invoice and turn on two-factor login"
PARTS = [("billing", "refund my last invoice"), ("account", "turn on two-factor login")]


async def test_parts_are_asked_in_parallel_and_merged(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> None:
    client, audit = TogetherClient(), AuditRecorder()
    async with supervisor(
        tmp_path,
        embedder,
        card_index,
        agent_cards,
        client,
        audit,
        budget_tokens=1000,
        budget_cost_usd=1.0,
        budget_hops=3,
    ) as app:
        result = await apps.ask(app, COMPOUND, timeout=8.0)
    assert result.route.method == Method.COMPOUND
    assert [(p.agent, p.text) for p in result.parts] == PARTS
    assert result.outcome == Outcome.ANSWERED and result.agent == "billing,account"
    assert "Billing" in result.answer and "Account" in result.answer
    calls = {agent: (request, ctx) for agent, request, ctx, _ in client.invocations}
    assert calls["billing"][0].text == "refund my last invoice"
    assert calls["account"][0].text == "turn on two-factor login"
    vectors = [np.asarray(calls[a][0].query_embedding) for a in ("billing", "account")]
    assert all(len(v) == 384 for v in vectors) and float(vectors[0] @ vectors[1]) < 0.99
    for _, ctx in calls.values():  # the budget is shared out; each call takes a hop
        assert ctx.budget == Budget(tokens=500, cost_usd=0.5, hops=2)
    assert all(4.0 < t <= 7.95 for *_, t in client.invocations)  # the caller's deadline
    assert result.usage.input_tokens == 20 and result.usage.output_tokens == 10
    assert sorted(u.agent for u in result.usage.breakdown) == ["account", "billing"]
    assert len(audit.of(AuditKind.AGENT_CALL)) == 2
    [route] = audit.of(AuditKind.ROUTE_DECISION)
    assert route.outcome == Method.COMPOUND
    # the parts' text stays out of the audit trail (audit_request_text is off): only lengths
    assert route.detail["parts"] == [[agent, len(text)] for agent, text in PARTS]
    parts = {e.agent: e.detail["part"] for e in audit.of(AuditKind.AGENT_CALL)}
    assert parts == {agent: len(text) for agent, text in PARTS}


async def test_a_failed_part_escalates_and_the_others_are_still_answered(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> None:
    client = FakeAgentClient(failures={"account": errors.DeadlineExceeded("agent too slow")})
    audit = AuditRecorder()
    async with supervisor(tmp_path, embedder, card_index, agent_cards, client, audit) as app:
        result = await apps.ask(app, COMPOUND, timeout=8.0)
    assert result.outcome == Outcome.ESCALATED
    billing, account = result.parts
    assert billing.outcome == Outcome.ANSWERED and billing.answer.startswith("billing answer")
    assert account.outcome == Outcome.ESCALATED and "agent too slow" in account.answer
    assert "billing answer" in result.answer and "agent too slow" in result.answer
    assert result.confidence == 0.0
    assert [e.agent for e in audit.of(AuditKind.ESCALATION)] == ["account"]


async def test_when_every_part_fails_the_request_fails(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> None:
    slow = errors.DeadlineExceeded("agent too slow")
    client = FakeAgentClient(failures={"account": slow, "billing": slow})
    async with supervisor(
        tmp_path, embedder, card_index, agent_cards, client, AuditRecorder()
    ) as app:
        with pytest.raises(errors.DeadlineExceeded):
            await apps.ask(app, COMPOUND, timeout=8.0)


async def test_naming_an_agent_or_confirming_an_action_never_splits(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> None:
    client = FakeAgentClient()
    async with supervisor(
        tmp_path, embedder, card_index, agent_cards, client, AuditRecorder()
    ) as app:
        named = await apps.ask(app, COMPOUND, agent="account", timeout=8.0)
        assert named.route.method == Method.EXPLICIT and named.parts == []
        # the supervisor only reads which agent an action id names (the agent verifies it)
        action_id = jwt.encode({"aud": "billing"}, "agent-side-secret-0123456789abcdef0123")
        confirming = await apps.ask(app, COMPOUND, confirm_action=action_id, timeout=8)
    assert confirming.route.method == Method.EXPLICIT and confirming.parts == []
    assert confirming.route.agent == "billing"
    assert [agent for agent, *_ in client.invocations] == ["account", "billing"]


async def test_the_route_call_reports_parts_without_asking_agents(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    card_index: EmbeddingIndex,
    agent_cards: list[AgentCard],
) -> None:
    client = FakeAgentClient()
    async with supervisor(
        tmp_path, embedder, card_index, agent_cards, client, AuditRecorder()
    ) as app:
        decision = await app.service.route(COMPOUND, apps.context(app))
    assert decision.method == Method.COMPOUND
    assert [p.agent for p in decision.parts] == ["billing", "account"]
    assert client.invocations == []


@pytest.mark.parametrize(
    "text",
    [
        # background, then the question it is about: one request
        "Someone was unassigned in Azure but still shows in Brightlane. How often does Entra sync?",
        "Email notifications come in bundles instead of right away. Why, and can I change it?",
        # a condition is background too
        "If our payment keeps failing, how long before the workspace becomes read-only?",
    ],
)
async def test_background_before_a_question_is_not_a_part(
    planner: CompoundPlanner, text: str
) -> None:
    assert await planner.plan(text) is None
