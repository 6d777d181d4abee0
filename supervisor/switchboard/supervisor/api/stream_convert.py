"""AskStream events to ``AskEvent`` messages; the final one through Ask's own conversion."""

from __future__ import annotations

from switchboard.core.streaming import CitationFound, Reset, TextDelta
from switchboard.core.wire import citation_to_proto, pending_to_proto
from switchboard.supervisor.api.convert import decision_to_proto, result_to_proto
from switchboard.supervisor.streaming.events import (
    ActionProposed,
    AgentStarted,
    Finished,
    Numbered,
    PartEvent,
    Partial,
    RouteDecided,
    UsageTotals,
)
from switchboard.v1 import common_pb2, supervisor_pb2


def _usage(u: UsageTotals) -> common_pb2.Usage:
    return common_pb2.Usage(
        input_tokens=u.input_tokens, output_tokens=u.output_tokens, cost_usd=u.cost_usd
    )


def ask_event_to_proto(numbered: Numbered) -> supervisor_pb2.AskEvent:
    out = supervisor_pb2.AskEvent(sequence=numbered.sequence)
    e = numbered.event
    if isinstance(e, Finished):
        out.final.CopyFrom(result_to_proto(e.result))
    elif isinstance(e, RouteDecided):
        out.route.CopyFrom(decision_to_proto(e.decision))
    elif isinstance(e, AgentStarted):
        out.agent_started.CopyFrom(
            supervisor_pb2.AgentStartedEvent(agent=e.agent, part=e.part, part_text=e.part_text)
        )
    elif isinstance(e, PartEvent):
        inner = e.event
        if isinstance(inner, TextDelta):
            out.text.CopyFrom(
                supervisor_pb2.TextDeltaEvent(agent=e.agent, part=e.part, text=inner.text)
            )
        elif isinstance(inner, Reset):
            out.reset.CopyFrom(
                supervisor_pb2.ResetEvent(agent=e.agent, part=e.part, reason=inner.reason)
            )
        elif isinstance(inner, CitationFound):
            out.citation.CopyFrom(
                supervisor_pb2.CitationEvent(
                    agent=e.agent,
                    part=e.part,
                    index=inner.index,
                    citation=citation_to_proto(inner.citation),
                )
            )
    elif isinstance(e, UsageTotals):
        out.usage.CopyFrom(supervisor_pb2.UsageEvent(usage=_usage(e)))
    elif isinstance(e, ActionProposed):
        out.pending_action.CopyFrom(
            supervisor_pb2.PendingActionEvent(
                agent=e.agent, part=e.part, action=pending_to_proto(e.action)
            )
        )
    elif isinstance(e, Partial):
        out.partial.CopyFrom(
            supervisor_pb2.PartialEvent(reason=e.reason, answer=e.answer, usage=_usage(e.usage))
        )
    return out
