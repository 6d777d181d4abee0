"""WatchResult's events to ``AskEvent`` messages, through Ask's own result conversion."""

from __future__ import annotations

from switchboard.supervisor.api.convert import result_to_proto
from switchboard.supervisor.review.watch import Current, HumanDecided, Watched
from switchboard.v1 import supervisor_pb2


def watched_to_proto(sequence: int, event: Watched) -> supervisor_pb2.AskEvent:
    response = result_to_proto(event.result)
    out = supervisor_pb2.AskEvent(sequence=sequence)
    if isinstance(event, Current):
        out.final.CopyFrom(response)
    elif isinstance(event, HumanDecided):
        out.human_answer.CopyFrom(
            supervisor_pb2.HumanAnswerEvent(
                answered_by=response.answered_by,
                answer=response.answer,
                status=response.status,
                review=response.review,
            )
        )
    return out
