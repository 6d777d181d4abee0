"""Fixtures shared by every test: the real embedder, the demo agents, a fake LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex

ROOT = Path(__file__).resolve().parents[1]
AGENTS_DIR = ROOT / "agents"
FACTS_DIR = ROOT / "tests" / "data" / "facts"
DOMAINS = ("account", "billing", "support")


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def agent_configs() -> dict[str, AgentConfig]:
    return {d: AgentConfig.load(AGENTS_DIR / d / "agent.yaml") for d in DOMAINS}


@pytest.fixture(scope="session")
def agent_cards(agent_configs: dict[str, AgentConfig]) -> list[AgentCard]:
    """The cards each agent's Describe returns (examples plus knowledge topics)."""
    return [c.card() for c in agent_configs.values()]


@pytest.fixture(scope="session")
def card_index(agent_cards: list[AgentCard], embedder: MiniLMEmbedder) -> EmbeddingIndex:
    return EmbeddingIndex.build(agent_cards, embedder)
