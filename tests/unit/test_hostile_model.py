"""Finding 4 (medium): a malformed provider response looked like an agent outage.

The real anthropic SDK against the fake Messages API, answering as a hostile model would.
Every malformed response must become an ``UpstreamError`` (an LLM fault: counted by the LLM
breaker, answered offline), never another exception the agent would turn into INTERNAL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from switchboard.core.errors import UpstreamError, UpstreamRejected
from switchboard.core.llm import AnthropicLLM, Message
from tests.fakes import hostile_model
from tests.fakes.fake_anthropic import FakeAnthropic, Reply


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def llm(fake: FakeAnthropic) -> AsyncIterator[AnthropicLLM]:
    client = AnthropicLLM(
        api_key="sk-test", base_url=fake.base_url, model="m", max_retries=0, timeout=5.0
    )
    yield client
    await client.close()


@pytest.mark.parametrize(
    "reply",
    [
        hostile_model.string_tool_input,
        hostile_model.truncated_body,
        hostile_model.not_json,
        hostile_model.wrong_content_type,
        hostile_model.text_of_wrong_type,
    ],
    ids=lambda f: f.__name__,
)
async def test_malformed_responses_are_upstream_errors(
    fake: FakeAnthropic, llm: AnthropicLLM, reply: Callable[[], Reply]
) -> None:
    fake.script(reply())
    with pytest.raises(UpstreamError) as caught:
        await llm.complete(system="s", messages=[Message("user", "x")], max_tokens=10)
    assert not isinstance(caught.value, UpstreamRejected)  # the provider's fault: counted
    assert "malformed" in caught.value.message


async def test_a_well_formed_reply_still_passes(fake: FakeAnthropic, llm: AnthropicLLM) -> None:
    fake.script(hostile_model.many_tool_calls(3))
    completion = await llm.complete(system="s", messages=[Message("user", "x")], max_tokens=10)
    assert [c.id for c in completion.tool_calls] == ["toolu_000", "toolu_001", "toolu_002"]
