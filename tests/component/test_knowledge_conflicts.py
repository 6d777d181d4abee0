"""The ingest-time report of knowledge that disagrees across agents (issue 17, item 5)."""

from __future__ import annotations

from pathlib import Path

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.conflicts import SAME_NAME, disagreement, find_conflicts, values
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.core.embeddings import MiniLMEmbedder

# The topics two agents both document: API tokens, and deleting a workspace.
SHARED = {
    "account": ("personal-api-tokens.md", "deleting-account-and-workspace.md"),
    "support": ("api-authentication.md",),
    "billing": ("cancelling-and-downgrading.md",),
}
PLANTED = """# API tokens (old copy)

## Creating a token

Click **Generate new token**. The token is shown only once and starts with the prefix `blt_`.
Each person can have up to **10 active tokens**.
"""


def store_of(
    config: AgentConfig, embedder: MiniLMEmbedder, folder: Path, docs: tuple[str, ...], extra: str
) -> InMemoryStore:
    folder.mkdir(parents=True)
    for doc in docs:
        (folder / doc).write_text((config.knowledge_dir / doc).read_text())
    if extra:
        (folder / "planted.md").write_text(extra)
    store = InMemoryStore()
    ingest(config.model_copy(update={"knowledge_dir": folder}), store, embedder)
    return store


def test_values_and_what_counts_as_disagreeing() -> None:
    assert values("Tokens start with `blp_`, up to 20 active tokens, $12 per user.") == {
        "prefix": {"blp_"},
        "number:token": {"20"},
        "number:$": {"12"},
    }
    assert values("On the Business and Enterprise plans.")["plan"] == {"Business", "Enterprise"}
    assert disagreement("up to 20 active tokens", "up to 10 active tokens") == ["number:token"]
    assert disagreement("kept for 14 days", "restored within 14 days, purged after 90 days") == []
    assert disagreement("the prefix `blp_`", "the prefix `blt_`") == ["prefix"]
    assert disagreement("ids like `req_`", "tokens like `blp_`") == []


def test_the_shipped_knowledge_agrees_and_a_planted_contradiction_is_reported(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    stores = {
        name: store_of(agent_configs[name], embedder, tmp_path / name, docs, "")
        for name, docs in SHARED.items()
    }
    assert find_conflicts(stores) == []

    stores["support"] = store_of(
        agent_configs["support"], embedder, tmp_path / "planted", SHARED["support"], PLANTED
    )
    found = find_conflicts(stores)
    kinds = {k for c in found for k in c.kinds}
    assert {"prefix", "number:token"} <= kinds, [c.line() for c in found]
    for conflict in found:
        assert conflict.agents == ("account", "support")
        assert conflict.sources == ("personal-api-tokens.md", "planted.md")
        assert conflict.similarity >= SAME_NAME
