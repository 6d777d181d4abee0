"""The fake Messages API must be indistinguishable from the real one to the real SDK."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import anthropic
import pytest
from anthropic.types import MessageParam, TextBlock, ToolUseBlock

from tests.fakes.fake_anthropic import FakeAnthropic, Reply

MODEL = "claude-test-model"
HELLO: list[MessageParam] = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def make_client(
    fake: FakeAnthropic, *, max_retries: int = 0, timeout: float = 10.0
) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="test-key", base_url=fake.base_url, max_retries=max_retries, timeout=timeout
    )


async def test_text_reply_with_exact_usage(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.text("Paris.", input_tokens=42, output_tokens=3, cache_read=30, cache_creation=12)
    )
    async with make_client(fake) as client:
        msg = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert msg.id.startswith("msg_")
    assert msg.model == MODEL
    assert msg.stop_reason == "end_turn"
    assert len(msg.content) == 1
    assert isinstance(msg.content[0], TextBlock)
    assert msg.content[0].text == "Paris."
    assert msg.usage.input_tokens == 42
    assert msg.usage.output_tokens == 3
    assert msg.usage.cache_read_input_tokens == 30
    assert msg.usage.cache_creation_input_tokens == 12
    assert fake.pending == 0


async def test_tool_use_reply(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.tool_use("search_docs", {"query": "capital", "k": 3}, text_before="Searching.")
    )
    async with make_client(fake) as client:
        msg = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)

    assert msg.stop_reason == "tool_use"
    assert isinstance(msg.content[0], TextBlock)
    assert msg.content[0].text == "Searching."
    tool = msg.content[1]
    assert isinstance(tool, ToolUseBlock)
    assert tool.name == "search_docs"
    assert tool.input == {"query": "capital", "k": 3}
    assert tool.id.startswith("toolu_")
    assert msg.usage.input_tokens > 0
    assert msg.usage.output_tokens > 0


async def test_rate_limit_is_retried_by_sdk(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.error(429, retry_after=0.01), Reply.text("ok", input_tokens=1, output_tokens=1)
    )
    async with make_client(fake, max_retries=2) as client:
        msg = await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)

    assert isinstance(msg.content[0], TextBlock)
    assert msg.content[0].text == "ok"
    requests = fake.requests
    assert len(requests) == 2
    assert [r.headers["x-stainless-retry-count"] for r in requests] == ["0", "1"]


async def test_overloaded_without_retries_raises(fake: FakeAnthropic) -> None:
    fake.script(Reply.error(529, message="Overloaded"))
    async with make_client(fake) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)

    assert isinstance(info.value, anthropic.OverloadedError)
    assert info.value.status_code == 529
    assert info.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert info.value.request_id is not None
    assert info.value.request_id.startswith("req_")
    assert len(fake.requests) == 1


async def test_server_error_raises_internal_server_error(fake: FakeAnthropic) -> None:
    fake.script(Reply.error(500))
    async with make_client(fake) as client:
        with pytest.raises(anthropic.InternalServerError) as info:
            await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert info.value.status_code == 500
    assert not isinstance(info.value, anthropic.OverloadedError)


async def test_auth_error_type(fake: FakeAnthropic) -> None:
    fake.script(Reply.error(401))
    async with make_client(fake, max_retries=2) as client:
        with pytest.raises(anthropic.AuthenticationError):
            await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert len(fake.requests) == 1  # 4xx other than 408/409/429 is not retried


async def test_request_is_recorded_with_headers(fake: FakeAnthropic) -> None:
    async with make_client(fake) as client:
        await client.messages.create(model=MODEL, max_tokens=16, system="Be brief.", messages=HELLO)

    (request,) = fake.requests
    assert request.path == "/v1/messages"
    # anthropic 2.x sends the key as "Authorization: Bearer"; older SDKs used x-api-key.
    assert request.headers.get("x-api-key", request.headers.get("authorization")) in {
        "test-key",
        "Bearer test-key",
    }
    assert request.api_key == "test-key"
    assert request.headers["anthropic-version"]
    assert request.body["model"] == MODEL
    assert request.body["system"] == "Be brief."
    assert request.body["messages"] == HELLO


async def test_default_responder_quotes_last_user_message(fake: FakeAnthropic) -> None:
    question = "Which port does the billing agent listen on? " * 10
    async with make_client(fake) as client:
        msg = await client.messages.create(
            model=MODEL, max_tokens=16, messages=[{"role": "user", "content": question}]
        )
    assert isinstance(msg.content[0], TextBlock)
    assert question[:200] in msg.content[0].text
    assert question not in msg.content[0].text  # quote is truncated

    fake.default = Reply.text("fixed")
    async with make_client(fake) as client:
        msg = await client.messages.create(model=MODEL, max_tokens=16, messages=HELLO)
    assert isinstance(msg.content[0], TextBlock)
    assert msg.content[0].text == "fixed"


async def test_delay_triggers_client_timeout(fake: FakeAnthropic) -> None:
    fake.script(Reply.delay(5, Reply.text("too late")))
    async with make_client(fake, timeout=0.2) as client:
        with pytest.raises(anthropic.APITimeoutError):
            await client.messages.create(model=MODEL, max_tokens=8, messages=HELLO)


async def test_count_tokens(fake: FakeAnthropic) -> None:
    async with make_client(fake) as client:
        result = await client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert result.input_tokens > 0
    assert fake.requests[0].path == "/v1/messages/count_tokens"


def _raw_post(fake: FakeAnthropic, data: bytes, headers: dict[str, str]) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{fake.base_url}/v1/messages", data=data, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_bad_json_and_missing_api_key(fake: FakeAnthropic) -> None:
    status, body = _raw_post(fake, b"{not json", {"x-api-key": "k"})
    assert status == 400
    assert body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "Request body must be a JSON object"},
    }
    status, body = _raw_post(fake, b"{}", {})
    assert status == 401
    assert isinstance(body, dict)
    assert body["error"]["type"] == "authentication_error"


def test_reset_clears_state(fake: FakeAnthropic) -> None:
    fake.script(Reply.text("a"))
    _raw_post(fake, b"{}", {"x-api-key": "k"})
    fake.script(Reply.text("b"))
    fake.default = Reply.text("c")
    fake.reset()
    assert fake.requests == []
    assert fake.pending == 0
    assert not isinstance(fake.default, Reply)
