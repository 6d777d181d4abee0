"""``switchboard prompts``: the whole workflow on one registry shared by two agent replicas.

create v2 -> promote to staging (gate passes) -> canary 50% on production (both versions
seen, sticky per session) -> promote to production -> a broken v3 is refused by the gate ->
forced only with a reason -> rollback restores v2 on every replica within the TTL.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.agent.config import AgentConfig
from switchboard.agent.knowledge.ingest import ingest
from switchboard.agent.knowledge.store import InMemoryStore
from switchboard.cli.main import _parser
from switchboard.cli.prompts import run
from switchboard.core.embeddings import MiniLMEmbedder
from switchboard.core.settings import LLMSettings
from switchboard.devtools.evals.prompt_gate import GateRunner, load_agent_cases
from switchboard.store import Store
from tests.component.test_prompt_versions import TTL_S, EchoLLM, ask, replica
from tests.conftest import ROOT
from tests.fakes.clock import FakeClock
from tests.harness import apps
from tests.harness.store import open_sqlite_store

CASES = ROOT / "tests" / "data" / "behaviour.yaml"
LEAKED_KEY = "sk-ant-api03-" + "Q" * 40


@pytest.fixture(scope="module")
def billing_vectors(
    agent_configs: dict[str, AgentConfig], embedder: MiniLMEmbedder
) -> InMemoryStore:
    store = InMemoryStore()
    ingest(agent_configs["billing"], store, embedder)
    return store


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_sqlite_store(tmp_path)
    yield store
    await store.close()


class Cli:
    """Runs ``switchboard prompts ...`` on ``db``; the gate answers from in-memory knowledge,
    offline (no API key), with the guard off."""

    def __init__(
        self,
        db: Store,
        config: AgentConfig,
        vectors: InMemoryStore,
        embedder: MiniLMEmbedder,
        workdir: Path,
    ) -> None:
        self.db, self.config, self.vectors, self.embedder = db, config, vectors, embedder
        self.workdir = workdir

    def runner(self, agent: str, args: argparse.Namespace, store: Store) -> GateRunner:
        return GateRunner(
            config=self.config,
            settings=apps.agent_settings(self.workdir, llm=LLMSettings(anthropic_api_key=None)),
            store=store,
            embedder=self.embedder,
            cases=load_agent_cases(CASES, agent),
            vectors=self.vectors,
        )

    async def __call__(self, *argv: str) -> int:
        args = _parser().parse_args(["prompts", "--actor", "alice", *argv])
        return await run(self.db, args, self.runner)


async def test_the_prompt_workflow_end_to_end(
    agent_configs: dict[str, AgentConfig],
    billing_vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    db: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    billing, clock, llm = agent_configs["billing"], FakeClock(), EchoLLM()
    cli = Cli(db, billing, billing_vectors, embedder, tmp_path / "gate")
    original = billing.system_prompt_text()
    good = tmp_path / "v2.md"
    good.write_text(original + "\nGreet the customer by name when you know it.\n")

    async with (
        replica(billing, tmp_path / "a", db, billing_vectors, embedder, clock, llm) as a,
        replica(billing, tmp_path / "b", db, billing_vectors, embedder, clock, llm) as b,
    ):
        assert await cli("create", "billing", "--file", str(good), "--note", "greet") == 0
        assert "created billing@v2" in capsys.readouterr().out

        assert await cli("diff", "billing", "1", "2") == 0
        assert "+Greet the customer by name" in capsys.readouterr().out

        # staging: the gate runs and passes; production is untouched.
        assert await cli("promote", "billing", "v2", "--to", "staging") == 0
        out = capsys.readouterr().out
        assert "behaviour cases passed" in out and "staging -> v2" in out

        # canary: half the sessions on v2, each session keeps its version on every replica.
        assert await cli("promote", "billing", "2", "--canary", "50") == 0
        assert "production -> v1 50%, v2 50%" in capsys.readouterr().out
        clock.advance(TTL_S + 0.1)
        sessions = [f"s{i}" for i in range(24)]
        seen = {s: (await ask(a, s)).prompt_version for s in sessions}
        assert {s: (await ask(b, s)).prompt_version for s in sessions} == seen
        assert set(seen.values()) == {"billing@v1", "billing@v2"}

        assert await cli("promote", "billing", "2") == 0
        assert "production -> v2" in capsys.readouterr().out

        # A broken v3: the citation and grounding rules gone, a key pasted in.
        broken = tmp_path / "v3.md"
        broken.write_text(f"You are the billing bot. Use key {LEAKED_KEY} for lookups.\n")
        rules = tmp_path / "rules.md"
        rules.write_text("## How to answer\n- Answer however you like.\n")
        args = ("--file", str(broken), "--rules-file", str(rules), "--note", "simpler")
        assert await cli("create", "billing", *args) == 0
        capsys.readouterr()
        assert await cli("promote", "billing", "3") == 1
        out = capsys.readouterr().out
        assert "refused" in out and "nothing moved" in out
        assert "rule: cites with [n] markers" in out and "no secrets" in out
        assert (await db.prompts.label("billing", "production")).version == 2  # type: ignore[union-attr]

        # Forcing needs a reason, and is audited with the gate's verdict.
        assert await cli("promote", "billing", "3", "--force") == 1
        assert "--force needs --reason" in capsys.readouterr().err
        assert await cli("promote", "billing", "3", "--force", "--reason", "incident 42") == 0
        forced = (await db.prompts.history("billing", "production"))[0]
        assert (forced.action, forced.to_version, forced.reason) == ("force", 3, "incident 42")
        assert forced.detail["gate"]["passed"] is False

        clock.advance(TTL_S + 0.1)
        assert (await ask(a)).prompt_version == "billing@v3"

        # Rollback: at once, no gate; every replica is back on v2 within the TTL.
        assert await cli("rollback", "billing", "--reason", "answers worse") == 0
        assert "production -> v2 (was v3)" in capsys.readouterr().out
        clock.advance(TTL_S + 0.1)
        assert [(await ask(r)).prompt_version for r in (a, b)] == ["billing@v2"] * 2

    assert await cli("history", "billing", "--label", "production") == 0
    history = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in history] == [
        "rollback", "force", "promote", "canary", "seed",
    ]  # fmt: skip


async def test_bad_input_is_refused_and_changes_nothing(
    agent_configs: dict[str, AgentConfig],
    billing_vectors: InMemoryStore,
    embedder: MiniLMEmbedder,
    db: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from switchboard.agent.prompt_versions import seed_values

    for name in ("billing", "support"):
        config = agent_configs[name]
        await db.prompts.seed(agent=name, **seed_values(config, config.system_prompt_text()))
    cli = Cli(db, agent_configs["billing"], billing_vectors, embedder, tmp_path / "gate")
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    huge = tmp_path / "huge.md"
    huge.write_text("word " * 10_000)
    cases = [
        (("label", "billing", "staging", "support@v1"), "version of agent 'support'"),
        (("label", "billing", "staging", "v9"), "no prompt version v9"),
        (("label", "nobody", "staging", "1"), "'nobody' has no prompt versions"),
        (("label", "billing", "production", "1"), "moves through 'switchboard prompts promote'"),
        (("show", "billing", "canary"), "has no label 'canary'"),
        (("create", "billing", "--file", str(empty), "--note", "x"), "the system prompt is empty"),
        (("create", "billing", "--file", str(huge), "--note", "x"), "at most 32000"),
        (("create", "billing", "--file", str(tmp_path / "nope.md"), "--note", "x"), "cannot read"),
        (("rollback", "billing"), "nothing to roll back to"),
        (("promote", "billing", "1"), "already serves billing@v1"),
        (("promote", "billing", "1", "--to", "staging", "--canary", "10"), "a canary needs"),
    ]
    for argv, message in cases:
        assert await cli(*argv) == 1, argv
        assert message in capsys.readouterr().err, argv
    assert [v.number for v in await db.prompts.versions("billing")] == [1]
    assert len(await db.prompts.history("billing")) == 1  # only the seed


async def test_a_label_moved_while_the_gate_ran_is_not_overwritten(
    agent_configs: dict[str, AgentConfig],
    db: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Compare-and-set: promote read the label before its (slow) gate; a colleague's move in
    between makes promote fail instead of silently replacing it."""
    from switchboard.agent.prompt_versions import seed_values
    from switchboard.devtools.evals.prompt_gate import Evaluation

    billing = agent_configs["billing"]
    v1, _ = await db.prompts.seed(
        agent="billing", **seed_values(billing, billing.system_prompt_text())
    )
    for n in (2, 3):
        await db.prompts.create(
            agent="billing", system_prompt=f"{v1.system_prompt}\nVariant {n}.", rules=v1.rules,
            model=v1.model, params=v1.params, author="a", note=f"variant {n}",
        )  # fmt: skip

    class ColleagueMovesDuringTheGate:
        config, backend = billing, "offline"

        async def evaluate(self, version: object, baseline: object) -> Evaluation:
            label = await db.prompts.label("billing", "production")
            assert label is not None
            if label.version == 1:  # the colleague promotes v3 meanwhile
                await db.prompts.move(
                    "billing", "production", to=3, expect_revision=label.revision, actor="bob"
                )
            return Evaluation(getattr(version, "ref", ""), [], {"behaviour cases passed": 1.0})

    args = _parser().parse_args(["prompts", "--actor", "alice", "promote", "billing", "2"])
    assert await run(db, args, lambda *_: ColleagueMovesDuringTheGate()) == 1  # type: ignore[arg-type,return-value]
    assert "someone else moved it" in capsys.readouterr().err
    label = await db.prompts.label("billing", "production")
    assert label is not None and (label.version, label.updated_by) == (3, "bob")
