"""Which prompt version answers a request: the agent's label, read from the registry at
request time through a short cache, with the last good version kept for outages.

A label move reaches every replica within the cache TTL without a restart. When the
registry cannot be read, the replica keeps answering with the version it last read (or,
before any read succeeded, its ``prompt.md``), logs it and counts it in
``switchboard.prompt.registry.fallbacks``; the caller never sees an error. A label with a
canary sends a fixed share of sessions to the canary version, chosen by a hash of the
session id, so a conversation keeps its version on every replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics

from switchboard.agent.answering.output_screen import OutputScreen
from switchboard.agent.answering.prompting import GROUNDING_RULES, GUARD_RULES, TOOL_RULES
from switchboard.agent.config import AgentConfig
from switchboard.agent.settings import AgentSettings
from switchboard.core.context import RequestContext
from switchboard.core.errors import SwitchboardError
from switchboard.store import PromptRegistry, PromptVersion, Store
from switchboard.store.prompt_types import content_hash

log = logging.getLogger(__name__)

#: After a failed read, the next attempt waits at most this long (or the TTL, if shorter).
RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class PromptChoice:
    """The prompt one request is answered with."""

    ref: str  # billing@v2 (or billing@file:1a2b3c4d before the registry was ever read)
    system_prompt: str
    rules: str
    model: str
    max_tokens: int
    source: str = "registry"  # registry | file

    @classmethod
    def of(cls, version: PromptVersion, default_max_tokens: int) -> PromptChoice:
        return cls(
            ref=version.ref,
            system_prompt=version.system_prompt,
            rules=version.rules,
            model=version.model,
            max_tokens=int(version.params.get("max_tokens", default_max_tokens)),
        )


class VersionScreens:
    """One output screen per prompt version: an answer repeating the version's own text is a
    leak, whichever version answered."""

    def __init__(self, *, max_chars: int, keep: int = 8) -> None:
        self._max_chars = max_chars
        self._keep = keep
        self._screens: dict[str, OutputScreen] = {}

    def of(self, version: PromptChoice) -> OutputScreen:
        screen = self._screens.get(version.ref)
        if screen is None:
            if len(self._screens) >= self._keep:
                self._screens.pop(next(iter(self._screens)))
            text = "\n\n".join([version.system_prompt, version.rules, TOOL_RULES, GUARD_RULES])
            screen = self._screens[version.ref] = OutputScreen(text, max_chars=self._max_chars)
        return screen


def seed_values(config: AgentConfig, system_prompt: str) -> dict[str, Any]:
    """Version 1 as git holds it: ``prompt.md``, the runtime's answering rules and the
    ``llm:`` block's model and output parameters."""
    return {
        "system_prompt": system_prompt,
        "rules": GROUNDING_RULES,
        "model": config.llm.model,
        "params": {"max_tokens": config.llm.max_tokens},
    }


def file_choice(config: AgentConfig, system_prompt: str) -> PromptChoice:
    """The prompt in the image, named by its content hash (no registry number known)."""
    values = seed_values(config, system_prompt)
    digest = content_hash(**values)
    return PromptChoice(
        ref=f"{config.name}@file:{digest[:8]}",
        system_prompt=system_prompt,
        rules=GROUNDING_RULES,
        model=config.llm.model,
        max_tokens=config.llm.max_tokens,
        source="file",
    )


