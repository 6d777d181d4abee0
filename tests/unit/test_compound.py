"""Compound requests: splitting, routing of the parts, and parallel dispatch in the service."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import jwt
import numpy as np
import pytest
import yaml

from switchboard.core import errors
from switchboard.core.budget import Budget
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.pricing import DEFAULT_PRICES
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest, Outcome
from switchboard.store.audit import AuditEvent, AuditKind
from switchboard.supervisor.compound.planner import CompoundPlanner, split_clauses
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.routing.router import EmbeddingIndex, Method, Router
from switchboard.supervisor.service import AskInput, SupervisorService
from tests.fakes.agents import FakeAgentClient

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
    text = "refund my last invoice and turn on two-factor login"
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


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def submit(self, event: AuditEvent) -> bool:
        self.events.append(event)
        return True


class TogetherClient(FakeAgentClient):
    """Answers only once two calls are in flight: a sequential dispatch would time out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.barrier = asyncio.Barrier(2)

    async def invoke(self, agent: str, request: AgentRequest, *, timeout: float) -> AgentAnswer:
        await asyncio.wait_for(self.barrier.wait(), timeout=10)
        return await super().invoke(agent, request, timeout=timeout)


@pytest.fixture
def entries(agent_cards: list[AgentCard]) -> list[AgentEntry]:
    return [
        AgentEntry(name=c.name, address=f"127.0.0.1:{i}", **c.model_dump(exclude={"name"}))
        for i, c in enumerate(agent_cards, start=1)
    ]


def make_service(
    embedder: MiniLMEmbedder,
    index: EmbeddingIndex,
    entries: list[AgentEntry],
    client: FakeAgentClient,
    audit: Audit,
    budget: Budget | None = None,
) -> SupervisorService:
    return SupervisorService(
        entries,
        client=client,
        router=make_router(embedder, index),
        prices=DEFAULT_PRICES,
        max_text_chars=500,
        agent_timeout_s=20.0,
        deadline_margin_s=0.05,
        describe_timeout_s=1.0,
        audit=audit,
        default_budget=budget,
    )


COMPOUND = "refund my last invoice and turn on two-factor login"


async def test_parts_are_asked_in_parallel_and_merged(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex, entries: list[AgentEntry]
) -> None:
    client, audit = TogetherClient(), Audit()
    budget = Budget(tokens=1000, cost_usd=1.0, hops=3)
    service = make_service(embedder, card_index, entries, client, audit, budget)
    result = await service.ask(AskInput(text=COMPOUND), timeout=8.0)
    assert result.route.method == Method.COMPOUND
    assert [(p.agent, p.text) for p in result.parts] == [
        ("billing", "refund my last invoice"),
        ("account", "turn on two-factor login"),
    ]
    assert result.outcome == Outcome.ANSWERED and result.agent == "billing,account"
    assert "Billing" in result.answer and "Account" in result.answer
    calls = {agent: request for agent, request, _ in client.invocations}
    assert calls["billing"].text == "refund my last invoice"
    assert calls["account"].text == "turn on two-factor login"
    vectors = [np.asarray(calls[a].query_embedding) for a in ("billing", "account")]
    assert all(len(v) == 384 for v in vectors) and float(vectors[0] @ vectors[1]) < 0.99
    for request in calls.values():  # the budget is shared out; each call takes a hop
        assert request.budget == Budget(tokens=500, cost_usd=0.5, hops=2)
    assert all(4.0 < t <= 7.95 for _, _, t in client.invocations)  # the caller's deadline
    assert result.usage.input_tokens == 20 and result.usage.output_tokens == 10
    assert sorted(u.agent for u in result.usage.breakdown) == ["account", "billing"]
    kinds = [e.kind for e in audit.events]
    assert kinds.count(AuditKind.AGENT_CALL) == 2
    route = next(e for e in audit.events if e.kind == AuditKind.ROUTE_DECISION)
    assert route.outcome == Method.COMPOUND
    assert route.detail["parts"] == [
        ["billing", "refund my last invoice"],
        ["account", "turn on two-factor login"],
    ]


async def test_a_failed_part_escalates_and_the_others_are_still_answered(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex, entries: list[AgentEntry]
) -> None:
    client = FakeAgentClient(failures={"account": errors.DeadlineExceeded("agent too slow")})
    audit = Audit()
    service = make_service(embedder, card_index, entries, client, audit)
    result = await service.ask(AskInput(text=COMPOUND), timeout=8.0)
    assert result.outcome == Outcome.ESCALATED
    billing, account = result.parts
    assert billing.outcome == Outcome.ANSWERED and billing.answer.startswith("billing answer")
    assert account.outcome == Outcome.ESCALATED and "agent too slow" in account.answer
    assert "billing answer" in result.answer and "agent too slow" in result.answer
    assert result.confidence == 0.0
    assert [e.agent for e in audit.events if e.kind == AuditKind.ESCALATION] == ["account"]


async def test_when_every_part_fails_the_request_fails(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex, entries: list[AgentEntry]
) -> None:
    slow = errors.DeadlineExceeded("agent too slow")
    client = FakeAgentClient(failures={"account": slow, "billing": slow})
    service = make_service(embedder, card_index, entries, client, Audit())
    with pytest.raises(errors.DeadlineExceeded):
        await service.ask(AskInput(text=COMPOUND), timeout=8.0)


async def test_naming_an_agent_or_confirming_an_action_never_splits(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex, entries: list[AgentEntry]
) -> None:
    client = FakeAgentClient()
    service = make_service(embedder, card_index, entries, client, Audit())
    named = await service.ask(AskInput(text=COMPOUND, agent="account"), timeout=8.0)
    assert named.route.method == Method.EXPLICIT and named.parts == []
    # the supervisor only reads which agent an action id names (the agent verifies it)
    action_id = jwt.encode({"aud": "billing"}, "agent-side-secret-0123456789abcdef0123")
    confirming = await service.ask(AskInput(text=COMPOUND, confirm_action=action_id), timeout=8)
    assert confirming.route.method == Method.EXPLICIT and confirming.parts == []
    assert confirming.route.agent == "billing"
    assert [a for a, _, _ in client.invocations] == ["account", "billing"]


async def test_the_route_call_reports_parts_without_asking_agents(
    embedder: MiniLMEmbedder, card_index: EmbeddingIndex, entries: list[AgentEntry]
) -> None:
    client = FakeAgentClient()
    service = make_service(embedder, card_index, entries, client, Audit())
    decision = await service.route(COMPOUND)
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
