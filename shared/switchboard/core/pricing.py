"""Token prices per model, for cost estimates. Overridable through settings."""

from __future__ import annotations

from pydantic import BaseModel

from switchboard.core.llm import TokenUsage


class ModelPrice(BaseModel):
    """US dollars per million tokens."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


# Public list prices, USD per million tokens.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-opus-4-1": ModelPrice(input=15.0, output=75.0, cache_read=1.5, cache_write=18.75),
    "claude-sonnet-4-6": ModelPrice(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75),
    "claude-sonnet-4-5": ModelPrice(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75),
    "claude-haiku-4-5": ModelPrice(input=1.0, output=5.0, cache_read=0.1, cache_write=1.25),
}


def price_for(model: str, table: dict[str, ModelPrice]) -> ModelPrice | None:
    """Exact match first, then the longest known prefix (dated model ids)."""
    if model in table:
        return table[model]
    best = max((k for k in table if model.startswith(k)), key=len, default=None)
    return table[best] if best else None


def estimate_cost(model: str, usage: TokenUsage, table: dict[str, ModelPrice]) -> float:
    """Estimated USD cost; 0 for an unknown model (it is an estimate, never a guess)."""
    price = price_for(model, table)
    if price is None:
        return 0.0
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_input_tokens * price.cache_read
        + usage.cache_creation_input_tokens * price.cache_write
    ) / 1_000_000
