"""The LLM as an interface, with one implementation over Anthropic's async SDK.

Retries with backoff (honouring ``retry-after``) are the SDK's job (``max_retries``); this
module adds none of its own. Every failure that survives the SDK's retries becomes one
:class:`~switchboard.core.errors.UpstreamError`, so callers handle a single error type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import anthropic
from pydantic import BaseModel

from switchboard.core.errors import UpstreamError, UpstreamRejected
from switchboard.core.genai import ChatRecorder, GenAIMetrics, chat_span
from switchboard.core.llm_stream import TextSink, stream_message

if TYPE_CHECKING:
    from switchboard.core.settings import LLMSettings


class ToolSpec(BaseModel):
    """A tool offered to the model: a name, what it does, and a JSON schema for its input."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class TokenUsage:
    """Token counts exactly as the provider reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Every input token billed, cached or not."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    stop_reason: str
    usage: TokenUsage
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class ToolResult:
    """The answer to one ``ToolCall``, sent back in the next user message."""

    tool_use_id: str
    content: str
    is_error: bool = False


#: A content block: text, a tool call (assistant) or a tool result (user).
Block = str | ToolCall | ToolResult


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str | tuple[Block, ...]  # plain text, or blocks for tool use

    def to_api(self) -> dict[str, Any]:
        """The Messages API form of this message."""
        if isinstance(self.content, str):
            return {"role": self.role, "content": self.content}
        return {"role": self.role, "content": [_block(b) for b in self.content]}


def _block(block: Block) -> dict[str, Any]:
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if isinstance(block, ToolCall):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    return {
        "type": "tool_result",
        "tool_use_id": block.tool_use_id,
        "content": block.content,
        "is_error": block.is_error,
    }


class LLM(Protocol):
    """What Switchboard needs from a language model."""

    @property
    def model(self) -> str: ...

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[Message],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        force_tool: str | None = None,
        timeout: float | None = None,
    ) -> Completion:
        """One model call; raises UpstreamError when the provider fails."""
        ...


class AnthropicLLM:
    """Claude through ``anthropic.AsyncAnthropic``."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        max_retries: int = 2,
        timeout: float = 30.0,
        meters: GenAIMetrics | None = None,
        capture_content: bool = False,
    ) -> None:
        self._model = model
        self._capture = capture_content
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout,
            # The SDK's own span (``anthropic.messages.create``, one per call with its retries)
            # nests under our ``chat`` span. Trace context and baggage stay inside: they are
            # never sent to the provider.
            open_telemetry={
                "propagation": False,
                "traces": {"content_mode": "content" if capture_content else "metadata_only"},
            },
        )
        self._meters = meters or GenAIMetrics()

    @property
    def model(self) -> str:
        return self._model

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[Message],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        force_tool: str | None = None,
        timeout: float | None = None,
        on_text: TextSink | None = None,
    ) -> Completion:
        kwargs: dict[str, Any] = {
            "model": self._model,
            "system": system,
            "max_tokens": max_tokens,
            "messages": [m.to_api() for m in messages],
        }
        if tools:
            kwargs["tools"] = [t.model_dump() for t in tools]
        if force_tool:
            kwargs["tool_choice"] = {"type": "tool", "name": force_tool}
        if timeout is not None:
            kwargs["timeout"] = timeout
        with chat_span(
            provider="anthropic",
            model=self._model,
            max_tokens=max_tokens,
            system=system,
            messages=kwargs["messages"],
            meters=self._meters,
            capture_content=self._capture,
        ) as recorder:
            with provider_errors(recorder):
                if on_text is None:
                    response = await self._client.messages.create(**kwargs)
                else:
                    response = await stream_message(self._client, kwargs, on_text, recorder)
                completion = _completion(response)
            u = completion.usage
            recorder.succeeded(
                response_model=completion.model,
                response_id=response.id,
                finish_reason=completion.stop_reason,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cache_read=u.cache_read_input_tokens,
                cache_creation=u.cache_creation_input_tokens,
                output_text=completion.text,
            )
            return completion

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
        """Like :meth:`complete`, through the streaming API: ``on_text`` gets each text delta
        as it arrives (it may raise to stop the stream; the HTTP stream is closed at once)."""
        return await self.complete(
            system=system,
            messages=messages,
            max_tokens=max_tokens,
            tools=tools,
            timeout=timeout,
            on_text=on_text,
        )


