"""Inspection and erasure of what the supervisor remembers of an end user (the Memory
service). Each call acts on one tenant, decided by the caller's token (never by the
request, except for admins), and every erasure is audited with who asked and how much went.

Erasing a session deletes its turns and summary, its routing state (``session_state``), the
user facts stated in it, the example candidates recorded from its requests and the agents'
tool-loop scratch-pads (working memory) of its requests (they all hold the user's text).
Erasing a user does the same for each of their sessions, and every turn, long-term fact and
scratch-pad recorded with their user id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from switchboard.core.audit import AuditKind, AuditSink, event
from switchboard.core.auth import Principal
from switchboard.core.errors import InvalidRequest, PermissionDenied
from switchboard.store.conversations import ConversationListing, Conversations
from switchboard.store.examples import ExampleCandidates
from switchboard.store.sessions import SessionStates
from switchboard.store.user_memories import UserMemories, UserMemory
from switchboard.store.working_memory import WorkingMemories
from switchboard.supervisor.memory.ids import validate_session_id, validate_user_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    rows: int
    sessions: int


class MemoryDesk:
    def __init__(
        self,
        conversations: Conversations,
        states: SessionStates,
        examples: ExampleCandidates,
        audit: AuditSink,
        facts: UserMemories | None = None,
        working: WorkingMemories | None = None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._conversations = conversations
        # Turns are written after their answer goes out: this replica's pending writes land
        # before anything is listed or erased, so an erasure is never overtaken by them.
        self._settle = settle
        self._facts = facts
        self._working = working
        self._states = states
        self._examples = examples
        self._audit = audit

    async def _settled(self) -> None:
        if self._settle is not None:
            await self._settle()

    @staticmethod
    def tenant_of(principal: Principal, asked: str) -> str:
        """The tenant a call acts on: a caller's own; the one an admin names."""
        if principal.all_tenants:
            if not asked:
                raise InvalidRequest("an admin token must name the tenant")
            return asked
        own = principal.tenant or ""
        if asked and asked != own:
            raise PermissionDenied("a caller token may act on its own tenant only")
        return own

    async def list_user(
        self, principal: Principal, tenant: str, user_id: str, *, max_turns: int
    ) -> tuple[list[ConversationListing], list[UserMemory]]:
        if not validate_user_id(user_id):
            raise InvalidRequest("user_id is required")
        await self._settled()
        found = await self._conversations.list_user(tenant, user_id, recent=max_turns)
        facts = await self._facts.recall(tenant, user_id) if self._facts is not None else []
        self._record(principal, tenant, "listed", user_id=user_id, sessions=len(found))
        return found, facts

    async def forget_session(self, principal: Principal, tenant: str, session_id: str) -> Erased:
        if not validate_session_id(session_id):
            raise InvalidRequest("session_id is required")
        await self._settled()
        sessions, requests = await self._conversations.footprint(tenant, session_id=session_id)
        rows = await self._conversations.forget_session(tenant, session_id)
        if self._facts is not None:
            rows += await self._facts.forget_session(tenant, session_id)
        rows += await self._states.forget(tenant, sessions)
        rows += await self._examples.forget(tenant, requests)
        if self._working is not None:
            rows += await self._working.forget(
                tenant, session_ids=[session_id], request_ids=requests
            )
        self._record(principal, tenant, "forgot_session", session_id=session_id, rows=rows)
        return Erased(rows, 1 if rows else 0)

    async def forget_user(self, principal: Principal, tenant: str, user_id: str) -> Erased:
        if not validate_user_id(user_id):
            raise InvalidRequest("user_id is required")
        await self._settled()
        sessions, requests = await self._conversations.footprint(tenant, user_id=user_id)
        rows = await self._conversations.forget_user(tenant, user_id)
        if self._facts is not None:
            rows += await self._facts.forget_user(tenant, user_id)
        rows += await self._states.forget(tenant, sessions)
        rows += await self._examples.forget(tenant, requests)
        if self._working is not None:
            rows += await self._working.forget(
                tenant, session_ids=sessions, user_id=user_id, request_ids=requests
            )
        self._record(
            principal, tenant, "forgot_user", user_id=user_id, rows=rows, sessions=len(sessions)
        )
        return Erased(rows, len(sessions))

    def _record(self, principal: Principal, tenant: str, outcome: str, **detail: object) -> None:
        log.info("memory " + outcome, extra={"tenant": tenant, "by": principal.actor})
        self._audit.submit(
            event(
                AuditKind.MEMORY,
                tenant=tenant,
                outcome=outcome,
                detail={"by": principal.actor, **{k: v for k, v in detail.items()}},
            )
        )
