"""An agent client that never leaves the process: the supervisor's calls go straight to
agent runtimes built by their composition root (evaluations, bench, tests).

Each request makes the same proto round trip as over gRPC (``invoke_request_to_proto`` then
``invoke_request_from_proto``), so what an agent receives is exactly what the wire carries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from switchboard.agent.answering.streaming import AnswerStream
from switchboard.agent.app import AgentApp
from switchboard.core import errors
from switchboard.core.context import Deadline, RequestContext
from switchboard.core.streaming import AnswerEvents
from switchboard.core.types import AgentAnswer, AgentCard, AgentRequest
from switchboard.core.wire import invoke_request_from_proto, invoke_request_to_proto


class InProcessAgentClient:
    def __init__(self, agents: Mapping[str, AgentApp], cards: Mapping[str, AgentCard]) -> None:
        self._agents = dict(agents)
        self._cards = dict(cards)
        self.requests: list[tuple[str, AgentRequest]] = []  # as the agents received them

    async def invoke(
        self, agent: str, request: AgentRequest, ctx: RequestContext, *, timeout: float
    ) -> AgentAnswer:
        app = self._agents.get(agent)
        if app is None:
            raise errors.Unavailable(f"agent {agent!r} is not running in this process")
        received = invoke_request_from_proto(invoke_request_to_proto(request, ctx))
        self.requests.append((agent, received))
        agent_ctx = dataclasses.replace(ctx, principal=None, deadline=Deadline.after(timeout))
        return await app.runtime.answer(agent_ctx, received)

    async def invoke_stream(
        self,
        agent: str,
        request: AgentRequest,
        ctx: RequestContext,
        *,
        timeout: float,
        events: AnswerEvents,
    ) -> AgentAnswer:
        """``invoke``, streamed as the agent's servicer streams it (no gRPC in between)."""
        app = self._agents.get(agent)
        if app is None:
            raise errors.Unavailable(f"agent {agent!r} is not running in this process")
        received = invoke_request_from_proto(invoke_request_to_proto(request, ctx))
        self.requests.append((agent, received))
        agent_ctx = dataclasses.replace(ctx, principal=None, deadline=Deadline.after(timeout))
        stream = AnswerStream(events.emit)
        answer = await app.runtime.answer(agent_ctx, received, stream)
        await stream.finish(answer)
        return answer

    async def describe(self, agent: str, *, timeout: float) -> AgentCard:
        if agent not in self._cards:
            raise errors.Unavailable(f"agent {agent!r} is not running in this process")
        return self._cards[agent]

    async def close(self) -> None:
        return None
