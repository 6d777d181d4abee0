"""The supervisor's composition root: every part wired from one settings object, once.

``build_supervisor`` is the only place the supervisor is assembled. The server, the test
harness, ``make bench`` and ``make eval`` all enter it, passing :class:`Overrides` for what
they replace (an embedder loaded once per test session, a fake LLM, an agent client that
never leaves the process, a store of their own...). It is an async context manager: leaving
it, or failing half-way through start-up, closes everything already opened, in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2

from switchboard.core.access import access_interceptor
from switchboard.core.admission import admission
from switchboard.core.audit import AuditSink
from switchboard.core.auth import Authenticator, ServiceTokenIssuer
from switchboard.core.breaker import BreakerState
from switchboard.core.embedding_queue import start_embedding_queue
from switchboard.core.embeddings import Embedder
from switchboard.core.llm import LLM
from switchboard.core.ratelimit import build_rate_limiter
from switchboard.core.serving import GrpcService, start_grpc
from switchboard.core.stream_metrics import StreamMetrics
from switchboard.core.textcheck import MetadataLimits
from switchboard.guard import Guard
from switchboard.store import Store
from switchboard.store.lifecycle import open_for_service
from switchboard.supervisor import app_parts
from switchboard.supervisor.api.memory_servicer import MemoryServicer
from switchboard.supervisor.api.review_servicer import ReviewServicer
from switchboard.supervisor.api.servicer import SupervisorServicer
from switchboard.supervisor.compound.fanout import CompoundAnswerer
from switchboard.supervisor.compound.merge import AnswerMerger
from switchboard.supervisor.compound.planner import CompoundPlanner
from switchboard.supervisor.config import AgentEntry
from switchboard.supervisor.gateway.client import AgentClient, GrpcAgentClient
from switchboard.supervisor.learning import example_recorder
from switchboard.supervisor.ledger import RequestLedger
from switchboard.supervisor.memory.erasure import MemoryDesk
from switchboard.supervisor.memory.wiring import conversation_memory
from switchboard.supervisor.metrics import SupervisorMetrics
from switchboard.supervisor.review.callers import CallerResults
from switchboard.supervisor.review.desk import ReviewDesk
from switchboard.supervisor.review.inbox import InboxPolicy, ReviewInbox
from switchboard.supervisor.review.teaching import Teacher
from switchboard.supervisor.review.watch import ResultWatcher
from switchboard.supervisor.routing.decision import RouteDecider
from switchboard.supervisor.routing.index import EmbeddingIndex
from switchboard.supervisor.routing.language import LanguagePolicy
from switchboard.supervisor.routing.router import Router
from switchboard.supervisor.routing.self_calibration import self_calibration
from switchboard.supervisor.routing.sessions import session_memory
from switchboard.supervisor.service import SupervisorService
from switchboard.supervisor.settings import SupervisorSettings
from switchboard.supervisor.streaming.asking import StreamingAsk
from switchboard.supervisor.streaming.runs import StreamHub
from switchboard.v1 import memory_pb2, review_pb2, supervisor_pb2

log = logging.getLogger(__name__)


@dataclass
class Overrides:
    """Parts to use instead of building them from the settings (tests, bench, evals)."""

    embedder: Embedder | None = None
    guard: Guard | None = None
    router_llm: LLM | None = None  # also merges compound answers
    agent_client: AgentClient | None = None
    store: Store | None = None  # owned by the caller: not closed here
    audit: AuditSink | None = None
    authenticator: Authenticator | None = None
    service_tokens: ServiceTokenIssuer | None = None
    card_index: EmbeddingIndex | None = None  # a router index built once and shared
    memory_llm: LLM | None = None  # writes conversation summaries (default: from settings)
    interceptors: Sequence[grpc.aio.ServerInterceptor] = field(default_factory=tuple)


@dataclass
class SupervisorApp:
    """A wired supervisor: its service and servicer, and (once served) its gRPC server."""

    settings: SupervisorSettings
    service: SupervisorService
    servicer: SupervisorServicer
    review: ReviewServicer  # the Review service, for people (same server, same interceptors)
    desk: ReviewDesk
    memory: MemoryServicer  # the Memory service: list and erase a user's conversations
    interceptors: list[grpc.aio.ServerInterceptor]
    store: Store
    audit: AuditSink
    server: GrpcService | None = None

    async def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> GrpcService:
        """Starts the gRPC server (Supervisor and Review services, health and reflection on)
        and publishes breaker health."""
        self.server = await start_grpc(
            [
                (supervisor_pb2.DESCRIPTOR.services_by_name["Supervisor"], self.servicer),
                (review_pb2.DESCRIPTOR.services_by_name["Review"], self.review),
                (memory_pb2.DESCRIPTOR.services_by_name["Memory"], self.memory),
            ],
            host=host,
            port=port,
            interceptors=self.interceptors,
            settings=self.settings.server,
        )
        await self.service.gateway.publish_all()
        return self.server

    @property
    def address(self) -> str:
        assert self.server is not None, "serve() first"
        return f"127.0.0.1:{self.server.port}"

    async def breaker_health(self, agent: str, state: BreakerState) -> None:
        """Each agent's breaker as health service ``switchboard.v1.Agent/<name>``."""
        if self.server is None:
            return
        status = (
            health_pb2.HealthCheckResponse.NOT_SERVING
            if state is BreakerState.OPEN
            else health_pb2.HealthCheckResponse.SERVING
        )
        await self.server.health.set(f"switchboard.v1.Agent/{agent}", status)


