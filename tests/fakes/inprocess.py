"""The whole system in one process: real agent and supervisor gRPC servers on loopback port 0.

For tests that need real gRPC between the services (interceptors, credentials, deadlines,
retries, the request ledger over SQLite) but cannot afford starting processes and ingesting
every knowledge base: each agent retrieves from a small in-memory store built from a few of
its documents, and a fake LLM answers at once (and proposes a refund when asked to).
The wiring mirrors ``supervisor/server.py`` and ``agent/server.py``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from switchboard.agent.api.servicer import AgentServicer
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.runtime import AgentRuntime
from switchboard.agent.screening import PassageScreen
from switchboard.agent.tools import BrightlaneBackend, brightlane_tools
from switchboard.agent.tools.actions import ActionSigner
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.access import AccessInterceptor
from switchboard.core.auth import (
    CallerAuthenticator,
    ServiceAuthenticator,
    ServiceTokenIssuer,
    TokenEntry,
    TokenTable,
)
from switchboard.core.embeddings import Embedder
from switchboard.core.llm import Completion, Message, TokenUsage, ToolCall, ToolSpec
from switchboard.core.pricing import DEFAULT_PRICES
from switchboard.core.serving import GrpcService, start_grpc
from switchboard.core.textcheck import MetadataLimits
from switchboard.core.types import AgentCard
from switchboard.guard import Guard
from switchboard.store import AuditWriter, Store
from switchboard.supervisor.api.servicer import SupervisorServicer
from switchboard.supervisor.config import AgentEntry, SupervisorSettings
from switchboard.supervisor.gateway.client import GrpcAgentClient
from switchboard.supervisor.ledger import RequestLedger
from switchboard.supervisor.routing.router import EmbeddingIndex, Router
from switchboard.supervisor.screening import GuardScreener
from switchboard.supervisor.service import BreakerPolicy, SupervisorService
from switchboard.v1 import agent_pb2, supervisor_pb2

T = TypeVar("T")
REFUND_ASK = re.compile(r"refund invoice (BL-\d{4}-\d{6}) because ([\w-]+)")
#: How many of each agent's documents its in-memory store holds (few: embedding is slow).
DOCS_PER_AGENT = 4


class QuickLLM:
    """Plays Claude instantly: cites passage [1], or proposes ``request_refund`` when the
    question says "refund invoice BL-YYYY-NNNNNN because <reason>" and the tool is offered."""

    model = "claude-sonnet-4-6"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[Message],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        force_tool: str | None = None,
        timeout: float | None = None,
    ) -> Completion:
        self.calls += 1
        usage = TokenUsage(400, 30)
        first = messages[0].content
        asked = REFUND_ASK.search(first) if isinstance(first, str) else None
        if asked and len(messages) == 1 and any(t.name == "request_refund" for t in tools):
            call = ToolCall(
                id="toolu_1",
                name="request_refund",
                input={"invoice_id": asked[1], "reason": f"because {asked[2]}"},
            )
            return Completion("", self.model, "tool_use", usage, [call])
        return Completion("Here is what our documentation says [1].", self.model, "end_turn", usage)


def small_store(
    config: AgentConfig, embedder: Embedder, workdir: Path, docs: Sequence[str] = ()
) -> InMemoryStore:
    """An in-memory store holding ``docs`` (file names) or else the first few documents.

    Built once per process for each agent and set of documents (queries do not change it).
    """
    key = (config.name, tuple(docs))
    if key not in _STORES:
        _STORES[key] = _build_store(config, embedder, workdir, docs)
    return _STORES[key]


_STORES: dict[tuple[str, tuple[str, ...]], InMemoryStore] = {}


def _build_store(
    config: AgentConfig, embedder: Embedder, workdir: Path, docs: Sequence[str]
) -> InMemoryStore:
    folder = workdir / f"knowledge-{config.name}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [config.knowledge_dir / d for d in docs]
    for doc in paths or sorted(config.knowledge_dir.glob("*.md"))[:DOCS_PER_AGENT]:
        shutil.copy(doc, folder / doc.name)
    store = InMemoryStore()
    ingest(config.model_copy(update={"knowledge_dir": folder}), store, embedder)
    return store


@dataclass
class Credentials:
    """The service secret shared by the supervisor and its agents, and one tenant's token."""

    service_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    tenant: str = "acme"
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    action_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def bearer(self) -> tuple[str, str]:
        return ("authorization", f"Bearer {self.token}")

    def tokens(self) -> TokenTable:
        return TokenTable([TokenEntry.model_validate({"tenant": self.tenant, "token": self.token})])

    def signer(self) -> ActionSigner:
        return ActionSigner(self.action_secret, ttl_s=3600.0)


