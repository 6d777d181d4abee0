"""A billing and a support agent and a supervisor over real gRPC with caller, reviewer and
admin tokens, sharing one SQLite file so the whole stack can be stopped and started again
(a restart) with every review item kept. Used by the human-loop tests and the console's
browser test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from switchboard.agent.config import AgentConfig, ApprovalPolicy
from switchboard.agent.tools import DemoBackend
from switchboard.core.audit import AuditKind
from switchboard.core.embeddings import Embedder
from switchboard.core.types import AgentCard
from switchboard.store import AuditRecord, Store
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import review_pb2_grpc, supervisor_pb2, supervisor_pb2_grpc
from tests.harness.stack import (
    Credentials,
    cached_guard,
    served_agent,
    served_supervisor,
    small_store,
)
from tests.harness.store import open_sqlite_store

AGENTS = ("billing", "support")
CUSTOMER = "cus_demo_acme"
#: Refunds above this need a reviewer (the demo's refundable invoices are $2,400).
REVIEW_ABOVE_USD = 100.0
OFF_TOPIC = "How long should I proof sourdough bread before baking it?"


@dataclass
class Stack:
    creds: Credentials
    supervisor: SupervisorApp
    db: Store

    @property
    def address(self) -> str:
        return self.supervisor.address

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.address)

    async def audit(self, kind: AuditKind, outcome: str | None = None) -> list[AuditRecord]:
        """Audit rows of ``kind`` once the batched writer has settled (the count held still
        for three polls in a row), so a test never reads a batch half-written."""
        rows: list[AuditRecord] = []
        steady = 0
        for _ in range(100):
            latest = [
                r
                for r in await self.db.audit.query(kind=kind, limit=1000)
                if outcome is None or r.outcome == outcome
            ]
            steady = steady + 1 if latest and len(latest) == len(rows) else 0
            rows = latest
            if steady >= 3:
                break
            await asyncio.sleep(0.1)
        return rows


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@contextlib.asynccontextmanager
async def review_stack(
    tmp_path: Path,
    *,
    embedder: Embedder,
    configs: dict[str, AgentConfig],
    cards: list[AgentCard],
    index: EmbeddingIndex,
    creds: Credentials,
    **settings: Any,
) -> AsyncIterator[Stack]:
    """Starts the stack on ``tmp_path``'s store; leaving stops every part (a restart is
    leaving and entering again with the same ``tmp_path`` and ``creds``)."""
    guard = await asyncio.to_thread(cached_guard, embedder)
    billing = configs["billing"].model_copy(
        update={"approvals": {"request_refund": ApprovalPolicy(above_usd=REVIEW_ABOVE_USD)}}
    )
    chosen = {"billing": billing, "support": configs["support"]}
    settings.setdefault("review_sample_rate", 0.0)
    async with contextlib.AsyncExitStack() as stack:
        db = await open_sqlite_store(tmp_path)
        stack.push_async_callback(db.close)
        agent_db = await open_sqlite_store(tmp_path)
        stack.push_async_callback(agent_db.close)
        addresses = {}
        for name in AGENTS:
            vectors = await asyncio.to_thread(
                small_store, configs[name], embedder, tmp_path / "kb", ()
            )
            app = await stack.enter_async_context(
                served_agent(
                    chosen[name],
                    vectors,
                    workdir=tmp_path / name,
                    embedder=embedder,
                    guard=guard,
                    backend=DemoBackend.load(None),
                    db=agent_db,
                    creds=creds,
                )
            )
            addresses[name] = app.address
        supervisor = await stack.enter_async_context(
            served_supervisor(
                [c for c in cards if c.name in AGENTS],
                addresses,
                workdir=tmp_path / "supervisor",
                embedder=embedder,
                index=index,
                guard=guard,
                db=db,
                creds=creds,
                **settings,
            )
        )
        yield Stack(creds, supervisor, db)


async def ask(
    stack: Stack,
    text: str,
    request_id: str,
    *,
    agent: str = "",
    token: str | None = None,
    **kw: Any,
) -> supervisor_pb2.AskResponse:
    async with stack.channel() as channel:
        reply: supervisor_pb2.AskResponse = await supervisor_pb2_grpc.SupervisorStub(channel).Ask(
            supervisor_pb2.AskRequest(
                request_id=request_id,
                text=text,
                agent=agent,
                metadata={"customer_id": CUSTOMER},
                **kw,
            ),
            metadata=bearer(token or stack.creds.token),
            timeout=30,
        )
    return reply


async def get_result(
    stack: Stack, request_id: str, *, token: str | None = None
) -> supervisor_pb2.AskResponse:
    async with stack.channel() as channel:
        result: supervisor_pb2.AskResponse = await supervisor_pb2_grpc.SupervisorStub(
            channel
        ).GetResult(
            supervisor_pb2.GetResultRequest(request_id=request_id),
            metadata=bearer(token or stack.creds.token),
            timeout=10,
        )
    return result


async def review(stack: Stack, method: str, request: Any, *, token: str | None = None) -> Any:
    """One Review RPC (a reviewer of the caller's tenant unless ``token`` is given)."""
    async with stack.channel() as channel:
        stub = review_pb2_grpc.ReviewStub(channel)
        call = getattr(stub, method)
        return await call(request, metadata=bearer(token or stack.creds.reviewer_token), timeout=30)
