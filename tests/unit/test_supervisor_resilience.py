"""The supervisor under failing agents and hostile input: breakers, escalation, screening,
budgets. Uses the fake agent client; the real processes are covered in tests/integration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from switchboard.core import errors
from switchboard.core.breaker import BreakerState, CircuitBreaker
from switchboard.core.budget import Budget
from switchboard.core.embeddings import MiniLMEmbedder, Vector
from switchboard.core.types import AgentCard, Outcome
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.routing.router import EmbeddingIndex, Method
from switchboard.supervisor.screening import GUARD_METADATA_KEY, Screening
from switchboard.supervisor.service import AskInput, BreakerPolicy, SupervisorService
from tests.fakes.agents import FakeAgentClient
from tests.unit.test_supervisor_service import make_service

BILLING_TEXT = "Where can I download my invoices?"


@pytest.fixture
def entries(agent_cards: list[AgentCard]) -> list[AgentEntry]:
    return [
        AgentEntry(name=c.name, address=f"127.0.0.1:{i}", **c.model_dump(exclude={"name"}))
        for i, c in enumerate(agent_cards, start=1)
    ]


class FixedScreener:
    def __init__(self, screening: Screening) -> None:
        self.screening = screening
        self.seen: list[tuple[str, bool]] = []

    async def screen(self, text: str, vector: Vector | None) -> Screening:
        self.seen.append((text, vector is not None))
        return self.screening


async def _service(
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    index: EmbeddingIndex,
    client: FakeAgentClient,
    **options: Any,
) -> SupervisorService:
    service = make_service(embedder, client, entries, index=index, **options)
    await service.load_cards()
    return service


# -- circuit breaker ------------------------------------------------------------------------


def test_breaker_opens_probes_and_closes() -> None:
    now = [0.0]
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(
        "x",
        failure_threshold=3,
        reset_timeout_s=5.0,
        clock=lambda: now[0],
        on_change=lambda _, s: changes.append(s),
    )

    def state() -> BreakerState:  # read afresh each time: the clock moves it
        return breaker.state

    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert state() is BreakerState.CLOSED
    breaker.record_success()  # a success resets the count: failures must be consecutive
    for _ in range(3):
        assert breaker.allow()
        breaker.record_failure()
    assert state() is BreakerState.OPEN and not breaker.allow()
    assert breaker.retry_after_s == pytest.approx(5.0)
    now[0] = 5.0
    assert breaker.allow()  # one half-open probe...
    assert not breaker.allow()  # ...and only one
    breaker.record_failure()  # the probe failed: open again
    assert state() is BreakerState.OPEN
    now[0] = 10.0
    assert breaker.allow()
    breaker.record_success()
    assert state() is BreakerState.CLOSED
    assert changes == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


async def test_down_agent_escalates_and_its_breaker_stops_calls(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient(failures={"billing": errors.Unavailable("billing is down")})
    published: list[tuple[str, BreakerState]] = []

    async def health(agent: str, state: BreakerState) -> None:
        published.append((agent, state))

    service = await _service(
        embedder,
        entries,
        card_index,
        client,
        breaker_policy=BreakerPolicy(failure_threshold=2, reset_timeout_s=0.3),
        breaker_health=health,
    )
    for _ in range(4):
        result = await service.ask(AskInput(text=BILLING_TEXT), timeout=5.0)
        # a stated end state, never a guess: handed to a person, routing kept for the record
        assert result.outcome is Outcome.ESCALATED
        assert result.route.agent == "billing" and "unavailable" in result.answer
    assert len(client.invocations) == 2  # open after 2 failures: the other 2 never called
    assert service.breaker_states()["billing"] is BreakerState.OPEN
    assert published == [("billing", BreakerState.OPEN)]

    client.failures.clear()  # the agent is back
    await asyncio.sleep(0.35)
    result = await service.ask(AskInput(text=BILLING_TEXT), timeout=5.0)
    assert result.outcome is Outcome.ANSWERED  # the half-open probe succeeded
    assert service.breaker_states()["billing"] is BreakerState.CLOSED
    assert published[-1] == ("billing", BreakerState.CLOSED)


async def test_caller_mistakes_do_not_open_the_breaker(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient(failures={"billing": errors.InvalidRequest("bad embedding")})
    service = await _service(
        embedder, entries, card_index, client, breaker_policy=BreakerPolicy(failure_threshold=1)
    )
    for _ in range(3):
        with pytest.raises(errors.InvalidRequest):
            await service.ask(AskInput(text=BILLING_TEXT), timeout=5.0)
    assert service.breaker_states()["billing"] is BreakerState.CLOSED
    assert len(client.invocations) == 3


# -- screening ------------------------------------------------------------------------------


async def test_blocked_text_is_refused_before_any_agent_runs(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    screener = FixedScreener(Screening(True, False, 1.0, "rule:ignore_instructions"))
    service = await _service(embedder, entries, card_index, client, screener=screener)
    result = await service.ask(AskInput(text=BILLING_TEXT), timeout=5.0)
    assert result.outcome is Outcome.REFUSED and result.agent == ""
    assert result.route.blocked and result.route.method == Method.BLOCKED
    assert result.route.block_reason == "rule:ignore_instructions"
    assert client.invocations == []
    # the routing embedding is reused for screening
    assert screener.seen == [(BILLING_TEXT, True)]
    # naming an agent does not get around it
    named = await service.ask(AskInput(text=BILLING_TEXT, agent="billing"), timeout=5.0)
    assert named.outcome is Outcome.REFUSED and client.invocations == []
    decision = await service.route(BILLING_TEXT)
    assert decision.blocked and decision.agent is None


async def test_borderline_text_reaches_the_agent_under_its_guard_prompt(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    screener = FixedScreener(Screening(False, True, 0.4, "classifier:0.40 (borderline)"))
    service = await _service(embedder, entries, card_index, client, screener=screener)
    result = await service.ask(AskInput(text=BILLING_TEXT, metadata={"tier": "pro"}), timeout=5)
    assert result.outcome is Outcome.ANSWERED
    request = client.invocations[0][1]
    assert request.metadata == {"tier": "pro", GUARD_METADATA_KEY: "suspicious"}


# -- budgets --------------------------------------------------------------------------------


async def test_budget_travels_to_the_agent_minus_a_hop(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    service = await _service(
        embedder, entries, card_index, client, default_budget=Budget(tokens=5000, hops=3)
    )
    await service.ask(AskInput(text=BILLING_TEXT, budget=Budget(tokens=800, hops=5)), timeout=5)
    sent = client.invocations[0][1].budget
    # the tighter of the caller's wishes and the server's limits, one hop spent
    assert sent == Budget(tokens=800, cost_usd=None, hops=2)


async def test_no_hops_left_is_resource_exhausted(
    embedder: MiniLMEmbedder, entries: list[AgentEntry], card_index: EmbeddingIndex
) -> None:
    client = FakeAgentClient()
    service = await _service(embedder, entries, card_index, client)
    with pytest.raises(errors.ResourceExhausted, match="hop budget"):
        await service.ask(AskInput(text=BILLING_TEXT, budget=Budget(hops=0)), timeout=5.0)
    assert client.invocations == []
