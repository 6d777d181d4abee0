"""What an agent is told about a conversation: the window of earlier turns and, when the
session moves to it from another agent, a handoff brief (docs/memory.md).

Plain domain types shared by the supervisor (which stores turns and builds both) and the
agent runtime (which fits them into its prompt and its retrieval query). The wire form is
``ConversationWindow`` / ``HandoffBrief`` in agent.proto.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ConversationTurn(BaseModel):
    """One answered turn: what the user asked, what they got, from whom, citing what."""

    user: str
    answer: str = ""
    agent: str = ""
    sources: list[str] = Field(default_factory=list)


class ConversationWindow(BaseModel):
    """The earlier turns an agent may draw on: a running summary of the older ones and the
    most recent ones verbatim (oldest first)."""

    summary: str = ""
    turns: list[ConversationTurn] = Field(default_factory=list)
    turns_total: int = 0

    @property
    def empty(self) -> bool:
        return not self.summary and not self.turns


class HandoffBrief(BaseModel):
    """What a new agent learns when a session moves to it: never the other agent's raw
    history or prompts, only what the customer wants and what was established."""

    from_agent: str
    customer_wants: str
    facts: list[str] = Field(default_factory=list)
    pending_actions: list[str] = Field(default_factory=list)
    turns: int = 0

    def size_chars(self) -> int:
        return len(self.customer_wants) + sum(len(f) for f in (*self.facts, *self.pending_actions))


class ConversationStatus(StrEnum):
    """What the supervisor made of a request's session_id (``AskResponse.conversation``)."""

    CONTINUED = "continued"
    NEW = "new"
    EXPIRED = "expired"
    UNAVAILABLE = "unavailable"
    OFF = "off"


class ConversationState(BaseModel):
    status: ConversationStatus
    turns: int = 0
    note: str = ""
