"""Fixtures shared by every test: the real embedder, the demo agents, a fake LLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.types import AgentCard
from switchboard.supervisor.routing.index import EmbeddingIndex
from tests.harness import hang_report

ROOT = Path(__file__).resolve().parents[1]
AGENTS_DIR = ROOT / "agents"
FACTS_DIR = ROOT / "tests" / "data" / "facts"
DOMAINS = ("account", "billing", "support")


def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    """Before pytest-timeout ends a stuck test, print what its asyncio tasks wait on
    (``tests/harness/hang_report.py``); returning None lets pytest-timeout set its own timer."""
    hang_report.set_timer(item, float(settings.timeout or 0))


def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    hang_report.cancel_timer(item)


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
