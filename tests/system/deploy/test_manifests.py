"""Kubernetes manifests and docker compose: render, validate offline, enforce policy.

Every overlay is rendered with ``kubectl kustomize`` and each object is validated against
the Kubernetes OpenAPI schemas bundled in ``kubernetes-validate`` (no network). Policy
checks then hold every pod to the Pod Security Standards ``restricted`` profile plus a
read-only root filesystem, resource limits, probes and graceful shutdown.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.system.deploy.conftest import ROOT, compose_command, skip_or_fail

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
# Oldest Kubernetes we support (native gRPC probes are GA since 1.27) and the newest schema.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
AGENTS = ["billing", "support", "account"]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
Obj = dict[str, Any]
COMPOSE_VARIABLES = {
    "ANTHROPIC_API_KEY",
    "SWITCHBOARD_IMAGE",
    "SUPERVISOR_PORT",
    "JAEGER_UI_PORT",
    "JAEGER_OTLP_GRPC_PORT",
    "JAEGER_OTLP_HTTP_PORT",
    "BASE_IMAGE",
    "WHEELHOUSE",
}


@cache
def render(overlay: str) -> tuple[Obj, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        skip_or_fail("kubectl is not installed (it renders the kustomize overlays)")
        raise AssertionError("unreachable")
    proc = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"kubectl kustomize {overlay} failed:\n{proc.stderr}"
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def of_kind(objs: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind]


def by_name(objs: tuple[Obj, ...], kind: str, name: str) -> Obj:
    found = [o for o in of_kind(objs, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Obj) -> Obj:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: Obj = spec["template"]["spec"]
    return result


def workloads(objs: tuple[Obj, ...]) -> list[Obj]:
    return [o for o in objs if o["kind"] in WORKLOAD_KINDS]


def containers(workload: Obj) -> Iterator[tuple[str, Obj, bool]]:
    """(label, container, is_init) for every container of a workload's pod."""
    spec = pod_spec(workload)
    name = f"{workload['kind']}/{workload['metadata']['name']}"
    for c in spec.get("initContainers", []):
        yield f"{name}[init:{c['name']}]", c, True
    for c in spec["containers"]:
        yield f"{name}[{c['name']}]", c, False


def generated_config(objs: tuple[Obj, ...], prefix: str) -> Obj:
    """A configMapGenerator ConfigMap, whatever its hash suffix."""
    found = [
        o
        for o in of_kind(objs, "ConfigMap")
        if re.fullmatch(rf"{re.escape(prefix)}(-[a-z0-9]+)?", o["metadata"]["name"])
    ]
    assert len(found) == 1, f"expected one ConfigMap {prefix}-*, found {len(found)}"
    return found[0]


# -- rendering and schemas --------------------------------------------------------------