@contextlib.asynccontextmanager
async def build_supervisor(
    settings: SupervisorSettings,
    agents: Sequence[AgentEntry],
    overrides: Overrides | None = None,
) -> AsyncIterator[SupervisorApp]:
    """Wires the supervisor; on exit stops the server (if served) and closes every part."""
    o = overrides or Overrides()
    async with contextlib.AsyncExitStack() as stack:
        authenticator = o.authenticator or app_parts.authenticator(
            settings
        )  # bad config fails first
        issuer = o.service_tokens or app_parts.issuer(settings)
        limiter = build_rate_limiter(settings.limits)
        if limiter is not None:
            stack.push_async_callback(limiter.close)
        embedder = await start_embedding_queue(stack, settings.embeddings, o.embedder)
        llm: LLM | None = o.router_llm
        if llm is None:
            claude = app_parts.router_llm(settings)
            if claude is not None:
                stack.push_async_callback(claude.close)
            llm = claude
        router = Router(
            embedder,
            accept_confidence=settings.route_accept_confidence,
            min_similarity=settings.route_min_similarity,
            out_of_scope_similarity=settings.route_out_of_scope_similarity,
            llm=llm,
            temperature=settings.route_temperature,
            self_calibration=self_calibration(settings),
        )
        if o.card_index is not None:
            router.use_index(o.card_index)
        screener = await app_parts.screener(settings, embedder, o.guard)
        store, audit = await open_for_service(
            stack, settings.store, settings.data_dir, store=o.store, audit=o.audit
        )
        client = o.agent_client or GrpcAgentClient(
            {a.name: a.address for a in agents}, service_tokens=issuer
        )
        app_ref: list[SupervisorApp] = []

        async def publish(agent: str, state: BreakerState) -> None:
            if app_ref:
                await app_ref[0].breaker_health(agent, state)

        metrics = SupervisorMetrics()
        gateway = app_parts.gateway(
            settings, agents, client, router, o.card_index, metrics, publish
        )
        sessions = session_memory(store.session_states, settings)
        inbox = ReviewInbox(
            store.review,
            InboxPolicy(
                sample_rate=settings.review_sample_rate,
                min_confidence=settings.review_min_confidence,
                escalation_ttl_s=settings.review_escalation_ttl_s,
                approval_ttl_s=settings.review_approval_ttl_s,
                sample_ttl_s=settings.review_sample_ttl_s,
            ),
            audit,
        )
        memory = conversation_memory(
            stack,
            settings,
            store.conversations,
            o.memory_llm,
            user_memories=store.user_memories,
            embed=router.embed,
        )
        service = SupervisorService(
            gateway=gateway,
            decider=RouteDecider(
                router,
                CompoundPlanner(router, max_parts=settings.compound_max_parts),
                sessions,
                LanguagePolicy(router, metrics) if settings.language_detection else None,
            ),
            compound=CompoundAnswerer(gateway, AnswerMerger(llm, prices=settings.llm.prices)),
            prices=settings.llm.prices,
            max_text_chars=settings.limits.max_text_chars,
            default_budget=settings.default_budget,
            screener=screener,
            audit=audit,
            metrics=metrics,
            ledger=RequestLedger(store.idempotency, lease_s=settings.store.idempotency_lease_s),
            sessions=sessions,
            examples=example_recorder(store.examples, settings),
            inbox=inbox,
            audit_request_text=settings.audit_request_text,
            memory=memory,
        )
        desk = ReviewDesk(
            items=store.review,
            gateway=gateway,
            teacher=Teacher(
                store.examples if settings.record_example_candidates else None,
                store.gaps,
                router.embed,
            ),
            audit=audit,
            claim_s=settings.review_claim_s,
            agent_timeout_s=settings.agent_timeout_s,
        )
        stack.push_async_callback(service.close)  # queued candidates, then agent channels
        access = access_interceptor(
            authenticator,
            settings.limits,
            audit,
            limiter,
            admission=admission(settings.limits, "supervisor", audit),
        )
        stack.callback(access.flush)  # aggregated refusals, before the audit writer closes
        await service.load_cards()
        results = CallerResults(
            items=store.review,
            ledger=store.idempotency,
            feedback=store.feedback,
            audit_log=store.audit,
            audit=audit,
        )
        streams = settings.streaming
        hub = StreamHub(
            resume_window_s=streams.resume_window_s,
            max_events=streams.max_held_events,
            detach_grace_s=streams.detach_grace_s,
        )
        stack.push_async_callback(hub.close)  # running streams stop before the agent channels
        app = SupervisorApp(
            settings=settings,
            service=service,
            servicer=SupervisorServicer(
                service,
                results=results,
                streams=StreamingAsk(service, hub, results),
                stream_metrics=StreamMetrics("supervisor"),
                watcher=ResultWatcher(
                    results,
                    poll_s=settings.review_watch_poll_s,
                    max_wait_s=settings.review_watch_max_s,
                ),
                metadata_limits=MetadataLimits(
                    settings.limits.max_metadata_entries,
                    settings.limits.max_metadata_key_chars,
                    settings.limits.max_metadata_value_chars,
                ),
            ),
            review=ReviewServicer(
                desk,
                gaps=store.gaps,
                feedback=store.feedback,
                audit=store.audit,
                prompts=store.prompts,
            ),
            desk=desk,
            memory=MemoryServicer(
                MemoryDesk(
                    store.conversations,
                    store.session_states,
                    store.examples,
                    audit,
                    facts=store.user_memories,
                    working=store.working_memory,
                    settle=memory.flush if memory is not None else None,
                )
            ),
            interceptors=[access, *o.interceptors],
            store=store,
            audit=audit,
        )
        app_ref.append(app)
        try:
            yield app
        finally:
            if app.server is not None:
                await app.server.stop(0)
