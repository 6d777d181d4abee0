"""The real anthropic SDK streaming from the fake Messages API's server-sent events."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from switchboard.core.errors import UpstreamError
from switchboard.core.llm import AnthropicLLM, Message, ToolSpec
from tests.fakes.fake_anthropic import FakeAnthropic, Reply


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def llm(fake: FakeAnthropic, timeout: float = 5.0) -> AnthropicLLM:
    return AnthropicLLM(
        api_key="sk-test", base_url=fake.base_url, model="claude-sonnet-4-6",
        max_retries=0, timeout=timeout,
    )  # fmt: skip


def test_events_are_the_real_apis(fake: FakeAnthropic) -> None:
    fake.script(Reply.text("One two three.", input_tokens=9, output_tokens=4))
    request = urllib.request.Request(
        fake.base_url + "/v1/messages",
        data=json.dumps({"model": "m", "max_tokens": 5, "messages": [], "stream": True}).encode(),
        headers={"x-api-key": "k", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.headers["content-type"] == "text/event-stream"
        body = response.read().decode()
    events = [line[7:] for line in body.splitlines() if line.startswith("event: ")]
    assert events == [
        "message_start", "ping", "content_block_start",
        "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip
    datas = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert datas[0]["message"]["usage"]["input_tokens"] == 9
    assert datas[-2]["usage"] == {"output_tokens": 4}
    assert "".join(d["delta"]["text"] for d in datas[3:6]) == "One two three."


async def test_deltas_arrive_in_order_and_make_the_completion(fake: FakeAnthropic) -> None:
    fake.script(Reply.text("Refunds take 5 days [1].", input_tokens=30, output_tokens=7))
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    completion = await llm(fake).stream(
        system="s", messages=[Message("user", "hi")], max_tokens=50, on_text=on_text
    )
    assert len(seen) > 3 and "".join(seen) == completion.text == "Refunds take 5 days [1]."
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (30, 7)
    assert fake.requests[0].body["stream"] is True


async def test_tool_use_streams_into_tool_calls(fake: FakeAnthropic) -> None:
    fake.script(Reply.tool_use("lookup", {"invoice": "BL-2024-000123"}, text_before="Checking."))
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    tool = ToolSpec(name="lookup", description="d", input_schema={"type": "object"})
    completion = await llm(fake).stream(
        system="s", messages=[Message("user", "x")], max_tokens=50, tools=[tool], on_text=on_text
    )
    assert completion.stop_reason == "tool_use" and "".join(seen) == "Checking."
    assert completion.tool_calls[0].input == {"invoice": "BL-2024-000123"}


async def test_overloaded_mid_stream_is_an_upstream_error(fake: FakeAnthropic) -> None:
    fake.script(Reply.text("a b c d e f g h").streaming(fail_after_tokens=3))
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    with pytest.raises(UpstreamError, match="mid-stream: Overloaded"):
        await llm(fake).stream(
            system="s", messages=[Message("user", "x")], max_tokens=50, on_text=on_text
        )
    assert "".join(seen) == "a b c "


async def test_a_stalled_stream_ends_at_the_calls_timeout(fake: FakeAnthropic) -> None:
    fake.script(Reply.text("a b c d").streaming(stall_after_tokens=2, stall_s=5))

    async def on_text(text: str) -> None:
        pass

    started = time.monotonic()
    with pytest.raises(UpstreamError, match="timed out"):
        await llm(fake, timeout=0.3).stream(
            system="s", messages=[Message("user", "x")], max_tokens=50, on_text=on_text,
            timeout=0.3,
        )  # fmt: skip
    assert time.monotonic() - started < 1.0


async def test_cancelling_closes_the_provider_stream_quickly(fake: FakeAnthropic) -> None:
    fake.script(Reply.text(" ".join(["word"] * 200)).streaming(token_delay_s=0.005))
    first = asyncio.Event()

    async def on_text(text: str) -> None:
        first.set()

    task = asyncio.create_task(
        llm(fake).stream(
            system="s", messages=[Message("user", "x")], max_tokens=500, on_text=on_text
        )
    )
    await first.wait()
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the fake notices at its next write
        if fake.streams[0].client_gone is not None:
            break
        await asyncio.sleep(0.005)
    gone = fake.streams[0].client_gone
    assert gone is not None and gone - cancelled_at < 0.1
    assert fake.streams[0].tokens < 200
