"""The tool loop's scratch-pad (working memory), as one typed value per request.

An agent's model loop may stop half-way: a tool that changes something ends it with
NEEDS_CONFIRMATION, and the confirmation arrives later, on any replica, maybe after a
restart. To carry on exactly where it stopped, the loop's state is kept in the durable store
(``working_memory.py``) rather than in a process: what the model was told (system prompt,
numbered passages, the messages so far with every tool call and the tool results exactly as
the model saw them, already screened), the usage so far, and what is still to do (the
tool_use awaiting confirmation, the results of that turn's earlier calls, its later calls).

No secrets: not the pending action's token (a bearer capability), only its id; no caller
credentials. The first message does hold the user's text and conversation: rows carry the
session and user ids so erasure finds them (docs/memory.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, JsonValue

from switchboard.core.llm import Block, Message, ToolCall, ToolResult

RUNNING = "running"
AWAITING = "awaiting_confirmation"


class TextBlock(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(BaseModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, JsonValue]

    def call(self) -> ToolCall:
        return ToolCall(self.id, self.name, dict(self.input))


class ToolResultBlock(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str
    is_error: bool = False

    def result(self) -> ToolResult:
        return ToolResult(self.tool_use_id, self.content, self.is_error)


StoredBlock = Annotated[TextBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


def block_of(block: Block) -> TextBlock | ToolUseBlock | ToolResultBlock:
    if isinstance(block, str):
        return TextBlock(text=block)
    if isinstance(block, ToolCall):
        return ToolUseBlock(id=block.id, name=block.name, input=block.input)
    return ToolResultBlock(
        tool_use_id=block.tool_use_id, content=block.content, is_error=block.is_error
    )


def block(stored: TextBlock | ToolUseBlock | ToolResultBlock) -> Block:
    if isinstance(stored, TextBlock):
        return stored.text
    if isinstance(stored, ToolUseBlock):
        return stored.call()
    return stored.result()


class StoredMessage(BaseModel):
    """One message of the conversation with the model, as sent."""

    role: Literal["user", "assistant"]
    content: str | list[StoredBlock]

    @classmethod
    def of(cls, message: Message) -> StoredMessage:
        content = message.content
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        if isinstance(content, str):
            return cls(role=role, content=content)
        return cls(role=role, content=[block_of(b) for b in content])

    def message(self) -> Message:
        if isinstance(self.content, str):
            return Message(self.role, self.content)
        return Message(self.role, tuple(block(b) for b in self.content))


class Passage(BaseModel):
    """A passage the prompt numbered ([n] in the answer cites it)."""

    id: str
    text: str
    score: float
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Usage(BaseModel):
    """Tokens and cost of every model call of the loop so far (all its requests)."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            model=other.model or self.model,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read=self.cache_read + other.cache_read,
            cache_creation=self.cache_creation + other.cache_creation,
            cost_usd=self.cost_usd + other.cost_usd,
            calls=self.calls + other.calls,
        )


class Awaiting(BaseModel):
    """The step the loop stopped at: a tool_use whose result is the confirmed action's.

    ``done``: results of that turn's calls before it; ``remaining``: its calls after it (not
    run yet; run when the loop resumes), the first of which was call number ``next_index`` of
    the turn (the per-turn cap counts on from there)."""

    action_id: str
    tool_use_id: str
    tool: str
    done: list[ToolResultBlock] = Field(default_factory=list)
    remaining: list[ToolUseBlock] = Field(default_factory=list)
    next_index: int = 0


class ToolStep(BaseModel):
    """One tool call of the loop and what the model was told of it."""

    call_id: str
    tool: str
    input: dict[str, JsonValue]
    result: str | None  # None: no result yet (awaiting confirmation)
    is_error: bool = False


class ScratchPad(BaseModel):
    """Everything a model loop needs to go on from where it stopped, on any replica."""

    request_id: str  # of the request that started the loop (the key, with the tenant)
    tenant: str
    agent: str
    customer_id: str = ""
    session_id: str = ""
    user_id: str = ""
    prompt_version: str = ""  # e.g. billing@v2; "" when prompt.md answered
    system: str
    max_tokens: int
    passages: list[Passage] = Field(default_factory=list)
    messages: list[StoredMessage] = Field(default_factory=list)
    turns: int = 0  # model turns taken (the agent's max_turns counts them all)
    step: int = 0  # tool calls run (the step of the next one is step + 1)
    usage: Usage = Field(default_factory=Usage)
    awaiting: Awaiting | None = None
    # Kept by the store, not in the JSON:
    created_at: datetime | None = None
    updated_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def state(self) -> str:
        return RUNNING if self.awaiting is None else AWAITING

    @property
    def steps(self) -> list[ToolStep]:
        """The tool calls taken, in order, each with the result the model saw."""
        results: dict[str, ToolResultBlock] = {}
        for m in self.messages:
            if not isinstance(m.content, str):
                results.update(
                    {b.tool_use_id: b for b in m.content if isinstance(b, ToolResultBlock)}
                )
        if self.awaiting is not None:
            results.update({b.tool_use_id: b for b in self.awaiting.done})
        steps = []
        for m in self.messages:
            if isinstance(m.content, str):
                continue
            for b in m.content:
                if isinstance(b, ToolUseBlock):
                    r = results.get(b.id)
                    steps.append(
                        ToolStep(
                            call_id=b.id,
                            tool=b.name,
                            input=b.input,
                            result=None if r is None else r.content,
                            is_error=False if r is None else r.is_error,
                        )
                    )
        return steps

    def stored(self) -> dict[str, JsonValue]:
        """The JSON the store keeps (the timestamps are columns of their own)."""
        return self.model_dump(mode="json", exclude={"created_at", "updated_at", "expires_at"})