def test_overlays_exist() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(overlay: str) -> None:
    objs = render(overlay)
    kinds = {o["kind"] for o in objs}
    expected = {
        "Namespace",
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    assert expected <= kinds, f"missing kinds: {expected - kinds}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_objects_match_kubernetes_schemas(overlay: str, version: str) -> None:
    errors = []
    for obj in render(overlay):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {exc.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_overlay_namespace(overlay: str) -> None:
    objs = render(overlay)
    (ns,) = of_kind(objs, "Namespace")
    name = ns["metadata"]["name"]
    for obj in objs:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == name, obj["metadata"]["name"]


# -- Pod Security Standards "restricted", plus what we add on top ------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_namespace_enforces_restricted_pod_security(overlay: str) -> None:
    (ns,) = of_kind(render(overlay), "Namespace")
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down(overlay: str) -> None:
    problems: list[str] = []
    for workload in workloads(render(overlay)):
        spec = pod_spec(workload)
        pod_sc = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{workload['metadata']['name']}: service account token mounted")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{workload['metadata']['name']}: host namespaces")
        for vol in spec.get("volumes", []):
            if "hostPath" in vol:
                problems.append(f"{workload['metadata']['name']}: hostPath volume {vol['name']}")
        for label, c, _ in containers(workload):
            sc = {**pod_sc, **c.get("securityContext", {})}
            if sc.get("runAsNonRoot") is not True:
                problems.append(f"{label}: runAsNonRoot is not true")
            uid = sc.get("runAsUser")
            if not isinstance(uid, int) or uid == 0:
                problems.append(f"{label}: runAsUser must be a numeric non-root UID, got {uid}")
            csc = c.get("securityContext", {})
            if csc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{label}: allowPrivilegeEscalation is not false")
            if csc.get("privileged"):
                problems.append(f"{label}: privileged")
            if csc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{label}: capabilities must drop ALL")
            if csc.get("capabilities", {}).get("add"):
                problems.append(f"{label}: adds capabilities")
            if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{label}: seccompProfile is not RuntimeDefault")
            if csc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{label}: root filesystem is writable")
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            if "/tmp" not in mounts:
                problems.append(f"{label}: no writable /tmp on a read-only root filesystem")
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if res not in resources.get(kind, {}):
                        problems.append(f"{label}: no {kind}.{res}")
            for port in c.get("ports", []):
                if "hostPort" in port:
                    problems.append(f"{label}: hostPort")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_probes(overlay: str) -> None:
    problems: list[str] = []
    for workload in workloads(render(overlay)):
        for label, c, is_init in containers(workload):
            if is_init:
                # Init containers run to completion; Kubernetes rejects probes on them.
                assert not {"readinessProbe", "livenessProbe", "startupProbe"} & set(c), label
                continue
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    problems.append(f"{label}: no {probe}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_services_use_native_grpc_probes_and_drain_on_sigterm(overlay: str) -> None:
    objs = render(overlay)
    env = generated_config(objs, "switchboard-env")["data"]
    grace_s = float(env["SWITCHBOARD_SHUTDOWN_GRACE_S"])
    for name, port in [("supervisor", 50051)] + [(a, 50061) for a in AGENTS]:
        deployment = by_name(objs, "Deployment", name)
        spec = pod_spec(deployment)
        (c,) = spec["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"]["port"] == port, f"{name} {probe}"
        pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        needed = grace_s + float(pre_stop[1]) + 5  # + the span flush on stop
        assert spec["terminationGracePeriodSeconds"] >= needed, name
        assert any(
            e.get("configMapRef", {}).get("name", "").startswith("switchboard-env")
            for e in c["envFrom"]
        )


# -- availability and balancing ----------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_deployment_has_hpa_and_pdb(overlay: str) -> None:
    objs = render(overlay)
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(objs, "HorizontalPodAutoscaler")
    }
    pdbs = of_kind(objs, "PodDisruptionBudget")
    for name in ["supervisor", *AGENTS]:
        deployment = by_name(objs, "Deployment", name)
        hpa = hpas[name]
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]
        labels = pod_spec_labels(deployment)
        matching = [
            p for p in pdbs if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(matching) == 1, f"{name}: {len(matching)} PodDisruptionBudgets"


def pod_spec_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_prod_runs_several_replicas_of_a_pinned_image() -> None:
    objs = render("prod")
    for name in ["supervisor", *AGENTS]:
        deployment = by_name(objs, "Deployment", name)
        assert deployment["spec"]["replicas"] >= 3
        for _, c, _ in containers(deployment):
            assert not c["image"].endswith(":latest") and ":" in c["image"], c["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_agents_are_reached_through_headless_services_with_dns_targets(overlay: str) -> None:
    objs = render(overlay)
    (ns,) = of_kind(objs, "Namespace")
    namespace = ns["metadata"]["name"]
    agents_file = yaml.safe_load(
        generated_config(objs, "switchboard-agents-file")["data"]["agents.yaml"]
    )
    addresses = {a["name"]: a["address"] for a in agents_file["agents"]}
    assert set(addresses) == set(AGENTS)
    for name in AGENTS:
        service = by_name(objs, "Service", f"{name}-headless")
        assert service["spec"]["clusterIP"] == "None"
        assert service["spec"]["ports"][0]["port"] == 50061
        assert addresses[name] == f"dns:///{name}-headless.{namespace}.svc.cluster.local:50061"
        deployment = by_name(objs, "Deployment", name)
        assert service["spec"]["selector"].items() <= pod_spec_labels(deployment).items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_agents_ingest_into_the_chroma_statefulset(overlay: str) -> None:
    objs = render(overlay)
    chroma = by_name(objs, "StatefulSet", "chroma")
    assert chroma["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    env = generated_config(objs, "switchboard-env")["data"]
    assert env["SWITCHBOARD_CHROMA_URL"] == "http://chroma:8000"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    for name in AGENTS:
        spec = pod_spec(by_name(objs, "Deployment", name))
        (init,) = spec["initContainers"]
        assert init["args"][0] == "ingest"
        (agent,) = spec["containers"]
        assert init["args"][1] == agent["args"][2] == f"/etc/switchboard/agents/{name}.yaml"
        key_ref = next(e for e in agent["env"] if e["name"] == "ANTHROPIC_API_KEY")
        assert key_ref["valueFrom"]["secretKeyRef"]["name"] == "switchboard-anthropic"


def test_agent_configs_in_kubernetes_match_the_agents_folder() -> None:
    """The ConfigMap copies differ from agents/<name>/agent.yaml only in absolute paths."""
    for name in AGENTS:
        source = yaml.safe_load((ROOT / "agents" / name / "agent.yaml").read_text())
        copy = yaml.safe_load((K8S / "base" / "config" / "agents" / f"{name}.yaml").read_text())
        assert copy.pop("system_prompt") == f"/etc/switchboard/prompts/{name}.md"
        assert copy.pop("knowledge_dir") == f"/app/agents/{name}/knowledge"
        source.pop("system_prompt")
        source.pop("knowledge_dir")
        assert copy == source, f"deploy/k8s/base/config/agents/{name}.yaml is out of date"
        prompt = (K8S / "base" / "config" / "prompts" / f"{name}.md").read_text()
        assert prompt == (ROOT / "agents" / name / "prompt.md").read_text(), name


# -- network policies --------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_is_denied_by_default_and_only_the_supervisor_calls_agents(
    overlay: str,
) -> None:
    objs = render(overlay)
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(objs, "NetworkPolicy")}
    deny = policies["default-deny-all"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny

    agent_ingress = [
        p
        for p in policies.values()
        if "Ingress" in p["policyTypes"]
        and p["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component") == "agent"
    ]
    assert len(agent_ingress) == 1
    (rule,) = agent_ingress[0]["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "supervisor"}}}
    ]

    # Egress is only ever opened to DNS, the collector, Chroma, agents (from the
    # supervisor), Jaeger (from the collector), the supervisor (from the console only) and
    # HTTPS outside private ranges.
    for name, spec in policies.items():
        for rule in spec.get("egress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            assert ports, f"{name}: egress rule without ports"
            if name == "console-egress":
                assert ports == {50051}, name
                assert rule["to"] == [
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "supervisor"}}}
                ]
                continue
            assert ports <= {53, 4317, 4318, 8000, 50061, 443}, f"{name}: {ports}"
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    assert ports == {443}, name
                    assert "10.0.0.0/8" in peer["ipBlock"]["except"], name


