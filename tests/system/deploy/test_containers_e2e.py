"""End to end in containers: Chroma, one agent and the supervisor on one Docker network.

The image is built offline (``make images-offline``: a debootstrapped base image and a
host wheelhouse, ``docker build --network none``); every container runs hardened as in
production (read-only root filesystem, no capabilities, no privilege escalation, UID
10001). ``Ask`` is called from the host over gRPC and the spans of that request must
reach an OTLP receiver running in this test process.

Without Docker this is skipped on a user's machine and fails in CI (``CI=true``).
Set ``SWITCHBOARD_TEST_IMAGE`` to test an image you built yourself.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchboard.devtools.otlp_receiver import OtlpReceiver
from tests.system.deploy.conftest import ROOT, docker_available, skip_or_fail

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")

pytestmark = pytest.mark.timeout(1800)

BILLING_QUESTION = "Where do I download last month's invoice?"
HARDENED: dict[str, Any] = {
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "user": "10001:10001",
}


@pytest.fixture(scope="module")
def image() -> str:
    reason = docker_available()
    if reason is not None:
        skip_or_fail(f"Docker is unavailable: {reason}; run 'make docker' (as root) to set it up")
    given = os.environ.get("SWITCHBOARD_TEST_IMAGE")
    if given:
        return given
    tag = "switchboard:e2e"
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "--no-print-directory", "images-offline", f"IMAGE={tag}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert proc.returncode == 0, (
        f"image build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    print(f"image {tag} ready in {time.monotonic() - started:.0f}s")
    return tag


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    # On 0.0.0.0 so containers reach it through the host gateway.
    with OtlpReceiver(host="0.0.0.0") as r:
        yield r


def _wait_serving(address: str, timeout: float, logs: object) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = str(reply.status)
            except grpc.RpcError as exc:
                last = str(exc.code())
            time.sleep(1)
    raise AssertionError(f"{address} not SERVING after {timeout}s ({last}); logs:\n{logs}")


def _logs(container: object) -> str:
    try:
        out, err = container.get_logs()  # type: ignore[attr-defined]
        return str((out + err).decode(errors="replace"))[-6000:]
    except Exception as exc:
        return f"(no logs: {exc})"


def test_ask_through_containers_reaches_the_agent_and_exports_spans(
    image: str, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc

    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text('agents:\n  - name: billing\n    address: "billing:50061"\n')
    agents_file.chmod(0o644)
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://host.docker.internal:{receiver.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "SWITCHBOARD_SHUTDOWN_GRACE_S": "2",
        "ANTHROPIC_API_KEY": "",
    }
    host_gateway: dict[str, Any] = {"extra_hosts": {"host.docker.internal": "host-gateway"}}

    with Network() as network:
        chroma = (
            DockerContainer(image, entrypoint=["chroma"], **HARDENED)
            .with_network(network)
            .with_network_aliases("chroma")
            .with_command(["run", "--path", "/data/chroma", "--host", "0.0.0.0", "--port", "8000"])
            .with_tmpfs_mount("/tmp")
            .with_tmpfs_mount("/data", "uid=10001,gid=10001")
        )
        billing = (
            DockerContainer(image, entrypoint=["sh", "-c"], **HARDENED, **host_gateway)
            .with_network(network)
            .with_network_aliases("billing")
            .with_envs(**otel, SWITCHBOARD_CHROMA_URL="http://chroma:8000")
            .with_command(
                [
                    "for i in $(seq 60); do switchboard ingest /app/agents/billing/agent.yaml"
                    " && break; sleep 1; done && exec switchboard agent"
                    " --config /app/agents/billing/agent.yaml --host 0.0.0.0 --port 50061"
                ]
            )
            .with_tmpfs_mount("/tmp")
            .with_tmpfs_mount("/data", "uid=10001,gid=10001")  # audit and tool effects (SQLite)
        )
        supervisor = (
            DockerContainer(image, **HARDENED, **host_gateway)
            .with_network(network)
            .with_network_aliases("supervisor")
            .with_envs(**otel)
            .with_volume_mapping(str(agents_file), "/etc/switchboard/agents.yaml", "ro")
            .with_command(
                "supervisor --agents /etc/switchboard/agents.yaml --host 0.0.0.0 --port 50051"
            )
            .with_exposed_ports(50051)
            .with_tmpfs_mount("/tmp")
            .with_tmpfs_mount("/data", "uid=10001,gid=10001")  # the audit store (SQLite)
        )
        with chroma, billing, supervisor:
            host = supervisor.get_container_host_ip()
            address = f"{host}:{supervisor.get_exposed_port(50051)}"
            _wait_serving(address, 180, _logs(supervisor))

            with grpc.insecure_channel(address) as channel:
                stub = supervisor_pb2_grpc.SupervisorStub(channel)
                deadline = time.monotonic() + 180
                while True:  # the agent serves once its knowledge is ingested
                    try:
                        reply = stub.Ask(
                            supervisor_pb2.AskRequest(text=BILLING_QUESTION), timeout=30
                        )
                        if reply.agent == "billing":
                            break
                    except grpc.RpcError as exc:
                        if time.monotonic() > deadline:
                            raise AssertionError(
                                f"Ask failed: {exc}\nagent logs:\n{_logs(billing)}"
                            ) from exc
                    if time.monotonic() > deadline:
                        raise AssertionError(f"not answered by billing: {reply}\n{_logs(billing)}")
                    time.sleep(2)

            assert reply.agent == "billing"
            assert reply.answer.strip()
            assert reply.citations, reply
            assert any(c.source_id == "invoices-and-receipts.md" for c in reply.citations), reply
            assert reply.route.agent == "billing"
            assert len(reply.trace_id) == 32

            # The request's spans, from both hops, reached the receiver on the host.
            supervisor_span = receiver.wait_for(
                lambda s: (
                    s.trace_id == reply.trace_id
                    and s.service_name == "switchboard-supervisor"
                    and s.kind == "SERVER"
                ),
                timeout=30,
            )
            assert supervisor_span.name.endswith("Supervisor/Ask")
            agent_span = receiver.wait_for(
                lambda s: (
                    s.trace_id == reply.trace_id
                    and s.service_name == "switchboard-agent-billing"
                    and s.kind == "SERVER"
                ),
                timeout=30,
            )
            assert agent_span.parent_span_id, "the agent's span joins the supervisor's trace"

            # Hardened as configured: nothing may be written outside /tmp.
            code, _ = supervisor.get_wrapped_container().exec_run(["touch", "/app/x"])
            assert code != 0
            for container in (chroma, billing, supervisor):
                attrs = container.get_wrapped_container().attrs
                assert attrs["HostConfig"]["ReadonlyRootfs"] is True
                assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
                code, out = container.get_wrapped_container().exec_run(["id", "-u"])
                assert out.decode().strip() == "10001"
