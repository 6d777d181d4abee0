"""The human loop's rules without a server: roles, approval policies, what the caller reads
of an item in each state, and the grouping of knowledge gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from switchboard.agent.config import ApprovalPolicy
from switchboard.core.auth import AccessDenied, Principal, PrincipalKind, Role, TokenEntry
from switchboard.core.types import Approver, Outcome, PendingAction
from switchboard.store import ItemKind, ItemState, KnowledgeGap, ReviewItem
from switchboard.supervisor.results import AskResult
from switchboard.supervisor.review import outcomes
from switchboard.supervisor.review.reports import group_gaps

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ASK = "/switchboard.v1.Supervisor/Ask"
LIST = "/switchboard.v1.Review/ListItems"


def principal(role: Role) -> Principal:
    return Principal(PrincipalKind.TENANT, "acme", role=role, person="rita")


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        (Role.CALLER, ASK, True),
        (Role.CALLER, LIST, False),
        (Role.REVIEWER, LIST, True),
        (Role.REVIEWER, ASK, False),
        (Role.ADMIN, ASK, True),
        (Role.ADMIN, LIST, True),
        (Role.REVIEWER, "/grpc.health.v1.Health/Check", True),
    ],
)
def test_roles_decide_which_service_a_token_may_call(role, method, allowed) -> None:
    if allowed:
        principal(role).check_method(method)
    else:
        with pytest.raises(AccessDenied) as refused:
            principal(role).check_method(method)
        assert refused.value.reason == "role"


def test_reviewers_see_their_tenant_admins_every_tenant() -> None:
    assert principal(Role.REVIEWER).check_tenant("acme")
    assert not principal(Role.REVIEWER).check_tenant("globex")
    assert principal(Role.ADMIN).check_tenant("globex")
    assert principal(Role.REVIEWER).actor == "acme/rita"
    assert Principal(PrincipalKind.TENANT, "acme", role=Role.ADMIN).actor == "acme/admin"


def test_token_entries_take_a_role_and_a_name() -> None:
    entry = TokenEntry.model_validate(
        {"tenant": "acme", "token": "x" * 24, "role": "reviewer", "name": "rita"}
    )
    assert entry.role is Role.REVIEWER and entry.name == "rita"
    assert TokenEntry.model_validate({"tenant": "acme", "token": "x" * 24}).role is Role.CALLER
    with pytest.raises(ValueError):
        TokenEntry.model_validate({"tenant": "acme", "token": "x" * 24, "role": "root"})


def test_approval_policies() -> None:
    above = ApprovalPolicy(above_usd=100)
    assert above.approver_for(2400.0) is Approver.REVIEWER
    assert above.approver_for(48.0) is Approver.CALLER
    assert above.approver_for(None) is Approver.CALLER
    assert ApprovalPolicy().approver_for(1.0) is Approver.REVIEWER
    assert ApprovalPolicy(approver=Approver.CALLER).approver_for(9e9) is Approver.CALLER


def item(kind: ItemKind, state: ItemState, **values) -> ReviewItem:
    draft = AskResult(
        request_id="r1",
        outcome=Outcome.NEEDS_CONFIRMATION if kind is ItemKind.APPROVAL else Outcome.ESCALATED,
        answer="draft",
        agent="billing",
        pending_action=PendingAction(
            id="a", tool="request_refund", summary="refund", approval=Approver.REVIEWER
        )
        if kind is ItemKind.APPROVAL
        else None,
    )
    base = {
        "id": "i1",
        "tenant": "acme",
        "request_id": "r1",
        "trace_id": None,
        "agent": "billing",
        "kind": kind,
        "reason": "no_knowledge",
        "question": "q",
        "customer_id": "",
        "user_id": "",
        "draft": draft.model_dump(mode="json"),
        "state": state,
        "claimed_by": None,
        "claimed_at": None,
        "claim_until": None,
        "resolution": None,
        "result": None,
        "resolved_by": None,
        "verdict": None,
        "created_at": NOW - timedelta(hours=1),
        "resolved_at": None,
        "expires_at": NOW + timedelta(hours=1),
    }
    return ReviewItem(**{**base, **values})


def test_what_the_caller_reads_in_each_state() -> None:
    open_item = item(ItemKind.ESCALATION, ItemState.OPEN)
    assert outcomes.result_of(open_item, NOW).outcome == Outcome.ESCALATED
    overdue = outcomes.result_of(open_item, NOW + timedelta(hours=2))
    assert overdue.outcome == Outcome.CLOSED and overdue.review is not None
    assert overdue.review.state == "expired"
    answered = outcomes.human_answer(open_item, "the answer", "acme/rita")
    resolved = item(
        ItemKind.ESCALATION,
        ItemState.RESOLVED,
        result=answered.model_dump(mode="json"),
        resolved_by="acme/rita",
        resolution={"action": "answer"},
    )
    read = outcomes.result_of(resolved, NOW)
    assert (read.outcome, read.answer, read.mode.value) == (Outcome.ANSWERED, "the answer", "human")
    assert read.answered_by is not None and read.answered_by.name == "acme/rita"
    assert read.review is not None and read.review.decided_by == "acme/rita"
    pending = outcomes.result_of(item(ItemKind.APPROVAL, ItemState.OPEN), NOW)
    assert pending.outcome == Outcome.NEEDS_CONFIRMATION and pending.pending_action is not None
    expired = outcomes.result_of(item(ItemKind.APPROVAL, ItemState.EXPIRED), NOW)
    assert expired.outcome == Outcome.CLOSED and expired.pending_action is None
    sample = outcomes.result_of(item(ItemKind.SAMPLE, ItemState.RESOLVED, verdict="wrong"), NOW)
    assert sample.review is None  # quality review changes nothing for the caller


def gap(agent: str, question: str, vector: list[float] | None, minutes: int = 0) -> KnowledgeGap:
    return KnowledgeGap(
        tenant="acme",
        agent=agent,
        request_id=question,
        question=question,
        answer="a",
        vector=None if vector is None else np.asarray(vector, np.float32).tobytes(),
        created_at=NOW - timedelta(minutes=minutes),
    )


def test_gaps_are_grouped_by_similarity_per_agent_largest_first() -> None:
    groups = group_gaps(
        [
            gap("support", "sso with okta?", [1.0, 0.0, 0.0], 1),
            gap("support", "okta single sign-on", [0.95, 0.1, 0.0], 2),
            gap("support", "okta saml setup", [0.9, 0.2, 0.0], 3),
            gap("support", "fax support?", [0.0, 1.0, 0.0], 4),
            gap("billing", "sso price?", [1.0, 0.0, 0.0], 5),
            gap("support", "no vector", None, 6),
        ]
    )
    assert [(g.agent, g.count) for g in groups][:1] == [("support", 3)]
    assert sorted((g.agent, g.count) for g in groups) == [
        ("billing", 1),
        ("support", 1),
        ("support", 1),
        ("support", 3),
    ]
