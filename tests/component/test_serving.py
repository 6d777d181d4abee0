"""The generic handler serves what a servicer defines and answers UNIMPLEMENTED for the rest."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from switchboard.core.serving import start_grpc
from switchboard.v1 import agent_pb2, agent_pb2_grpc, common_pb2


class DescribeOnly:
    async def Describe(self, request: Any, context: Any) -> common_pb2.AgentCard:  # noqa: N802
        return common_pb2.AgentCard(name="billing", description="d")


async def test_methods_a_servicer_lacks_answer_unimplemented() -> None:
    service = await start_grpc(
        [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], DescribeOnly())],
        host="127.0.0.1",
        port=0,
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = agent_pb2_grpc.AgentStub(channel)
            card = await stub.Describe(agent_pb2.DescribeRequest(), timeout=5)
            assert card.name == "billing"
            with pytest.raises(grpc.aio.AioRpcError) as unary:
                await stub.Invoke(agent_pb2.InvokeRequest(text="hi"), timeout=5)
            assert unary.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert "Invoke is not served here" in (unary.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError) as streamed:
                await stub.InvokeStream(agent_pb2.InvokeRequest(text="hi"), timeout=5).read()
            assert streamed.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await service.stop(0)
