"""Sessions and example candidates over the real stack (separate processes, offline)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import grpc
import pytest
import yaml

from switchboard.cli.main import main
from switchboard.devtools.stack import launch, terminate
from switchboard.store import CandidateStatus
from switchboard.v1 import common_pb2, supervisor_pb2, supervisor_pb2_grpc
from tests.conftest import AGENTS_DIR, DOMAINS
from tests.harness.store import open_data_dir_store
from tests.system.conftest import Stack

pytestmark = pytest.mark.integration

REFUND = "Can I get a refund on our annual plan? We renewed by mistake last week."
FOLLOW_UP = "and how long does that take?"
SWITCH = "Thanks. Different question: how do I set up SAML single sign-on with Okta?"


def _ask(
    stack: Stack, text: str, session: str, *, agent: str = "", request_id: str = ""
) -> supervisor_pb2.AskResponse:
    request = supervisor_pb2.AskRequest(
        text=text, session_id=session, agent=agent, request_id=request_id
    )
    reply: supervisor_pb2.AskResponse = stack.stub.Ask(request, timeout=30)
    return reply


def test_a_conversation_stays_on_a_follow_up_and_moves_on_a_new_topic(
    offline_stack: Stack,
) -> None:
    session = f"conv-{uuid.uuid4().hex[:8]}"
    first = _ask(offline_stack, REFUND, session)
    assert first.agent == "billing" and first.route.method == "embedding"

    follow = _ask(offline_stack, FOLLOW_UP, session)
    assert follow.agent == "billing", follow.route
    assert follow.route.method == "session"
    assert follow.route.reason.startswith("follow-up stays with billing")
    assert follow.status == common_pb2.DEGRADED  # answered by billing, offline
    assert any(c.source_id.startswith("refund-policy") for c in follow.citations)

    moved = _ask(offline_stack, SWITCH, session)
    assert moved.agent == "account", moved.route
    assert moved.route.method != "session"
    assert moved.route.reason.startswith("the topic moved from billing to account")

    # The same follow-up in a new session has no context: the supervisor asks.
    alone = _ask(offline_stack, FOLLOW_UP, f"other-{uuid.uuid4().hex[:8]}")
    assert alone.agent != "billing" and alone.route.method != "session"


def test_two_supervisor_replicas_share_the_conversation(
    offline_stack: Stack, tmp_path: Path
) -> None:
    """Turns alternate between two supervisor processes over one database."""
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(
        yaml.safe_dump(
            {"agents": [{"name": n, "address": a.address} for n, a in offline_stack.agents.items()]}
        )
    )
    env = {**offline_stack.env, "SWITCHBOARD_DATA_DIR": str(tmp_path / "shared")}
    replicas = [
        launch(
            f"supervisor-{i}",
            ["supervisor", "--agents", str(agents_file), "--port", "0"],
            tmp_path,
            env=env,
        )
        for i in range(2)
    ]
    channels = [grpc.insecure_channel(r.address) for r in replicas]
    try:
        stubs = [supervisor_pb2_grpc.SupervisorStub(c) for c in channels]
        session = f"conv-{uuid.uuid4().hex[:8]}"

        def ask(i: int, text: str) -> supervisor_pb2.AskResponse:
            request = supervisor_pb2.AskRequest(text=text, session_id=session)
            reply: supervisor_pb2.AskResponse = stubs[i].Ask(request, timeout=30)
            return reply

        assert ask(0, REFUND).agent == "billing"
        follow = ask(1, FOLLOW_UP)
        assert (follow.agent, follow.route.method) == ("billing", "session")
        assert ask(0, SWITCH).agent == "account"
        again = ask(1, "and is that on every plan?")
        assert (again.agent, again.route.method) == ("account", "session")
    finally:
        for channel in channels:
            channel.close()
        terminate(replicas)


def test_explicit_agent_wins_and_the_session_follows_it(offline_stack: Stack) -> None:
    session = f"conv-{uuid.uuid4().hex[:8]}"
    assert _ask(offline_stack, REFUND, session).agent == "billing"
    named = _ask(offline_stack, "How do I clear the desktop app cache?", session, agent="support")
    assert named.agent == "support" and named.route.method == "explicit"
    follow = _ask(offline_stack, FOLLOW_UP, session)
    assert (follow.agent, follow.route.method) == ("support", "session")


def test_a_clarified_request_can_become_an_example_after_review(
    offline_stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request_id = f"vague-{uuid.uuid4().hex[:8]}"
    # A text of its own (the same text is recorded once, whichever request sent it first),
    # fixed: a random suffix ("ticket 5b4b08") sometimes routed with confidence.
    text = f"{FOLLOW_UP} (same ticket as before)"
    reply = _ask(offline_stack, text, "", request_id=request_id)
    assert reply.status == common_pb2.NEEDS_CLARIFICATION

    data_dir = Path(offline_stack.env["SWITCHBOARD_DATA_DIR"])

    async def recorded() -> list[str]:
        """The unresolved candidates' request ids, once the supervisor has written ours
        (off the request path: it may land just after the reply)."""
        store = await open_data_dir_store(data_dir, upgrade=True)
        try:
            async with asyncio.timeout(20):
                while True:
                    found = await store.examples.query(status=CandidateStatus.UNRESOLVED)
                    if request_id in {c.request_id for c in found}:
                        return [c.request_id for c in found]
                    await asyncio.sleep(0.1)
        finally:
            await store.close()

    assert request_id in asyncio.run(recorded())

    agents = tmp_path / "agents"
    for name in DOMAINS:
        (agents / name / "knowledge").mkdir(parents=True)
        for f in ("agent.yaml", "prompt.md"):
            shutil.copy(AGENTS_DIR / name / f, agents / name / f)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(data_dir))
    assert main(["examples", "confirm", request_id, "billing", "--agents-dir", str(agents)]) == 0
    out = capsys.readouterr().out
    candidate_id = out.split()[1]
    assert main(["examples", "accept", candidate_id]) == 0
    assert main(["examples", "apply", "--agents-dir", str(agents)]) == 0
    assert text in yaml.safe_load((agents / "billing" / "agent.yaml").read_text())["examples"]
