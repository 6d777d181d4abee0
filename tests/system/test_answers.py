"""End to end on the offline backend: the right agent answers, grounded and cited."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from switchboard.devtools.stack import SERVICE_TOKEN_ENV
from switchboard.v1 import common_pb2, supervisor_pb2
from tests.conftest import DOMAINS, FACTS_DIR
from tests.harness.grpc_auth import supervisor_channel
from tests.system.conftest import Stack

pytestmark = pytest.mark.integration


def facts() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for domain in DOMAINS:
        for fact in yaml.safe_load((FACTS_DIR / f"{domain}.yaml").read_text()):
            out.append((domain, fact))
    return out


def test_knowledge_base_facts_are_answered_by_the_right_agent(offline_stack: Stack) -> None:
    """Every checkable fact: routed to its domain, its document cited, the fact quoted."""
    all_facts = facts()
    assert len(all_facts) >= 36
    routed = cited = quoted = 0
    misses = []
    for domain, fact in all_facts:
        reply = offline_stack.stub.Ask(supervisor_pb2.AskRequest(text=fact["question"]), timeout=30)
        ok_route = reply.agent == domain
        ok_cite = fact["source"] in {c.source_id for c in reply.citations}
        ok_quote = all(s.lower() in reply.answer.lower() for s in fact["must_contain"])
        routed += ok_route
        cited += ok_route and ok_cite
        quoted += ok_route and ok_quote
        if not (ok_route and ok_cite):
            misses.append((fact["question"], reply.agent, [c.source_id for c in reply.citations]))
    n = len(all_facts)
    print(f"\nrouted {routed}/{n}, cited {cited}/{n}, quoted {quoted}/{n}; misses: {misses}")
    assert routed / n >= 0.9
    # Measured before and after the question-aware offline answer (issue 17), this set not
    # tuned on: quoted 36 -> 43 of 67, cited 55 -> 53 (a how-to answer may quote the steps
    # from a passage of a neighbouring document). Both are guarded at the new level.
    # Then a yes/no answer had to name the thing asked (escalating most quotes for questions
    # no document answers): cited 53 -> 52, quoted 43 -> 42, the one loss being "Email
    # notifications come in bundles ... can I change it?", whose document says "batched".
    # Then the best sentence's passage quoted first, "from A to B" not answered the way back,
    # and the confidence model refitted on dev: cited 52 -> 53, quoted 42 -> 43.
    assert cited / n >= 0.77
    assert quoted / n >= 0.6


def test_answer_shape(offline_stack: Stack) -> None:
    reply = offline_stack.stub.Ask(
        supervisor_pb2.AskRequest(
            text="How many backup codes do I get with two-factor authentication?",
            request_id="req-shape-1",
            session_id="s-1",
            metadata={"tier": "business"},
        ),
        timeout=30,
    )
    assert reply.request_id == "req-shape-1"
    assert reply.agent == "account"
    assert reply.status == common_pb2.DEGRADED and reply.mode == "offline-extractive"
    assert reply.answer.startswith("Offline answer (no LLM was used")
    assert re.fullmatch(r"[0-9a-f]{32}", reply.trace_id) and reply.trace_id != "0" * 32
    assert reply.citations and all(c.source_id and c.title and c.snippet for c in reply.citations)
    assert 0 < reply.confidence <= 1
    assert reply.route.method == "embedding" and reply.route.agent == "account"
    assert reply.usage.input_tokens == 0 and reply.usage.cost_usd == 0
    assert [u.agent for u in reply.usage.breakdown] == ["account"]


def test_request_ids_are_generated_and_traces_differ(offline_stack: Stack) -> None:
    ask = supervisor_pb2.AskRequest(text="Where do I find my invoices?")
    a = offline_stack.stub.Ask(ask, timeout=30)
    b = offline_stack.stub.Ask(ask, timeout=30)
    assert uuid.UUID(a.request_id) and a.request_id != b.request_id
    assert a.trace_id != b.trace_id


def test_ambiguous_and_out_of_scope(offline_stack: Stack) -> None:
    unsure = offline_stack.stub.Ask(
        supervisor_pb2.AskRequest(text="How much does SSO cost?"), timeout=30
    )
    assert unsure.status == common_pb2.NEEDS_CLARIFICATION and unsure.agent == ""
    assert {c.agent for c in unsure.candidates} >= {"account", "billing"}
    oos = offline_stack.stub.Ask(
        supervisor_pb2.AskRequest(text="What's a good recipe for banana bread?"), timeout=30
    )
    assert oos.status == common_pb2.NEEDS_CLARIFICATION and oos.route.method == "out_of_scope"
    assert not oos.candidates and not oos.citations


def test_route_and_list_agents(offline_stack: Stack) -> None:
    decision = offline_stack.stub.Route(
        supervisor_pb2.RouteRequest(text="The desktop app won't sync my tasks"),
        timeout=10,
    )
    assert decision.agent == "support" and decision.method == "embedding"
    assert decision.candidates[0].agent == "support" and decision.confidence > 0.7
    listing = offline_stack.stub.ListAgents(supervisor_pb2.ListAgentsRequest(), timeout=10)
    by_name = {a.card.name: a for a in listing.agents}
    assert set(by_name) == set(DOMAINS)
    for name, info in by_name.items():
        assert info.card_source == "describe"  # fetched from the running agent
        assert info.address == offline_stack.agents[name].address
        assert len(info.card.examples) == 30


def test_every_server_has_health_and_reflection(offline_stack: Stack) -> None:
    secret = offline_stack.env.get(SERVICE_TOKEN_ENV)
    for service in [offline_stack.supervisor, *offline_stack.agents.values()]:
        # Reflection needs the service's credentials (agents: the supervisor's token).
        is_agent = service is not offline_stack.supervisor
        with supervisor_channel(service.address, secret if is_agent else None) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == (
                health_pb2.HealthCheckResponse.SERVING
            )
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            replies = stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
            names = {s.name for r in replies for s in r.list_services_response.service}
            assert "grpc.health.v1.Health" in names
            assert names & {"switchboard.v1.Supervisor", "switchboard.v1.Agent"}


def test_reingest_while_serving_is_idempotent(offline_stack: Stack, tmp_path: Path) -> None:
    """The CLI's ingest reports nothing to do on an already ingested store."""
    import subprocess
    import sys

    from tests.system.conftest import CONFIGS

    env = {"SWITCHBOARD_DATA_DIR": str(tmp_path / "d")}
    import os

    def run():
        return subprocess.run(
            [sys.executable, "-m", "switchboard.cli.main", "ingest", str(CONFIGS[0])],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    first, second = run(), run()
    assert "0 unchanged" in first and " 0 added" not in first
    assert "0 added, 0 updated, 0 removed" in second


def test_routing_decisions_and_agent_calls_are_audited(offline_stack: Stack) -> None:
    """Every Ask leaves audit rows in the database, readable with `switchboard audit`."""
    import json as jsonlib
    import subprocess
    import sys
    import time

    reply = offline_stack.stub.Ask(
        supervisor_pb2.AskRequest(
            text="Where do I find my invoices?",
            request_id="audit-me-1",
            metadata={"tenant": "acme"},
        ),
        timeout=30,
    )
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "switchboard.cli.main",
                "audit",
                "--request-id",
                "audit-me-1",
                "--json",
            ],
            env=offline_stack.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows = [jsonlib.loads(line) for line in out.splitlines() if line.strip()]
        if {r["kind"] for r in rows} >= {"route_decision", "agent_call"}:
            break
        time.sleep(0.3)
    kinds = {r["kind"]: r for r in rows}
    assert kinds["route_decision"]["agent"] == "billing"
    assert kinds["route_decision"]["outcome"] == "embedding"
    call = kinds["agent_call"]
    # The tenant comes from the caller's token only: this stack runs open, so the "tenant"
    # the caller put in its metadata is not believed.
    assert call["outcome"] == "DEGRADED" and call["tenant"] is None
    assert call["trace_id"] == reply.trace_id
    assert "invoices-and-receipts.md" in call["detail"]["citations"]
