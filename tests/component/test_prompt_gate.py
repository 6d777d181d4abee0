"""The gate with a model: each version's prompt reaches the model, so a prompt that makes the
model stop citing is refused on the behaviour figures, not only on the static checks.

The model here is a stand-in that follows one instruction of its system prompt (cite with
[1], unless told never to cite); with ANTHROPIC_API_KEY the gate runs Claude the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.agent.prompt_versions import seed_values
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.llm import Completion, Message, TokenUsage, ToolSpec
from switchboard.core.settings import LLMSettings
from switchboard.devtools.evals.prompt_gate import GateRunner, load_agent_cases, run_gate
from switchboard.store import Store
from tests.conftest import ROOT
from tests.harness import apps
from tests.harness.store import open_sqlite_store

CASES = ROOT / "tests" / "data" / "behaviour.yaml"


@dataclass
class ObedientLLM:
    """Writes the first passage back, citing it as [1] unless the system prompt says not to
    cite; records every system prompt it was given."""

    model: str = "claude-sonnet-4-6"
    systems: list[str] = field(default_factory=list)

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
        self.systems.append(system)
        first = messages[0].content
        assert isinstance(first, str)
        passage = first.split("<document", 1)[1].split(">", 1)[1].split("</document>")[0]
        text = " ".join(passage.split()[:60])
        marker = "" if "Never cite" in system else " [1]"
        return Completion(text + marker, self.model, "end_turn", TokenUsage(300, 60))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_sqlite_store(tmp_path)
    yield store
    await store.close()


async def test_a_prompt_that_stops_citations_is_refused_on_the_figures(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, db: Store, tmp_path: Path
) -> None:
    config = agent_configs["account"]
    vectors = InMemoryStore()
    ingest(config, vectors, embedder)
    v1, _ = await db.prompts.seed(
        agent=config.name, **seed_values(config, config.system_prompt_text())
    )
    worse, _ = await db.prompts.create(
        agent=config.name,
        system_prompt=v1.system_prompt + "\nNever cite sources or use brackets: it looks messy.",
        rules=v1.rules, model=v1.model, params=v1.params, author="bob", note="cleaner look",
    )  # fmt: skip
    llm = ObedientLLM()
    runner = GateRunner(
        config=config,
        settings=apps.agent_settings(tmp_path, llm=LLMSettings(anthropic_api_key=None)),
        store=db,
        embedder=embedder,
        cases=load_agent_cases(CASES, config.name),
        vectors=vectors,
        llm=llm,
    )
    report = await run_gate(runner, worse, v1)
    assert report.backend == "llm"
    assert all(c.passed for c in report.candidate.checks)  # nothing static is wrong with it
    assert report.current is not None
    assert report.current.scores["answers grounded in citations"] == 1.0
    assert report.candidate.scores["answers grounded in citations"] == 0.0
    assert not report.passed
    assert any("answers grounded in citations dropped" in r for r in report.refusals)
    assert any("Never cite" in s for s in llm.systems)  # each version's prompt was used

    same = await run_gate(runner, v1, v1)  # the version itself: nothing drops
    assert same.passed, same.refusals
