"""`switchboard examples`: candidates are proposed, reviewed by a person, then applied."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import yaml

from switchboard.cli.examples import STATUSES, add_examples
from switchboard.cli.main import main
from switchboard.core.errors import ConfigurationError
from switchboard.core.types import Outcome
from switchboard.store import CandidateSource, CandidateStatus, Store
from switchboard.supervisor.learning import candidate_for
from switchboard.supervisor.routing.router import Candidate, Method, RouteResult
from tests.conftest import AGENTS_DIR, DOMAINS
from tests.harness.store import open_sqlite_store

LLM_TEXT = "Can our auditors get read-only access to invoices?"
VAGUE_TEXT = "is there a limit per month?"
REJECTED_TEXT = "hello there, quick one"
DUPLICATE_TEXT = "  how much is the BUSINESS plan per user?  "  # billing has it already


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    """The demo agents' configs and prompts (knowledge folders left empty)."""
    root = tmp_path / "agents"
    for name in DOMAINS:
        (root / name / "knowledge").mkdir(parents=True)
        for f in ("agent.yaml", "prompt.md"):
            shutil.copy(AGENTS_DIR / name / f, root / name / f)
    return root


def _with_store(data_dir: Path, work: object) -> None:
    async def run() -> None:
        store = await open_sqlite_store(data_dir)
        try:
            await work(store)  # type: ignore[operator]
        finally:
            await store.close()

    asyncio.run(run())


async def _propose(store: Store) -> None:
    ex = store.examples
    await ex.propose("r-llm", LLM_TEXT, agent="billing", source=CandidateSource.LLM, outcome="llm")
    await ex.propose("r-vague", VAGUE_TEXT, outcome="clarify")
    await ex.propose("r-no", REJECTED_TEXT, agent="support", source=CandidateSource.LLM,
                     outcome="llm")  # fmt: skip
    await ex.propose("r-dup", DUPLICATE_TEXT, agent="billing", source=CandidateSource.LLM,
                     outcome="llm")  # fmt: skip
    # a second proposal for the same request, or of the same text, is ignored
    assert not await ex.propose("r-llm", "other", agent="account", outcome="llm")
    assert not await ex.propose("r-again", f" {VAGUE_TEXT.upper()} ", outcome="escalated")


