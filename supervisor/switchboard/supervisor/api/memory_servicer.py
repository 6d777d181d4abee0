"""gRPC face of the Memory service: proto in, one call to the memory desk, proto out."""

from __future__ import annotations

from typing import Any

import grpc

from switchboard.core.auth import ANONYMOUS, Principal, current_principal
from switchboard.core.grpc_errors import grpc_method
from switchboard.store.conversations import ConversationListing
from switchboard.supervisor.api.convert import timestamp
from switchboard.supervisor.memory.erasure import MemoryDesk
from switchboard.v1 import memory_pb2

Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_TURNS, MAX_TURNS = 20, 200


def _principal() -> Principal:
    return current_principal() or ANONYMOUS


def session_to_proto(s: ConversationListing) -> memory_pb2.MemorySession:
    return memory_pb2.MemorySession(
        session_id=s.session_id,
        turns=s.turns,
        summary=s.summary,
        updated_at=timestamp(s.updated_at),
        expires_at=timestamp(s.expires_at),
        recent=[
            memory_pb2.MemoryTurn(
                seq=t.seq,
                user=t.user_text,
                answer=t.answer,
                agent=t.agent,
                status=t.status,
                created_at=timestamp(t.created_at),
                request_id=t.request_id,
            )
            for t in s.recent
        ],
    )


class MemoryServicer:
    def __init__(self, desk: MemoryDesk) -> None:
        self._desk = desk

    @grpc_method
    async def ListMemories(  # noqa: N802 - gRPC method name
        self, request: memory_pb2.ListMemoriesRequest, context: Context
    ) -> memory_pb2.ListMemoriesResponse:
        principal = _principal()
        tenant = self._desk.tenant_of(principal, request.tenant)
        turns = min(request.max_turns or DEFAULT_TURNS, MAX_TURNS)
        found, facts = await self._desk.list_user(
            principal, tenant, request.user_id, max_turns=turns
        )
        return memory_pb2.ListMemoriesResponse(
            sessions=[session_to_proto(s) for s in found],
            facts=[
                memory_pb2.MemoryFact(
                    text=f.fact,
                    source_session=f.source_session,
                    source_request=f.source_request,
                    created_at=timestamp(f.created_at),
                    expires_at=timestamp(f.expires_at),
                )
                for f in facts
            ],
        )

    @grpc_method
    async def ForgetSession(  # noqa: N802 - gRPC method name
        self, request: memory_pb2.ForgetSessionRequest, context: Context
    ) -> memory_pb2.ForgetResponse:
        principal = _principal()
        tenant = self._desk.tenant_of(principal, request.tenant)
        erased = await self._desk.forget_session(principal, tenant, request.session_id)
        return memory_pb2.ForgetResponse(rows_deleted=erased.rows, sessions=erased.sessions)

    @grpc_method
    async def ForgetUser(  # noqa: N802 - gRPC method name
        self, request: memory_pb2.ForgetUserRequest, context: Context
    ) -> memory_pb2.ForgetResponse:
        principal = _principal()
        tenant = self._desk.tenant_of(principal, request.tenant)
        erased = await self._desk.forget_user(principal, tenant, request.user_id)
        return memory_pb2.ForgetResponse(rows_deleted=erased.rows, sessions=erased.sessions)