@contextmanager
def provider_errors(recorder: ChatRecorder) -> Iterator[None]:
    """Every provider failure as one ``UpstreamError`` (``UpstreamRejected`` for our own
    request's fault), streamed or not; recorded on the chat span."""
    try:
        yield
    except anthropic.APIStatusError as exc:
        recorder.failed(type(exc).__name__, f"HTTP {exc.status_code}")
        error = UpstreamRejected if _our_fault(exc.status_code) else UpstreamError
        how = f"answered HTTP {exc.status_code}" if exc.status_code != 200 else "failed mid-stream"
        raise error(f"LLM provider {how}: {_error_message(exc)}") from exc
    except (anthropic.APITimeoutError, TimeoutError) as exc:
        recorder.failed(type(exc).__name__)
        raise UpstreamError("LLM provider timed out") from exc
    except anthropic.APIConnectionError as exc:
        recorder.failed(type(exc).__name__)
        raise UpstreamError(f"LLM provider unreachable: {exc}") from exc
    except (
        anthropic.APIResponseValidationError,
        MalformedResponse,
        ValueError,
        TypeError,
        AttributeError,
    ) as exc:
        # A body that does not parse, or content of the wrong shape: the provider's
        # fault, not the agent's, so the LLM breaker counts it and the answer goes
        # offline (never INTERNAL from the agent).
        recorder.failed("MalformedResponse")
        raise UpstreamError(f"LLM provider sent a malformed response: {exc}") from exc


class MalformedResponse(Exception):
    """The provider's response parsed but its content has the wrong shape."""


def _our_fault(status: int) -> bool:
    """4xx other than timeouts, conflicts and rate limits: our request was wrong, the
    provider is fine (the LLM breaker must not count it)."""
    return 400 <= status < 500 and status not in (408, 409, 429)


def _completion(response: anthropic.types.Message) -> Completion:
    """The response as a Completion, or MalformedResponse for any shape the API never sends
    (the SDK does not validate bodies strictly: a hostile or broken provider can send
    anything that parses)."""
    if not isinstance(response, anthropic.types.Message) or not isinstance(response.content, list):
        raise MalformedResponse(f"expected a message, got {type(response).__name__}")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in response.content:
        kind = getattr(block, "type", None)
        if kind == "text":
            text = getattr(block, "text", None)
            if not isinstance(text, str):
                raise MalformedResponse(f"a text block holds {type(text).__name__}, not text")
            texts.append(text)
        elif kind == "tool_use":
            call_id, name, args = (getattr(block, k, None) for k in ("id", "name", "input"))
            if not isinstance(args, dict):
                raise MalformedResponse(
                    f"tool_use {name!r} input is {type(args).__name__}, not an object"
                )
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise MalformedResponse("a tool_use block lacks its id or name")
            calls.append(ToolCall(id=call_id, name=name, input=dict(args)))
        elif not isinstance(kind, str):
            raise MalformedResponse("a content block has no type")
    u = response.usage
    counts = [getattr(u, k, None) for k in ("input_tokens", "output_tokens")]
    cached = [
        getattr(u, k, None) or 0 for k in ("cache_read_input_tokens", "cache_creation_input_tokens")
    ]
    if not all(isinstance(c, int) and c >= 0 for c in [*counts, *cached]):
        raise MalformedResponse("the response's usage is missing or not token counts")
    model, stop = response.model, response.stop_reason
    if not isinstance(model, str) or not isinstance(stop, str | None):
        raise MalformedResponse("the response's model or stop reason is not text")
    return Completion(
        text="".join(texts),
        model=model,
        stop_reason=stop or "",
        usage=TokenUsage(
            input_tokens=int(counts[0]),  # type: ignore[arg-type]
            output_tokens=int(counts[1]),  # type: ignore[arg-type]
            cache_read_input_tokens=int(cached[0]),
            cache_creation_input_tokens=int(cached[1]),
        ),
        tool_calls=calls,
    )


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
    return exc.message


def anthropic_llm(
    settings: LLMSettings, model: str, *, capture_content: bool = False
) -> AnthropicLLM | None:
    """Claude as the settings configure it, or None without an API key (offline)."""
    if not settings.enabled:
        return None
    return AnthropicLLM(
        api_key=settings.api_key(),
        base_url=settings.anthropic_base_url,
        model=model,
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout_s,
        capture_content=capture_content,
    )
