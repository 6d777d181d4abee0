"""Compound requests through the real stack: split, asked in parallel, merged with attribution."""

from __future__ import annotations

import re
from typing import Any

import pytest

from switchboard.supervisor.compound.merge import MERGE_SYSTEM
from switchboard.v1 import common_pb2, supervisor_pb2
from tests.fakes.fake_anthropic import FakeAnthropic, Reply, last_user_text
from tests.system.conftest import Stack, grounded_responder

pytestmark = pytest.mark.integration

COMPOUND = "Please refund my last invoice and turn on two-factor login for me"
PARTS = [
    ("billing", "Please refund my last invoice"),
    ("account", "turn on two-factor login for me"),
]
MERGE_TOKENS = (500, 80)


def ask(stack: Stack, text: str = COMPOUND) -> supervisor_pb2.AskResponse:
    reply: supervisor_pb2.AskResponse = stack.stub.Ask(
        supervisor_pb2.AskRequest(text=text), timeout=30
    )
    return reply


def is_merge(body: dict[str, Any]) -> bool:
    return body.get("system") == MERGE_SYSTEM


def merging_responder(body: dict[str, Any]) -> Reply:
    """Plays Claude: merges the parts it is given under their teams' names, markers kept."""
    if not is_merge(body):
        return grounded_responder(body)
    parts = re.findall(r'<part team="([^"]+)"[^>]*>\n(.*?)\n</part>', last_user_text(body), re.S)
    text = "\n".join(f"**{team}:** {answer}" for team, answer in parts)
    return Reply.text(text, input_tokens=MERGE_TOKENS[0], output_tokens=MERGE_TOKENS[1])


def assert_parts_cited_and_unioned(reply: supervisor_pb2.AskResponse) -> None:
    assert [(p.agent, p.text) for p in reply.parts] == PARTS
    assert [(p.agent, p.text) for p in reply.route.parts] == PARTS
    assert reply.route.method == "compound" and reply.agent == "billing,account"
    union: list[str] = []
    for part in reply.parts:
        assert part.citations, part
        union.extend(c.source_id for c in part.citations if c.source_id not in union)
    assert [c.source_id for c in reply.citations] == union
    assert any("refund" in c.source_id for c in reply.parts[0].citations)
    assert any("two-factor" in c.source_id for c in reply.parts[1].citations)


def assert_usage_sums(reply: supervisor_pb2.AskResponse) -> None:
    u = reply.usage
    assert u.input_tokens == sum(b.input_tokens for b in u.breakdown)
    assert u.output_tokens == sum(b.output_tokens for b in u.breakdown)
    assert u.cost_usd == pytest.approx(sum(b.cost_usd for b in u.breakdown))


def test_offline_compound_request_is_answered_by_both_agents(offline_stack: Stack) -> None:
    reply = ask(offline_stack)
    assert_parts_cited_and_unioned(reply)
    assert reply.status == common_pb2.DEGRADED and reply.mode == "offline-extractive"
    assert all(p.status == common_pb2.DEGRADED for p in reply.parts)
    # the structured merge: one attributed section per part, sources numbered once
    assert 'Billing, on "Please refund my last invoice":' in reply.answer
    assert 'Account, on "turn on two-factor login for me":' in reply.answer
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", reply.answer)}
    assert cited == set(range(1, len(reply.citations) + 1))
    assert sorted(b.agent for b in reply.usage.breakdown) == ["account", "billing"]
    assert_usage_sums(reply)
    assert reply.confidence == pytest.approx(min(p.confidence for p in reply.parts))


def test_single_domain_requests_with_and_are_not_split(offline_stack: Stack) -> None:
    reply = ask(offline_stack, "how do I export invoices and change the billing email")
    assert reply.route.method != "compound" and not reply.parts and reply.agent == "billing"


def test_route_reports_the_parts(offline_stack: Stack) -> None:
    decision = offline_stack.stub.Route(supervisor_pb2.RouteRequest(text=COMPOUND), timeout=30)
    assert decision.method == "compound" and decision.agent == ""
    assert [(p.agent, p.text) for p in decision.parts] == PARTS
    assert all(p.confidence >= 0.7 for p in decision.parts)


def test_claude_merges_the_parts_and_every_call_is_counted(
    llm_stack: Stack, llm: FakeAnthropic
) -> None:
    llm.default = merging_responder
    reply = ask(llm_stack)
    assert_parts_cited_and_unioned(reply)
    assert reply.status == common_pb2.ANSWERED and reply.mode == "llm"
    assert all(p.status == common_pb2.ANSWERED and p.mode == "llm" for p in reply.parts)
    assert reply.answer.startswith("**Billing:** According to our docs:")
    assert "\n**Account:** According to our docs:" in reply.answer
    assert "[1]" in reply.answer and "[2]" in reply.answer
    bodies = [r.body for r in llm.requests if r.path == "/v1/messages"]
    routing = [b for b in bodies if (b.get("tool_choice") or {}).get("name") == "choose_agent"]
    assert routing == []  # the split needed no LLM routing
    merges = [b for b in bodies if is_merge(b)]
    assert len(merges) == 1 and merges[0]["model"] == "claude-haiku-4-5"
    by_agent = {b.agent: b for b in reply.usage.breakdown}
    assert sorted(by_agent) == ["account", "billing", "supervisor"]
    assert (by_agent["supervisor"].input_tokens, by_agent["supervisor"].output_tokens) == (
        MERGE_TOKENS
    )
    assert by_agent["supervisor"].cost_usd == pytest.approx((500 * 1.0 + 80 * 5.0) / 1e6)
    agents = [by_agent["billing"], by_agent["account"]]
    assert all(a.input_tokens > 0 and a.model == "claude-sonnet-4-6" for a in agents)
    assert reply.usage.input_tokens == sum(a.input_tokens for a in agents) + MERGE_TOKENS[0]
    assert reply.usage.output_tokens == sum(a.output_tokens for a in agents) + MERGE_TOKENS[1]
    assert_usage_sums(reply)


def test_a_failed_merge_call_falls_back_to_the_structured_merge(
    llm_stack: Stack, llm: FakeAnthropic
) -> None:
    def responder(body: dict[str, Any]) -> Reply:
        if is_merge(body):
            return Reply.error(529, retry_after=0.01)
        return grounded_responder(body)

    llm.default = responder
    reply = ask(llm_stack)
    assert_parts_cited_and_unioned(reply)
    assert reply.status == common_pb2.ANSWERED
    assert 'Billing, on "Please refund my last invoice":' in reply.answer
    assert sorted(b.agent for b in reply.usage.breakdown) == ["account", "billing"]
    assert_usage_sums(reply)
    merges = [r for r in llm.requests if r.path == "/v1/messages" and is_merge(r.body)]
    assert len(merges) == 3  # the SDK's two retries, then the structured merge


def test_route_never_calls_an_agent_or_the_llm(llm_stack: Stack, llm: FakeAnthropic) -> None:
    decision = llm_stack.stub.Route(supervisor_pb2.RouteRequest(text=COMPOUND), timeout=30)
    assert [p.agent for p in decision.parts] == ["billing", "account"]
    assert llm.requests == []
