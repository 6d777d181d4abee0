"""Which results open review items, over a real SQLite store: agent down (and the retry that
closes it), compound parts, low confidence, samples, approvals; repeats open nothing new."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard.core.audit import utcnow
from switchboard.core.context import RequestContext
from switchboard.core.types import AnswerPart, Approver, Outcome, PendingAction
from switchboard.store import ItemKind, ItemState, Store
from switchboard.supervisor.api.review_servicer import item_to_proto
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review.inbox import InboxPolicy, ReviewInbox
from switchboard.supervisor.review.outcomes import result_of
from tests.fakes.audit import AuditRecorder
from tests.harness.store import open_sqlite_store

CTX = RequestContext(request_id="r1", tenant="acme", customer_id="cus_1")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_sqlite_store(tmp_path)
    yield store
    await store.close()


def inbox(db: Store, **policy) -> ReviewInbox:
    return ReviewInbox(db.review, InboxPolicy(**policy), AuditRecorder())


def result(outcome: Outcome, **values) -> AskResult:
    return AskResult(request_id="r1", outcome=outcome, answer="text", agent="billing", **values)


async def test_an_outage_escalation_is_closed_by_the_answered_retry(db: Store) -> None:
    desk = inbox(db)
    down = result(Outcome.ESCALATED, final=False)
    seen = await desk.observe(CTX, "q", down, retriable=True)
    assert seen.review is not None and seen.review.reason == "agent_unavailable"
    again = await desk.observe(CTX, "q", down, retriable=True)  # a retry, still down
    assert again.review is not None and again.review.item_id == seen.review.item_id
    answered = result(Outcome.ANSWERED, confidence=0.9)
    assert (await desk.observe(CTX, "q", answered, retriable=True)).review is None
    item = await db.review.by_request("acme", "r1")
    assert item is not None and item.state is ItemState.RESOLVED
    assert item.resolution == {"action": "retry_answered", "by": "system"}
    assert result_of(item, utcnow()).outcome == Outcome.ANSWERED


async def test_compound_parts_low_confidence_samples_and_approvals(db: Store) -> None:
    desk = inbox(db, sample_rate=1.0, min_confidence=0.5)
    compound = result(
        Outcome.ANSWERED,
        parts=[
            AnswerPart(text="a", agent="billing", answer="x", outcome=Outcome.ANSWERED),
            AnswerPart(text="b", agent="support", answer="y", outcome=Outcome.ESCALATED),
        ],
    )
    opened = await desk.observe(RequestContext(request_id="c1", tenant="acme"), "a and b", compound)
    assert opened.review is not None and opened.review.reason == "compound_part"
    item = await db.review.by_request("acme", "c1")
    assert item is not None and item.agent == "support" and item.kind is ItemKind.ESCALATION

    unsure = result(Outcome.DEGRADED, confidence=0.3)
    told = await desk.observe(RequestContext(request_id="u1", tenant="acme"), "q", unsure)
    assert told.outcome == Outcome.ESCALATED and told.review is not None
    kept = await db.review.by_request("acme", "u1")
    assert kept is not None and kept.reason == "low_confidence"
    assert kept.draft["answer"] == "text" and kept.draft["outcome"] == "DEGRADED"
    now = result_of(kept, utcnow())  # GetResult while open: what the caller was told
    assert now.outcome == Outcome.ESCALATED and now.answer == told.answer != "text"

    sure = result(Outcome.ANSWERED, confidence=0.9)
    sampled = await desk.observe(RequestContext(request_id="s1", tenant="acme"), "q", sure)
    assert sampled == sure  # the caller's answer is untouched
    sample = await db.review.by_request("acme", "s1")
    assert sample is not None and sample.kind is ItemKind.SAMPLE

    pending = PendingAction(id="not-a-jwt", tool="request_refund", summary="s")
    by_caller = result(Outcome.NEEDS_CONFIRMATION, pending_action=pending)
    assert (await desk.observe(RequestContext(request_id="p0"), "q", by_caller)).review is None
    reviewer = pending.model_copy(update={"approval": Approver.REVIEWER})
    needs = result(Outcome.NEEDS_CONFIRMATION, pending_action=reviewer)
    asked = await desk.observe(RequestContext(request_id="p1", tenant="acme"), "q", needs)
    assert asked.review is not None and asked.review.kind == "approval"
    counts = await db.review.counts(tenant="acme")
    assert counts == {("escalation", "open"): 2, ("sample", "open"): 1, ("approval", "open"): 1}


async def test_a_strict_escalations_withheld_text_is_the_reviewers_alone(db: Store) -> None:
    """The model's uncited text (``withheld_draft``) is kept with the item, shown by the
    Review service, and in no answer a caller can read: the result, its stored form, the
    request's current answer."""
    desk = inbox(db)
    uncited = result(Outcome.ESCALATED, uncited=True, withheld_draft="Paying by Alexa? No idea.")
    told = await desk.observe(CTX, "Can I pay by Alexa?", uncited)
    assert told.review is not None and told.review.reason == "uncited"
    assert "Alexa" not in told.model_dump_json()  # what the ledger stores
    item = await db.review.by_request("acme", "r1")
    assert item is not None and item.draft["withheld_draft"] == "Paying by Alexa? No idea."
    assert item.draft["answer"] == "text"  # what the caller was told
    assert item_to_proto(item).withheld_draft == "Paying by Alexa? No idea."
    current = result_of(item, utcnow())  # what GetResult returns while the item is open
    assert current.answer == "text" and "Alexa" not in current.model_dump_json()
