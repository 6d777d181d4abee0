"""One Messages API call through the SDK's streaming API, relaying text deltas as they arrive.

The SDK retries a stream that fails before its first event (``max_retries``); a failure
after that (an ``error`` event such as ``overloaded_error``, a dropped connection) surfaces
here and becomes an ``UpstreamError`` in ``llm.provider_errors``, the one place provider
errors are translated. A stream that stalls is bounded by the call's ``timeout`` as a whole
(not only per read). When the caller is cancelled (the gRPC client went away, its deadline
passed) the HTTP stream is closed at once and the chat span gets a
``gen_ai.stream.cancelled`` event; the span also records the time to the first token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import anthropic

if TYPE_CHECKING:
    from switchboard.core.genai import ChatRecorder
    from switchboard.core.llm import Completion, Message, ToolSpec

#: Receives each text delta; may raise (a spent budget, say) to stop the stream.
TextSink = Callable[[str], Awaitable[None]]

#: Span attribute: seconds from the request to the provider's first text delta.
TIME_TO_FIRST_TOKEN = "gen_ai.response.time_to_first_chunk"


@runtime_checkable
class StreamingLLM(Protocol):
    """An LLM that can also stream its text as it writes it."""

    @property
    def model(self) -> str: ...

    async def stream(
        self,
        *,
        system: str,
        messages: Sequence[Message],
        max_tokens: int,
        on_text: TextSink,
        tools: Sequence[ToolSpec] = (),
        timeout: float | None = None,
    ) -> Completion:
        """The whole completion, after ``on_text`` got its text piece by piece."""
        ...


async def stream_message(
    client: anthropic.AsyncAnthropic,
    kwargs: dict[str, Any],
    on_text: TextSink,
    recorder: ChatRecorder,
) -> anthropic.types.Message:
    """The final message of one streamed call; ``on_text`` gets every text delta first."""
    timeout = kwargs.get("timeout")
    started = time.perf_counter()
    first = True
    try:
        async with asyncio.timeout(timeout):
            async with client.messages.stream(**kwargs) as stream:
                async for event in stream:
                    if event.type != "text" or not event.text:
                        continue
                    if first:
                        first = False
                        recorder.span.set_attribute(
                            TIME_TO_FIRST_TOKEN, round(time.perf_counter() - started, 6)
                        )
                    await on_text(event.text)
                return await stream.get_final_message()
    except asyncio.CancelledError:
        recorder.span.add_event(
            "gen_ai.stream.cancelled",
            {"elapsed_s": round(time.perf_counter() - started, 6), "first_token": not first},
        )
        raise
