"""Authentication, per-tenant rate limits, budgets and size limits on the real processes.

One stack runs with caller tokens, a service secret (devstack makes one) and an in-process
rate limit of 1 request/s with a burst of 5; each test uses its own tenant so the buckets do
not interfere. A second supervisor, sharing the stack's agents, keeps its buckets in Redis.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchboard.core import errors
from switchboard.core.access import AccessInterceptor
from switchboard.core.auth import (
    SERVICE_AUDIENCE,
    ServiceAuthenticator,
    ServiceTokenIssuer,
    current_principal,
)
from switchboard.core.budget import COST_KEY, HOPS_KEY, TOKENS_KEY, Budget
from switchboard.core.context import RequestContext
from switchboard.core.serving import start_grpc
from switchboard.core.types import AgentRequest
from switchboard.devtools.stack import SERVICE_TOKEN_ENV, launch, terminate, write_agents_file
from switchboard.store import AuditKind, AuditRecord
from switchboard.supervisor.gateway.client import GrpcAgentClient
from switchboard.v1 import agent_pb2, agent_pb2_grpc, common_pb2, supervisor_pb2
from switchboard.v1 import supervisor_pb2_grpc as sup_grpc
from tests.fakes.audit import AuditRecorder
from tests.harness.store import open_data_dir_store
from tests.system.conftest import Stack, _start, base_env

pytestmark = pytest.mark.integration

TOKENS = {
    t: f"{t}-{uuid.uuid4().hex}"
    for t in ("acme", "globex", "budget", "sizes", "hops", "noisy", "quiet")
}
NARROW = f"narrow-{uuid.uuid4().hex}"  # tenant allowed only the billing agent
EXPIRED = f"expired-{uuid.uuid4().hex}"
# tenants unique per run: Redis buckets outlive a run for a few seconds
REDIS_TENANTS = {f"{t}-{uuid.uuid4().hex[:8]}": f"{t}-{uuid.uuid4().hex}" for t in ("rn", "rq")}
QUESTION = "How long do I have to ask for a refund on an annual plan?"


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@dataclass
class Refusal:
    code: grpc.StatusCode
    details: str
    trailers: dict[str, str]

    @classmethod
    def of(cls, error: Any) -> Refusal:
        return cls(error.code(), error.details() or "", dict(error.trailing_metadata() or ()))


def code_of(call: Any, *args: Any, **kwargs: Any) -> Refusal:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return Refusal.of(info.value)


@pytest.fixture(scope="module")
def secure_stack(data_copy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("secure-stack")
    tokens_file = workdir / "tokens.yaml"
    tokens_file.write_text(
        yaml.safe_dump(
            [
                {"tenant": "narrow", "token": NARROW, "agents": ["billing"]},
                {"tenant": "oldco", "token": EXPIRED, "expires_at": "2020-01-01T00:00:00Z"},
                *({"tenant": t, "token": tok} for t, tok in REDIS_TENANTS.items()),
            ]
        )
    )
    env = base_env(data_copy())
    env.update(
        SWITCHBOARD_AUTH_TOKENS=",".join(f"{t}={tok}" for t, tok in TOKENS.items()),
        SWITCHBOARD_AUTH_TOKENS_FILE=str(tokens_file),
        SWITCHBOARD_RATE_LIMIT_PER_S="1",
        SWITCHBOARD_RATE_LIMIT_BURST="5",
    )
    yield from _start(env, workdir)


async def audit_rows(
    stack: Stack,
    *,
    until: Callable[[list[AuditRecord]], bool] = bool,
    timeout: float = 20.0,
    **filters: Any,
) -> list[AuditRecord]:
    """Audit rows matching ``filters``, waiting (for the services' batched writers to flush)
    until ``until(rows)`` holds or ``timeout`` passes."""
    store = await open_data_dir_store(Path(stack.env["SWITCHBOARD_DATA_DIR"]))
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = await store.audit.query(limit=500, **filters)
            if until(rows) or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.2)
    finally:
        await store.close()


# -- callers at the supervisor ---------------------------------------------------------------


def test_missing_wrong_malformed_and_expired_credentials(secure_stack: Stack) -> None:
    ask = supervisor_pb2.AskRequest(text=QUESTION)
    cases = {
        "missing": [],
        "unknown token": bearer(TOKENS["acme"] + "x"),
        "must be 'Bearer <token>'": [("authorization", f"Token {TOKENS['acme']}")],
        "expired at 2020-01-01": bearer(EXPIRED),
    }
    for expected, metadata in cases.items():
        error = code_of(secure_stack.stub.Ask, ask, metadata=metadata, timeout=10)
        assert error.code == grpc.StatusCode.UNAUTHENTICATED, expected
        assert expected in error.details
        assert TOKENS["acme"] not in error.details and EXPIRED not in error.details
    # every method is guarded, except health checks (probes carry no token)
    error = code_of(secure_stack.stub.ListAgents, supervisor_pb2.ListAgentsRequest(), timeout=10)
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    health = health_pb2_grpc.HealthStub(secure_stack.channel)
    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_refusals_are_audited_without_the_token(secure_stack: Stack) -> None:
    code_of(
        secure_stack.stub.Route,
        supervisor_pb2.RouteRequest(text="refund"),
        metadata=bearer(EXPIRED),
        timeout=10,
    )
    route = "/switchboard.v1.Supervisor/Route"
    rows = await audit_rows(
        secure_stack,
        until=lambda rows: any(r.detail.get("method") == route for r in rows),
        kind=AuditKind.AUTH_FAILURE,
        tenant="oldco",
    )
    row = next((r for r in rows if r.detail.get("method") == route), None)
    assert row is not None, "no auth_failure row for the expired token"
    assert row.outcome == "unauthenticated" and row.detail["reason"] == "expired"
    assert str(row.detail["peer"]).startswith(("ipv4:", "ipv6:"))
    everything = await audit_rows(secure_stack, kind=AuditKind.AUTH_FAILURE)
    dumped = json.dumps([r.model_dump(mode="json") for r in everything])
    assert EXPIRED not in dumped and TOKENS["acme"] not in dumped


async def test_correct_token_is_answered_and_its_tenant_recorded(secure_stack: Stack) -> None:
    request_id = f"auth-ok-{uuid.uuid4().hex}"
    reply = secure_stack.stub.Ask(
        supervisor_pb2.AskRequest(
            text=QUESTION, request_id=request_id, metadata={"tenant": "someone-else"}
        ),
        metadata=bearer(TOKENS["globex"]),
        timeout=30,
    )
    assert reply.status in (common_pb2.ANSWERED, common_pb2.DEGRADED)
    assert reply.agent == "billing" and reply.answer
    rows = await audit_rows(
        secure_stack,
        until=lambda rows: {r.kind for r in rows} >= {"route_decision", "agent_call"},
        request_id=request_id,
    )
    kinds = {r.kind for r in rows}
    assert {AuditKind.ROUTE_DECISION, AuditKind.AGENT_CALL} <= kinds
    assert {r.tenant for r in rows} == {"globex"}  # the token's tenant, not the claimed one


def test_tenant_outside_its_allow_list_is_permission_denied(secure_stack: Stack) -> None:
    stub = secure_stack.stub
    error = code_of(
        stub.Ask,
        supervisor_pb2.AskRequest(text="How do I turn on 2FA?", agent="account"),
        metadata=bearer(NARROW),
        timeout=30,
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert "'account'" in error.details and "billing" in error.details
    reply = stub.Ask(
        supervisor_pb2.AskRequest(text=QUESTION, agent="billing"),
        metadata=bearer(NARROW),
        timeout=30,
    )
    assert reply.agent == "billing"


def test_service_token_at_the_supervisor_is_permission_denied(secure_stack: Stack) -> None:
    token = ServiceTokenIssuer(secure_stack.env[SERVICE_TOKEN_ENV]).token()
    error = code_of(
        secure_stack.stub.Route,
        supervisor_pb2.RouteRequest(text="refund"),
        metadata=bearer(token),
        timeout=10,
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert "tenant token" in error.details


# -- agents accept only the supervisor -------------------------------------------------------


async def test_agent_called_directly_is_refused_and_audited(secure_stack: Stack) -> None:
    secret = secure_stack.env[SERVICE_TOKEN_ENV]
    now = int(time.time())
    claims = {"sub": "supervisor", "aud": SERVICE_AUDIENCE, "iat": now, "exp": now + 60}
    cases = [
        ([], grpc.StatusCode.UNAUTHENTICATED, "missing"),
        (bearer(TOKENS["acme"]), grpc.StatusCode.PERMISSION_DENIED, "caller_token"),
        (
            bearer(jwt.encode(claims, "x" * 40, algorithm="HS256")),
            grpc.StatusCode.UNAUTHENTICATED,
            "invalid_token",
        ),
        (
            bearer(jwt.encode({**claims, "aud": "elsewhere"}, secret, algorithm="HS256")),
            grpc.StatusCode.PERMISSION_DENIED,
            "wrong_audience",
        ),
        (
            bearer(jwt.encode({**claims, "exp": now - 60, "iat": now - 120}, secret)),
            grpc.StatusCode.UNAUTHENTICATED,
            "expired",
        ),
    ]
    address = secure_stack.agents["billing"].address
    with grpc.insecure_channel(address) as channel:
        stub = agent_pb2_grpc.AgentStub(channel)
        for metadata, code, _ in cases:
            error = code_of(
                stub.Invoke, agent_pb2.InvokeRequest(text=QUESTION), metadata=metadata, timeout=10
            )
            assert error.code == code, (metadata, error.details)
        # the stack's own credentials work, health needs none
        card = secure_stack.agent_stub("billing").Describe(agent_pb2.DescribeRequest(), timeout=10)
        assert card.name == "billing"
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING

    reasons = {reason for _, _, reason in cases}

    def agent_rows(rows: list[AuditRecord]) -> list[AuditRecord]:
        return [r for r in rows if r.detail.get("method") == "/switchboard.v1.Agent/Invoke"]

    rows = await audit_rows(
        secure_stack,
        until=lambda rows: {r.detail["reason"] for r in agent_rows(rows)} >= reasons,
        kind=AuditKind.AUTH_FAILURE,
    )
    at_agent = agent_rows(rows)
    assert {r.detail["reason"] for r in at_agent} >= reasons
    caller = next(r for r in at_agent if r.detail["reason"] == "caller_token")
    assert caller.tenant == "acme" and caller.outcome == "permission_denied"
    assert TOKENS["acme"] not in json.dumps([r.model_dump(mode="json") for r in rows])


# -- rate limits -----------------------------------------------------------------------------


def flood(stub: sup_grpc.SupervisorStub, token: str, n: int) -> list[Refusal | None]:
    """``n`` ListAgents calls in flight at once; None for each that succeeded."""
    futures = [
        stub.ListAgents.future(
            supervisor_pb2.ListAgentsRequest(), metadata=bearer(token), timeout=30
        )
        for _ in range(n)
    ]
    results: list[Refusal | None] = []
    for f in futures:
        try:
            f.result()
            results.append(None)
        except grpc.RpcError as exc:
            results.append(Refusal.of(exc))
    return results


def assert_noisy_limited(stub: sup_grpc.SupervisorStub, noisy: str, quiet: str) -> None:
    results = flood(stub, noisy, 25)  # burst 5, 1/s: most of these must be refused
    refused = [e for e in results if e is not None]
    assert 5 <= len(results) - len(refused) <= 15  # at least the burst; far fewer than all
    assert {e.code for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    first = refused[0]
    assert "rate limit" in first.details and "retry after" in first.details
    assert 0 < float(first.trailers["retry-after"]) <= 1.0
    # another tenant is not held back by the noisy one
    assert all(e is None for e in flood(stub, quiet, 3))


async def test_rate_limit_holds_back_the_noisy_tenant_only(secure_stack: Stack) -> None:
    assert_noisy_limited(secure_stack.stub, TOKENS["noisy"], TOKENS["quiet"])
    rows = await audit_rows(secure_stack, kind=AuditKind.LIMIT_EXCEEDED, tenant="noisy")
    assert rows and rows[0].outcome == "resource_exhausted"
    assert rows[0].detail["reason"] == "rate_limit"
    assert 0 < float(str(rows[0].detail["retry_after_s"])) <= 1.0


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not redis_reachable(), reason="no Redis at 127.0.0.1:6379; Redis rate-limit test skipped"
)
def test_rate_limit_in_redis(secure_stack: Stack, tmp_path: Path) -> None:
    """A second supervisor, its buckets in Redis, in front of the same agents."""
    agents_file = write_agents_file(
        tmp_path / "agents.yaml", {name: s.address for name, s in secure_stack.agents.items()}
    )
    env = dict(secure_stack.env, SWITCHBOARD_REDIS_URL="redis://127.0.0.1:6379/0")
    sup = launch(
        "supervisor-redis",
        ["supervisor", "--agents", str(agents_file), "--port", "0"],
        tmp_path,
        env=env,
    )
    try:
        with grpc.insecure_channel(sup.address) as channel:
            stub = sup_grpc.SupervisorStub(channel)
            noisy, quiet = REDIS_TENANTS.values()
            assert_noisy_limited(stub, noisy, quiet)
            reply = stub.Ask(
                supervisor_pb2.AskRequest(text=QUESTION), metadata=bearer(quiet), timeout=30
            )
            assert reply.agent == "billing"  # and it reaches the agents with the stack's secret
    finally:
        assert terminate([sup]) == [0]
    assert "rate limiting is off" not in sup.log.read_text()  # Redis really was used


# -- budgets and size limits -----------------------------------------------------------------


def test_malformed_budget_and_oversized_metadata_are_invalid_argument(
    secure_stack: Stack,
) -> None:
    auth = bearer(TOKENS["budget"])
    for key, value in [
        ("x-switchboard-budget-tokens", "lots"),
        ("x-switchboard-budget-cost-usd", "-1"),
        ("x-switchboard-hops", "99"),
    ]:
        error = code_of(
            secure_stack.stub.Ask,
            supervisor_pb2.AskRequest(text=QUESTION),
            metadata=[*auth, (key, value)],
            timeout=10,
        )
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT and key in error.details
    too_many = {f"k{i}": "v" for i in range(33)}
    error = code_of(
        secure_stack.stub.Ask,
        supervisor_pb2.AskRequest(text=QUESTION, metadata=too_many),
        metadata=auth,
        timeout=10,
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "33 entries" in error.details


def test_oversized_headers_are_refused_before_the_servicer(secure_stack: Stack) -> None:
    error = code_of(
        secure_stack.stub.Route,
        supervisor_pb2.RouteRequest(text="refund"),
        metadata=[*bearer(TOKENS["sizes"]), ("x-padding", "p" * 20_000)],
        timeout=10,
    )
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "metadata size" in error.details
    health = health_pb2_grpc.HealthStub(secure_stack.channel)  # the server is unharmed
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == 1


def test_no_hops_left_is_resource_exhausted(secure_stack: Stack) -> None:
    error = code_of(
        secure_stack.stub.Ask,
        supervisor_pb2.AskRequest(text=QUESTION),
        metadata=[*bearer(TOKENS["hops"]), ("x-switchboard-hops", "0")],
        timeout=30,
    )
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "hop" in error.details


# -- in-process: the supervisor's agent client against a guarded fake agent -----------------


class RecordingAgent:
    """An Agent servicer that records each call's metadata and can fail with a status."""

    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.principals: list[str] = []
        self.fail_with: grpc.StatusCode | None = None

    async def Invoke(self, request: Any, context: Any) -> agent_pb2.InvokeResponse:  # noqa: N802
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        principal = current_principal()
        self.principals.append(principal.name if principal else "")
        if self.fail_with is not None:
            await context.abort(self.fail_with, "the agent says no")
        return agent_pb2.InvokeResponse(answer="ok", agent="billing", status=common_pb2.ANSWERED)

    async def Describe(self, request: Any, context: Any) -> common_pb2.AgentCard:  # noqa: N802
        return common_pb2.AgentCard(name="billing", description="d")


SECRET = "test-service-secret-0123456789abcdef"


async def test_dispatch_sends_budget_and_service_token_and_translates_refusals() -> None:
    agent, audit = RecordingAgent(), AuditRecorder()
    server = await start_grpc(
        [(agent_pb2.DESCRIPTOR.services_by_name["Agent"], agent)],
        host="127.0.0.1",
        port=0,
        interceptors=[AccessInterceptor(ServiceAuthenticator(SECRET), audit=audit)],
    )
    address = f"127.0.0.1:{server.port}"
    request = AgentRequest(text="refund?")
    ctx = RequestContext(request_id="r1", budget=Budget(tokens=900, cost_usd=0.02, hops=2))
    good = GrpcAgentClient({"billing": address}, service_tokens=ServiceTokenIssuer(SECRET))
    wrong = GrpcAgentClient({"billing": address}, service_tokens=ServiceTokenIssuer("w" * 40))
    none = GrpcAgentClient({"billing": address})
    try:
        answer = await good.invoke("billing", request, ctx, timeout=10)
        assert answer.text == "ok"
        sent = agent.metadata[-1]
        assert sent[HOPS_KEY] == "2" and sent[TOKENS_KEY] == "900"
        assert float(sent[COST_KEY]) == pytest.approx(0.02)
        assert agent.principals == ["supervisor"]  # the servicer sees who called
        assert (await good.describe("billing", timeout=10)).name == "billing"

        for client in (wrong, none):  # a misconfigured supervisor: not the caller's fault
            with pytest.raises(errors.Unavailable) as info:
                await client.invoke("billing", request, ctx, timeout=10)
            assert "SWITCHBOARD_SERVICE_TOKEN" in info.value.message
        refusals = [e for e in audit.events if e.kind == AuditKind.AUTH_FAILURE]
        assert [e.detail["reason"] for e in refusals] == ["invalid_token", "missing"]
        assert all(e.detail["method"] == "/switchboard.v1.Agent/Invoke" for e in refusals)
        assert SECRET not in json.dumps([e.model_dump(mode="json") for e in audit.events])

        agent.fail_with = grpc.StatusCode.RESOURCE_EXHAUSTED  # e.g. the agent's budget check
        with pytest.raises(errors.ResourceExhausted, match="the agent says no"):
            await good.invoke("billing", request, ctx, timeout=10)
    finally:
        for client in (good, wrong, none):
            await client.close()
        await server.stop(0)
