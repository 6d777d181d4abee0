"""Per-request budgets (LLM tokens, cost, hops), carried between services in gRPC metadata.

A caller may set any of them on its Ask (metadata ``x-switchboard-budget-tokens``,
``x-switchboard-budget-cost-usd``, ``x-switchboard-hops``); the supervisor fills in its
defaults, spends what its own routing used, and passes the rest on to the agent, which
spends it on its LLM calls. A hop is one service-to-service call: every service takes one
before calling the next, so a loop between services runs out of hops after a few calls
instead of forever. Whatever is spent raises :class:`ResourceExhausted` (RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from switchboard.core.errors import InvalidRequest, ResourceExhausted

TOKENS_KEY = "x-switchboard-budget-tokens"
COST_KEY = "x-switchboard-budget-cost-usd"
HOPS_KEY = "x-switchboard-hops"
KEYS = (TOKENS_KEY, COST_KEY, HOPS_KEY)

MAX_TOKENS_VALUE = 10_000_000
MAX_COST_VALUE = 10_000.0
MAX_HOPS_VALUE = 16
N = TypeVar("N", int, float)


class Budget(BaseModel):
    """What is left for the rest of one request. ``None`` means "no limit"."""

    model_config = ConfigDict(frozen=True)

    tokens: int | None = Field(None, ge=0, description="LLM tokens (input + output) left.")
    cost_usd: float | None = Field(None, ge=0, description="Estimated US dollars left.")
    hops: int = Field(3, ge=0, description="Service-to-service calls left.")

    # -- metadata ------------------------------------------------------------------------

    @classmethod
    def from_metadata(cls, metadata: Sequence[tuple[str, str | bytes]] | None) -> Budget | None:
        """The budget a caller sent, or None when it sent none of the keys.

        Raises InvalidRequest (INVALID_ARGUMENT) for values that are not numbers in range,
        so a typo is reported rather than silently ignored.
        """
        found: dict[str, str] = {}
        for key, value in metadata or ():
            if key in KEYS:
                found[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if not found:
            return None
        tokens = _parse_int(found, TOKENS_KEY, MAX_TOKENS_VALUE)
        cost = _parse_float(found, COST_KEY, MAX_COST_VALUE)
        hops = _parse_int(found, HOPS_KEY, MAX_HOPS_VALUE)
        return cls(tokens=tokens, cost_usd=cost, hops=MAX_HOPS_VALUE if hops is None else hops)

    def to_metadata(self) -> list[tuple[str, str]]:
        pairs = [(HOPS_KEY, str(self.hops))]
        if self.tokens is not None:
            pairs.append((TOKENS_KEY, str(self.tokens)))
        if self.cost_usd is not None:
            pairs.append((COST_KEY, f"{self.cost_usd:.6f}"))
        return pairs

    # -- arithmetic ----------------------------------------------------------------------

    def tightest(self, other: Budget) -> Budget:
        """The smaller of two budgets, field by field (caller's wishes vs. server's limits)."""
        return Budget(
            tokens=_min_opt(self.tokens, other.tokens),
            cost_usd=_min_opt(self.cost_usd, other.cost_usd),
            hops=min(self.hops, other.hops),
        )

    def take_hop(self, to: str) -> Budget:
        """The budget for the next service; raises when no hop is left (a loop, say)."""
        if self.hops <= 0:
            raise ResourceExhausted(
                f"hop budget spent: calling {to} would exceed the request's service-to-service "
                "call limit (is something calling in a loop?)"
            )
        return self.model_copy(update={"hops": self.hops - 1})

    def spend(self, tokens: int = 0, cost_usd: float = 0.0) -> Budget:
        """What is left after spending; never below zero."""
        return Budget(
            tokens=None if self.tokens is None else max(0, self.tokens - tokens),
            cost_usd=None if self.cost_usd is None else max(0.0, self.cost_usd - cost_usd),
            hops=self.hops,
        )

    def split(self, parts: int) -> Budget:
        """An equal share for each of ``parts`` calls made in parallel."""
        if parts <= 1:
            return self
        return Budget(
            tokens=None if self.tokens is None else self.tokens // parts,
            cost_usd=None if self.cost_usd is None else self.cost_usd / parts,
            hops=self.hops,
        )

    def require_llm(self, what: str, *, min_tokens: int = 1) -> None:
        """Raises unless there are tokens and money left for an LLM call."""
        if self.tokens is not None and self.tokens < min_tokens:
            raise ResourceExhausted(
                f"token budget spent: {self.tokens} tokens left, {what} needs at least "
                f"{min_tokens}; raise {TOKENS_KEY} to allow it"
            )
        if self.cost_usd is not None and self.cost_usd <= 0:
            raise ResourceExhausted(f"cost budget spent before {what}; raise {COST_KEY}")

    def cap_output(self, max_tokens: int, estimated_input: int) -> int:
        """``max_tokens`` cut so that input plus output fit in the token budget."""
        if self.tokens is None:
            return max_tokens
        return max(0, min(max_tokens, self.tokens - estimated_input))

    @property
    def unlimited(self) -> bool:
        return self.tokens is None and self.cost_usd is None


def _min_opt(a: N | None, b: N | None) -> N | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _parse_int(found: Mapping[str, str], key: str, limit: int) -> int | None:
    raw = found.get(key)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidRequest(f"metadata {key} must be a whole number, got {raw[:40]!r}") from None
    if not 0 <= value <= limit:
        raise InvalidRequest(f"metadata {key} must be between 0 and {limit}, got {value}")
    return value


def _parse_float(found: Mapping[str, str], key: str, limit: float) -> float | None:
    raw = found.get(key)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise InvalidRequest(f"metadata {key} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= limit:
        raise InvalidRequest(f"metadata {key} must be between 0 and {limit}, got {raw[:40]!r}")
    return value
