"""An agent's composition root: every part of one agent service wired from one settings object.

``build_agent`` is the only place an agent is assembled; the server, the test harness, bench
and evals enter it with :class:`Overrides` for what they replace (an in-memory vector store,
a fake LLM, a tool backend of their own...). Leaving it, or failing half-way through
start-up, closes everything already opened, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1.health_pb2 import HealthCheckResponse

from switchboard.agent.answering.llm_loop import LLMAnswerer
from switchboard.agent.answering.offline import OfflineAnswerer
from switchboard.agent.answering.output_screen import OutputScreen
from switchboard.agent.answering.prompting import GROUNDING_RULES, GUARD_RULES, TOOL_RULES
from switchboard.agent.api.servicer import AgentServicer
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.passages import PassageFinder
from switchboard.agent.knowledge.retrieval import Retriever
from switchboard.agent.knowledge.store import VectorStore, open_store
from switchboard.agent.memory.window import CONVERSATION_RULES
from switchboard.agent.memory.working import WorkingMemory
from switchboard.agent.prompt_versions import VersionScreens, prompt_resolver
from switchboard.agent.runtime import AgentRuntime
from switchboard.agent.screening import PassageScreen
from switchboard.agent.settings import AgentSettings
from switchboard.agent.tools import BrightlaneBackend, DemoBackend, brightlane_tools
from switchboard.agent.tools.actions import ActionSigner
from switchboard.agent.tools.ownership import CustomerOwnership
from switchboard.agent.tools.runner import ToolRunner
from switchboard.core.access import access_interceptor
from switchboard.core.admission import admission
from switchboard.core.audit import AuditSink
from switchboard.core.auth import Authenticator, ServiceAuthenticator, TokenTable
from switchboard.core.breaker import BreakerMetrics, BreakerState, CircuitBreaker, Publisher
from switchboard.core.embedding_queue import start_embedding_queue
from switchboard.core.embeddings import Embedder
from switchboard.core.errors import ConfigurationError
from switchboard.core.llm import LLM, anthropic_llm
from switchboard.core.serving import GrpcService, start_grpc
from switchboard.core.stream_metrics import StreamMetrics
from switchboard.guard import Guard, load_guard
from switchboard.store import Store
from switchboard.store.lifecycle import open_for_service
from switchboard.v1 import agent_pb2

log = logging.getLogger(__name__)

#: gRPC health service that reads NOT_SERVING while the LLM path is off or its breaker open;
#: the agent itself stays SERVING, since it can still answer offline.
LLM_HEALTH_SERVICE = "switchboard.v1.Agent/llm"
SERVING = HealthCheckResponse.SERVING
NOT_SERVING = HealthCheckResponse.NOT_SERVING


@dataclass
class Overrides:
    """Parts to use instead of building them from the settings (tests, bench, evals)."""

    embedder: Embedder | None = None
    guard: Guard | None = None
    llm: LLM | None = None
    vector_store: VectorStore | None = None
    tool_backend: BrightlaneBackend | None = None
    store: Store | None = None  # owned by the caller: not closed here
    audit: AuditSink | None = None
    authenticator: Authenticator | None = None
    signer: ActionSigner | None = None
    wrap: Callable[[AgentServicer], object] | None = None  # e.g. a fault-injecting servicer
    prompt_clock: Callable[[], float] | None = None  # the prompt cache's clock (tests)
    interceptors: Sequence[grpc.aio.ServerInterceptor] = field(default_factory=tuple)


@dataclass
class AgentApp:
    config: AgentConfig
    settings: AgentSettings
    runtime: AgentRuntime
    servicer: object
    interceptors: list[grpc.aio.ServerInterceptor]
    store: Store
    audit: AuditSink
    llm_enabled: bool
    server: GrpcService | None = None

    async def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> GrpcService:
        self.server = await start_grpc(
            [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], self.servicer)],
            host=host,
            port=port,
            interceptors=self.interceptors,
            settings=self.settings.server,
        )
        if self.llm_enabled:
            await self.runtime.breaker.publish(force=True)
        else:
            await self.server.health.set(LLM_HEALTH_SERVICE, NOT_SERVING)
        return self.server

    @property
    def address(self) -> str:
        assert self.server is not None, "serve() first"
        return f"127.0.0.1:{self.server.port}"

    async def llm_health(self, _name: str, state: BreakerState) -> None:
        if self.server is not None:
            usable = state is BreakerState.CLOSED
            await self.server.health.set(LLM_HEALTH_SERVICE, SERVING if usable else NOT_SERVING)


@contextlib.asynccontextmanager
async def build_agent(
    config: AgentConfig, settings: AgentSettings, overrides: Overrides | None = None
) -> AsyncIterator[AgentApp]:
    """Wires one agent; on exit stops the server (if served) and closes every part."""
    o = overrides or Overrides()
    async with contextlib.AsyncExitStack() as stack:
        authenticator = o.authenticator or _authenticator(settings)  # bad config fails here
        embedder = await start_embedding_queue(stack, settings.embeddings, o.embedder)
        vectors = (
            o.vector_store
            if o.vector_store is not None
            else await asyncio.to_thread(open_store, config, settings)
        )
        count = await asyncio.to_thread(vectors.count)
        if count == 0:
            log.warning(
                "knowledge store is empty; run 'switchboard ingest'", extra={"agent": config.name}
            )
        llm: LLM | None = o.llm
        if llm is None:
            claude = anthropic_llm(
                settings.llm,
                settings.llm.model or config.llm.model,
                capture_content=settings.telemetry.capture_content,
            )
            if claude is None:
                log.warning(
                    "ANTHROPIC_API_KEY is not set: answering with the offline extractive backend"
                )
            else:
                stack.push_async_callback(claude.close)
            llm = claude
        store, audit = await open_for_service(
            stack, settings.store, settings.data_dir, store=o.store, audit=o.audit
        )
        screen = await _passage_screen(settings, embedder, o.guard)
        tools = _tool_runner(config, settings, o, audit=audit, screen=screen, store=store)
        app_ref: list[AgentApp] = []

        async def publish(name: str, state: BreakerState) -> None:
            if app_ref:
                await app_ref[0].llm_health(name, state)

        runtime = await _runtime(
            config,
            settings,
            embedder,
            vectors,
            llm,
            audit,
            screen,
            tools,
            publish,
            _working_memory(settings, store, tools),
        )
        runtime.prompts = await prompt_resolver(config, settings, store, o.prompt_clock)
        await runtime.retriever.load()  # hybrid: builds BM25 from the store; no-op for dense
        access = access_interceptor(
            authenticator,
            settings.limits,
            audit,
            admission=admission(settings.limits, f"agent {config.name}", audit),
        )
        stack.callback(access.flush)  # aggregated refusals, before the audit writer closes
        servicer: object = AgentServicer(
            runtime,
            await asyncio.to_thread(config.card),
            stream_metrics=StreamMetrics("agent"),
            hold_sentences=settings.streaming.screen == "sentence",
        )
        if o.wrap is not None:
            servicer = o.wrap(servicer)  # type: ignore[arg-type]
        app = AgentApp(
            config=config,
            settings=settings,
            runtime=runtime,
            servicer=servicer,
            interceptors=[access, *o.interceptors],
            store=store,
            audit=audit,
            llm_enabled=llm is not None,
        )
        app_ref.append(app)
        log.info(
            "agent ready",
            extra={"agent": config.name, "chunks": count, "llm": llm is not None},
        )
        try:
            yield app
        finally:
            if app.server is not None:
                await app.server.stop(0)


async def _runtime(
    config: AgentConfig,
    settings: AgentSettings,
    embedder: Embedder,
    vectors: VectorStore,
    llm: LLM | None,
    audit: AuditSink,
    screen: PassageScreen | None,
    tools: ToolRunner | None,
    publish: Publisher,
    memory: WorkingMemory | None = None,
) -> AgentRuntime:
    breaker = BreakerMetrics().track(
        CircuitBreaker(
            "llm",
            failure_threshold=settings.llm_breaker_threshold,
            reset_timeout_s=settings.llm_breaker_reset_s,
            publish=publish,
        ),
        **{"switchboard.agent": config.name},
    )
    finder = PassageFinder(
        config.name,
        config.collection_name,
        Retriever(vectors, mode=config.retrieval.mode),
        embedder,
        config.retrieval,
        audit,
        screen,
    )
    answerer = None
    prompt = await asyncio.to_thread(config.system_prompt_text)
    if llm is not None:
        answerer = LLMAnswerer(
            config,
            llm,
            breaker,
            settings.llm.prices,
            prompt,
            tools,
            window_share=settings.memory.window_share,
            memory=memory,
        )
    # Everything the model is told, so an answer that repeats it is caught.
    instructions = "\n\n".join(
        [prompt, GROUNDING_RULES, TOOL_RULES, GUARD_RULES, CONVERSATION_RULES]
    )
    return AgentRuntime(
        config,
        finder=finder,
        offline=OfflineAnswerer(
            config.name,
            embedder,
            config.retrieval.min_score,
            min_confidence=config.retrieval.min_answer_confidence,
        ),
        breaker=breaker,
        max_text_chars=settings.limits.max_text_chars,
        llm=answerer,
        tools=tools,
        output=OutputScreen(instructions, max_chars=settings.max_answer_chars),
        audit=audit,
        screens=VersionScreens(max_chars=settings.max_answer_chars),
        memory=memory,
    )


def _working_memory(
    settings: AgentSettings, store: Store, tools: ToolRunner | None
) -> WorkingMemory | None:
    """The tool loop's scratch-pad in the shared store (docs/memory.md), for agents with
    tools; off with SWITCHBOARD_WORKING_MEMORY_ENABLED=false."""
    if tools is None:
        return None
    if not settings.working_memory.enabled:
        log.warning(
            "working memory is off (SWITCHBOARD_WORKING_MEMORY_ENABLED=false): a confirmed "
            "action answers with its result, the model is not resumed"
        )
        return None
    return WorkingMemory(store.working_memory, settings.working_memory)


def _authenticator(settings: AgentSettings) -> ServiceAuthenticator:
    authenticator = ServiceAuthenticator.from_settings(settings.auth)
    if authenticator.open:
        log.warning("SWITCHBOARD_SERVICE_TOKEN is not set: this agent accepts calls from anyone")
    return authenticator


async def _passage_screen(
    settings: AgentSettings, embedder: Embedder, guard: Guard | None
) -> PassageScreen | None:
    """The injection guard over passages and tool outputs (off: SWITCHBOARD_GUARD_ENABLED=0).

    Its classifier is trained once and cached under the data dir, so later starts take
    milliseconds. It embeds with the store's model, so stored vectors are reused.
    """
    if not settings.guard.enabled:
        log.warning("SWITCHBOARD_GUARD_ENABLED is off: passages and tool outputs are not screened")
        return None
    if guard is None:
        guard = await asyncio.to_thread(
            load_guard, settings.guard, embedder, data_dir=settings.data_dir
        )
    return PassageScreen(guard, dimension=embedder.dimension)


def _tool_runner(
    config: AgentConfig,
    settings: AgentSettings,
    o: Overrides,
    *,
    audit: AuditSink,
    screen: PassageScreen | None,
    store: Store,
) -> ToolRunner | None:
    """The agent's allowed tools over its backend (docs/tools.md), or None."""
    if not config.tools:
        return None
    backend = o.tool_backend or DemoBackend.load(settings.tools_data)
    secret = settings.action_secret.get_secret_value() if settings.action_secret else None
    return ToolRunner(
        brightlane_tools(backend).select(config.tools),
        agent=config.name,
        signer=o.signer
        or ActionSigner.from_secret(
            secret, ttl_s=settings.action_ttl_s, review_ttl_s=settings.review_action_ttl_s
        ),
        audit=audit,
        screen=screen,
        effects=store.effects,
        approvals=config.approvals,
        ownership=CustomerOwnership(backend, _configured_customers(settings)),
    )


def _configured_customers(settings: AgentSettings) -> dict[str, frozenset[str]]:
    """Tenants' customers from the caller tokens file, when the agent is given it too; the
    backend's data is the other source of ownership (tools/ownership.py)."""
    try:
        return TokenTable.from_settings(settings.auth).customer_lists()
    except ConfigurationError as exc:
        log.warning(
            "caller tokens unreadable: ownership comes from the tool backend's data only",
            extra={"error": exc.message},
        )
        return {}
