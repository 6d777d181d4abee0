"""Finding 1 (high): a tenant could act on another tenant's end customers.

Reproduces the attack over real gRPC (supervisor and billing agent in this process, auth on,
the demo backend, whose customers belong to tenants ``acme`` and ``bluefin``): tenant bluefin
sends acme's ``customer_id``. Now every path fails safe with PERMISSION_DENIED, audited, and
the agent's circuit breaker does not count the refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.tools import DemoBackend, brightlane_tools
from switchboard.agent.tools.ownership import CustomerOwnership
from switchboard.agent.tools.registry import ToolContext
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.audit import AuditKind
from switchboard.core.auth import CustomerDenied, TokenEntry, TokenTable
from switchboard.core.breaker import BreakerState
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.store import Store
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc
from tests.fakes.audit import AuditRecorder
from tests.harness.stack import Credentials, cached_guard, served_agent, served_supervisor
from tests.harness.stack import small_store as build_small_store
from tests.harness.store import open_sqlite_store

ACME_CUSTOMER, BLUEFIN_CUSTOMER = "cus_demo_acme", "cus_demo_bluefin"
DOCS = ("refund-policy.md", "invoices-and-receipts.md")


@dataclass
class TwoTenants(Credentials):
    """acme (its token lists no customers: the backend decides) and bluefin, whose token
    lists its customers explicitly."""

    other_token: str = field(default_factory=lambda: secrets.token_hex(24))

    def tokens(self) -> TokenTable:
        return TokenTable(
            [
                TokenEntry.model_validate({"tenant": "acme", "token": self.token}),
                TokenEntry.model_validate(
                    {
                        "tenant": "bluefin",
                        "token": self.other_token,
                        "customers": [BLUEFIN_CUSTOMER],
                    }
                ),
            ]
        )


@dataclass
class Stack:
    supervisor: SupervisorApp
    db: Store
    creds: TwoTenants
    backend: DemoBackend

    async def ask(
        self, text: str, *, token: str, customer: str, confirm: str = ""
    ) -> supervisor_pb2.AskResponse:
        async with grpc.aio.insecure_channel(self.supervisor.address) as channel:
            reply: supervisor_pb2.AskResponse = await supervisor_pb2_grpc.SupervisorStub(
                channel
            ).Ask(
                supervisor_pb2.AskRequest(
                    text=text,
                    agent="billing",
                    confirm_action=confirm,
                    metadata={"customer_id": customer},
                ),
                metadata=[("authorization", f"Bearer {token}")],
                timeout=30,
            )
        return reply


@pytest.fixture
async def stack(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    agent_configs: dict[str, AgentConfig],
    agent_cards: list[AgentCard],
    card_index: EmbeddingIndex,
) -> AsyncIterator[Stack]:
    creds = TwoTenants()
    backend = DemoBackend.load()
    billing = agent_configs["billing"]
    async with contextlib.AsyncExitStack() as exits:
        db = await open_sqlite_store(tmp_path)
        exits.push_async_callback(db.close)
        guard = cached_guard(embedder)
        agent = await exits.enter_async_context(
            served_agent(
                billing,
                build_small_store(billing, embedder, tmp_path, DOCS),
                workdir=tmp_path / "billing",
                embedder=embedder,
                guard=guard,
                backend=backend,
                db=db,
                creds=creds,
            )
        )
        supervisor = await exits.enter_async_context(
            served_supervisor(
                [c for c in agent_cards if c.name == "billing"],
                {"billing": agent.address},
                workdir=tmp_path / "supervisor",
                embedder=embedder,
                index=card_index,
                guard=guard,
                db=db,
                creds=creds,
                breaker_failure_threshold=2,
            )
        )
        yield Stack(supervisor, db, creds, backend)


async def wait_for_rows(db: Store, kind: AuditKind, count: int) -> list[object]:
    """The audit writer batches off the request path: poll briefly for ``count`` rows."""
    rows: list[object] = []
    for _ in range(50):
        rows = list(await db.audit.query(kind=kind, limit=100))
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    return rows


async def test_a_tenant_cannot_read_another_tenants_customer(stack: Stack) -> None:
    # The attack: acme's token, bluefin's customer (the backend says bluefin owns it).
    for _ in range(3):  # more than the breaker threshold (2): refusals are not outages
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.ask(
                "List my invoices please", token=stack.creds.token, customer=BLUEFIN_CUSTOMER
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "may not act for customer 'cus_demo_bluefin'" in (caught.value.details() or "")
    assert stack.supervisor.service.gateway.breakers["billing"].state is BreakerState.CLOSED
    rows = await wait_for_rows(stack.db, AuditKind.AUTH_FAILURE, 6)
    reasons = {(r.agent, r.detail.get("reason")) for r in rows}  # type: ignore[attr-defined]
    assert ("billing", "customer_not_owned") in reasons  # the agent's own check
    assert (None, "customer_not_owned") in reasons  # and the supervisor's audit of the error
    # The owner still gets its answer.
    ok = await stack.ask(
        "Where can I download my invoices?", token=stack.creds.token, customer=ACME_CUSTOMER
    )
    assert ok.agent == "billing"


async def test_unknown_customer_is_refused_too(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.ask("List my invoices", token=stack.creds.token, customer="cus_nobody")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_token_listing_its_customers_is_checked_at_the_supervisor(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.ask(
            "Refund invoice BL-2025-004218 because duplicate",
            token=stack.creds.other_token,
            customer=ACME_CUSTOMER,
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    rows = await wait_for_rows(stack.db, AuditKind.AUTH_FAILURE, 1)
    assert any(
        r.tenant == "bluefin" and r.detail.get("customer_id") == ACME_CUSTOMER  # type: ignore[attr-defined]
        for r in rows
    )
    assert stack.backend.effects == []


async def test_a_refund_proposed_for_a_foreign_customer_cannot_be_confirmed(
    tmp_path: Path,
) -> None:
    """A confirmation whose signed claims name a customer the tenant does not own (signed
    before ownership was checked, say) is refused before the tool runs."""
    backend = DemoBackend.load()
    audit = AuditRecorder()
    creds = Credentials()
    db = await open_sqlite_store(tmp_path)
    try:
        runner = ToolRunner(
            brightlane_tools(backend).select(["request_refund"]),
            agent="billing",
            signer=creds.signer(),
            audit=audit,
            effects=db.effects,
            ownership=CustomerOwnership(backend),
        )
        token = creds.signer().sign(
            agent="billing",
            tool="request_refund",
            args={"invoice_id": "BL-2025-004218", "reason": "charged twice"},
            tenant="bluefin",
            customer_id=ACME_CUSTOMER,
            step=1,
        )
        ctx = ToolContext("r1", "bluefin", ACME_CUSTOMER, "billing")
        with pytest.raises(CustomerDenied):
            await runner.confirm(token, ctx, timeout=5)
    finally:
        await db.close()
    assert backend.effects == []
    (denied,) = audit.of(AuditKind.AUTH_FAILURE)
    assert denied.detail["stage"] == "confirmation"
    assert denied.detail["reason"] == "customer_not_owned"


async def test_ownership_sources_must_agree() -> None:
    backend = DemoBackend.load()
    own = CustomerOwnership(backend, {"acme": frozenset({ACME_CUSTOMER, "cus_listed_only"})})
    await own.check("acme", ACME_CUSTOMER)  # both sources agree
    await own.check("acme", "cus_listed_only")  # configured, unknown to the backend
    await own.check("", BLUEFIN_CUSTOMER)  # an open service has no tenants to keep apart
    for tenant, customer in [
        ("acme", BLUEFIN_CUSTOMER),  # listed list of acme lacks it (and the backend says no)
        ("bluefin", "cus_listed_only"),  # configured for acme
        ("bluefin", ACME_CUSTOMER),
        ("globex", "cus_unknown"),  # nobody says globex owns it
    ]:
        with pytest.raises(CustomerDenied):
            await own.check(tenant, customer)
    conflicted = CustomerOwnership(backend, {"bluefin": frozenset({ACME_CUSTOMER})})
    with pytest.raises(CustomerDenied):  # the backend says acme: the sources disagree
        await conflicted.check("bluefin", ACME_CUSTOMER)


def test_a_customer_listed_for_two_tenants_is_a_configuration_error() -> None:
    from switchboard.core.errors import ConfigurationError

    table = TokenTable(
        [
            TokenEntry.model_validate({"tenant": "a", "token": "x" * 20, "customers": ["c1"]}),
            TokenEntry.model_validate({"tenant": "b", "token": "y" * 20, "customers": ["c1"]}),
        ]
    )
    with pytest.raises(ConfigurationError, match="belongs to one tenant"):
        table.customer_lists()
