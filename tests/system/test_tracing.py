"""One trace per request across every process, GenAI spans and metrics, nothing leaked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml

from switchboard.devtools.otlp_decode import ReceivedSpan
from switchboard.devtools.otlp_receiver import OtlpReceiver
from switchboard.devtools.stack import Service, launch, terminate
from switchboard.v1 import supervisor_pb2, supervisor_pb2_grpc
from tests.conftest import AGENTS_DIR
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.system.conftest import FAKE_KEY, base_env, free_port, grounded_responder

pytestmark = pytest.mark.integration

ROOT_SPAN = "/switchboard.v1.Supervisor/Ask"
BILLING_Q = "How long do I have to ask for a refund on an annual plan?"
ACCOUNT_Q = "How many backup codes do I get when I turn on two-factor authentication?"
SUPPORT_EXAMPLES = yaml.safe_load((AGENTS_DIR / "support" / "agent.yaml").read_text())["examples"]
SUPPORT_Q = SUPPORT_EXAMPLES[0]  # one of the card's own examples: routes to support for sure


@dataclass
class Traced:
    stub: supervisor_pb2_grpc.SupervisorStub
    receiver: OtlpReceiver
    llm: FakeAnthropic
    services: list[Service]


@pytest.fixture(scope="module")
def traced(data_copy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    """Supervisor + billing + account exporting to a real OTLP receiver; support is down."""
    workdir = tmp_path_factory.mktemp("traced")
    with OtlpReceiver() as receiver, FakeAnthropic() as llm:
        llm.default = grounded_responder
        env = base_env(data_copy())
        env.update(
            ANTHROPIC_API_KEY=FAKE_KEY,
            ANTHROPIC_BASE_URL=llm.base_url,
            SWITCHBOARD_LLM_MAX_RETRIES="0",
            SWITCHBOARD_ESCALATE_WHEN_AGENT_DOWN="false",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="50",
            OTEL_METRIC_EXPORT_INTERVAL="300",
        )
        services: list[Service] = []
        try:
            for name in ("billing", "account"):
                config = AGENTS_DIR / name / "agent.yaml"
                services.append(
                    launch(
                        f"agent-{name}",
                        ["agent", "--config", str(config), "--port", "0"],
                        workdir,
                        env=env,
                    )
                )
            support = yaml.safe_load((AGENTS_DIR / "support" / "agent.yaml").read_text())
            agents = [
                {"name": s.name.removeprefix("agent-"), "address": s.address} for s in services
            ]
            agents.append(
                {
                    "name": "support",
                    "address": f"127.0.0.1:{free_port()}",  # nobody listens
                    "description": support["description"],
                    "examples": support["examples"],
                }
            )
            (workdir / "agents.yaml").write_text(yaml.safe_dump({"agents": agents}))
            services.append(
                launch(
                    "supervisor",
                    ["supervisor", "--agents", str(workdir / "agents.yaml"), "--port", "0"],
                    workdir,
                    env=env,
                )
            )
            with grpc.insecure_channel(services[-1].address) as channel:
                yield Traced(supervisor_pb2_grpc.SupervisorStub(channel), receiver, llm, services)
        finally:
            terminate(services[::-1])


def trace_of(t: Traced, trace_id: str, *, services: int) -> dict[str, ReceivedSpan]:
    """Waits for the whole trace (root span plus spans from ``services`` processes)."""
    t.receiver.wait_for(lambda s: s.trace_id == trace_id and s.name == ROOT_SPAN)
    t.receiver.wait_for(
        lambda _: (
            len({s.service_name for s in t.receiver.trace(trace_id)}) >= services
            and any(
                s.name.startswith("chat ") or s.status_code == "ERROR"
                for s in t.receiver.trace(trace_id)
                if s.service_name != "switchboard-supervisor"
            )
            # the agent's server span ends (and is exported) after its chat span
            and any(
                s.name.startswith("/switchboard.v1.Agent/") or s.status_code == "ERROR"
                for s in t.receiver.trace(trace_id)
                if s.service_name != "switchboard-supervisor"
            )
        )
    )
    spans = t.receiver.trace(trace_id)
    return {f"{s.service_name}:{s.name}": s for s in spans}


def test_one_trace_spans_every_process_with_correct_parents(traced: Traced) -> None:
    traced.llm.script(
        Reply.text(
            "Refunds within 30 days [1].",
            input_tokens=812,
            output_tokens=23,
            cache_read=50,
            cache_creation=5,
        )
    )
    reply = traced.stub.Ask(
        supervisor_pb2.AskRequest(text=BILLING_Q, request_id="trace-req-1", session_id="sess-9"),
        timeout=30,
    )
    assert reply.agent == "billing"
    spans = trace_of(traced, reply.trace_id, services=2)
    sup, agent = "switchboard-supervisor", "switchboard-agent-billing"
    root = spans[f"{sup}:{ROOT_SPAN}"]
    route = spans[f"{sup}:route"]
    invoke = spans[f"{sup}:invoke_agent billing"]
    client = spans[f"{sup}:/switchboard.v1.Agent/Invoke"]
    server = spans[f"{agent}:/switchboard.v1.Agent/Invoke"]
    retrieval = spans[f"{agent}:retrieval switchboard-billing"]
    chat = spans[f"{agent}:chat claude-sonnet-4-6"]
    assert {s.trace_id for s in spans.values()} == {reply.trace_id}
    assert root.is_root and root.kind == "SERVER"
    assert route.parent_span_id == root.span_id and invoke.parent_span_id == root.span_id
    assert client.parent_span_id == invoke.span_id and client.kind == "CLIENT"
    assert server.parent_span_id == client.span_id  # across the process boundary
    assert retrieval.parent_span_id == server.span_id and chat.parent_span_id == server.span_id

    assert route.attributes["switchboard.route.method"] == "embedding"
    assert route.attributes["switchboard.route.agent"] == "billing"
    assert invoke.kind == "CLIENT"
    assert invoke.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert invoke.attributes["gen_ai.agent.name"] == "billing"
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    # top_k 4 passages for Claude; the offline answer may quote from offline_top_k (8)
    assert retrieval.attributes["switchboard.retrieval.top_k"] == 8
    ids = retrieval.attributes["switchboard.retrieval.document_ids"]
    assert isinstance(ids, list) and any(str(i).startswith("refund-policy.md::") for i in ids)
    assert len(retrieval.attributes["switchboard.retrieval.scores"]) == len(ids)  # type: ignore[arg-type]

    a = chat.attributes
    assert chat.kind == "CLIENT"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "claude-sonnet-4-6"
    assert a["gen_ai.usage.input_tokens"] == 812 + 50 + 5  # as the provider reported, cache incl.
    assert a["gen_ai.usage.output_tokens"] == 23
    assert a["gen_ai.usage.cache_read.input_tokens"] == 50
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    # the roll-up on the request span equals the response's usage
    assert root.attributes["gen_ai.usage.input_tokens"] == reply.usage.input_tokens == 867
    assert root.attributes["switchboard.request_id"] == "trace-req-1"
    # baggage travelled to the agent and was copied onto its spans
    assert server.attributes["switchboard.request_id"] == "trace-req-1"
    assert chat.attributes["switchboard.session_id"] == "sess-9"

    second = traced.stub.Ask(supervisor_pb2.AskRequest(text=ACCOUNT_Q), timeout=30)
    other = trace_of(traced, second.trace_id, services=2)
    assert second.trace_id != reply.trace_id
    assert "switchboard-agent-account:/switchboard.v1.Agent/Invoke" in other


def test_the_prompt_version_is_on_the_agent_span_the_answer_and_the_metrics(
    traced: Traced,
) -> None:
    """Each agent seeded version 1 from its prompt.md at start (docs/prompts.md)."""
    traced.llm.script(Reply.text("Refunds within 30 days [1]."))
    reply = traced.stub.Ask(supervisor_pb2.AskRequest(text=BILLING_Q), timeout=30)
    assert reply.prompt_version == "billing@v1"
    spans = trace_of(traced, reply.trace_id, services=2)
    server = spans["switchboard-agent-billing:/switchboard.v1.Agent/Invoke"]
    assert server.attributes["switchboard.prompt.version"] == "billing@v1"
    assert server.attributes["gen_ai.prompt.version"] == "billing@v1"
    assert server.attributes["switchboard.prompt.label"] == "production"
    assert (
        spans[f"switchboard-supervisor:{ROOT_SPAN}"].attributes["switchboard.prompt.version"]
        == "billing@v1"
    )

    def versions(name: str) -> set[object]:
        return {
            p.attributes.get("switchboard.prompt.version")
            for p in traced.receiver.metric_points
            if p.name == name
        }

    traced.receiver.wait_for(
        lambda _: (
            "billing@v1" in versions("switchboard.prompt.answers")
            and "billing@v1" in versions("switchboard.requests")
        ),
        timeout=10,
    )


def test_deadline_yields_a_complete_trace_with_errors(traced: Traced) -> None:
    traced.llm.script(Reply.delay(3.0, Reply.text("late")))
    with pytest.raises(grpc.RpcError) as info:
        traced.stub.Ask(supervisor_pb2.AskRequest(text=BILLING_Q), timeout=1.0)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    root = traced.receiver.wait_for(
        lambda s: s.name == ROOT_SPAN and s.attributes.get("error.type") == "DEADLINE_EXCEEDED"
    )
    chat = traced.receiver.wait_for(
        lambda s: s.trace_id == root.trace_id and s.name.startswith("chat ")
    )
    spans = {s.name: s for s in traced.receiver.trace(root.trace_id)}
    assert root.status_code == "ERROR"
    invoke = spans["invoke_agent billing"]
    assert invoke.status_code == "ERROR" and invoke.attributes["error.type"] == "DeadlineExceeded"
    # The agent's LLM call ended with the request instead of running on: either the
    # supervisor's cancellation reached the agent first, or the call's own timeout (the
    # propagated deadline less its margin) fired first. Both are the deadline honoured.
    assert chat.status_code == "ERROR"
    assert chat.attributes["error.type"] in {"CancelledError", "APITimeoutError"}
    assert chat.duration_s < 2.0  # ended with the 1 s deadline, not after the 3 s reply


def test_agent_failure_yields_error_spans(traced: Traced) -> None:
    with pytest.raises(grpc.RpcError) as info:
        traced.stub.Ask(supervisor_pb2.AskRequest(text=SUPPORT_Q), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    root = traced.receiver.wait_for(
        lambda s: s.name == ROOT_SPAN and s.attributes.get("error.type") == "UNAVAILABLE"
    )
    spans = {s.name: s for s in traced.receiver.trace(root.trace_id)}
    assert root.status_code == "ERROR"
    assert spans["invoke_agent support"].attributes["error.type"] == "Unavailable"
    assert spans["invoke_agent support"].status_code == "ERROR"


def test_nothing_secret_or_private_leaks(traced: Traced) -> None:
    traced.llm.reset()
    traced.llm.default = grounded_responder
    reply = traced.stub.Ask(
        supervisor_pb2.AskRequest(text=BILLING_Q, request_id="leak-check-42", session_id="s-77"),
        timeout=30,
    )
    spans = trace_of(traced, reply.trace_id, services=2)
    prompt = traced.llm.requests[-1].body["messages"][0]["content"]
    passage = prompt.split('">\n', 1)[1][:60]
    dump = json.dumps([s.attributes for s in spans.values()], default=str)
    assert BILLING_Q not in dump and passage not in dump  # no prompt or document text
    assert FAKE_KEY not in dump
    for request in traced.llm.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert "baggage" not in headers and "traceparent" not in headers
        assert not any("leak-check-42" in v or "s-77" in v for v in headers.values())


def test_genai_and_request_metrics_are_exported(traced: Traced) -> None:
    traced.stub.Ask(supervisor_pb2.AskRequest(text=BILLING_Q), timeout=30)

    def names() -> set[str]:
        return {p.name for p in traced.receiver.metric_points}

    traced.receiver.wait_for(
        lambda _: (
            {
                "gen_ai.client.token.usage",
                "gen_ai.client.operation.duration",
                "switchboard.requests",
                "switchboard.request.duration",
            }
            <= names()
        ),
        timeout=10,
    )
    points = traced.receiver.metric_points
    tokens = [p for p in points if p.name == "gen_ai.client.token.usage"]
    assert {p.attributes["gen_ai.token.type"] for p in tokens} == {"input", "output"}
    assert tokens[0].bounds[:3] == (1.0, 4.0, 16.0)
    durations = [p for p in points if p.name == "gen_ai.client.operation.duration"]
    assert durations[0].bounds[:2] == (0.01, 0.02)
    requests = [p for p in points if p.name == "switchboard.requests"]
    keys = {
        (p.attributes.get("switchboard.agent"), p.attributes.get("switchboard.status"))
        for p in requests
    }
    # The deadline test's error is recorded with the agent and route it had been given.
    assert ("billing", "ANSWERED") in keys and ("billing", "error") in keys
    errors = [p for p in requests if p.attributes.get("switchboard.status") == "error"]
    assert all(p.attributes.get("switchboard.route.method") for p in errors)


def test_logs_are_json_lines_with_trace_ids(traced: Traced, tmp_path: Path) -> None:
    reply = traced.stub.Ask(
        supervisor_pb2.AskRequest(text=ACCOUNT_Q, request_id="log-req-5"), timeout=30
    )
    log = traced.services[-1].log
    traced.receiver.wait_for(lambda s: s.trace_id == reply.trace_id and s.name == ROOT_SPAN)
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    answered = [e for e in entries if e.get("request_id") == "log-req-5"]
    assert answered, "no log line carries the request id"
    entry = answered[-1]
    assert entry["trace_id"] == reply.trace_id and len(entry["span_id"]) == 16
    assert entry["service"] == "supervisor" and entry["level"] == "info" and entry["timestamp"]
    assert ACCOUNT_Q not in log.read_text() and FAKE_KEY not in log.read_text()


def test_a_streamed_answer_reports_time_to_first_token(traced: Traced) -> None:
    events = list(traced.stub.AskStream(supervisor_pb2.AskRequest(text=BILLING_Q), timeout=30))
    final = events[-1].final
    assert final.agent == "billing" and sum(e.HasField("text") for e in events) > 1
    trace_id = final.trace_id
    root = "/switchboard.v1.Supervisor/AskStream"
    traced.receiver.wait_for(lambda s: s.trace_id == trace_id and s.name == root)
    traced.receiver.wait_for(
        lambda _: any(
            s.name == "/switchboard.v1.Agent/InvokeStream" and s.kind == "SERVER"
            for s in traced.receiver.trace(trace_id)
        )
    )
    spans = traced.receiver.trace(trace_id)
    by_name = {(s.name, s.kind): s for s in spans}
    ttft = "switchboard.stream.time_to_first_token_s"
    supervisor = by_name[(root, "SERVER")]
    agent = by_name[("/switchboard.v1.Agent/InvokeStream", "SERVER")]
    call = next(s for s in spans if s.name == "invoke_agent billing")
    chat = next(s for s in spans if s.name.startswith("chat "))
    assert agent.parent_span_id in {s.span_id for s in spans}  # one trace across processes
    for span in (supervisor, agent, call):
        assert 0 < float(span.attributes[ttft]) < 30, span.name  # type: ignore[arg-type]
    assert float(agent.attributes[ttft]) <= float(supervisor.attributes[ttft])  # type: ignore[arg-type]
    assert "gen_ai.response.time_to_first_chunk" in chat.attributes
    traced.receiver.wait_for(
        lambda _: (
            {
                (p.name, p.attributes.get("switchboard.service"))
                for p in traced.receiver.metric_points
            }
            >= {
                ("gen_ai.server.time_to_first_token", "supervisor"),
                ("gen_ai.server.time_to_first_token", "agent"),
                ("gen_ai.server.time_per_output_token", "agent"),
            }
        ),
        timeout=10,
    )
