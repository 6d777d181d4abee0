"""One model loop's state, in the form the loop uses and the form working memory keeps.

The loop works on core ``Message`` values and ``Hit`` passages; the store keeps a typed
``ScratchPad``. This module converts between the two, so the loop that started a request and
the one that resumes it after a confirmation (on another replica, maybe) are the same loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from switchboard.agent.answering.answers import Tally
from switchboard.agent.answering.prompting import Prompt
from switchboard.agent.knowledge.store import Hit
from switchboard.core.context import RequestContext
from switchboard.core.llm import Message, ToolCall, ToolResult
from switchboard.store.working_types import (
    Awaiting,
    Passage,
    ScratchPad,
    StoredMessage,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)


@dataclass
class LoopState:
    """What the model was told so far, how many turns and tool calls it took, and the
    identity of the request that started the loop (``origin``: its scratch-pad fields)."""

    prompt: Prompt
    messages: list[Message]
    max_tokens: int
    origin: ScratchPad
    turns: int = 0
    step: int = 0
    saved: bool = False  # a scratch-pad of this loop is in the store
    earlier: Usage = field(default_factory=Usage)  # spent by earlier requests of the loop

    @classmethod
    def start(
        cls,
        ctx: RequestContext,
        agent: str,
        prompt: Prompt,
        max_tokens: int,
        prompt_version: str = "",
    ) -> LoopState:
        origin = ScratchPad(
            request_id=ctx.request_id,
            tenant=ctx.tenant,
            agent=agent,
            customer_id=ctx.customer_id,
            session_id=ctx.session_id,
            user_id=ctx.user_id,
            prompt_version=prompt_version,
            system=prompt.system,
            max_tokens=max_tokens,
            passages=[passage(h) for h in prompt.passages],
        )
        return cls(prompt, [Message(role="user", content=prompt.user)], max_tokens, origin)

    @classmethod
    def resumed(cls, pad: ScratchPad) -> LoopState:
        """The loop a scratch-pad was saved from, ready to go on."""
        messages = [m.message() for m in pad.messages]
        first = messages[0].content if messages else ""
        prompt = Prompt(
            system=pad.system,
            user=first if isinstance(first, str) else "",
            passages=[hit(p) for p in pad.passages],
        )
        origin = pad.model_copy(update={"messages": [], "awaiting": None})
        return cls(
            prompt,
            messages,
            pad.max_tokens,
            origin,
            turns=pad.turns,
            step=pad.step,
            saved=True,
            earlier=pad.usage,
        )

    def pad(self, tally: Tally, awaiting: Awaiting | None = None) -> ScratchPad:
        """The scratch-pad to save now."""
        return self.origin.model_copy(
            update={
                "messages": [StoredMessage.of(m) for m in self.messages],
                "turns": self.turns,
                "step": self.step,
                "usage": self.earlier.plus(usage(tally)),
                "awaiting": awaiting,
            }
        )

    def _tool_results(self) -> Iterator[ToolResult]:
        for m in self.messages:
            if m.role == "user" and not isinstance(m.content, str):
                yield from (b for b in m.content if isinstance(b, ToolResult))

    def used_tools(self) -> bool:
        """Whether the model was given any tool result in this loop, an error included (a
        refused action is explained from the tool's words, not from the documents)."""
        return any(True for _ in self._tool_results())

    def tool_outputs(self) -> list[str]:
        """Every tool output the model was given without error (an answer may draw on
        them, so output screening counts them as sources)."""
        return [r.content for r in self._tool_results() if not r.is_error]


def awaiting(
    action_id: str,
    call: ToolCall,
    done: Sequence[ToolResult],
    remaining: Sequence[ToolCall],
    next_index: int,
) -> Awaiting:
    """Where the loop stopped: ``call`` proposed the action; ``done`` and ``remaining`` are
    the turn's other calls before and after it."""
    return Awaiting(
        action_id=action_id,
        tool_use_id=call.id,
        tool=call.name,
        done=[
            ToolResultBlock(tool_use_id=r.tool_use_id, content=r.content, is_error=r.is_error)
            for r in done
        ],
        remaining=[ToolUseBlock(id=c.id, name=c.name, input=c.input) for c in remaining],
        next_index=next_index,
    )


def usage(tally: Tally) -> Usage:
    return Usage(
        model=tally.model,
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        cache_read=tally.cache_read,
        cache_creation=tally.cache_creation,
        cost_usd=tally.cost_usd,
        calls=tally.calls,
    )


def passage(h: Hit) -> Passage:
    return Passage(id=h.id, text=h.text, score=h.score, metadata=dict(h.metadata))


def hit(p: Passage) -> Hit:
    return Hit(p.id, p.text, p.score, dict(p.metadata))
