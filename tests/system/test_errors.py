"""Every kind of bad input or failure gets the right gRPC status and an actionable message."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
import yaml

from switchboard.devtools.stack import launch, terminate
from switchboard.v1 import agent_pb2, common_pb2, supervisor_pb2
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.system.conftest import Stack, base_env, free_port

pytestmark = pytest.mark.integration


def code_of(call, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value.code(), info.value.details() or ""


def test_empty_and_blank_text(offline_stack: Stack) -> None:
    for text in ("", "   \n\t"):
        code, details = code_of(offline_stack.stub.Ask, supervisor_pb2.AskRequest(text=text))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "empty" in details
        code, _ = code_of(offline_stack.stub.Route, supervisor_pb2.RouteRequest(text=text))
        assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_oversized_text(offline_stack: Stack) -> None:
    code, details = code_of(offline_stack.stub.Ask, supervisor_pb2.AskRequest(text="a" * 4001))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "4001 characters" in details and "limit is 4000" in details


def test_invalid_utf8_is_invalid_argument_not_internal(offline_stack: Stack) -> None:
    raw = offline_stack.channel.unary_unary(
        "/switchboard.v1.Supervisor/Ask",
        request_serializer=lambda b: b,
        response_deserializer=supervisor_pb2.AskResponse.FromString,
    )
    bad = b"\x1a\x04ab\xff\xfe"  # field 3 (text): 4 bytes, not UTF-8
    code, details = code_of(raw, bad, timeout=5)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in details
    # the service is unharmed
    ok = offline_stack.stub.Route(supervisor_pb2.RouteRequest(text="refund"), timeout=5)
    assert ok.agent == "billing"


def test_unknown_agent_and_bad_request_id(offline_stack: Stack) -> None:
    code, details = code_of(
        offline_stack.stub.Ask, supervisor_pb2.AskRequest(text="hi", agent="marketing")
    )
    assert code == grpc.StatusCode.NOT_FOUND
    assert "marketing" in details and "account, billing, support" in details
    code, _ = code_of(
        offline_stack.stub.Ask, supervisor_pb2.AskRequest(text="hi", request_id="r" * 200)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_agent_rejects_bad_input_directly(offline_stack: Stack) -> None:
    stub = offline_stack.agent_stub("billing")
    code, _ = code_of(stub.Invoke, agent_pb2.InvokeRequest(text=""), timeout=5)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, details = code_of(
        stub.Invoke, agent_pb2.InvokeRequest(text="refund", query_embedding=[0.5] * 3), timeout=5
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "384" in details
    card = stub.Describe(agent_pb2.DescribeRequest(), timeout=5)
    assert card.name == "billing" and len(card.examples) == 30 and card.topics


@pytest.mark.parametrize("escalate", [True, False], ids=["escalates", "unavailable"])
def test_agent_down_and_inline_cards_still_route(
    tmp_path: Path, agent_cards, escalate: bool
) -> None:
    """No agent running at all: Route works from inline cards; Ask escalates to a person
    (the default) or, when configured, says UNAVAILABLE with the agent's address."""
    dead = f"127.0.0.1:{free_port()}"
    agents_file = tmp_path / "agents.yaml"
    agents_file.write_text(
        yaml.safe_dump(
            {"agents": [{"address": dead, **c.model_dump(exclude={"topics"})} for c in agent_cards]}
        )
    )
    env = base_env(tmp_path / "data")
    env["SWITCHBOARD_ESCALATE_WHEN_AGENT_DOWN"] = str(escalate).lower()
    sup = launch(
        "supervisor", ["supervisor", "--agents", str(agents_file), "--port", "0"], tmp_path, env=env
    )
    question = supervisor_pb2.AskRequest(text="Can I get an invoice with our VAT number?")
    try:
        with grpc.insecure_channel(sup.address) as channel:
            from switchboard.v1 import supervisor_pb2_grpc

            stub = supervisor_pb2_grpc.SupervisorStub(channel)
            decision = stub.Route(
                supervisor_pb2.RouteRequest(text="Can I get an invoice with our VAT number?"),
                timeout=10,
            )
            assert decision.agent == "billing"
            listing = stub.ListAgents(supervisor_pb2.ListAgentsRequest(), timeout=5)
            assert {a.card_source for a in listing.agents} == {"inline"}
            started = time.monotonic()
            if escalate:
                reply = stub.Ask(question, timeout=10)
                assert reply.status == common_pb2.ESCALATED and reply.agent == ""
                assert reply.route.agent == "billing" and "unavailable" in reply.answer
            else:
                code, details = code_of(stub.Ask, question, timeout=10)
                assert code == grpc.StatusCode.UNAVAILABLE
                assert "billing" in details and dead in details
            assert time.monotonic() - started < 5  # retried a little, then gave up: no hang
    finally:
        assert terminate([sup]) == [0]


def test_slow_agent_hits_the_callers_deadline(llm_stack: Stack, llm: FakeAnthropic) -> None:
    """The LLM hangs: the caller gets DEADLINE_EXCEEDED within its deadline (plus slack)."""
    llm.script(Reply.delay(5.0, Reply.text("too late")))
    started = time.monotonic()
    code, _ = code_of(
        llm_stack.stub.Ask,
        supervisor_pb2.AskRequest(text="How do I download my invoices?"),
        timeout=1.5,
    )
    elapsed = time.monotonic() - started
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 1.5 + 0.2
    # the stack still answers afterwards
    llm.reset()
    reply = llm_stack.stub.Ask(
        supervisor_pb2.AskRequest(text="How do I download my invoices?"), timeout=30
    )
    assert reply.status == common_pb2.ANSWERED