def _listed(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["examples", "list", "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _examples(agents_dir: Path, agent: str) -> list[str]:
    examples: list[str] = yaml.safe_load((agents_dir / agent / "agent.yaml").read_text())[
        "examples"
    ]
    return examples


def test_propose_confirm_accept_apply_writes_the_agents_yaml(
    data_dir: Path, agents_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_store(data_dir, _propose)
    before = {a: (agents_dir / a / "agent.yaml").read_text() for a in DOMAINS}
    by_request = {c["request_id"]: c for c in _listed(capsys)}
    assert by_request["r-llm"]["status"] == "pending" and by_request["r-llm"]["source"] == "llm"
    assert (
        by_request["r-vague"]["status"] == "unresolved" and by_request["r-vague"]["agent"] is None
    )
    ids = {r: int(c["id"]) for r, c in by_request.items()}  # type: ignore[call-overload]

    # A person resolves the clarified request, then reviews.
    assert main(["examples", "confirm", "r-vague", "support", "--agents-dir", str(agents_dir)]) == 0
    [vague] = [c for c in _listed(capsys, "--status", "pending") if c["request_id"] == "r-vague"]
    assert vague["agent"] == "support" and vague["source"] == "person"

    # Nothing is applied before it is accepted.
    assert main(["examples", "apply", "--agents-dir", str(agents_dir)]) == 0
    assert "no accepted candidates" in capsys.readouterr().out
    assert {a: (agents_dir / a / "agent.yaml").read_text() for a in DOMAINS} == before

    assert main(["examples", "accept", str(ids["r-llm"]), str(ids["r-vague"]),
                 str(ids["r-dup"])]) == 0  # fmt: skip
    assert main(["examples", "reject", str(ids["r-no"])]) == 0
    capsys.readouterr()
    assert main(["examples", "apply", "--agents-dir", str(agents_dir)]) == 0
    out = capsys.readouterr().out
    assert "billing: added 1, 1 already there" in out and "support: added 1" in out
    assert "make k8s-config" in out

    billing, support = _examples(agents_dir, "billing"), _examples(agents_dir, "support")
    assert billing[-1] == LLM_TEXT and support[-1] == VAGUE_TEXT
    assert sum(e.lower() == DUPLICATE_TEXT.strip().lower() for e in billing) == 1
    assert REJECTED_TEXT not in support
    # Only lines were added: comments, keys and the other examples are as they were.
    new_lines = (agents_dir / "support" / "agent.yaml").read_text().splitlines()
    assert [line for line in new_lines if line not in before["support"].splitlines()] == [
        f'  - "{VAGUE_TEXT}"'
    ]
    assert "# Optional routing rule" in "\n".join(new_lines)
    assert (agents_dir / "account" / "agent.yaml").read_text() == before["account"]

    statuses = {c["request_id"]: c["status"] for c in _listed(capsys)}
    assert statuses == {"r-llm": "applied", "r-vague": "applied", "r-dup": "applied",
                        "r-no": "rejected"}  # fmt: skip
    # Applying again changes nothing.
    after = (agents_dir / "billing" / "agent.yaml").read_text()
    assert main(["examples", "apply", "--agents-dir", str(agents_dir)]) == 0
    assert (agents_dir / "billing" / "agent.yaml").read_text() == after


def test_review_mistakes_are_refused(
    data_dir: Path, agents_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_store(data_dir, _propose)
    ids = {c["request_id"]: c["id"] for c in _listed(capsys)}
    # an unresolved request has no agent to accept yet
    assert main(["examples", "accept", str(ids["r-vague"])]) == 1
    assert "examples confirm" in capsys.readouterr().err
    assert main(["examples", "accept", "99999"]) == 1
    assert "no candidate with id 99999" in capsys.readouterr().err
    assert main(["examples", "confirm", "r-vague", "marketing", "--agents-dir",
                 str(agents_dir)]) == 1  # fmt: skip
    assert "unknown agent 'marketing'" in capsys.readouterr().err
    assert main(["examples", "confirm", "r-missing", "billing"]) == 1
    assert "no recorded request" in capsys.readouterr().err
    # a rejected candidate is never applied
    assert main(["examples", "reject", str(ids["r-llm"])]) == 0
    before = (agents_dir / "billing" / "agent.yaml").read_text()
    assert main(["examples", "apply", "--agents-dir", str(agents_dir)]) == 0
    assert (agents_dir / "billing" / "agent.yaml").read_text() == before
    assert main(["examples", "confirm", "r-llm", "billing"]) == 0  # re-opened for review
    assert [c["status"] for c in _listed(capsys) if c["request_id"] == "r-llm"] == ["pending"]


def test_without_a_database_the_command_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["examples", "list"]) == 1
    assert "switchboard db upgrade" in capsys.readouterr().err


def test_statuses_match_the_store() -> None:
    assert tuple(s.value for s in CandidateStatus) == STATUSES


def test_add_examples_handles_other_layouts(tmp_path: Path) -> None:
    src = AGENTS_DIR / "billing"
    for name, layout in {
        "flow-empty": "examples: []\n",
        "absent": "",
        "unindented": 'examples:\n- "first"\n- second\n',
    }.items():
        folder = tmp_path / name
        (folder / "knowledge").mkdir(parents=True)
        shutil.copy(src / "prompt.md", folder / "prompt.md")
        path = folder / "agent.yaml"
        path.write_text(
            f"name: billing\ndescription: Billing.\n{layout}"
            "system_prompt: prompt.md\nknowledge_dir: knowledge\n"
        )
        result = add_examples(path, ['Why "two" charges?', "second"])
        expected = ["first", "second"] if name == "unindented" else []
        expected += result.added
        assert yaml.safe_load(path.read_text())["examples"] == expected, path.read_text()
        assert result.added == ['Why "two" charges?'] + ([] if name == "unindented" else ["second"])
    flow = tmp_path / "absent" / "agent.yaml"
    flow.write_text(
        'name: billing\ndescription: Billing.\nexamples: ["a", "b"]  # flow style\n'
        "system_prompt: prompt.md\nknowledge_dir: knowledge\n"
    )
    with pytest.raises(ConfigurationError, match="block list"):
        add_examples(flow, ["new one"])
    assert yaml.safe_load(flow.read_text())["examples"] == ["a", "b"]


def _decision(method: str, agent: str | None) -> RouteResult:
    return RouteResult(agent, 0.8, method, [Candidate(agent or "billing", 0.8)], "why")


@pytest.mark.parametrize(
    ("method", "agent", "outcome", "answered_by", "expected"),
    [
        (Method.LLM, "billing", Outcome.ANSWERED, "billing", ("billing", "llm")),
        (Method.LLM, "billing", Outcome.DEGRADED, "billing", ("billing", "llm")),
        (Method.CLARIFY, None, Outcome.NEEDS_CLARIFICATION, "", (None, "clarify")),
        (Method.OUT_OF_SCOPE, None, Outcome.NEEDS_CLARIFICATION, "", (None, "out_of_scope")),
        (Method.EMBEDDING, "support", Outcome.ESCALATED, "support", (None, "escalated")),
        (Method.EMBEDDING, "support", Outcome.ESCALATED, "", None),  # the agent was down
        (Method.EMBEDDING, "support", Outcome.ANSWERED, "support", None),
        (Method.SESSION, "support", Outcome.ESCALATED, "support", None),
        (Method.EXPLICIT, "support", Outcome.ESCALATED, "support", None),
        (Method.LLM, "billing", Outcome.REFUSED, "billing", None),
    ],
)
def test_which_requests_become_candidates(
    method: str,
    agent: str | None,
    outcome: Outcome,
    answered_by: str,
    expected: tuple[str | None, str] | None,
) -> None:
    assert candidate_for(_decision(method, agent), outcome, answered_by) == expected


async def test_migration_0003_hashes_texts_and_keeps_the_oldest_duplicate(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from switchboard.store import migrate
    from switchboard.store.examples import text_hash

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await migrate(url, "0002")
    engine = create_async_engine(url)
    insert = text(
        "INSERT INTO example_candidates (tenant, request_id, text, status, outcome, created_at,"
        " updated_at) VALUES (:t, :r, :x, 'unresolved', 'clarify', '2026-01-01', '2026-01-01')"
    )
    async with engine.begin() as conn:
        for tenant, request_id, body in [
            ("", "r1", "Is it two-way?"),
            ("", "r2", "  is it TWO-WAY? "),  # the same text again: dropped
            ("acme", "r3", "is it two-way?"),  # another tenant: kept
        ]:
            await conn.execute(insert, {"t": tenant, "r": request_id, "x": body})
    await migrate(url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT request_id, text_hash FROM example_candidates"))
        ).all()
    await engine.dispose()
    assert sorted(rows) == [
        ("r1", text_hash("Is it two-way?")),
        ("r3", text_hash("is it two-way?")),
    ]
