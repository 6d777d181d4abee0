"""Per-tenant rate limits: a token bucket per tenant, in this process or shared through Redis.

Each tenant may send ``rate`` requests per second on average and ``burst`` at once. Over the
limit the request fails with :class:`ResourceExhausted` carrying ``retry_after_s`` (gRPC
RESOURCE_EXHAUSTED with a ``retry-after`` trailer). With several supervisor replicas, set
``SWITCHBOARD_REDIS_URL`` so they share one bucket per tenant; the bucket is updated by one
Lua script, so concurrent replicas cannot both take the last token.

Redis is a dependency, not a gate: when it is slow or down, requests are let through (fail
open), a warning is logged (at most every few seconds) and
``switchboard.ratelimit.backend_errors`` is counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis
from opentelemetry import metrics
from redis.exceptions import RedisError

from switchboard.core.errors import ResourceExhausted
from switchboard.core.settings import LimitSettings

log = logging.getLogger(__name__)

MAX_LOCAL_KEYS = 100_000
REDIS_PREFIX = "switchboard:ratelimit:"
WARN_EVERY_S = 10.0

# KEYS[1]: the tenant's bucket; ARGV: rate per second, burst. Redis's own clock is used, so
# replicas with skewed clocks share one notion of time. Returns {allowed, retry_after_s}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry)}
"""


@dataclass(frozen=True)
class Limit:
    rate_per_s: float
    burst: int

    @classmethod
    def from_settings(cls, settings: LimitSettings) -> Limit:
        rate = settings.rate_limit_per_s
        return cls(rate, settings.rate_limit_burst or max(1, math.ceil(rate)))


class RateLimiter(Protocol):
    async def acquire(self, key: str) -> None:
        """Takes one request from ``key``'s bucket, or raises ResourceExhausted."""
        ...

    async def close(self) -> None: ...


def _exhausted(key: str, limit: Limit, retry_after_s: float) -> ResourceExhausted:
    return ResourceExhausted(
        f"rate limit reached for tenant {key!r} ({limit.rate_per_s:g} requests/s, burst "
        f"{limit.burst}); retry after {retry_after_s:.3f} s",
        retry_after_s=retry_after_s,
    )


class LocalRateLimiter:
    """Token buckets in this process; the least recently used are forgotten past a cap."""

    def __init__(
        self,
        limit: Limit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_LOCAL_KEYS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def acquire(self, key: str) -> None:
        self.take(key)

    def take(self, key: str) -> None:
        now = self._clock()
        rate, burst = self.limit.rate_per_s, float(self.limit.burst)
        tokens, last = self._buckets.pop(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - last) * rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if not allowed:
            raise _exhausted(key, self.limit, (1 - tokens) / rate)

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Token buckets in Redis, shared by every replica; lets requests through if Redis fails."""

    def __init__(
        self,
        url: str,
        limit: Limit,
        *,
        timeout_s: float = 0.2,
        prefix: str = REDIS_PREFIX,
        meter: metrics.Meter | None = None,
    ) -> None:
        self.limit = limit
        self._prefix = prefix
        self._client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
        )
        self._script = self._client.register_script(TOKEN_BUCKET_LUA)
        self._timeout = timeout_s
        self._last_warning = float("-inf")
        meter = meter or metrics.get_meter("switchboard.ratelimit")
        self.backend_errors = meter.create_counter(
            "switchboard.ratelimit.backend_errors",
            unit="{error}",
            description="Rate-limit checks let through because Redis failed (fail open).",
        )
        self.failures = 0

    async def acquire(self, key: str) -> None:
        try:
            async with asyncio.timeout(self._timeout * 2):
                allowed, retry = await self._script(
                    keys=[self._prefix + key],
                    args=[self.limit.rate_per_s, self.limit.burst],
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._fail_open(exc)
            return
        if not int(allowed):
            retry_s = float(retry.decode() if isinstance(retry, bytes) else retry)
            raise _exhausted(key, self.limit, retry_s)

    def _fail_open(self, exc: BaseException) -> None:
        self.failures += 1
        self.backend_errors.add(1, {"error.type": type(exc).__name__})
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning(
                "rate limiting is off while Redis fails; requests are let through",
                extra={"error": f"{type(exc).__name__}: {exc}", "failures": self.failures},
            )

    async def close(self) -> None:
        await self._client.aclose()


def build_rate_limiter(settings: LimitSettings) -> RateLimiter | None:
    """The limiter the settings ask for: None (off), Redis-backed or in-process."""
    if settings.rate_limit_per_s <= 0:
        return None
    limit = Limit.from_settings(settings)
    if settings.redis_url is not None and settings.redis_url.get_secret_value().strip():
        return RedisRateLimiter(
            settings.redis_url.get_secret_value().strip(),
            limit,
            timeout_s=settings.redis_timeout_s,
        )
    return LocalRateLimiter(limit)