def bucket(agent: str, label: str, key: str) -> int:
    """0-99, fixed for one conversation (``key``: its session id) and label."""
    digest = hashlib.sha256(f"{agent}\x00{label}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


@dataclass(frozen=True)
class _Snapshot:
    main: PromptChoice
    canary: PromptChoice | None = None
    percent: int = 0


class PromptMetrics:
    """``switchboard.prompt.answers`` (by version) and ``switchboard.prompt.registry.fallbacks``."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("switchboard.prompts")
        self.answers = meter.create_counter(
            "switchboard.prompt.answers",
            unit="{answer}",
            description="Answers by agent and the prompt version that produced them.",
        )
        self.fallbacks = meter.create_counter(
            "switchboard.prompt.registry.fallbacks",
            unit="{read}",
            description="Registry reads that failed; the agent kept its last good version.",
        )


class PromptResolver:
    """Picks the :class:`PromptChoice` for each request (see the module docstring)."""

    def __init__(
        self,
        agent: str,
        fallback: PromptChoice,
        *,
        registry: PromptRegistry | None,
        label: str,
        ttl_s: float,
        fetch_timeout_s: float,
        default_max_tokens: int,
        pin: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        meters: PromptMetrics | None = None,
    ) -> None:
        self.agent = agent
        self.label = label
        self._registry = registry
        self._ttl = ttl_s
        self._fetch_timeout = fetch_timeout_s
        self._default_max_tokens = default_max_tokens
        self._pin = pin
        self._clock = clock
        self._metrics = meters or PromptMetrics()
        self._snapshot = _Snapshot(fallback)
        self._fresh_until = float("-inf")
        self._lock = asyncio.Lock()
        self.fallbacks = 0  # failed registry reads (also counted as a metric)

    async def choose(self, ctx: RequestContext) -> PromptChoice:
        """The version for this request; never raises. A registry read takes at most a
        quarter of the time the request has left (the answer needs the rest)."""
        left = ctx.deadline.remaining()
        snapshot = await self._current(None if left is None else left / 4)
        if snapshot.canary is not None:
            key = ctx.session_id or ctx.request_id
            if bucket(self.agent, self.label, key) < snapshot.percent:
                return snapshot.canary
        return snapshot.main

    async def refresh(self) -> PromptChoice:
        """Reads the label now (the cache is bypassed); the version the label's main serves."""
        self._fresh_until = float("-inf")
        return (await self._current()).main

    def answered(self, ref: str) -> None:
        self._metrics.answers.add(
            1, {"switchboard.agent": self.agent, "switchboard.prompt.version": ref}
        )

    async def _current(self, limit_s: float | None = None) -> _Snapshot:
        if self._registry is None or self._clock() < self._fresh_until:
            return self._snapshot
        if self._lock.locked():
            return self._snapshot  # another request is reading: use what we have meanwhile
        async with self._lock:
            if self._clock() < self._fresh_until:
                return self._snapshot
            timeout = self._fetch_timeout if limit_s is None else min(self._fetch_timeout, limit_s)
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    fresh = await self._read(self._registry)
            except (SwitchboardError, OSError, TimeoutError) as exc:
                self._fresh_until = self._clock() + min(self._ttl, RETRY_AFTER_S)
                reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                log.warning(
                    "prompt registry unreadable: answering with the last good version",
                    extra={
                        "agent": self.agent,
                        "version": self._snapshot.main.ref,
                        "error": reason,
                    },
                )
                self.fallbacks += 1
                self._metrics.fallbacks.add(
                    1, {"switchboard.agent": self.agent, "error.type": reason}
                )
                return self._snapshot
            self._fresh_until = self._clock() + self._ttl
            if fresh is None:
                log.warning(
                    "agent has no such prompt label: answering with prompt.md",
                    extra={"agent": self.agent, "label": self.label},
                )
            elif fresh != self._snapshot:
                if fresh.main.ref != self._snapshot.main.ref:
                    log.info(
                        "prompt version changed",
                        extra={"agent": self.agent, "label": self.label, "version": fresh.main.ref},
                    )
                self._snapshot = fresh
            return self._snapshot

    async def _read(self, registry: PromptRegistry) -> _Snapshot | None:
        if self._pin is not None:
            return _Snapshot(self._choice(await registry.get(self.agent, self._pin)))
        resolved = await registry.resolve(self.agent, self.label)
        if resolved is None:
            return None
        canary = None if resolved.canary is None else self._choice(resolved.canary)
        return _Snapshot(self._choice(resolved.main), canary, resolved.label.canary_percent)

    def _choice(self, version: PromptVersion) -> PromptChoice:
        return PromptChoice.of(version, self._default_max_tokens)


#: Longest the composition root waits to seed version 1 at start-up.
SEED_TIMEOUT_S = 5.0


async def prompt_resolver(
    config: AgentConfig,
    settings: AgentSettings,
    store: Store,
    clock: Callable[[], float] | None = None,
) -> PromptResolver:
    """The agent's resolver, wired from ``settings.prompts``: seeds version 1 from
    ``prompt.md`` when the registry has nothing for the agent (idempotent, best effort) and
    reads the label once, so the first request does not wait for it."""
    text = await asyncio.to_thread(config.system_prompt_text)
    p = settings.prompts
    registry = store.prompts if p.enabled else None
    if registry is None:
        log.warning("SWITCHBOARD_PROMPTS_ENABLED is off: answering with prompt.md only")
    else:
        try:
            async with asyncio.timeout(SEED_TIMEOUT_S):
                await registry.seed(agent=config.name, **seed_values(config, text), label=p.label)
        except (SwitchboardError, OSError, TimeoutError) as exc:
            log.warning(
                "could not seed the prompt registry; will keep trying to read it",
                extra={"agent": config.name, "error": type(exc).__name__},
            )
    resolver = PromptResolver(
        config.name,
        file_choice(config, text),
        registry=registry,
        label=p.label,
        ttl_s=p.cache_ttl_s,
        fetch_timeout_s=p.fetch_timeout_s,
        default_max_tokens=config.llm.max_tokens,
        pin=p.pin,
        clock=clock or time.monotonic,
    )
    await resolver.refresh()
    return resolver
