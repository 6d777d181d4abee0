"""The supervisor under failing agents and hostile input: breakers, escalation, screening,
budgets. Uses the fake agent client; the real processes are covered in tests/system."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchboard.core import errors
from switchboard.core.breaker import BreakerState, CircuitBreaker
from switchboard.core.budget import Budget
from switchboard.core.embeddings import MiniLMEmbedder, Vector
from switchboard.core.types import AgentCard, Outcome, Screening
from switchboard.guard import Guard, GuardSettings, Verdict
from switchboard.guard.classifier import GuardClassifier, TrainingConfig
from switchboard.guard.linear import LogisticModel
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.router import Method
from tests.fakes.agents import FakeAgentClient
from tests.harness import apps

BILLING_TEXT = "Where can I download my invoices?"


@pytest.fixture
def entries(agent_cards: list[AgentCard]) -> list[AgentEntry]:
    return apps.entries(agent_cards)


class FixedGuard(Guard):
    """A guard whose verdict on the caller's text is fixed; records what it screened."""

    def __init__(self, verdict: Verdict, embedder: MiniLMEmbedder, threshold: float = 0.8) -> None:
        zeros = np.zeros(1, np.float32)
        classifier = GuardClassifier(
            model=LogisticModel(zeros, zeros, 0.0),
            config=TrainingConfig(),
            user_threshold=threshold,
            indirect_threshold=threshold,
        )
        super().__init__(classifier, embedder)
        self.verdict = verdict
        self.seen: list[tuple[str, bool]] = []

    def screen_user(self, text: str, vector: Vector | None = None) -> Verdict:
        self.seen.append((text, vector is not None))
        return self.verdict


@contextlib.asynccontextmanager
async def supervisor(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agents: Sequence[AgentEntry],
    card_index: EmbeddingIndex,
    client: FakeAgentClient,
    *,
    guard: Guard | None = None,
    serve: bool = False,
    **values: Any,
) -> AsyncIterator[SupervisorApp]:
    """A supervisor over ``client``; ``values`` are SupervisorSettings values."""
    if guard is not None:
        values.setdefault("guard", GuardSettings())  # screening on, with the given guard
    async with apps.supervisor(
        tmp_path,
        agents,
        settings=apps.supervisor_settings(tmp_path, **values),
        serve=serve,
        embedder=embedder,
        card_index=card_index,
        agent_client=client,
        guard=guard,
    ) as app:
        yield app


async def agent_health(app: SupervisorApp, agent: str) -> Any:
    """The agent's health as the supervisor publishes it (its breaker: open is NOT_SERVING)."""
    async with grpc.aio.insecure_channel(app.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=f"switchboard.v1.Agent/{agent}"), timeout=5.0
        )
    return reply.status


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
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient(failures={"billing": errors.Unavailable("billing is down")})
    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    async with supervisor(
        tmp_path,
        embedder,
        entries,
        card_index,
        client,
        serve=True,  # breakers are published as gRPC health
        breaker_failure_threshold=2,
        breaker_reset_s=0.3,
    ) as app:
        breakers = app.service.gateway
        assert await agent_health(app, "billing") == serving
        for i in range(4):
            retried = "first-try" if i == 0 else ""  # a caller-chosen id: retried below
            result = await apps.ask(app, BILLING_TEXT, request_id=retried, timeout=5.0)
            # a stated end state, never a guess: handed to a person, routing kept for the record
            assert result.outcome is Outcome.ESCALATED
            assert result.route.agent == "billing" and "unavailable" in result.answer
        assert len(client.invocations) == 2  # open after 2 failures: the other 2 never called
        assert breakers.breaker_states()["billing"] is BreakerState.OPEN
        assert await agent_health(app, "billing") == not_serving
        assert await agent_health(app, "account") == serving  # only the failing agent's

        client.failures.clear()  # the agent is back
        await asyncio.sleep(0.35)
        # the caller's retry of the escalated request is answered afresh, not replayed: an
        # escalation because the agent was down is not the request's final outcome
        result = await apps.ask(app, BILLING_TEXT, request_id="first-try", timeout=5.0)
        assert result.outcome is Outcome.ANSWERED  # the half-open probe succeeded
        assert breakers.breaker_states()["billing"] is BreakerState.CLOSED
        assert await agent_health(app, "billing") == serving


async def test_caller_mistakes_do_not_open_the_breaker(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient(failures={"billing": errors.InvalidRequest("bad embedding")})
    async with supervisor(
        tmp_path, embedder, entries, card_index, client, breaker_failure_threshold=1
    ) as app:
        for _ in range(3):
            with pytest.raises(errors.InvalidRequest):
                await apps.ask(app, BILLING_TEXT, timeout=5.0)
        assert app.service.gateway.breaker_states()["billing"] is BreakerState.CLOSED
    assert len(client.invocations) == 3


# -- screening ------------------------------------------------------------------------------


async def test_blocked_text_is_refused_before_any_agent_runs(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    guard = FixedGuard(Verdict(True, 1.0, "rule:ignore_instructions", "user"), embedder)
    async with supervisor(tmp_path, embedder, entries, card_index, client, guard=guard) as app:
        result = await apps.ask(app, BILLING_TEXT, timeout=5.0)
        assert result.outcome is Outcome.REFUSED and result.agent == ""
        assert result.route.blocked and result.route.method == Method.BLOCKED
        assert result.route.block_reason == "rule:ignore_instructions"
        assert client.invocations == []
        # the routing embedding is reused for screening
        assert guard.seen == [(BILLING_TEXT, True)]
        # naming an agent does not get around it
        named = await apps.ask(app, BILLING_TEXT, agent="billing", timeout=5.0)
        assert named.outcome is Outcome.REFUSED and client.invocations == []
        decision = await app.service.route(BILLING_TEXT, apps.context(app))
        assert decision.blocked and decision.agent is None


async def test_borderline_text_reaches_the_agent_under_its_guard_prompt(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    # 0.4 is below the guard's threshold (0.8) but within its suspicious band (half of it)
    guard = FixedGuard(Verdict(False, 0.4, "", "user"), embedder, threshold=0.8)
    async with supervisor(tmp_path, embedder, entries, card_index, client, guard=guard) as app:
        result = await apps.ask(app, BILLING_TEXT, metadata={"tier": "pro"}, timeout=5)
    assert result.outcome is Outcome.ANSWERED
    request = client.invocations[0][1]
    # the verdict travels as its own field; the caller's metadata is passed on untouched
    assert request.screening is Screening.SUSPICIOUS
    assert request.metadata == {"tier": "pro"}


# -- budgets --------------------------------------------------------------------------------


async def test_budget_travels_to_the_agent_minus_a_hop(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(
        tmp_path, embedder, entries, card_index, client, budget_tokens=5000, budget_hops=3
    ) as app:
        await apps.ask(app, BILLING_TEXT, budget=Budget(tokens=800, hops=5), timeout=5)
    sent = client.invocations[0][2].budget
    # the tighter of the caller's wishes and the server's limits, one hop spent
    assert sent == Budget(tokens=800, cost_usd=None, hops=2)


async def test_no_hops_left_is_resource_exhausted(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    entries: list[AgentEntry],
    card_index: EmbeddingIndex,
) -> None:
    client = FakeAgentClient()
    async with supervisor(tmp_path, embedder, entries, card_index, client) as app:
        with pytest.raises(errors.ResourceExhausted, match="hop budget"):
            await apps.ask(app, BILLING_TEXT, budget=Budget(hops=0), timeout=5.0)
    assert client.invocations == []
