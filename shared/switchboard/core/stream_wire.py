"""Conversions between streamed answer events and ``InvokeEvent`` (agent -> supervisor)."""

from __future__ import annotations

from switchboard.core.streaming import AnswerEvent, CitationFound, Reset, TextDelta, UsageSoFar
from switchboard.core.types import AgentAnswer
from switchboard.core.wire import (
    answer_from_proto,
    answer_to_proto,
    citation_from_proto,
    citation_to_proto,
)
from switchboard.v1 import agent_pb2


def invoke_event_to_proto(sequence: int, event: AnswerEvent) -> agent_pb2.InvokeEvent:
    if isinstance(event, TextDelta):
        return agent_pb2.InvokeEvent(
            sequence=sequence, text=agent_pb2.InvokeTextEvent(text=event.text)
        )
    if isinstance(event, Reset):
        return agent_pb2.InvokeEvent(
            sequence=sequence, reset=agent_pb2.InvokeResetEvent(reason=event.reason)
        )
    if isinstance(event, CitationFound):
        return agent_pb2.InvokeEvent(
            sequence=sequence,
            citation=agent_pb2.InvokeCitationEvent(
                index=event.index, citation=citation_to_proto(event.citation)
            ),
        )
    return agent_pb2.InvokeEvent(
        sequence=sequence,
        usage=agent_pb2.InvokeUsageEvent(
            input_tokens=event.input_tokens, output_tokens=event.output_tokens
        ),
    )


def final_event_to_proto(sequence: int, answer: AgentAnswer) -> agent_pb2.InvokeEvent:
    return agent_pb2.InvokeEvent(sequence=sequence, final=answer_to_proto(answer))


def invoke_event_from_proto(
    event: agent_pb2.InvokeEvent, agent: str
) -> AnswerEvent | AgentAnswer | None:
    """The event, the final answer, or None for an event this version does not know."""
    kind = event.WhichOneof("event")
    if kind == "text":
        return TextDelta(event.text.text)
    if kind == "reset":
        return Reset(event.reset.reason)
    if kind == "citation":
        return CitationFound(event.citation.index, citation_from_proto(event.citation.citation))
    if kind == "usage":
        return UsageSoFar(event.usage.input_tokens, event.usage.output_tokens)
    if kind == "final":
        return answer_from_proto(event.final, agent)
    return None
