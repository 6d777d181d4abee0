"""What a streamed answer is made of, between the LLM, the agent and the supervisor.

An answer streams as events: text to append, a reset (discard the text and citations sent
so far: the answer is being rewritten), a citation a marker refers to, and running usage.
The final answer, sent last, is authoritative. The same events travel agent -> supervisor
(``InvokeEvent``) and, labelled with agent and part, supervisor -> caller (``AskEvent``);
``docs/streaming.md`` states the contract. Whoever produces events calls
:meth:`AnswerEvents.emit`; nothing here knows gRPC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from switchboard.core.types import Citation


@dataclass(frozen=True)
class TextDelta:
    """More answer text, to append."""

    text: str


@dataclass(frozen=True)
class Reset:
    """Discard the text and citations streamed so far; the answer is being rewritten."""

    reason: str


#: Reset reasons (documented in the protos).
RESET_TOOL_USE = "tool_use"
RESET_LLM_FAILED = "llm_failed"
RESET_OUTPUT_SCREENED = "output_screened"
RESET_REWRITTEN = "rewritten"


@dataclass(frozen=True)
class CitationFound:
    """``[index]`` in the streamed text refers to ``citation``."""

    index: int
    citation: Citation


@dataclass(frozen=True)
class UsageSoFar:
    """Running LLM token totals of one answer (output of the turn being written estimated)."""

    input_tokens: int
    output_tokens: int


AnswerEvent = TextDelta | Reset | CitationFound | UsageSoFar


class AnswerEvents(Protocol):
    """Receives the events of one streamed answer, in order."""

    async def emit(self, event: AnswerEvent) -> None: ...


_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")


def sentences_of(text: str) -> list[str]:
    """``text`` cut after each sentence end, whitespace kept: the pieces concatenate back to
    ``text`` exactly (the offline answer streams so, sentence by sentence)."""
    return [piece for piece in _SENTENCE_END.split(text) if piece]


class StreamedText:
    """What a consumer has been shown: the text and citations since the last reset."""

    def __init__(self) -> None:
        self.text = ""
        self.citations: dict[int, Citation] = {}
        self.resets = 0

    def apply(self, event: AnswerEvent) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, Reset):
            self.text, self.citations = "", {}
            self.resets += 1
        elif isinstance(event, CitationFound):
            self.citations[event.index] = event.citation
