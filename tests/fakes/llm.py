"""In-process fakes of the LLM interface (one family): scripted turns, and an instant Claude.

For the real anthropic SDK over HTTP, use ``fake_anthropic.FakeAnthropic`` instead.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from switchboard.core.errors import UpstreamError
from switchboard.core.llm import Completion, Message, TokenUsage, ToolCall, ToolResult, ToolSpec

REFUND_ASK = re.compile(r"refund invoice (BL-\d{4}-\d{6}) because ([\w-]+)")


@dataclass
class Call:
    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    force_tool: str | None
    timeout: float | None


@dataclass
class ScriptedLLM:
    """Answers from a queue of Completions or exceptions; records every call."""

    model: str = "claude-sonnet-4-6"
    script: deque[Completion | Exception] = field(default_factory=deque)
    calls: list[Call] = field(default_factory=list)

    def then_text(self, text: str, input_tokens: int = 100, output_tokens: int = 20) -> ScriptedLLM:
        self.script.append(
            Completion(text, self.model, "end_turn", TokenUsage(input_tokens, output_tokens))
        )
        return self

    def then_tool(
        self,
        name: str,
        args: dict[str, Any],
        input_tokens: int = 50,
        *,
        tool_id: str = "toolu_1",
        text: str = "",
    ) -> ScriptedLLM:
        self.script.append(
            Completion(
                text,
                self.model,
                "tool_use",
                TokenUsage(input_tokens, 10),
                [ToolCall(id=tool_id, name=name, input=args)],
            )
        )
        return self

    def then_fail(self, message: str = "LLM provider answered HTTP 529: overloaded") -> ScriptedLLM:
        self.script.append(UpstreamError(message))
        return self

    def then_raise(self, error: Exception) -> ScriptedLLM:
        self.script.append(error)
        return self

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
        self.calls.append(Call(system, list(messages), list(tools), force_tool, timeout))
        if not self.script:
            raise AssertionError("ScriptedLLM called more often than scripted")
        item = self.script.popleft()
        if isinstance(item, Exception):
            raise item
        return item


class QuickLLM:
    """Plays Claude instantly: cites passage [1], or proposes ``request_refund`` when the
    question says "refund invoice BL-YYYY-NNNNNN because <reason>" and the tool is offered.
    Resumed after the refund was confirmed (working memory), it reads the tool result: "Done:
    refund request RR-... for invoice ...", or why it was not carried out."""

    model = "claude-sonnet-4-6"

    def __init__(self) -> None:
        self.calls = 0

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
        self.calls += 1
        usage = TokenUsage(400, 30)
        last = messages[-1].content
        results = [] if isinstance(last, str) else [b for b in last if isinstance(b, ToolResult)]
        if results:
            return Completion(_after_tools(results[-1]), self.model, "end_turn", usage)
        first = messages[0].content
        asked = REFUND_ASK.search(first) if isinstance(first, str) else None
        if asked and len(messages) == 1 and any(t.name == "request_refund" for t in tools):
            call = ToolCall(
                id="toolu_1",
                name="request_refund",
                input={"invoice_id": asked[1], "reason": f"because {asked[2]}"},
            )
            return Completion("", self.model, "tool_use", usage, [call])
        return Completion("Here is what our documentation says [1].", self.model, "end_turn", usage)


def _after_tools(result: ToolResult) -> str:
    """What the model says once it has a tool's result."""
    if result.is_error:
        return f"The action was not carried out: {result.content} [1]."
    try:
        data = json.loads(result.content)
    except ValueError:
        data = None
    if isinstance(data, dict) and "id" in data and "invoice_id" in data:
        return (
            f"Done: refund request {data['id']} for invoice {data['invoice_id']} has been "
            "submitted; approved refunds go back to the original payment method [1]."
        )
    return "Done: that is taken care of [1]."
