"""The Claude path end to end: real anthropic SDK in the agents, fake Messages API server."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.v1 import common_pb2, supervisor_pb2
from tests.fakes.fake_anthropic import FakeAnthropic, Reply
from tests.system.conftest import FAKE_KEY, Stack

pytestmark = pytest.mark.integration

QUESTION = "How long do I have to ask for a refund on an annual plan?"


def messages(fake: FakeAnthropic) -> list[dict[str, Any]]:
    return [r.body for r in fake.requests if r.path == "/v1/messages"]


def test_answer_tokens_and_cost_come_from_the_provider(
    llm_stack: Stack, llm: FakeAnthropic
) -> None:
    llm.script(
        Reply.text(
            "Annual plans can be refunded within 30 days [1].",
            input_tokens=1234,
            output_tokens=56,
            cache_read=100,
        )
    )
    reply = llm_stack.stub.Ask(supervisor_pb2.AskRequest(text=QUESTION), timeout=30)
    assert reply.status == common_pb2.ANSWERED and reply.mode == "llm"
    assert reply.agent == "billing"
    assert reply.answer == "Annual plans can be refunded within 30 days [1]."
    assert reply.citations[0].source_id == "refund-policy.md"
    assert reply.usage.input_tokens == 1334 and reply.usage.output_tokens == 56
    expected = (1234 * 3.0 + 56 * 15.0 + 100 * 0.3) / 1e6  # claude-sonnet-4-6 list prices
    assert reply.usage.cost_usd == pytest.approx(expected)
    assert [(u.agent, u.model) for u in reply.usage.breakdown] == [("billing", "claude-sonnet-4-6")]
    body = messages(llm)[0]
    assert "refund-policy.md" in body["messages"][0]["content"]  # grounded in retrieval
    assert "Brightlane" in body["system"]
    request = llm.requests[0]
    assert request.api_key == FAKE_KEY


def test_rate_limits_are_retried_by_the_sdk(llm_stack: Stack, llm: FakeAnthropic) -> None:
    llm.script(Reply.error(429, retry_after=0.05), Reply.error(529, retry_after=0.05))
    reply = llm_stack.stub.Ask(supervisor_pb2.AskRequest(text=QUESTION), timeout=30)
    assert reply.status == common_pb2.ANSWERED
    assert len(messages(llm)) == 3  # two SDK retries; no retry loop of ours on top


@pytest.mark.parametrize("status", [500, 529, 429])
def test_provider_failure_degrades_to_the_offline_answer(
    llm_stack: Stack, llm: FakeAnthropic, status: int
) -> None:
    llm.default = Reply.error(status, retry_after=0.01)
    reply = llm_stack.stub.Ask(supervisor_pb2.AskRequest(text=QUESTION), timeout=30)
    assert reply.status == common_pb2.DEGRADED and reply.mode == "offline-extractive"
    assert "30 days" in reply.answer and reply.citations
    assert reply.usage.input_tokens == 0


def test_unsure_routing_asks_claude(llm_stack: Stack, llm: FakeAnthropic) -> None:
    reply = llm_stack.stub.Ask(
        supervisor_pb2.AskRequest(text="Do I lose SSO if I downgrade?"), timeout=30
    )
    assert reply.route.method == "llm" and reply.agent == "billing"  # the fake router's choice
    routing = [b for b in messages(llm) if b.get("tool_choice")]
    assert len(routing) == 1
    assert routing[0]["tool_choice"] == {"type": "tool", "name": "choose_agent"}
    assert routing[0]["model"] == "claude-haiku-4-5"
    by_agent = {u.agent: u for u in reply.usage.breakdown}
    assert by_agent["supervisor"].input_tokens == 210
    assert by_agent["billing"].input_tokens == 900
    assert reply.usage.input_tokens == 1110 and reply.usage.output_tokens == 90
