"""What the caller sees of a request a person looks at: the one place that reads an item's
current answer (``GetResult``, the Review service's ``result`` field; a later stream of the
request delivers the same), and the results a resolution gives the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard.core.types import AgentAnswer, AnswerMode, Outcome
from switchboard.store import ItemKind, ItemState, ReviewItem
from switchboard.supervisor.results import AnsweredBy, AskResult, ReviewInfo

EXPIRED_ESCALATION = (
    "Nobody on the team could answer your request in time. Please ask again, or contact "
    "support directly."
)
EXPIRED_APPROVAL = (
    "Your request needed a person's approval, and nobody approved it in time, so nothing was "
    "changed. Please ask again if you still need it."
)
REJECTED = "A person reviewed the requested change and did not approve it, so nothing changed."
CLOSED = "A person on the team reviewed your request and closed it."
LOW_CONFIDENCE_MESSAGE = (
    "I'm not confident enough in the answer I found, so I've passed your request to a person "
    "on the {domain} team, who will follow up."
)
#: Why an escalation was opened when its draft is an answer the caller was not given.
UNSURE = "low_confidence"


def unsure_told(draft: AskResult) -> AskResult:
    """What the caller is told of an answer too unsure to send: a person follows up (the
    draft itself is the reviewer's)."""
    return draft.model_copy(
        update={
            "outcome": Outcome.ESCALATED,
            "answer": LOW_CONFIDENCE_MESSAGE.format(domain=draft.agent),
            "citations": [],
        }
    )


def draft_record(draft: AskResult) -> dict[str, Any]:
    """The item's draft as stored: the result, and the model's withheld text (strict
    grounding), which the result's own serialisation leaves out so that no caller's stored
    answer holds it."""
    record = draft.model_dump(mode="json")
    if draft.withheld_draft:
        record["withheld_draft"] = draft.withheld_draft
    return record


def info_of(item: ReviewItem, now: datetime) -> ReviewInfo:
    """The item's status for the caller (an open item past its expiry reads expired)."""
    state = ItemState.EXPIRED if item.overdue(now) else item.state
    resolution = item.resolution or {}
    note, decided_by = "", ""
    if state is ItemState.EXPIRED:
        note = str(resolution.get("reason") or "nobody decided in time")
    elif state.final:
        decided_by = item.resolved_by or ""
        if state is ItemState.CLOSED:
            note = str(resolution.get("reason", ""))
    return ReviewInfo(
        item_id=item.id,
        kind=item.kind.value,
        state=state.value,
        reason=item.reason,
        decided_by=decided_by,
        note=note,
        expires_at=item.expires_at,
    )


def result_of(item: ReviewItem, now: datetime) -> AskResult:
    """The request's current answer."""
    draft = AskResult.model_validate(item.draft)
    if item.kind is ItemKind.SAMPLE:
        return draft  # quality review changes nothing for the caller
    info = info_of(item, now)
    if info.state == ItemState.EXPIRED.value:
        text = EXPIRED_APPROVAL if item.kind is ItemKind.APPROVAL else EXPIRED_ESCALATION
        return closed(draft, text, info)
    if item.state is ItemState.OPEN or item.result is None:
        told = unsure_told(draft) if item.reason == UNSURE else draft
        return told.model_copy(update={"review": info})
    return AskResult.model_validate(item.result).model_copy(update={"review": info})


def closed(draft: AskResult, text: str, info: ReviewInfo | None = None) -> AskResult:
    """Nothing more will happen: CLOSED, with what the caller should know."""
    return draft.model_copy(
        update={
            "outcome": Outcome.CLOSED,
            "answer": text,
            "citations": [],
            "pending_action": None,
            "mode": AnswerMode.NONE,
            "review": info,
        }
    )


def human_answer(item: ReviewItem, text: str, who: str) -> AskResult:
    """A reviewer's written answer (for a compound request it replaces the escalated parts)."""
    draft = AskResult.model_validate(item.draft)
    parts = [
        p.model_copy(update={"answer": text, "outcome": Outcome.ANSWERED, "mode": AnswerMode.HUMAN})
        if p.outcome == Outcome.ESCALATED
        else p
        for p in draft.parts
    ]
    return draft.model_copy(
        update={
            "outcome": Outcome.ANSWERED,
            "answer": text,
            "citations": [],
            "confidence": 1.0,
            "mode": AnswerMode.HUMAN,
            "parts": parts,
            "uncited": False,
            "answered_by": AnsweredBy(kind="human", name=who),
        }
    )


def agent_answer(item: ReviewItem, answer: AgentAnswer) -> AskResult:
    """An agent's answer, after a reviewer sent the request to it or approved its action."""
    draft = AskResult.model_validate(item.draft)
    return draft.model_copy(
        update={
            "outcome": answer.outcome,
            "answer": answer.text,
            "agent": answer.agent,
            "citations": answer.citations,
            "confidence": answer.confidence,
            "mode": answer.mode,
            "pending_action": None,
            "parts": [],
            "uncited": answer.uncited,
            "usage": draft.usage.merged(answer.usage),
            "answered_by": AnsweredBy(kind="agent", name=answer.agent),
        }
    )
