"""A client generated from protos/ alone (none of the project's code) can use the supervisor."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.system.conftest import Stack

pytestmark = pytest.mark.integration

CLIENT = textwrap.dedent(
    """
    import sys
    root = sys.argv[1]
    hidden = {root + d for d in ("", "/shared", "/supervisor", "/agents")}
    sys.path = [p for p in sys.path if p.rstrip("/") not in hidden]   # hide the project
    sys.path.insert(0, sys.argv[2])                              # only the generated code
    import grpc
    from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc, common_pb2
    assert supervisor_pb2.__file__.startswith(sys.argv[2]), supervisor_pb2.__file__
    stub = supervisor_pb2_grpc.SupervisorStub(grpc.insecure_channel(sys.argv[3]))
    agents = stub.ListAgents(supervisor_pb2.ListAgentsRequest(), timeout=10)
    print("agents", sorted(a.card.name for a in agents.agents))
    route = stub.Route(supervisor_pb2.RouteRequest(text="How do I reset my password?"), timeout=10)
    print("route", route.agent, route.method)
    reply = stub.Ask(supervisor_pb2.AskRequest(text="Which browsers are supported?"), timeout=30)
    print("ask", reply.agent, common_pb2.Status.Name(reply.status), len(reply.citations))
    events = list(stub.AskStream(supervisor_pb2.AskRequest(text="Which browsers are supported?"),
                                 timeout=30))
    text = ""
    for e in events:
        if e.WhichOneof("event") == "reset" and e.reset.part == 0:
            text = ""
        elif e.WhichOneof("event") == "text" and e.text.part == 0:
            text += e.text.text
    final = events[-1].final
    print("stream", final.agent, common_pb2.Status.Name(final.status),
          [e.sequence for e in events] == list(range(1, len(events) + 1)),
          text == final.answer, final.answer == reply.answer,
          sum(e.WhichOneof("event") == "text" for e in events) > 1)
    """
)


def test_client_generated_from_protos_only(offline_stack: Stack, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    out.mkdir()
    protos = sorted(str(p) for p in (ROOT / "protos" / "switchboard" / "v1").glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'protos'}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *protos,
        ],
        check=True,
    )
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, str(ROOT), str(out), offline_stack.supervisor.address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "agents ['account', 'billing', 'support']"
    assert lines[1] == "route account embedding"
    assert lines[2].startswith("ask support DEGRADED") and not lines[2].endswith(" 0")
    # the stream: numbered without gaps, its text is the final answer, which is Ask's
    assert lines[3] == "stream support DEGRADED True True True True"