# -- docker compose ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_config() -> Obj:
    cmd = compose_command()
    if cmd is None:
        skip_or_fail("docker compose is not installed (deploy/scripts/install-docker.sh)")
        raise AssertionError("unreachable")
    proc = subprocess.run(
        [*cmd, "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        # The file's own defaults, not whatever this shell exports.
        env={k: v for k, v in os.environ.items() if k not in COMPOSE_VARIABLES},
    )
    assert proc.returncode == 0, f"docker compose config failed:\n{proc.stderr}"
    config: Obj = yaml.safe_load(proc.stdout)
    return config


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_reaches_only_the_supervisor_and_probes_over_http(overlay: str) -> None:
    objs = render(overlay)
    deployment = by_name(objs, "Deployment", "console")
    (c,) = pod_spec(deployment)["containers"]
    assert c["args"] == ["console"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["SWITCHBOARD_CONSOLE_SUPERVISOR"] == "supervisor:50051"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    service = by_name(objs, "Service", "console")
    assert service["spec"]["selector"].items() <= pod_spec_labels(deployment).items()


def test_compose_file_validates_with_the_whole_system(compose_config: Obj) -> None:
    services = compose_config["services"]
    assert {"supervisor", *AGENTS, "chroma", "jaeger", "postgres", "console"} <= set(services)
    console = services["console"]
    assert console["environment"]["SWITCHBOARD_CONSOLE_SUPERVISOR"] == "supervisor:50051"
    assert console["depends_on"]["supervisor"]["condition"] == "service_healthy"
    ports = {p["target"]: p["published"] for p in services["jaeger"]["ports"]}
    assert ports[16686] == "16686" and ports[4317] == "4317"
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_compose_services_are_hardened_and_traced(compose_config: Obj) -> None:
    services = compose_config["services"]
    for name in ["supervisor", *AGENTS, "chroma", "console"]:
        svc = services[name]
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert "healthcheck" in svc, name
    for name in ["supervisor", *AGENTS]:
        env = services[name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317", name
        assert env["SWITCHBOARD_CHROMA_URL"] == "http://chroma:8000", name
        assert env["DATABASE_URL"].startswith("postgresql"), name
    for name in AGENTS:
        command = " ".join(services[name]["command"])
        assert f"switchboard ingest /app/agents/{name}/agent.yaml &&" in command
        assert services[name]["depends_on"]["chroma"]["condition"] == "service_healthy"
