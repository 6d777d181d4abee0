"""Finding 4, the supervisor's side: an agent that fails on a request is not an agent outage.

An agent answering INTERNAL (a bug, or before the fix, a malformed provider response) used to
count against its circuit breaker like a transport failure: five of them and every tenant was
escalated for 10 s. Now only transport failures and timeouts count; the request itself is
escalated (and not stored for replay).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from switchboard.core.breaker import BreakerState
from switchboard.core.context import RequestContext
from switchboard.core.errors import Unavailable
from switchboard.core.serving import GrpcService, start_grpc
from switchboard.core.types import AgentRequest
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.gateway.agents import AgentGateway, BreakerPolicy
from switchboard.supervisor.gateway.client import AgentFault, GrpcAgentClient
from switchboard.v1 import agent_pb2, common_pb2


class FailingAgent:
    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code

    async def Invoke(self, request: Any, context: Any) -> agent_pb2.InvokeResponse:  # noqa: N802
        await context.abort(self.code, "internal error; the failure has been logged")
        raise AssertionError("unreachable")

    async def Describe(self, request: Any, context: Any) -> common_pb2.AgentCard:  # noqa: N802
        return common_pb2.AgentCard(name="billing", description="d")


@pytest.fixture
async def agent() -> AsyncIterator[tuple[GrpcService, FailingAgent]]:
    servicer = FailingAgent(grpc.StatusCode.INTERNAL)
    server = await start_grpc(
        [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], servicer)], host="127.0.0.1", port=0
    )
    yield server, servicer
    await server.stop(0)


async def _nothing(_cards: Any) -> None:
    return None


async def test_internal_errors_do_not_open_the_agents_breaker(
    agent: tuple[GrpcService, FailingAgent],
) -> None:
    server, servicer = agent
    client = GrpcAgentClient({"billing": f"127.0.0.1:{server.port}"})
    gateway = AgentGateway(
        [AgentEntry(name="billing", address=f"127.0.0.1:{server.port}")],
        client,
        on_cards=_nothing,
        breakers=BreakerPolicy(failure_threshold=2),
    )
    ctx = RequestContext(request_id="r1")
    try:
        for _ in range(5):
            with pytest.raises(AgentFault):  # an Unavailable: the request is escalated
                await gateway.invoke("billing", AgentRequest(text="refund?"), ctx)
        breaker = gateway.breakers["billing"]
        assert breaker.state is BreakerState.CLOSED
        servicer.code = grpc.StatusCode.UNAVAILABLE  # a real outage still counts
        for _ in range(2):
            with pytest.raises(Unavailable) as caught:
                await gateway.invoke("billing", AgentRequest(text="refund?"), ctx)
            assert not isinstance(caught.value, AgentFault)
        assert str(breaker.state) == str(BreakerState.OPEN)  # read afresh: the calls moved it
    finally:
        await gateway.close()