@dataclass
class AgentNode:
    name: str
    runtime: AgentRuntime
    server: GrpcService
    audit: AuditWriter

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@dataclass
class SupervisorNode:
    service: SupervisorService
    server: GrpcService
    client: GrpcAgentClient
    audit: AuditWriter

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"


Wrap = Callable[[AgentServicer], object]


async def start_agent(
    config: AgentConfig,
    store: InMemoryStore,
    *,
    embedder: Embedder,
    guard: Guard,
    backend: BrightlaneBackend,
    db: Store,
    creds: Credentials,
    llm: QuickLLM | None = None,
    wrap: Wrap | None = None,
) -> AgentNode:
    """One agent server; ``wrap`` may put a fault-injecting servicer around the real one."""
    audit = AuditWriter(db.audit)
    audit.start()
    screen = PassageScreen(guard, dimension=embedder.dimension)
    tools = ToolRunner(
        brightlane_tools(backend).select(config.tools),
        agent=config.name,
        signer=creds.signer(),
        audit=audit,
        screen=screen,
        effects=db.effects,
    )
    runtime = AgentRuntime(
        config,
        store=store,
        embedder=embedder,
        llm=llm or QuickLLM(),
        prices=DEFAULT_PRICES,
        max_text_chars=4000,
        tools=tools,
        screen=screen,
        audit=audit,
    )
    await runtime.retriever.load()
    servicer: object = AgentServicer(runtime, config.card())
    if wrap is not None:
        servicer = wrap(servicer)  # type: ignore[arg-type]
    server = await start_grpc(
        [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], servicer)],
        host="127.0.0.1",
        port=0,
        interceptors=[
            AccessInterceptor(
                ServiceAuthenticator(creds.service_secret, caller_tokens=creds.tokens()),
                audit=audit,
            )
        ],
    )
    return AgentNode(config.name, runtime, server, audit)


async def start_supervisor(
    cards: Sequence[AgentCard],
    addresses: dict[str, str],
    *,
    embedder: Embedder,
    index: EmbeddingIndex,
    guard: Guard,
    db: Store,
    creds: Credentials,
    breaker: BreakerPolicy | None = None,
    agent_timeout_s: float | None = None,
) -> SupervisorNode:
    """The supervisor over ``addresses`` (agent name -> host:port), requiring ``creds.token``."""
    settings = SupervisorSettings()
    entries = [
        AgentEntry(name=c.name, address=addresses[c.name], **c.model_dump(exclude={"name"}))
        for c in cards
    ]
    router = Router(
        embedder,
        accept_confidence=settings.route_accept_confidence,
        min_similarity=settings.route_min_similarity,
        out_of_scope_similarity=settings.route_out_of_scope_similarity,
    )
    router.use_index(index)
    audit = AuditWriter(db.audit)
    audit.start()
    client = GrpcAgentClient(
        addresses, service_tokens=ServiceTokenIssuer(creds.service_secret, ttl_s=600.0)
    )
    service = SupervisorService(
        entries,
        client=client,
        router=router,
        prices=DEFAULT_PRICES,
        max_text_chars=settings.max_text_chars,
        agent_timeout_s=agent_timeout_s or settings.agent_timeout_s,
        deadline_margin_s=settings.deadline_margin_s,
        describe_timeout_s=settings.describe_timeout_s,
        audit=audit,
        screener=GuardScreener(guard, suspicious_fraction=settings.guard_suspicious_fraction),
        breaker_policy=breaker or BreakerPolicy(),
    )
    await service.load_cards()
    ledger = RequestLedger(db.idempotency, lease_s=db.settings.idempotency_lease_s)
    server = await start_grpc(
        [
            (
                supervisor_pb2.DESCRIPTOR.services_by_name["Supervisor"],
                SupervisorServicer(
                    service,
                    ledger,
                    metadata_limits=MetadataLimits(
                        settings.max_metadata_entries,
                        settings.max_metadata_key_chars,
                        settings.max_metadata_value_chars,
                    ),
                ),
            )
        ],
        host="127.0.0.1",
        port=0,
        interceptors=[
            AccessInterceptor(
                CallerAuthenticator(creds.tokens(), service_secret=creds.service_secret),
                audit=audit,
            )
        ],
    )
    return SupervisorNode(service, server, client, audit)


async def stop_agent(node: AgentNode) -> None:
    await node.server.stop(0)
    await node.audit.close()


async def stop_supervisor(node: SupervisorNode) -> None:
    await node.server.stop(0)
    await node.client.close()
    await node.audit.close()


class BackgroundLoop:
    """An event loop in a daemon thread, for serving gRPC while a synchronous test runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 300.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout)

    def close(self, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        if cleanup is not None:
            self.run(_call(cleanup))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


async def _call(fn: Callable[[], Awaitable[None]]) -> None:
    await fn()
