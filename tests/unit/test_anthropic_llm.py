"""The real anthropic SDK against the local fake Messages API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard.core.errors import UpstreamError
from switchboard.core.llm import AnthropicLLM, Message, ToolSpec
from tests.fakes.fake_anthropic import FakeAnthropic, Reply


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def llm(fake: FakeAnthropic, retries: int = 0) -> AnthropicLLM:
    return AnthropicLLM(
        api_key="sk-test-secret",
        base_url=fake.base_url,
        model="claude-sonnet-4-6",
        max_retries=retries,
        timeout=5.0,
    )


async def test_text_reply_with_exact_usage(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.text("Hello [1]", input_tokens=321, output_tokens=12, cache_read=40, cache_creation=7)
    )
    completion = await llm(fake).complete(
        system="sys", messages=[Message("user", "hi")], max_tokens=50
    )
    assert completion.text == "Hello [1]" and completion.stop_reason == "end_turn"
    u = completion.usage
    assert (
        u.input_tokens,
        u.output_tokens,
        u.cache_read_input_tokens,
        u.cache_creation_input_tokens,
    ) == (321, 12, 40, 7)
    assert u.total_input_tokens == 368
    body = fake.requests[0].body
    assert body["system"] == "sys" and body["model"] == "claude-sonnet-4-6"


async def test_tool_use_reply(fake: FakeAnthropic) -> None:
    fake.script(Reply.tool_use("choose_agent", {"agent": "billing", "confidence": 0.7}))
    tool = ToolSpec(name="choose_agent", description="d", input_schema={"type": "object"})
    completion = await llm(fake).complete(
        system="s",
        messages=[Message("user", "x")],
        max_tokens=50,
        tools=[tool],
        force_tool="choose_agent",
    )
    assert completion.stop_reason == "tool_use"
    assert completion.tool_calls[0].name == "choose_agent"
    assert completion.tool_calls[0].input == {"agent": "billing", "confidence": 0.7}
    assert fake.requests[0].body["tool_choice"] == {"type": "tool", "name": "choose_agent"}


async def test_rate_limit_is_retried_by_the_sdk(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.error(429, retry_after=0.01), Reply.text("ok", input_tokens=5, output_tokens=1)
    )
    completion = await llm(fake, retries=2).complete(
        system="s", messages=[Message("user", "x")], max_tokens=10
    )
    assert completion.text == "ok"
    assert len(fake.requests) == 2  # one retry, by the SDK, and no loop of ours on top


@pytest.mark.parametrize(("status", "words"), [(529, "529"), (500, "500"), (429, "429")])
async def test_provider_errors_become_upstream_errors(
    fake: FakeAnthropic, status: int, words: str
) -> None:
    fake.script(Reply.error(status, message="try later"))
    with pytest.raises(UpstreamError, match=words) as info:
        await llm(fake).complete(system="s", messages=[Message("user", "x")], max_tokens=10)
    assert "try later" in info.value.message
    assert "sk-test-secret" not in info.value.message


async def test_timeout_becomes_upstream_error(fake: FakeAnthropic) -> None:
    fake.script(Reply.delay(2.0, Reply.text("late")))
    with pytest.raises(UpstreamError, match="timed out"):
        await llm(fake).complete(
            system="s", messages=[Message("user", "x")], max_tokens=10, timeout=0.3
        )
