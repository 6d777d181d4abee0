"""The supervisor's side of every agent: cards, circuit breakers, calls and their health.

All calls to agents go through :meth:`AgentGateway.invoke`: it gives the call the caller's
remaining time less a margin (capped at the agent timeout), refuses at once while the agent's
breaker is open, wraps the call in an ``invoke_agent {name}`` client span, and counts only
failures that say something about the agent (transport failures and timeouts it had time
for) against its breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from opentelemetry import trace

from switchboard.core import errors
from switchboard.core.action_ids import action_agent
from switchboard.core.breaker import BreakerMetrics, BreakerState, CircuitBreaker, Publisher
from switchboard.core.context import RequestContext
from switchboard.core.genai import AGENT_NAME, INPUT_TOKENS, OPERATION, OUTPUT_TOKENS
from switchboard.core.telemetry import mark_error, tracer
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.gateway.client import AgentClient, AgentFault
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.streaming.events import PartEvents

log = logging.getLogger(__name__)

CARD_RETRY_INTERVAL_S = 5.0


@dataclass(frozen=True)
class BreakerPolicy:
    """When an agent counts as down, and what the caller gets while it is."""

    failure_threshold: int = 5
    reset_timeout_s: float = 10.0
    escalate_when_down: bool = True  # False: the caller gets UNAVAILABLE instead
    # A timeout counts against the agent only if it had at least this long: a caller's tight
    # deadline says nothing of the agent, and must not open its breaker for everyone.
    min_timeout_s: float = 1.0


@dataclass(frozen=True)
class CallPolicy:
    """How long an agent call may take."""

    agent_timeout_s: float = 20.0  # when the caller set no deadline
    deadline_margin_s: float = 0.05  # kept back from the caller's deadline for the reply
    describe_timeout_s: float = 2.0


@dataclass
class KnownAgent:
    entry: AgentEntry
    card: AgentCard | None
    card_source: str  # "inline", "describe" or ""


CardsChanged = Callable[[Sequence[AgentCard]], Awaitable[None]]


class AgentGateway:
    def __init__(
        self,
        entries: Sequence[AgentEntry],
        client: AgentClient,
        *,
        on_cards: CardsChanged,
        calls: CallPolicy | None = None,
        breakers: BreakerPolicy | None = None,
        metrics: SupervisorMetrics | None = None,
        breaker_metrics: BreakerMetrics | None = None,
        publish: Publisher | None = None,
    ) -> None:
        """``on_cards`` gets every known card whenever new ones arrive (the router refits);
        ``publish`` reports a breaker's new state (as gRPC health)."""
        self._agents = {
            e.name: KnownAgent(e, e.inline_card, "inline" if e.inline_card else "") for e in entries
        }
        self._client = client
        self._on_cards = on_cards
        self.calls = calls or CallPolicy()
        self.policy = breakers or BreakerPolicy()
        self._metrics = metrics or SupervisorMetrics()
        board = breaker_metrics or BreakerMetrics()
        self.breakers = {
            name: board.track(
                CircuitBreaker(
                    f"agent:{name}",
                    failure_threshold=self.policy.failure_threshold,
                    reset_timeout_s=self.policy.reset_timeout_s,
                    publish=_by_agent(name, publish) if publish else None,
                ),
                **{"switchboard.agent": name},
            )
            for name in self._agents
        }
        self._cards_lock = asyncio.Lock()
        self._last_card_attempt = float("-inf")
        self._fitted = False

    # -- what is known ---------------------------------------------------------------------

    def known(self) -> list[KnownAgent]:
        return list(self._agents.values())

    def names(self) -> list[str]:
        return list(self._agents)

    def card_names(self) -> list[str]:
        return [a.card.name for a in self._agents.values() if a.card]

    def breaker_states(self) -> dict[str, BreakerState]:
        return {name: b.state for name, b in self.breakers.items()}

    async def publish_all(self) -> None:
        """Publishes every breaker's state once (at start-up)."""
        for breaker in self.breakers.values():
            await breaker.publish(force=True)

    # -- cards -----------------------------------------------------------------------------

    async def load_cards(self) -> None:
        """Fetches missing cards with Describe, then has the router refit on what is known."""
        async with self._cards_lock:
            missing = [a for a in self._agents.values() if a.card is None]
            self._last_card_attempt = time.monotonic()
            results = await asyncio.gather(
                *(
                    self._client.describe(a.entry.name, timeout=self.calls.describe_timeout_s)
                    for a in missing
                ),
                return_exceptions=True,
            )
            fetched = 0
            for known, result in zip(missing, results, strict=True):
                if isinstance(result, AgentCard):
                    known.card, known.card_source = result, "describe"
                    fetched += 1
                else:
                    log.warning(
                        "agent card unavailable; will retry",
                        extra={"agent": known.entry.name, "error": str(result)},
                    )
            if fetched or not self._fitted:
                await self._on_cards([a.card for a in self._agents.values() if a.card])
                self._fitted = True

    async def ensure_cards(self) -> None:
        """Retries missing cards, at most every few seconds."""
        if all(a.card for a in self._agents.values()):
            return
        if time.monotonic() - self._last_card_attempt >= CARD_RETRY_INTERVAL_S:
            await self.load_cards()

    # -- calls -----------------------------------------------------------------------------

    def check_known(self, agent: str) -> None:
        if agent not in self._agents:
            known = ", ".join(sorted(self._agents))
            raise errors.NotFound(f"unknown agent {agent!r}; known agents: {known}")

    def confirmation_agent(self, confirm_action: str, named: str = "") -> str:
        """The agent that proposed the action being confirmed ("" when none is)."""
        if not confirm_action:
            return ""
        agent = action_agent(confirm_action)
        if agent is None or agent not in self._agents:
            raise errors.InvalidRequest(
                "confirm_action is not an action id this service issued; pass the "
                "pending_action.id from the NEEDS_CONFIRMATION answer unchanged"
            )
        if named and named != agent:
            raise errors.InvalidRequest(f"confirm_action belongs to agent {agent!r}, not {named!r}")
        return agent

    async def invoke(
        self,
        agent: str,
        request: AgentRequest,
        ctx: RequestContext,
        *,
        events: PartEvents | None = None,
    ) -> AgentAnswer:
        """One agent call within the request's deadline, in an ``invoke_agent`` span. With
        ``events`` (AskStream) the call is InvokeStream, its events relayed as they come."""
        timeout = ctx.deadline.child(
            self.calls.deadline_margin_s, cap=self.calls.agent_timeout_s
        ).timeout(f"agent {agent!r} could be called")
        assert timeout is not None  # capped
        with tracer().start_as_current_span(
            f"invoke_agent {agent}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                OPERATION: "invoke_agent",
                AGENT_NAME: agent,
                "server.address": self._agents[agent].entry.address,
                "switchboard.deadline_s": round(timeout, 3),
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            breaker = self.breakers[agent]
            if not breaker.allow():
                exc = errors.Unavailable(
                    f"agent {agent!r} is unavailable: its circuit breaker is open after "
                    f"repeated failures (next probe in {breaker.retry_after_s:.1f} s)"
                )
                mark_error(span, "CircuitOpen", exc.message)
                self._metrics.record_agent_call(agent, "CircuitOpen")
                raise exc
            try:
                if events is None:
                    answer = await self._client.invoke(agent, request, ctx, timeout=timeout)
                else:
                    await events.started()
                    answer = await self._client.invoke_stream(
                        agent, request, ctx, timeout=timeout, events=events
                    )
            except errors.SwitchboardError as exc:
                if self._counts_against_agent(exc, timeout):
                    await breaker.failed()
                else:
                    breaker.release_probe()  # the caller's mistake says nothing of the agent
                mark_error(span, type(exc).__name__, exc.message)
                self._metrics.record_agent_call(agent, type(exc).__name__)
                raise
            except BaseException:
                breaker.release_probe()
                raise
            await breaker.succeeded()
            span.set_attributes(
                {
                    INPUT_TOKENS: answer.usage.input_tokens,
                    OUTPUT_TOKENS: answer.usage.output_tokens,
                    "switchboard.status": answer.outcome.value,
                    "switchboard.mode": answer.mode.value,
                }
            )
            self._metrics.record_agent_call(agent)
            if events is not None:
                await events.answered(answer)
            return answer

    def _counts_against_agent(self, exc: errors.SwitchboardError, timeout: float) -> bool:
        """Transport failures, and timeouts the agent had time for; nothing the caller did,
        and no failure the agent reported itself (INTERNAL: a bug, not an outage)."""
        if isinstance(exc, AgentFault):
            return False
        if isinstance(exc, errors.Unavailable):
            return True
        return isinstance(exc, errors.DeadlineExceeded) and timeout >= self.policy.min_timeout_s

    async def close(self) -> None:
        await self._client.close()


def _by_agent(agent: str, publish: Publisher) -> Publisher:
    """The publisher called with the agent's name rather than the breaker's."""

    async def publish_agent(_name: str, state: BreakerState) -> None:
        await publish(agent, state)

    return publish_agent
