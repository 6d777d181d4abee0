"""The whole system in this process: agents and a supervisor served on loopback port 0.

For component tests that need real gRPC between the services (interceptors, credentials,
deadlines, retries, the request ledger over SQLite) but cannot afford starting processes and
ingesting every knowledge base: each agent retrieves from a small in-memory store built from
a few of its documents, and a fake LLM answers at once. Everything is built by the services'
own composition roots (``build_agent``, ``build_supervisor``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from switchboard.agent.app import AgentApp
from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.tools import BrightlaneBackend
from switchboard.agent.tools.actions import ActionSigner
from switchboard.core.auth import (
    CallerAuthenticator,
    ServiceAuthenticator,
    ServiceTokenIssuer,
    TokenEntry,
    TokenTable,
)
from switchboard.core.embeddings import Embedder
from switchboard.core.llm import LLM
from switchboard.core.settings import LimitSettings
from switchboard.core.types import AgentCard
from switchboard.guard import Guard, GuardSettings, load_guard
from switchboard.store import Store
from switchboard.supervisor.app import SupervisorApp
from switchboard.supervisor.routing.index import EmbeddingIndex
from tests.fakes.llm import QuickLLM
from tests.harness import apps

T = TypeVar("T")
#: How many of each agent's documents its in-memory store holds (few: embedding is slow).
DOCS_PER_AGENT = 4


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


def _token() -> str:
    # Hex, as the documented hint makes them: a token starting with '-' is an option to argparse.
    return secrets.token_hex(24)


@dataclass
class Credentials:
    """The service secret shared by the supervisor and its agents, one tenant's caller token,
    and the people's tokens: a reviewer of that tenant, a reviewer of another tenant (with
    its own caller token), and an admin."""

    service_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    tenant: str = "acme"
    token: str = field(default_factory=_token)
    action_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    reviewer_token: str = field(default_factory=_token)
    other_tenant: str = "globex"
    other_token: str = field(default_factory=_token)
    other_reviewer_token: str = field(default_factory=_token)
    admin_token: str = field(default_factory=_token)

    @property
    def bearer(self) -> tuple[str, str]:
        return ("authorization", f"Bearer {self.token}")

    def entries(self) -> list[TokenEntry]:
        rows = [
            {"tenant": self.tenant, "token": self.token},
            {
                "tenant": self.tenant,
                "token": self.reviewer_token,
                "role": "reviewer",
                "name": "rita",
            },
            {"tenant": self.other_tenant, "token": self.other_token},
            {
                "tenant": self.other_tenant,
                "token": self.other_reviewer_token,
                "role": "reviewer",
                "name": "gus",
            },
            {"tenant": "ops", "token": self.admin_token, "role": "admin", "name": "ada"},
        ]
        return [TokenEntry.model_validate(r) for r in rows]

    def tokens(self) -> TokenTable:
        return TokenTable(self.entries())

    def signer(self) -> ActionSigner:
        return ActionSigner(self.action_secret, ttl_s=3600.0)


#: Fuzzing sends hundreds of bad credentials from one address; the per-address limit on failed
#: authentications has its own tests (tests/component/test_access_limits.py).
UNLIMITED_FAILURES = LimitSettings(auth_failure_rate_per_s=0)


def guard_settings(cache: Path) -> GuardSettings:
    return GuardSettings(cache_dir=cache, examples="")


#: Trained guard weights kept across test runs and processes (the file name is a hash of the
#: training inputs, so a stale file is never used).
GUARD_CACHE = Path(tempfile.gettempdir()) / "switchboard-test-guard-cache"


def cached_guard(embedder: Embedder) -> Guard:
    """The shipped guard, trained once into :data:`GUARD_CACHE` and loaded from it after."""
    return load_guard(guard_settings(GUARD_CACHE), embedder, data_dir=GUARD_CACHE)


@contextlib.asynccontextmanager
async def served_agent(
    config: AgentConfig,
    vectors: InMemoryStore,
    *,
    workdir: Path,
    embedder: Embedder,
    guard: Guard,
    backend: BrightlaneBackend,
    db: Store,
    creds: Credentials,
    llm: LLM | None = None,
    wrap: Callable[[Any], object] | None = None,
) -> AsyncIterator[AgentApp]:
    """One agent server that accepts only ``creds``' supervisor; ``wrap`` may put a
    fault-injecting servicer around the real one."""
    async with apps.agent(
        config,
        workdir,
        settings=apps.agent_settings(workdir, guard=GuardSettings(), limits=UNLIMITED_FAILURES),
        serve=True,
        embedder=embedder,
        guard=guard,
        llm=llm or QuickLLM(),
        vector_store=vectors,
        tool_backend=backend,
        store=db,
        authenticator=ServiceAuthenticator(creds.service_secret, caller_tokens=creds.tokens()),
        signer=creds.signer(),
        wrap=wrap,
    ) as app:
        yield app


@contextlib.asynccontextmanager
async def served_supervisor(
    cards: Sequence[AgentCard],
    addresses: dict[str, str],
    *,
    workdir: Path,
    embedder: Embedder,
    index: EmbeddingIndex,
    guard: Guard,
    db: Store,
    creds: Credentials,
    **settings: Any,
) -> AsyncIterator[SupervisorApp]:
    """The supervisor over ``addresses`` (agent name -> host:port), requiring ``creds.token``;
    ``settings`` are SupervisorSettings values (breaker thresholds, timeouts...)."""
    settings.setdefault("limits", UNLIMITED_FAILURES)
    async with apps.supervisor(
        workdir,
        apps.entries(cards, addresses),
        settings=apps.supervisor_settings(workdir, guard=GuardSettings(), **settings),
        serve=True,
        embedder=embedder,
        guard=guard,
        card_index=index,
        store=db,
        authenticator=CallerAuthenticator(creds.tokens(), service_secret=creds.service_secret),
        service_tokens=ServiceTokenIssuer(creds.service_secret, ttl_s=600.0),
    ) as app:
        yield app


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
